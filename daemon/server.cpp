#include "daemon/server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>

#include "base/json_nesting.h"
#include "base/log.h"

namespace ucam::daemon {

using service::json;

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

Result<void> set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return fail_errno(errno, "fcntl O_NONBLOCK");
  }
  return {};
}

// Raises the soft descriptor limit so that `max_clients` connections fit beside what the stack
// itself opens (up to the hard limit; a warning if that is too low).
void fit_descriptor_limit(std::size_t max_clients) {
  constexpr rlim_t kSpare = 256;  // The stack's own: devices, eventfds, the metrics listener.
  const rlim_t want = static_cast<rlim_t>(max_clients) + kSpare;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= want) {
    return;
  }
  const rlim_t soft = lim.rlim_max == RLIM_INFINITY ? want : std::min(want, lim.rlim_max);
  if (soft > lim.rlim_cur) {
    rlimit raised{soft, lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      lim.rlim_cur = soft;
    }
  }
  if (lim.rlim_cur < want) {
    log_warning(
        "the descriptor limit ({}) is below max_clients ({}) + {}: connections beyond "
        "it wait until others close (raise LimitNOFILE or ulimit -n)",
        lim.rlim_cur, max_clients, kSpare);
  }
}

// For a refusal on a fresh connection: its socket buffer is empty, so one line fits.
bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
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
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0) {
    if (errno == ERANGE) {  // More groups than room: glen now says how much is needed.
      groups.resize(glen / sizeof(gid_t) + 1);
      glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0) {
        glen = 0;
      }
    } else {
      glen = 0;  // No groups known: never 64 zeros, which would read as membership of gid 0.
    }
  }
  groups.resize(glen / sizeof(gid_t));
  peer.groups = std::move(groups);
  return peer;
}

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

}  // namespace

namespace {

// Read no more from a connection while this much is framed and waiting for a worker.
constexpr std::size_t kMaxItems = 128;
constexpr std::size_t kMaxItemBytes = 1 << 20;
// Run no more of a session's requests while this much of its output is unsent.
constexpr std::size_t kMaxOutPending = 1 << 20;
// No worker watched the sockets, or took a queued request, for this long: every worker is in a
// slow command, and another is woken or started.
constexpr auto kStarved = std::chrono::milliseconds(2);
// How often the monitor looks while requests run, and how long it stays awake after the last.
constexpr auto kTick = std::chrono::milliseconds(1);
constexpr auto kIdle = std::chrono::milliseconds(100);
// How often running commands are checked for a client process that died.
constexpr auto kOrphanCheck = std::chrono::milliseconds(200);

}  // namespace

// What the leader framed from a connection, for a worker to run or send, in arrival order.
struct Server::Item {
  enum class Kind {
    Run,           // A request line (and in payload.in the binary data it announced, if any).
    Reply,         // A reply made by the framing (a limit error): sent in its turn.
    ReplyThenEnd,  // The same, and nothing more is read from the connection.
  };
  Kind kind = Kind::Run;
  std::string line;
  service::Payload payload;
  std::size_t bytes() const { return line.size() + payload.in.size(); }
};

struct Server::Conn {
  int fd = -1;
  service::Peer peer;
  std::shared_ptr<service::Session> session;

  // The leader's own.
  std::string in;         // Bytes read, not yet framed.
  bool skipping = false;  // Discarding the rest of an oversized line.
  struct Pending {        // A request line whose binary data is still arriving.
    std::string line;
    std::size_t bytes = 0;
  };
  std::optional<Pending> pending;
  std::uint32_t interest = EPOLLIN;  // What epoll watches for.
  bool in_epoll = true;

