// The system calls the SG SIM makes on sg nodes, behind an interface so that host-side tests
// can put a fake device layer (pipes and an in-memory device) under the real SIM.
//
// Contract of a file descriptor returned by open(): poll(2) reports POLLIN while a finished
// command waits to be read, and POLLHUP (possibly with POLLIN) once the device is detaching;
// the SIM polls it itself. Every method is thread-safe and returns 0 or an errno value.
#pragma once

#include <scsi/sg.h>

#include <memory>
#include <string>

namespace ucam::sg {

class SgOps {
 public:
  virtual ~SgOps() = default;

  // open(2). Returns the descriptor, or -errno.
  virtual int open(const std::string& path, int flags) = 0;
  virtual void close(int fd) = 0;
  // Queues one command: write(2) of the sg_io_hdr (the asynchronous half of SG_IO). The
  // kernel copies the CDB and any data-out bytes before it returns.
  virtual int submit(int fd, sg_io_hdr_t& hdr) = 0;
  // Collects one finished command: read(2) of an sg_io_hdr, which also copies data-in bytes to
  // the submitted dxferp. EAGAIN when none is ready (the fd is non-blocking).
  virtual int receive(int fd, sg_io_hdr_t& hdr) = 0;
  // ioctl(2) whose argument is an int (SG_GET_VERSION_NUM, BLKSECTGET, SG_GET_RESERVED_SIZE).
  virtual int ioctl_int(int fd, unsigned long request, int& value) = 0;
};

// The real system calls.
std::shared_ptr<SgOps> linux_sg_ops();

}  // namespace ucam::sg
