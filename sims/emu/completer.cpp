#include "sims/emu/completer.h"

#include <algorithm>

#include "sims/emu/lun.h"

namespace ucam::emu {

namespace {

// The result a held command gets when it cannot finish normally.
void set_transport_result(cam::Ccb& ccb, CamStatus status) {
  ccb.complete_status(status);
  ccb.scsi_status = cam::ScsiStatus::Good;
  ccb.sense_len = 0;
  ccb.flags &= ~static_cast<std::uint32_t>(cam::kCcbAutosenseValid);
}

}  // namespace

void Completer::start() {
  m_worker = std::thread([this] { run(); });
}

Completer::~Completer() {
  stop();
}

void Completer::stop() {
  {
    std::lock_guard lock(m_lock);
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_worker.joinable()) {
    m_worker.join();
  }
}

bool Completer::hold(cam::Ccb& ccb, const Owner& owner, std::uint64_t epoch,
                     Clock::time_point when) {
  {
    std::lock_guard lock(m_lock);
    // Removal bumps the epoch before it flushes under m_lock, so either the flush sees this
    // entry or this check sees the new epoch.
    if (m_stopping || owner.lun->epoch() != epoch) {
      return false;
    }
    m_held.push_back(Entry{&ccb, owner, when});
  }
  if (when != Clock::time_point::max()) {
    m_wake.notify_one();
  }
  return true;
}

bool Completer::abort(const EmuBus& bus, cam::Ccb& ccb) {
  std::lock_guard lock(m_lock);
  const auto it = std::find_if(m_held.begin(), m_held.end(), [&](const Entry& e) {
    return e.ccb == &ccb && e.owner.bus == &bus;
  });
  if (it == m_held.end()) {
    return false;
  }
  m_held.erase(it);
  return true;
}

std::size_t Completer::flush(const EmuBus& bus, const EmuTarget* target, const EmuLun* lun,
                             CamStatus status) {
  std::vector<cam::Ccb*> gone;
  {
    std::lock_guard lock(m_lock);
    auto keep = std::partition(m_held.begin(), m_held.end(), [&](const Entry& e) {
      const bool match = e.owner.bus == &bus && (target == nullptr || e.owner.target == target) &&
                         (lun == nullptr || e.owner.lun == lun);
      return !match;
    });
    for (auto it = keep; it != m_held.end(); ++it) {
      set_transport_result(*it->ccb, status);
      gone.push_back(it->ccb);
    }
    m_held.erase(keep, m_held.end());
  }
  for (auto* ccb : gone) {
    m_xpt.done(*ccb);
  }
  return gone.size();
}

std::size_t Completer::held() const {
  std::lock_guard lock(m_lock);
  return m_held.size();
}

void Completer::run() {
  std::vector<cam::Ccb*> due;
  std::unique_lock lock(m_lock);
  while (!m_stopping) {
    const auto now = Clock::now();
    auto next = Clock::time_point::max();
    auto keep = std::partition(m_held.begin(), m_held.end(), [&](const Entry& e) {
      if (e.when <= now) {
        return false;
      }
      next = std::min(next, e.when);
      return true;
    });
    for (auto it = keep; it != m_held.end(); ++it) {
      due.push_back(it->ccb);  // The result was set when the command executed.
    }
    m_held.erase(keep, m_held.end());
    if (!due.empty()) {
      lock.unlock();
      for (auto* ccb : due) {
        m_xpt.done(*ccb);
      }
      due.clear();
      lock.lock();
      continue;
    }
    if (next == Clock::time_point::max()) {
      m_wake.wait(lock);
    } else {
      m_wake.wait_until(lock, next);
    }
  }
}

}  // namespace ucam::emu