  std::mutex lock;
  // Guarded by `lock`.
  std::deque<Item> items;
  std::size_t item_bytes = 0;
  bool read_paused = false;  // Too much framed and not yet run: the leader stopped reading.
  bool queued = false;       // In the run queue, or a worker has it.
  bool running = false;      // A worker is inside a request.
  std::chrono::steady_clock::time_point started;
  bool input_done = false;  // EOF, stop(), or a fatal framing error: no more items.
  bool broken = false;      // Hung up or a write failed: nothing more is sent.
  bool cancelled = false;   // Its commands were aborted: the peer is gone.
  bool ended = false;       // end_session() done (or being done).
  std::string out;          // Bytes to send, from out_off.
  std::size_t out_off = 0;
  bool want_out = false;    // The socket was full: the leader waits until it is writable.
  bool backlogged = false;  // kMaxOutPending or more unsent: its requests wait (counted).
  std::deque<std::string> events;
  std::uint64_t lost = 0;
  std::size_t max_queued = 0;

  ~Conn() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  bool out_empty() const { return out_off == out.size() && events.empty() && lost == 0; }
  std::size_t out_pending() const { return out.size() - out_off; }
  // Nothing more will run: time to end the session.
  bool finished() const { return (input_done || broken) && items.empty() && !running; }
  // A request waits and the client reads its replies.
  bool runnable() const { return !broken && !items.empty() && out_pending() < kMaxOutPending; }
  void drop_items() {
    items.clear();
    item_bytes = 0;
  }
  void drop_output() {
    out.clear();
    out_off = 0;
    events.clear();
    lost = 0;
    want_out = false;
  }
  // Sends what is queued until done or the socket is full (want_out). Needs `lock`.
  void flush() {
    while (!broken) {
      if (out_off == out.size()) {
        out.clear();
        out_off = 0;
        if (events.empty() && lost == 0) {
          break;
        }
        for (auto& l : events) {
          out += l;
          out += '\n';
        }
        events.clear();
        if (lost > 0) {
          out += service::notification("events.lost", {{"count", lost}}).dump() + "\n";
          lost = 0;
        }
      }
      const ssize_t n =
          ::send(fd, out.data() + out_off, out.size() - out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        out_off += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        want_out = true;
        return;
      } else {
        broken = true;  // The peer is gone (EPIPE, ECONNRESET).
        drop_items();
        drop_output();
        return;
      }
    }
    want_out = false;
  }
};

Server::Server(service::Service& service, SocketOptions socket, ServerLimits limits)
    : m_service(service),
      m_socket(std::move(socket)),
      m_limits(limits),
      m_max_workers(limits.max_clients + 2) {
}

