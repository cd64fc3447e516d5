// ucamd's Unix-socket server: newline-delimited JSON-RPC over an event loop.
//
// Each connection is one Service session, with the peer's credentials (SO_PEERCRED,
// SO_PEERGROUPS) deciding its rights. When the peer closes the connection or dies (SIGKILL
// included: the kernel closes its socket), the command it is running is aborted, the session
// ends and every handle it held is closed. A half-close (shutdown(SHUT_WR)) means "no more
// requests": what was sent is still run and answered.
//
// Threads: a pool of workers, leader/followers. One worker at a time, the leader, waits in
// epoll for every socket (accept, non-blocking reads and framing into request lines, writes that
// would have blocked); when it has framed requests it stops leading and runs the first itself,
// so a request needs no hand-off between threads, and the next free worker leads. Requests of
// one session run one at a time, in the order they arrived; sessions take turns. A worker writes
// its reply itself when the socket takes it; what does not fit waits in the session's output
// buffer for the leader. A session whose output is not being read is neither served nor read
// until it is (back-pressure, bounded memory).
//
// A monitor thread wakes every millisecond while requests run: if no worker has led, or taken a
// queued request, for 2 ms (each is inside a slow command), it wakes or starts one more, up to
// one per connection (and two); so a slow command delays other clients by about 2 ms at most. It
// also has the leader check, every 200 ms, whether the process behind a running command has died.
//
// Event notifications reach a client through a bounded queue (the XPT's event thread never
// blocks); past `max_queued_events` they are dropped and the client is told how many in an
// "events.lost" notification.
//
// Every public method is thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "service/service.h"

namespace ucam::daemon {

struct ServerLimits {
  // Connections at once. Of these, `reserved_admin_clients` are kept for admin sessions (root,
  // the daemon's uid, the admin group), and a user without the admin right may hold at most
  // `max_clients_per_uid`: one user cannot lock the others, or the administrator, out.
  std::size_t max_clients = 1024;
  std::size_t max_clients_per_uid = 32;
  std::size_t reserved_admin_clients = 8;
  std::size_t max_request_bytes = 1024 * 1024;
  std::size_t max_queued_events = 10'000;
};

struct SocketOptions {
  std::string path;
  mode_t mode = 0660;
  std::optional<gid_t> group;
};

class Server {
 public:
  // Binds `socket.path` (replacing a stale socket; EADDRINUSE if a server answers there),
  // applies mode and group, listens, and starts accepting. `service` must outlast the Server.
  static Result<std::unique_ptr<Server>> create(service::Service& service, SocketOptions socket,
                                                ServerLimits limits);
  // stop(), disconnect_all(), then waits for every session to end (commands still running
  // finish first) and joins every thread.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting and unlinks the socket (done when it returns). Requests not yet started are
  // dropped; each session finishes the request it is running, its reply is still sent, and the
  // session ends.
  void stop();
  // Waits for connections to close (their sessions ended and last replies written), up to
  // `timeout`; returns how many have not.
  std::size_t wait(std::chrono::milliseconds timeout);
  // Shuts every remaining connection down completely: output not yet written is dropped, and
  // each session ends once the command it runs (if any) returns.
  void disconnect_all();

  void set_limits(ServerLimits limits);
  Result<void> set_socket_access(mode_t mode, std::optional<gid_t> group);
  std::size_t clients() const;  // Connections not yet closed (a session ended, its last reply
                                // not yet written, still counts).
  std::uint64_t clients_refused() const { return m_refused.load(); }
  const std::string& path() const { return m_socket.path; }
  std::size_t workers() const;                              // Worker threads started so far.
  std::size_t running() const { return m_running.load(); }  // Requests being run now.
  // Sessions not served for now because their client does not read its replies (1 MiB or more
  // unsent).
  std::size_t clients_backlogged() const { return m_backlogged.load(); }

 private:
  struct Conn;
  struct Item;
  using ConnPtr = std::shared_ptr<Conn>;
  Server(service::Service& service, SocketOptions socket, ServerLimits limits);

