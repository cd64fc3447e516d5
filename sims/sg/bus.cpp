#include "sims/sg/bus.h"

#include <algorithm>

#include "scsi/inquiry.h"
#include "scsi/report_luns.h"
#include "sims/sg/device.h"
#include "sims/sg/sg_sim.h"

namespace ucam::sg {
namespace {

constexpr std::uint8_t kInquiry = 0x12;
constexpr std::uint8_t kReportLuns = 0xa0;

// Fixed-format sense (SPC-5 4.4.3): ILLEGAL REQUEST with the given ASC/ASCQ.
void illegal_request(cam::Ccb& ccb, std::uint8_t asc, std::uint8_t ascq) {
  std::array<std::uint8_t, 18> sense{};
  sense[0] = 0x70;
  sense[2] = 0x05;
  sense[7] = 10;
  sense[12] = asc;
  sense[13] = ascq;
  ccb.complete_check_condition(sense);
}

void complete_with_data(cam::Ccb& ccb, const std::vector<std::uint8_t>& bytes) {
  const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(bytes.size(), ccb.dxfer_len));
  if (ccb.dir == cam::DataDir::In && n > 0 && ccb.data != nullptr) {
    std::copy_n(bytes.begin(), n, ccb.data);
  }
  ccb.complete_good(n);
}

}  // namespace

SgBus::SgBus(SgSim& sim, cam::XptSim& xpt, SgHostEntry host, std::uint32_t channel,
             std::uint32_t max_target, std::uint64_t max_lun, std::uint32_t max_transfer)
    : m_sim(sim),
      m_xpt(xpt),
      m_host(std::move(host)),
      m_channel(channel),
      m_max_target(max_target),
      m_max_lun(max_lun),
      m_initial_max_transfer(max_transfer) {
}

cam::PathInquiry SgBus::path_inquiry() const {
  cam::PathInquiry inquiry;
  inquiry.sim_name = "sg";
  inquiry.unit = m_host.host;
  inquiry.bus = m_channel;
  // Scans use list_targets(); max_target only bounds what a SIM without a listing would probe.
  inquiry.max_target = m_max_target;
  inquiry.max_lun = m_max_lun;
  inquiry.initiator_id = m_max_target + 1;
  inquiry.hba_vendor = m_host.proc_name.empty() ? "linux" : m_host.proc_name;
  inquiry.transport = m_host.transport;
  inquiry.device_queue_depth = SgDevice::kSlots;
  std::optional<std::uint32_t> smallest;
  {
    std::shared_lock lock(m_lock);
    for (const auto& [key, device] : m_luns) {
      smallest = std::min(smallest.value_or(device->max_transfer()), device->max_transfer());
    }
  }
  inquiry.maxio = smallest.value_or(m_initial_max_transfer);
  return inquiry;
}

std::optional<std::vector<std::uint32_t>> SgBus::list_targets() const {
  std::vector<std::uint32_t> targets;
  std::shared_lock lock(m_lock);
  for (const auto& [key, device] : m_luns) {
    if (targets.empty() || targets.back() != key.first) {
      targets.push_back(key.first);  // m_luns is sorted by target first.
    }
  }
  return targets;
}

void SgBus::attach(const std::shared_ptr<SgDevice>& device) {
  std::unique_lock lock(m_lock);
  m_luns[{device->path().target, device->path().lun}] = device;
}

void SgBus::detach(const SgDevice& device) {
  std::unique_lock lock(m_lock);
  const auto it = m_luns.find({device.path().target, device.path().lun});
  if (it != m_luns.end() && it->second.get() == &device) {
    m_luns.erase(it);
  }
}

std::size_t SgBus::device_count() const {
  std::shared_lock lock(m_lock);
  return m_luns.size();
}

bool SgBus::abort(cam::Ccb& ccb) {
  return m_sim.abandon(ccb);
}

