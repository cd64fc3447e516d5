// Bus scanning (FreeBSD scsi_xpt.c probe state machine, written as straight-line code on top of
// run_sync): INQUIRY on LUN 0, REPORT LUNS (or sequential LUNs), then for each LUN INQUIRY and
// VPD 0x00, 0x80 and 0x83. New LUNs raise FoundDevice, departed ones LostDevice.
#include <algorithm>
#include <cerrno>
#include <set>

#include "base/check.h"
#include "base/log.h"
#include "cam/xpt.h"
#include "cam/xpt_device.h"
#include "scsi/cdb.h"
#include "scsi/inquiry.h"
#include "scsi/read_capacity.h"
#include "scsi/report_luns.h"
#include "scsi/vpd.h"

namespace ucam::cam {
namespace {

struct ProbeResult {
  CamStatus status = CamStatus::ReqInProg;
  std::vector<std::uint8_t> data;
};

bool target_absent(CamStatus s) {
  return s == CamStatus::SelTimeout || s == CamStatus::DevNotThere || s == CamStatus::PathInvalid;
}

}  // namespace

namespace {
// `device` is the entry for `path` (find_or_create_probe_device): given to the CCB as the device
// it last ran on, so that action() does not look it up in the table again for each of a LUN's
// probe commands (it still checks that the entry is valid, as for any CCB).
ProbeResult run_probe(Xpt& xpt, const std::shared_ptr<XptDevice>& device, const Path& path,
                      const scsi::Cdb& cdb, std::uint32_t alloc) {
  ProbeResult r;
  r.data.resize(alloc);
  Ccb ccb;
  ccb.xpt_priv.device = device;
  ccb.path = path;
  ccb.set_cdb(cdb.span());
  ccb.dir = DataDir::In;
  ccb.data = r.data.data();
  ccb.dxfer_len = alloc;
  ccb.timeout = xpt.config().probe_timeout;
  ccb.retry_count = 4;
  ccb.recovery = Recovery::Standard;
  xpt.run_sync(ccb);
  r.status = ccb.status;
  r.data.resize(ccb.status == CamStatus::ReqCmp ? alloc - ccb.resid : 0);
  return r;
}
}  // namespace

Result<void> Xpt::scan_all() {
  return scan(Path::wildcard());
}

Result<void> Xpt::scan(const Path& path) {
  assert_may_block("Xpt::scan");
  std::lock_guard run(m_scan_run_lock);
  std::vector<std::shared_ptr<XptBus>> buses;
  {
    std::shared_lock lock(m_topology);
    for (const auto& [id, bus] : m_buses) {
      if (path.bus == Path::kWildcardBus || path.bus == id) {
        buses.push_back(bus);
      }
    }
  }
  if (buses.empty() && path.bus != Path::kWildcardBus) {
    return fail_errno(ENXIO, "scan: no bus scbus" + std::to_string(path.bus));
  }
  for (auto& bus : buses) {
    if (path.target != Path::kWildcardTarget) {
      if (path.lun != Path::kWildcardLun) {
        bool present = false;
        if (auto r = probe_lun(*bus, path, present); !r) {
          return r;
        }
        continue;
      }
      if (auto r = scan_target(*bus, path.target); !r) {
        return r;
      }
      continue;
    }
    for (std::uint32_t t : targets_to_scan(*bus)) {
      if (!bus->valid) {
        break;
      }
      if (auto r = scan_target(*bus, t); !r) {
        log_warning("scbus{} target {}: scan failed: {}", bus->path_id, t, r.error().message());
      }
    }
  }
  return {};
}

// The targets a wildcard scan of `bus` probes: those the SIM lists, or else every id up to
// max_target. Devices on targets a listing SIM leaves out are lost here, without a probe.
std::vector<std::uint32_t> Xpt::targets_to_scan(XptBus& bus) {
  std::optional<std::vector<std::uint32_t>> listed;
  std::vector<std::shared_ptr<XptDevice>> unlisted;
  {
    // Under the topology lock, so deregister_bus() cannot return (and the SIM be destroyed)
    // while list_targets() runs; unique, since unlisted devices leave the table here.
    std::unique_lock lock(m_topology);
    if (!bus.valid) {
      return {};
    }
    listed = bus.sim->list_targets();
    if (listed) {
      std::sort(listed->begin(), listed->end());
      listed->erase(std::unique(listed->begin(), listed->end()), listed->end());
      for (auto it = m_devices.lower_bound(Path{bus.path_id, 0, 0});
           it != m_devices.end() && it->first.bus == bus.path_id;) {
        if (std::binary_search(listed->begin(), listed->end(), it->first.target)) {
          ++it;
          continue;
        }
        unlisted.push_back(it->second);
        it = m_devices.erase(it);
      }
    }
  }
  for (auto& device : unlisted) {
    lose_device(device);
  }
  if (listed) {
    return std::move(*listed);
  }
  std::vector<std::uint32_t> all;
  all.reserve(std::size_t{bus.inquiry.max_target} + 1);
  for (std::uint32_t t = 0; t <= bus.inquiry.max_target; ++t) {
    all.push_back(t);
  }
  return all;
}

Result<void> Xpt::scan_target(XptBus& bus, std::uint32_t target) {
  const Path lun0{bus.path_id, target, 0};
  std::vector<std::shared_ptr<XptDevice>> known;
  {
    std::shared_lock lock(m_topology);
    for (auto it = m_devices.lower_bound(Path{bus.path_id, target, 0});
         it != m_devices.end() && it->first.bus == bus.path_id && it->first.target == target;
         ++it) {
      known.push_back(it->second);
    }
  }
  // INQUIRY on LUN 0 tells whether the target answers at all.
  const auto lun0_device = find_or_create_probe_device(lun0);
  const auto inquiry =
      run_probe(*this, lun0_device, lun0, scsi::inquiry(scsi::InquiryData::Standard, 0, 96), 96);
  std::set<std::uint64_t> luns;
  if (target_absent(inquiry.status)) {
    remove_unconfigured(lun0);
  } else {
    luns.insert(0);
    // REPORT LUNS, growing the allocation once if the device has more LUNs than fit.
    std::uint32_t alloc = 8 + 8 * 256;
    Result<scsi::ReportLuns> list = fail_errno(EIO, "REPORT LUNS failed");
    for (int attempt = 0; attempt < 2; ++attempt) {
      const auto report =
          run_probe(*this, lun0_device, lun0,
                    scsi::report_luns(scsi::SelectReport::LogicalUnits, alloc), alloc);
      list = report.status == CamStatus::ReqCmp ? scsi::parse_report_luns(report.data)
                                                : fail_errno(EIO, "REPORT LUNS failed");
      if (!list || !list->truncated() || list->listed > 65536) {
        break;
      }
      alloc = 8 + 8 * list->listed;
    }
    if (list) {
      for (const auto& lun : list->luns) {
        luns.insert(scsi::lun_to_u64(lun));
      }
    } else {
      for (std::uint64_t l = 1; l < m_config.max_sequential_luns; ++l) {
        luns.insert(l);
      }
    }
  }
  // The table entries of every LUN to probe, added at once: one exclusive acquisition of the
  // topology lock per target instead of one per LUN (each probe_lun() then finds its entry).
  // Those found empty are removed by their probe, as before.
  std::vector<Path> paths;
  paths.reserve(luns.size());
  for (std::uint64_t lun : luns) {
    paths.push_back(Path{bus.path_id, target, lun});
  }
  find_or_create_probe_devices(bus.path_id, paths);
  std::set<std::uint64_t> present;
  for (std::uint64_t lun : luns) {
    bool is_present = false;
    if (auto r = probe_lun(bus, Path{bus.path_id, target, lun}, is_present); !r) {
      return r;
    }
    if (is_present) {
      present.insert(lun);
    }
  }
  for (auto& device : known) {
    if (present.count(device->path.lun) == 0) {
      {
        std::unique_lock lock(m_topology);
        auto it = m_devices.find(device->path);
        if (it != m_devices.end() && it->second == device) {
          m_devices.erase(it);
        }
      }
      lose_device(device);
    }
  }
  return {};
}

Result<void> Xpt::probe_lun(XptBus& bus, const Path& path, bool& present) {
  present = false;
  auto device = find_or_create_probe_device(path);
  if (!device) {
    return fail_errno(ENXIO, to_string(path) + ": bus is gone");
  }
  const auto inquiry =
      run_probe(*this, device, path, scsi::inquiry(scsi::InquiryData::Standard, 0, 255), 255);
  auto parsed = inquiry.status == CamStatus::ReqCmp
                    ? scsi::parse_standard_inquiry(inquiry.data)
                    : fail_errno(EIO, std::string(cam_status_name(inquiry.status)));
  if (!parsed || parsed->peripheral_qualifier == scsi::kQualifierNotSupported ||
      (parsed->peripheral_qualifier == scsi::kQualifierNotConnected &&
       parsed->device_type == 0x1f)) {
    // Nothing here (or no longer): forget the entry.
    {
      std::unique_lock lock(m_topology);
      auto it = m_devices.find(path);
      if (it != m_devices.end() && it->second == device) {
        m_devices.erase(it);
      }
    }
    lose_device(device);
    return {};
  }

  DeviceInfo info;
  info.path = path;
  info.sim_name = bus.inquiry.sim_name;
  info.sim_unit = bus.inquiry.unit;
  info.sim_bus = bus.inquiry.bus;
  info.maxio = device->maxio;  // What the XPT enforces for this entry (see XptDevice).
  info.queue_depth = bus.inquiry.device_queue_depth;
  info.peripheral_qualifier = parsed->peripheral_qualifier;
  info.device_type = parsed->device_type;
  info.encserv = parsed->encserv;
  info.vendor = parsed->vendor;
  info.product = parsed->product;
  info.revision = parsed->revision;
  info.inquiry_data = inquiry.data;

  const auto vpd0 =
      run_probe(*this, device, path, scsi::inquiry(scsi::InquiryData::VpdPage, 0x00, 255), 255);
  if (vpd0.status == CamStatus::ReqCmp) {
    if (auto pages = scsi::parse_supported_vpd_pages(vpd0.data)) {
      info.supported_vpd = *pages;
    }
  }
  const auto has = [&](std::uint8_t page) {
    return std::find(info.supported_vpd.begin(), info.supported_vpd.end(), page) !=
           info.supported_vpd.end();
  };
  if (has(0x80)) {
    const auto vpd80 =
        run_probe(*this, device, path, scsi::inquiry(scsi::InquiryData::VpdPage, 0x80, 255), 255);
    if (vpd80.status == CamStatus::ReqCmp) {
      if (auto serial = scsi::parse_unit_serial_number(vpd80.data)) {
        info.serial = *serial;
      }
    }
  }
  if (has(0x83)) {
    const std::uint32_t alloc = 1024;
    const auto vpd83 = run_probe(*this, device, path,
                                 scsi::inquiry(scsi::InquiryData::VpdPage, 0x83, alloc), alloc);
    if (vpd83.status == CamStatus::ReqCmp && scsi::parse_device_identification(vpd83.data)) {
      info.devid = vpd83.data;
    }
  }

  if (info.device_type == 0x00) {
    // Direct-access devices: keep READ CAPACITY(16) data (FreeBSD's CDAI_TYPE_RCAPLONG) so
    // tools can show sizes without touching the device.
    const auto cap = run_probe(*this, device, path, scsi::read_capacity16(32), 32);
    if (cap.status == CamStatus::ReqCmp && scsi::parse_read_capacity16(cap.data)) {
      info.advinfo[AdvinfoType::Rcaplong] = cap.data;
    }
  }

  AsyncCode event = AsyncCode::FoundDevice;
  std::string description;  // For the log line (info is moved into the device below).
  if (log_level() <= LogLevel::Info) {
    description = info.vendor + " " + info.product + " " + info.revision;
  }
  std::vector<std::uint8_t> old_devid;
  const std::vector<std::uint8_t> new_devid = info.devid;
  {
    std::lock_guard lock(device->lock);
    if (device->invalid) {
      return {};  // Lost while we probed (bus removed).
    }
    if (device->configured) {
      if (device->info.inquiry_data == info.inquiry_data && device->info.devid == info.devid &&
          device->info.serial == info.serial) {
        present = true;
        return {};
      }
      event = AsyncCode::InquiryChanged;
      old_devid = device->info.devid;
      for (const auto& [type, value] : device->info.advinfo) {
        info.advinfo.emplace(type, value);  // Keep physical paths; fresh capacity wins.
      }
      info.generation = device->info.generation + 1;
    }
    device->info = std::move(info);
    device->configured = true;
    // Under the device lock, so a concurrent lose_device cannot unindex before we index.
    index_devid(path, old_devid, new_devid);
  }
  present = true;
  bump_generation();
  log_info("{}: {} <{}>", path, async_code_name(event), description);
  post_async({event, path});
  return {};
}

}  // namespace ucam::cam