Server::~Server() {
  if (m_started) {
    stop();
    disconnect_all();
    // Every session ends once its command (if any) returns: wait for that.
    std::unique_lock lock(m_lock);
    m_cv.wait(lock, [&] { return m_live == 0; });
  }
  m_io_exit = true;
  wake_leader();  // The leader leaves epoll_wait.
  {
    std::lock_guard lock(m_run_lock);
    m_workers_exit = true;
  }
  m_run_cv.notify_all();
  m_monitor_cv.notify_all();
  if (m_monitor.joinable()) {
    m_monitor.join();
  }
  for (auto& t : m_workers) {  // No worker starts any more: m_workers_exit.
    t.join();
  }
  m_conns.clear();
  m_runq.clear();
  m_attention.clear();
  for (const int fd : {m_listen_fd, m_epoll_fd, m_wake_fd}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

Result<std::unique_ptr<Server>> Server::create(service::Service& service, SocketOptions socket,
                                               ServerLimits limits) {
  fit_descriptor_limit(limits.max_clients);
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
  if (auto r = set_nonblocking(fd); !r) {
    ::unlink(path.c_str());
    return fail(r.error());
  }
  server->m_wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  server->m_epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (server->m_wake_fd < 0 || server->m_epoll_fd < 0) {
    const int e = errno;
    ::unlink(path.c_str());
    return fail_errno(e, "eventfd/epoll_create1");
  }
  // data.fd: which descriptor is ready (a connection's is looked up in m_conns).
  epoll_event wake{EPOLLIN, {}};
  wake.data.fd = server->m_wake_fd;
  epoll_event listen{EPOLLIN, {}};
  listen.data.fd = fd;
  if (::epoll_ctl(server->m_epoll_fd, EPOLL_CTL_ADD, server->m_wake_fd, &wake) != 0 ||
      ::epoll_ctl(server->m_epoll_fd, EPOLL_CTL_ADD, fd, &listen) != 0) {
    const int e = errno;
    ::unlink(path.c_str());
    return fail_errno(e, "epoll_ctl");
  }
  {
    std::lock_guard lock(server->m_run_lock);
    server->m_last_led = std::chrono::steady_clock::now();
    server->m_last_pick = server->m_last_led;
    const unsigned cores = std::max(2U, std::thread::hardware_concurrency());
    while (server->m_workers.size() < cores && server->start_worker_locked()) {
    }
    if (server->m_workers.empty()) {
      ::unlink(path.c_str());
      return fail(Error::described(EAGAIN, "cannot start a worker thread"));
    }
  }
  try {
    server->m_monitor = std::thread([s = server.get()] { s->monitor_main(); });
  } catch (const std::system_error& e) {
    ::unlink(path.c_str());
    return fail(Error::described(EAGAIN, fmt::format("starting the monitor: {}", e.what())));
  }
  server->m_started = true;
  return server;
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
  fit_descriptor_limit(limits.max_clients);
  m_max_workers = limits.max_clients + 2;  // A leader besides every session's command.
  std::lock_guard lock(m_lock);
  m_limits = limits;
}

std::optional<Server::Refusal> Server::refusal_locked(const service::Peer& peer, bool admin) const {
  if (m_stopping) {
    return Refusal{"ucamd is shutting down"};
  }
  if (m_live >= m_limits.max_clients) {
    return Refusal{
        fmt::format("too many clients (the limit is {}); try again later", m_limits.max_clients),
        "max_clients"};
  }
  if (admin) {
    return std::nullopt;  // Neither limited per uid nor kept out of the reserved connections.
  }
  const auto it = m_live_per_uid.find(peer.uid);
  const std::size_t same_uid = it == m_live_per_uid.end() ? 0 : it->second;
  if (same_uid >= m_limits.max_clients_per_uid) {
    return Refusal{fmt::format("too many connections from uid {}: the limit per user is {}; "
                               "close one first",
                               peer.uid, m_limits.max_clients_per_uid),
                   "max_clients_per_uid"};
  }
  if (m_live + m_limits.reserved_admin_clients >= m_limits.max_clients) {
    return Refusal{fmt::format("too many clients: the last {} of the {} connections are kept for "
                               "root and the admin group; try again later",
                               m_limits.reserved_admin_clients, m_limits.max_clients),
                   "reserved_admin_clients"};
  }
  return std::nullopt;
}

std::size_t Server::clients() const {
  std::lock_guard lock(m_lock);
  return m_live;
}

std::size_t Server::workers() const {
  std::lock_guard lock(m_run_lock);
  return m_workers.size();
}

void Server::stop() {
  if (!m_started) {
    return;  // create() failed: nothing was accepted.
  }
  std::unique_lock lock(m_lock);
  if (!m_stopping) {
    m_stopping = true;
    wake_leader();
  }
  // The leader closes the listening socket; then no connection is accepted any more.
  m_cv.wait(lock, [&] { return m_listen_closed; });
}

std::size_t Server::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_lock);
  m_cv.wait_for(lock, timeout, [&] { return m_live == 0; });
  return m_live;
}

void Server::disconnect_all() {
  std::lock_guard lock(m_lock);
  ++m_disconnects;
  wake_leader();
}

void Server::wake_leader() const {
  const std::uint64_t one = 1;
  (void)!::write(m_wake_fd, &one, sizeof(one));
}

// ---- Scheduling (any thread) -------------------------------------------------------------

void Server::enqueue(ConnPtr c) {
  // Only the leader (after its round) and a worker that just served (next) take from the queue
  // here: neither needs a wake-up. worker_main() wakes a follower when more is queued.
  std::lock_guard lock(m_run_lock);
  m_runq.push_back(std::move(c));
}

void Server::schedule_if_ready(const ConnPtr& c) {
  {
    std::lock_guard lock(c->lock);
    if (c->queued || c->ended) {
      return;
    }
    if (!c->runnable() && !c->finished()) {
      return;
    }
    c->queued = true;
  }
  enqueue(c);
}

