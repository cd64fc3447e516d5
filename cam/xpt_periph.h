// What a peripheral driver (and tools built on the stack) may call on the XPT.
//
// Completion context: a CCB's `done` callback runs exactly once, either on the thread that
// called action() (when the SIM completed it synchronously, after the SIM returned) or on the
// XPT's completion thread. In both cases it runs inside a NoBlockScope: it must not sleep,
// wait, or call run_sync(); debug builds abort if it does. It may call action() again.
// Never hold, across action(), a lock that your callback takes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "cam/async.h"
#include "cam/ccb.h"
#include "cam/device_info.h"

namespace ucam::cam {

class Subscription;
class CancelToken;

class XptPeriph {
 public:
  // Queues `ccb` for execution (xpt_action). Never blocks. The CCB must stay alive until its
  // done callback has run. Errors (no such device, bus gone) are reported by completing the
  // CCB with the matching CAM status, not by a return value.
  virtual void action(Ccb& ccb) = 0;

  // Runs `ccb` and waits for completion (cam_periph_runccb). Any `done` set by the caller is
  // replaced. Blocks: never call from a completion callback.
  // With `cancel`, another thread may abort the command through the token (see cam/cancel.h).
  virtual void run_sync(Ccb& ccb, CancelToken* cancel = nullptr) = 0;

  // Aborts a CCB previously passed to action() (XPT_ABORT): if it is still queued, or the SIM
  // still holds it, it completes with ReqAborted; if it is already completing, nothing happens
  // and UaAbort is returned. Never blocks. The CCB must still be alive (not yet completed).
  virtual CamStatus abort(Ccb& ccb) = 0;

  // Freezes / releases the device queue of `path` (xpt_freeze_devq / xpt_release_devq).
  // Frozen queues hold new CCBs; releasing the last freeze dispatches them in order.
  virtual Result<void> freeze_devq(const Path& path) = 0;
  virtual Result<void> release_devq(const Path& path) = 0;

  // Device database.
  virtual std::optional<DeviceInfo> device(const Path& path) const = 0;
  virtual std::vector<DeviceInfo> devices() const = 0;
  // Stores an advanced-info buffer (XPT_DEV_ADVINFO with CDAI_FLAG_STORE). An empty buffer
  // clears it. Raises AdvinfoChanged when, and only when, the stored bytes change.
  virtual Result<void> set_advinfo(const Path& path, AdvinfoType type, Bytes value) = 0;
  // Finds the devices whose VPD 0x83 holds a designator with the same association, type and
  // identifier bytes as `designator` (FreeBSD scsi_devid_match; PIV, protocol and code set
  // ignored). `designator` is one raw designation descriptor (4-byte header + identifier).
  virtual std::vector<Path> match_devid(Bytes designator,
                                        std::optional<std::uint32_t> bus) const = 0;
  // The device table's generation: moves after every bus registration or removal and every
  // device arrival, loss or re-probe (new INQUIRY / VPD data), not on set_advinfo(). Read it
  // before calling match_devid(): while it has not moved since, match_devid() gives the same
  // answers. Any thread; never blocks.
  virtual std::uint64_t device_generation() const = 0;

  // Async events. `mask` is a bit set of AsyncCode; `filter` may wildcard. Callbacks run in
  // order on the XPT's event thread (they may block, and may issue and wait for commands).
  using AsyncCallback = std::function<void(const AsyncEvent&)>;
  virtual std::unique_ptr<Subscription> subscribe(std::uint32_t mask, const Path& filter,
                                                  AsyncCallback callback) = 0;
  // Posts an event to subscribers (xpt_async).
  virtual void post_async(const AsyncEvent& event) = 0;

 protected:
  ~XptPeriph() = default;
};

// An event registration. Destroying it (or calling unsubscribe()) removes the callback: when
// unsubscribe() returns, the callback is not running and will never run again, except when
// called from inside that same callback, where it returns at once and the callback finishes.
class Subscription {
 public:
  virtual ~Subscription() = default;
  virtual void unsubscribe() = 0;
};

}  // namespace ucam::cam
