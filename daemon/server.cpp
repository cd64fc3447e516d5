#include "daemon/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/json_nesting.h"
#include "base/log.h"

namespace ucam::daemon {

using service::json;

struct Server::Client {
  int fd = -1;
  int wake_fd = -1;  // eventfd: an event was queued.
  service::Peer peer;
  std::shared_ptr<service::Session> session;
  std::mutex queue_lock;
  std::deque<std::string> queue;  // Guarded by queue_lock.
  std::uint64_t lost = 0;         // Guarded by queue_lock.
  std::size_t max_queued = 0;     // Guarded by queue_lock.
  std::thread thread;
  std::atomic<bool> done{false};
  std::atomic<bool> busy{false};       // Inside a request.
  std::atomic<bool> cancelled{false};  // Its commands were aborted: the peer process died.

  ~Client() {
    if (thread.joinable()) {
      thread.join();
    }
    if (fd >= 0) {
      ::close(fd);
    }
    if (wake_fd >= 0) {
      ::close(wake_fd);
    }
  }
};

namespace {

// The byte count a request line announces as binary data after it (its top-level "binary"
// member, docs/api.md "Binary data"), or nullopt. Lines that do not mention it are not parsed
// here; the service parses every line again anyway.
std::optional<std::uint64_t> binary_length(std::string_view line) {
  if (line.find("\"binary\"") == std::string_view::npos || json_nesting(line).beyond_limit) {
    return std::nullopt;
  }
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  const auto b = j.find("binary");
  if (b == j.end() || !b->is_number_unsigned()) {
    return std::nullopt;
  }
  return b->get<std::uint64_t>();
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A -32004 (limit) error reply with a null id, as one line.
std::string limit_line(std::string message, json data = nullptr) {
  return service::error_response(nullptr, service::rpc_error(service::RpcCode::LimitExceeded,
                                                             std::move(message), std::move(data)))
             .dump() +
         "\n";
}

service::Peer peer_of(int fd) {
  service::Peer peer;
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.uid = cred.uid;
    peer.gid = cred.gid;
    peer.pid = cred.pid;
  } else {
    // Without credentials the peer is nobody: it gets the read right only.
    peer.uid = static_cast<uid_t>(-1);
    peer.gid = static_cast<gid_t>(-1);
  }
  std::vector<gid_t> groups(64);
  socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0 && errno == ERANGE) {
    groups.resize(glen / sizeof(gid_t) + 1);
    glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0) {
      glen = 0;
    }
  }
  groups.resize(glen / sizeof(gid_t));
  peer.groups = std::move(groups);
  return peer;
}

}  // namespace

Server::Server(service::Service& service, SocketOptions socket, ServerLimits limits)
    : m_service(service), m_socket(std::move(socket)), m_limits(limits) {
}

Result<std::unique_ptr<Server>> Server::create(service::Service& service, SocketOptions socket,
                                               ServerLimits limits) {
  std::unique_ptr<Server> server(new Server(service, std::move(socket), limits));
  const std::string& path = server->m_socket.path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return fail_invalid(
        fmt::format("socket path '{}': 1 to {} bytes", path, sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail_errno(errno, "socket");
  }
  server->m_listen_fd = fd;
  // A socket file left by a daemon that died is replaced; a live daemon is not.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(Error::described(EEXIST, path + ": exists and is not a socket"));
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live =
        probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (probe >= 0) {
      ::close(probe);
    }
    if (live) {
      return fail(Error::described(EADDRINUSE, path + ": another ucamd is serving this socket"));
    }
    ::unlink(path.c_str());
  }
  // Bind with a umask that leaves no window where the socket is wider open than `mode`.
  const mode_t old_mask = ::umask(0777 & ~server->m_socket.mode);
  const int b = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  ::umask(old_mask);
  if (b != 0) {
    return fail_errno(bind_errno, "bind " + path);
  }
  if (auto r = server->set_socket_access(server->m_socket.mode, server->m_socket.group); !r) {
    ::unlink(path.c_str());
    return fail(r.error());
  }
  if (::listen(fd, 128) != 0) {
    ::unlink(path.c_str());
    return fail_errno(errno, "listen " + path);
  }
  server->m_stop_fd = ::eventfd(0, EFD_CLOEXEC);
  if (server->m_stop_fd < 0) {
    ::unlink(path.c_str());
    return fail_errno(errno, "eventfd");
  }
  server->m_accept_thread = std::thread([s = server.get()] { s->accept_main(); });
  return server;
}