void Server::attention(const ConnPtr& c) {
  bool first = false;
  {
    std::lock_guard lock(m_attention_lock);
    first = m_attention.empty();
    m_attention.push_back(c);
  }
  if (first) {
    wake_leader();
  }
}

// ---- Workers ---------------------------------------------------------------------------------

bool Server::start_worker_locked() {
  try {
    m_workers.emplace_back([this] { worker_main(); });
    return true;
  } catch (const std::system_error& e) {
    // Out of threads (RLIMIT_NPROC, pids.max).
    log_warning("cannot start another worker ({} running): {}", m_workers.size(), e.what());
    return false;
  }
}

void Server::worker_main() {
  std::unique_lock lock(m_run_lock);
  while (!m_workers_exit) {
    const auto now = std::chrono::steady_clock::now();
    const bool may_lead = !m_leader && !m_io_exit;
    if (may_lead && (m_runq.empty() || m_lead_wanted)) {
      // Leader: watch every socket until something is ready, frame it, then serve it (the next
      // round's leader is whoever is free first: no hand-off on the request's path). When the
      // monitor found nobody leading, a free worker leads before it takes queued work.
      m_leader = true;
      m_lead_wanted = false;
      m_last_led = now;
      lock.unlock();
      io_round();
      lock.lock();
      m_leader = false;
      m_last_led = std::chrono::steady_clock::now();
      continue;
    }
    if (!m_runq.empty()) {
      ConnPtr c = std::move(m_runq.front());
      m_runq.pop_front();
      m_last_pick = now;
      if (!m_runq.empty() && m_idle_workers > 0) {
        m_run_cv.notify_one();  // More than this worker can take.
      }
      if (m_monitor_sleeping) {
        m_monitor_sleeping = false;  // Someone must notice if this request blocks.
        m_monitor_cv.notify_one();
      }
      lock.unlock();
      serve(c);
      lock.lock();
      continue;
    }
    ++m_idle_workers;
    m_run_cv.wait(lock);
    --m_idle_workers;
  }
}

