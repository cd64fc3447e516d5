#include "cli/client.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>

#include "service/service.h"
#include "stack/stack.h"

namespace ucam::cli {

std::string default_socket() {
  const char* env = std::getenv("UCAM_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/ucam/ucamd.sock";
}

json parse_message(std::string_view text, std::int64_t id, const ElementSink* each) {
  if (each == nullptr) {
    return json::parse(text);
  }
  // Depth 0 is the message, 1 its members, 2 the elements of the result array. The id is
  // written before "result" (members in json's order); when it is not, the elements are kept
  // and given to `each` after the parse.
  std::string key;         // The message member being parsed.
  bool ours = false;       // The "id" seen so far is `id`.
  bool streaming = false;  // Inside our result array.
  const json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    if (depth == 1) {
      if (event == E::key) {
        key = parsed.get<std::string>();
      } else if (event == E::value && key == "id") {
        ours = parsed == json(id);
      } else if (event == E::array_start && key == "result" && ours) {
        streaming = true;
      } else if (event == E::array_end) {
        streaming = false;
      }
      return true;
    }
    if (depth == 2 && streaming &&
        (event == E::object_end || event == E::array_end || event == E::value)) {
      (*each)(parsed);
      return false;  // Not kept.
    }
    return true;
  };
  json message = json::parse(text, cb);
  if (message.is_object()) {
    // Members in another order: the elements were kept.
    if (const auto result = message.find("result"); result != message.end() && result->is_array() &&
                                                    !result->empty() &&
                                                    message.value("id", json()) == json(id)) {
      for (const auto& element : *result) {
        (*each)(element);
      }
      *result = json::array();
    }
  }
  return message;
}

namespace {

RpcResult unpack(json response) {
  if (response.contains("error")) {
    const auto& e = response["error"];
    service::RpcError err;
    err.code = e.value("code", static_cast<int>(service::RpcCode::InternalError));
    err.message = e.value("message", std::string("(no message)"));
    err.data = e.value("data", json());
    return tl::unexpected(err);
  }
  // Moved, not copied: devlist's result on 100,000 LUNs is 100,000 objects.
  const auto result = response.find("result");
  return result == response.end() ? json() : std::move(*result);
}

// ---- In-process ---------------------------------------------------------------------------

class InProcessClient final : public Client {
 public:
  InProcessClient(std::unique_ptr<Stack> stack, std::string scenario)
      : m_stack(std::move(stack)),
        m_scenario(std::move(scenario)),
        m_service(*m_stack, policy(), {}) {
    service::Peer me;
    me.uid = ::getuid();
    me.gid = ::getgid();
    me.pid = ::getpid();
    m_session = m_service.begin_session(me, [this](std::string line) {
      {
        std::lock_guard lock(m_lock);
        m_events.push_back(std::move(line));
      }
      m_cv.notify_all();
    });
  }
  ~InProcessClient() override { m_service.end_session(*m_session); }

  Result<std::optional<json>> next_notification(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(m_lock);
    if (!m_cv.wait_for(lock, timeout, [&] { return !m_events.empty(); })) {
      return std::optional<json>();
    }
    auto line = std::move(m_events.front());
    m_events.pop_front();
    return std::optional<json>(json::parse(line));
  }

  std::string describe() const override { return "in-process " + m_scenario; }

 private:
  RpcResult request(const std::string& method, json params, const ElementSink* each) override {
    const json line = {
        {"jsonrpc", "2.0"}, {"id", ++m_id}, {"method", method}, {"params", std::move(params)}};
    // Through the same text path as ucamd, so both modes answer alike.
    json response;
    {
      // The text is freed before the result is used.
      const std::string text = m_service.handle_line(*m_session, line.dump());
      response = parse_message(text, m_id, each);
    }
    return unpack(std::move(response));
  }
  static service::AccessPolicy policy() {
    // The process owns its own stack: it may do everything.
    service::AccessPolicy p;
    p.owner_uid = ::getuid();
    return p;
  }
  std::unique_ptr<Stack> m_stack;
  std::string m_scenario;
  service::Service m_service;
  std::shared_ptr<service::Session> m_session;
  std::int64_t m_id = 0;
  std::mutex m_lock;
  std::condition_variable m_cv;
  std::deque<std::string> m_events;  // Guarded by m_lock.
};

// ---- ucamd --------------------------------------------------------------------------------

class SocketClient final : public Client {
 public:
  SocketClient(int fd, std::string path) : m_fd(fd), m_path(std::move(path)) {}
  ~SocketClient() override { ::close(m_fd); }

