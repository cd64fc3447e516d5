// What a SIM may call on the XPT (FreeBSD's xpt_bus_register, xpt_done, xpt_rescan,
// xpt_async, xpt_freeze_devq...). A SIM receives this interface from whoever builds the stack
// and keeps a reference; the XPT must outlast every SIM registered with it.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "cam/async.h"
#include "cam/ccb.h"
#include "cam/sim.h"

namespace ucam::cam {

class XptSim {
 public:
  // Registers a bus served by `sim` and returns its path id (the `bus` of every Path on it).
  // Raises PathRegistered. Does not scan: callers (or the SIM) request a scan. `sim` must stay
  // alive until deregister_bus() has returned.
  virtual Result<std::uint32_t> register_bus(Sim& sim) = 0;

  // Removes the bus: every device on it is lost (LostDevice, queued CCBs complete with
  // DevNotThere), then PathDeregistered. Waits until the XPT no longer calls into the SIM; CCBs
  // still inside the SIM are aborted through Sim::abort(). Must not be called from a completion.
  virtual void deregister_bus(std::uint32_t path_id) = 0;

  // Completes a CCB (xpt_done). Any thread, never blocks. After done() returns the SIM must not
  // touch the CCB. A CCB completed from another thread before Sim::action() for it has returned
  // completes on the thread that called action(), once that returns.
  virtual void done(Ccb& ccb) = 0;

  // Completes a CCB on the calling thread (xpt_done_direct): its error recovery and callback run
  // before done_direct() returns, sparing the hop to the XPT's completion thread (a thread wake-up
  // per command, which a synchronous submitter then waits for twice). For a SIM's own completion
  // thread: call it with no SIM lock held, since a retry or the callback may start the next CCB
  // (Sim::action() runs on this thread). Callbacks never block, but each one delays the SIM
  // thread by its run time. From inside Sim::action() or a callback it is done(), and so it is for
  // a CCB whose Sim::action() has not yet returned on its submitting thread (see done()).
  virtual void done_direct(Ccb& ccb) { done(ccb); }

  // Asks for an asynchronous rescan (xpt_rescan): `path` may wildcard target and/or LUN.
  // Newly found LUNs raise FoundDevice, departed ones LostDevice. Coalesced, never blocks.
  virtual void request_rescan(const Path& path) = 0;

  // Reports a transport event the SIM observed (BusReset, SentBdr).
  virtual void announce(AsyncCode code, const Path& path) = 0;

  // Freezes the SIM queue of bus `path_id` (xpt_freeze_simq): until the matching release the
  // XPT starts no CCB in the SIM for any device of the bus; new and retried CCBs wait in their
  // device queues (without a deadline: a command timeout runs only inside the SIM). Freezes
  // count: each needs one release_simq(). A CCB the XPT was already handing to Sim::action()
  // when the freeze arrived may still arrive; the SIM completes it (Requeue puts it back in
  // its queue). ENXIO if the bus is not registered. Any thread; never blocks.
  virtual Result<void> freeze_simq(std::uint32_t path_id) = 0;

  // Drops one freeze of bus `path_id` (xpt_release_simq). Releasing the last one starts what
  // waits, device by device in path order and each device's CCBs in the order they arrived,
  // from the calling thread: Sim::action() runs on it, so do not hold a lock action() takes.
  // EINVAL if the queue is not frozen, ENXIO if the bus is not registered. Never blocks for
  // long; not from a completion callback.
  virtual Result<void> release_simq(std::uint32_t path_id) = 0;

 protected:
  ~XptSim() = default;
};

}  // namespace ucam::cam