void Server::monitor_main() {
  // Wakes every kTick while requests run: if no worker has watched the sockets, or taken a
  // queued request, for kStarved (every worker is inside a slow command), it wakes a sleeping
  // worker or starts one more; every kOrphanCheck it has the leader look for dead clients.
  // Sleeps when the server has been idle for kIdle.
  std::unique_lock lock(m_run_lock);
  auto last_busy = std::chrono::steady_clock::now();
  auto next_orphan_check = last_busy + kOrphanCheck;
  auto wanted_since = last_busy;
  while (!m_workers_exit) {
    if (m_monitor_sleeping) {
      m_monitor_cv.wait(lock);
      last_busy = std::chrono::steady_clock::now();
      continue;
    }
    m_monitor_cv.wait_for(lock, kTick);
    if (m_workers_exit) {
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    const bool running = m_running.load() > 0;
    if (running || !m_runq.empty()) {
      last_busy = now;
    }
    // Nobody has watched the sockets for kStarved: the next free worker is to lead, and if none
    // is free for another kStarved, one more is started. Queued requests that no worker took for
    // kStarved: the same.
    const bool leaderless = !m_leader && !m_io_exit && now - m_last_led >= kStarved;
    const bool starved = !m_runq.empty() && now - m_last_pick >= kStarved;
    if (leaderless && !m_lead_wanted) {
      m_lead_wanted = true;
      wanted_since = now;
    }
    const bool stuck = (leaderless && now - wanted_since >= kStarved) || starved;
    if ((leaderless || starved) && m_idle_workers > 0) {
      m_run_cv.notify_one();
    } else if (stuck && m_workers.size() < m_max_workers.load()) {
      if (!start_worker_locked()) {
        m_max_workers = m_workers.size();  // The workers there are must do.
      }
      m_last_led = now;  // One more per kStarved at most.
      m_last_pick = now;
      wanted_since = now;
    }
    if (running && now >= next_orphan_check) {
      next_orphan_check = now + kOrphanCheck;
      m_orphan_check_due = true;
      wake_leader();
    }
    if (!running && m_runq.empty() && m_leader && now - last_busy >= kIdle) {
      m_monitor_sleeping = true;
    }
  }
}

// One request of `c` (or the end of its session), then `c` goes back to the queue's end if it
// has more: sessions take turns.
void Server::serve(const ConnPtr& c) {
  std::optional<Item> item;
  bool look = false;  // The leader must look at c again.
  {
    std::lock_guard lock(c->lock);
    if (c->runnable()) {
      item = std::move(c->items.front());
      c->items.pop_front();
      c->item_bytes -= item->bytes();
      c->running = true;
      c->started = std::chrono::steady_clock::now();
      if (c->read_paused && c->items.size() < kMaxItems / 2 && c->item_bytes < kMaxItemBytes / 2) {
        c->read_paused = false;
        look = true;
      }
    }
  }
  if (item) {
    ++m_running;
    // Every request on the socket may ask for a binary reply (payload.out); only announced
    // ones bring data (payload.in).
    service::Payload& payload = item->payload;
    std::string reply = item->kind == Item::Kind::Run
                            ? m_service.handle_line(*c->session, item->line, payload)
                            : std::move(item->line);
    --m_running;
    if (!reply.empty()) {
      // Made whole before the lock is taken (the event thread takes it too): in place, as a
      // reply may be max_reply_bytes long.
      if (reply.back() != '\n') {
        reply += '\n';
      }
      reply.append(reinterpret_cast<const char*>(payload.out.data()), payload.out.size());
    }
    std::lock_guard lock(c->lock);
    c->running = false;
    if (!c->broken && !reply.empty()) {
      if (c->out_pending() == 0) {
        c->out = std::move(reply);
        c->out_off = 0;
      } else {
        c->out += reply;  // Only when the client is slow to read.
      }
      const bool wanted = c->want_out;
      if (!wanted) {
        c->flush();
      }
      note_backlog(*c);
      look = look || c->want_out != wanted || c->broken;
    }
    if (item->kind == Item::Kind::ReplyThenEnd || c->cancelled) {
      // Its client is gone (cancelled): later requests would only be refused.
      c->input_done = true;
      c->drop_items();
      look = true;
    }
  }
  bool finish = false;
  bool again = false;
  {
    std::lock_guard lock(c->lock);
    if (c->finished() && !c->ended) {
      c->ended = true;
      finish = true;
    } else if (c->runnable()) {
      again = true;  // Stays queued.
    } else {
      c->queued = false;
    }
  }
  if (finish) {
    end(c);
    look = true;
  }
  if (look) {
    attention(c);
  }
  if (again) {
    enqueue(c);
  } else if (finish) {
    std::lock_guard lock(c->lock);
    c->queued = false;
  }
}

void Server::sever(Conn& c) {
  c.broken = true;
  c.drop_items();
  c.drop_output();
  note_backlog(c);
}

void Server::note_backlog(Conn& c) {
  const bool now = c.out_pending() >= kMaxOutPending;
  if (now != c.backlogged) {
    c.backlogged = now;
    if (now) {
      m_backlogged.fetch_add(1);
    } else {
      m_backlogged.fetch_sub(1);
    }
  }
}

void Server::end(const ConnPtr& c) {
  const auto closed = m_service.end_session(*c->session);
  log_debug("client {} (pid {}) gone; {} handle(s) closed", c->session->id(), c->peer.pid, closed);
}

void Server::closed(const Conn& c) {
  // Counted until now, not until its session ended: a connection whose last reply is not yet
  // read still holds a descriptor and its output (max_clients, max_clients_per_uid).
  {
    std::lock_guard lock(m_lock);
    --m_live;
    if (--m_live_per_uid[c.peer.uid] == 0) {
      m_live_per_uid.erase(c.peer.uid);
    }
  }
  m_cv.notify_all();
}

// ---- The leader: one worker at a time watches the sockets ------------------------------

void Server::io_round() {
  std::array<epoll_event, 256> ready{};
  const int timeout = m_accept_backoff ? 100 : -1;
  const int n = ::epoll_wait(m_epoll_fd, ready.data(), static_cast<int>(ready.size()), timeout);
  if (n < 0 && errno != EINTR) {
    // Cannot happen with a valid epoll set; if it does, do not spin on it.
    log_error("epoll_wait: {}", std::strerror(errno));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return;
  }
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = ready[static_cast<std::size_t>(i)];
    if (ev.data.fd == m_wake_fd) {
      std::uint64_t counter = 0;
      (void)!::read(m_wake_fd, &counter, sizeof(counter));
      continue;
    }
    if (ev.data.fd == m_listen_fd) {
      accept_ready();
      continue;
    }
    const auto it = m_conns.find(ev.data.fd);
    if (it == m_conns.end()) {
      continue;
    }
    const ConnPtr c = it->second;
    if ((ev.events & (EPOLLHUP | EPOLLERR)) != 0) {
      hung_up(c);
      continue;
    }
    if ((ev.events & EPOLLIN) != 0) {
      read_ready(c);
    }
    if ((ev.events & EPOLLOUT) != 0) {
      write_ready(c);
    }
  }
  if (m_io_exit) {
    return;
  }
  bool stop_now = false;
  bool disconnect_now = false;
  {
    std::lock_guard lock(m_lock);
    stop_now = m_stopping && !m_listen_closed;
    disconnect_now = m_disconnects > m_disconnects_done;
    m_disconnects_done = m_disconnects;
  }
  if (stop_now) {
    (void)::epoll_ctl(m_epoll_fd, EPOLL_CTL_DEL, m_listen_fd, nullptr);
    ::close(m_listen_fd);
    m_listen_fd = -1;
    ::unlink(m_socket.path.c_str());
    stop_all_input();
    {
      std::lock_guard lock(m_lock);
      m_listen_closed = true;
    }
    m_cv.notify_all();
  }
  if (disconnect_now) {
    drop_all_connections();
  }
  std::vector<ConnPtr> look;
  {
    std::lock_guard lock(m_attention_lock);
    look.swap(m_attention);
  }
  for (const auto& c : look) {
    revisit(c);
  }
  if (m_accept_backoff && std::chrono::steady_clock::now() >= *m_accept_backoff &&
      m_listen_fd >= 0) {
    m_accept_backoff.reset();
    epoll_event ev{EPOLLIN, {}};
    ev.data.fd = m_listen_fd;
    (void)::epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, m_listen_fd, &ev);
  }
  if (m_orphan_check_due.exchange(false)) {
    check_orphans();
  }
}

