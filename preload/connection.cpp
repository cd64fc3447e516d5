#include "preload/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ucam::preload {

ErrnoResult<int> connect_socket(const std::string& path, bool cloexec) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return tl::unexpected(ENAMETOOLONG);
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);
  if (fd < 0) {
    return tl::unexpected(errno);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EINTR) {
      continue;
    }
    const int e = errno;
    close_raw(fd);
    return tl::unexpected(e);
  }
  return fd;
}

void close_raw(int fd) {
  // The library's own close() is the interposer; a direct system call cannot recurse into it.
  (void)::syscall(SYS_close, fd);
}

ErrnoResult<void> Connection::send_all(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(m_fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return tl::unexpected(EIO);  // ucamd went away (EPIPE, ECONNRESET): the device is gone.
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

ErrnoResult<void> Connection::fill(std::size_t n, int timeout_ms) {
  while (m_buffer.size() < n) {
    if (timeout_ms >= 0) {
      pollfd p{m_fd, POLLIN, 0};
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) {
        continue;
      }
      if (r == 0) {
        return tl::unexpected(ETIMEDOUT);
      }
    }
    char buf[65536];
    const std::size_t want = std::min(sizeof(buf), n - m_buffer.size() + 4096);
    const ssize_t got = ::recv(m_fd, buf, want, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (got <= 0) {
      return tl::unexpected(EIO);
    }
    m_buffer.append(buf, static_cast<std::size_t>(got));
  }
  return {};
}

ErrnoResult<std::string> Connection::read_line(int timeout_ms) {
  std::size_t scanned = 0;
  while (true) {
    const auto nl = m_buffer.find('\n', scanned);
    if (nl != std::string::npos) {
      std::string line = m_buffer.substr(0, nl);
      m_buffer.erase(0, nl + 1);
      return line;
    }
    scanned = m_buffer.size();
    if (auto r = fill(m_buffer.size() + 1, timeout_ms); !r) {
      return tl::unexpected(r.error());
    }
  }
}

ErrnoResult<Reply> Connection::call(std::string_view method, const json& params,
                                    std::span<const std::uint8_t> binary_out, bool binary_reply,
                                    int timeout_ms) {
  const auto id = ++m_id;
  json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  if (!binary_out.empty()) {
    request["binary"] = binary_out.size();
  }
  if (binary_reply) {
    request["binary_reply"] = true;
  }
  const std::string line = request.dump() + "\n";
  if (auto r = send_all(line.data(), line.size()); !r) {
    return tl::unexpected(r.error());
  }
  if (!binary_out.empty()) {
    if (auto r = send_all(reinterpret_cast<const char*>(binary_out.data()), binary_out.size());
        !r) {
      return tl::unexpected(r.error());
    }
  }
  // Replies come in order and this session never subscribes to events, so the next line is the
  // reply; a notification (an "events.lost", say) is skipped all the same.
  while (true) {
    auto text = read_line(timeout_ms);
    if (!text) {
      return tl::unexpected(text.error());
    }
    json reply = json::parse(*text, nullptr, false);
    if (!reply.is_object()) {
      return tl::unexpected(EIO);
    }
    if (reply.contains("method") && !reply.contains("id")) {
      continue;
    }
    Reply out;
    const auto bin = reply.find("binary");
    if (bin != reply.end() && bin->is_number_unsigned()) {
      const auto m = bin->get<std::size_t>();
      if (auto r = fill(m, timeout_ms); !r) {
        return tl::unexpected(r.error());
      }
      out.binary = m_buffer.substr(0, m);
      m_buffer.erase(0, m);
    }
    if (reply.value("id", json()) != json(id)) {
      return tl::unexpected(EIO);  // Out of step: nothing sensible can follow.
    }
    if (auto e = reply.find("error"); e != reply.end()) {
      out.error = *e;
    } else if (auto r = reply.find("result"); r != reply.end()) {
      out.result = std::move(*r);
    }
    return out;
  }
}

}  // namespace ucam::preload
