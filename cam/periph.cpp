#include "cam/periph.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "base/check.h"
#include "base/log.h"

namespace ucam::cam {

// ---------------------------------------------------------------------------------------------
// Periph

Periph::Periph(PeriphManager& manager, PeriphDriver& driver, std::uint32_t unit, const Path& path)
    : m_manager(manager),
      m_driver(driver),
      m_unit(unit),
      m_path(path),
      m_name(std::string(driver.name()) + std::to_string(unit)) {
}

XptPeriph& Periph::xpt() const {
  return m_manager.m_xpt;
}

bool Periph::acquire() {
  std::lock_guard lock(m_manager.m_lock);
  if ((m_flags & kInvalid) != 0) {
    return false;
  }
  ++m_refcount;
  return true;
}

void Periph::acquire_unconditional() {
  std::lock_guard lock(m_manager.m_lock);
  if (m_refcount == 0) {
    ++m_manager.m_stats.underflows;
    report_violation(m_name + ": acquire_unconditional with refcount 0 (periph being freed)");
    return;
  }
  ++m_refcount;
}

// The last release frees the periph, so the manager (not `this`) carries on afterwards: the
// driver's destroy hook runs first, while the unit is still taken, so a new periph cannot
// reuse the unit (and the node name) while the old one is being torn down.
void Periph::release() {
  PeriphManager& manager = m_manager;
  bool attached = false;
  {
    std::lock_guard lock(manager.m_lock);
    if (m_refcount == 0 || (m_flags & kFree) != 0) {
      ++manager.m_stats.underflows;
      report_violation(m_name + ": release would underflow the reference count");
      return;
    }
    if (--m_refcount > 0) {
      return;
    }
    m_flags |= kFree;
    attached = (m_flags & kAttached) != 0;  // Read here: others may still set other flag bits.
  }
  manager.free_periph(*this, attached);
}

Result<void> Periph::hold() {
  assert_may_block("Periph::hold");
  if (!acquire()) {
    return fail_errno(ENXIO, m_name + ": hold: device is gone");
  }
  std::unique_lock lock(m_manager.m_lock);
  m_manager.m_cv.wait(lock, [&] { return (m_flags & (kLocked | kInvalid)) != kLocked; });
  if ((m_flags & kInvalid) != 0) {
    lock.unlock();
    release();
    return fail_errno(ENXIO, m_name + ": hold: device is gone");
  }
  m_flags |= kLocked;
  return {};
}

void Periph::unhold() {
  {
    std::lock_guard lock(m_manager.m_lock);
    m_flags &= ~kLocked;
  }
  m_manager.m_cv.notify_all();
  release();
}

void Periph::invalidate() {
  bool call_driver = false;
  {
    std::lock_guard lock(m_manager.m_lock);
    if ((m_flags & kInvalid) != 0) {
      return;
    }
    m_flags |= kInvalid;
    m_flags &= ~kNewDevFound;
    call_driver = (m_flags & kAttached) != 0;
  }
  m_manager.m_cv.notify_all();  // Wake hold() waiters: they fail with ENXIO.
  log_info("{}: invalidated ({})", m_name, m_path);
  if (call_driver) {
    m_driver.invalidate(*this);
  }
  release();  // The reference taken at creation.
}

bool Periph::invalid() const {
  std::lock_guard lock(m_manager.m_lock);
  return (m_flags & kInvalid) != 0;
}

std::uint32_t Periph::refcount() const {
  std::lock_guard lock(m_manager.m_lock);
  return m_refcount;
}

// ---------------------------------------------------------------------------------------------
// PeriphManager

PeriphManager::PeriphManager(XptPeriph& xpt, std::vector<std::unique_ptr<PeriphDriver>> drivers)
    : m_xpt(xpt), m_drivers(std::move(drivers)) {
}

std::unique_ptr<PeriphManager> PeriphManager::create(
    XptPeriph& xpt, std::vector<std::unique_ptr<PeriphDriver>> drivers) {
  std::unique_ptr<PeriphManager> manager(new PeriphManager(xpt, std::move(drivers)));
  PeriphManager* self = manager.get();
  manager->m_subscription = xpt.subscribe(kAllAsyncCodes, Path::wildcard(),
                                          [self](const AsyncEvent& e) { self->on_event(e); });
  // Devices found before we subscribed: replay FoundDevice for them through the event thread
  // so attach always runs there, in order with later events.
  for (const auto& device : xpt.devices()) {
    xpt.post_async({AsyncCode::FoundDevice, device.path});
  }
  return manager;
}

PeriphManager::~PeriphManager() {
  m_subscription.reset();  // Waits for a running callback to finish.
  std::vector<Periph*> all;
  {
    std::lock_guard lock(m_lock);
    for (auto& [driver, units] : m_units) {
      for (auto& [unit, periph] : units) {
        if ((periph->m_flags & Periph::kInvalid) == 0) {
          all.push_back(periph.get());
        }
      }
    }
  }
  // Only this thread invalidates now, so each periph still holds its initial reference.
  for (Periph* p : all) {
    p->invalidate();
  }
  if (!wait_all_freed(std::chrono::seconds(30))) {
    log_error("periph manager: periphs still referenced at shutdown; leaking them");
  }
}

template <class Fn>
void PeriphManager::for_each_covered(const Path& path, Fn&& fn) {
  if (path.bus != Path::kWildcardBus && path.target != Path::kWildcardTarget &&
      path.lun != Path::kWildcardLun) {
    // One device: its periphs are neighbours in the index, in driver order.
    for (auto it = m_by_path.lower_bound({path, 0});
         it != m_by_path.end() && it->first.first == path; ++it) {
      fn(*it->second);
    }
    return;
  }
  // Every bus (rare: shutdown), or the range of one bus or target (the index is ordered by bus,
  // target and LUN, so a bus's events do not visit other buses); visited in driver order, then
  // path order.
  std::vector<std::pair<std::size_t, Periph*>> covered;
  const bool one_target = path.target != Path::kWildcardTarget;
  auto it = path.bus == Path::kWildcardBus
                ? m_by_path.begin()
                : m_by_path.lower_bound({Path{path.bus, one_target ? path.target : 0, 0}, 0});
  for (; it != m_by_path.end(); ++it) {
    const Path& p = it->first.first;
    if (path.bus != Path::kWildcardBus &&
        (p.bus != path.bus || (one_target && p.target != path.target))) {
      break;
    }
    if (path.matches(p)) {
      covered.emplace_back(it->first.second, it->second);
    }
  }
  std::stable_sort(covered.begin(), covered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [driver, periph] : covered) {
    fn(*periph);
  }
}

std::size_t PeriphManager::index_of(const PeriphDriver& driver) const {
  for (std::size_t i = 0; i < m_drivers.size(); ++i) {
    if (m_drivers[i].get() == &driver) {
      return i;
    }
  }
  report_violation("PeriphManager: a periph of a driver it does not have");
  return m_drivers.size();
}

void PeriphManager::on_event(const AsyncEvent& event) {
  switch (event.code) {
    case AsyncCode::FoundDevice:
      attach_drivers(event.path);
      return;
    case AsyncCode::LostDevice:
      invalidate_path(event.path);
      return;
    default:
      break;
  }
  std::vector<PeriphRef> targets;
  {
    std::lock_guard lock(m_lock);
    for_each_covered(event.path, [&](Periph& periph) {
      if ((periph.m_flags & (Periph::kInvalid | Periph::kAttached)) == Periph::kAttached) {
        ++periph.m_refcount;
        targets.emplace_back(&periph);
      }
    });
  }
  for (auto& ref : targets) {
    ref->driver().async(*ref.get(), event);
  }
}

void PeriphManager::attach_drivers(const Path& path) {
  const auto info = m_xpt.device(path);
  if (!info) {
    return;  // Gone again before we got to it.
  }
  for (std::size_t index = 0; index < m_drivers.size(); ++index) {
    auto& driver = m_drivers[index];
    if (!driver->matches(*info)) {
      continue;
    }
    Periph* periph = nullptr;
    {
      std::lock_guard lock(m_lock);
      auto& units = m_units[driver.get()];
      auto existing = m_by_path.find({path, index});
      if (existing != m_by_path.end()) {
        Periph* p = existing->second;
        if ((p->m_flags & Periph::kInvalid) != 0) {
          // The device came back while the old periph is still referenced: attach again when
          // that one is freed (cam_periph_alloc's CAM_REQ_INPROG case).
          p->m_flags |= Periph::kNewDevFound;
        }
        continue;
      }
      std::uint32_t& hint = m_unit_hint[driver.get()];
      std::uint32_t unit = hint;
      while (units.count(unit) != 0) {
        ++unit;
      }
      hint = unit + 1;
      auto owned = std::unique_ptr<Periph>(new Periph(*this, *driver, unit, path));
      periph = owned.get();
      units.emplace(unit, std::move(owned));
      m_by_path.emplace(std::make_pair(path, index), periph);
      ++m_stats.created;
      ++m_stats.live;
    }
    if (auto r = driver->attach(*periph); !r) {
      log_error("{}: attach failed: {}", periph->name(), r.error().message());
      periph->invalidate();
      continue;
    }
    {
      std::lock_guard lock(m_lock);
      periph->m_flags |= Periph::kAttached;
    }
    log_info("{} at {}: {} {}", periph->name(), path, info->vendor, info->product);
    // A LostDevice may have raced with attach: it is delivered after us on this same thread,
    // so it will find the periph attached and invalidate it then.
  }
}

void PeriphManager::invalidate_path(const Path& path) {
  std::vector<Periph*> victims;
  {
    std::lock_guard lock(m_lock);
    for_each_covered(path, [&](Periph& periph) {
      if ((periph.m_flags & Periph::kInvalid) == 0) {
        victims.push_back(&periph);
      }
    });
  }
  // Only the event thread (and the destructor, after unsubscribing) invalidates, so every
  // victim still holds its initial reference here.
  for (Periph* p : victims) {
    p->invalidate();
  }
}

void PeriphManager::free_periph(Periph& periph, bool attached) {
  if (attached) {
    periph.m_driver.destroy(periph);
  }
  // Once `live` drops under the lock, the manager's destructor may return: after the locked
  // section below, touch only locals (the XPT outlives the manager).
  XptPeriph& xpt = m_xpt;
  std::unique_ptr<Periph> owned;
  bool reattach = false;
  const Path path = periph.m_path;
  const std::string name = periph.m_name;
  {
    std::lock_guard lock(m_lock);
    auto& units = m_units[&periph.m_driver];
    auto it = units.find(periph.m_unit);
    reattach = (periph.m_flags & Periph::kNewDevFound) != 0;
    owned = std::move(it->second);
    units.erase(it);
    m_by_path.erase({path, index_of(periph.m_driver)});
    auto& hint = m_unit_hint[&periph.m_driver];
    hint = std::min(hint, periph.m_unit);
    ++m_stats.freed;
    --m_stats.live;
    if (m_stats.live == 0) {
      m_cv.notify_all();  // wait_all_freed(); hold() waiters do not wait for frees.
    }
  }
  log_info("{}: periph destroyed", name);
  owned.reset();
  if (reattach) {
    // Replayed through the event thread, like camperiphfree's deferred AC_FOUND_DEVICE.
    xpt.post_async({AsyncCode::FoundDevice, path});
  }
}

PeriphRef PeriphManager::acquire(std::string_view name) {
  // "pass12": a driver's name, then the unit in decimal as Periph's constructor writes it.
  for (const auto& driver : m_drivers) {
    const std::string_view prefix = driver->name();
    if (!name.starts_with(prefix)) {
      continue;
    }
    const std::string_view digits = name.substr(prefix.size());
    std::uint32_t unit = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), unit);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        (digits.size() > 1 && digits.front() == '0')) {
      continue;
    }
    std::lock_guard lock(m_lock);
    auto units = m_units.find(driver.get());
    if (units == m_units.end()) {
      continue;
    }
    auto it = units->second.find(unit);
    if (it != units->second.end() &&
        (it->second->m_flags & (Periph::kInvalid | Periph::kFree)) == 0) {
      ++it->second->m_refcount;
      return PeriphRef(it->second.get());
    }
  }
  return {};
}

