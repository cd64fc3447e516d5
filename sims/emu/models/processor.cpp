#include "sims/emu/models/processor.h"

#include <algorithm>

#include "scsi/opcodes.h"

namespace ucam::emu {

namespace {
constexpr std::uint16_t kVersionSam5 = 0x00a0;
constexpr std::uint16_t kVersionSpc4 = 0x0460;
constexpr std::size_t kSixByteCdb = 6;
}  // namespace

Result<std::shared_ptr<const ModelConfig>> parse_processor_config(ObjectReader& lun) {
  auto config = std::make_shared<ProcessorConfig>();
  auto limit = lun.unsigned_integer("message_limit", 1, 65536);
  if (!limit) {
    return fail(limit.error());
  }
  config->message_limit = static_cast<std::uint32_t>(limit->value_or(config->message_limit));
  return config;
}

std::unique_ptr<LunModel> create_processor(const LunSpec& spec) {
  static const ProcessorConfig defaults;
  const auto* config = spec.config_as<ProcessorConfig>();
  return std::make_unique<ProcessorModel>(config != nullptr ? *config : defaults);
}

void ProcessorModel::adjust_inquiry(scsi::StandardInquiry& inquiry) const {
  inquiry.version_descriptors = {kVersionSam5, kVersionSpc4};
}

Dispatch ProcessorModel::execute(Command& command) {
  switch (command.opcode()) {
    case static_cast<std::uint8_t>(scsi::Opcode::TestUnitReady):
      command.complete_good();
      return Dispatch::Handled;
    case static_cast<std::uint8_t>(scsi::Opcode::Send):
      send(command);
      return Dispatch::Handled;
    case static_cast<std::uint8_t>(scsi::Opcode::Receive):
      receive(command);
      return Dispatch::Handled;
    default:
      return Dispatch::Unsupported;
  }
}

// SEND / RECEIVE CDB: opcode, byte 1 (SEND: AER bit 0), bytes 2-4 TRANSFER or ALLOCATION
// LENGTH, control.
void ProcessorModel::send(Command& command) {
  const Bytes cdb = command.cdb();
  if (cdb.size() < kSixByteCdb) {
    command.invalid_field_in_cdb(0);
    return;
  }
  if (bit(cdb[1], 0)) {
    // Asynchronous event reporting is not emulated.
    command.invalid_field_in_cdb(1, 0);
    return;
  }
  const std::uint32_t length = load_be24(cdb, 2);
  const Bytes data = command.data_out();
  if (data.size() < length) {
    command.transport_status(CamStatus::DataRunErr);
    return;
  }
  {
    std::lock_guard lock(m_lock);
    if (m_messages.size() >= m_limit) {
      command.scsi_status(cam::ScsiStatus::Busy);
      return;
    }
    m_messages.emplace_back(data.begin(), data.begin() + length);
  }
  command.complete_good(length);
}

void ProcessorModel::receive(Command& command) {
  const Bytes cdb = command.cdb();
  if (cdb.size() < kSixByteCdb) {
    command.invalid_field_in_cdb(0);
    return;
  }
  const std::uint32_t allocation = load_be24(cdb, 2);
  std::vector<std::uint8_t> message;
  {
    std::lock_guard lock(m_lock);
    if (allocation == 0 || m_messages.empty()) {
      command.complete_good(0);
      return;
    }
    message = std::move(m_messages.front());
    m_messages.pop_front();
  }
  command.complete_data_in(message, allocation);
}

std::size_t ProcessorModel::queued_messages() const {
  std::lock_guard lock(m_lock);
  return m_messages.size();
}

}  // namespace ucam::emu
