#include "daemon/metrics_http.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <vector>

#include "base/log.h"
#include "daemon/config.h"

namespace ucam::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// After the response, the connection is shut down for writing and read to its end (briefly):
// closing a socket with unread input resets it, and a reset can destroy the response before
// the client has read it.
constexpr std::chrono::milliseconds kDrainTimeout{1000};

std::string http_response(int code, std::string_view reason, std::string_view content_type,
                          const std::string& body, bool with_body,
                          std::string_view extra_headers = "") {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
      code, reason, content_type, body.size(), extra_headers);
  if (with_body) {
    out += body;
  }
  return out;
}

std::string plain(int code, std::string_view reason, const std::string& text) {
  return http_response(code, reason, "text/plain; charset=utf-8", text, true);
}

// Where the request head ends (after its blank line), or npos.
std::size_t head_end(const std::string& in) {
  const auto crlf = in.find("\r\n\r\n");
  const auto lf = in.find("\n\n");
  if (crlf == std::string::npos && lf == std::string::npos) {
    return std::string::npos;
  }
  return std::min(crlf == std::string::npos ? std::string::npos : crlf + 4,
                  lf == std::string::npos ? std::string::npos : lf + 2);
}

}  // namespace

struct MetricsHttp::Connection {
  enum class State : std::uint8_t { Reading, Writing, Draining };
  int fd = -1;
  State state = State::Reading;
  std::string in;
  std::string out;
  std::size_t sent = 0;
  Clock::time_point deadline;
};

Result<std::unique_ptr<MetricsHttp>> MetricsHttp::create(service::Service& service,
                                                         const std::string& listen) {
  auto hp = parse_listen(listen);
  if (!hp) {
    return fail(hp.error());
  }
  const auto& [host, port] = *hp;
  if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
    log_warning("metrics: listening on {}, which is not a loopback address", host);
  }
  std::unique_ptr<MetricsHttp> m(new MetricsHttp(service));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(port);
  if (const int e = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); e != 0) {
    return fail(
        Error::described(EADDRNOTAVAIL, fmt::format("metrics: {}: {}", listen, ::gai_strerror(e))));
  }
  int bind_errno = EADDRNOTAVAIL;
  for (const addrinfo* a = found; a != nullptr && m->m_listen_fd < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      bind_errno = errno;
      continue;
    }
    const int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      bind_errno = errno;
      ::close(fd);
      continue;
    }
    m->m_listen_fd = fd;
  }
  ::freeaddrinfo(found);
  if (m->m_listen_fd < 0) {
    return fail(Error::described(bind_errno, fmt::format("metrics: cannot listen on {}: {}", listen,
                                                         std::strerror(bind_errno))));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  int bound_port = port;
  if (::getsockname(m->m_listen_fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    bound_port =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  }
  m->m_address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, bound_port)
                                                     : fmt::format("{}:{}", host, bound_port);
  m->m_stop_fd = ::eventfd(0, EFD_CLOEXEC);
  if (m->m_stop_fd < 0) {
    return fail_errno(errno, "metrics: eventfd");
  }
  m->m_thread = std::thread([s = m.get()] { s->serve(); });
  log_info("metrics: serving http://{}/metrics", m->m_address);
  return m;
}

MetricsHttp::~MetricsHttp() {
  if (m_thread.joinable()) {
    const std::uint64_t one = 1;
    (void)!::write(m_stop_fd, &one, sizeof(one));
    m_thread.join();
  }
  for (const int fd : {m_listen_fd, m_stop_fd}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

std::string MetricsHttp::respond(std::string_view head) {
  const auto eol = head.find_first_of("\r\n");
  const std::string_view line = head.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
      !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    return plain(400, "Bad Request", "expected a request line such as GET /metrics HTTP/1.1\n");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    return http_response(405, "Method Not Allowed", "text/plain; charset=utf-8",
                         "only GET and HEAD\n", true, "Allow: GET, HEAD\r\n");
  }
  const bool with_body = method == "GET";
  if (target == "/metrics") {
    return http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                         m_service.metrics_text(), with_body);
  }
  if (target == "/") {
    return http_response(200, "OK", "text/plain; charset=utf-8", "ucamd: metrics are at /metrics\n",
                         with_body);
  }
  return http_response(404, "Not Found", "text/plain; charset=utf-8", "not found\n", with_body);
}