  // The leader (one worker at a time: epoll, accept, reads and framing, writes that waited).
  void io_round();
  void accept_ready();
  void read_ready(const ConnPtr& c);
  void write_ready(const ConnPtr& c);
  void hung_up(const ConnPtr& c);
  void stop_all_input();
  void drop_all_connections();
  void update_interest(const ConnPtr& c);
  void revisit(const ConnPtr& c);            // update_interest(), then schedule_if_ready().
  std::vector<ConnPtr> connections() const;  // A copy of m_conns' values.
  void schedule_if_ready(const ConnPtr& c);
  void enqueue(ConnPtr c);
  void check_orphans();
  // Workers: lead, or serve a queued session.
  void worker_main();
  void serve(const ConnPtr& c);
  void end(const ConnPtr& c);
  void note_backlog(Conn& c);  // Needs c.lock.
  void sever(Conn& c);         // Needs c.lock: nothing more is sent or run.
  void closed(const Conn& c);  // The leader removed `c`: it no longer counts.
  void monitor_main();
  // Any thread: the leader is to look at `c` again; the leader is to leave epoll_wait.
  void attention(const ConnPtr& c);
  void wake_leader() const;
  bool start_worker_locked();  // Needs m_run_lock; false (logged) if no thread could start.

  struct Refusal {
    std::string message;
    const char* limit = nullptr;  // The configuration key, or nullptr (shutting down).
  };
  // Why a new connection from `peer` is refused, or nullopt. Needs m_lock.
  std::optional<Refusal> refusal_locked(const service::Peer& peer, bool admin) const;

  service::Service& m_service;
  SocketOptions m_socket;
  int m_listen_fd = -1;
  int m_epoll_fd = -1;
  int m_wake_fd = -1;      // eventfd: stop, disconnect, exit, or attention wanted.
  bool m_started = false;  // create() succeeded.
  std::thread m_monitor;

  mutable std::mutex m_lock;
  std::condition_variable m_cv;     // A session ended; the leader acknowledged stop().
  ServerLimits m_limits;            // Guarded by m_lock.
  bool m_stopping = false;          // Guarded by m_lock.
  bool m_listen_closed = false;     // Guarded by m_lock.
  std::uint64_t m_disconnects = 0;  // Guarded by m_lock: disconnect_all() calls.
  std::size_t m_live = 0;           // Guarded by m_lock: connections accepted and not yet closed.
  std::map<uid_t, std::size_t> m_live_per_uid;  // Guarded by m_lock.
  std::atomic<std::uint64_t> m_refused{0};

  std::uint64_t m_disconnects_done = 0;  // The leader's: disconnect_all() calls handled.
  // The leader's: every connection not yet closed, by descriptor; and, after accept()
  // ran out of descriptors, when to listen again.
  std::map<int, ConnPtr> m_conns;
  std::optional<std::chrono::steady_clock::time_point> m_accept_backoff;

  std::mutex m_attention_lock;
  std::vector<ConnPtr> m_attention;  // Guarded by m_attention_lock.

  mutable std::mutex m_run_lock;
  std::condition_variable m_run_cv;
  std::deque<ConnPtr> m_runq;          // Guarded by m_run_lock: sessions with a request to run.
  std::vector<std::thread> m_workers;  // Guarded by m_run_lock.
  std::size_t m_idle_workers = 0;      // Guarded by m_run_lock.
  bool m_workers_exit = false;         // Guarded by m_run_lock.
  std::chrono::steady_clock::time_point m_last_pick;  // m_run_lock: a worker last took work.
  bool m_leader = false;       // Guarded by m_run_lock: a worker is in io_round().
  bool m_lead_wanted = false;  // Guarded by m_run_lock: the monitor found no leader.
  std::chrono::steady_clock::time_point m_last_led;  // m_run_lock: a leader last started/ended.
  bool m_monitor_sleeping = false;                   // Guarded by m_run_lock.
  std::condition_variable m_monitor_cv;              // With m_run_lock.
  std::atomic<std::size_t> m_max_workers;
  std::atomic<bool> m_io_exit{false};
  std::atomic<bool> m_orphan_check_due{false};
  std::atomic<std::size_t> m_running{0};  // Requests being run.
  std::atomic<std::size_t> m_backlogged{0};
};

}  // namespace ucam::daemon