std::vector<std::string> PeriphManager::names_for(const Path& path) const {
  std::vector<std::string> out;
  std::lock_guard lock(m_lock);
  // One search: the device's periphs are neighbours, in driver order.
  for (auto it = m_by_path.lower_bound({path, 0}); it != m_by_path.end() && it->first.first == path;
       ++it) {
    if ((it->second->m_flags & Periph::kInvalid) == 0) {
      out.push_back(it->second->m_name);
    }
  }
  return out;
}

std::vector<PeriphSnapshot> PeriphManager::periphs() const {
  std::vector<PeriphSnapshot> out;
  std::lock_guard lock(m_lock);
  for (const auto& [driver, units] : m_units) {
    for (const auto& [unit, periph] : units) {
      out.push_back({periph->m_name, periph->m_path, periph->m_refcount,
                     (periph->m_flags & Periph::kInvalid) != 0});
    }
  }
  return out;
}

PeriphStats PeriphManager::stats() const {
  std::lock_guard lock(m_lock);
  return m_stats;
}

void PeriphManager::settle(std::chrono::milliseconds timeout) {
  for (auto& driver : m_drivers) {
    driver->settle(timeout);
  }
}

bool PeriphManager::wait_all_freed(std::chrono::milliseconds timeout) {
  assert_may_block("PeriphManager::wait_all_freed");
  std::unique_lock lock(m_lock);
  return m_cv.wait_for(lock, timeout, [&] { return m_stats.live == 0; });
}

}  // namespace ucam::cam