void MetricsHttp::serve() {
  std::list<Connection> connections;
  auto close_connection = [&](std::list<Connection>::iterator it) {
    ::close(it->fd);
    return connections.erase(it);
  };
  std::vector<pollfd> fds;
  std::vector<std::list<Connection>::iterator> polled;
  while (true) {
    fds.assign({{m_stop_fd, POLLIN, 0}, {m_listen_fd, POLLIN, 0}});
    polled.clear();
    auto next_deadline = Clock::time_point::max();
    for (auto it = connections.begin(); it != connections.end(); ++it) {
      fds.push_back({it->fd,
                     static_cast<short>(it->state == Connection::State::Writing ? POLLOUT : POLLIN),
                     0});
      polled.push_back(it);
      next_deadline = std::min(next_deadline, it->deadline);
    }
    int timeout_ms = -1;
    if (next_deadline != Clock::time_point::max()) {
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(
          std::chrono::ceil<std::chrono::milliseconds>(next_deadline - Clock::now()).count(), 0,
          60'000));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      log_error("metrics: poll: {}", std::strerror(errno));
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      break;
    }
    auto now = Clock::now();
    // Serve the connections first, then accept: an eviction never hits one that just got its
    // request in.
    for (std::size_t i = 0; i < polled.size(); ++i) {
      auto it = polled[i];
      Connection& c = *it;
      if (fds[i + 2].revents == 0) {
        continue;
      }
      if (c.state == Connection::State::Reading || c.state == Connection::State::Draining) {
        char buf[4096];
        const ssize_t n = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          continue;
        }
        if (n <= 0) {
          close_connection(it);  // EOF or an error: the client is gone (or has read all).
          continue;
        }
        if (c.state == Connection::State::Draining) {
          continue;  // Discarded.
        }
        c.in.append(buf, static_cast<std::size_t>(n));
        const auto end = head_end(c.in);
        if (end == std::string::npos && c.in.size() <= kMaxRequestBytes) {
          continue;
        }
        try {
          c.out = end == std::string::npos || end > kMaxRequestBytes
                      ? plain(431, "Request Header Fields Too Large",
                              fmt::format("a request head is at most {} bytes\n", kMaxRequestBytes))
                      : respond(std::string_view(c.in).substr(0, end));
        } catch (const std::exception& e) {
          log_error("metrics: {}", e.what());
          c.out = plain(500, "Internal Server Error", "internal error\n");
        }
        c.in.clear();
        c.in.shrink_to_fit();
        c.state = Connection::State::Writing;
        c.deadline = now + kWriteTimeout;
      }
      // Writing (perhaps just now: the socket is most likely writable).
      while (c.sent < c.out.size()) {
        const ssize_t n =
            ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
          break;
        }
        c.sent += static_cast<std::size_t>(n);
      }
      if (c.sent < c.out.size()) {
        if (errno != EAGAIN && errno != EINTR) {
          close_connection(it);
        }
        continue;
      }
      std::string().swap(c.out);
      ::shutdown(c.fd, SHUT_WR);
      c.state = Connection::State::Draining;
      c.deadline = now + kDrainTimeout;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      while (true) {
        const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            log_warning("metrics: accept: {}", std::strerror(errno));
          }
          break;
        }
        if (connections.size() >= kMaxConnections) {
          // Make room by closing the connection that has waited longest for its request; if
          // every one is being answered, this one waits for none of them: it is closed.
          auto oldest = connections.end();
          for (auto it = connections.begin(); it != connections.end(); ++it) {
            if (it->state == Connection::State::Reading &&
                (oldest == connections.end() || it->deadline < oldest->deadline)) {
              oldest = it;
            }
          }
          if (oldest == connections.end()) {
            ::close(fd);
            continue;
          }
          close_connection(oldest);
        }
        connections.push_back(
            Connection{fd, Connection::State::Reading, {}, {}, 0, Clock::now() + kRequestTimeout});
      }
    }
    now = Clock::now();
    for (auto it = connections.begin(); it != connections.end();) {
      it = it->deadline <= now ? close_connection(it) : std::next(it);
    }
  }
  for (const auto& c : connections) {
    ::close(c.fd);
  }
}

}  // namespace ucam::daemon