void SgBus::action(cam::Ccb& ccb) {
  switch (ccb.func) {
    case cam::FuncCode::Noop:
      ccb.complete_status(CamStatus::ReqCmp);
      m_xpt.done(ccb);
      return;
    case cam::FuncCode::ResetDev:
    case cam::FuncCode::ResetBus:
      // FIXME: SG_SCSI_RESET blocks for the whole reset and needs CAP_SYS_ADMIN; it would run
      // on a worker thread. Not offered yet.
      ccb.complete_status(CamStatus::ReqInvalid);
      m_xpt.done(ccb);
      return;
    case cam::FuncCode::ScsiIo:
      break;
  }
  std::shared_ptr<SgDevice> device;
  std::vector<std::uint64_t> target_luns;
  {
    std::shared_lock lock(m_lock);
    const auto it = m_luns.find({ccb.path.target, ccb.path.lun});
    if (it != m_luns.end()) {
      device = it->second;
    } else {
      for (auto t = m_luns.lower_bound({ccb.path.target, 0});
           t != m_luns.end() && t->first.first == ccb.path.target; ++t) {
        target_luns.push_back(t->first.second);
      }
    }
  }
  if (!device) {
    if (target_luns.empty()) {
      ccb.complete_status(CamStatus::SelTimeout);  // No sg device on this target.
    } else if (ccb.path.lun == 0) {
      answer_for_absent_lun0(ccb, target_luns);
    } else {
      ccb.complete_status(CamStatus::DevNotThere);  // The target has no such LUN (in sysfs).
    }
    m_xpt.done(ccb);
    return;
  }
  bool rescan = false;
  switch (device->submit(ccb, rescan)) {
    case SgDevice::Submitted::InKernel: {
      // A device that answers while write() queues the command (a RAM-backed LU, a cache hit
      // answered in the submission path) has the reply ready now: one non-blocking read()
      // completes it here, inside the XPT's action(), so its callback runs on this thread
      // instead of hopping through the poller and the XPT's completion thread. If nothing is
      // ready the read() says EAGAIN and the poller completes it as usual.
      std::vector<cam::Ccb*> done;
      device->collect(done, rescan, 1);
      m_sim.m_counters->completed_inline.fetch_add(done.size(), std::memory_order_relaxed);
      for (cam::Ccb* c : done) {
        m_xpt.done(*c);
      }
      if (rescan) {
        m_sim.request_rescan();
      }
      return;
    }
    case SgDevice::Submitted::Abandoned:
      return;
    case SgDevice::Submitted::Failed:
      break;
  }
  if (rescan) {
    m_sim.request_rescan();
  }
  m_xpt.done(ccb);
}

void SgBus::answer_for_absent_lun0(cam::Ccb& ccb, const std::vector<std::uint64_t>& luns) {
  const std::uint8_t opcode = ccb.cdb_len > 0 ? ccb.cdb[0] : 0;
  if (opcode == kInquiry && ccb.cdb_len >= 6 && (ccb.cdb[1] & 0x01U) == 0) {
    scsi::StandardInquiry inquiry;
    inquiry.peripheral_qualifier = scsi::kQualifierNotSupported;
    inquiry.device_type = static_cast<std::uint8_t>(scsi::PeripheralType::Unknown);
    auto bytes = scsi::encode_standard_inquiry(inquiry);
    if (bytes) {
      complete_with_data(ccb, *bytes);
      return;
    }
  }
  if (opcode == kReportLuns) {
    std::vector<std::uint64_t> raw;
    raw.reserve(luns.size());
    for (auto lun : luns) {
      raw.push_back(scsi::u64_to_lun(lun).raw_lun);
    }
    complete_with_data(ccb, scsi::encode_report_luns(raw));
    return;
  }
  if (opcode == kInquiry) {
    illegal_request(ccb, 0x24, 0x00);  // INVALID FIELD IN CDB (VPD of an absent LUN).
    return;
  }
  illegal_request(ccb, 0x25, 0x00);  // LOGICAL UNIT NOT SUPPORTED.
}

}  // namespace ucam::sg
