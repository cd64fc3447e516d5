// The transport layer (XPT): owns buses, the device database, device queues, the completion
// path, command timeouts, retries, scanning and async event delivery.
//
// Threads (all owned here, stopped by the destructor):
//  * completion thread: runs done callbacks for CCBs that SIMs complete from their own threads
//    (CCBs completed synchronously inside Sim::action() complete on the submitting thread);
//  * event thread: delivers AsyncEvents to subscribers in order;
//  * scan thread: runs rescans requested by SIMs (request_rescan) and by users;
//  * timer thread: enforces command timeouts and delayed retries, every `timer_tick`.
//
// Locks: `m_topology` (shared) guards the bus and device tables; each device has its own lock
// for its queue and database entry. Order: m_topology -> device lock -> SIM internal locks.
// Sim::action() is always called with no XPT lock held; Sim::abort() with the device lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cam/stripes.h"
#include "cam/xpt_periph.h"
#include "cam/xpt_sim.h"

namespace ucam::cam {

struct XptConfig {
  std::chrono::milliseconds timer_tick{20};         // Timeout resolution.
  std::chrono::milliseconds busy_retry_delay{50};   // BUSY / NOT READY retry back-off.
  std::uint64_t max_sequential_luns = 8;            // LUN probe limit without REPORT LUNS.
  std::chrono::milliseconds probe_timeout{10'000};  // Per probe command.
  // For tests: every device with enough openings keeps per-thread admission credits from its
  // first CCB, not from its first contended admission (see XptDevice::credits).
  bool credits_from_first_ccb = false;
};

struct XptStats {
  std::uint64_t ccbs_started = 0;    // Accepted by action().
  std::uint64_t ccbs_completed = 0;  // Callbacks run.
  std::uint64_t retries = 0;
  std::uint64_t timeouts = 0;          // Completed with CmdTimeout by the XPT.
  std::uint64_t ccbs_outstanding = 0;  // started - completed.
  std::size_t buses = 0;
  std::size_t devices = 0;       // Configured devices.
  std::uint64_t generation = 0;  // Device table generation.
};

// Latency histogram bucket upper bounds in seconds (Prometheus "le"), fixed.
inline constexpr std::array<double, 12> kLatencyBounds = {1e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3,
                                                          5e-3, 1e-2, 5e-2, 1e-1, 1.0,  10.0};

// Per-SIM (per registered bus) SCSI I/O statistics, for metrics. Only FuncCode::ScsiIo CCBs
// count, in every field. Counters are monotonic for the life of the bus registration; a bus
// registered again gets a new path id and starts from zero. Read without a common lock, so one
// snapshot's fields may be a few CCBs apart; `ccbs` is the sum of `latency_buckets` (always
// consistent with them).
struct SimStats {
  std::uint32_t path_id = 0;
  std::string sim_name;  // PathInquiry sim name, e.g. "emu"
  std::uint32_t sim_unit = 0;
  std::uint32_t sim_bus = 0;
  // SCSI I/O CCBs completed to their submitter on this bus (after recovery, so a retried CCB
  // counts once), including those completed with DevNotThere because the path had no device.
  std::uint64_t ccbs = 0;
  std::uint64_t errors = 0;    // ... of which ended with a status other than ReqCmp
  std::uint64_t timeouts = 0;  // CCBs the XPT timed out on this bus (CmdTimeout)
  std::uint64_t retries = 0;   // Retries (attempts after the first) on this bus
  // Time from the XPT accepting the CCB (action()/run_sync) to its final completion (callback
  // about to run), retries included. NON-cumulative counts per kLatencyBounds bucket (a latency
  // equal to a bound falls in that bound's bucket); the last one is +Inf.
  std::array<std::uint64_t, kLatencyBounds.size() + 1> latency_buckets{};
  double latency_sum_seconds = 0;  // Sum of latencies.
};

struct BusInfo {
  std::uint32_t path_id = 0;
  PathInquiry inquiry;
};

class XptDevice;
struct XptBus;

class Xpt final : public XptSim, public XptPeriph {
 public:
  static std::unique_ptr<Xpt> create(XptConfig config = {});
  ~Xpt();
  Xpt(const Xpt&) = delete;
  Xpt& operator=(const Xpt&) = delete;