void Server::accept_ready() {
  for (int round = 0; round < 64; ++round) {
    const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: the connection waits in the backlog and the listener
        // rests for 100 ms (it would be ready again at once). Said once per pause.
        log_warning("accept: {}; pausing new connections for 100 ms{}", std::strerror(errno),
                    errno == EMFILE || errno == ENFILE
                        ? " (raise the descriptor limit, or lower max_clients)"
                        : "");
        m_accept_backoff = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        epoll_event ev{0, {}};
        ev.data.fd = m_listen_fd;
        (void)::epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, m_listen_fd, &ev);
      } else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        log_warning("accept: {}", std::strerror(errno));
      }
      return;
    }
    auto c = std::make_shared<Conn>();
    c->fd = fd;
    c->peer = peer_of(fd);
    const bool admin = m_service.is_admin(c->peer);
    {
      std::lock_guard lock(m_lock);
      if (const auto refusal = refusal_locked(c->peer, admin)) {
        m_refused.fetch_add(1);
        // data.refused tells a client that it was turned away, not that a request failed.
        json data = {{"refused", true}};
        if (refusal->limit != nullptr) {
          data["limit"] = refusal->limit;
        }
        (void)send_all(fd, limit_line(refusal->message, std::move(data)));
        log_warning("refused a client (pid {} uid {}): {}", c->peer.pid, c->peer.uid,
                    refusal->message);
        continue;  // ~Conn closes fd.
      }
      ++m_live;
      ++m_live_per_uid[c->peer.uid];
      c->max_queued = m_limits.max_queued_events;
    }
    std::weak_ptr<Conn> weak = c;
    c->session = m_service.begin_session(c->peer, [this, weak](std::string line) {
      // On the XPT's event thread: queue, and write only what the socket takes now.
      const ConnPtr conn = weak.lock();
      if (!conn) {
        return;
      }
      bool look = false;
      {
        std::lock_guard lock(conn->lock);
        if (conn->broken || conn->ended) {
          return;
        }
        if (conn->events.size() >= conn->max_queued) {
          ++conn->lost;
          return;
        }
        conn->events.push_back(std::move(line));
        if (!conn->want_out) {
          conn->flush();
          note_backlog(*conn);
          look = conn->want_out || conn->broken;
        }
      }
      if (look) {
        attention(conn);
      }
    });
    epoll_event ev{EPOLLIN, {}};
    ev.data.fd = fd;
    if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      log_warning("epoll_ctl: {}", std::strerror(errno));
      std::lock_guard lock(c->lock);
      c->broken = true;
      c->in_epoll = false;
    }
    m_conns[fd] = c;
    log_debug("client {} connected: pid {} uid {} gid {}{}", c->session->id(), c->peer.pid,
              c->peer.uid, c->peer.gid, c->session->admin() ? " (admin)" : "");
    schedule_if_ready(c);  // Ends it at once if epoll refused it.
  }
}

