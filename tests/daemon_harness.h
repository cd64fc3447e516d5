// Starting ucamd as a separate process for end-to-end tests, and talking JSON-RPC to it.
//
// Daemon::start() waits for the daemon's own readiness notification (READY=1 on a
// NOTIFY_SOCKET we create, as systemd would), never for a fixed time.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ucam::testing {

inline std::string build_dir() {
  return UCAM_TEST_BINARY_DIR;
}

// A fresh directory for sockets (short: socket paths are limited to 107 bytes).
inline std::string temp_dir() {
  char tmpl[] = "/tmp/ucamt.XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  if (d != nullptr) {
    ::chmod(d, 0755);  // Other users (setpriv tests) must reach sockets inside.
  }
  return d != nullptr ? d : "/tmp";
}

// A connection to ucamd: newline-delimited JSON-RPC.
class RpcConnection {
 public:
  explicit RpcConnection(const std::string& path) {
    m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }
  ~RpcConnection() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  bool connected() const { return m_fd >= 0; }
  int fd() const { return m_fd; }

  bool send_raw(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(m_fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // The next line, or nullopt after `timeout` or at EOF.
  std::optional<std::string> read_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::size_t nl = std::string::npos;
    if (!fill([&] { return (nl = m_buffer.find('\n')) != std::string::npos; }, timeout)) {
      return std::nullopt;
    }
    std::string line = m_buffer.substr(0, nl);
    m_buffer.erase(0, nl + 1);
    return line;
  }

  // Exactly `n` bytes (binary data after a reply line), or nullopt after `timeout` or at EOF.
  std::optional<std::string> read_bytes(
      std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (!fill([&] { return m_buffer.size() >= n; }, timeout)) {
      return std::nullopt;
    }
    std::string out = m_buffer.substr(0, n);
    m_buffer.erase(0, n);
    return out;
  }

  // Reads into m_buffer until `enough()`; false after `timeout` or at EOF.
  template <class Enough>
  bool fill(Enough enough, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!enough()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd p{m_fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
      char buf[65536];
      const ssize_t r = ::read(m_fd, buf, sizeof(buf));
      if (r <= 0) {
        return false;
      }
      m_buffer.append(buf, static_cast<std::size_t>(r));
    }
    return true;
  }

  // Sends a request and returns the response with its id (notifications before it are kept
  // for next_notification()). A null json on timeout or disconnect.
  nlohmann::json call(const std::string& method, nlohmann::json params = nlohmann::json::object()) {
    const auto id = ++m_id;
    if (!send_raw(
            nlohmann::json{
                {"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}
                .dump() +
            "\n")) {
      return nullptr;
    }
    while (auto line = read_line()) {
      auto j = nlohmann::json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("method")) {
        m_notifications.push_back(j);
        continue;
      }
      if (j.is_object() && j.value("id", nlohmann::json()) == nlohmann::json(id)) {
        return j;
      }
    }
    return nullptr;
  }

  std::optional<nlohmann::json> next_notification(
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (!m_notifications.empty()) {
      auto n = m_notifications.front();
      m_notifications.erase(m_notifications.begin());
      return n;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!line) {
        return std::nullopt;
      }
      auto j = nlohmann::json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("method")) {
        return j;
      }
    }
    return std::nullopt;
  }

 private:
  int m_fd = -1;
  std::int64_t m_id = 0;
  std::string m_buffer;
  std::vector<nlohmann::json> m_notifications;
};

class Daemon {
 public:
  // Starts build/daemon/ucamd with `args` (a socket in a fresh directory is added) and waits
  // for READY=1. nullptr if it exits or does not get ready within `timeout`.
  static std::unique_ptr<Daemon> start(
      std::vector<std::string> args = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    auto d = std::unique_ptr<Daemon>(new Daemon());
    d->m_dir = temp_dir();
    d->m_socket = d->m_dir + "/ucamd.sock";
    const std::string notify_path = d->m_dir + "/notify";
    const int nfd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, notify_path.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(nfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(nfd);
      return nullptr;
    }
    d->m_notify_fd = nfd;
    std::vector<std::string> argv = {build_dir() + "/daemon/ucamd", "--socket", d->m_socket,
                                     "--log-level", "warning"};
    argv.insert(argv.end(), args.begin(), args.end());
    d->m_log = d->m_dir + "/ucamd.log";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
      const int log = ::open(d->m_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (log >= 0) {
        ::dup2(log, 2);
        ::dup2(log, 1);
      }
      std::vector<char*> cargv;
      for (auto& a : argv) {
        cargv.push_back(a.data());
      }
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    d->m_pid = pid;
    if (!d->wait_notify("READY=1", timeout)) {
      std::fprintf(stderr, "ucamd did not get ready; its log:\n%s\n", d->log().c_str());
      return nullptr;
    }
    return d;
  }

  ~Daemon() {
    if (m_pid > 0) {
      (void)stop(std::chrono::seconds(60));
      if (m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        ::waitpid(m_pid, nullptr, 0);
      }
    }
    if (m_notify_fd >= 0) {
      ::close(m_notify_fd);
    }
    if (!m_dir.empty() && m_dir != "/tmp") {
      std::error_code ec;
      std::filesystem::remove_all(m_dir, ec);  // Socket, notify socket and log.
    }
  }

  // Waits for a notification line containing `what` ("READY=1", "STOPPING=1").
  bool wait_notify(const std::string& what, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{m_notify_fd, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        const ssize_t n = ::recv(m_notify_fd, buf, sizeof(buf) - 1, 0);
        if (n > 0 &&
            std::string(buf, static_cast<std::size_t>(n)).find(what) != std::string::npos) {
          return true;
        }
      }
      int status = 0;
      if (m_pid > 0 && ::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;  // It exited.
        m_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
      }
    }
    return false;
  }

  // SIGTERM and wait; the exit status (128+signal if killed), or -1 on timeout.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (m_pid <= 0) {
      return m_exit;
    }
    ::kill(m_pid, SIGTERM);
    return wait_exit(timeout);
  }

  int wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
      if (r == m_pid) {
        m_pid = -1;
        m_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return m_exit;
      }
      pollfd p{m_notify_fd, POLLIN, 0};
      (void)::poll(&p, 1, 20);  // Sleeps only while the daemon is still running.
      if ((p.revents & POLLIN) != 0) {
        char buf[4096];
        (void)::recv(m_notify_fd, buf, sizeof(buf), 0);
      }
    }
    return -1;
  }

  void signal(int sig) { ::kill(m_pid, sig); }
  pid_t pid() const { return m_pid; }
  const std::string& socket() const { return m_socket; }
  const std::string& dir() const { return m_dir; }
  std::string log() const {
    std::string out;
    if (FILE* f = std::fopen(m_log.c_str(), "r")) {
      char buf[4096];
      std::size_t n = 0;
      while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
        out.append(buf, n);
      }
      std::fclose(f);
    }
    return out;
  }

 private:
  Daemon() = default;
  pid_t m_pid = -1;
  int m_exit = -1;
  int m_notify_fd = -1;
  std::string m_dir, m_socket, m_log;
};

}  // namespace ucam::testing
