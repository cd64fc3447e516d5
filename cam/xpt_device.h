// XPT internals: buses and devices. Never included outside cam/.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "cam/ccb.h"
#include "cam/device_info.h"
#include "cam/sim.h"
#include "cam/stripes.h"
#include "cam/xpt.h"

namespace ucam::cam {

class Xpt;

// Per-bus SCSI I/O counters behind Xpt::sim_stats(). Bumped with relaxed atomic adds by
// whichever thread completes, times out or retries a CCB (no lock on the hot path), and read
// field by field by sim_stats(), so a snapshot is not atomic as a whole. Relaxed is enough:
// nothing else is published through them. What every completion bumps (its latency bucket and
// sum, and errors) is striped per thread (cam/stripes.h), so that threads completing CCBs on
// the same bus do not all write one cache line; sim_stats() sums the stripes.
//
// They live in XptBus, which every XptDevice holds by shared_ptr, and a CCB holds its device
// (CcbXptPrivate::device) in flight and after: a CCB that completes after its bus was
// deregistered still counts into live memory, just no longer reported.
struct XptBusStats {
  struct Completions {
    std::array<std::atomic<std::uint64_t>, kLatencyBounds.size() + 1> latency_buckets{};
    std::atomic<std::uint64_t> latency_sum_ticks{0};  // In latency clock ticks (see xpt.cpp).
    std::atomic<std::uint64_t> errors{0};
  };
  Striped<Completions> completions;
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> retries{0};
};

struct XptBus {
  std::uint32_t path_id = 0;
  Sim* sim = nullptr;   // Must outlast the registration (XptSim::register_bus contract).
  PathInquiry inquiry;  // Immutable after registration.
  std::atomic<bool> valid{true};
  // SIM queue freezes (freeze_simq). Read by every dispatch under a device lock; changed
  // without one, which is why release_simq re-checks each device queue under its lock.
  std::atomic<std::uint32_t> simq_freeze_count{0};
  // On its own cache line: written by every completion, while the fields above are read by
  // every dispatch.
  alignas(64) XptBusStats stats;
};

// Intrusive FIFO of CCBs through CcbXptPrivate::next.
class CcbQueue {
 public:
  bool empty() const { return m_head == nullptr; }
  void push(Ccb& ccb) {
    ccb.xpt_priv.next = nullptr;
    if (m_tail != nullptr) {
      m_tail->xpt_priv.next = &ccb;
    } else {
      m_head = &ccb;
    }
    m_tail = &ccb;
  }
  // Removes `ccb` if queued (O(n)); returns whether it was.
  bool remove(Ccb& ccb) {
    Ccb* prev = nullptr;
    for (Ccb* c = m_head; c != nullptr; prev = c, c = c->xpt_priv.next) {
      if (c != &ccb) {
        continue;
      }
      (prev != nullptr ? prev->xpt_priv.next : m_head) = c->xpt_priv.next;
      if (m_tail == c) {
        m_tail = prev;
      }
      c->xpt_priv.next = nullptr;
      return true;
    }
    return false;
  }
  Ccb* pop() {
    Ccb* c = m_head;
    if (c != nullptr) {
      m_head = c->xpt_priv.next;
      if (m_head == nullptr) {
        m_tail = nullptr;
      }
      c->xpt_priv.next = nullptr;
    }
    return c;
  }

 private:
  Ccb* m_head = nullptr;
  Ccb* m_tail = nullptr;
};

// Intrusive doubly-linked list of CCBs inside the SIM (for timeouts and aborts).
class CcbList {
 public:
  void link(Ccb& ccb) {
    ccb.xpt_priv.prev = nullptr;
    ccb.xpt_priv.next = m_head;
    if (m_head != nullptr) {
      m_head->xpt_priv.prev = &ccb;
    }
    m_head = &ccb;
  }
  void unlink(Ccb& ccb) {
    if (ccb.xpt_priv.prev != nullptr) {
      ccb.xpt_priv.prev->xpt_priv.next = ccb.xpt_priv.next;
    } else {
      m_head = ccb.xpt_priv.next;
    }
    if (ccb.xpt_priv.next != nullptr) {
      ccb.xpt_priv.next->xpt_priv.prev = ccb.xpt_priv.prev;
    }
    ccb.xpt_priv.next = ccb.xpt_priv.prev = nullptr;
  }
  Ccb* head() const { return m_head; }

 private:
  Ccb* m_head = nullptr;
};

class XptDevice {
 public:
  XptDevice(Xpt& xpt, std::shared_ptr<XptBus> bus, const Path& path, std::uint32_t openings,
            std::uint32_t maxio)
      : xpt(xpt), bus(std::move(bus)), path(path), maxio(maxio), openings(openings) {}

  // Owns this device, and outlives it while it is in m_devices or has CCBs in flight. A CCB
  // keeps its last device after completing (Xpt::resolve_device), so a device may outlive its
  // XPT, and then `xpt` dangles and bus->sim may too; `gone` is set by then (~Xpt), and nothing
  // reads either once it is (resolve_device checks `gone` first; the destructors touch neither).
  Xpt& xpt;
  const std::shared_ptr<XptBus> bus;
  const Path path;
  // The SIM's PathInquiry::maxio when this entry was created (not the bus's cached one: a SIM
  // whose limit shrinks as devices arrive reports the smaller one for the devices found since).
  const std::uint32_t maxio;

  std::mutex lock;
  std::condition_variable idle_cv;  // Signalled when in_sim drops to zero, if anyone waits.
  std::uint32_t idle_waiters = 0;   // Threads in idle_cv.wait(). Guarded by lock.
  std::uint32_t openings;           // Guarded by lock.
  std::uint32_t active = 0;         // CCBs inside the SIM. Guarded by lock.
  std::uint32_t freeze_count = 0;   // Guarded by lock.
  bool invalid = false;             // Lost: new CCBs complete with DevNotThere. Guarded by lock.
  // Mirror of `invalid`, set under lock (and by ~Xpt for what is left), read without it by
  // Xpt::resolve_device() to decide whether a CCB's cached device may still be used.
  std::atomic<bool> gone{false};
  bool configured = false;  // In the database (not a probe entry). Guarded by lock.
  CcbQueue pending;         // Guarded by lock.
  CcbList in_sim;           // Guarded by lock.
  // Mirror of active for lock-free timer scans. Written only under lock (a load and a store,
  // not a locked read-modify-write), read without it.
  std::atomic<std::uint32_t> in_sim_count{0};
  // Mirror of pending's length, written under lock: lets completions skip run_devq's lock when
  // nothing waits (they read it after taking and dropping the lock in done()).
  std::atomic<std::uint32_t> pending_count{0};
  DeviceInfo info;  // Guarded by lock.

  // Whether the device queue or its bus's SIM queue holds CCBs back. Call with `lock` held.
  bool frozen() const {
    return freeze_count > 0 || bus->simq_freeze_count.load(std::memory_order_seq_cst) > 0;
  }

  // Takes `ccb` back from the SIM's accounting (it completed, was aborted or timed out) and
  // marks it Completing. Call with `lock` held.
  void leave_sim(Ccb& ccb) {
    in_sim.unlink(ccb);
    --active;
    in_sim_count.store(active, std::memory_order_relaxed);
    if (active == 0 && idle_waiters != 0) {  // Skips the notify on every CCB's completion.
      idle_cv.notify_all();
    }
    ccb.xpt_priv.state = CcbXptPrivate::State::Completing;  // abort() reads it under `lock`.
  }
};

}  // namespace ucam::cam
