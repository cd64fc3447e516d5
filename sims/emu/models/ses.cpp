#include "sims/emu/models/ses.h"

#include <fmt/format.h>

#include "base/log.h"
#include "scsi/opcodes.h"
#include "scsi/sense.h"

namespace ucam::emu {

namespace {

constexpr std::uint16_t kVersionSam5 = 0x00a0;
constexpr std::uint16_t kVersionSpc4 = 0x0460;
constexpr std::uint16_t kVersionSes2 = 0x0660;  // SES-2 (no version claimed)

constexpr std::uint8_t op(scsi::Opcode opcode) {
  return static_cast<std::uint8_t>(opcode);
}

}  // namespace

std::unique_ptr<LunModel> create_ses(const LunSpec& spec) {
  auto config = std::dynamic_pointer_cast<const SesModelConfig>(spec.config);
  if (!config) {
    config = std::make_shared<const SesModelConfig>();
  }
  return std::make_unique<SesModel>(spec, std::move(config));
}

SesModel::SesModel(const LunSpec& spec, std::shared_ptr<const SesModelConfig> config)
    : m_config(std::move(config)) {
  if (!m_config->describes_enclosure()) {
    return;  // attached by the emulator to the enclosure another LUN describes
  }
  // Alone, slots hold the SAS addresses written in the scenario; references to emulated LUNs
  // are resolved only by the emulator (ses_registry.h).
  std::vector<SlotContent> slots;
  for (const auto& sub : m_config->subenclosures) {
    for (const auto& group : sub.groups) {
      if (!scsi::ses::is_slot_type(group.type)) {
        continue;
      }
      for (std::size_t i = 0; i < group.count; ++i) {
        SlotContent content;
        if (i < group.disks.size() && group.disks[i].kind == SlotDeviceSpec::Kind::SasAddress) {
          content.sas_address = group.disks[i].sas_address;
        }
        slots.push_back(content);
      }
    }
  }
  auto enclosure = SesEnclosure::create(
      m_config->name.value_or(spec.serial), *m_config,
      SesEnclosure::Identity{spec.vendor, spec.product, spec.revision, spec.naa}, slots);
  if (!enclosure) {
    log_error("emu: {}", enclosure.error().message());
    return;
  }
  m_enclosure = std::move(*enclosure);
}

void SesModel::attach(std::shared_ptr<SesEnclosure> enclosure, std::size_t process) {
  m_enclosure = std::move(enclosure);
  m_process = process;
}

void SesModel::adjust_inquiry(scsi::StandardInquiry& inquiry) const {
  inquiry.encserv = true;
  inquiry.version_descriptors = {kVersionSam5, kVersionSpc4, kVersionSes2};
}

Dispatch SesModel::execute(Command& command) {
  switch (command.opcode()) {
    case op(scsi::Opcode::TestUnitReady):
      command.complete_good();
      return Dispatch::Handled;
    case op(scsi::Opcode::ReceiveDiagnosticResults):
      receive_diagnostic(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::SendDiagnostic):
      send_diagnostic(command);
      return Dispatch::Handled;
    default:
      return Dispatch::Unsupported;
  }
}

// SPC-5 6.32. With PCV=0 the device server would return the results of the last SEND
// DIAGNOSTIC; no self-test results page is emulated, so that is INVALID FIELD IN CDB (PCV).
// An unknown page code is INVALID FIELD IN CDB pointing at PAGE CODE.
void SesModel::receive_diagnostic(Command& command) const {
  auto cdb = scsi::parse_receive_diag_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  if (cdb->pcv == scsi::PageCodeValid::No) {
    command.invalid_field_in_cdb(1, 0);
    return;
  }
  if (!m_enclosure) {  // a LUN naming an enclosure nobody described
    command.check_condition(scsi::kEnclosureServicesUnavailable);
    return;
  }
  const auto page = m_enclosure->status_page(cdb->page_code, m_process);
  if (!page) {
    command.invalid_field_in_cdb(2);
    return;
  }
  command.complete_data_in(*page, cdb->allocation_length);
}

// SPC-5 6.42. SELFTEST=1 runs the default self-test, which passes at once. Background and
// foreground self-tests (SELF-TEST CODE) are not emulated. With PF=1 the parameter list is one
// diagnostic page (SES control pages); PF=0 with a parameter list is vendor specific and refused.
void SesModel::send_diagnostic(Command& command) const {
  auto cdb = scsi::parse_send_diag_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  if (cdb->self_test_code != 0) {
    command.invalid_field_in_cdb(1, 7);
    return;
  }
  if (cdb->selftest == scsi::SelfTest::Yes || cdb->parameter_list_length == 0) {
    command.complete_good();
    return;
  }
  if (cdb->pf != scsi::PageFormat::Standard) {
    command.invalid_field_in_cdb(1, 4);
    return;
  }
  const Bytes data = command.data_out();
  if (data.size() < cdb->parameter_list_length) {
    // The initiator offered less data than the CDB announces: the HBA sees an underrun.
    command.transport_status(CamStatus::DataRunErr);
    return;
  }
  const Bytes list = data.first(cdb->parameter_list_length);
  // SPC-5 7.3.1: the page is PAGE LENGTH + 4 bytes; a list that cuts it is a PARAMETER LIST
  // LENGTH ERROR, bytes after it are ignored.
  if (list.size() < 4 || list.size() < 4 + std::size_t{load_be16(list, 2)}) {
    parameter_list_error(command, ParameterListError{scsi::kParameterListLengthError, {}, {}});
    return;
  }
  if (!m_enclosure) {
    command.check_condition(scsi::kEnclosureServicesUnavailable);
    return;
  }
  const Bytes page = list.first(4 + std::size_t{load_be16(list, 2)});
  if (const auto error = m_enclosure->control_page(page)) {
    parameter_list_error(command, *error);
    return;
  }
  command.complete_good(cdb->parameter_list_length);
}

void parameter_list_error(Command& command, const ParameterListError& error) {
  scsi::SenseFields fields;
  if (error.byte) {
    scsi::FieldPointerInfo pointer;
    pointer.command = false;  // C/D=0: the field is in the parameter list
    pointer.bpv = error.bit.has_value();
    pointer.bit_pointer = error.bit.value_or(0);
    pointer.field_pointer = *error.byte;
    fields.sense_key_specific = pointer;
  }
  auto bytes =
      command.sense_format() == scsi::SenseFormat::Descriptor
          ? scsi::encode_descriptor_sense(error.sense.key, error.sense.asc, error.sense.ascq,
                                          fields)
          : scsi::encode_fixed_sense(error.sense.key, error.sense.asc, error.sense.ascq, fields);
  if (!bytes) {
    command.check_condition(error.sense);  // unreachable: the bit pointer is at most 7
    return;
  }
  command.ccb().complete_check_condition(*bytes);
}

}  // namespace ucam::emu
