#include "sims/iscsi/iscsi_sim.h"

#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "base/log.h"
#include "sims/iscsi/libiscsi_api.h"
#include "sims/iscsi/outcome.h"

namespace ucam::iscsi {
namespace {

using Clock = std::chrono::steady_clock;

// Unanswered NOP-Outs after which a session counts as dead.
constexpr int kMaxNopsInFlight = 3;
// How long stop() waits for the target to answer a Logout.
constexpr auto kLogoutTimeout = std::chrono::milliseconds(1000);
// Poll at least this often, so timers are checked even if a computation above went wrong.
constexpr auto kMaxPollWait = std::chrono::milliseconds(1000);
// LUNs libiscsi can address: it writes the LUN as the first two bytes of the LUN field, so
// single-level peripheral (0..255) and flat space (256..16383) addressing (SAM-5 4.7.6).
constexpr std::uint64_t kMaxFlatLun = 0x3fff;

iscsi_header_digest to_libiscsi(HeaderDigest digest) {
  switch (digest) {
    case HeaderDigest::None:
      return ISCSI_HEADER_DIGEST_NONE;
    case HeaderDigest::Crc32c:
      return ISCSI_HEADER_DIGEST_CRC32C;
    case HeaderDigest::PreferNone:
      return ISCSI_HEADER_DIGEST_NONE_CRC32C;
    case HeaderDigest::PreferCrc32c:
      return ISCSI_HEADER_DIGEST_CRC32C_NONE;
  }
  return ISCSI_HEADER_DIGEST_NONE;
}

// libiscsi's last error, trimmed; `fallback` when it has none. With its own reconnect turned
// off, a lost connection leaves "... Can not reconnect right now." there, which would mislead.
std::string libiscsi_error(const LibiscsiApi& lib, iscsi_context* context,
                           std::string_view fallback) {
  const char* raw = context != nullptr ? lib.iscsi_get_error(context) : nullptr;
  std::string text = raw != nullptr ? raw : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '.')) {
    text.pop_back();
  }
  if (text.empty() || text.find("reconnect") != std::string::npos) {
    return std::string(fallback);
  }
  return text;
}

