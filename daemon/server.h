// ucamd's Unix-socket server: one thread per client connection, newline-delimited JSON-RPC.
//
// Each connection is one Service session, with the peer's credentials (SO_PEERCRED,
// SO_PEERGROUPS) deciding its rights. When the peer closes the connection or dies (SIGKILL
// included: the kernel closes its socket), the session ends and every handle it held is closed.
//
// Event notifications reach a client through a bounded queue (never blocking the XPT's event
// thread); past `max_queued_events` they are dropped and the client is told how many in an
// "events.lost" notification.
//
// Threads: create() binds and listens; the accept thread serves until stop(). Every method is
// thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/result.h"
#include "service/service.h"

namespace ucam::daemon {

struct ServerLimits {
  // Connections at once. Of these, `reserved_admin_clients` are kept for admin sessions (root,
  // the daemon's uid, the admin group), and a user without the admin right may hold at most
  // `max_clients_per_uid`: one user cannot lock the others, or the administrator, out.
  std::size_t max_clients = 128;
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
  // stop() then wait().
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting and unlinks the socket; every client's read side is shut down, so each
  // finishes the request it is running (its reply is still sent) and then ends its session.
  void stop();
  // Waits for client threads to end, up to `timeout`; returns how many are still running.
  std::size_t wait(std::chrono::milliseconds timeout);
  // Shuts every remaining connection down completely (blocked writes fail).
  void disconnect_all();

  void set_limits(ServerLimits limits);
  Result<void> set_socket_access(mode_t mode, std::optional<gid_t> group);
  std::size_t clients() const;
  std::uint64_t clients_refused() const { return m_refused.load(); }
  const std::string& path() const { return m_socket.path; }

 private:
  struct Client;
  Server(service::Service& service, SocketOptions socket, ServerLimits limits);
  void accept_main();
  void client_main(Client& client);
  void reap(bool all);
  std::size_t running_locked() const;  // Client threads not yet done. Needs m_lock.
  struct Refusal {
    std::string message;
    const char* limit = nullptr;  // The configuration key, or nullptr (shutting down).
  };
  // Why a new connection from `peer` is refused, or nullopt. Needs m_lock.
  std::optional<Refusal> refusal_locked(const service::Peer& peer, bool admin) const;
  void abort_orphaned_commands();

  service::Service& m_service;
  SocketOptions m_socket;
  int m_listen_fd = -1;
  int m_stop_fd = -1;  // eventfd: wakes the accept thread.
  std::thread m_accept_thread;
  mutable std::mutex m_lock;
  std::condition_variable m_cv;                  // A client ended.
  ServerLimits m_limits;                         // Guarded by m_lock.
  std::list<std::unique_ptr<Client>> m_clients;  // Guarded by m_lock.
  bool m_stopping = false;                       // Guarded by m_lock.
  std::atomic<std::uint64_t> m_refused{0};
};

}  // namespace ucam::daemon
