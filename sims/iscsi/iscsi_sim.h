// The iSCSI SIM: one libiscsi session to one target, presented to the XPT as one bus whose only
// target id is 0; the target's LUNs are found by the XPT's normal scan (INQUIRY, REPORT LUNS).
//
// Threads. Each IscsiSim runs one loop thread that owns the session: it connects and logs in
// (libiscsi's asynchronous connect and login), polls the session's socket and services it
// (iscsi_which_events / iscsi_service), sends NOP-Outs to notice a silent target, and reconnects.
// libiscsi is not thread-safe: the context is guarded by m_context_lock, which the loop holds
// except while it sleeps in poll(). action() runs on the caller's thread and, when it can take
// that lock at once, hands the command to libiscsi and writes it to the socket itself (no
// thread hop on the way out); otherwise it queues the command and wakes the loop. Responses are
// read by the loop; each finished CCB goes to XptSim::done() after the locks are released.
//
// Data. A read lands in a buffer the SIM owns and is copied into the CCB when the command
// completes; a write is copied out of the CCB in action(). So a CCB that the XPT aborts
// (timeout, device loss, cancel) can be handed back at once while libiscsi still holds the
// command: libiscsi never sees the submitter's memory.
//
// A dropped session (socket error, failed NOP-Outs, the target logging us out): the loop
// freezes the bus's SIM queue (XptSim::freeze_simq), completes every command the session held
// with Requeue (retryable: the XPT retries it once the queue is released), and reconnects with
// a back-off from reconnect_min doubling to reconnect_max. Devices stay meanwhile. Back within
// loss_timeout: the queue is released and what waited runs. Not back in time (Linux's
// replacement_timeout): the queue is released, commands fail at once with SelTimeout,
// list_targets() answers none and a rescan makes the bus's devices depart; the loop keeps
// trying, and once logged in again it requests a rescan that brings them back.
//
// Abort (cam/sim.h). A command is held in m_commands from action() until the SIM completes it;
// abort() that finds it there drops it (true) and the SIM never touches the CCB again (its
// libiscsi task, if any, finishes into the SIM's buffers and is freed); otherwise the command is
// being completed and done() follows (false). The task itself is not aborted at the target
// (FIXME: an iSCSI ABORT TASK for commands the XPT timed out).
//
// Lock order: XPT device lock (abort) -> m_context_lock -> m_lock. No XPT call is made with
// either SIM lock held. CHAP secrets are never logged, nor put in errors or describe().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "cam/sim.h"
#include "cam/xpt_sim.h"
#include "sims/iscsi/url.h"

struct iscsi_context;

namespace ucam::iscsi {

struct LibiscsiApi;  // libiscsi_api.h

// iSCSI HeaderDigest negotiation (RFC 7143 13.1): what the initiator offers.
enum class HeaderDigest : std::uint8_t {
  None,          // "None" only.
  Crc32c,        // "CRC32C" only (the target must support it).
  PreferNone,    // "None,CRC32C".
  PreferCrc32c,  // "CRC32C,None".
};

enum class InitialScan : std::uint8_t {
  Request,  // After the bus is registered, request_rescan() of the whole bus.
  None,     // Register only; the caller scans.
};

struct Config {
  // iscsi://[user[%password]@]host[:port]/target-iqn[/lun] (url.h). A LUN in the URL does not
  // restrict the SIM: the bus presents every LUN of the target.
  std::string url;
  std::string initiator_name = "iqn.2024-01.org.ucam:initiator";
  HeaderDigest header_digest = HeaderDigest::None;
  // CHAP (the target authenticates us). When chap_user is set it overrides the URL's user and
  // password. Never logged.
  std::string chap_user;
  std::string chap_secret;
  // Mutual CHAP (we authenticate the target as well); needs CHAP above.
  std::string target_chap_user;
  std::string target_chap_secret;