  Result<std::optional<json>> next_notification(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (m_notifications.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return std::optional<json>();
      }
      auto message = read_message(static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30)));
      if (!message) {
        return fail(message.error());
      }
      if (*message && (*message)->contains("method")) {
        m_notifications.push_back(std::move(**message));
      }
    }
    json n = std::move(m_notifications.front());
    m_notifications.pop_front();
    return std::optional<json>(std::move(n));
  }

  std::string describe() const override { return "ucamd at " + m_path; }

 private:
  RpcResult request(const std::string& method, json params, const ElementSink* each) override {
    const auto id = ++m_id;
    const std::string line =
        json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}
            .dump() +
        "\n";
    std::string_view rest = line;
    while (!rest.empty()) {
      const ssize_t n = ::send(m_fd, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        const int e = errno;
        // Refused at a connection limit, ucamd wrote why and hung up before we wrote.
        if (auto refusal = pending_refusal()) {
          return tl::unexpected(std::move(*refusal));
        }
        return tl::unexpected(lost(e));
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    while (true) {
      auto message = read_message(-1, id, each);
      if (!message) {
        return tl::unexpected(lost(message.error().errno_value()));
      }
      if (!*message) {
        continue;
      }
      json& m = **message;
      if (m.contains("method")) {
        m_notifications.push_back(std::move(m));  // An event that arrived first.
        continue;
      }
      if (m.value("id", json()) == json(id) || m.value("id", json()).is_null()) {
        if (auto refusal = as_refusal(m)) {
          return tl::unexpected(std::move(*refusal));
        }
        return unpack(std::move(m));
      }
    }
  }

  service::RpcError lost(int e) const {
    return service::rpc_error(service::RpcCode::InternalError,
                              fmt::format("lost the connection to ucamd at {}: {}", m_path,
                                          e == 0 ? "closed by the daemon" : std::strerror(e)),
                              {{"disconnected", true}});
  }

  // ucamd turned this connection away at a connection limit (an error line with
  // data.refused, then EOF): as a lost connection, which ucamctl reports as "ucamd not
  // reachable" (exit 5).
  std::optional<service::RpcError> as_refusal(const json& m) const {
    const json error = m.value("error", json());
    if (!error.is_object() || !error.contains("data") || !error["data"].is_object() ||
        !error["data"].value("refused", false)) {
      return std::nullopt;
    }
    json data = error["data"];
    data["disconnected"] = true;
    return service::rpc_error(service::RpcCode::LimitExceeded,
                              fmt::format("ucamd at {} refused the connection: {}", m_path,
                                          error.value("message", std::string("(no reason given)"))),
                              std::move(data));
  }
  // A refusal already waiting in the socket, if any.
  std::optional<service::RpcError> pending_refusal() {
    auto message = read_message(0);
    if (!message || !*message) {
      return std::nullopt;
    }
    return as_refusal(**message);
  }

  // One line as JSON; nullopt when `timeout_ms` passed with no complete line. With `each`, the
  // elements of the reply to `id` go there (parse_message).
  Result<std::optional<json>> read_message(int timeout_ms, std::int64_t id = 0,
                                           const ElementSink* each = nullptr) {
    while (true) {
      const auto nl = m_buffer.find('\n', m_scanned);
      if (nl != std::string::npos) {
        std::optional<json> message;
        std::optional<std::string> error;
        try {
          message = parse_message(std::string_view(m_buffer).substr(0, nl), id, each);
        } catch (const json::exception& e) {
          error = fmt::format("ucamd sent bad JSON: {}", e.what());
        }
        m_buffer.erase(0, nl + 1);
        m_scanned = 0;
        if (m_buffer.empty()) {
          std::string().swap(m_buffer);  // A long reply's memory goes back now.
        }
        if (error) {
          return fail(Error::described(EPROTO, *error));
        }
        return message;
      }
      m_scanned = m_buffer.size();
      pollfd p{m_fd, POLLIN, 0};
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) {
        continue;
      }
      if (r == 0) {
        return std::optional<json>();
      }
      char buf[65536];
      const ssize_t n = ::read(m_fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return fail(Error::described(n == 0 ? 0 : errno, "connection closed"));
      }
      m_buffer.append(buf, static_cast<std::size_t>(n));
    }
  }

  int m_fd;
  std::string m_path;
  std::int64_t m_id = 0;
  std::string m_buffer;
  std::size_t m_scanned = 0;  // m_buffer has no newline before this.
  std::deque<json> m_notifications;
};

}  // namespace

Result<std::unique_ptr<Client>> connect_daemon(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return fail_invalid(fmt::format("--socket '{}': a socket path is 1 to {} bytes", path,
                                    sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail_errno(errno, "socket");
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(Error::described(
        e, fmt::format("cannot reach ucamd at {}: {}{}", path, std::strerror(e),
                       e == EACCES ? " (ask for the socket's group)"
                                   : " (is ucamd running? 'systemctl start ucamd', or use "
                                     "--emulate builtin:default to run the stack in-process)")));
  }
  return std::unique_ptr<Client>(new SocketClient(fd, path));
}

Result<std::unique_ptr<Client>> start_in_process(std::vector<SimSpec> sims,
                                                 const std::string& name) {
  auto stack = Stack::create(std::move(sims));
  if (!stack) {
    // The error keeps its category: a scenario that is inconsistent (a slot naming a target
    // that does not exist, found when the SIM starts) is EINVAL, bad input like a malformed one.
    return fail(stack.error().with_context("starting the SIMs"));
  }
  return std::unique_ptr<Client>(new InProcessClient(std::move(*stack), name));
}

}  // namespace ucam::cli
