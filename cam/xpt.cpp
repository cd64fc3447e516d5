#include "cam/xpt.h"

#include <fmt/format.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "cam/cancel.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "base/check.h"
#include "base/log.h"
#include "cam/xpt_device.h"
#include "scsi/sense.h"

namespace ucam::cam {
namespace {

// Per-thread completion context. A thread that is inside action() or running completions is
// "draining": CCBs completed on it (by a SIM that finishes synchronously) go to its local list
// and run after the SIM has returned, instead of recursing or hopping to another thread.
struct LocalCompletions {
  int depth = 0;          // Nesting of action()/drain on this thread.
  bool draining = false;  // The outermost frame is running completions.
  CcbQueue queue;
  // The CCB whose Sim::action() this thread is inside (Xpt::start), and whether the SIM has
  // completed it there: then it was never linked into the device's in-SIM list.
  Ccb* acting = nullptr;
  bool acting_done = false;
};
thread_local LocalCompletions t_local;

// The latency clock: SimStats latencies and command deadlines. A CCB needs two readings (accepted,
// completed), and steady_clock::now() costs ~25 ns each, nearly doubling a TUR's ~60 ns trip
// through the XPT. Where the kernel itself keeps time with the TSC (clocksource "tsc": constant
// rate, synchronised across CPUs, so a CCB may start on one CPU and complete on another), read
// the TSC directly (~10 ns, no vDSO call, not serialising) and convert with a rate measured once
// per process; anywhere else use steady_clock in nanoseconds. A deadline needs a third reading,
// taken only for a CCB the SIM still holds when its action() returns (Xpt::start).
struct LatencyClock {
  bool tsc = false;
  double seconds_per_tick = 1e-9;
};

#if defined(__x86_64__)
bool kernel_keeps_time_with_tsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return f >> name && name == "tsc";
}

// A (steady_clock, TSC) pair read as close together as we can manage: the tightest of a few
// tries, so a preemption between the two reads cannot skew the rate.
std::pair<std::chrono::steady_clock::time_point, std::uint64_t> clock_pair() {
  std::pair<std::chrono::steady_clock::time_point, std::uint64_t> best{};
  std::uint64_t best_gap = std::numeric_limits<std::uint64_t>::max();
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t before = __rdtsc();
    const auto now = std::chrono::steady_clock::now();
    const std::uint64_t after = __rdtsc();
    if (after >= before && after - before < best_gap) {
      best_gap = after - before;
      best = {now, before + (after - before) / 2};
    }
  }
  return best;
}
#endif

LatencyClock measure_latency_clock() {
  LatencyClock clock;
#if defined(__x86_64__)
  if (kernel_keeps_time_with_tsc()) {
    const auto [t0, c0] = clock_pair();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // ~1e-5 relative error.
    const auto [t1, c1] = clock_pair();
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    if (c1 > c0 && seconds > 0) {
      clock.tsc = true;
      clock.seconds_per_tick = seconds / static_cast<double>(c1 - c0);
    }
  }
#endif
  return clock;
}

// A property of the machine, not state: measured once per process (the first Xpt pays ~5 ms)
// and copied into each Xpt.
const LatencyClock& latency_clock() {
  static const LatencyClock clock = measure_latency_clock();
  return clock;
}