  // A connect + login attempt that takes longer fails (and create() fails on its first).
  std::chrono::milliseconds login_timeout{10'000};
  // Back-off between reconnect attempts after a drop: reconnect_min, doubling, at most
  // reconnect_max.
  std::chrono::milliseconds reconnect_min{250};
  std::chrono::milliseconds reconnect_max{10'000};
  // How long a dropped session may take to come back before the bus's devices depart (0: at
  // once). The commands that wait meanwhile wait at most this long.
  std::chrono::milliseconds loss_timeout{30'000};
  // A NOP-Out every nop_interval while logged in; three unanswered drop the session. 0: off.
  std::chrono::milliseconds nop_interval{5'000};

  std::uint32_t unit = 0;          // PathInquiry unit ("iscsi0").
  std::uint32_t queue_depth = 32;  // Openings per LUN (PathInquiry::device_queue_depth).
  std::uint32_t maxio = 1U << 20;  // Largest transfer per command (PathInquiry::maxio).
  InitialScan initial_scan = InitialScan::Request;
};

enum class SessionState : std::uint8_t {
  LoggedIn,      // Commands flow.
  Reconnecting,  // The session dropped: SIM queue frozen, reconnecting; devices stay.
  Lost,          // Not back within loss_timeout: devices departed; still reconnecting.
  Stopped,       // stop() ran (or is running).
};

std::string_view state_name(SessionState state);

// What describe() reports: for status output and logs. Holds no secret.
struct Description {
  std::string url;     // The configured URL, password removed.
  std::string portal;  // "host:port".
  std::string target;  // The target's iSCSI name.
  std::string initiator_name;
  SessionState state = SessionState::Stopped;
  std::optional<std::uint32_t> path_id;  // The bus, while registered.
  std::uint64_t drops = 0;               // Sessions that dropped.
  std::uint64_t reconnects = 0;          // Sessions re-established after a drop.
  std::uint64_t failed_attempts = 0;     // Connect/login attempts that failed.
  std::size_t commands = 0;              // Commands the SIM holds now.
  std::string last_error;                // The last session error ("" if none).
  // "iscsi0: iscsi://host:port/iqn... logged-in scbus2, 0 drops, 0 reconnects".
  std::string text() const;
};

class IscsiSim final : public cam::Sim {
 public:
  // Checks `config`, logs in to the target (failing after login_timeout, or at once when the
  // target refuses us), registers the bus with `xpt` and, with InitialScan::Request, asks for a
  // scan. `xpt` must outlast the SIM. The first SIM created loads libiscsi (libiscsi_api.h).
  // Errors: EINVAL (bad configuration, message says what), ELIBACC (libiscsi.so.7 missing or
  // incomplete; the message names the Debian package), ECONNREFUSED (nothing at the portal),
  // EACCES (login refused: authentication, unknown target), ETIMEDOUT; no message contains a
  // secret.
  static Result<std::unique_ptr<IscsiSim>> create(cam::XptSim& xpt, Config config);

  ~IscsiSim() override;  // stop()
  IscsiSim(const IscsiSim&) = delete;
  IscsiSim& operator=(const IscsiSim&) = delete;

  // Any thread; takes m_lock briefly.
  Description describe() const;

  // Deregisters the bus (every command the SIM or the XPT holds completes, with DevNotThere),
  // logs out, ends the session and joins the loop thread. Idempotent. Blocks: not from a
  // completion callback nor an event callback.
  void stop();

  // The bus's path id while registered.
  std::optional<std::uint32_t> path_id() const;

  // --- cam::Sim (any thread) ---
  cam::PathInquiry path_inquiry() const override;
  void action(cam::Ccb& ccb) override;
  bool abort(cam::Ccb& ccb) override;
  // {0} while the session is logged in or reconnecting; none once lost or stopped.
  std::optional<std::vector<std::uint32_t>> list_targets() const override;

 private:
  struct Command;
  // The loop's view of the connection (guarded by m_context_lock).
  enum class Phase : std::uint8_t { Idle, Connecting, LoggingIn, LoggedIn };

  IscsiSim(cam::XptSim& xpt, const LibiscsiApi& lib, Config config, Url url);

  void run();
  // Each returns with m_context_lock released.
  void start_attempt(std::chrono::steady_clock::time_point now);
  void fail_attempt(const std::string& why, std::chrono::steady_clock::time_point now);
  void session_up();
  void session_down(const std::string& why, std::chrono::steady_clock::time_point now);
  void enter_lost();
  void shut_down();

  // With m_context_lock held: hands `command` to libiscsi (or finishes it if that fails).
  void submit_locked(std::unique_ptr<Command> command);
  // With m_context_lock held: writes what libiscsi has queued, notes a failed socket.
  void flush_locked();
  // With m_context_lock held: destroys the context; every command libiscsi held finishes with
  // `cancelled` (queued ones too).
  void destroy_context_locked(CamStatus cancelled);
  // With m_context_lock held, on the loop thread: notes what the next poll() waits for.
  void refresh_poll_locked();
  // With m_context_lock held: takes the CCBs finished so far (complete them after unlocking).
  std::vector<cam::Ccb*> take_finished_locked();
  // Finishes a command whose CCB was taken back from m_commands.
  void finish_locked(Command& command, cam::Ccb* ccb, int status);
  // Removes `command`'s CCB from m_commands if it is still there (not aborted): the caller
  // then owns its completion.
  cam::Ccb* take(Command& command);
  void complete_all(const std::vector<cam::Ccb*>& ccbs);
  void wake() const;

  static void command_done(iscsi_context* context, int status, void* command_data,
                           void* private_data);
  static void connect_done(iscsi_context* context, int status, void* command_data,
                           void* private_data);
  static void login_done(iscsi_context* context, int status, void* command_data,
                         void* private_data);

  cam::XptSim& m_xpt;
  const LibiscsiApi& m_lib;  // libiscsi's functions (loaded once per process, never unloaded).
  const Config m_config;
  const Url m_url;  // Credentials resolved from the URL and the config.
  static constexpr std::uint64_t kNoPathId = ~std::uint64_t{0};
  std::atomic<std::uint64_t> m_path_id{kNoPathId};
  int m_wake_fd = -1;  // eventfd; read by the loop, written by anyone.

  // The session. Guarded by m_context_lock.
  std::mutex m_context_lock;
  iscsi_context* m_context = nullptr;
  Phase m_phase = Phase::Idle;
  bool m_connected = false;      // connect_done said GOOD.
  bool m_login_done = false;     // login_done ran ...
  bool m_login_ok = false;       // ... and said GOOD.
  bool m_socket_failed = false;  // A service call failed, or the connection was torn down.
  std::string m_failure;         // Why (libiscsi's error text).
  std::unordered_set<Command*> m_in_libiscsi;  // Commands libiscsi holds (owned).
  std::vector<cam::Ccb*> m_finished;           // Completed, waiting for done().
  CamStatus m_cancel_status = CamStatus::Requeue;

  // Guarded by m_lock.
  mutable std::mutex m_lock;
  std::condition_variable m_cv;  // create() waits for the first login; stop() for nothing.
  SessionState m_state = SessionState::Reconnecting;
  bool m_first_outcome = false;  // The first attempt ended (create() waits for it) ...
  int m_first_errno = 0;         // ... and failed with this.
  bool m_stopping = false;
  std::unordered_map<const cam::Ccb*, Command*> m_commands;  // Every CCB the SIM holds.
  std::deque<std::unique_ptr<Command>> m_queued;             // Accepted, not yet in libiscsi.
  // Mirror of !m_queued.empty(), written under m_lock: lets the loop skip m_lock when nothing
  // waits (a submitter that queues also wakes the loop, so it is never missed).
  std::atomic<bool> m_has_queued{false};
  std::atomic<bool> m_stop_requested{false};  // stop() began: the loop ends.
  std::uint64_t m_drops = 0;
  std::uint64_t m_reconnects = 0;
  std::uint64_t m_failed_attempts = 0;
  std::string m_last_error;

  // Loop thread only.
  SessionState m_session = SessionState::Reconnecting;  // Its own view of m_state.
  int m_poll_fd = -1;                                   // What the next poll() waits for.
  short m_poll_events = 0;
  bool m_poll_now = false;  // The session failed: don't sleep.
  std::chrono::steady_clock::time_point m_next_attempt{};
  std::chrono::steady_clock::time_point m_attempt_deadline{};
  std::chrono::steady_clock::time_point m_loss_deadline{};
  std::chrono::steady_clock::time_point m_next_nop{};
  std::chrono::milliseconds m_backoff{0};
  bool m_frozen = false;  // We hold a freeze_simq().
  bool m_ever_logged_in = false;

  std::thread m_thread;
  std::once_flag m_stop_once;
};

}  // namespace ucam::iscsi
