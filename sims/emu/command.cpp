#include <algorithm>

#include "scsi/sense.h"
#include "sims/emu/model.h"

namespace ucam::emu {

MutableBytes Command::data_in_buffer() const {
  if (m_ccb.dir != cam::DataDir::In || m_ccb.data == nullptr) {
    return {};
  }
  return {m_ccb.data, m_ccb.dxfer_len};
}

Bytes Command::data_out() const {
  if (m_ccb.dir != cam::DataDir::Out || m_ccb.data == nullptr) {
    return {};
  }
  return {m_ccb.data, m_ccb.dxfer_len};
}

void Command::complete_good(std::uint32_t transferred) {
  m_ccb.complete_good(transferred);
}

void Command::complete_data_in(Bytes data, std::uint32_t allocation_length) {
  const MutableBytes buffer = data_in_buffer();
  const std::size_t n = std::min({data.size(), std::size_t{allocation_length}, buffer.size()});
  std::copy_n(data.begin(), n, buffer.begin());
  m_ccb.complete_good(static_cast<std::uint32_t>(n));
}

void Command::check_condition(SenseCode sense, std::optional<scsi::CdbFieldPointer> field) {
  scsi::SenseFields fields;
  if (field) {
    scsi::FieldPointerInfo pointer;
    pointer.command = true;
    pointer.bpv = field->bit.has_value();
    pointer.bit_pointer = field->bit.value_or(0);
    pointer.field_pointer = field->byte;
    fields.sense_key_specific = pointer;
  }
  auto bytes = m_format == scsi::SenseFormat::Descriptor
                   ? scsi::encode_descriptor_sense(sense.key, sense.asc, sense.ascq, fields)
                   : scsi::encode_fixed_sense(sense.key, sense.asc, sense.ascq, fields);
  if (!bytes) {
    // Only a bit pointer above 7 can fail, and the emulator never builds one.
    m_ccb.complete_status(CamStatus::AutosenseFail);
    return;
  }
  m_ccb.complete_check_condition(*bytes);
}

void Command::check_condition(const Error& error) {
  m_ccb.complete_check_condition(scsi::sense_for_cdb_error(error, m_format));
}

void Command::invalid_field_in_cdb(std::uint16_t byte, std::optional<std::uint8_t> bit) {
  check_condition(scsi::kInvalidFieldInCdb, scsi::CdbFieldPointer{byte, bit});
}

void Command::scsi_status(cam::ScsiStatus status) {
  m_ccb.status = CamStatus::ScsiStatusError;
  m_ccb.scsi_status = status;
  m_ccb.resid = m_ccb.dxfer_len;
  m_ccb.sense_len = 0;
}

void Command::transport_status(CamStatus status) {
  m_ccb.complete_status(status);
  m_ccb.scsi_status = cam::ScsiStatus::Good;
  m_ccb.sense_len = 0;
}

}  // namespace ucam::emu
