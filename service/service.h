// The ucam service: every node operation a process may ask for, as JSON-RPC methods over one
// Stack. ucamd serves it on a Unix socket; ucamctl --emulate calls it in-process. Both go
// through handle_line(), so a command behaves the same either way.
//
// Sessions: one per client (a connection, or the in-process CLI). A session is a set of tracked
// opens (FreeBSD's D_TRACKCLOSE, per process): every `open` returns a handle holding one devfs
// open (one periph reference); `close` closes it exactly once; end_session() closes whatever the
// client still holds, so a client that disconnects or dies leaves nothing behind. A node that
// departs while held makes calls on the handle fail with ENXIO (NoSuchDevice); its close still
// succeeds.
//
// Rights: Read (lists, status, maps, events, INQUIRY/TUR-style reads through named methods) for
// any session; Admin (LEDs, element control, raw CDBs, rescans, fault injection) only for
// sessions whose Peer is admin. A refusal is PermissionDenied naming the right.
//
// Threads: handle_line() may be called from any number of threads, for different sessions or
// the same one. Event sinks are called from the XPT's event thread and must not block.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cam/cancel.h"
#include "service/rpc.h"
#include "stack/stack.h"

namespace ucam::service {

enum class Right : std::uint8_t { Read, Admin };
std::string_view right_name(Right right);

// Who is on the other end (SO_PEERCRED / SO_PEERGROUPS for a socket; the process itself
// in-process).
struct Peer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::vector<gid_t> groups;  // Supplementary groups.
};

struct AccessPolicy {
  // Admin: uid 0, the daemon's own uid, and members of these groups (primary or supplementary).
  std::vector<gid_t> admin_gids;
  std::string admin_group_names;  // For messages: "ucam-admin".
  uid_t owner_uid = 0;            // The daemon's effective uid.
};

struct ServiceLimits {
  std::size_t max_handles_per_session = 1024;
  // What one line may make the service do and answer: a batch of more requests is refused
  // whole (nothing runs), and replies stop once a line's would pass max_reply_bytes, so one
  // request line cannot make the daemon build an unbounded answer.
  std::size_t max_batch_requests = 64;
  std::size_t max_reply_bytes = 64 * 1024 * 1024;
  // Bytes of binary data one request may carry or ask for (docs/api.md, "Binary data").
  std::size_t max_binary_bytes = 64 * 1024 * 1024;
};

// The binary data of one request (docs/api.md, "Binary data"): the bytes that followed its line
// (the request's top-level "binary": N), and the bytes to send after the reply line (the
// reply's "binary": M says how many).
struct Payload {
  std::vector<std::uint8_t> in;
  std::vector<std::uint8_t> out;
};

// Which binary data a method takes: data-out following the request, data-in following the
// reply (when the request says "binary_reply": true).
enum class BinaryUse : std::uint8_t { None, In, Out, InOut };

class Session;

// Called with one serialized notification line (no trailing newline), from the XPT's event
// thread. Must not block: queue the line and wake the writer (ucamd bounds that queue).
using EventSink = std::function<void(std::string line)>;

class Service {
 public:
  // `stack` must outlast the Service.
  Service(Stack& stack, AccessPolicy policy, ServiceLimits limits);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Starts a session for `peer`; `sink` receives its event notifications.
  std::shared_ptr<Session> begin_session(const Peer& peer, EventSink sink);
  // Closes every handle the session still holds and drops its event subscription. Idempotent.
  // Returns the number of handles closed.
  std::size_t end_session(Session& session);
  // Aborts the command the session is running, and every later one (its client is gone).
  // Thread-safe; the session's thread then finishes its request and ends the session.
  void cancel_session(Session& session);

  // One line of input (a request, a notification or a batch) -> the response line, or "" when
  // nothing is to be answered (notifications only). Never throws; bad input gets an error reply.
  // A batch of more than max_batch_requests gets one LimitExceeded error and runs nothing. A
  // reply that would make the line longer than max_reply_bytes is replaced by a LimitExceeded
  // error (the request did run), and the rest of the batch is not run: each gets an error.
  std::string handle_line(Session& session, std::string_view line);
  // The same for a request whose line announced binary data: `payload.in` holds it (exactly the
  // announced bytes; the transport read them), and on return `payload.out` holds the bytes to
  // send after the reply line. Only for single requests: a batch with "binary" is refused.
  std::string handle_line(Session& session, std::string_view line, Payload& payload);