// libiscsi writes to its socket with writev(), which raises SIGPIPE once the target has gone.
// Every thread that makes libiscsi write blocks SIGPIPE meanwhile and swallows one raised, so
// neither the process (default action: terminate) nor its signal disposition is touched.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&m_pipe);
    sigaddset(&m_pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &m_pipe, &m_old);
  }
  ~SigpipeBlock() {
    if (m_write_failed && sigismember(&m_old, SIGPIPE) == 0) {
      sigset_t pending;
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{};
        (void)sigtimedwait(&m_pipe, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  // A write failed: a SIGPIPE may be pending, to be swallowed before the mask is restored.
  void write_failed() { m_write_failed = true; }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t m_pipe{};
  sigset_t m_old{};
  bool m_write_failed = false;
};

int poll_timeout_ms(Clock::time_point now, Clock::time_point wake_at) {
  if (wake_at <= now) {
    return 0;
  }
  const auto wait = std::min<Clock::duration>(wake_at - now, kMaxPollWait);
  // Round up: waking a little late is harmless, spinning until the deadline is not.
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
}

}  // namespace

// One SCSI command on its way through libiscsi.
struct IscsiSim::Command {
  IscsiSim* sim = nullptr;
  cam::Ccb* ccb = nullptr;  // Guarded by m_lock: null once abort() dropped the CCB.
  scsi_task* task = nullptr;
  std::array<unsigned char, SCSI_CDB_MAX_SIZE> cdb{};
  int cdb_len = 0;
  int lun = 0;
  cam::DataDir dir = cam::DataDir::None;
  std::uint32_t length = 0;
  // The data: what a read brings in (copied to the CCB when it completes), or a copy of what a
  // write sends. libiscsi only ever sees this buffer, never the CCB's.
  std::unique_ptr<std::uint8_t[]> buffer;
};

std::string_view state_name(SessionState state) {
  switch (state) {
    case SessionState::LoggedIn:
      return "logged-in";
    case SessionState::Reconnecting:
      return "reconnecting";
    case SessionState::Lost:
      return "lost";
    case SessionState::Stopped:
      return "stopped";
  }
  return "unknown";
}

std::string Description::text() const {
  std::string out = fmt::format("{} {}", url, state_name(state));
  if (path_id) {
    out += fmt::format(" scbus{}", *path_id);
  }
  out += fmt::format(", {} drops, {} reconnects, {} commands", drops, reconnects, commands);
  if (!last_error.empty()) {
    out += fmt::format(", last error: {}", last_error);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Creation and stop

IscsiSim::IscsiSim(cam::XptSim& xpt, const LibiscsiApi& lib, Config config, Url url)
    : m_xpt(xpt), m_lib(lib), m_config(std::move(config)), m_url(std::move(url)) {
}

Result<std::unique_ptr<IscsiSim>> IscsiSim::create(cam::XptSim& xpt, Config config) {
  auto url = parse_url(config.url);
  if (!url) {
    return fail(url.error());
  }
  const auto bad = [](std::string_view why) {
    return fail(Error::invalid(fmt::format("iSCSI configuration: {}", why)));
  };
  if (config.initiator_name.empty()) {
    return bad("the initiator name is empty");
  }
  if (config.chap_user.empty() && !config.chap_secret.empty()) {
    return bad("a CHAP secret without a CHAP user");
  }
  if (!config.chap_user.empty()) {
    url->user = config.chap_user;
    url->password = config.chap_secret;
  }
  if (config.target_chap_user.empty() != config.target_chap_secret.empty()) {
    return bad("mutual CHAP needs both the target's user and its secret");
  }
  if (!config.target_chap_user.empty() && url->user.empty()) {
    return bad("mutual CHAP needs CHAP (a user and secret for the initiator) as well");
  }
  if (!url->user.empty() && url->password.empty()) {
    return bad(fmt::format("CHAP user '{}' has no secret", url->user));
  }
  if (config.login_timeout.count() <= 0) {
    return bad("login_timeout must be positive");
  }
  if (config.reconnect_min.count() <= 0 || config.reconnect_max < config.reconnect_min) {
    return bad("reconnect back-off needs 0 < reconnect_min <= reconnect_max");
  }
  if (config.loss_timeout.count() < 0 || config.nop_interval.count() < 0) {
    return bad("loss_timeout and nop_interval must not be negative");
  }
  if (config.queue_depth == 0) {
    return bad("queue_depth must be at least 1");
  }

  // libiscsi is loaded by the first SIM created, not when the process starts.
  auto lib = libiscsi();
  if (!lib) {
    return fail(lib.error());
  }

  std::unique_ptr<IscsiSim> sim(new IscsiSim(xpt, **lib, std::move(config), std::move(*url)));
  sim->m_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (sim->m_wake_fd < 0) {
    return fail_errno(errno, "iSCSI SIM: eventfd");
  }
  sim->m_thread = std::thread([p = sim.get()] { p->run(); });
  int first_errno = 0;
  std::string first_error;
  {
    std::unique_lock lock(sim->m_lock);
    sim->m_cv.wait(lock, [&] { return sim->m_first_outcome; });
    if (sim->m_state != SessionState::LoggedIn) {
      first_errno = sim->m_first_errno;
      first_error = sim->m_last_error;
    }
  }
  if (first_errno != 0) {
    sim->stop();
    return fail(Error::described(first_errno, fmt::format("iSCSI login to {} failed: {}",
                                                          sim->m_url.redacted(), first_error)));
  }
  return sim;
}

IscsiSim::~IscsiSim() {
  stop();
  // Closed here, not in stop(): a thread still in action() after stop() has taken its command
  // back may yet wake() the loop, and a descriptor closed under it could be reused by then.
  if (m_wake_fd >= 0) {
    ::close(m_wake_fd);
  }
}

void IscsiSim::stop() {
  std::call_once(m_stop_once, [this] {
    {
      std::lock_guard lock(m_lock);
      m_stopping = true;
      m_state = SessionState::Stopped;
      m_cv.notify_all();
    }
    m_stop_requested.store(true, std::memory_order_release);
    // From here action() refuses new commands (DevNotThere). Deregistering completes every CCB
    // the XPT queues and takes back, through abort(), those the SIM holds; the loop keeps
    // running meanwhile to finish the ones it was already completing.
    if (const auto path = path_id()) {
      m_xpt.deregister_bus(*path);
      m_path_id.store(kNoPathId, std::memory_order_release);
    }
    wake();
    if (m_thread.joinable()) {
      m_thread.join();
    }
  });
}

std::optional<std::uint32_t> IscsiSim::path_id() const {
  const auto id = m_path_id.load(std::memory_order_acquire);
  if (id == kNoPathId) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(id);
}

Description IscsiSim::describe() const {
  Description d;
  d.url = m_url.redacted();
  d.portal = m_url.portal();
  d.target = m_url.target;
  d.initiator_name = m_config.initiator_name;
  d.path_id = path_id();
  std::lock_guard lock(m_lock);
  d.state = m_state;
  d.drops = m_drops;
  d.reconnects = m_reconnects;
  d.failed_attempts = m_failed_attempts;
  d.commands = m_commands.size();
  d.last_error = m_last_error;
  return d;
}

// ---------------------------------------------------------------------------------------------
// cam::Sim

cam::PathInquiry IscsiSim::path_inquiry() const {
  cam::PathInquiry inquiry;
  inquiry.sim_name = "iscsi";
  inquiry.unit = m_config.unit;
  inquiry.bus = 0;
  inquiry.max_target = 0;
  inquiry.max_lun = 255;
  inquiry.initiator_id = 0;
  inquiry.hba_vendor = "libiscsi";
  inquiry.transport = "iSCSI";
  inquiry.device_queue_depth = m_config.queue_depth;
  inquiry.maxio = m_config.maxio;
  return inquiry;
}

std::optional<std::vector<std::uint32_t>> IscsiSim::list_targets() const {
  std::lock_guard lock(m_lock);
  if (m_state == SessionState::LoggedIn || m_state == SessionState::Reconnecting) {
    return std::vector<std::uint32_t>{0};
  }
  return std::vector<std::uint32_t>{};
}

void IscsiSim::action(cam::Ccb& ccb) {
  ccb.sense_len = 0;
  ccb.flags &= ~static_cast<std::uint32_t>(cam::kCcbAutosenseValid);
  ccb.scsi_status = cam::ScsiStatus::Good;
  const auto reject = [&](CamStatus status) {
    ccb.complete_status(status);
    m_xpt.done(ccb);
  };
  switch (ccb.func) {
    case cam::FuncCode::ScsiIo:
      break;
    case cam::FuncCode::Noop:
      reject(CamStatus::ReqCmp);
      return;
    case cam::FuncCode::ResetDev:
    case cam::FuncCode::ResetBus:
      // FIXME: LUN RESET / TARGET WARM RESET task management functions.
      reject(CamStatus::ReqInvalid);
      return;
  }
  if (ccb.path.target != 0) {
    reject(CamStatus::SelTimeout);  // One target per bus.
    return;
  }
  if (ccb.cdb_len == 0 || ccb.cdb_len > SCSI_CDB_MAX_SIZE || ccb.path.lun > kMaxFlatLun) {
    reject(CamStatus::ReqInvalid);
    return;
  }
  auto command = std::make_unique<Command>();
  command->sim = this;
  command->ccb = &ccb;
  command->lun = static_cast<int>(ccb.path.lun < 256 ? ccb.path.lun : (0x4000 | ccb.path.lun));
  command->cdb_len = ccb.cdb_len;
  std::memcpy(command->cdb.data(), ccb.cdb.data(), ccb.cdb_len);
  if (ccb.dir != cam::DataDir::None && ccb.dxfer_len > 0) {
    command->dir = ccb.dir;
    command->length = ccb.dxfer_len;
    command->buffer = std::make_unique_for_overwrite<std::uint8_t[]>(ccb.dxfer_len);
    if (ccb.dir == cam::DataDir::Out) {
      std::memcpy(command->buffer.get(), ccb.data, ccb.dxfer_len);
    }
  }

  // Send it from this thread when the context is free (the common case: the loop sleeps in
  // poll()); otherwise the loop sends it.
  std::unique_lock context(m_context_lock, std::try_to_lock);
  CamStatus refused = CamStatus::ReqCmp;
  bool queued = false;
  {
    std::lock_guard lock(m_lock);
    switch (m_state) {
      case SessionState::LoggedIn:
        m_commands.emplace(&ccb, command.get());
        if (!context.owns_lock() || m_phase != Phase::LoggedIn || m_socket_failed) {
          m_queued.push_back(std::move(command));
          m_has_queued.store(true, std::memory_order_relaxed);
          queued = true;
        }
        break;
      case SessionState::Reconnecting:
        refused = CamStatus::Requeue;  // Raced with the freeze: the XPT queues it again.
        break;
      case SessionState::Lost:
        refused = CamStatus::SelTimeout;
        break;
      case SessionState::Stopped:
        refused = CamStatus::DevNotThere;
        break;
    }
  }
  if (refused != CamStatus::ReqCmp) {
    if (context.owns_lock()) {
      context.unlock();
    }
    reject(refused);
    return;
  }
  if (queued) {
    if (context.owns_lock()) {
      context.unlock();
    }
    wake();
    return;
  }
  bool wake_loop = false;
  std::vector<cam::Ccb*> finished;
  {
    SigpipeBlock no_sigpipe;
    submit_locked(std::move(command));
    flush_locked();
    if (m_socket_failed) {
      no_sigpipe.write_failed();
    }
    wake_loop = m_socket_failed ||
                (m_context != nullptr && (m_lib.iscsi_which_events(m_context) & POLLOUT) != 0);
    finished = take_finished_locked();
    context.unlock();
  }
  if (wake_loop) {
    wake();  // A failed socket, or more to write than the socket took: the loop's business.
  }
  complete_all(finished);
}

bool IscsiSim::abort(cam::Ccb& ccb) {
  std::lock_guard lock(m_lock);
  const auto it = m_commands.find(&ccb);
  if (it == m_commands.end()) {
    return false;  // Being completed: done() follows.
  }
  it->second->ccb = nullptr;  // Its task (if any) finishes into the SIM's buffer, unseen.
  m_commands.erase(it);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Commands (all with m_context_lock held)

void IscsiSim::submit_locked(std::unique_ptr<Command> command) {
  const int direction = command->dir == cam::DataDir::In    ? SCSI_XFER_READ
                        : command->dir == cam::DataDir::Out ? SCSI_XFER_WRITE
                                                            : SCSI_XFER_NONE;
  scsi_task* task = m_lib.scsi_create_task(command->cdb_len, command->cdb.data(), direction,
                                           static_cast<int>(command->length));
  if (task == nullptr) {
    Command* c = command.release();
    finish_locked(*c, take(*c), SCSI_STATUS_ERROR);
    return;
  }
  command->task = task;
  if (command->length > 0) {
    const int added = command->dir == cam::DataDir::In
                          ? m_lib.scsi_task_add_data_in_buffer(
                                task, static_cast<int>(command->length), command->buffer.get())
                          : m_lib.scsi_task_add_data_out_buffer(
                                task, static_cast<int>(command->length), command->buffer.get());
    if (added != 0) {
      Command* c = command.release();
      finish_locked(*c, take(*c), SCSI_STATUS_ERROR);
      return;
    }
  }
  Command* raw = command.release();  // Owned by libiscsi's callback from here.
  m_in_libiscsi.insert(raw);
  if (m_lib.iscsi_scsi_command_async(m_context, raw->lun, task, &IscsiSim::command_done, nullptr,
                                     raw) != 0) {
    // Not queued: no callback will come.
    m_in_libiscsi.erase(raw);
    finish_locked(*raw, take(*raw), SCSI_STATUS_ERROR);
  }
}

void IscsiSim::flush_locked() {
  if (m_context == nullptr || m_socket_failed) {
    return;
  }
  if ((m_lib.iscsi_which_events(m_context) & POLLOUT) == 0) {
    return;
  }
  if (m_lib.iscsi_service(m_context, POLLOUT) < 0) {
    m_socket_failed = true;
    m_failure = libiscsi_error(m_lib, m_context, "write to the target failed");
  }
}

void IscsiSim::command_done(iscsi_context* /*context*/, int status, void* /*command_data*/,
                            void* private_data) {
  auto* command = static_cast<Command*>(private_data);
  IscsiSim& sim = *command->sim;
  sim.m_in_libiscsi.erase(command);
  sim.finish_locked(*command, sim.take(*command), status);
}

cam::Ccb* IscsiSim::take(Command& command) {
  std::lock_guard lock(m_lock);
  cam::Ccb* ccb = command.ccb;
  if (ccb != nullptr) {
    m_commands.erase(ccb);
    command.ccb = nullptr;
  }
  return ccb;
}

void IscsiSim::finish_locked(Command& command, cam::Ccb* ccb, int status) {
  std::unique_ptr<Command> owned(&command);
  if (ccb != nullptr) {
    TaskOutcome outcome;
    outcome.status = status;
    outcome.cancelled = m_cancel_status;
    if (const scsi_task* task = command.task) {
      outcome.residual = task->residual_status == SCSI_RESIDUAL_UNDERFLOW  ? Residual::Underflow
                         : task->residual_status == SCSI_RESIDUAL_OVERFLOW ? Residual::Overflow
                                                                           : Residual::None;
      outcome.residual_bytes = task->residual;
      if (task->datain.data != nullptr && task->datain.size > 0) {
        outcome.response_data = {task->datain.data, static_cast<std::size_t>(task->datain.size)};
      }
      outcome.decoded_sense = {static_cast<std::uint8_t>(task->sense.key),
                               static_cast<std::uint8_t>((task->sense.ascq >> 8) & 0xff),
                               static_cast<std::uint8_t>(task->sense.ascq & 0xff)};
    }
    complete_ccb(*ccb, outcome, {command.buffer.get(), command.length});
    m_finished.push_back(ccb);
  }
  if (command.task != nullptr) {
    m_lib.scsi_free_scsi_task(command.task);
    command.task = nullptr;
  }
}

std::vector<cam::Ccb*> IscsiSim::take_finished_locked() {
  std::vector<cam::Ccb*> out;
  out.swap(m_finished);
  return out;
}

void IscsiSim::complete_all(const std::vector<cam::Ccb*>& ccbs) {
  // On the loop thread, callbacks run right here (the submitter of a synchronous command wakes
  // once, not twice); inside action() this is done().
  for (cam::Ccb* ccb : ccbs) {
    m_xpt.done_direct(*ccb);
  }
}

void IscsiSim::destroy_context_locked(CamStatus cancelled) {
  m_cancel_status = cancelled;
  if (m_context != nullptr) {
    // Commands libiscsi holds are cancelled through their callbacks (when it still counts the
    // session as logged in)...
    m_lib.iscsi_destroy_context(m_context);
    m_context = nullptr;
  }
  // ... and those it dropped without a callback are finished here.
  for (Command* command : std::vector<Command*>(m_in_libiscsi.begin(), m_in_libiscsi.end())) {
    finish_locked(*command, take(*command), SCSI_STATUS_CANCELLED);
  }
  m_in_libiscsi.clear();
  std::deque<std::unique_ptr<Command>> queued;
  {
    std::lock_guard lock(m_lock);
    queued.swap(m_queued);
    m_has_queued.store(false, std::memory_order_relaxed);
  }
  for (auto& command : queued) {
    Command& c = *command.release();
    finish_locked(c, take(c), SCSI_STATUS_CANCELLED);
  }
  m_phase = Phase::Idle;
  m_connected = m_login_done = m_login_ok = m_socket_failed = false;
  refresh_poll_locked();
}

void IscsiSim::refresh_poll_locked() {
  if (m_context != nullptr) {
    m_poll_fd = m_lib.iscsi_get_fd(m_context);
    m_poll_events = static_cast<short>(m_lib.iscsi_which_events(m_context));
  } else {
    m_poll_fd = -1;
    m_poll_events = 0;
  }
  m_poll_now = m_socket_failed;
}

void IscsiSim::wake() const {
  const std::uint64_t one = 1;
  if (m_wake_fd >= 0) {
    // Fails only when the counter is full, and then the loop has a wake-up pending anyway.
    [[maybe_unused]] const ssize_t written = ::write(m_wake_fd, &one, sizeof(one));
  }
}

// ---------------------------------------------------------------------------------------------
// The session loop

void IscsiSim::connect_done(iscsi_context* context, int status, void* /*command_data*/,
                            void* private_data) {
  auto& sim = *static_cast<IscsiSim*>(private_data);
  if (status == SCSI_STATUS_GOOD && !sim.m_connected) {
    sim.m_connected = true;
    return;
  }
  // Connecting failed, or (called a second time) the connection broke.
  sim.m_socket_failed = true;
  sim.m_failure = libiscsi_error(sim.m_lib, context, "connection failed");
}

void IscsiSim::login_done(iscsi_context* context, int status, void* /*command_data*/,
                          void* private_data) {
  auto& sim = *static_cast<IscsiSim*>(private_data);
  sim.m_login_done = true;
  sim.m_login_ok = status == SCSI_STATUS_GOOD;
  if (!sim.m_login_ok) {
    sim.m_failure = libiscsi_error(sim.m_lib, context, "login failed");
  }
}

void IscsiSim::run() {
  // This thread writes to the socket in every service call: SIGPIPE stays blocked for its
  // lifetime (one raised while blocked stays pending, harmlessly).
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  m_next_attempt = Clock::now();
  for (;;) {
    auto now = Clock::now();
    if (m_stop_requested.load(std::memory_order_acquire)) {
      break;
    }
    // Timers.
    if (m_phase == Phase::Idle && now >= m_next_attempt) {
      start_attempt(now);
    } else if ((m_phase == Phase::Connecting || m_phase == Phase::LoggingIn) &&
               now >= m_attempt_deadline) {
      fail_attempt(fmt::format("no login within {} ms", m_config.login_timeout.count()), now);
    } else if (m_phase == Phase::LoggedIn && m_config.nop_interval.count() > 0 &&
               now >= m_next_nop) {
      std::lock_guard context(m_context_lock);
      if (m_lib.iscsi_get_nops_in_flight(m_context) >= kMaxNopsInFlight) {
        m_socket_failed = true;
        m_failure = fmt::format("no answer to {} NOP-Outs", kMaxNopsInFlight);
      } else if (m_lib.iscsi_nop_out_async(m_context, nullptr, nullptr, 0, nullptr) != 0) {
        m_socket_failed = true;
        m_failure = libiscsi_error(m_lib, m_context, "NOP-Out failed");
      } else {
        flush_locked();
      }
      m_next_nop = now + m_config.nop_interval;
      refresh_poll_locked();
    }
    const bool reconnecting = m_ever_logged_in && m_session == SessionState::Reconnecting;
    if (reconnecting && now >= m_loss_deadline) {
      enter_lost();
    }

    // Sleep until the socket or a wake-up needs us, or the next timer. What to poll for was
    // noted the last time this thread held the context lock: a submitter that leaves output
    // queued wakes us, so the common case takes no lock here.
    std::array<pollfd, 2> fds{};
    fds[0] = {m_wake_fd, POLLIN, 0};
    fds[1] = {m_poll_fd, m_poll_events, 0};
    const bool failed_already = m_poll_now;
    auto wake_at = now + kMaxPollWait;
    if (m_phase == Phase::Idle) {
      wake_at = std::min(wake_at, m_next_attempt);
    } else if (m_phase != Phase::LoggedIn) {
      wake_at = std::min(wake_at, m_attempt_deadline);
    } else if (m_config.nop_interval.count() > 0) {
      wake_at = std::min(wake_at, m_next_nop);
    }
    if (reconnecting) {
      wake_at = std::min(wake_at, m_loss_deadline);
    }
    const int timeout = failed_already ? 0 : poll_timeout_ms(now, wake_at);
    const int ready = ::poll(fds.data(), fds[1].fd >= 0 ? 2 : 1, timeout);
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t got = ::read(m_wake_fd, &count, sizeof(count));
    }

    // Service the session.
    std::vector<cam::Ccb*> finished;
    bool logged_in = false;
    bool failed = false;
    std::string why;
    Phase failed_in = m_phase;
    {
      std::lock_guard context(m_context_lock);
      if (m_context != nullptr && fds[1].fd >= 0 && fds[1].revents != 0 &&
          m_lib.iscsi_get_fd(m_context) == fds[1].fd && !m_socket_failed) {
        if (m_lib.iscsi_service(m_context, fds[1].revents) < 0) {
          m_socket_failed = true;
          if (m_failure.empty()) {
            m_failure = libiscsi_error(m_lib, m_context, "the connection was closed");
          }
        }
      }
      if (m_phase == Phase::Connecting && m_connected && !m_socket_failed) {
        if (m_lib.iscsi_login_async(m_context, &IscsiSim::login_done, this) != 0) {
          m_socket_failed = true;
          m_failure = libiscsi_error(m_lib, m_context, "cannot start the login");
        } else {
          m_phase = Phase::LoggingIn;
        }
      }
      if (m_phase == Phase::LoggingIn && m_login_done) {
        if (m_login_ok) {
          m_phase = Phase::LoggedIn;
          logged_in = true;
        } else {
          m_socket_failed = true;
        }
      }
      if (m_phase == Phase::LoggedIn && !m_socket_failed &&
          m_has_queued.load(std::memory_order_relaxed)) {
        std::deque<std::unique_ptr<Command>> queued;
        {
          std::lock_guard lock(m_lock);
          queued.swap(m_queued);
          m_has_queued.store(false, std::memory_order_relaxed);
        }
        for (auto& command : queued) {
          submit_locked(std::move(command));
        }
      }
      if (m_phase == Phase::LoggedIn) {
        flush_locked();  // Ours, or what a submitter left when the socket was full.
      }
      failed = m_socket_failed;
      failed_in = m_phase;
      why = m_failure;
      finished = take_finished_locked();
      refresh_poll_locked();
    }
    complete_all(finished);
    now = Clock::now();
    if (logged_in && !failed) {
      session_up();
    }
    if (failed) {
      if (failed_in == Phase::LoggedIn) {
        session_down(why, now);
      } else {
        fail_attempt(why, now);
      }
    }
  }
  shut_down();
}

void IscsiSim::start_attempt(Clock::time_point now) {
  std::string failure;
  {
    std::lock_guard context(m_context_lock);
    m_connected = m_login_done = m_login_ok = m_socket_failed = false;
    m_failure.clear();
    m_context = m_lib.iscsi_create_context(m_config.initiator_name.c_str());
    if (m_context == nullptr) {
      failure = "cannot create a libiscsi context";
    } else {
      // Our own reconnect (with our back-off, our queue freeze and our loss timeout), never
      // libiscsi's: it would replay commands on the new session behind our back.
      m_lib.iscsi_set_noautoreconnect(m_context, 1);
      m_lib.iscsi_set_reconnect_max_retries(m_context, 0);
      m_lib.iscsi_set_session_type(m_context, ISCSI_SESSION_NORMAL);
      m_lib.iscsi_set_header_digest(m_context, to_libiscsi(m_config.header_digest));
      if (m_lib.iscsi_set_targetname(m_context, m_url.target.c_str()) != 0) {
        failure = libiscsi_error(m_lib, m_context, "bad target name");
      } else if (!m_url.user.empty() &&
                 m_lib.iscsi_set_initiator_username_pwd(m_context, m_url.user.c_str(),
                                                        m_url.password.c_str()) != 0) {
        failure = "cannot set the CHAP credentials";
      } else if (!m_config.target_chap_user.empty() &&
                 m_lib.iscsi_set_target_username_pwd(m_context, m_config.target_chap_user.c_str(),
                                                     m_config.target_chap_secret.c_str()) != 0) {
        failure = "cannot set the target's CHAP credentials";
      } else if (m_lib.iscsi_connect_async(m_context, m_url.portal().c_str(),
                                           &IscsiSim::connect_done, this) != 0) {
        failure = libiscsi_error(m_lib, m_context, "cannot connect");
      }
    }
    m_phase = Phase::Connecting;
    m_attempt_deadline = now + m_config.login_timeout;
    refresh_poll_locked();
  }
  if (!failure.empty()) {
    fail_attempt(failure, now);
  }
}

void IscsiSim::fail_attempt(const std::string& why, Clock::time_point now) {
  const Phase phase = m_phase;
  const bool timed_out = now >= m_attempt_deadline;
  std::vector<cam::Ccb*> finished;
  {
    std::lock_guard context(m_context_lock);
    destroy_context_locked(CamStatus::Requeue);
    finished = take_finished_locked();
  }
  complete_all(finished);
  m_backoff = m_backoff.count() == 0 ? m_config.reconnect_min
                                     : std::min(m_backoff * 2, m_config.reconnect_max);
  m_next_attempt = now + m_backoff;
  bool first = false;
  {
    std::lock_guard lock(m_lock);
    ++m_failed_attempts;
    m_last_error = why;
    if (!m_first_outcome) {
      first = true;
      m_first_outcome = true;
      m_first_errno = timed_out ? ETIMEDOUT : phase == Phase::Connecting ? ECONNREFUSED : EACCES;
      m_cv.notify_all();
    }
  }
  if (!first) {
    log_debug("iscsi{}: {}: attempt failed ({}); next in {} ms", m_config.unit, m_url.redacted(),
              why, m_backoff.count());
  }
}

void IscsiSim::session_up() {
  bool first = false;
  bool was_lost = false;
  {
    std::lock_guard lock(m_lock);
    if (m_stopping) {
      return;
    }
    first = !m_ever_logged_in;
    was_lost = m_state == SessionState::Lost;
    if (!first) {
      ++m_reconnects;
    }
  }
  m_ever_logged_in = true;
  m_backoff = std::chrono::milliseconds(0);
  m_next_nop = Clock::now() + m_config.nop_interval;
  if (first) {
    // The bus exists from the first login on (create() waits for it).
    auto registered = m_xpt.register_bus(*this);
    std::lock_guard lock(m_lock);
    m_first_outcome = true;
    if (!registered) {
      m_first_errno = registered.error().errno_value();
      m_last_error = registered.error().message();
      m_cv.notify_all();
      return;
    }
    m_path_id.store(*registered, std::memory_order_release);
    m_state = SessionState::LoggedIn;
    m_session = SessionState::LoggedIn;
    m_cv.notify_all();
  } else {
    std::lock_guard lock(m_lock);
    m_state = SessionState::LoggedIn;
  }
  m_session = SessionState::LoggedIn;
  const auto path = path_id();
  log_info("iscsi{}: logged in to {}{}", m_config.unit, m_url.redacted(),
           path ? fmt::format(" (scbus{})", *path) : std::string());
  if (!path) {
    return;
  }
  if (m_frozen) {
    // What waited during the outage runs now, from this thread (action() takes the free
    // context lock and sends it).
    if (auto r = m_xpt.release_simq(*path); !r) {
      log_debug("iscsi{}: release_simq: {}", m_config.unit, r.error().message());
    }
    m_frozen = false;
  }
  if ((first && m_config.initial_scan == InitialScan::Request) || was_lost) {
    m_xpt.request_rescan({*path, cam::Path::kWildcardTarget, cam::Path::kWildcardLun});
  }
}

void IscsiSim::session_down(const std::string& why, Clock::time_point now) {
  const auto path = path_id();
  // Freeze first: from here the XPT sends nothing new, and what the session held (completed
  // below with Requeue) waits in the device queues for the release.
  if (path && !m_frozen) {
    if (auto r = m_xpt.freeze_simq(*path); r) {
      m_frozen = true;
    }
  }
  std::size_t held = 0;
  std::vector<cam::Ccb*> finished;
  {
    std::lock_guard context(m_context_lock);
    {
      std::lock_guard lock(m_lock);
      if (!m_stopping) {
        m_state = SessionState::Reconnecting;
      }
      m_session = SessionState::Reconnecting;
      ++m_drops;
      m_last_error = why;
      held = m_commands.size();
    }
    destroy_context_locked(CamStatus::Requeue);
    finished = take_finished_locked();
  }
  complete_all(finished);
  log_warning("iscsi{}: session to {} dropped ({}); {} commands requeued; reconnecting",
              m_config.unit, m_url.redacted(), why, held);
  m_loss_deadline = now + m_config.loss_timeout;
  m_backoff = m_config.reconnect_min;
  m_next_attempt = now + m_backoff;
  if (m_config.loss_timeout.count() == 0) {
    enter_lost();
  }
}

void IscsiSim::enter_lost() {
  {
    std::lock_guard lock(m_lock);
    if (m_state != SessionState::Reconnecting) {
      return;
    }
    m_state = SessionState::Lost;
    m_session = SessionState::Lost;
  }
  log_warning("iscsi{}: {} not back within {} ms; its devices depart", m_config.unit,
              m_url.redacted(), m_config.loss_timeout.count());
  const auto path = path_id();
  if (!path) {
    return;
  }
  if (m_frozen) {
    // What waited fails now (SelTimeout), instead of waiting for a target that may never return.
    if (auto r = m_xpt.release_simq(*path); !r) {
      log_debug("iscsi{}: release_simq: {}", m_config.unit, r.error().message());
    }
    m_frozen = false;
  }
  // list_targets() now answers none: the rescan loses every device without a probe.
  m_xpt.request_rescan({*path, cam::Path::kWildcardTarget, cam::Path::kWildcardLun});
}

void IscsiSim::shut_down() {
  std::vector<cam::Ccb*> finished;
  {
    std::lock_guard context(m_context_lock);
    if (m_context != nullptr && m_phase == Phase::LoggedIn && !m_socket_failed) {
      // A polite Logout, briefly: the target frees the session at once instead of at its own
      // timeout.
      bool logged_out = false;
      const auto logout_done = [](iscsi_context*, int, void*, void* flag) {
        *static_cast<bool*>(flag) = true;
      };
      if (m_lib.iscsi_logout_async(m_context, logout_done, &logged_out) == 0) {
        const auto deadline = Clock::now() + kLogoutTimeout;
        while (!logged_out && Clock::now() < deadline) {
          pollfd fd{m_lib.iscsi_get_fd(m_context),
                    static_cast<short>(m_lib.iscsi_which_events(m_context)), 0};
          if (::poll(&fd, 1, poll_timeout_ms(Clock::now(), deadline)) <= 0) {
            continue;
          }
          if (m_lib.iscsi_service(m_context, fd.revents) < 0) {
            break;
          }
        }
      }
    }
    destroy_context_locked(CamStatus::DevNotThere);
    finished = take_finished_locked();
  }
  complete_all(finished);
}

}  // namespace ucam::iscsi
