#include "sims/sg/sg_ops.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace ucam::sg {
namespace {

class LinuxSgOps final : public SgOps {
 public:
  int open(const std::string& path, int flags) override {
    const int fd = ::open(path.c_str(), flags);  // NOLINT(cppcoreguidelines-pro-type-vararg)
    return fd >= 0 ? fd : -errno;
  }
  void close(int fd) override { ::close(fd); }
  int submit(int fd, sg_io_hdr_t& hdr) override {
    for (;;) {
      const ssize_t n = ::write(fd, &hdr, sizeof hdr);
      if (n == static_cast<ssize_t>(sizeof hdr)) {
        return 0;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n < 0 ? errno : EIO;
    }
  }
  int receive(int fd, sg_io_hdr_t& hdr) override {
    for (;;) {
      hdr.interface_id = 'S';
      const ssize_t n = ::read(fd, &hdr, sizeof hdr);
      if (n == static_cast<ssize_t>(sizeof hdr)) {
        return 0;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n < 0 ? errno : EIO;
    }
  }
  int ioctl_int(int fd, unsigned long request, int& value) override {
    return ::ioctl(fd, request, &value) == 0 ? 0 : errno;  // NOLINT
  }
};

}  // namespace

std::shared_ptr<SgOps> linux_sg_ops() {
  return std::make_shared<LinuxSgOps>();
}

}  // namespace ucam::sg