  // Policy and limits can change at run time (SIGHUP); sessions keep the right they started
  // with.
  void set_policy(AccessPolicy policy);
  void set_limits(ServiceLimits limits);
  bool is_admin(const Peer& peer) const;

  // Prometheus text exposition (version 0.0.4) of the stack and the service.
  std::string metrics_text();
  // daemon.status: sessions, handles, periph references, devfs and XPT counters.
  json status();

  // Extra status the host (ucamd) adds to daemon.status and metrics (clients, config).
  using StatusHook = std::function<void(json&)>;
  void set_status_hook(StatusHook hook);

  Stack& stack() { return m_stack; }

  // The method table (filled by the constructor from the register_* functions of each file).
  // `params` lists what the method takes; a request with anything else, or a wrong type, is
  // refused before the handler runs (check_params).
  using Handler = std::function<Result<json>(Session&, const json& params)>;
  void add_method(std::string name, Right right, std::string summary, ParamSpecs params,
                  Handler handler, BinaryUse binary = BinaryUse::None);
  ServiceLimits limits() const;

 private:
  struct Method {
    Right right;
    std::string summary;
    ParamSpecs params;
    Handler handler;
    BinaryUse binary = BinaryUse::None;
  };
  // `payload`: the request's binary data, nullptr when the request came without a transport
  // for it (a batch member, or handle_line() without a Payload).
  json handle_one(Session& session, const json& request, Payload* payload = nullptr);
  std::string handle_line(Session& session, std::string_view line, Payload& payload,
                          bool with_payload);
  // `raw_ids`: the text of the ids json cannot hold exactly, by index in the batch.
  std::string handle_batch(Session& session, const json& batch,
                           const std::map<std::size_t, std::string>& raw_ids);
  void register_service_methods();

  Stack& m_stack;
  mutable std::mutex m_lock;
  AccessPolicy m_policy;                                 // Guarded by m_lock.
  ServiceLimits m_limits;                                // Guarded by m_lock.
  std::map<std::uint64_t, Session*> m_sessions;          // Live sessions. Guarded by m_lock.
  std::uint64_t m_next_session = 1;                      // Guarded by m_lock.
  StatusHook m_status_hook;                              // Guarded by m_lock.
  std::map<std::string, Method, std::less<>> m_methods;  // Immutable after the constructor.
  std::chrono::steady_clock::time_point m_started = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> m_requests{0}, m_request_errors{0};
  std::atomic<std::uint64_t> m_handles_opened{0}, m_handles_closed{0};
  // One XPT subscription for every session: each event is rendered once (one timestamp) and
  // handed to the sinks of the sessions that want it, under m_lock, so a session removed from
  // m_sessions gets nothing more.
  std::unique_ptr<cam::Subscription> m_events;
  void deliver(const cam::AsyncEvent& event);
  // The periph names last seen on each device, so that a LostDevice event can still say which
  // names left (the periphs are gone by the time it is delivered). Guarded by m_names_lock.
  std::mutex m_names_lock;
  std::map<cam::Path, std::vector<std::string>> m_names;
};

// Method groups, one file each.
void register_device_methods(Service& service);  // service/device_methods.cpp
void register_enc_methods(Service& service);     // service/enc_methods.cpp
void register_emu_methods(Service& service);     // service/emu_methods.cpp
void register_sg_methods(Service& service);      // service/sg_methods.cpp
void register_ch_methods(Service& service);      // service/ch_methods.cpp

// For methods that take binary data (BinaryUse::Out/InOut): the data-out, as the bytes that
// followed the request, else the hex string params.<name>; nullopt when neither was given.
// Both at once is an error.
Result<std::optional<std::vector<std::uint8_t>>> data_out(Session& session, const json& params,
                                                          const char* name);

// For methods that return data (BinaryUse::In/InOut): puts `data` in `out` as hex under
// `key`, or, when the request asked for a binary reply, hands it to the session as the bytes
// after the reply line (`key` is then absent).
void put_data_in(Session& session, json& out, const char* key, std::vector<std::uint8_t> data);