Server::~Server() {
  stop();
  wait(std::chrono::milliseconds(0));
  disconnect_all();
  reap(true);
  if (m_stop_fd >= 0) {
    ::close(m_stop_fd);
  }
}

Result<void> Server::set_socket_access(mode_t mode, std::optional<gid_t> group) {
  if (group && ::chown(m_socket.path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return fail_errno(errno, fmt::format("chown {} to group {}", m_socket.path, *group));
  }
  if (::chmod(m_socket.path.c_str(), mode) != 0) {
    return fail_errno(errno, fmt::format("chmod {:04o} {}", mode, m_socket.path));
  }
  std::lock_guard lock(m_lock);
  m_socket.mode = mode;
  m_socket.group = group;
  return {};
}

void Server::set_limits(ServerLimits limits) {
  std::lock_guard lock(m_lock);
  m_limits = limits;
}

std::size_t Server::running_locked() const {
  return static_cast<std::size_t>(std::count_if(m_clients.begin(), m_clients.end(),
                                                [](const auto& c) { return !c->done.load(); }));
}

std::optional<Server::Refusal> Server::refusal_locked(const service::Peer& peer, bool admin) const {
  if (m_stopping) {
    return Refusal{"ucamd is shutting down"};
  }
  const std::size_t running = running_locked();
  if (running >= m_limits.max_clients) {
    return Refusal{
        fmt::format("too many clients (the limit is {}); try again later", m_limits.max_clients),
        "max_clients"};
  }
  if (admin) {
    return std::nullopt;  // Neither limited per uid nor kept out of the reserved connections.
  }
  const auto same_uid = static_cast<std::size_t>(
      std::count_if(m_clients.begin(), m_clients.end(),
                    [&](const auto& c) { return !c->done.load() && c->peer.uid == peer.uid; }));
  if (same_uid >= m_limits.max_clients_per_uid) {
    return Refusal{fmt::format("too many connections from uid {}: the limit per user is {}; "
                               "close one first",
                               peer.uid, m_limits.max_clients_per_uid),
                   "max_clients_per_uid"};
  }
  if (running + m_limits.reserved_admin_clients >= m_limits.max_clients) {
    return Refusal{fmt::format("too many clients: the last {} of the {} connections are kept for "
                               "root and the admin group; try again later",
                               m_limits.reserved_admin_clients, m_limits.max_clients),
                   "reserved_admin_clients"};
  }
  return std::nullopt;
}

std::size_t Server::clients() const {
  std::lock_guard lock(m_lock);
  return running_locked();
}

void Server::stop() {
  {
    std::lock_guard lock(m_lock);
    if (m_stopping) {
      return;
    }
    m_stopping = true;
    // Each client finishes the request in hand, answers it, then reads EOF.
    for (const auto& c : m_clients) {
      ::shutdown(c->fd, SHUT_RD);
    }
  }
  const std::uint64_t one = 1;
  (void)!::write(m_stop_fd, &one, sizeof(one));
  if (m_accept_thread.joinable()) {
    m_accept_thread.join();
  }
  if (m_listen_fd >= 0) {
    ::close(m_listen_fd);
    m_listen_fd = -1;
    ::unlink(m_socket.path.c_str());
  }
}

std::size_t Server::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_lock);
  m_cv.wait_for(lock, timeout, [&] { return running_locked() == 0; });
  return running_locked();
}

void Server::disconnect_all() {
  std::lock_guard lock(m_lock);
  for (const auto& c : m_clients) {
    ::shutdown(c->fd, SHUT_RDWR);
  }
}

void Server::reap(bool all) {
  std::list<std::unique_ptr<Client>> finished;
  {
    std::lock_guard lock(m_lock);
    for (auto it = m_clients.begin(); it != m_clients.end();) {
      if (all || (*it)->done.load()) {
        finished.push_back(std::move(*it));
        it = m_clients.erase(it);
      } else {
        ++it;
      }
    }
  }
  finished.clear();  // Joins their threads, outside the lock.
}

