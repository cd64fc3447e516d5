// The enclosure driver's core and its backends (FreeBSD's enc_vec): what a backend (SES,
// SAF-TE) supplies and what the core gives it. Internal to periphs/enc.
//
// The core (enc.cpp) owns the lifecycle (node, daemon thread, references), the request queue,
// the published EncState and its events, the ioctls, and the "one enclosure, one view"
// machinery between peers. A backend speaks its command set: it reads the enclosure into the
// daemon's working state (EncSoftc::work), applies control requests, and for SES matches
// slots to disks and publishes their physical paths. It never publishes a state or posts an
// event itself: it asks the core to (kPublish).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "cam/ccb.h"
#include "periphs/enc/enc.h"
#include "periphs/enc/path_registry.h"
#include "periphs/node/node_periph.h"

namespace ucam::enc {

// Daemon actions, lowest bit first (FreeBSD's enc_fsm_step order: a lower value is a higher
// priority). A backend ignores the bits it has no use for.
enum Action : std::uint32_t {
  kPages = 1U << 0,        // SES: supported diagnostic pages.
  kConfig = 1U << 1,       // The configuration (element map).
  kStatus = 1U << 2,       // Element and enclosure status.
  kDescriptors = 1U << 3,  // SES: element descriptors.
  kAdditional = 1U << 4,   // SES: additional element status.
  kControl = 1U << 5,      // Apply the queued control requests.
  kPhysPaths = 1U << 6,    // SES: match slots to disks and publish their physical paths.
  kPublish = 1U << 7,      // The core's: publish EncSoftc::work and post what changed.
  // A status read another process of the same enclosure asked for after it saw the enclosure
  // change. Like kStatus, but what it finds is not passed on (no echo between two paths); a
  // kStatus run first also serves it.
  kPeerStatus = 1U << 8,
};

// A control request. Shared: the caller and, once the backend took it from the queue, the
// daemon each hold a reference, so a caller whose CancelToken fires may return at once while
// the daemon finishes the command it already sent.
struct ControlRequest {
  int index = -1;  // -1: enclosure control flags (bytes[0]).
  std::array<std::uint8_t, 4> bytes{};
  std::optional<std::uint32_t> generation;
  bool done = false;    // Guarded by EncSoftc::lock.
  Result<void> result;  // Guarded by EncSoftc::lock.
};

struct EncSoftc;

// One backend per enclosure, chosen at attach and owned by its softc. Every method runs on the
// enclosure's daemon thread unless said otherwise, so a backend's own state needs no lock.
class Backend {
 public:
  virtual ~Backend() = default;
  // The actions the daemon starts with: read the enclosure from scratch (enc_vec init_enc).
  virtual std::uint32_t first_actions() const = 0;
  // The actions a poll and EncRefresh run (enc_vec poll_status). Any thread.
  virtual std::uint32_t poll_actions() const = 0;
  // Runs one action (never kPublish, which is the core's). Failures become warnings in
  // sc.work; follow-up actions are asked for with sc.request(). kControl takes the queued
  // requests (sc.take_requests()) and finishes each one (sc.finish()).
  virtual void run(EncSoftc& sc, std::uint32_t action) = 0;
};

// The periph's softc: the node lifecycle's state (periph::NodeSoftc: node, lock, invalid,
// open counts) plus the enclosure's.
struct EncSoftc final : periph::NodeSoftc {
  // `periph` owns this softc; `paths` is the driver's and outlasts every softc.
  EncSoftc(cam::Periph& periph, PathRegistry& paths) : periph(periph), paths(paths) {}

  cam::Periph& periph;
  PathRegistry& paths;
  std::unique_ptr<Backend> backend;  // Set by attach, before the daemon starts; then fixed.
  // The daemon thread, started once the node exists. Joined by EncDriver::destroy() (or, when
  // the daemon dropped the last reference itself, by the driver later: see destroy()).
  std::thread daemon;
  std::unique_ptr<cam::Subscription> bus_events;

  std::condition_variable work_cv;  // Wakes the daemon: new actions, invalidation.
  std::condition_variable done_cv;  // Wakes waiters: publishes, finished requests, idle.
  bool busy = false;                // The daemon is running an action. Guarded by lock.
  std::uint32_t pending = 0;        // Action bits. Guarded by lock.
  std::deque<std::shared_ptr<ControlRequest>> requests;                      // Guarded by lock.
  std::shared_ptr<const EncState> published = std::make_shared<EncState>();  // Guarded by lock.

  // Daemon-only state (no lock: only the daemon thread touches it).
  EncState work;  // What the next kPublish publishes.
  // The last status read (not asked for by a peer) found the enclosure changed: the next
  // publish asks the other processes of the enclosure to read it too.
  bool notify_peers = false;
  // Commands sent: by the daemon thread and by callers' threads (String In/Out, control).
  std::atomic<std::uint64_t> commands{0};

  // Adds `actions` to the pending ones and wakes the daemon. Any thread; takes lock.
  void request(std::uint32_t actions);
  // Daemon thread: takes every queued control request (the queue is left empty).
  std::vector<std::shared_ptr<ControlRequest>> take_requests();
  // Daemon thread: gives `r` its result and wakes its waiter (who may have stopped waiting).
  void finish(ControlRequest& r, Result<void> result);
  // The published state, or nullptr once invalidated. Any thread; takes lock.
  std::shared_ptr<const EncState> published_state();
};

// The status-page read of `sc` failed. Shows instead what another process of the same
// enclosure (PathRegistry peers) last read on the same configuration, naming it in status_via;
// without one keeps the last status. Sets path_error and asks for kPublish. Daemon thread.
void adopt_peer_status(EncSoftc& sc);

// ---- Commands (SPC diagnostic pages; any thread: they count in sc.commands) -----------------

struct Fetched {
  CamStatus status = CamStatus::ReqInProg;
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> sense;
};

constexpr std::uint32_t kReadSize = 0x8000;  // FreeBSD's SCSZ.

// RECEIVE DIAGNOSTIC RESULTS for `page` into `buffer` (resized to kReadSize once; a buffer
// reused across calls is not cleared). Each thread brings its own buffer.
Fetched receive_diagnostic(EncSoftc& sc, std::vector<std::uint8_t>& buffer, std::uint8_t page,
                           cam::CancelToken* cancel = nullptr);
// SEND DIAGNOSTIC with `page`; ENXIO when the device is gone.
Result<void> send_diagnostic(EncSoftc& sc, std::vector<std::uint8_t> page,
                             cam::CancelToken* cancel = nullptr);

}  // namespace ucam::enc