void Server::read_ready(const ConnPtr& c) {
  std::size_t max_request = 0;
  {
    std::lock_guard lock(m_lock);
    max_request = m_limits.max_request_bytes;
  }
  char chunk[65536];
  const ssize_t n = ::read(c->fd, chunk, sizeof(chunk));
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
    return;
  }
  if (n < 0) {
    hung_up(c);
    return;
  }
  if (n == 0) {
    // EOF: the client half-closed ("no more requests"); what it sent is still answered.
    {
      std::lock_guard lock(c->lock);
      c->input_done = true;
    }
    revisit(c);
    return;
  }
  c->in.append(chunk, static_cast<std::size_t>(n));
  std::vector<Item> framed;
  bool fatal = false;
  std::size_t start = 0;
  while (!fatal) {
    if (c->pending) {
      // A request line that announced binary data: run it once all of its bytes are here.
      if (c->in.size() - start < c->pending->bytes) {
        break;
      }
      Item item{Item::Kind::Run, std::move(c->pending->line), {}};
      item.payload.in.assign(
          c->in.begin() + static_cast<std::ptrdiff_t>(start),
          c->in.begin() + static_cast<std::ptrdiff_t>(start + c->pending->bytes));
      start += c->pending->bytes;
      c->pending.reset();
      framed.push_back(std::move(item));
      continue;
    }
    const auto nl = c->in.find('\n', start);
    if (nl == std::string::npos) {
      break;
    }
    std::string_view line(c->in.data() + start, nl - start);
    start = nl + 1;
    if (c->skipping) {
      c->skipping = false;
      continue;
    }
    if (line.size() > max_request) {
      framed.push_back({Item::Kind::Reply,
                        limit_line(fmt::format("request of {} bytes exceeds the limit of {} bytes",
                                               line.size(), max_request)),
                        {}});
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
        framed.push_back({Item::Kind::ReplyThenEnd,
                          limit_line(fmt::format("binary data of {} bytes exceeds the limit of {} "
                                                 "bytes (max_binary_bytes); closing the "
                                                 "connection",
                                                 *announced, limit)),
                          {}});
        fatal = true;
        break;
      }
      c->pending = Conn::Pending{std::string(line), static_cast<std::size_t>(*announced)};
      continue;
    }
    framed.push_back({Item::Kind::Run, std::string(line), {}});
  }
  c->in.erase(0, start);
  if (!fatal && !c->pending && c->in.size() > max_request) {
    // No newline within the limit: answer once, then drop bytes up to the next newline.
    if (!c->skipping) {
      framed.push_back({Item::Kind::Reply,
                        limit_line(fmt::format("request exceeds the limit of {} bytes (requests "
                                               "are one line of JSON each)",
                                               max_request)),
                        {}});
    }
    c->in.clear();
    c->skipping = true;
  }
  if (fatal) {
    c->in.clear();
    c->pending.reset();
  }
  {
    std::lock_guard lock(c->lock);
    if (!c->broken && !c->input_done) {
      for (auto& item : framed) {
        c->item_bytes += item.bytes();
        c->items.push_back(std::move(item));
      }
    }
    if (fatal) {
      c->input_done = true;
    }
    if (c->items.size() >= kMaxItems || c->item_bytes >= kMaxItemBytes) {
      c->read_paused = true;
    }
  }
  revisit(c);
}

