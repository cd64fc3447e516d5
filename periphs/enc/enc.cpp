// The enclosure driver's core: lifecycle, daemon, published state, events and ioctls. The
// backends (ses_backend.cpp, safte_backend.cpp) read and control the enclosure; see backend.h.
#include "periphs/enc/enc.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "base/check.h"
#include "periphs/enc/backend.h"
#include "periphs/enc/safte_backend.h"
#include "periphs/enc/ses_backend.h"
#include "scsi/cdb.h"
#include "scsi/ses.h"

namespace ucam::enc {
namespace ses = scsi::ses;

namespace {

// The backends, in the order they are asked (FreeBSD's enc_type lookup): SES first, so an SES
// device that also says SAF-TE in its INQUIRY is driven as SES.
struct BackendEntry {
  bool (*matches)(const cam::DeviceInfo& device);
  std::unique_ptr<Backend> (*make)(const EncOptions& options);
};
const BackendEntry kBackends[] = {
    {ses_matches,
     [](const EncOptions& options) -> std::unique_ptr<Backend> {
       return std::make_unique<SesBackend>(options);
     }},
    {safte_matches,
     [](const EncOptions&) -> std::unique_ptr<Backend> {
       return std::make_unique<SafteBackend>();
     }},
};

EncSoftc& softc_of(cam::Periph& periph) {
  return periph.softc<EncSoftc>();
}

}  // namespace

// ---- EncSoftc ---------------------------------------------------------------------------------

void EncSoftc::request(std::uint32_t actions) {
  {
    std::lock_guard guard(lock);
    pending |= actions;
  }
  work_cv.notify_one();
}

std::vector<std::shared_ptr<ControlRequest>> EncSoftc::take_requests() {
  std::lock_guard guard(lock);
  std::vector<std::shared_ptr<ControlRequest>> batch(requests.begin(), requests.end());
  requests.clear();
  return batch;
}

void EncSoftc::finish(ControlRequest& r, Result<void> result) {
  {
    std::lock_guard guard(lock);
    r.result = std::move(result);
    r.done = true;
  }
  done_cv.notify_all();
}

std::shared_ptr<const EncState> EncSoftc::published_state() {
  std::lock_guard guard(lock);
  return invalid ? nullptr : published;
}

// ---- Commands ---------------------------------------------------------------------------------

Fetched receive_diagnostic(EncSoftc& sc, std::vector<std::uint8_t>& buffer, std::uint8_t page,
                           cam::CancelToken* cancel) {
  cam::Periph& periph = sc.periph;
  Fetched f;
  buffer.resize(kReadSize);
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb(scsi::receive_diagnostic_results(scsi::PageCodeValid::Yes, page, 0xffff).span());
  // The allocation length field is 16 bits; our buffer is smaller, so say what we have.
  ccb.cdb[3] = static_cast<std::uint8_t>(kReadSize >> 8);
  ccb.cdb[4] = static_cast<std::uint8_t>(kReadSize & 0xff);
  ccb.dir = cam::DataDir::In;
  ccb.data = buffer.data();
  ccb.dxfer_len = kReadSize;
  ccb.timeout = std::chrono::seconds(60);
  periph.xpt().run_sync(ccb, cancel);
  ++sc.commands;
  f.status = ccb.status;
  if (ccb.status == CamStatus::ReqCmp) {
    f.data.assign(buffer.begin(), buffer.begin() + (kReadSize - ccb.resid));
  }
  f.sense.assign(ccb.sense_data.begin(), ccb.sense_data.begin() + ccb.sense_len);
  return f;
}

Result<void> send_diagnostic(EncSoftc& sc, std::vector<std::uint8_t> page,
                             cam::CancelToken* cancel) {
  cam::Periph& periph = sc.periph;
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb(scsi::send_diagnostic(scsi::PageFormat::Standard, scsi::SelfTest::No,
                                    static_cast<std::uint16_t>(page.size()))
                  .span());
  ccb.dir = cam::DataDir::Out;
  ccb.data = page.data();
  ccb.dxfer_len = static_cast<std::uint32_t>(page.size());
  ccb.timeout = std::chrono::seconds(60);
  periph.xpt().run_sync(ccb, cancel);
  ++sc.commands;
  if (ccb.status != CamStatus::ReqCmp) {
    if (ccb.status == CamStatus::DevNotThere || ccb.status == CamStatus::SelTimeout) {
      return fail_errno(ENXIO, periph.name() + ": SEND DIAGNOSTIC: device is gone");
    }
    return fail(Error::from_cam(ccb.status, periph.name() + ": SEND DIAGNOSTIC"));
  }
  return {};
}

// ---- Peers ------------------------------------------------------------------------------------

// This process could not read the status page. Another process of the same enclosure whose own
// last read succeeded, on the same configuration, has read the same enclosure: show its
// element and enclosure status, saying through which SES device (`status_via`), so that every
// path of an enclosure gives one view even while one of them fails. Without such a peer the
// last status read is kept. Either way `path_error` says why this path failed.
void adopt_peer_status(EncSoftc& sc) {
  sc.work.path_error =
      sc.work.warnings.empty() ? std::string("status page unreadable") : sc.work.warnings.back();
  std::shared_ptr<const EncState> peer_state;
  std::string via;
  sc.paths.for_each_peer(sc.periph, [&](cam::Periph& peer) {
    if (peer_state) {
      return;
    }
    auto s = softc_of(peer).published_state();
    if (s && s->configured && s->path_error.empty() && s->status_via.empty() &&
        s->generation == sc.work.generation && s->elements.size() == sc.work.elements.size()) {
      peer_state = std::move(s);
      via = peer.name();
    }
  });
  sc.work.status_via = via;
  if (peer_state) {
    sc.work.enclosure_status = peer_state->enclosure_status;
    for (std::size_t i = 0; i < sc.work.elements.size(); ++i) {
      if (sc.work.elements[i].status != peer_state->elements[i].status) {
        sc.work.elements.mutate(i).status = peer_state->elements[i].status;
      }
    }
  }
  sc.request(kPublish);
}

// ---- Daemon ------------------------------------------------------------------------------------

namespace {

// The enclosure is gone: withdraw the physical paths it vouched for and leave its peers.
void clear_published_paths(EncSoftc& sc) {
  sc.paths.publish(sc.periph.xpt(), &sc.periph, {});
  sc.paths.forget(sc.periph);
}

void post_changes(cam::Periph& periph, const EncState& before, const EncState& after) {
  auto& xpt = periph.xpt();
  const auto post = [&](cam::AsyncCode code, std::int32_t element, std::uint8_t old_status,
                        std::uint8_t new_status) {
    cam::AsyncEvent e{code, periph.path()};
    e.payload = std::make_shared<const ElementEvent>(element, old_status, new_status);
    xpt.post_async(e);
  };
  if (before.configured && before.enclosure_status != after.enclosure_status) {
    post(cam::AsyncCode::EnclosureStatusChanged, -1, before.enclosure_status,
         after.enclosure_status);
  }
  if (!before.configured || before.generation != after.generation ||
      before.elements.size() != after.elements.size()) {
    return;  // A new configuration: element identities changed, nothing to diff.
  }
  for (std::size_t i = 0; i < after.elements.size(); ++i) {
    if (after.elements.same_element(before.elements, i)) {
      continue;  // Shared by both states: unchanged.
    }
    const auto& a = before.elements[i];
    const auto& b = after.elements[i];
    const auto old_code = ses::status_code(a.status);
    const auto new_code = ses::status_code(b.status);
    if (old_code != new_code) {
      post(cam::AsyncCode::ElementStatusChanged, b.index, old_code, new_code);
    }
    if (a.devices != b.devices) {
      post(cam::AsyncCode::SlotDeviceChanged, b.index, 0, 0);
    }
  }
}

// Publishes sc.work: readers see it at once, waiters wake, subscribers get what changed.
void step_publish(EncSoftc& sc) {
  cam::Periph& periph = sc.periph;
  sc.work.refresh++;
  sc.work.commands = sc.commands.load();
  // Shares the elements with sc.work (and, for those no step changed, with `before`): the next
  // change to one makes sc.work a copy of it first (EncElementList).
  auto next = std::make_shared<const EncState>(sc.work);
  std::shared_ptr<const EncState> before;
  {
    std::lock_guard lock(sc.lock);
    before = std::exchange(sc.published, next);
  }
  sc.done_cv.notify_all();
  sc.work.warnings.clear();
  post_changes(periph, *before, *next);
  if (std::exchange(sc.notify_peers, false)) {
    // After publishing, so that a peer that cannot read the enclosure itself adopts this state.
    sc.paths.for_each_peer(periph, [](cam::Periph& peer) { softc_of(peer).request(kPeerStatus); });
  }
}

// The per-enclosure daemon (enc_daemon). Holds a periph reference; drops it when it exits.
// `running` is the driver's count of daemons in their loop.
void daemon_main(cam::Periph* periph, std::chrono::milliseconds interval,
                 std::atomic<std::size_t>* running) {
  EncSoftc& sc = softc_of(*periph);
  auto next_poll = std::chrono::steady_clock::now() + interval;
  for (;;) {
    std::uint32_t action = 0;
    {
      std::unique_lock lock(sc.lock);
      while (!sc.invalid && sc.pending == 0) {
        if (sc.work_cv.wait_until(lock, next_poll) == std::cv_status::timeout) {
          sc.pending |= sc.backend->poll_actions();
          next_poll = std::chrono::steady_clock::now() + interval;
        }
      }
      if (sc.invalid) {
        break;
      }
      action = sc.pending & (~sc.pending + 1);  // Lowest set bit.
      sc.pending &= ~(action == kStatus ? kStatus | kPeerStatus : action);
      sc.busy = true;
    }
    if (action == kPublish) {
      step_publish(sc);
    } else {
      sc.backend->run(sc, action);
    }
    bool idle = false;
    {
      std::lock_guard lock(sc.lock);
      sc.busy = false;
      idle = sc.pending == 0;
    }
    if (idle) {
      sc.done_cv.notify_all();  // Waiters for a finished refresh (settle, EncRefresh).
    }
  }
  // Invalidated: the enclosure is gone, so the slots it vouched for are unknown now. Withdraw
  // its physical paths (a disk another SES device of the same enclosure still vouches for
  // keeps its path), fail what is still queued, and leave.
  clear_published_paths(sc);
  {
    std::lock_guard lock(sc.lock);
    for (const auto& r : sc.requests) {
      r->result = fail_errno(ENXIO, periph->name() + ": enclosure is gone");
      r->done = true;
    }
    sc.requests.clear();
  }
  sc.done_cv.notify_all();
  running->fetch_sub(1);  // The driver outlives every daemon: it joins them all.
  periph->release();      // May free the periph (destroy() joins us): touch nothing after this.
}

// What a wait that `cancel` ended returns: what a command aborted through its token returns.
Error cancelled_error(cam::Periph& periph, std::string_view what) {
  return Error::from_cam(CamStatus::ReqAborted,
                         fmt::format("{}: {} cancelled", periph.name(), what));
}

// Queues `req` for the daemon and waits for it, or until `cancel` fires. Cancelled while the
// request is still queued, it is withdrawn: the enclosure never sees it. Cancelled once the
// daemon took it, the caller returns anyway and the daemon, holding its own reference, finishes
// the command it sent (bounded by that command's timeout) and writes a result nobody reads; the
// caller's stack and open file are not touched after it returns. The Watch is made before and
// destroyed after sc.lock is held (its wake takes sc.lock under the token's lock).
Result<void> submit_control(cam::Periph& periph, std::shared_ptr<ControlRequest> req,
                            cam::CancelToken* cancel) {
  EncSoftc& sc = softc_of(periph);
  bool cancelled = false;  // Guarded by sc.lock.
  const cam::CancelToken::Watch watch(cancel, [&sc, &cancelled] {
    {
      std::lock_guard lock(sc.lock);
      cancelled = true;
    }
    sc.done_cv.notify_all();
  });
  std::unique_lock lock(sc.lock);
  if (sc.invalid) {
    return fail_errno(ENXIO, periph.name() + ": enclosure is gone");
  }
  if (cancelled) {
    return fail(cancelled_error(periph, "control"));
  }
  sc.requests.push_back(req);
  sc.pending |= kControl;
  sc.work_cv.notify_one();
  sc.done_cv.wait(lock, [&] { return req->done || cancelled; });
  if (!req->done) {
    sc.requests.erase(std::remove(sc.requests.begin(), sc.requests.end(), req), sc.requests.end());
    return fail(cancelled_error(periph, "control"));
  }
  return req->result;
}

}  // namespace

// ---- Driver ------------------------------------------------------------------------------------

EncDriver::EncDriver(devfs::Devfs& devfs, EncOptions options)
    : NodePeriphDriver(devfs), m_options(options), m_paths(std::make_unique<PathRegistry>()) {
}
EncDriver::~EncDriver() {
  // Every periph is freed by now (the periph manager waits for that before it destroys its
  // drivers), so every daemon has left its loop; join the ones no destroy() could join.
  std::vector<std::thread> finished;
  {
    std::lock_guard lock(m_lock);
    finished.swap(m_finished);
  }
  for (auto& t : finished) {
    t.join();
  }
}

std::size_t EncDriver::daemons() const {
  return m_daemons.load();
}

bool EncDriver::matches(const cam::DeviceInfo& device) const {
  return std::any_of(std::begin(kBackends), std::end(kBackends),
                     [&](const BackendEntry& b) { return b.matches(device); });
}

std::unique_ptr<periph::NodeSoftc> EncDriver::make_softc(cam::Periph& periph) {
  auto sc = std::make_unique<EncSoftc>(periph, *m_paths);
  // The first backend that takes the device; SES when the XPT no longer knows it (the attach
  // then fails on its first command, as any other would).
  const auto info = periph.xpt().device(periph.path());
  for (const auto& b : kBackends) {
    if (info && b.matches(*info)) {
      sc->backend = b.make(m_options);
      break;
    }
  }
  if (!sc->backend) {
    sc->backend = kBackends[0].make(m_options);
  }
  sc->pending = sc->backend->first_actions();
  // React to disks arriving and leaving on the enclosure's bus (and everywhere when searching
  // globally): their physical paths depend on it. And re-read the enclosure when a control
  // reached it through a pass or sg node (ScsiAen). Subscribed before the node exists, so
  // nothing that happens once the enclosure is visible is missed.
  const cam::Path scope =
      m_options.search_globally
          ? cam::Path::wildcard()
          : cam::Path{periph.path().bus, cam::Path::kWildcardTarget, cam::Path::kWildcardLun};
  EncSoftc* scp = sc.get();  // The callback dies with the subscription, which the softc owns.
  const cam::Path self = periph.path();
  sc->bus_events = periph.xpt().subscribe(
      cam::AsyncCode::FoundDevice | cam::AsyncCode::LostDevice | cam::AsyncCode::ScsiAen, scope,
      [scp, self](const cam::AsyncEvent& event) {
        if (event.code != cam::AsyncCode::ScsiAen) {
          scp->request(kStatus | kDescriptors | kAdditional | kPhysPaths);
        } else if (event.path == self) {
          scp->request(kStatus | kDescriptors | kAdditional);
        }
      });
  return sc;
}

Result<void> EncDriver::check_open_mode(const cam::Periph& /*periph*/,
                                        const devfs::OpenFile& /*file*/) {
  return {};  // Any mode opens: the set ioctls check for write access themselves.
}

Result<void> EncDriver::attach(cam::Periph& periph) {
  // The node first: if it cannot be made, the attach fails with no daemon started (the periph
  // is then freed without invalidate() or destroy(), so nothing else may be left running).
  if (auto attached = NodePeriphDriver::attach(periph); !attached) {
    softc_of(periph).bus_events.reset();
    return attached;
  }
  reap_finished();
  {
    std::lock_guard lock(m_lock);
    m_periphs.insert(&periph);
  }
  periph.acquire_unconditional();  // The daemon's reference.
  m_daemons.fetch_add(1);
  softc_of(periph).daemon = std::thread(daemon_main, &periph, m_options.poll_interval, &m_daemons);
  return {};
}

void EncDriver::reap_finished() {
  std::vector<std::thread> finished;
  {
    std::lock_guard lock(m_lock);
    finished.swap(m_finished);
  }
  for (auto& t : finished) {
    t.join();  // Each has dropped its last reference: it is returning, or has returned.
  }
}

void EncDriver::invalidate(cam::Periph& periph) {
  NodePeriphDriver::invalidate(periph);  // Sets sc.invalid; the node is destroyed async.
  EncSoftc& sc = softc_of(periph);
  sc.work_cv.notify_all();  // The daemon exits; waiting control requests fail with ENXIO.
  sc.done_cv.notify_all();
  // From the event thread: unsubscribe returns at once for a callback of this same thread.
  sc.bus_events.reset();
}

void EncDriver::destroy(cam::Periph& periph) {
  NodePeriphDriver::destroy(periph);  // Reports opens still outstanding.
  // FreeBSD's enc_dtor waits for its daemon. Ours holds a reference until its last statement,
  // so it is returning now: joining it is quick. When its own release was the last one, this
  // runs on the daemon thread, which cannot join itself: the driver joins it later.
  std::thread daemon = std::move(softc_of(periph).daemon);
  {
    std::lock_guard lock(m_lock);
    m_periphs.erase(&periph);
    if (daemon.joinable() && daemon.get_id() == std::this_thread::get_id()) {
      m_finished.push_back(std::move(daemon));
    }
  }
  if (daemon.joinable()) {
    daemon.join();
  }
}

void EncDriver::settle(std::chrono::milliseconds timeout) {
  assert_may_block("EncDriver::settle");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<cam::PeriphRef> refs;
  {
    std::lock_guard lock(m_lock);
    for (cam::Periph* p : m_periphs) {
      if (p->acquire()) {
        refs.emplace_back(p);
      }
    }
  }
  for (auto& ref : refs) {
    EncSoftc& sc = softc_of(*ref.get());
    std::unique_lock lock(sc.lock);
    sc.done_cv.wait_until(lock, deadline, [&] {
      return sc.invalid || (sc.published->refresh > 0 && sc.pending == 0 && !sc.busy);
    });
  }
}

Result<void> EncDriver::ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  EncSoftc& sc = softc_of(periph);
  const bool writable = (file.flags() & devfs::kOpenWrite) != 0;
  switch (request.code()) {
    case EncGetState::kCode: {
      std::lock_guard lock(sc.lock);
      static_cast<EncGetState&>(request).state = sc.published;
      return {};
    }
    case EncGetElementDevnames::kCode: {
      auto& r = static_cast<EncGetElementDevnames&>(request);
      std::shared_ptr<const EncState> state;
      {
        std::lock_guard lock(sc.lock);
        state = sc.published;
      }
      if (r.index < 0 || static_cast<std::size_t>(r.index) >= state->elements.size()) {
        return fail_errno(EINVAL, fmt::format("{}: no element {}", periph.name(), r.index));
      }
      r.names.clear();
      for (const auto& p : state->elements[r.index].devices) {
        for (const auto& n : periph.manager().names_for(p)) {
          r.names += (r.names.empty() ? "" : ",") + n;
        }
      }
      if (r.names.empty()) {
        return fail_errno(ENODEV,
                          fmt::format("{}: no device in element {}", periph.name(), r.index));
      }
      return {};
    }
    case EncSetElementStatus::kCode: {
      if (!writable) {
        return fail_errno(EBADF, periph.name() + ": opened read-only");
      }
      auto& r = static_cast<EncSetElementStatus&>(request);
      if ((r.control[0] & ses::kSelect) == 0) {
        return {};  // FreeBSD: SELECT clear is a silent no-op.
      }
      auto req = std::make_shared<ControlRequest>();
      req->index = r.index;
      req->bytes = r.control;
      req->generation = r.generation;
      return submit_control(periph, std::move(req), r.cancel);
    }
    case EncSetEnclosureStatus::kCode: {
      if (!writable) {
        return fail_errno(EBADF, periph.name() + ": opened read-only");
      }
      auto& r = static_cast<EncSetEnclosureStatus&>(request);
      auto req = std::make_shared<ControlRequest>();
      req->index = -1;
      req->bytes[0] = r.flags;
      req->generation = r.generation;
      return submit_control(periph, std::move(req), r.cancel);
    }
    case EncString::kGet: {
      // On the caller's thread, beside the daemon: a buffer of its own.
      std::vector<std::uint8_t> buffer;
      auto f = receive_diagnostic(sc, buffer, 0x04, static_cast<EncString&>(request).cancel);
      if (f.status != CamStatus::ReqCmp) {
        return fail(Error::from_cam(f.status, periph.name() + ": String In page"));
      }
      static_cast<EncString&>(request).data = std::move(f.data);
      return {};
    }
    case EncString::kSet: {
      if (!writable) {
        return fail_errno(EBADF, periph.name() + ": opened read-only");
      }
      auto& r = static_cast<EncString&>(request);
      if (r.data.size() > 0xffff - 4) {
        return fail_errno(EINVAL, periph.name() + ": string too long");
      }
      std::vector<std::uint8_t> page{0x04, 0x00, 0, 0};
      store_be16(page, 2, static_cast<std::uint16_t>(r.data.size()));
      page.insert(page.end(), r.data.begin(), r.data.end());
      return send_diagnostic(sc, std::move(page), r.cancel);
    }
    case EncRefresh::kCode: {
      auto& r = static_cast<EncRefresh&>(request);
      // Nothing of the caller's is queued: cancelled, it just stops waiting (the daemon's
      // refresh goes on). The Watch outlives `lock`, as in submit_control().
      bool cancelled = false;  // Guarded by sc.lock.
      const cam::CancelToken::Watch watch(r.cancel, [&sc, &cancelled] {
        {
          std::lock_guard lock(sc.lock);
          cancelled = true;
        }
        sc.done_cv.notify_all();
      });
      std::unique_lock lock(sc.lock);
      const auto start = sc.published->refresh;
      const auto refreshed = [&] { return sc.published->refresh > start && sc.pending == 0; };
      sc.pending |= sc.backend->poll_actions() | kPhysPaths;
      sc.work_cv.notify_one();
      if (!sc.done_cv.wait_for(lock, r.timeout,
                               [&] { return sc.invalid || cancelled || refreshed(); })) {
        return fail_errno(ETIMEDOUT, periph.name() + ": refresh timed out");
      }
      if (sc.invalid) {
        return fail_errno(ENXIO, periph.name() + ": enclosure is gone");
      }
      if (!refreshed()) {
        return fail(cancelled_error(periph, "refresh"));
      }
      return {};
    }
    default:
      return fail_errno(ENOTTY, periph.name() + ": unknown ioctl");
  }
}

}  // namespace ucam::enc