std::uint64_t latency_ticks([[maybe_unused]] bool tsc) {
#if defined(__x86_64__)
  if (tsc) {
    return __rdtsc();
  }
#endif
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

XptDevice& device_of(Ccb& ccb) {
  return *static_cast<XptDevice*>(ccb.xpt_priv.device.get());
}

enum class RetryKind : std::uint8_t { None, Now, Later };

RetryKind classify(const Ccb& ccb, SenseCode& sense, bool& unit_attention) {
  unit_attention = false;
  switch (ccb.status) {
    case CamStatus::Requeue:
    case CamStatus::ScsiBusReset:
    case CamStatus::BdrSent:
    case CamStatus::UncorParity:
    case CamStatus::UnexpBusfree:
      return RetryKind::Now;
    case CamStatus::Busy:
    case CamStatus::ScsiBusy:
    case CamStatus::ResrcUnavail:
      return RetryKind::Later;
    case CamStatus::ScsiStatusError:
      break;
    default:
      return RetryKind::None;
  }
  if (ccb.scsi_status == ScsiStatus::Busy || ccb.scsi_status == ScsiStatus::TaskSetFull) {
    return RetryKind::Later;
  }
  if (ccb.scsi_status != ScsiStatus::CheckCondition || (ccb.flags & kCcbAutosenseValid) == 0) {
    return RetryKind::None;
  }
  // Only the key, ASC and ASCQ matter here (scsi/sense.h decodes the rest).
  const auto code = scsi::sense_code(Bytes(ccb.sense_data.data(), ccb.sense_len));
  if (!code) {
    return RetryKind::None;
  }
  sense = *code;
  switch (static_cast<scsi::SenseKey>(sense.key)) {
    case scsi::SenseKey::UnitAttention:
      unit_attention = true;
      return RetryKind::Now;
    case scsi::SenseKey::AbortedCommand:
      return RetryKind::Now;
    case scsi::SenseKey::NotReady:  // Only "becoming ready" is worth waiting for.
      return sense == scsi::kBecomingReady ? RetryKind::Later : RetryKind::None;
    default:
      return RetryKind::None;
  }
}

// What run_sync() sleeps on until its CCB's callback runs: one futex word, without a mutex.
// With a mutex and a condition variable the callback had to notify under the lock (else the
// waiter could return and free them first), and a waiter woken on the other CPU then blocked
// again on that lock: four futex calls per synchronous command whose completion comes from
// another thread, instead of two. Here the completing thread touches the waiter only through
// the atomic exchange; the wake that may follow passes the word's address to the kernel as a
// key and never dereferences it, so the waiter may return (and its stack frame go) as soon as
// it sees the word set. A wake that finds the address reused is a spurious wake-up, which every
// futex waiter tolerates. No syscall at all when the callback runs before the wait (a SIM that
// completes inside action()).
class SyncWaiter {
 public:
  void post() {
    std::atomic<std::uint32_t>* word = &m_word;  // Computed before the exchange frees us.
    if (word->exchange(kDone, std::memory_order_acq_rel) == kSleeping) {
      ::syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }
  void wait() {
    std::uint32_t state = m_word.load(std::memory_order_acquire);
    while (state != kDone) {
      if (state == kIdle &&
          !m_word.compare_exchange_strong(state, kSleeping, std::memory_order_acq_rel)) {
        continue;  // Posted meanwhile: `state` now says so.
      }
      ::syscall(SYS_futex, &m_word, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
      state = m_word.load(std::memory_order_acquire);
    }
  }

 private:
  static constexpr std::uint32_t kIdle = 0, kSleeping = 1, kDone = 2;
  std::atomic<std::uint32_t> m_word{kIdle};
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction

Xpt::Xpt(XptConfig config)
    : m_config(config),
      m_latency_tsc(latency_clock().tsc),
      m_seconds_per_tick(latency_clock().seconds_per_tick) {
  // Positive values rounded to the nearest tick (not std::llround: nothing else here needs libm).
  auto ticks = [this](double seconds) {
    return static_cast<std::uint64_t>(seconds / m_seconds_per_tick + 0.5);
  };
  m_ticks_per_ms = std::max<std::uint64_t>(1, ticks(1e-3));
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    m_latency_bound_ticks[i] = ticks(kLatencyBounds[i]);
  }
}

std::unique_ptr<Xpt> Xpt::create(XptConfig config) {
  std::unique_ptr<Xpt> xpt(new Xpt(config));
  xpt->m_completion_thread = std::thread([p = xpt.get()] { p->completion_thread_main(); });
  xpt->m_event_thread = std::thread([p = xpt.get()] { p->event_thread_main(); });
  // Written before any other thread can see the Xpt; read-only afterwards.
  xpt->m_event_thread_id = xpt->m_event_thread.get_id();
  xpt->m_scan_thread = std::thread([p = xpt.get()] { p->scan_thread_main(); });
  xpt->m_timer_thread = std::thread([p = xpt.get()] { p->timer_thread_main(); });
  return xpt;
}

Xpt::~Xpt() {
  // Buses should have been deregistered by their SIMs; drain what is left, then stop threads.
  drain();
  {
    // CCBs may outlive this XPT holding one of its devices (xpt_priv.device): mark what is left
    // gone, so that no other XPT built at this address later takes them for its own.
    std::shared_lock lock(m_topology);
    for (const auto& [path, device] : m_devices) {
      device->gone.store(true, std::memory_order_release);
    }
  }
  {
    std::scoped_lock lock(m_done_lock, m_event_lock, m_scan_lock, m_timer_lock);
    m_stopping = true;
  }
  m_done_cv.notify_all();
  m_event_cv.notify_all();
  m_scan_cv.notify_all();
  m_timer_cv.notify_all();
  m_scan_thread.join();
  m_timer_thread.join();
  m_completion_thread.join();
  m_event_thread.join();
}

// ---------------------------------------------------------------------------------------------
// Buses

Result<std::uint32_t> Xpt::register_bus(Sim& sim) {
  auto bus = std::make_shared<XptBus>();
  bus->sim = &sim;
  bus->inquiry = sim.path_inquiry();
  {
    std::unique_lock lock(m_topology);
    bus->path_id = m_next_path_id++;
    m_buses.emplace(bus->path_id, bus);
  }
  bump_generation();
  log_info("scbus{} on {}{} bus {}", bus->path_id, bus->inquiry.sim_name, bus->inquiry.unit,
           bus->inquiry.bus);
  post_async(
      {AsyncCode::PathRegistered, {bus->path_id, Path::kWildcardTarget, Path::kWildcardLun}});
  return bus->path_id;
}

void Xpt::deregister_bus(std::uint32_t path_id) {
  assert_may_block("deregister_bus");
  std::shared_ptr<XptBus> bus;
  std::vector<std::shared_ptr<XptDevice>> devices;
  {
    std::unique_lock lock(m_topology);
    auto it = m_buses.find(path_id);
    if (it == m_buses.end()) {
      return;
    }
    bus = it->second;
    bus->valid = false;
    m_buses.erase(it);
    for (auto d = m_devices.lower_bound(Path{path_id, 0, 0});
         d != m_devices.end() && d->first.bus == path_id;) {
      devices.push_back(d->second);
      d = m_devices.erase(d);
    }
  }
  for (auto& device : devices) {
    lose_device(device);
  }
  // Wait until the SIM has handed back every CCB: after this the SIM may be destroyed.
  for (auto& device : devices) {
    std::unique_lock lock(device->lock);
    device->begin_idle_wait();
    device->idle_cv.wait(lock, [&] { return device->admitted() == 0; });
    device->end_idle_wait();
  }
  bump_generation();
  post_async({AsyncCode::PathDeregistered, {path_id, Path::kWildcardTarget, Path::kWildcardLun}});
}

std::vector<BusInfo> Xpt::buses() const {
  std::shared_lock lock(m_topology);
  std::vector<BusInfo> out;
  for (const auto& [id, bus] : m_buses) {
    out.push_back({id, bus->inquiry});
  }
  return out;
}

void Xpt::announce(AsyncCode code, const Path& path) {
  post_async({code, path});
}

Result<void> Xpt::freeze_simq(std::uint32_t path_id) {
  std::shared_lock lock(m_topology);
  auto it = m_buses.find(path_id);
  if (it == m_buses.end()) {
    return fail_errno(ENXIO, fmt::format("scbus{}: no such bus", path_id));
  }
  it->second->simq_freeze_count.fetch_add(1, std::memory_order_seq_cst);
  return {};
}

Result<void> Xpt::release_simq(std::uint32_t path_id) {
  std::vector<std::shared_ptr<XptDevice>> devices;
  {
    std::shared_lock lock(m_topology);
    auto it = m_buses.find(path_id);
    if (it == m_buses.end()) {
      return fail_errno(ENXIO, fmt::format("scbus{}: no such bus", path_id));
    }
    auto& count = it->second->simq_freeze_count;
    std::uint32_t n = count.load(std::memory_order_seq_cst);
    do {
      if (n == 0) {
        return fail_errno(EINVAL, fmt::format("scbus{}: SIM queue is not frozen", path_id));
      }
    } while (!count.compare_exchange_weak(n, n - 1, std::memory_order_seq_cst));
    if (n > 1) {
      return {};  // Still frozen by someone else.
    }
    for (auto d = m_devices.lower_bound(Path{path_id, 0, 0});
         d != m_devices.end() && d->first.bus == path_id; ++d) {
      devices.push_back(d->second);
    }
  }
  // Each queue is checked under its lock: a dispatch that saw the freeze may have queued a CCB
  // after we dropped the count (its mirror count may not be visible to us yet).
  ++t_local.depth;
  for (auto& device : devices) {
    run_devq(*device, QueueCheck::Locked);
  }
  --t_local.depth;
  if (t_local.depth == 0 && !t_local.draining) {
    drain_local_completions();
  }
  return {};
}

std::uint64_t Xpt::device_generation() const {
  return m_generation.load(std::memory_order_acquire);
}

void Xpt::bump_generation() {
  // Release: whoever reads the new value sees the change it follows (a change to the devid
  // index is also ordered by m_devid_lock, which match_devid takes).
  m_generation.fetch_add(1, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------
// Devices

// A CCB keeps the device it last ran on (xpt_priv.device) after it completes. Drivers reuse
// their CCBs on one path, so the next action() usually finds its device there, and skips the
// topology lock, the map lookup and the reference count, which cost more than the rest of a
// TEST UNIT READY's trip together. The cached device is used only if it is this XPT's, for the
// same path, and not lost: a lost device is never found again (it left m_devices first), and
// whatever replaces it at that path is a new object, found by the lookup. A device lost after
// this check is seen by dispatch(), as for a looked-up one: its admission word is closed.
XptDevice* Xpt::resolve_device(Ccb& ccb) const {
  if (const auto& held = ccb.xpt_priv.device) {
    auto* device = static_cast<XptDevice*>(held.get());
    if (!device->gone.load(std::memory_order_acquire) && &device->xpt == this &&
        device->path == ccb.path) {
      return device;
    }
  }
  ccb.xpt_priv.device = find_device(ccb.path);
  return static_cast<XptDevice*>(ccb.xpt_priv.device.get());
}

std::shared_ptr<XptDevice> Xpt::find_device(const Path& path) const {
  std::shared_lock lock(m_topology);
  auto it = m_devices.find(path);
  return it == m_devices.end() ? nullptr : it->second;
}

std::shared_ptr<XptDevice> Xpt::find_or_create_probe_device(const Path& path) {
  return std::move(find_or_create_probe_devices(path.bus, {&path, 1}).front());
}

// Looked up under the shared topology lock, built with no lock, and inserted under one
// exclusive acquisition, so that readers (the event thread attaching periphs, the timer) wait
// only for the insertions, not for the allocations, and a scan takes the lock exclusively once
// per target rather than once per LUN. The shared lock is enough to read the SIM's maxio:
// deregister_bus() takes the lock exclusively, so the SIM cannot be destroyed meanwhile.
// Between the two locks another thread may insert one of the paths (scans are serialised by
// m_scan_run_lock, but not every caller is a scan), or the bus may go: the insertion re-checks
// both, and keeps the entry already there.
std::vector<std::shared_ptr<XptDevice>> Xpt::find_or_create_probe_devices(
    std::uint32_t bus_id, std::span<const Path> paths) {
  std::vector<std::shared_ptr<XptDevice>> out(paths.size());
  std::shared_ptr<XptBus> bus;
  std::uint32_t maxio = 0;
  {
    std::shared_lock lock(m_topology);
    auto b = m_buses.find(bus_id);
    if (b == m_buses.end()) {
      return out;
    }
    bool missing = false;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      auto it = m_devices.find(paths[i]);
      if (it != m_devices.end()) {
        out[i] = it->second;
      } else {
        missing = true;
      }
    }
    if (!missing) {
      return out;
    }
    bus = b->second;
    // maxio is read again for new entries (as FreeBSD's periphs issue XPT_PATH_INQ when they
    // attach): a SIM's limit may have shrunk since registration.
    maxio = bus->sim->path_inquiry().maxio;
  }
  const PathInquiry& inquiry = bus->inquiry;  // Immutable after registration.
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (out[i]) {
      continue;
    }
    auto device =
        std::make_shared<XptDevice>(*this, bus, paths[i], inquiry.device_queue_depth, maxio);
    device->info.path = paths[i];
    device->info.sim_name = inquiry.sim_name;
    device->info.sim_unit = inquiry.unit;
    device->info.sim_bus = inquiry.bus;
    device->info.maxio = maxio;
    device->info.queue_depth = inquiry.device_queue_depth;
    out[i] = std::move(device);
  }
  std::unique_lock lock(m_topology);
  auto b = m_buses.find(bus_id);
  if (b == m_buses.end() || b->second != bus) {
    return std::vector<std::shared_ptr<XptDevice>>(paths.size());  // Deregistered meanwhile.
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    out[i] = m_devices.emplace(paths[i], out[i]).first->second;  // Or the one found there.
  }
  return out;
}

void Xpt::remove_unconfigured(const Path& path) {
  std::shared_ptr<XptDevice> device;
  {
    std::unique_lock lock(m_topology);
    auto it = m_devices.find(path);
    if (it == m_devices.end()) {
      return;
    }
    {
      std::lock_guard dlock(it->second->lock);
      if (it->second->configured) {
        return;
      }
    }
    device = it->second;
    m_devices.erase(it);
  }
  lose_device(device);
}

// Marks `device` lost: pending CCBs complete with DevNotThere, CCBs inside the SIM are aborted
// (those the SIM is already completing finish normally). The caller has removed it from
// m_devices; the object lives on while CCBs or snapshots reference it.
void Xpt::lose_device(const std::shared_ptr<XptDevice>& device) {
  std::vector<Ccb*> finished;
  bool was_configured = false;
  std::vector<std::uint8_t> devid;
  {
    std::lock_guard lock(device->lock);
    if (device->invalid) {
      return;
    }
    device->invalid = true;
    device->gone.store(true, std::memory_order_release);
    device->update_gate();
    was_configured = device->configured;
    if (was_configured) {
      devid = device->info.devid;
    }
    device->configured = false;
    while (Ccb* c = device->pending.pop()) {
      set_state(*c, CcbXptPrivate::State::Completing);
      finished.push_back(c);
    }
    device->pending_count.store(0, std::memory_order_seq_cst);
    for (Ccb* c = device->in_sim.head(); c != nullptr;) {
      Ccb* next = c->xpt_priv.next;
      if (device->bus->sim->abort(*c)) {
        device->leave_sim(*c);
        finished.push_back(c);
      }
      c = next;
    }
  }
  for (Ccb* c : finished) {
    complete_now(*c, CamStatus::DevNotThere);
  }
  if (was_configured) {
    index_devid(device->path, devid, {});
    bump_generation();
    log_info("{}: device lost", device->path);
    post_async({AsyncCode::LostDevice, device->path});
  }
}

std::optional<DeviceInfo> Xpt::device(const Path& path) const {
  auto d = find_device(path);
  if (!d) {
    return std::nullopt;
  }
  std::lock_guard lock(d->lock);
  if (!d->configured) {
    return std::nullopt;
  }
  return d->info;
}

std::vector<DeviceInfo> Xpt::devices() const {
  std::vector<DeviceInfo> out;
  for_each_device([&](const DeviceInfo& info) { out.push_back(info); });
  return out;
}

std::size_t Xpt::device_entries() const {
  std::shared_lock lock(m_topology);
  return m_devices.size();
}

void Xpt::for_each_device(const std::function<void(const DeviceInfo&)>& visit) const {
  std::vector<std::shared_ptr<XptDevice>> all;
  {
    std::shared_lock lock(m_topology);
    all.reserve(m_devices.size());
    for (const auto& [path, d] : m_devices) {
      all.push_back(d);
    }
  }
  for (auto& d : all) {
    std::optional<DeviceInfo> info;
    {
      std::lock_guard lock(d->lock);
      if (d->configured) {
        info = d->info;
      }
    }
    if (info) {
      visit(*info);
    }
  }
}

Result<void> Xpt::set_advinfo(const Path& path, AdvinfoType type, Bytes value) {
  auto d = find_device(path);
  if (!d) {
    return fail_errno(ENXIO, to_string(path) + ": no such device");
  }
  {
    std::lock_guard lock(d->lock);
    if (!d->configured) {
      return fail_errno(ENXIO, to_string(path) + ": no such device");
    }
    auto it = d->info.advinfo.find(type);
    const bool had = it != d->info.advinfo.end();
    if (value.empty()) {
      if (!had) {
        return {};
      }
      d->info.advinfo.erase(it);
    } else {
      if (had && std::equal(it->second.begin(), it->second.end(), value.begin(), value.end())) {
        return {};
      }
      d->info.advinfo[type].assign(value.begin(), value.end());
    }
    ++d->info.generation;
  }
  AsyncEvent event{AsyncCode::AdvinfoChanged, path};
  event.advinfo = type;
  post_async(event);
  return {};
}

namespace {

// Index key of one designation descriptor: what FreeBSD's scsi_devid_match compares
// (association + designator type, length, identifier bytes; PIV, protocol and code set ignored).
std::string devid_key(std::uint8_t assoc_type, Bytes id) {
  std::string key;
  key.reserve(2 + id.size());
  key += static_cast<char>(assoc_type & 0x3f);
  key += static_cast<char>(id.size());
  key.append(reinterpret_cast<const char*>(id.data()), id.size());
  return key;
}

std::vector<std::string> devid_keys(Bytes page) {
  std::vector<std::string> keys;
  if (page.size() < 4) {
    return keys;
  }
  const std::size_t end = std::min<std::size_t>(page.size(), 4U + load_be16(page, 2));
  for (std::size_t off = 4; off + 4 <= end;) {
    const std::size_t len = page[off + 3];
    if (off + 4 + len > end) {
      break;
    }
    keys.push_back(devid_key(page[off + 1], page.subspan(off + 4, len)));
    off += 4 + len;
  }
  return keys;
}

}  // namespace

void Xpt::index_devid(const Path& path, Bytes old_page, Bytes new_page) {
  std::lock_guard lock(m_devid_lock);
  for (const auto& key : devid_keys(old_page)) {
    auto [first, last] = m_devid_index.equal_range(key);
    for (auto it = first; it != last; ++it) {
      if (it->second == path) {
        m_devid_index.erase(it);
        break;
      }
    }
  }
  for (const auto& key : devid_keys(new_page)) {
    m_devid_index.emplace(key, path);
  }
}

std::vector<Path> Xpt::match_devid(Bytes designator, std::optional<std::uint32_t> bus) const {
  std::vector<Path> out;
  if (designator.size() < 4 || designator.size() < 4U + designator[3]) {
    return out;
  }
  const auto key = devid_key(designator[1], designator.subspan(4, designator[3]));
  std::lock_guard lock(m_devid_lock);
  auto [first, last] = m_devid_index.equal_range(key);
  for (auto it = first; it != last; ++it) {
    if ((!bus || it->second.bus == *bus) &&
        std::find(out.begin(), out.end(), it->second) == out.end()) {
      out.push_back(it->second);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> Xpt::freeze_devq(const Path& path) {
  auto d = find_device(path);
  if (!d) {
    return fail_errno(ENXIO, to_string(path) + ": no such device");
  }
  std::lock_guard lock(d->lock);
  ++d->freeze_count;
  d->update_gate();
  return {};
}

Result<void> Xpt::release_devq(const Path& path) {
  auto d = find_device(path);
  if (!d) {
    return fail_errno(ENXIO, to_string(path) + ": no such device");
  }
  {
    std::lock_guard lock(d->lock);
    if (d->freeze_count == 0) {
      return fail_errno(EINVAL, to_string(path) + ": device queue is not frozen");
    }
    --d->freeze_count;
    d->update_gate();
  }
  ++t_local.depth;
  run_devq(*d);
  --t_local.depth;
  if (t_local.depth == 0 && !t_local.draining) {
    drain_local_completions();
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// The CCB path

void Xpt::action(Ccb& ccb) {
  m_started.add();
  ccb.xpt_priv.start_ticks = latency_ticks(m_latency_tsc);
  ccb.reset_result();
  ccb.xpt_priv.retries_left = ccb.retry_count;
  ++t_local.depth;
  if (ccb.func == FuncCode::Noop) {
    ccb.xpt_priv.device.reset();  // Its completion must not be taken for another XPT's.
    m_completed.add();            // Here, see process_completion().
    complete_now(ccb, CamStatus::ReqCmp);
  } else if (XptDevice* device = resolve_device(ccb)) {
    XptDevice& d = *device;
    const std::uint32_t maxio = d.maxio;
    if (maxio != 0 && ccb.dxfer_len > maxio && ccb.func == FuncCode::ScsiIo) {
      // Never sent: the SIM could not carry it (xpt_action's CAM_REQ_TOO_BIG).
      log_debug("{}: {}-byte transfer exceeds the device's maxio {}", to_string(ccb.path),
                ccb.dxfer_len, maxio);
      complete_now(ccb, CamStatus::ReqTooBig);
    } else {
      dispatch(d, ccb);
    }
  } else {
    m_completed.add();  // Here, see process_completion().
    complete_now(ccb, CamStatus::DevNotThere);
    if (ccb.func == FuncCode::ScsiIo) {
      // No device to hold the bus until the completion runs: count it now (its outcome is
      // final, DevNotThere is never retried), if the path names a registered bus.
      std::shared_ptr<XptBus> bus;
      {
        std::shared_lock lock(m_topology);
        if (auto it = m_buses.find(ccb.path.bus); it != m_buses.end()) {
          bus = it->second;
        }
      }
      if (bus) {
        count_completion(*bus, ccb);
      }
    }
  }
  --t_local.depth;
  if (t_local.depth == 0 && !t_local.draining) {
    drain_local_completions();
  }
}

// The fast path admits with no lock, from this thread's admission credit or with one
// compare-and-swap on the device's gate (XptDevice::try_admit_fast): the gate is open (not
// frozen, not lost, nothing pending), the SIM queue is not frozen, and there is an opening.
// Anything else takes the device lock and queues or completes as before.
void Xpt::dispatch(XptDevice& device, Ccb& ccb) {
  if (device.bus->simq_freeze_count.load(std::memory_order_seq_cst) == 0 &&
      device.try_admit_fast(m_config.credits_from_first_ccb)) {
    start(device, ccb);
    return;
  }
  enum class Next : std::uint8_t { Lost, Start, Queued, RunQueue } next = Next::Lost;
  {
    std::lock_guard lock(device.lock);
    if (device.invalid) {
      next = Next::Lost;  // Completed below, outside the lock.
    } else if (!device.frozen() && device.pending.empty() && device.try_admit_locked()) {
      next = Next::Start;
    } else {
      // Behind whatever already waits, so a released queue starts CCBs in arrival order.
      set_state(ccb, CcbXptPrivate::State::Queued);
      device.pending.push(ccb);
      device.pending_count.fetch_add(1, std::memory_order_seq_cst);
      device.update_gate();
      // A completion hands back its admission without the lock and then looks for pending
      // CCBs: it wrote the count before reading pending_count, we wrote pending_count before
      // reading the count (all seq_cst), so at least one of us sees the other and runs the
      // queue.
      next =
          !device.frozen() && device.admitted() < device.openings ? Next::RunQueue : Next::Queued;
    }
  }
  switch (next) {
    case Next::Lost:
      complete_now(ccb, CamStatus::DevNotThere);
      return;
    case Next::Start:
      start(device, ccb);
      return;
    case Next::RunQueue:
      // A queue that is open but not empty (a release raced with us): start it in order.
      run_devq(device, QueueCheck::Locked);
      return;
    case Next::Queued:
      return;
  }
}

void Xpt::start(XptDevice& device, Ccb& ccb) {
  set_state(ccb, CcbXptPrivate::State::InSim);
  sim_link(ccb).store(kUnlinked, std::memory_order_relaxed);  // The SIM has not seen it yet.
  Ccb* const outer = t_local.acting;
  const bool outer_done = t_local.acting_done;
  t_local.acting = &ccb;
  t_local.acting_done = false;
  device.bus->sim->action(ccb);  // No lock held.
  const bool done_inside = t_local.acting_done;
  t_local.acting = outer;
  t_local.acting_done = outer_done;
  if (done_inside) {
    return;  // Completed inside action(): queued on this thread, never linked.
  }
  // The SIM still holds it, or another thread completed it meanwhile (DoneEarly: then that
  // thread left it to us and we complete it). Until its completion runs, which only we or a
  // later done() can queue, the CCB stays valid.
  bool lost = false;
  bool done_early = false;
  {
    std::lock_guard lock(device.lock);
    std::uint8_t link = kUnlinked;
    if (sim_link(ccb).compare_exchange_strong(link, kLinked, std::memory_order_acq_rel)) {
      ccb.xpt_priv.deadline_ticks = deadline_after(latency_ticks(m_latency_tsc), ccb.timeout);
      device.in_sim.link(ccb);
      // Lost while in action(): lose_device() could not see it; abort it as it would have.
      if (device.invalid && device.bus->sim->abort(ccb)) {
        device.leave_sim(ccb);
        lost = true;
      }
    } else {
      done_early = true;
    }
  }
  if (lost) {
    complete_now(ccb, CamStatus::DevNotThere);
  } else if (done_early) {
    device.leave_sim_unlinked(ccb);
    queue_completion(ccb);
  }
}

void Xpt::run_devq(XptDevice& device, QueueCheck check) {
  if (check == QueueCheck::Fast && device.pending_count.load(std::memory_order_seq_cst) == 0) {
    return;  // The common case: nothing waits, no lock needed.
  }
  for (;;) {
    Ccb* next = nullptr;
    {
      std::lock_guard lock(device.lock);
      if (device.invalid || device.frozen() || device.pending.empty() ||
          !device.try_admit_locked()) {
        return;
      }
      next = device.pending.pop();
      device.pending_count.fetch_sub(1, std::memory_order_seq_cst);
      device.update_gate();
    }
    start(device, *next);
  }
}

CamStatus Xpt::abort(Ccb& ccb) {
  // ccb.path is immutable while the CCB is in flight; xpt_priv.device is not ours to read here.
  auto found = find_device(ccb.path);
  if (!found) {
    return CamStatus::UaAbort;
  }
  XptDevice& device = *found;
  bool aborted = false;
  {
    std::lock_guard lock(device.lock);
    const auto state = state_of(ccb);
    if (state == CcbXptPrivate::State::Queued && device.pending.remove(ccb)) {
      device.pending_count.fetch_sub(1, std::memory_order_seq_cst);
      device.update_gate();
      aborted = true;
    } else if (state == CcbXptPrivate::State::InSim &&
               sim_link(ccb).load(std::memory_order_acquire) == kLinked &&
               device.bus->sim->abort(ccb)) {
      // Only a linked CCB: one still inside (or just out of) the SIM's action() cannot be
      // aborted yet; run_sync() aborts again after action() returns if it was cancelled.
      device.leave_sim(ccb);
      aborted = true;
    }
  }
  if (!aborted) {
    return CamStatus::UaAbort;
  }
  ++t_local.depth;
  complete_now(ccb, CamStatus::ReqAborted);
  --t_local.depth;
  if (t_local.depth == 0 && !t_local.draining) {
    drain_local_completions();
  }
  return CamStatus::ReqCmp;
}

bool Xpt::take_back(Ccb& ccb) {
  XptDevice& device = device_of(ccb);
  if (t_local.acting == &ccb) {
    // Inside the action() that started it, on this thread: never linked, so no lock.
    t_local.acting_done = true;
    device.leave_sim_unlinked(ccb);
    return true;
  }
  std::uint8_t link = kUnlinked;
  if (sim_link(ccb).compare_exchange_strong(link, kDoneEarly, std::memory_order_acq_rel)) {
    return false;  // Its dispatching thread has not linked it yet: it completes it (start()).
  }
  std::lock_guard lock(device.lock);
  device.leave_sim(ccb);
  return true;
}

void Xpt::done(Ccb& ccb) {
  if (take_back(ccb)) {
    queue_completion(ccb);
  }
}

void Xpt::done_direct(Ccb& ccb) {
  if (!take_back(ccb)) {
    return;
  }
  if (t_local.depth > 0 || t_local.draining) {
    t_local.queue.push(ccb);  // Inside action() or a callback: runs when that frame unwinds.
    return;
  }
  // What the completion thread does for one CCB, here.
  t_local.draining = true;
  process_completion(ccb);
  drain_local_completions();
}

void Xpt::complete_now(Ccb& ccb, CamStatus status) {
  ccb.complete_status(status);  // Callers already marked it Completing where abort() can see it.
  queue_completion(ccb);
}

void Xpt::queue_completion(Ccb& ccb) {
  if (t_local.depth > 0 || t_local.draining) {
    t_local.queue.push(ccb);
    return;
  }
  {
    std::lock_guard lock(m_done_lock);
    m_done_queue.push_back(&ccb);
  }
  m_done_cv.notify_one();
}

void Xpt::drain_local_completions() {
  t_local.draining = true;
  while (Ccb* c = t_local.queue.pop()) {
    // Each CCB records its own XPT: several may share a thread.
    Xpt* owner = c->xpt_priv.device ? &device_of(*c).xpt : this;
    owner->process_completion(*c);
  }
  t_local.draining = false;
}

void Xpt::process_completion(Ccb& ccb) {
  NoBlockScope no_block;
  if (ccb.xpt_priv.device) {
    XptDevice& device = device_of(ccb);
    if (apply_recovery(ccb)) {
      return;
    }
    // Final outcome: count it before run_devq(), which may run the next CCB to completion
    // inside a synchronous SIM, so that time is not added to this one's latency. The device
    // (held by the CCB) holds the bus.
    if (ccb.func == FuncCode::ScsiIo) {
      count_completion(*device.bus, ccb);
    }
    run_devq(device);
    // A CCB without a device was counted by action(), on its own XPT: its completion may run
    // on another XPT's thread (drain_local_completions() cannot tell whose it is), and a
    // count there would make that XPT's timer believe its own CCBs had all completed.
    m_completed.add();
  }
  // xpt_priv.device stays: the next action() of this CCB on the same path reuses it
  // (resolve_device()).
  set_state(ccb, CcbXptPrivate::State::Done);
  // After this call the CCB belongs to its submitter again; do not touch it.
  if (ccb.done != nullptr) {
    ccb.done(ccb, ccb.done_arg);
  }
}

std::uint64_t Xpt::deadline_after(std::uint64_t now_ticks,
                                  std::chrono::milliseconds timeout) const {
  if (timeout.count() <= 0) {
    return now_ticks;
  }
  const auto ms = static_cast<std::uint64_t>(timeout.count());
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  if (ms > (max - now_ticks) / m_ticks_per_ms) {
    return max;  // Effectively never.
  }
  return now_ticks + ms * m_ticks_per_ms;
}

void Xpt::count_completion(XptBus& bus, const Ccb& ccb) const {
  const std::uint64_t now = latency_ticks(m_latency_tsc);
  const std::uint64_t start = ccb.xpt_priv.start_ticks;
  const std::uint64_t elapsed = now > start ? now - start : 0;
  std::size_t bucket = 0;
  while (bucket < m_latency_bound_ticks.size() && elapsed > m_latency_bound_ticks[bucket]) {
    ++bucket;
  }
  XptBusStats::Completions& mine = bus.stats.completions.mine();
  mine.latency_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  mine.latency_sum_ticks.fetch_add(elapsed, std::memory_order_relaxed);
  if (ccb.status != CamStatus::ReqCmp) {
    mine.errors.fetch_add(1, std::memory_order_relaxed);
  }
}

// Returns true if the CCB was requeued for another attempt.
bool Xpt::apply_recovery(Ccb& ccb) {
  if (ccb.recovery == Recovery::None || ccb.status == CamStatus::ReqCmp) {
    return false;
  }
  SenseCode sense;
  bool unit_attention = false;
  const RetryKind kind = classify(ccb, sense, unit_attention);
  if (unit_attention) {
    AsyncEvent event{AsyncCode::UnitAttention, ccb.path};
    event.sense_key = sense.key;
    event.asc = sense.asc;
    event.ascq = sense.ascq;
    post_async(event);
  }
  if (kind == RetryKind::None || ccb.xpt_priv.retries_left == 0) {
    return false;
  }
  --ccb.xpt_priv.retries_left;
  m_retries.fetch_add(1, std::memory_order_relaxed);
  if (ccb.func == FuncCode::ScsiIo) {
    device_of(ccb).bus->stats.retries.fetch_add(1, std::memory_order_relaxed);
  }
  ccb.reset_result();
  if (kind == RetryKind::Later) {
    // Its opening stays free until the retry: start what waits for one now, not when the retry
    // is due. The timer may retry the CCB (which may then complete and be freed) as soon as it
    // is queued, so hold its device first.
    const std::shared_ptr<void> device = ccb.xpt_priv.device;
    {
      std::lock_guard lock(m_timer_lock);
      m_delayed.emplace_back(std::chrono::steady_clock::now() + m_config.busy_retry_delay, &ccb);
    }
    m_timer_cv.notify_one();
    run_devq(*static_cast<XptDevice*>(device.get()));
    return true;
  }
  dispatch(device_of(ccb), ccb);
  return true;
}

void CancelToken::cancel() {
  std::lock_guard lock(m_lock);
  m_cancelled = true;
  for (Ccb* ccb : m_ccbs) {
    // A waiter cannot disarm (and so return and free its CCB) while we hold the lock. abort()
    // of a CCB that already completed, or is between retries, does nothing.
    (void)m_xpt->abort(*ccb);
  }
  for (Watch* w : m_watches) {
    w->m_wake();
  }
}

void Xpt::run_sync(Ccb& ccb, CancelToken* cancel) {
  assert_may_block("Xpt::run_sync");
  SyncWaiter waiter;
  ccb.done = [](Ccb&, void* arg) { static_cast<SyncWaiter*>(arg)->post(); };
  ccb.done_arg = &waiter;
  if (cancel != nullptr && !cancel->arm(*this, ccb)) {
    cancel->disarm(ccb);
    ccb.complete_status(CamStatus::ReqAborted);  // Cancelled before it started: never sent.
    return;
  }
  action(ccb);
  if (cancel != nullptr && cancel->cancelled()) {
    (void)abort(ccb);  // cancel() ran between arm() and action(), when there was nothing to abort.
  }
  waiter.wait();
  if (cancel != nullptr) {
    cancel->disarm(ccb);
  }
}

// ---------------------------------------------------------------------------------------------
// Threads

void Xpt::completion_thread_main() {
  std::unique_lock lock(m_done_lock);
  for (;;) {
    m_done_cv.wait(lock, [&] { return m_stopping || !m_done_queue.empty(); });
    if (m_done_queue.empty()) {
      return;  // Stopping and drained.
    }
    Ccb* ccb = m_done_queue.front();
    m_done_queue.pop_front();
    lock.unlock();
    t_local.draining = true;
    process_completion(*ccb);
    drain_local_completions();
    lock.lock();
  }
}

void Xpt::timer_thread_main() {
  std::unique_lock lock(m_timer_lock);
  while (!m_stopping) {
    m_timer_cv.wait_for(lock, m_config.timer_tick);
    const auto now = std::chrono::steady_clock::now();
    std::vector<Ccb*> due;
    for (auto it = m_delayed.begin(); it != m_delayed.end();) {
      if (it->first <= now || m_stopping) {
        due.push_back(it->second);
        it = m_delayed.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (Ccb* c : due) {
      ++t_local.depth;
      dispatch(device_of(*c), *c);
      --t_local.depth;
      drain_local_completions();
    }
    check_timeouts();
    lock.lock();
  }
}

// Enforces command timeouts even for SIMs that never answer: a CCB past its deadline is
// aborted in the SIM (Sim::abort, under the device lock, so the SIM cannot be completing it at
// the same time) and completed here with CmdTimeout. If the SIM is already completing it,
// abort() says so and the SIM's own completion wins.
void Xpt::check_timeouts() {
  // Idle (every CCB that started has completed): no device has one in its SIM, so skip the
  // walk over every device, which costs milliseconds per tick with 100,000 LUNs. `completed` is
  // read first: a CCB in a SIM throughout this call started before it and has not completed,
  // so it keeps started > completed; one that slips past this tick is seen at the next.
  const std::uint64_t completed = m_completed.load();
  if (m_started.load() <= completed) {
    return;
  }
  const std::uint64_t now = latency_ticks(m_latency_tsc);
  std::vector<Ccb*> expired;
  // The walk takes the topology lock for kTimeoutWalkChunk devices at a time, not for the whole
  // table: a scan that adds an entry (exclusive lock) waits for one chunk, not for milliseconds.
  // Entries added or removed between chunks are seen, or not, at this tick or the next.
  constexpr std::size_t kTimeoutWalkChunk = 1024;
  std::optional<Path> resume = Path{0, 0, 0};  // The smallest path.
  while (resume) {
    std::shared_lock topo(m_topology);
    auto it = m_devices.lower_bound(*resume);
    for (std::size_t n = 0; it != m_devices.end() && n < kTimeoutWalkChunk; ++it, ++n) {
      XptDevice& device = *it->second;
      if (device.admitted() == 0) {
        continue;
      }
      std::lock_guard lock(device.lock);
      for (Ccb* c = device.in_sim.head(); c != nullptr;) {
        Ccb* next = c->xpt_priv.next;
        if (c->xpt_priv.deadline_ticks <= now && device.bus->sim->abort(*c)) {
          device.leave_sim(*c);
          expired.push_back(c);
        }
        c = next;
      }
    }
    resume = it == m_devices.end() ? std::nullopt : std::optional<Path>(it->first);
  }
  for (Ccb* c : expired) {
    m_timeouts.fetch_add(1, std::memory_order_relaxed);
    if (c->func == FuncCode::ScsiIo) {
      device_of(*c).bus->stats.timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    log_debug("{}: command 0x{:02x} timed out after {} ms", to_string(c->path), c->cdb[0],
              c->timeout.count());
    complete_now(*c, CamStatus::CmdTimeout);
  }
}

XptStats Xpt::stats() const {
  XptStats s;
  // Completed first: every CCB it counts was started before, so outstanding cannot wrap.
  s.ccbs_completed = m_completed.load();
  s.ccbs_started = m_started.load();
  s.retries = m_retries.load();
  s.timeouts = m_timeouts.load();
  s.ccbs_outstanding = s.ccbs_started >= s.ccbs_completed ? s.ccbs_started - s.ccbs_completed : 0;
  s.generation = m_generation.load();
  std::vector<std::shared_ptr<XptDevice>> all;
  {
    std::shared_lock lock(m_topology);
    s.buses = m_buses.size();
    for (const auto& [p, d] : m_devices) {
      all.push_back(d);
    }
  }
  for (auto& d : all) {
    std::lock_guard lock(d->lock);
    s.devices += d->configured ? 1 : 0;
  }
  return s;
}

std::vector<SimStats> Xpt::sim_stats() const {
  std::vector<std::shared_ptr<XptBus>> buses;
  {
    std::shared_lock lock(m_topology);
    buses.reserve(m_buses.size());
    for (const auto& [id, bus] : m_buses) {
      buses.push_back(bus);
    }
  }
  std::vector<SimStats> out;
  out.reserve(buses.size());
  for (const auto& bus : buses) {
    const XptBusStats& s = bus->stats;
    SimStats& o = out.emplace_back();
    o.path_id = bus->path_id;
    o.sim_name = bus->inquiry.sim_name;
    o.sim_unit = bus->inquiry.unit;
    o.sim_bus = bus->inquiry.bus;
    std::uint64_t latency_sum_ticks = 0;
    for (std::size_t stripe = 0; stripe < kStripes; ++stripe) {
      const XptBusStats::Completions& c = s.completions.at(stripe);
      for (std::size_t i = 0; i < o.latency_buckets.size(); ++i) {
        o.latency_buckets[i] += c.latency_buckets[i].load(std::memory_order_relaxed);
      }
      latency_sum_ticks += c.latency_sum_ticks.load(std::memory_order_relaxed);
      o.errors += c.errors.load(std::memory_order_relaxed);
    }
    for (const std::uint64_t n : o.latency_buckets) {
      o.ccbs += n;
    }
    o.latency_sum_seconds = static_cast<double>(latency_sum_ticks) * m_seconds_per_tick;
    o.timeouts = s.timeouts.load(std::memory_order_relaxed);
    o.retries = s.retries.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace ucam::cam
