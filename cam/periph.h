// Peripheral drivers and the periph lifecycle (FreeBSD cam_periph.c).
//
// Lifecycle, in CAM's names:
//   register (FoundDevice -> driver attach, refcount 1: the reference invalidation drops)
//   -> acquire/release (one reference per open, per in-flight task, per device node)
//   -> invalidate (LostDevice: no new references; the driver's invalidate hook stops work)
//   -> last release -> destroy (driver hook) -> free (unit number reusable).
// A device that comes back while its old periph is still referenced is remembered
// (NEW_DEV_FOUND) and attached again as soon as the old periph is freed.
//
// Locking: one mutex in the PeriphManager (FreeBSD's topology lock) guards every refcount, the
// flags and the unit tables. Driver hooks run without it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cam/xpt_periph.h"

namespace ucam::cam {

class Periph;

// Driver-private state hung on a periph (FreeBSD's softc).
class PeriphSoftc {
 public:
  virtual ~PeriphSoftc() = default;
};

class PeriphDriver {
 public:
  virtual ~PeriphDriver() = default;
  virtual std::string_view name() const = 0;
  // Whether to attach to `device`.
  virtual bool matches(const DeviceInfo& device) const = 0;
  // periph_ctor. Runs on the XPT event thread with one reference held; may block (I/O).
  // On failure the periph is freed without calling invalidate() or destroy().
  virtual Result<void> attach(Periph& periph) = 0;
  // periph_oninval: stop new work, schedule node destruction. Must not block.
  virtual void invalidate(Periph& periph) = 0;
  // periph_dtor, at the last release. Any thread, may be a completion: must not block.
  virtual void destroy(Periph& periph) = 0;
  // Events other than FoundDevice/LostDevice on the periph's path (a reference is held).
  virtual void async(Periph& /*periph*/, const AsyncEvent& /*event*/) {}
  // Waits (up to `timeout`) until the work its periphs started on their own is done, e.g. an
  // enclosure's first refresh (FreeBSD's boot hold: root mounts after physical paths are
  // published). Blocks; never from an event callback or completion.
  virtual void settle(std::chrono::milliseconds /*timeout*/) {}
};

struct PeriphStats {
  std::uint64_t created = 0;
  std::uint64_t freed = 0;
  std::uint64_t live = 0;        // created - freed
  std::uint64_t underflows = 0;  // Releases that would have taken a refcount below zero.
};

struct PeriphSnapshot {
  std::string name;
  Path path;
  std::uint32_t refcount = 0;
  bool invalid = false;
};

class PeriphManager;

class Periph {
 public:
  const std::string& name() const { return m_name; }  // "pass0"
  PeriphDriver& driver() const { return m_driver; }
  std::uint32_t unit() const { return m_unit; }
  const Path& path() const { return m_path; }
  XptPeriph& xpt() const;
  // The manager (for names of other periphs: GETELMDEVNAMES and friends).
  const PeriphManager& manager() const { return m_manager; }

  // cam_periph_acquire: takes a reference unless the periph is invalid. Thread-safe.
  [[nodiscard]] bool acquire();
  // cam_periph_doacquire: takes a reference even when invalid; the count must be >= 1 (for work
  // that is already under way and must finish, e.g. abandoned I/O).
  void acquire_unconditional();
  // Drops a reference; the last one destroys and frees the periph (do not touch it after).
  // An underflow is reported (abort in debug builds, counted and logged in release).
  void release();

  // cam_periph_hold: exclusive sleepable section. Takes a reference; fails with ENXIO when the
  // periph is or becomes invalid. Blocks. unhold() ends the section and drops the reference.
  Result<void> hold();
  void unhold();

  // cam_periph_invalidate: idempotent; calls the driver's hook and drops the initial reference.
  void invalidate();
  bool invalid() const;
  std::uint32_t refcount() const;

  template <class T>
  T& softc() const {
    return static_cast<T&>(*m_softc);
  }
  void set_softc(std::unique_ptr<PeriphSoftc> softc) { m_softc = std::move(softc); }

 private:
  friend class PeriphManager;
  Periph(PeriphManager& manager, PeriphDriver& driver, std::uint32_t unit, const Path& path);

  enum Flag : std::uint32_t {
    kInvalid = 0x08,
    kNewDevFound = 0x10,
    kLocked = 0x02,
    kFree = 0x80,
    kAttached = 0x100,
  };

