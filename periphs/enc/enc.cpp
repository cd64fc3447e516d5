#include "periphs/enc/enc.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/check.h"
#include "base/log.h"
#include "scsi/cdb.h"
#include "scsi/safte.h"
#include "scsi/ses.h"
#include "scsi/vpd.h"

namespace ucam::enc {
namespace ses = scsi::ses;
namespace safte = scsi::safte;

// Physical paths vouched for by each enclosure periph. Thread-safe; daemons call it.
class PathRegistry {
 public:
  // Replaces what `owner` vouches for. For every path it dropped that nobody else holds, the
  // stored value is cleared when it is still the one `owner` put there; a path another
  // enclosure still vouches for gets that enclosure's value.
  void publish(cam::XptPeriph& xpt, const void* owner,
               const std::map<cam::Path, std::string>& now) {
    std::lock_guard lock(m_lock);
    for (auto it = m_owners.begin(); it != m_owners.end();) {
      auto& owners = it->second;
      auto mine = owners.find(owner);
      if (mine != owners.end() && now.count(it->first) == 0) {
        const std::string old = mine->second;
        owners.erase(mine);
        if (owners.empty()) {
          clear_if(xpt, it->first, old);
        } else {
          store(xpt, it->first, owners.begin()->second);
        }
      }
      it = owners.empty() ? m_owners.erase(it) : std::next(it);
    }
    for (const auto& [path, value] : now) {
      m_owners[path][owner] = value;
      store(xpt, path, value);
    }
  }

