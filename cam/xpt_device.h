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

// A CCB's XPT state, read by abort() from any thread while its owner moves it along.
inline void set_state(Ccb& ccb, CcbXptPrivate::State state) {
  std::atomic_ref(ccb.xpt_priv.state).store(state, std::memory_order_relaxed);
}
inline CcbXptPrivate::State state_of(Ccb& ccb) {
  return std::atomic_ref(ccb.xpt_priv.state).load(std::memory_order_relaxed);
}

// CcbXptPrivate::sim_link: what became of an admitted CCB when the SIM's action() returned.
// The dispatching thread links it into XptDevice::in_sim (Unlinked -> Linked, under the device
// lock) unless the SIM completed it inside action() on that thread (never linked) or on
// another thread meanwhile (Unlinked -> DoneEarly, by that thread's done(); the dispatching
// thread then completes it, so nobody touches a CCB whose callback may have run).
enum SimLink : std::uint8_t { kUnlinked = 0, kLinked = 1, kDoneEarly = 2 };
inline std::atomic_ref<std::uint8_t> sim_link(Ccb& ccb) {
  return std::atomic_ref(ccb.xpt_priv.sim_link);
}

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

  // Admission word: the fast path of dispatch() admits a CCB with one compare-and-swap here,
  // without `lock`. Low 32 bits (kAdmittedMask): openings taken, against `openings`: CCBs admitted
  // to the SIM and not yet handed back, plus the credits parked in `credits` (below). kClosed: the
  // fast path is closed (the device queue is frozen, the device is lost, or CCBs wait in
  // `pending`), so dispatch() takes `lock`; set and cleared only under `lock` (update_gate()).
  // kIdleWaited: a thread waits for the count to reach zero (deregister_bus); whoever hands back
  // the last CCB then takes `lock` and notifies idle_cv. No credit is parked while either is set.
  static constexpr std::uint64_t kAdmittedMask = 0xffff'ffffULL;
  static constexpr std::uint64_t kClosed = 1ULL << 32;
  static constexpr std::uint64_t kIdleWaited = 1ULL << 33;
  static constexpr std::uint64_t kNoCredits = kClosed | kIdleWaited;
  std::atomic<std::uint64_t> gate{0};
  const std::uint32_t openings;

  // Admission credits, so that threads sharing one device do not all write `gate`. With two
  // threads, the compare-and-swap and the hand-back on one word move its cache line between
  // CPUs twice per CCB, and the device's rate no longer grows with threads. Instead, a CCB that
  // completes on the thread that submitted it, before its action() returned (a synchronous SIM),
  // leaves its opening as a credit in that thread's stripe (at most one per stripe), and the
  // thread's next CCB on this device takes the credit back: its own cache line, and `gate` is
  // only read. A credit still counts as taken in `gate`. CCBs that a SIM completes later, on its
  // own thread, hand their opening back to `gate`: that thread submits nothing to take it.
  //   - Allocated (kStripes lines, 1 KiB) on the first contended admission, so that devices used
  //     by one thread at a time (a scan of 100,000 LUNs) do not pay for it, and only when
  //     `openings` >= kStripes: on smaller queues a few credits would often hold most openings,
  //     and admissions would keep taking them back under `lock`. Then kept for the device's life.
  //   - Taking a credit is checked against kClosed after the take, and parking one against
  //     kNoCredits after the park; whoever sets those flags then takes every credit back
  //     (reclaim_credits()). All four operations are seq_cst, so either the closer sees the
  //     credit or its owner sees the flag and hands the credit back itself: after update_gate()
  //     closes the gate, no CCB is admitted through a credit, and an idle waiter is not kept
  //     waiting by one.
  //   - A locked admission that finds no opening takes the credits back first (try_admit_locked).
  using Credits = Striped<std::atomic<std::uint32_t>>;
  std::atomic<Credits*> credits{nullptr};  // Set once, under `lock`; owned by credits_owner.

  std::mutex lock;
  std::condition_variable idle_cv;  // Signalled when the admitted count drops to zero.
  std::uint32_t idle_waiters = 0;   // Threads in idle_cv.wait(). Guarded by lock.
  std::uint32_t freeze_count = 0;   // Guarded by lock.
  bool invalid = false;             // Lost: new CCBs complete with DevNotThere. Guarded by lock.
  // Mirror of `invalid`, set under lock (and by ~Xpt for what is left), read without it by
  // Xpt::resolve_device() to decide whether a CCB's cached device may still be used.
  std::atomic<bool> gone{false};
  bool configured = false;                 // In the database (not a probe entry). Guarded by lock.
  std::unique_ptr<Credits> credits_owner;  // Guarded by lock.
  CcbQueue pending;                        // Guarded by lock.
  // Admitted CCBs that the SIM still holds after its action() returned (the timeout scan and
  // abort() look for them here). A CCB the SIM completes inside action() is never linked.
  CcbList in_sim;  // Guarded by lock.
  // Mirror of pending's length, written under lock: lets completions skip run_devq's lock when
  // nothing waits. Written and read seq_cst, against the admitted count (see dispatch()).
  std::atomic<std::uint32_t> pending_count{0};
  DeviceInfo info;  // Guarded by lock.

  // Openings taken: CCBs admitted and not handed back, plus parked credits.
  std::uint32_t admitted() const {
    return static_cast<std::uint32_t>(gate.load(std::memory_order_seq_cst) & kAdmittedMask);
  }

  // Whether the device queue or its bus's SIM queue holds CCBs back. Call with `lock` held.
  bool frozen() const {
    return freeze_count > 0 || bus->simq_freeze_count.load(std::memory_order_seq_cst) > 0;
  }

  // Opens or closes the fast path after a change to what it depends on; closing takes every
  // parked credit back. Call with `lock` held.
  void update_gate() {
    if (invalid || freeze_count > 0 || !pending.empty()) {
      gate.fetch_or(kClosed, std::memory_order_seq_cst);
      reclaim_credits();
    } else {
      gate.fetch_and(~kClosed, std::memory_order_seq_cst);
    }
  }

  // Starts or ends a wait for the admitted count to reach zero (deregister_bus). Starting one
  // takes every parked credit back, so that only CCBs still in the SIM are waited for. Call
  // with `lock` held.
  void begin_idle_wait() {
    if (++idle_waiters == 1) {
      gate.fetch_or(kIdleWaited, std::memory_order_seq_cst);
      reclaim_credits();
    }
  }
  void end_idle_wait() {
    if (--idle_waiters == 0) {
      gate.fetch_and(~kIdleWaited, std::memory_order_seq_cst);
    }
  }

  // Admits one CCB without `lock`: from this thread's credit, or if the fast path is open and
  // there is an opening. Never exceeds `openings`. `credits_from_first` gives the device its
  // credits now rather than at its first contended admission (XptConfig).
  bool try_admit_fast(bool credits_from_first) {
    Credits* c = credits.load(std::memory_order_acquire);
    if (c != nullptr) {
      std::atomic<std::uint32_t>& mine = c->mine();
      std::uint32_t one = 1;
      if (mine.load(std::memory_order_relaxed) == 1 &&
          mine.compare_exchange_strong(one, 0, std::memory_order_seq_cst)) {
        if ((gate.load(std::memory_order_seq_cst) & kClosed) == 0) {
          return true;
        }
        // Closed since: hand the opening back; dispatch() takes `lock` next.
        if (hand_back_to_gate()) {
          notify_idle();
        }
        return false;
      }
    }
    bool contended = false;
    if (!take_opening(kClosed, contended)) {
      return false;
    }
    if (c == nullptr && (contended || credits_from_first) && openings >= kStripes) {
      std::lock_guard guard(lock);
      if (!credits_owner) {
        credits_owner = std::make_unique<Credits>();
        credits.store(credits_owner.get(), std::memory_order_release);
      }
    }
    return true;
  }

  // Admits one CCB if the count is below `openings`, taking parked credits back if it is not.
  // Call with `lock` held, having checked that the device is valid, not frozen and that nothing
  // waits before it.
  bool try_admit_locked() {
    bool contended = false;
    return take_opening(0, contended) || (reclaim_credits() > 0 && take_opening(0, contended));
  }

  // Takes back a CCB that was never linked (the SIM completed it before its action() returned),
  // on the thread that submitted it: hands back its admission, as this thread's credit if it
  // may, and marks it Completing; wakes idle waiters when the count reaches zero, taking `lock`
  // only then. Call without `lock`.
  void leave_sim_unlinked(Ccb& ccb) {
    set_state(ccb, CcbXptPrivate::State::Completing);
    if (hand_back()) {
      notify_idle();
    }
  }

  // Takes a linked CCB back from the SIM (it completed, was aborted or timed out), hands back
  // its admission and marks it Completing. Call with `lock` held.
  void leave_sim(Ccb& ccb) {
    in_sim.unlink(ccb);
    if (hand_back_to_gate()) {
      idle_cv.notify_all();
    }
    set_state(ccb, CcbXptPrivate::State::Completing);  // abort() reads it under `lock`.
  }

 private:
  // Takes one opening in `gate` if the count is below `openings` and no bit of `refused_if` is
  // set; `contended` is set if a compare-and-swap lost to another thread's change.
  bool take_opening(std::uint64_t refused_if, bool& contended) {
    std::uint64_t v = gate.load(std::memory_order_relaxed);
    for (;;) {
      if ((v & refused_if) != 0 || (v & kAdmittedMask) >= openings) {
        return false;
      }
      if (gate.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst)) {
        return true;
      }
      contended = true;
    }
  }

  // Hands back one admission: as this thread's credit if it has none and credits may be parked,
  // else to `gate`. True if the count reached zero while someone waits for that.
  bool hand_back() {
    Credits* c = credits.load(std::memory_order_acquire);
    if (c != nullptr && (gate.load(std::memory_order_relaxed) & kNoCredits) == 0) {
      std::atomic<std::uint32_t>& mine = c->mine();
      std::uint32_t zero = 0;
      if (mine.load(std::memory_order_relaxed) == 0 &&
          mine.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
        if ((gate.load(std::memory_order_seq_cst) & kNoCredits) == 0) {
          return false;  // Parked.
        }
        // Flags set since: take it back ourselves, unless their setter already has.
        if (mine.exchange(0, std::memory_order_seq_cst) == 0) {
          return false;
        }
      }
    }
    return hand_back_to_gate();
  }

  // Decrements the admitted count; true if it reached zero while someone waits for that.
  bool hand_back_to_gate(std::uint32_t n = 1) {
    const std::uint64_t v = gate.fetch_sub(n, std::memory_order_seq_cst) - n;
    return (v & kAdmittedMask) == 0 && (v & kIdleWaited) != 0;
  }

  void notify_idle() {
    std::lock_guard guard(lock);
    idle_cv.notify_all();
  }

  // Takes every parked credit back into `gate`; returns how many. Call with `lock` held.
  std::uint32_t reclaim_credits() {
    Credits* c = credits.load(std::memory_order_acquire);
    if (c == nullptr) {
      return 0;
    }
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < kStripes; ++i) {
      // A seq_cst load that reads 0 comes before any park that this reclaim must see.
      if (c->at(i).load(std::memory_order_seq_cst) != 0) {
        n += c->at(i).exchange(0, std::memory_order_seq_cst);
      }
    }
    if (n > 0 && hand_back_to_gate(n)) {
      idle_cv.notify_all();
    }
    return n;
  }
};

}  // namespace ucam::cam