  // --- XptSim ---
  Result<std::uint32_t> register_bus(Sim& sim) override;
  void deregister_bus(std::uint32_t path_id) override;
  void done(Ccb& ccb) override;
  void done_direct(Ccb& ccb) override;
  void request_rescan(const Path& path) override;
  void announce(AsyncCode code, const Path& path) override;
  Result<void> freeze_simq(std::uint32_t path_id) override;
  Result<void> release_simq(std::uint32_t path_id) override;

  // --- XptPeriph ---
  void action(Ccb& ccb) override;
  void run_sync(Ccb& ccb, CancelToken* cancel = nullptr) override;
  CamStatus abort(Ccb& ccb) override;
  Result<void> freeze_devq(const Path& path) override;
  Result<void> release_devq(const Path& path) override;
  std::optional<DeviceInfo> device(const Path& path) const override;
  std::vector<DeviceInfo> devices() const override;
  // devices() one at a time: each configured device, in path order, copied under its lock and
  // given to `visit` with no lock held (visit may call into the XPT or the periphs). For a long
  // list, without a copy of every device at once.
  void for_each_device(const std::function<void(const DeviceInfo&)>& visit) const;
  // Entries in the device table, probe entries included: at least devices().size() at the
  // time, to size a buffer.
  std::size_t device_entries() const;
  Result<void> set_advinfo(const Path& path, AdvinfoType type, Bytes value) override;
  std::vector<Path> match_devid(Bytes designator, std::optional<std::uint32_t> bus) const override;
  std::uint64_t device_generation() const override;
  std::unique_ptr<Subscription> subscribe(std::uint32_t mask, const Path& filter,
                                          AsyncCallback callback) override;
  void post_async(const AsyncEvent& event) override;

  // --- Scanning (blocking; not from completions) ---
  // Scans `path` (wildcard target/LUN allowed) now, on the calling thread.
  Result<void> scan(const Path& path);
  // Scans every registered bus.
  Result<void> scan_all();

  // Waits until no rescan is queued or running and every posted event has been delivered.
  // Blocks; returns at once when called from an event callback.
  void drain();

  std::vector<BusInfo> buses() const;
  XptStats stats() const;
  // One entry per registered bus, by path id. Any thread; takes m_topology shared.
  std::vector<SimStats> sim_stats() const;
  const XptConfig& config() const { return m_config; }

 private:
  explicit Xpt(XptConfig config);
  friend class XptDevice;
  class SubscriptionImpl;
  struct Subscriber;

  std::shared_ptr<XptDevice> find_device(const Path& path) const;
  // The device `ccb` runs on: its cached one when still valid, else looked up (and cached);
  // nullptr if there is none.
  XptDevice* resolve_device(Ccb& ccb) const;
  // The table entry of `path`, created (unconfigured: a probe entry) if there is none; nullptr
  // if its bus is not registered. Takes m_topology.
  std::shared_ptr<XptDevice> find_or_create_probe_device(const Path& path);
  // The same for each of `paths` (all on bus `bus_id`), in order, taking m_topology exclusively
  // at most once.
  std::vector<std::shared_ptr<XptDevice>> find_or_create_probe_devices(std::uint32_t bus_id,
                                                                       std::span<const Path> paths);
  // Starts `ccb` in the SIM, or queues it on the device.
  void dispatch(XptDevice& device, Ccb& ccb);
  // Hands an admitted `ccb` to the SIM; afterwards links it into the device's in-SIM list (with
  // its deadline) unless it has completed.
  void start(XptDevice& device, Ccb& ccb);
  // done()'s first half: takes `ccb` back from the SIM's accounting. False if the thread that
  // started it has not linked it yet, which then completes it itself.
  bool take_back(Ccb& ccb);
  // now_ticks + timeout in latency clock ticks, saturating.
  std::uint64_t deadline_after(std::uint64_t now_ticks, std::chrono::milliseconds timeout) const;
  // Starts the CCBs waiting on `device` while its queue and its bus's SIM queue are open and it
  // has openings. Skips the lock when its mirror says nothing waits, unless `check` is Locked (a
  // release must see a CCB queued by a dispatch that raced with it).
  enum class QueueCheck : std::uint8_t { Fast, Locked };
  void run_devq(XptDevice& device, QueueCheck check = QueueCheck::Fast);
  void queue_completion(Ccb& ccb);
  void complete_now(Ccb& ccb, CamStatus status);
  void process_completion(Ccb& ccb);
  bool apply_recovery(Ccb& ccb);
  void drain_local_completions();
  void lose_device(const std::shared_ptr<XptDevice>& device);
  // Counts a ScsiIo CCB's final completion (status and latency) into `bus`'s SimStats.
  void count_completion(XptBus& bus, const Ccb& ccb) const;
  void remove_unconfigured(const Path& path);