 private:
  static void store(cam::XptPeriph& xpt, const cam::Path& path, const std::string& value) {
    const Bytes bytes(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
    (void)xpt.set_advinfo(path, cam::AdvinfoType::PhysPath, bytes);  // Events only on change.
  }
  static void clear_if(cam::XptPeriph& xpt, const cam::Path& path, const std::string& old) {
    auto info = xpt.device(path);
    if (!info) {
      return;
    }
    auto cur = info->advinfo.find(cam::AdvinfoType::PhysPath);
    if (cur != info->advinfo.end() && std::string(cur->second.begin(), cur->second.end()) == old) {
      (void)xpt.set_advinfo(path, cam::AdvinfoType::PhysPath, {});
    }
  }

 public:
  // Several SES devices (enclosure service processes) can serve one enclosure: they report the
  // same enclosure logical identifier in page 0x01 but each has its own NAA. Every process
  // joins under its enclosure's logical id (0: unknown, no peers) each time it reads the
  // configuration; a member stays until forget(), which its daemon calls before it drops its
  // periph reference, so a member's periph and softc are alive while the registry lock is held.
  void join(cam::Periph& periph, std::uint64_t logical_id, std::uint64_t naa) {
    std::lock_guard lock(m_lock);
    m_members[&periph] = Member{logical_id, naa};
  }
  // FreeBSD puts the NAA in the path ("enc@n<naa>"). So that a disk gets one path, not one per
  // SES device, every process of an enclosure uses the smallest NAA among the live ones.
  // Returns that NAA (`naa` itself without a logical id or an NAA). Joins first.
  std::uint64_t canonical_id(cam::Periph& periph, std::uint64_t logical_id, std::uint64_t naa) {
    join(periph, logical_id, naa);
    std::lock_guard lock(m_lock);
    if (logical_id == 0 || naa == 0) {
      return naa;
    }
    std::uint64_t best = naa;
    for (const auto& [p, m] : m_members) {
      if (m.logical_id == logical_id && m.naa != 0) {
        best = std::min(best, m.naa);
      }
    }
    return best;
  }
  void forget(cam::Periph& periph) {
    std::lock_guard lock(m_lock);
    m_members.erase(&periph);
  }
  // Calls f(peer) for every other process of `periph`'s enclosure, under the registry lock. f
  // may take the peer's softc lock (lock order: registry, then a softc; nothing takes the
  // registry while holding a softc lock) and must not call back into the registry.
  template <class F>
  void for_each_peer(cam::Periph& periph, F f) {
    std::lock_guard lock(m_lock);
    const auto self = m_members.find(&periph);
    if (self == m_members.end() || self->second.logical_id == 0) {
      return;
    }
    for (const auto& [p, m] : m_members) {
      if (p != &periph && m.logical_id == self->second.logical_id) {
        f(*p);
      }
    }
  }

 private:
  struct Member {
    std::uint64_t logical_id = 0;
    std::uint64_t naa = 0;
  };
  std::mutex m_lock;
  std::map<cam::Path, std::map<const void*, std::string>> m_owners;  // Guarded by m_lock.
  std::map<cam::Periph*, Member> m_members;                          // Guarded by m_lock.
};

EncDriver::EncDriver(devfs::Devfs& devfs, EncOptions options)
    : m_devfs(devfs), m_options(options), m_paths(std::make_unique<PathRegistry>()) {
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

namespace {

// Daemon actions, lowest bit first (FreeBSD's enc_fsm_step order: a lower value is a higher
// priority).
enum Action : std::uint32_t {
  kPages = 1U << 0,
  kConfig = 1U << 1,
  kStatus = 1U << 2,
  kDescriptors = 1U << 3,
  kAdditional = 1U << 4,
  kControl = 1U << 5,
  kPhysPaths = 1U << 6,
  kPublish = 1U << 7,
  // A status read another process of the same enclosure asked for after it saw the enclosure
  // change. Like kStatus, but what it finds is not passed on (no echo between two paths); a
  // kStatus run first also serves it.
  kPeerStatus = 1U << 8,
};

enum class Origin : std::uint8_t { Own, Peer };

constexpr std::uint32_t kReadSize = 0x8000;  // FreeBSD's SCSZ.

// A control request. Shared: the caller and, once step_control() took it from the queue, the
// daemon each hold a reference, so a caller whose CancelToken fires may return at once (see
// submit_control()) while the daemon finishes the command it already sent.
struct ControlRequest {
  int index = -1;  // -1: enclosure control flags.
  std::array<std::uint8_t, 4> bytes{};
  std::optional<std::uint32_t> generation;
  bool done = false;    // Guarded by Softc::lock.
  Result<void> result;  // Guarded by Softc::lock.
};

struct Softc final : cam::PeriphSoftc {
  std::shared_ptr<devfs::Node> node;
  // The daemon thread, started once the node exists. Joined by EncDriver::destroy() (or, when
  // the daemon dropped the last reference itself, by the driver later: see destroy()).
  std::thread daemon;
  std::unique_ptr<cam::Subscription> bus_events;

  std::mutex lock;
  std::condition_variable work_cv;  // Wakes the daemon: new actions, invalidation.
  std::condition_variable done_cv;  // Wakes waiters: publishes, finished requests, idle.
  bool invalid = false;             // Guarded by lock.
  bool daemon_exited = false;       // Guarded by lock.
  bool busy = false;                // The daemon is running an action. Guarded by lock.
  std::uint32_t pending = 0;        // Action bits. Guarded by lock.
  std::deque<std::shared_ptr<ControlRequest>> requests;                      // Guarded by lock.
  std::shared_ptr<const EncState> published = std::make_shared<EncState>();  // Guarded by lock.
  std::uint32_t open_count = 0;                                              // Guarded by lock.

  // Daemon-only state (no lock: only the daemon thread touches it).
  bool has_descriptors = false;
  bool has_additional = false;
  std::optional<ses::SesConfig> config;
  std::vector<ses::ElementRef> map;
  std::optional<ses::SesStatus> status;
  EncState work;
  std::map<cam::Path, std::string> published_paths;  // What we stored, to clear it later.
  // Commands sent: by the daemon thread and by callers' threads (String In/Out, control).
  std::atomic<std::uint64_t> commands{0};
  // The daemon thread's buffer, reused for every RECEIVE DIAGNOSTIC RESULTS it sends. Callers'
  // threads (EncString get) bring their own.
  std::vector<std::uint8_t> io_buffer;
  std::uint64_t own_id = 0;  // This SES device's NAA (FreeBSD's enclosure id).
  bool search_globally = false;
  // The last status read (not asked for by a peer) found the enclosure changed: the next
  // publish asks the other processes of the enclosure to read it too.
  bool notify_peers = false;

  // SAF-TE backend (daemon-only state).
  bool safte = false;
  std::optional<safte::Snapshot> snapshot;
};

Softc& softc_of(cam::Periph& periph) {
  return periph.softc<Softc>();
}
cam::Periph& periph_of(devfs::Node& node) {
  return *static_cast<cam::Periph*>(node.drv1());
}

void request(Softc& sc, std::uint32_t actions) {
  {
    std::lock_guard lock(sc.lock);
    sc.pending |= actions;
  }
  sc.work_cv.notify_one();
}

std::uint32_t poll_actions(const Softc& sc) {
  if (sc.safte) {
    return kStatus;
  }
  return kStatus | (sc.has_descriptors ? kDescriptors : 0U) |
         (sc.has_additional ? kAdditional : 0U);
}

// The first NAA designator of 8+ bytes with NAA 3 or 5 in the SES device's VPD 0x83
// (scsi_devid_is_naa_ieee_reg), read big-endian: the "enc@n" id of physical paths.
std::uint64_t enclosure_id_of(const cam::DeviceInfo& info) {
  auto designators = scsi::parse_device_identification(info.devid);
  if (!designators) {
    return 0;
  }
  for (const auto& d : *designators) {
    if (d.type == scsi::DesignatorType::Naa && d.identifier.size() >= 8) {
      const std::uint8_t naa = d.identifier[0] >> 4;
      if (naa == 3 || naa == 5) {
        return load_be64(d.identifier, 0);
      }
    }
  }
  return 0;
}

struct Fetched {
  CamStatus status = CamStatus::ReqInProg;
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> sense;
};

// Reads page `page` into `buffer` (kReadSize bytes; sized once, later calls reuse it without
// clearing 32 KiB). Only the daemon thread may pass sc.io_buffer.
Fetched receive_diagnostic(cam::Periph& periph, Softc& sc, std::vector<std::uint8_t>& buffer,
                           std::uint8_t page, cam::CancelToken* cancel = nullptr) {
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

Result<void> send_diagnostic(cam::Periph& periph, Softc& sc, std::vector<std::uint8_t> page,
                             cam::CancelToken* cancel = nullptr) {
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

// Reads diagnostic page `page` and parses it with `parse`. Any failure (transport, SCSI, or
// bytes the parser rejects) becomes a warning naming `what` in the next published state.
template <class Parse>
auto fetch_page(cam::Periph& periph, Softc& sc, std::uint8_t page, std::string_view what,
                Parse parse)
    -> std::optional<typename std::invoke_result_t<Parse, Bytes>::value_type> {
  auto f = receive_diagnostic(periph, sc, sc.io_buffer, page);
  if (f.status != CamStatus::ReqCmp) {
    sc.work.warnings.push_back(fmt::format("{}: {}", what, cam_status_name(f.status)));
    return std::nullopt;
  }
  auto parsed = parse(Bytes(f.data));
  if (!parsed) {
    sc.work.warnings.push_back(fmt::format("{}: {}", what, parsed.error().message()));
    return std::nullopt;
  }
  return std::move(*parsed);
}

// ---- Daemon steps ----------------------------------------------------------------------------

void step_pages(cam::Periph& periph, Softc& sc) {
  auto f = receive_diagnostic(periph, sc, sc.io_buffer, 0x00);
  sc.has_descriptors = sc.has_additional = false;
  sc.work.supported_pages.clear();
  if (f.status == CamStatus::ReqCmp && f.data.size() >= 4) {
    const std::size_t end = std::min<std::size_t>(f.data.size(), 4U + load_be16(f.data, 2));
    for (std::size_t i = 4; i < end; ++i) {
      sc.work.supported_pages.push_back(f.data[i]);
      sc.has_descriptors |= f.data[i] == 0x07;
      sc.has_additional |= f.data[i] == 0x0a;
    }
  }
  request(sc, kConfig);
}

void step_config(cam::Periph& periph, Softc& sc) {
  auto config = fetch_page(periph, sc, 0x01, "configuration page",
                           [](Bytes page) { return ses::parse_ses_config(page); });
  if (!config) {
    return;
  }
  if (sc.config && sc.config->generation == config->generation && sc.work.configured) {
    return;  // Nothing changed.
  }
  sc.map = ses::build_element_map(*config);
  sc.work.configured = true;
  sc.work.generation = config->generation;
  sc.work.elements.clear();
  for (const auto& ref : sc.map) {
    EncElement e;
    e.index = ref.global_index;
    e.type_index = ref.type_index;
    e.index_in_type = ref.index_in_type;
    e.element_type = ref.element_type;
    e.subenclosure = ref.subenclosure;
    sc.work.elements.push_back(std::move(e));
  }
  sc.work.type_texts.clear();
  for (const auto& t : config->types) {
    sc.work.type_texts.push_back(t.text);
  }
  if (const auto* primary = config->find_subenclosure(0)) {
    sc.work.logical_id = primary->logical_id;
    sc.work.name = primary->vendor + " " + primary->product + " " + primary->revision;
  }
  sc.work.warnings.insert(sc.work.warnings.end(), config->warnings.begin(), config->warnings.end());
  // A configuration that moved (not the first one read) is news for the other processes.
  sc.notify_peers = sc.notify_peers || sc.config.has_value();
  sc.config = std::move(*config);
  if (const auto self = periph.xpt().device(periph.path())) {
    sc.own_id = enclosure_id_of(*self);  // Fixed for the device's lifetime.
  }
  static_cast<EncDriver&>(periph.driver()).paths().join(periph, sc.work.logical_id, sc.own_id);
  sc.status.reset();
  request(sc, poll_actions(sc) | kPublish);
}

// This process could not read the status page. Another process of the same enclosure whose own
// last read succeeded, on the same configuration, has read the same enclosure: show its
// element and enclosure status, saying through which SES device (`status_via`), so that every
// path of an enclosure gives one view even while one of them fails. Without such a peer the
// last status read is kept. Either way `path_error` says why this path failed.
void adopt_peer_status(cam::Periph& periph, Softc& sc) {
  sc.work.path_error =
      sc.work.warnings.empty() ? std::string("status page unreadable") : sc.work.warnings.back();
  std::shared_ptr<const EncState> peer_state;
  std::string via;
  static_cast<EncDriver&>(periph.driver()).paths().for_each_peer(periph, [&](cam::Periph& peer) {
    if (peer_state) {
      return;
    }
    Softc& psc = softc_of(peer);
    std::shared_ptr<const EncState> s;
    {
      std::lock_guard lock(psc.lock);
      if (psc.invalid) {
        return;
      }
      s = psc.published;
    }
    if (s->configured && s->path_error.empty() && s->status_via.empty() &&
        s->generation == sc.work.generation && s->elements.size() == sc.work.elements.size()) {
      peer_state = std::move(s);
      via = peer.name();
    }
  });
  sc.work.status_via = via;
  if (peer_state) {
    sc.work.enclosure_status = peer_state->enclosure_status;
    for (std::size_t i = 0; i < sc.work.elements.size(); ++i) {
      sc.work.elements[i].status = peer_state->elements[i].status;
    }
  }
  request(sc, kPublish);
}

void step_status(cam::Periph& periph, Softc& sc, Origin origin) {
  if (!sc.config) {
    request(sc, kConfig);
    return;
  }
  auto status = fetch_page(periph, sc, 0x02, "status page",
                           [&](Bytes page) { return ses::parse_ses_status(page, *sc.config); });
  if (!status) {
    if (sc.work.configured) {
      adopt_peer_status(periph, sc);
    }
    return;
  }
  if (status->is_short) {
    sc.status.reset();
    return;
  }
  if (status->generation_mismatch) {
    request(sc, kConfig);  // The configuration moved under us: re-read it, then everything.
    return;
  }
  // What this read found new (against what this process showed, read or adopted) is passed on
  // to the other processes of the enclosure, unless a peer asked for the read (that peer
  // already knows). The first read after a configuration is no news: every process reads its
  // own at start.
  bool changed = sc.work.enclosure_status != status->flags || !sc.work.status_via.empty();
  sc.work.enclosure_status = status->flags;
  for (std::size_t i = 0; i < status->elements.size() && i < sc.work.elements.size(); ++i) {
    changed = changed || sc.work.elements[i].status != status->elements[i];
    sc.work.elements[i].status = status->elements[i];
  }
  if (changed && sc.status && origin == Origin::Own) {
    sc.notify_peers = true;
  }
  sc.work.path_error.clear();
  sc.work.status_via.clear();
  sc.work.warnings.insert(sc.work.warnings.end(), status->warnings.begin(), status->warnings.end());
  sc.status = std::move(*status);
  request(sc, kPublish);
}

void step_descriptors(cam::Periph& periph, Softc& sc) {
  if (!sc.config) {
    return;
  }
  auto d = fetch_page(periph, sc, 0x07, "element descriptor page", [&](Bytes page) {
    return ses::parse_ses_element_descriptors(page, *sc.config);
  });
  if (!d) {
    return;
  }
  if (d->generation_mismatch) {
    request(sc, kConfig);
    return;
  }
  for (std::size_t i = 0; i < sc.work.elements.size(); ++i) {
    auto& e = sc.work.elements[i];
    // The bytes as the page holds them: physical paths and the JSON contract are byte exact
    // (FreeBSD keeps trailing blanks and NUL padding); only text for people is trimmed.
    std::string raw = i < d->raw.size() ? d->raw[i] : std::string();
    if (raw != e.descriptor) {
      e.descriptor = std::move(raw);
      e.physical_path.clear();  // Recomputed by the next physical path step.
    }
  }
  request(sc, kPublish);
}

void step_additional(cam::Periph& periph, Softc& sc) {
  if (!sc.config) {
    return;
  }
  auto aes = fetch_page(periph, sc, 0x0a, "additional element status page", [&](Bytes page) {
    return ses::parse_ses_additional_status(page, *sc.config);
  });
  if (!aes) {
    return;
  }
  if (aes->generation_mismatch) {
    request(sc, kConfig);
    return;
  }
  for (auto& e : sc.work.elements) {
    e.sas_addresses.clear();
    e.device_slot_number.reset();
    const auto* desc = aes->find(e.index);
    if (desc == nullptr || !desc->sas || desc->sas->descriptor_type != 0) {
      continue;
    }
    e.device_slot_number = desc->sas->device_slot_number;
    for (const auto& phy : desc->sas->phys) {
      if (phy.sas_address != 0) {
        e.sas_addresses.push_back(phy.sas_address);
      }
    }
  }
  request(sc, kPhysPaths | kPublish);
}

void step_control(cam::Periph& periph, Softc& sc) {
  std::vector<std::shared_ptr<ControlRequest>> batch;
  {
    std::lock_guard lock(sc.lock);
    batch.assign(sc.requests.begin(), sc.requests.end());
    sc.requests.clear();
  }
  if (batch.empty()) {
    return;
  }
  auto finish = [&](ControlRequest* r, Result<void> result) {
    std::lock_guard lock(sc.lock);
    r->result = std::move(result);
    r->done = true;
  };
  std::vector<ses::ElementChange> changes;
  std::uint8_t flags = 0;
  std::vector<ControlRequest*> sent;
  for (const auto& rp : batch) {
    ControlRequest* r = rp.get();
    if (!sc.status || !sc.config) {
      finish(r, fail_errno(EIO, periph.name() + ": no status page cached yet"));
    } else if (r->generation && *r->generation != sc.config->generation) {
      finish(r, fail(Error::described(
                    ESTALE, fmt::format("{}: stale generation {} (enclosure is at {})",
                                        periph.name(), *r->generation, sc.config->generation))));
    } else if (r->index < 0) {
      flags = r->bytes[0] & ses::kEnclosureControlMask;
      sent.push_back(r);
    } else if (static_cast<std::size_t>(r->index) >= sc.status->elements.size()) {
      finish(r, fail_errno(ENXIO, fmt::format("{}: no element {}", periph.name(), r->index)));
    } else {
      auto bytes = r->bytes;
      bytes[0] &= static_cast<std::uint8_t>(~ses::kSelect);  // The encoder sets SELECT.
      changes.emplace_back(r->index, bytes);
      sent.push_back(r);
    }
  }
  if (!sent.empty()) {
    Result<void> result;
    auto page = ses::encode_ses_control(*sc.status, sc.config->generation, flags, changes);
    if (!page) {
      result = fail(page.error());
    } else {
      result = send_diagnostic(periph, sc, std::move(*page));
    }
    for (ControlRequest* r : sent) {
      finish(r, result);
    }
  }
  sc.done_cv.notify_all();
  request(sc, poll_actions(sc));
}

// Matches every slot's phys against the disks' target-port designators and stores the
// physical path on each match; clears the paths of disks that left.
void step_physpaths(cam::Periph& periph, Softc& sc) {
  auto& registry = static_cast<EncDriver&>(periph.driver()).paths();
  const auto id = registry.canonical_id(periph, sc.work.logical_id, sc.own_id);
  if (id != sc.work.enclosure_id) {
    sc.work.enclosure_id = id;
    for (auto& e : sc.work.elements) {
      e.physical_path.clear();  // Recomputed below with the new id.
    }
  }
  std::map<cam::Path, std::string> now;
  for (auto& e : sc.work.elements) {
    e.devices.clear();
    if (!ses::is_slot_type(e.element_type) || e.index_in_type < 0 || e.sas_addresses.empty()) {
      continue;
    }
    if (sc.work.enclosure_id != 0 && e.physical_path.empty()) {
      e.physical_path = physical_path(sc.work.enclosure_id, e.type_index,
                                      ses::type_element_index(sc.map[e.index]), e.descriptor);
    }
    std::set<cam::Path> matched;
    for (std::uint64_t address : e.sas_addresses) {
      // A target-port NAA designator with this SAS address (association and type are what
      // the XPT compares, with the length and the identifier bytes).
      std::array<std::uint8_t, 12> designator{0x61, 0x93, 0x00, 0x08};
      store_be64(designator, 4, address);
      const auto bus =
          sc.search_globally ? std::nullopt : std::optional<std::uint32_t>(periph.path().bus);
      for (const auto& p : periph.xpt().match_devid(designator, bus)) {
        matched.insert(p);
      }
    }
    e.devices.assign(matched.begin(), matched.end());
    if (!e.physical_path.empty()) {
      for (const auto& p : matched) {
        now[p] = e.physical_path;
      }
    }
  }
  registry.publish(periph.xpt(), &periph, now);
  sc.published_paths = std::move(now);
  request(sc, kPublish);
}

// ---- SAF-TE backend (READ BUFFER / WRITE BUFFER; FreeBSD scsi_enc_safte.c) --------------------

Fetched read_buffer(cam::Periph& periph, Softc& sc, safte::Buffer buffer, std::uint16_t length) {
  Fetched f;
  f.data.resize(length);
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb(safte::read_cdb(buffer, length).span());
  ccb.dir = cam::DataDir::In;
  ccb.data = f.data.data();
  ccb.dxfer_len = length;
  ccb.timeout = std::chrono::seconds(60);
  periph.xpt().run_sync(ccb);
  ++sc.commands;
  f.status = ccb.status;
  f.data.resize(ccb.status == CamStatus::ReqCmp ? length - ccb.resid : 0);
  return f;
}

Result<void> write_buffer(cam::Periph& periph, Softc& sc, const safte::WriteCommand& command) {
  auto list = safte::encode_write_command(command);
  if (!list) {
    return fail(list.error());
  }
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb(safte::write_cdb(static_cast<std::uint16_t>(list->size())).span());
  ccb.dir = cam::DataDir::Out;
  ccb.data = list->data();
  ccb.dxfer_len = static_cast<std::uint32_t>(list->size());
  ccb.timeout = std::chrono::seconds(60);
  periph.xpt().run_sync(ccb);
  ++sc.commands;
  if (ccb.status != CamStatus::ReqCmp) {
    return fail(Error::from_cam(ccb.status, periph.name() + ": WRITE BUFFER"));
  }
  return {};
}

void safte_config(cam::Periph& periph, Softc& sc) {
  auto f = read_buffer(periph, sc, safte::Buffer::EnclosureConfiguration,
                       static_cast<std::uint16_t>(safte::kConfigLength));
  auto config = f.status == CamStatus::ReqCmp
                    ? safte::parse_config(f.data)
                    : fail_errno(EIO, std::string(cam_status_name(f.status)));
  if (!config) {
    sc.work.warnings.push_back("SAF-TE configuration: " + config.error().message());
    return;
  }
  if (sc.snapshot && sc.snapshot->config == *config && sc.work.configured) {
    return;
  }
  const auto map = safte::element_map(*config, safte::SlotElements::ArrayDeviceSlot);
  sc.work.configured = true;
  sc.work.generation = sc.snapshot ? sc.work.generation + 1 : 0;  // SAF-TE has no generation.
  sc.work.elements.clear();
  sc.work.type_texts.clear();
  std::map<int, int> kind_index;  // ElementKind -> type index, in first-seen order.
  for (std::size_t i = 0; i < map.size(); ++i) {
    const int kind = static_cast<int>(map[i].kind);
    auto [it, fresh] = kind_index.emplace(kind, static_cast<int>(kind_index.size()));
    if (fresh) {
      sc.work.type_texts.push_back(ses::element_type_name(ses::type_value(map[i].type)));
    }
    EncElement e;
    e.index = static_cast<int>(i);
    e.type_index = it->second;
    e.index_in_type = map[i].index;
    e.element_type = ses::type_value(map[i].type);
    sc.work.elements.push_back(std::move(e));
  }
  if (const auto self = periph.xpt().device(periph.path())) {
    sc.work.name = self->vendor + " " + self->product + " " + self->revision;
    // SAF-TE INQUIRY bytes 36-42: the unique enclosure identifier (7 bytes).
    std::uint64_t id = 0;
    for (std::size_t i = 36; i < 43 && i < self->inquiry_data.size(); ++i) {
      id = (id << 8) | self->inquiry_data[i];
    }
    sc.work.logical_id = id;
  }
  safte::Snapshot snap;
  snap.config = *config;
  sc.snapshot = std::move(snap);
  request(sc, kStatus | kPublish);
}

void safte_status(cam::Periph& periph, Softc& sc) {
  if (!sc.snapshot) {
    request(sc, kConfig);
    return;
  }
  auto& snap = *sc.snapshot;
  const auto& cfg = snap.config;
  auto flags = read_buffer(periph, sc, safte::Buffer::GlobalFlags,
                           safte::buffer_length(safte::Buffer::GlobalFlags, cfg));
  auto status = read_buffer(periph, sc, safte::Buffer::EnclosureStatus,
                            safte::buffer_length(safte::Buffer::EnclosureStatus, cfg));
  auto slots = read_buffer(periph, sc, safte::Buffer::DeviceSlotStatus,
                           safte::buffer_length(safte::Buffer::DeviceSlotStatus, cfg));
  if (status.status != CamStatus::ReqCmp || slots.status != CamStatus::ReqCmp) {
    sc.work.warnings.push_back(
        "SAF-TE status buffers: " +
        std::string(
            cam_status_name(status.status != CamStatus::ReqCmp ? status.status : slots.status)));
    return;
  }
  auto es = safte::parse_enclosure_status(status.data, cfg);
  auto ss = safte::parse_slot_status(slots.data, cfg);
  if (!es || !ss) {
    sc.work.warnings.push_back("SAF-TE status: " + (!es ? es.error() : ss.error()).message());
    return;
  }
  snap.status = std::move(*es);
  snap.slots = std::move(*ss);
  if (flags.status == CamStatus::ReqCmp) {  // Global flags are optional.
    if (auto gf = safte::parse_global_flags(flags.data)) {
      snap.flags = *gf;
    }
  }
  auto view = safte::ses_view(snap, safte::SlotElements::ArrayDeviceSlot);
  if (!view) {
    sc.work.warnings.push_back("SAF-TE status: " + view.error().message());
    return;
  }
  sc.work.enclosure_status = view->enclosure_status;
  for (std::size_t i = 0; i < view->elements.size() && i < sc.work.elements.size(); ++i) {
    sc.work.elements[i].status = view->elements[i].status;
  }
  request(sc, kPublish);
}

void safte_control(cam::Periph& periph, Softc& sc) {
  std::vector<std::shared_ptr<ControlRequest>> batch;
  {
    std::lock_guard lock(sc.lock);
    batch.assign(sc.requests.begin(), sc.requests.end());
    sc.requests.clear();
  }
  for (const auto& r : batch) {
    Result<void> result;
    if (!sc.snapshot) {
      result = fail_errno(EIO, periph.name() + ": no status read yet");
    } else if (r->generation && *r->generation != sc.work.generation) {
      result = fail(Error::described(
          ESTALE, fmt::format("{}: stale generation {}", periph.name(), *r->generation)));
    } else {
      auto& snap = *sc.snapshot;
      Result<std::vector<safte::WriteCommand>> commands =
          r->index < 0 ? Result<std::vector<safte::WriteCommand>>(std::vector<safte::WriteCommand>{
                             safte::enclosure_control_command(snap, r->bytes[0])})
                       : safte::control_commands(snap, safte::SlotElements::ArrayDeviceSlot,
                                                 static_cast<std::size_t>(r->index), r->bytes);
      if (!commands) {
        result = fail(commands.error());
      } else {
        for (const auto& c : *commands) {
          result = write_buffer(periph, sc, c);
          if (!result) {
            break;
          }
          // Remember what SAF-TE cannot report back (identify state, fan speeds, flags).
          if (const auto* op = std::get_if<safte::SlotOperation>(&c)) {
            snap.slot_identify.resize(snap.config.device_slots, false);
            snap.slot_identify[op->slot] = op->identify;
          } else if (const auto* fan = std::get_if<safte::SetFanSpeed>(&c)) {
            snap.fan_speeds.resize(snap.config.fans, safte::kMaxFanSpeed);
            snap.fan_speeds[fan->fan] = fan->speed;
          } else if (const auto* gf = std::get_if<safte::GlobalFlags>(&c)) {
            snap.flags = *gf;
          }
        }
      }
    }
    std::lock_guard lock(sc.lock);
    r->result = std::move(result);
    r->done = true;
  }
  sc.done_cv.notify_all();
  request(sc, kStatus);
}

void clear_published_paths(cam::Periph& periph, Softc& sc) {
  auto& registry = static_cast<EncDriver&>(periph.driver()).paths();
  registry.publish(periph.xpt(), &periph, {});
  registry.forget(periph);
  sc.published_paths.clear();
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

void step_publish(cam::Periph& periph, Softc& sc) {
  sc.work.refresh++;
  sc.work.commands = sc.commands.load();
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
    static_cast<EncDriver&>(periph.driver()).paths().for_each_peer(periph, [](cam::Periph& peer) {
      request(softc_of(peer), kPeerStatus);
    });
  }
}

void run_action(cam::Periph& periph, Softc& sc, std::uint32_t action) {
  if (sc.safte) {
    switch (action) {
      case kConfig:
        safte_config(periph, sc);
        break;
      case kStatus:
      case kPeerStatus:
        safte_status(periph, sc);
        break;
      case kControl:
        safte_control(periph, sc);
        break;
      case kPublish:
        step_publish(periph, sc);
        break;
      default:
        break;  // No descriptors, additional status or physical paths in SAF-TE.
    }
    return;
  }
  switch (action) {
    case kPages:
      step_pages(periph, sc);
      break;
    case kConfig:
      step_config(periph, sc);
      break;
    case kStatus:
      step_status(periph, sc, Origin::Own);
      break;
    case kPeerStatus:
      step_status(periph, sc, Origin::Peer);
      break;
    case kDescriptors:
      step_descriptors(periph, sc);
      break;
    case kAdditional:
      step_additional(periph, sc);
      break;
    case kControl:
      step_control(periph, sc);
      break;
    case kPhysPaths:
      step_physpaths(periph, sc);
      break;
    case kPublish:
      step_publish(periph, sc);
      break;
    default:
      break;
  }
}

// The per-enclosure daemon (enc_daemon). Holds a periph reference; drops it when it exits.
// `running` is the driver's count of daemons in their loop.
void daemon_main(cam::Periph* periph, std::chrono::milliseconds interval,
                 std::atomic<std::size_t>* running) {
  Softc& sc = softc_of(*periph);
  auto next_poll = std::chrono::steady_clock::now() + interval;
  for (;;) {
    std::uint32_t action = 0;
    {
      std::unique_lock lock(sc.lock);
      while (!sc.invalid && sc.pending == 0) {
        if (sc.work_cv.wait_until(lock, next_poll) == std::cv_status::timeout) {
          sc.pending |= poll_actions(sc);
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
    run_action(*periph, sc, action);
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
  clear_published_paths(*periph, sc);
  {
    std::lock_guard lock(sc.lock);
    for (const auto& r : sc.requests) {
      r->result = fail_errno(ENXIO, periph->name() + ": enclosure is gone");
      r->done = true;
    }
    sc.requests.clear();
    sc.daemon_exited = true;
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
  Softc& sc = softc_of(periph);
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

std::string physical_path(std::uint64_t enclosure_id, int type_index, int type_element_index,
                          std::string_view descriptor) {
  std::string path = fmt::format("id1,enc@n{:x}/type@{:x}/slot@{:x}", enclosure_id, type_index,
                                 type_element_index);
  if (descriptor.empty()) {
    return path;
  }
  // freebsd-cam.md §2.5, "Descriptor sanitising on page 7": if any byte before the first NUL
  // lies outside 0x20-0x7e, the whole descriptor becomes "<invalid>" (length 9). Bytes after
  // the first NUL are not looked at.
  const auto first_nul = descriptor.find('\0');
  const auto checked = descriptor.substr(0, first_nul);
  if (std::any_of(checked.begin(), checked.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u > 0x7e;
      })) {
    descriptor = "<invalid>";
  }
  // ses_set_physpath: each of the descriptor's bytes that is not printable (outside
  // 0x20-0x7e), is white space (the blank included) or is '/' becomes '_'.
  path += "/elmdesc@";
  for (const char c : descriptor) {
    const auto u = static_cast<unsigned char>(c);
    const bool space = u == ' ' || (u >= '\t' && u <= '\r');
    path += (u < 0x20 || u > 0x7e || space || c == '/') ? '_' : c;
  }
  return path;
}

bool EncDriver::matches(const cam::DeviceInfo& device) const {
  return device.device_type == 0x0d || safte::is_safte_inquiry(device.inquiry_data);
}

Result<void> EncDriver::attach(cam::Periph& periph) {
  auto owned = std::make_unique<Softc>();
  Softc& sc = *owned;
  periph.set_softc(std::move(owned));
  sc.search_globally = m_options.search_globally;
  if (const auto info = periph.xpt().device(periph.path())) {
    sc.safte = info->device_type != 0x0d && safte::is_safte_inquiry(info->inquiry_data);
  }
  sc.pending = sc.safte ? kConfig : kPages;
  // React to disks arriving and leaving on the enclosure's bus (and everywhere when searching
  // globally): their physical paths depend on it.
  const cam::Path scope =
      m_options.search_globally
          ? cam::Path::wildcard()
          : cam::Path{periph.path().bus, cam::Path::kWildcardTarget, cam::Path::kWildcardLun};
  // And re-read the enclosure when a control reached it through a pass or sg node (ScsiAen).
  Softc* scp = &sc;
  const cam::Path self = periph.path();
  sc.bus_events = periph.xpt().subscribe(
      cam::AsyncCode::FoundDevice | cam::AsyncCode::LostDevice | cam::AsyncCode::ScsiAen, scope,
      [scp, self](const cam::AsyncEvent& event) {
        if (event.code != cam::AsyncCode::ScsiAen) {
          request(*scp, kStatus | kDescriptors | kAdditional | kPhysPaths);
        } else if (event.path == self) {
          request(*scp, kStatus | kDescriptors | kAdditional);
        }
      });
  // The node first: if it cannot be made, the attach fails with no daemon started (the periph
  // is then freed without invalidate() or destroy(), so nothing else may be left running).
  periph.acquire_unconditional();  // The node's reference, dropped in gone().
  auto node = m_devfs.make_node(periph.name(), *this, &periph);
  if (!node) {
    sc.bus_events.reset();
    periph.release();
    return fail(node.error());
  }
  sc.node = std::move(*node);
  reap_finished();
  {
    std::lock_guard lock(m_lock);
    m_periphs.insert(&periph);
  }
  periph.acquire_unconditional();  // The daemon's reference.
  m_daemons.fetch_add(1);
  sc.daemon = std::thread(daemon_main, &periph, m_options.poll_interval, &m_daemons);
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
  Softc& sc = softc_of(periph);
  std::shared_ptr<devfs::Node> node;
  {
    std::lock_guard lock(sc.lock);
    sc.invalid = true;
    node = sc.node;
  }
  sc.work_cv.notify_all();  // The daemon exits; waiting control requests fail with ENXIO.
  sc.done_cv.notify_all();
  // From the event thread: unsubscribe returns at once for a callback of this same thread.
  sc.bus_events.reset();
  if (node) {
    m_devfs.destroy_node_async(node);
  }
}

void EncDriver::destroy(cam::Periph& periph) {
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
    Softc& sc = softc_of(*ref.get());
    std::unique_lock lock(sc.lock);
    sc.done_cv.wait_until(lock, deadline, [&] {
      return sc.invalid || (sc.published->refresh > 0 && sc.pending == 0 && !sc.busy);
    });
  }
}

Result<void> EncDriver::open(devfs::Node& node, devfs::OpenFile& /*file*/) {
  cam::Periph& periph = periph_of(node);
  if (!periph.acquire()) {
    return fail_errno(ENXIO, periph.name() + ": enclosure is gone");
  }
  Softc& sc = softc_of(periph);
  std::lock_guard lock(sc.lock);
  if (sc.invalid) {
    periph.release();
    return fail_errno(ENXIO, periph.name() + ": enclosure is gone");
  }
  ++sc.open_count;
  return {};
}

void EncDriver::close(devfs::Node& node, devfs::OpenFile& /*file*/, devfs::CloseReason) {
  cam::Periph& periph = periph_of(node);
  {
    Softc& sc = softc_of(periph);
    std::lock_guard lock(sc.lock);
    --sc.open_count;
  }
  periph.release();
}

void EncDriver::gone(devfs::Node& node) {
  periph_of(node).release();
}

Result<void> EncDriver::ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  Softc& sc = softc_of(periph);
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
      auto f =
          receive_diagnostic(periph, sc, buffer, 0x04, static_cast<EncString&>(request).cancel);
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
      return send_diagnostic(periph, sc, std::move(page), r.cancel);
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
      sc.pending |= poll_actions(sc) | kPhysPaths;
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