void Server::write_ready(const ConnPtr& c) {
  {
    std::lock_guard lock(c->lock);
    c->flush();
    note_backlog(*c);
  }
  revisit(c);
}

void Server::hung_up(const ConnPtr& c) {
  // The peer closed its socket (close(), shutdown(SHUT_RDWR), or it died and the kernel closed
  // it): the replies can no longer be read. What it runs is aborted, the rest dropped.
  bool cancel = false;
  {
    std::lock_guard lock(c->lock);
    sever(*c);
    if (c->running && !c->cancelled) {
      c->cancelled = true;
      cancel = true;
    }
  }
  if (cancel) {
    log_info("client {} (pid {}) closed its connection inside a command: aborting it",
             c->session->id(), c->peer.pid);
    m_service.cancel_session(*c->session);
  }
  revisit(c);
}

void Server::update_interest(const ConnPtr& c) {
  bool remove = false;
  bool detach = false;
  std::uint32_t want = 0;
  {
    std::lock_guard lock(c->lock);
    if (c->ended && (c->broken || c->out_empty())) {
      remove = true;
    } else if (c->broken) {
      detach = true;  // Its hang-up would be reported again and again.
    } else {
      want = (!c->input_done && !c->read_paused ? EPOLLIN : 0U) | (c->want_out ? EPOLLOUT : 0U);
    }
  }
  if (remove || detach) {
    if (c->in_epoll) {
      (void)::epoll_ctl(m_epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
      c->in_epoll = false;
    }
    if (remove) {
      const auto it = m_conns.find(c->fd);
      if (it != m_conns.end() && it->second == c) {
        m_conns.erase(it);  // ~Conn closes the socket once no worker holds it.
        closed(*c);
      }
    }
    return;
  }
  if (c->in_epoll && want != c->interest) {
    epoll_event ev{want, {}};
    ev.data.fd = c->fd;
    if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
      c->interest = want;
    }
  }
}

void Server::revisit(const ConnPtr& c) {
  update_interest(c);
  schedule_if_ready(c);
}

std::vector<Server::ConnPtr> Server::connections() const {
  std::vector<ConnPtr> all;
  all.reserve(m_conns.size());
  for (const auto& [fd, c] : m_conns) {
    all.push_back(c);
  }
  return all;
}

void Server::stop_all_input() {
  for (const auto& c : connections()) {  // A copy: revisit() may erase from m_conns.
    {
      std::lock_guard lock(c->lock);
      c->input_done = true;
      c->drop_items();  // Not started: dropped. The one running is answered.
    }
    revisit(c);
  }
}

void Server::drop_all_connections() {
  for (const auto& c : connections()) {  // A copy: revisit() may erase from m_conns.
    ::shutdown(c->fd, SHUT_RDWR);
    {
      std::lock_guard lock(c->lock);
      c->input_done = true;
      sever(*c);
    }
    revisit(c);
  }
}

void Server::check_orphans() {
  // A client process that died while its socket lives on (in a child it forked, say) does not
  // hang up: the commands it runs are aborted when its process is gone.
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [fd, c] : m_conns) {
    {
      std::lock_guard lock(c->lock);
      if (!c->running || c->cancelled || now - c->started < kOrphanCheck / 2 || c->peer.pid <= 0) {
        continue;
      }
    }
    if (process_alive(c->peer.pid)) {
      continue;
    }
    {
      std::lock_guard lock(c->lock);
      if (c->cancelled) {
        continue;
      }
      c->cancelled = true;
    }
    log_info("client {} (pid {}) died inside a command: aborting it", c->session->id(),
             c->peer.pid);
    m_service.cancel_session(*c->session);
  }
}

}  // namespace ucam::daemon