  // Scanning internals (xpt_scan.cpp).
  Result<void> scan_target(XptBus& bus, std::uint32_t target);
  std::vector<std::uint32_t> targets_to_scan(XptBus& bus);
  Result<void> probe_lun(XptBus& bus, const Path& path, bool& present);
  void bump_generation();
  // Keeps m_devid_index in step with a device's VPD 0x83 page.
  void index_devid(const Path& path, Bytes old_page, Bytes new_page);

  void completion_thread_main();
  void event_thread_main();
  void scan_thread_main();
  void timer_thread_main();
  void check_timeouts();

  XptConfig m_config;

  mutable std::shared_mutex m_topology;
  std::map<std::uint32_t, std::shared_ptr<XptBus>> m_buses;  // Guarded by m_topology.
  std::map<Path, std::shared_ptr<XptDevice>> m_devices;      // Guarded by m_topology.
  std::uint32_t m_next_path_id = 0;                          // Guarded by m_topology.
  std::atomic<std::uint64_t> m_generation{0};
  // Designator -> paths, for match_devid (the enclosure driver matches every slot on every
  // refresh). Guarded by m_devid_lock.
  mutable std::mutex m_devid_lock;
  std::multimap<std::string, Path> m_devid_index;

  // Completion queue (CCBs completed by SIM threads). Guarded by m_done_lock.
  std::mutex m_done_lock;
  std::condition_variable m_done_cv;
  std::deque<Ccb*> m_done_queue;
  bool m_stopping = false;  // Guarded by m_done_lock (and read by every thread loop).

  // Events. Guarded by m_event_lock.
  //
  // Three condition variables, one per kind of waiter, so that no thread is woken for what
  // another waits on (with one shared by all, the event thread and a drain() waiter woke each
  // other for every event and every callback: futex traffic per LUN on a large scan):
  //  * m_event_cv: the event thread waits for work. post_async notifies it only when it is
  //    waiting (m_event_thread_waiting, cleared by the notifier, so a burst of posts wakes it
  //    once);
  //  * m_event_idle_cv: drain() waits for the queue to be empty with no event being delivered;
  //    notified when the event thread finds it so after an event;
  //  * m_unsubscribe_cv: unsubscribe() waits for its subscriber's running callback to return;
  //    notified after a callback only when someone waits (m_unsubscribe_waiters).
  std::mutex m_event_lock;
  std::condition_variable m_event_cv;
  std::condition_variable m_event_idle_cv;
  std::condition_variable m_unsubscribe_cv;
  std::deque<AsyncEvent> m_events;
  std::vector<std::shared_ptr<Subscriber>> m_subscribers;
  Subscriber* m_running_subscriber = nullptr;
  bool m_event_busy = false;
  bool m_event_thread_waiting = false;      // In m_event_cv.wait() with an empty queue.
  std::uint32_t m_unsubscribe_waiters = 0;  // Threads in m_unsubscribe_cv.wait().
  std::thread::id m_event_thread_id;

  // Rescans. Guarded by m_scan_lock.
  std::mutex m_scan_lock;
  std::condition_variable m_scan_cv;
  std::deque<Path> m_scan_requests;
  bool m_scan_busy = false;
  std::mutex m_scan_run_lock;  // Serialises scans (the scan thread and explicit scan() calls).

  // Delayed retries. Guarded by m_timer_lock.
  std::mutex m_timer_lock;
  std::condition_variable m_timer_cv;
  std::vector<std::pair<std::chrono::steady_clock::time_point, Ccb*>> m_delayed;

  // Bumped by every CCB, so striped per thread (cam/stripes.h); retries and timeouts are rare.
  StripedCounter m_started, m_completed;
  std::atomic<std::uint64_t> m_retries{0}, m_timeouts{0};
  // The latency clock (xpt.cpp), also the time base of command deadlines: which one, the
  // length of a tick, kLatencyBounds and a millisecond in ticks. Read-only after construction.
  const bool m_latency_tsc;
  const double m_seconds_per_tick;
  std::array<std::uint64_t, kLatencyBounds.size()> m_latency_bound_ticks{};
  std::uint64_t m_ticks_per_ms = 0;

  std::thread m_completion_thread, m_event_thread, m_scan_thread, m_timer_thread;
};

}  // namespace ucam::cam
