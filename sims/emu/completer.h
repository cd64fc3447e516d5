// Emulator internals: the worker that holds commands delayed or hung by faults.
//
// Abort contract (cam/sim.h). A held CCB is in `m_held` until exactly one of three things takes
// it out, each under m_lock: the worker when its time has come, Sim::abort(), or a flush
// (device gone, reset). Whoever takes it out owns the completion; the two completers (worker,
// flush) write the CCB's result while still holding m_lock and call XptSim::done() only after
// releasing it, so:
//  * abort() that finds the CCB removes it and returns true: nobody touches it again;
//  * abort() that does not find it returns false: the CCB's result is final and done() is
//    called (or running) in another thread; between those two points the SIM only passes the
//    reference to done().
// A command that is still executing in Sim::action() when abort() runs is not held yet: abort()
// returns false and action() completes it (or holds it; then a later abort finds it).
// Lock order: the XPT calls abort() with its device lock held, so m_lock is below every XPT
// lock, and no XPT function is ever called with m_lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "cam/ccb.h"
#include "cam/xpt_sim.h"

namespace ucam::emu {

class EmuBus;
class EmuTarget;
class EmuLun;

class Completer {
 public:
  using Clock = std::chrono::steady_clock;

  // Where a held command was addressed (for abort and flush matching).
  struct Owner {
    const EmuBus* bus = nullptr;
    const EmuTarget* target = nullptr;
    const EmuLun* lun = nullptr;
  };

  // `xpt` must outlast the Completer.
  explicit Completer(cam::XptSim& xpt) : m_xpt(xpt) {}
  ~Completer();  // stop()
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  // Starts the worker thread. Called once, before the first hold().
  void start();

  // Stops the worker after it has completed the commands that are due now. Commands still held
  // stay held (the Emulator flushes them first). Idempotent.
  void stop();

  // Holds `ccb` until `when` (Clock::time_point::max(): until aborted or flushed). Refuses,
  // returning false, if the LUN's epoch is no longer `epoch` (it went away since the command
  // started) or the worker stopped: the caller then completes the CCB itself. Never blocks for
  // long.
  bool hold(cam::Ccb& ccb, const Owner& owner, std::uint64_t epoch, Clock::time_point when);

  // Sim::abort() for `bus`: drops `ccb` if held (true), else false.
  bool abort(const EmuBus& bus, cam::Ccb& ccb);

  // Completes, from the calling thread, every command held for `bus` (and `target`, and `lun`,
  // when not null) with `status`. Returns how many.
  std::size_t flush(const EmuBus& bus, const EmuTarget* target, const EmuLun* lun,
                    CamStatus status);

  std::size_t held() const;

 private:
  struct Entry {
    cam::Ccb* ccb;
    Owner owner;
    Clock::time_point when;
  };

  void run();

  cam::XptSim& m_xpt;
  mutable std::mutex m_lock;
  std::condition_variable m_wake;
  std::vector<Entry> m_held;  // Guarded by m_lock.
  bool m_stopping = false;    // Guarded by m_lock.
  std::thread m_worker;
};

}  // namespace ucam::emu
