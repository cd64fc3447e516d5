#include "sims/emu/bus.h"

#include <algorithm>

#include "scsi/sense.h"

namespace ucam::emu {

EmuBus::EmuBus(std::uint32_t number, const BusSpec& spec, cam::XptSim& xpt, Completer& completer,
               ModelPool& models)
    : m_number(number), m_spec(spec), m_xpt(xpt), m_completer(completer) {
  m_targets.reserve(spec.targets.size());
  for (const auto& target : spec.targets) {
    m_targets.push_back(std::make_unique<EmuTarget>(target, spec.transport, models));
  }
}

cam::PathInquiry EmuBus::path_inquiry() const {
  cam::PathInquiry inquiry;
  inquiry.sim_name = "emu";
  inquiry.unit = m_number;
  inquiry.bus = 0;
  inquiry.max_target = m_spec.max_target;
  inquiry.max_lun = m_spec.max_lun;
  inquiry.initiator_id = m_spec.initiator_id;
  inquiry.hba_vendor = "ucam";
  inquiry.transport = std::string(transport_name(m_spec.transport));
  inquiry.device_queue_depth = m_spec.queue_depth;
  return inquiry;
}

std::optional<std::vector<std::uint32_t>> EmuBus::list_targets() const {
  std::vector<std::uint32_t> ids;
  if (state() != State::Present) {
    return ids;
  }
  ids.reserve(m_targets.size());
  for (const auto& target : m_targets) {
    if (target->present()) {
      ids.push_back(target->id());
    }
  }
  return ids;
}

std::optional<std::uint32_t> EmuBus::path_id() const {
  const auto id = m_path_id.load(std::memory_order_acquire);
  if (id == kNoPathId) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(id);
}

void EmuBus::set_path_id(std::optional<std::uint32_t> path_id) {
  m_path_id.store(path_id ? *path_id : kNoPathId, std::memory_order_release);
}

EmuTarget* EmuBus::find_target(std::uint32_t id) const {
  const auto it = std::lower_bound(
      m_targets.begin(), m_targets.end(), id,
      [](const std::unique_ptr<EmuTarget>& t, std::uint32_t n) { return t->id() < n; });
  return it != m_targets.end() && (*it)->id() == id ? it->get() : nullptr;
}

void EmuBus::bump_epochs(const EmuTarget* target) {
  for (const auto& t : m_targets) {
    if (target != nullptr && t.get() != target) {
      continue;
    }
    for (const auto& lun : t->luns()) {
      lun->bump_epoch();
    }
  }
}

bool EmuBus::abort(cam::Ccb& ccb) {
  return m_completer.abort(*this, ccb);
}

void EmuBus::action(cam::Ccb& ccb) {
  switch (state()) {
    case State::Present:
      break;
    case State::LinkDown:
      ccb.complete_status(CamStatus::SelTimeout);
      m_xpt.done(ccb);
      return;
    case State::Deregistered:
      ccb.complete_status(CamStatus::DevNotThere);
      m_xpt.done(ccb);
      return;
  }
  switch (ccb.func) {
    case cam::FuncCode::ScsiIo:
      scsi_io(ccb);
      return;
    case cam::FuncCode::ResetDev:
      reset_device(ccb);
      return;
    case cam::FuncCode::ResetBus:
      reset_bus(ccb);
      return;
    case cam::FuncCode::Noop:
      ccb.complete_status(CamStatus::ReqCmp);
      m_xpt.done(ccb);
      return;
  }
  ccb.complete_status(CamStatus::ReqInvalid);
  m_xpt.done(ccb);
}

// The hot path: two binary searches and a handful of atomic loads before the model runs.
void EmuBus::scsi_io(cam::Ccb& ccb) {
  // Results of an earlier use of this CCB must not leak into this one.
  ccb.sense_len = 0;
  ccb.flags &= ~static_cast<std::uint32_t>(cam::kCcbAutosenseValid);
  const EmuTarget* target = find_target(ccb.path.target);
  if (target == nullptr || !target->reachable()) {
    ccb.complete_status(CamStatus::SelTimeout);
    m_xpt.done(ccb);
    return;
  }
  if (ccb.cdb_len == 0) {
    ccb.complete_status(CamStatus::ReqInvalid);
    m_xpt.done(ccb);
    return;
  }
  EmuLun* lun = target->find_lun(ccb.path.lun);
  if (lun == nullptr || !lun->present()) {
    target->execute_missing_lun(ccb);
    m_xpt.done(ccb);
    return;
  }
  const std::uint64_t epoch = lun->epoch();
  const Outcome outcome = lun->execute(ccb, *target);
  if (outcome.kind == Outcome::Kind::Complete) {
    m_xpt.done(ccb);
    return;
  }
  const auto when = outcome.kind == Outcome::Kind::Hang ? Completer::Clock::time_point::max()
                                                        : Completer::Clock::now() + outcome.delay;
  if (!m_completer.hold(ccb, Completer::Owner{this, target, lun}, epoch, when)) {
    // The LUN went away while the command ran: device gone mid-command.
    ccb.complete_status(CamStatus::DevNotThere);
    ccb.scsi_status = cam::ScsiStatus::Good;
    ccb.sense_len = 0;
    ccb.flags &= ~static_cast<std::uint32_t>(cam::kCcbAutosenseValid);
    m_xpt.done(ccb);
  }
}

// XPT_RESET_DEV: a bus device reset (SAM-5 logical unit reset of every LU of the target). Held
// commands end with BdrSent, each LU gets UNIT ATTENTION 29h/03h, and the XPT hears SentBdr.
void EmuBus::reset_device(cam::Ccb& ccb) {
  EmuTarget* target = find_target(ccb.path.target);
  if (target == nullptr || !target->reachable()) {
    ccb.complete_status(CamStatus::SelTimeout);
    m_xpt.done(ccb);
    return;
  }
  m_completer.flush(*this, target, nullptr, CamStatus::BdrSent);
  for (const auto& lun : target->luns()) {
    lun->queue_unit_attention(scsi::kBdrOccurred);
  }
  if (const auto id = path_id()) {
    m_xpt.announce(cam::AsyncCode::SentBdr, cam::Path{*id, target->id(), cam::Path::kWildcardLun});
  }
  ccb.complete_status(CamStatus::ReqCmp);
  ccb.resid = 0;
  m_xpt.done(ccb);
}

// XPT_RESET_BUS: every held command ends with ScsiBusReset, every LU gets UNIT ATTENTION
// 29h/02h, and the XPT hears BusReset.
void EmuBus::reset_bus(cam::Ccb& ccb) {
  m_completer.flush(*this, nullptr, nullptr, CamStatus::ScsiBusReset);
  for (const auto& target : m_targets) {
    for (const auto& lun : target->luns()) {
      lun->queue_unit_attention(scsi::kBusResetOccurred);
    }
  }
  if (const auto id = path_id()) {
    m_xpt.announce(cam::AsyncCode::BusReset,
                   cam::Path{*id, cam::Path::kWildcardTarget, cam::Path::kWildcardLun});
  }
  ccb.complete_status(CamStatus::ReqCmp);
  ccb.resid = 0;
  m_xpt.done(ccb);
}

}  // namespace ucam::emu