namespace {

// False once the process is gone or a zombie (killed, not yet reaped by its parent).
bool process_alive(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!stat || !std::getline(stat, text)) {
    return false;
  }
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) {
    return true;  // Unreadable: assume alive.
  }
  const char state = text[paren + 2];
  return state != 'Z' && state != 'X';
}

// Why the command a busy client runs is to be aborted, or nullptr. The peer has closed its
// socket (close(), or shutdown(SHUT_RDWR)): POLLHUP, as the reply can no longer be read. A
// half-close (shutdown(SHUT_WR), POLLRDHUP alone) is not: it means "no more requests", and the
// replies are still wanted. Or the peer process died; its socket may live on in a child.
const char* orphaned(int fd, pid_t pid) {
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0) {
    return "closed its connection";
  }
  if (pid > 0 && !process_alive(pid)) {
    return "died";
  }
  return nullptr;
}

}  // namespace

void Server::abort_orphaned_commands() {
  // A client thread inside a command cannot see its peer go; this thread looks for it. The
  // commands of a client that is gone are aborted, so its session ends now rather than at the
  // command's timeout.
  std::lock_guard lock(m_lock);
  for (const auto& c : m_clients) {
    if (!c->busy.load() || c->cancelled.load()) {
      continue;
    }
    if (const char* why = orphaned(c->fd, c->peer.pid)) {
      c->cancelled = true;
      log_info("client {} (pid {}) {} inside a command: aborting it", c->session->id(), c->peer.pid,
               why);
      m_service.cancel_session(*c->session);
    }
  }
}

void Server::accept_main() {
  while (true) {
    pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, 200) < 0 && errno != EINTR) {
      log_error("poll: {}", std::strerror(errno));
      return;
    }
    reap(false);
    abort_orphaned_commands();
    if ((fds[1].revents & POLLIN) != 0) {
      return;
    }
    if ((fds[0].revents & POLLIN) == 0) {
      continue;
    }
    const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        log_warning("accept: {}", std::strerror(errno));
      }
      continue;
    }
    auto client = std::make_unique<Client>();
    client->fd = fd;
    client->peer = peer_of(fd);
    const bool admin = m_service.is_admin(client->peer);
    std::lock_guard lock(m_lock);
    if (const auto refusal = refusal_locked(client->peer, admin)) {
      m_refused.fetch_add(1);
      // data.refused tells a client that it was turned away, not that a request failed.
      json data = {{"refused", true}};
      if (refusal->limit != nullptr) {
        data["limit"] = refusal->limit;
      }
      (void)send_all(fd, limit_line(refusal->message, std::move(data)));
      log_warning("refused a client (pid {} uid {}): {}", client->peer.pid, client->peer.uid,
                  refusal->message);
      continue;  // ~Client closes fd.
    }
    client->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    client->max_queued = m_limits.max_queued_events;
    Client* c = client.get();
    Client* cp = c;
    c->session = m_service.begin_session(c->peer, [cp](std::string line) {
      // On the XPT's event thread: queue and wake, never block.
      {
        std::lock_guard lock(cp->queue_lock);
        if (cp->queue.size() >= cp->max_queued) {
          ++cp->lost;
          return;
        }
        cp->queue.push_back(std::move(line));
      }
      const std::uint64_t one = 1;
      (void)!::write(cp->wake_fd, &one, sizeof(one));
    });

    m_clients.push_back(std::move(client));
    c->thread = std::thread([this, c] { client_main(*c); });
  }
}