// `error` with "node: " in front, unless its message already starts so.
inline Error named(const Error& error, const std::string& node) {
  return error.message().starts_with(node + ":") ? error : error.with_context(node);
}

// The params of an "event" notification (docs/api.md, "Events"). Called on the event thread.
// `names`, when given, are the periph names to report (else the ones attached now).
json event_json(Stack& stack, const cam::AsyncEvent& event,
                const std::vector<std::string>* names = nullptr);

// For the method files: runs `fn` on the node that `params` names, either params.handle (a
// handle of `session`, used under its lock) or params.<name_param> resolved with
// Stack::resolve() and opened for the duration of the call.
// With Resolve::Pass a name is mapped to its device's pass node ("da3" -> "pass5"), with
// Resolve::Pt to its pt node ("pass4" -> "pt0"), with Resolve::Ch to its ch node.
enum class Resolve : std::uint8_t { Node, Pass, Pt, Ch };
using NodeFn = std::function<Result<json>(devfs::FileHandle& file, const std::string& node)>;
Result<json> with_node(Service& service, Session& session, const json& params,
                       const char* name_param, const NodeFn& fn, Resolve resolve = Resolve::Node);

class Session {
 public:
  ~Session();
  std::uint64_t id() const { return m_id; }
  const Peer& peer() const { return m_peer; }
  bool admin() const { return m_admin; }
  std::size_t handle_count() const;
  bool subscribed() const;

  // A tracked open. Calls on it serialize on `lock` (a FileHandle is not thread-safe).
  struct OpenHandle {
    std::string node;
    devfs::FileHandle file;
    std::mutex lock;
  };
  // The session's handle `id`, or EBADF.
  Result<std::shared_ptr<OpenHandle>> find_handle(std::int64_t id) const;
  // Adds an open; EMFILE beyond `limit` handles.
  Result<std::int64_t> add_handle(std::string node, devfs::FileHandle file, std::size_t limit);
  // Removes and returns the handle (closed when the last user drops it), or EBADF.
  Result<std::shared_ptr<OpenHandle>> remove_handle(std::int64_t id);
  std::vector<std::pair<std::int64_t, std::string>> handles() const;
  // Commands the session runs carry this token; Service::cancel_session() aborts them.
  cam::CancelToken& cancel_token() { return m_cancel; }

  // For methods that take binary data (BinaryUse), while they run: the bytes that came with
  // the request (nullopt when it sent none: use the hex parameter), and whether the reply's
  // data goes as binary (then hand it to set_binary_out() instead of putting hex in the JSON).
  std::optional<std::span<const std::uint8_t>> binary_in() const;
  bool binary_reply() const { return m_binary_reply; }
  void set_binary_out(std::vector<std::uint8_t> bytes);

  // For methods with large results: the result as JSON text (service/json_writer.h), sent as
  // the reply's "result" in place of the json the handler returns (return null then). It
  // belongs to the running request only; a handler that fails discards it.
  void set_result_text(std::string text) { m_result_text = std::move(text); }

 private:
  friend class Service;
  Session(std::uint64_t id, Peer peer, bool admin, EventSink sink)
      : m_id(id), m_peer(std::move(peer)), m_admin(admin), m_sink(std::move(sink)) {}

  const std::uint64_t m_id;
  const Peer m_peer;
  const bool m_admin;
  EventSink m_sink;
  cam::CancelToken m_cancel;
  mutable std::mutex m_lock;
  std::map<std::int64_t, std::shared_ptr<OpenHandle>> m_handles;  // Guarded by m_lock.
  std::int64_t m_next_handle = 1;                                 // Guarded by m_lock.
  // Event subscription: the codes wanted (0 = not subscribed). Read by the Service's event
  // callback under Service::m_lock.
  std::atomic<std::uint32_t> m_event_mask{0};
  bool m_ended = false;  // Guarded by m_lock.
  // The running request's binary data (requests of one session run one at a time: ucamd runs a
  // session on at most one worker at once).
  Payload* m_payload = nullptr;
  bool m_binary_in = false;
  bool m_binary_reply = false;
  std::optional<std::string> m_result_text;  // The running request's, from set_result_text().
};

}  // namespace ucam::service
