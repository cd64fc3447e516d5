#include "sims/emu/lun.h"

#include <algorithm>

#include "base/log.h"
#include "scsi/inquiry.h"
#include "scsi/opcodes.h"
#include "scsi/report_luns.h"
#include "scsi/sense.h"
#include "scsi/vpd.h"

namespace ucam::emu {

namespace {

constexpr std::uint8_t kInquiry = static_cast<std::uint8_t>(scsi::Opcode::Inquiry);
constexpr std::uint8_t kReportLuns = static_cast<std::uint8_t>(scsi::Opcode::ReportLuns);
constexpr std::uint8_t kRequestSense = static_cast<std::uint8_t>(scsi::Opcode::RequestSense);
constexpr std::uint8_t kSpc4 = 0x06;       // INQUIRY VERSION: SPC-4.
constexpr std::size_t kMaxAttentions = 8;  // Oldest conditions beyond this are dropped.

scsi::ProtocolId protocol_of(Transport transport) {
  switch (transport) {
    case Transport::Fc:
      return scsi::ProtocolId::FibreChannel;
    case Transport::Spi:
      return scsi::ProtocolId::ParallelScsi;
    case Transport::Iscsi:
      return scsi::ProtocolId::Iscsi;
    case Transport::Sas:
      return scsi::ProtocolId::Sas;
  }
  return scsi::ProtocolId::Sas;
}

// The encoders fail only on values the scenario parser already rejected; an emulator built from
// a parsed scenario cannot reach the fallback.
std::vector<std::uint8_t> or_empty(Result<std::vector<std::uint8_t>> bytes, std::string_view what) {
  if (!bytes) {
    log_error("emu: cannot encode {}: {}", what, bytes.error().message());
    return {};
  }
  return std::move(*bytes);
}

scsi::StandardInquiry base_inquiry(const LunSpec& spec) {
  scsi::StandardInquiry inquiry;
  inquiry.peripheral_qualifier = scsi::kQualifierConnected;
  inquiry.device_type = static_cast<std::uint8_t>(spec.model->peripheral_type);
  inquiry.version = kSpc4;
  inquiry.hisup = true;
  inquiry.response_data_format = 2;
  inquiry.cmdque = true;
  inquiry.vendor = spec.vendor;
  inquiry.product = spec.product;
  inquiry.revision = spec.revision;
  return inquiry;
}

std::vector<std::uint8_t> sense_bytes(SenseCode sense, scsi::SenseFormat format) {
  return or_empty(format == scsi::SenseFormat::Descriptor
                      ? scsi::encode_descriptor_sense(sense.key, sense.asc, sense.ascq)
                      : scsi::encode_fixed_sense(sense.key, sense.asc, sense.ascq),
                  "sense data");
}

}  // namespace

// --- EmuLun ---------------------------------------------------------------------------------

std::shared_ptr<LunModel> ModelPool::model_for(const LunSpec& spec) {
  auto& slot = m_models[{spec.model, spec.naa}];
  if (!slot) {
    slot = spec.model->create(spec);
  }
  return slot;
}

EmuLun::EmuLun(const LunSpec& spec, Transport transport, std::shared_ptr<LunModel> model)
    : m_spec(spec), m_model(std::move(model)) {
  scsi::StandardInquiry inquiry = base_inquiry(spec);
  m_model->adjust_inquiry(inquiry);
  m_inquiry = or_empty(scsi::encode_standard_inquiry(inquiry), "standard INQUIRY data");
  m_model->adjust_inquiry_data(m_inquiry);
  const std::uint8_t peripheral = inquiry.device_type;

  m_vpd_pages = {scsi::kVpdSupportedPages, scsi::kVpdUnitSerialNumber,
                 scsi::kVpdDeviceIdentification};
  const auto extra = m_model->extra_vpd_pages();
  m_vpd_pages.insert(m_vpd_pages.end(), extra.begin(), extra.end());
  std::sort(m_vpd_pages.begin(), m_vpd_pages.end());
  m_vpd_pages.erase(std::unique(m_vpd_pages.begin(), m_vpd_pages.end()), m_vpd_pages.end());
  m_vpd_supported =
      or_empty(scsi::encode_supported_vpd_pages(m_vpd_pages, peripheral), "VPD page 0x00");
  m_vpd_serial =
      or_empty(scsi::encode_unit_serial_number(spec.serial, peripheral), "VPD page 0x80");

  // SPC-5 7.7.6: the LU's NAA name; for SAS and FC the port's NAA name (association target
  // port, PIV=1 with the protocol); the relative target port.
  const scsi::ProtocolId protocol = protocol_of(transport);
  std::vector<scsi::Designator> designators;
  designators.push_back(scsi::make_naa_designator(spec.naa, scsi::Association::LogicalUnit));
  if (transport == Transport::Sas || transport == Transport::Fc) {
    designators.push_back(
        scsi::make_naa_designator(spec.sas_address, scsi::Association::TargetPort, protocol));
  }
  designators.push_back(scsi::make_relative_target_port(spec.relative_target_port, protocol));
  m_vpd_identification =
      or_empty(scsi::encode_device_identification(designators, peripheral), "VPD page 0x83");
}

void EmuLun::set_present(bool present) {
  if (!present) {
    bump_epoch();
  }
  m_present.store(present, std::memory_order_release);
}

void EmuLun::update_armed() {
  m_armed.store(static_cast<std::uint32_t>(m_faults.size() + m_attentions.size()),
                std::memory_order_release);
}

void EmuLun::arm(const Fault& fault) {
  std::lock_guard lock(m_lock);
  m_faults.push_back(fault);
  update_armed();
}

void EmuLun::queue_unit_attention(SenseCode sense) {
  std::lock_guard lock(m_lock);
  if (m_attentions.size() >= kMaxAttentions) {
    m_attentions.erase(m_attentions.begin());
  }
  m_attentions.push_back(sense);
  update_armed();
}

void EmuLun::clear_faults() {
  std::lock_guard lock(m_lock);
  m_faults.clear();
  m_attentions.clear();
  update_armed();
}

// The order a command meets conditions in: an armed fault first (it stands for something the
// device or the wire did to this very command), then a pending UNIT ATTENTION (which INQUIRY,
// REPORT LUNS and REQUEST SENSE neither report nor clear, SAM-5 5.14), then the command itself.
// A Delay fault only postpones the completion of whatever the rest decides.
Outcome EmuLun::execute(cam::Ccb& ccb, const EmuTarget& target) {
  Command command(ccb, m_spec.sense_format);
  const std::uint8_t opcode = command.opcode();
  Outcome outcome;
  if (m_armed.load(std::memory_order_acquire) == 0) {
    dispatch(command, target);
    return outcome;
  }

  std::optional<Fault> fault;
  std::optional<SenseCode> attention;
  {
    std::lock_guard lock(m_lock);
    for (auto it = m_faults.begin(); it != m_faults.end(); ++it) {
      if (it->opcode && *it->opcode != opcode) {
        continue;
      }
      fault = *it;
      if (it->count != Fault::kEveryCommand && --it->count == 0) {
        m_faults.erase(it);
      }
      break;
    }
    const bool exempt = opcode == kInquiry || opcode == kReportLuns;
    const bool executes = !fault || fault->action == Fault::Action::Delay;
    if (executes && !exempt && !m_attentions.empty()) {
      attention = m_attentions.front();
      m_attentions.erase(m_attentions.begin());
    }
    update_armed();
  }

  if (fault) {
    switch (fault->action) {
      case Fault::Action::CheckCondition:
        command.check_condition(fault->sense);
        return outcome;
      case Fault::Action::ScsiStatus:
        command.scsi_status(fault->scsi_status);
        return outcome;
      case Fault::Action::TransportError:
        command.transport_status(fault->cam_status);
        return outcome;
      case Fault::Action::Hang:
        outcome.kind = Outcome::Kind::Hang;
        return outcome;
      case Fault::Action::Delay:
        outcome.kind = Outcome::Kind::Delay;
        outcome.delay = fault->delay;
        break;
    }
  }
  if (attention) {
    if (opcode == kRequestSense) {
      request_sense(command, attention);
    } else {
      command.check_condition(*attention);
    }
    return outcome;
  }
  dispatch(command, target);
  return outcome;
}

void EmuLun::dispatch(Command& command, const EmuTarget& target) const {
  switch (command.opcode()) {
    case kInquiry:
      inquiry(command);
      return;
    case kReportLuns:
      target.report_luns(command);
      return;
    case kRequestSense:
      request_sense(command, std::nullopt);
      return;
    default:
      break;
  }
  if (m_model->execute(command) == Dispatch::Unsupported) {
    command.check_condition(scsi::kInvalidOpcode, scsi::CdbFieldPointer{0, std::nullopt});
  }
}

void EmuLun::inquiry(Command& command) const {
  auto cdb = scsi::parse_inquiry_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  if (cdb->evpd == scsi::InquiryData::Standard) {
    command.complete_data_in(m_inquiry, cdb->allocation_length);
    return;
  }
  switch (cdb->page_code) {
    case scsi::kVpdSupportedPages:
      command.complete_data_in(m_vpd_supported, cdb->allocation_length);
      return;
    case scsi::kVpdUnitSerialNumber:
      command.complete_data_in(m_vpd_serial, cdb->allocation_length);
      return;
    case scsi::kVpdDeviceIdentification:
      command.complete_data_in(m_vpd_identification, cdb->allocation_length);
      return;
    default:
      break;
  }
  if (std::binary_search(m_vpd_pages.begin(), m_vpd_pages.end(), cdb->page_code)) {
    const auto page = m_model->encode_vpd_page(cdb->page_code);
    command.complete_data_in(page, cdb->allocation_length);
    return;
  }
  command.invalid_field_in_cdb(2);  // PAGE CODE
}

// SPC-5 6.39: REQUEST SENSE returns the pending condition (here: a UNIT ATTENTION) or NO SENSE,
// with GOOD status, in the format the DESC bit asks for.
void EmuLun::request_sense(Command& command, std::optional<SenseCode> pending) const {
  auto cdb = scsi::parse_request_sense_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  if (!pending) {
    pending = m_model->current_condition();
  }
  const auto data = sense_bytes(pending.value_or(scsi::kNoSense), cdb->format);
  command.complete_data_in(data, cdb->allocation_length);
}

// --- EmuTarget ------------------------------------------------------------------------------

EmuTarget::EmuTarget(const TargetSpec& spec, Transport transport, ModelPool& models)
    : m_spec(spec) {
  m_luns.reserve(spec.luns.size());
  for (const auto& lun : spec.luns) {
    m_luns.push_back(std::make_unique<EmuLun>(lun, transport, models.model_for(lun)));
  }
  // SPC-5 6.7.2: a LUN with no logical unit behind it answers qualifier 011b, type 1Fh. The
  // identification strings are the target's (those of its first LUN).
  scsi::StandardInquiry inquiry;
  inquiry.peripheral_qualifier = scsi::kQualifierNotSupported;
  inquiry.device_type = static_cast<std::uint8_t>(scsi::PeripheralType::Unknown);
  inquiry.version = kSpc4;
  inquiry.response_data_format = 2;
  if (!spec.luns.empty()) {
    inquiry.vendor = spec.luns.front().vendor;
    inquiry.product = spec.luns.front().product;
    inquiry.revision = spec.luns.front().revision;
  }
  m_missing_inquiry = or_empty(scsi::encode_standard_inquiry(inquiry), "INQUIRY data");
}

EmuLun* EmuTarget::find_lun(std::uint64_t lun) const {
  const auto it = std::lower_bound(
      m_luns.begin(), m_luns.end(), lun,
      [](const std::unique_ptr<EmuLun>& l, std::uint64_t n) { return l->lun() < n; });
  return it != m_luns.end() && (*it)->lun() == lun ? it->get() : nullptr;
}

void EmuTarget::execute_missing_lun(cam::Ccb& ccb) const {
  Command command(ccb, scsi::SenseFormat::Fixed);
  switch (command.opcode()) {
    case kInquiry: {
      auto cdb = scsi::parse_inquiry_cdb(command.cdb());
      if (!cdb) {
        command.check_condition(cdb.error());
      } else if (cdb->evpd == scsi::InquiryData::Standard) {
        command.complete_data_in(m_missing_inquiry, cdb->allocation_length);
      } else {
        command.check_condition(scsi::kLunNotSupported);
      }
      return;
    }
    case kReportLuns:
      // SPC-5 6.33: LUN 0 answers REPORT LUNS even when no logical unit sits there.
      if (ccb.path.lun == 0) {
        report_luns(command);
      } else {
        command.check_condition(scsi::kLunNotSupported);
      }
      return;
    case kRequestSense: {
      // SPC-5 6.39.1: for an incorrect LUN the sense data says LOGICAL UNIT NOT SUPPORTED and
      // the status is GOOD.
      auto cdb = scsi::parse_request_sense_cdb(command.cdb());
      if (!cdb) {
        command.check_condition(cdb.error());
        return;
      }
      const auto data = sense_bytes(scsi::kLunNotSupported, cdb->format);
      command.complete_data_in(data, cdb->allocation_length);
      return;
    }
    default:
      command.check_condition(scsi::kLunNotSupported);
      return;
  }
}

void EmuTarget::report_luns(Command& command) const {
  auto cdb = scsi::parse_report_luns_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  // Only SELECT REPORT 00h and 02h list ordinary logical units; the emulator has no well known
  // or administrative ones, so the other selections return an empty list.
  std::vector<std::uint64_t> raw;
  if (cdb->select_report == static_cast<std::uint8_t>(scsi::SelectReport::LogicalUnits) ||
      cdb->select_report == static_cast<std::uint8_t>(scsi::SelectReport::All)) {
    raw.reserve(m_luns.size());
    for (const auto& lun : m_luns) {
      if (lun->present()) {
        raw.push_back(scsi::u64_to_lun(lun->lun()).raw_lun);
      }
    }
  }
  const auto data = scsi::encode_report_luns(raw);
  command.complete_data_in(data, cdb->allocation_length);
}

}  // namespace ucam::emu