  PeriphManager& m_manager;  // Owns this periph; outlives it.
  PeriphDriver& m_driver;    // In the manager's driver table.
  const std::uint32_t m_unit;
  const Path m_path;
  const std::string m_name;
  std::uint32_t m_refcount = 1;  // Guarded by m_manager.m_lock.
  std::uint32_t m_flags = 0;     // Guarded by m_manager.m_lock.
  std::unique_ptr<PeriphSoftc> m_softc;
};

// RAII reference: one acquire, exactly one release.
class PeriphRef {
 public:
  PeriphRef() = default;
  // Adopts a reference the caller already took.
  explicit PeriphRef(Periph* periph) : m_periph(periph) {}
  PeriphRef(PeriphRef&& other) noexcept : m_periph(std::exchange(other.m_periph, nullptr)) {}
  PeriphRef& operator=(PeriphRef&& other) noexcept {
    if (this != &other) {
      reset();
      m_periph = std::exchange(other.m_periph, nullptr);
    }
    return *this;
  }
  PeriphRef(const PeriphRef&) = delete;
  PeriphRef& operator=(const PeriphRef&) = delete;
  ~PeriphRef() { reset(); }
  void reset() {
    if (m_periph != nullptr) {
      std::exchange(m_periph, nullptr)->release();
    }
  }
  Periph* get() const { return m_periph; }
  Periph* operator->() const { return m_periph; }
  explicit operator bool() const { return m_periph != nullptr; }

 private:
  Periph* m_periph = nullptr;
};

class PeriphManager {
 public:
  // Subscribes to the XPT's events and attaches drivers to devices already present. `xpt` must
  // outlast the manager. The driver table is explicit and ordered (attach order).
  static std::unique_ptr<PeriphManager> create(XptPeriph& xpt,
                                               std::vector<std::unique_ptr<PeriphDriver>> drivers);
  // Unsubscribes, invalidates every periph and waits until all are freed (their nodes must be
  // destroyable: the devfs that drivers use must still be running). Blocks.
  ~PeriphManager();
  PeriphManager(const PeriphManager&) = delete;
  PeriphManager& operator=(const PeriphManager&) = delete;

  XptPeriph& xpt() const { return m_xpt; }

  // Finds a valid periph by name ("pass0") and takes a reference. O(log periphs).
  PeriphRef acquire(std::string_view name);
  // Names of the valid periphs at `path` (one device), in driver-table order ("pass0", "ses0").
  // O(drivers x log periphs).
  std::vector<std::string> names_for(const Path& path) const;
  std::vector<PeriphSnapshot> periphs() const;
  PeriphStats stats() const;

  // Waits until no periph is alive (after invalidation), up to `timeout`. True if none is.
  bool wait_all_freed(std::chrono::milliseconds timeout);
  // Calls every driver's settle() (see PeriphDriver::settle).
  void settle(std::chrono::milliseconds timeout);

 private:
  friend class Periph;
  PeriphManager(XptPeriph& xpt, std::vector<std::unique_ptr<PeriphDriver>> drivers);

  void on_event(const AsyncEvent& event);
  void attach_drivers(const Path& path);
  void invalidate_path(const Path& path);
  void free_periph(Periph& periph, bool attached);  // Last release.
  // Calls `fn(Periph&)` for every periph not yet freed on a device that `path` covers: for one
  // device an index lookup per driver, for one bus or target a range of the index, for every
  // bus one pass. Caller holds m_lock.
  template <class Fn>
  void for_each_covered(const Path& path, Fn&& fn);
  // The index of `driver` in m_drivers.
  std::size_t index_of(const PeriphDriver& driver) const;

  XptPeriph& m_xpt;
  std::vector<std::unique_ptr<PeriphDriver>> m_drivers;  // Immutable after construction.
  mutable std::mutex m_lock;                             // The topology lock.
  std::condition_variable m_cv;  // hold() waiters; wait_all_freed() (notified at the last free).
  // Per driver: unit -> periph. Guarded by m_lock.
  std::map<const PeriphDriver*, std::map<std::uint32_t, std::unique_ptr<Periph>>> m_units;
  // Per driver: no unit below this is free (keeps allocation O(1) amortized). Guarded by m_lock.
  std::map<const PeriphDriver*, std::uint32_t> m_unit_hint;
  // (path, driver's index in m_drivers) -> the periph not yet freed there (at most one:
  // attach_drivers does not create a second while one is in m_units). The index of m_units by
  // path, so that per-device lookups (names, events, invalidation) do not scan every periph;
  // a device's periphs are neighbours, in driver order. Guarded by m_lock.
  std::map<std::pair<Path, std::size_t>, Periph*> m_by_path;
  PeriphStats m_stats;  // Guarded by m_lock.
  std::unique_ptr<Subscription> m_subscription;
};

}  // namespace ucam::cam