void Server::client_main(Client& c) {
  log_debug("client {} connected: pid {} uid {} gid {}{}", c.session->id(), c.peer.pid, c.peer.uid,
            c.peer.gid, c.session->admin() ? " (admin)" : "");
  std::string buffer;
  bool skipping = false;  // Discarding the rest of an oversized line.
  std::vector<char> chunk(65536);
  bool alive = true;
  auto flush_events = [&] {
    std::uint64_t counter = 0;
    (void)!::read(c.wake_fd, &counter, sizeof(counter));
    std::deque<std::string> lines;
    std::uint64_t lost = 0;
    {
      std::lock_guard lock(c.queue_lock);
      lines.swap(c.queue);
      lost = std::exchange(c.lost, 0);
    }
    std::string out;
    for (auto& l : lines) {
      out += l;
      out += '\n';
    }
    if (lost > 0) {
      out += service::notification("events.lost", {{"count", lost}}).dump() + "\n";
    }
    return out.empty() || send_all(c.fd, out);
  };
  // A request whose binary data is still arriving.
  struct Pending {
    std::string line;
    std::size_t bytes = 0;
  };
  std::optional<Pending> pending;
  // Runs one request line; false when the connection is to end.
  auto run = [&](std::string_view line, service::Payload* payload) {
    c.busy = true;
    // Every request on the socket may ask for a binary reply; only announced ones bring data.
    service::Payload none;
    std::string reply =
        m_service.handle_line(*c.session, line, payload != nullptr ? *payload : none);
    if (payload == nullptr) {
      payload = &none;
    }
    c.busy = false;
    bool ok = true;
    if (!reply.empty()) {
      reply += '\n';  // In place: a reply may be max_reply_bytes long.
      ok = send_all(c.fd, reply);
      if (ok && payload != nullptr && !payload->out.empty()) {
        ok = send_all(c.fd, std::string_view(reinterpret_cast<const char*>(payload->out.data()),
                                             payload->out.size()));
      }
    }
    if (c.cancelled.load()) {
      ok = false;  // Its client is gone: later requests would only be refused.
    }
    return ok;
  };
  while (alive) {
    pollfd fds[2] = {{c.fd, POLLIN, 0}, {c.wake_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if ((fds[1].revents & POLLIN) != 0 && !flush_events()) {
      break;
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    const ssize_t n = ::read(c.fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;  // EOF: the client closed, died, or the daemon is stopping.
    }
    std::size_t max_request = 0;
    {
      std::lock_guard lock(m_lock);
      max_request = m_limits.max_request_bytes;
    }
    buffer.append(chunk.data(), static_cast<std::size_t>(n));
    std::size_t start = 0;
    while (alive) {
      if (pending) {
        // A request line that announced binary data: run it once all of its bytes are here.
        if (buffer.size() - start < pending->bytes) {
          break;
        }
        service::Payload payload;
        payload.in.assign(buffer.begin() + static_cast<std::ptrdiff_t>(start),
                          buffer.begin() + static_cast<std::ptrdiff_t>(start + pending->bytes));
        start += pending->bytes;
        const std::string line = std::move(pending->line);
        pending.reset();
        alive = run(line, &payload);
        continue;
      }
      const auto nl = buffer.find('\n', start);
      if (nl == std::string::npos) {
        break;
      }
      std::string_view line(buffer.data() + start, nl - start);
      start = nl + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (line.size() > max_request) {
        const auto reply =
            limit_line(fmt::format("request of {} bytes exceeds the limit "
                                   "of {} bytes",
                                   line.size(), max_request));
        alive = send_all(c.fd, reply);
        continue;
      }
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
        continue;  // Blank lines are keep-alives.
      }
      if (auto announced = binary_length(line)) {
        const auto limit = m_service.limits().max_binary_bytes;
        if (*announced > limit) {
          // The bytes that follow cannot be told from the next request without reading them
          // all: refuse, then end the connection.
          (void)send_all(c.fd, limit_line(fmt::format("binary data of {} bytes exceeds the "
                                                      "limit of {} bytes (max_binary_bytes); "
                                                      "closing the connection",
                                                      *announced, limit)));
          alive = false;
          break;
        }
        pending = Pending{std::string(line), static_cast<std::size_t>(*announced)};
        continue;
      }
      alive = run(line, nullptr);
    }
    buffer.erase(0, start);
    if (!pending && buffer.size() > max_request) {
      // No newline within the limit: answer once, then drop bytes up to the next newline.
      const auto reply =
          limit_line(fmt::format("request exceeds the limit of {} bytes (requests "
                                 "are one line of JSON each)",
                                 max_request));
      alive = alive && (skipping || send_all(c.fd, reply));
      buffer.clear();
      skipping = true;
    }
  }
  const auto closed = m_service.end_session(*c.session);
  log_debug("client {} (pid {}) gone; {} handle(s) closed", c.session->id(), c.peer.pid, closed);
  {
    std::lock_guard lock(m_lock);
    c.done = true;
  }
  m_cv.notify_all();
}

}  // namespace ucam::daemon
