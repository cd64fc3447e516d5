#include "sims/emu/models/tape.h"

#include <fmt/format.h>

#include <cerrno>

#include "scsi/opcodes.h"
#include "scsi/sense.h"

namespace ucam::emu {

namespace {

constexpr std::uint16_t kVersionSam5 = 0x00a0;
constexpr std::uint16_t kVersionSpc4 = 0x0460;
constexpr std::uint16_t kVersionSsc4 = 0x0580;

constexpr std::uint8_t op(scsi::Opcode opcode) {
  return static_cast<std::uint8_t>(opcode);
}

// SSC-4 8.3.3: BUFFERED MODE 1 in the device-specific parameter (bits 6:4); WP (bit 7) clear.
constexpr std::uint8_t kBufferedMode = 0x10;
// SSC-4 7.5: READ BLOCK LIMITS data is 6 bytes (MLOI = 0).
constexpr std::size_t kBlockLimitsLength = 6;

// Every group-0 SSC CDB here is 6 bytes; a shorter one is malformed.
bool short_cdb(Command& command) {
  if (command.cdb().size() < 6) {
    command.invalid_field_in_cdb(0);
    return true;
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<const ModelConfig>> parse_tape_config(ObjectReader& lun) {
  auto config = std::make_shared<TapeConfig>();
  auto density = lun.unsigned_integer("density_code", 0, 0xff);
  auto max_block = lun.unsigned_integer("max_block_length", 1, 0xffffff);
  auto min_block = lun.unsigned_integer("min_block_length", 1, 0xffff);
  auto medium = lun.string("medium");
  for (const auto* r : {&density, &max_block, &min_block}) {
    if (!*r) {
      return fail(r->error());
    }
  }
  if (!medium) {
    return fail(medium.error());
  }
  config->density_code = static_cast<std::uint8_t>(density->value_or(config->density_code));
  config->max_block_length =
      static_cast<std::uint32_t>(max_block->value_or(config->max_block_length));
  config->min_block_length =
      static_cast<std::uint16_t>(min_block->value_or(config->min_block_length));
  if (config->min_block_length > config->max_block_length) {
    return fail(lun.error("min_block_length", "larger than max_block_length"));
  }
  config->medium = medium->value_or("");
  if (config->medium.size() > 32) {
    return fail(lun.error("medium", "expected a volume tag of at most 32 characters"));
  }
  return config;
}

std::unique_ptr<LunModel> create_tape(const LunSpec& spec) {
  static const TapeConfig defaults;
  const auto* config = spec.config_as<TapeConfig>();
  return std::make_unique<TapeModel>(spec, config != nullptr ? *config : defaults);
}

TapeModel::TapeModel(const LunSpec& spec, const TapeConfig& config)
    : m_config(config), m_control_page(control_mode_page(spec.sense_format)) {
  m_control_changeable[0] = m_control_page[0];
  m_control_changeable[1] = m_control_page[1];
  m_pages[0] = ModePageValues{0x0a, m_control_page, m_control_changeable, m_control_page};
  if (!config.medium.empty()) {
    m_medium = TapeMedium::Loaded;
    m_tag = config.medium;
  }
}

void TapeModel::adjust_inquiry(scsi::StandardInquiry& inquiry) const {
  inquiry.rmb = true;
  inquiry.version_descriptors = {kVersionSam5, kVersionSpc4, kVersionSsc4};
}

std::optional<SenseCode> TapeModel::not_ready() const {
  switch (m_medium) {
    case TapeMedium::Empty:
      return scsi::kMediumNotPresent;
    case TapeMedium::Unloaded:
      return scsi::kInitializingCommandRequired;
    case TapeMedium::Loaded:
      break;
  }
  return std::nullopt;
}

std::optional<SenseCode> TapeModel::current_condition() const {
  std::lock_guard lock(m_lock);
  return not_ready();
}

Dispatch TapeModel::execute(Command& command) {
  switch (command.opcode()) {
    case op(scsi::Opcode::TestUnitReady):
    case op(scsi::Opcode::Rewind): {
      if (short_cdb(command)) {
        return Dispatch::Handled;
      }
      std::optional<SenseCode> sense;
      {
        std::lock_guard lock(m_lock);
        sense = not_ready();
      }
      // REWIND: nothing to move, every block position is BOT on an emulated blank tape.
      if (sense) {
        command.check_condition(*sense);
      } else {
        command.complete_good();
      }
      return Dispatch::Handled;
    }
    case op(scsi::Opcode::ReadBlockLimits):
      read_block_limits(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::LoadUnload):
      load_unload(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::PreventAllowMediumRemoval):
      prevent_allow(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::ModeSense6):
    case op(scsi::Opcode::ModeSense10): {
      std::uint8_t density = 0;
      {
        std::lock_guard lock(m_lock);
        density = m_medium == TapeMedium::Empty ? 0 : m_config.density_code;
      }
      // SPC-5 7.5.6 general block descriptor: DENSITY CODE in byte 0, NUMBER OF BLOCKS (0: the
      // rest of the medium) in bytes 1-3, BLOCK LENGTH 0 = variable-length blocks (SSC-4 8.3.2).
      // scsi/mode.h writes a short descriptor's bytes 0-3 from number_of_blocks (the SBC
      // layout), so the density goes in its top byte.
      const scsi::BlockDescriptor descriptor{std::uint64_t{density} << 24, density, 0};
      execute_mode_sense(command, ModeSenseParameters{0, kBufferedMode, descriptor, m_pages});
      return Dispatch::Handled;
    }
    default:
      return Dispatch::Unsupported;
  }
}

void TapeModel::read_block_limits(Command& command) const {
  if (short_cdb(command)) {
    return;
  }
  if ((command.cdb()[1] & 0x01) != 0) {
    command.invalid_field_in_cdb(1, 0);  // MLOI: maximum logical object identifier not kept.
    return;
  }
  std::array<std::uint8_t, kBlockLimitsLength> data{};
  data[0] = 0;  // GRANULARITY: 2^0.
  data[1] = static_cast<std::uint8_t>(m_config.max_block_length >> 16);
  data[2] = static_cast<std::uint8_t>(m_config.max_block_length >> 8);
  data[3] = static_cast<std::uint8_t>(m_config.max_block_length);
  data[4] = static_cast<std::uint8_t>(m_config.min_block_length >> 8);
  data[5] = static_cast<std::uint8_t>(m_config.min_block_length);
  command.complete_data_in(data, kBlockLimitsLength);
}

// SSC-4 7.3 LOAD UNLOAD: byte 4 bit 0 LOAD, bit 1 RETEN, bit 2 EOT, bit 3 HOLD.
void TapeModel::load_unload(Command& command) {
  if (short_cdb(command)) {
    return;
  }
  const std::uint8_t flags = command.cdb()[4];
  const bool load = (flags & 0x01) != 0;
  const bool eot = (flags & 0x04) != 0;
  if (load && eot) {
    command.invalid_field_in_cdb(4, 2);  // SSC-4: EOT with LOAD is an invalid combination.
    return;
  }
  std::lock_guard lock(m_lock);
  if (m_medium == TapeMedium::Empty) {
    command.check_condition(scsi::kMediumNotPresent);
    return;
  }
  if (load) {
    m_medium = TapeMedium::Loaded;
    command.complete_good();
    return;
  }
  if (m_prevent) {
    command.check_condition(scsi::kMediumRemovalPrevented);
    return;
  }
  m_medium = TapeMedium::Unloaded;
  command.complete_good();
}

// SPC-5 6.16 / SSC-4: PREVENT (byte 4 bits 1:0) 00b allow, 01b prevent; other values reserved.
void TapeModel::prevent_allow(Command& command) {
  if (short_cdb(command)) {
    return;
  }
  const std::uint8_t prevent = command.cdb()[4] & 0x03;
  if (prevent > 1) {
    command.invalid_field_in_cdb(4, 1);
    return;
  }
  {
    std::lock_guard lock(m_lock);
    m_prevent = prevent == 1;
  }
  command.complete_good();
}

Result<void> TapeModel::insert_medium(const std::string& tag) {
  {
    std::lock_guard lock(m_lock);
    if (m_medium != TapeMedium::Empty) {
      return fail_errno(EBUSY, "tape: the drive already holds a cartridge");
    }
    m_medium = TapeMedium::Loaded;
    m_tag = tag;
  }
  if (m_attention) {
    m_attention(scsi::kMediumMayHaveChanged);
  }
  return {};
}

Result<void> TapeModel::may_remove() const {
  std::lock_guard lock(m_lock);
  if (m_medium == TapeMedium::Empty) {
    return fail_invalid("tape: the drive holds no cartridge");
  }
  if (m_prevent) {
    return fail(
        Error::from_sense(scsi::kRemovalPreventedByDrive, "tape: medium removal prevented"));
  }
  return {};
}

Result<void> TapeModel::remove_medium() {
  std::lock_guard lock(m_lock);
  if (m_medium == TapeMedium::Empty) {
    return fail_invalid("tape: the drive holds no cartridge");
  }
  if (m_prevent) {
    return fail(
        Error::from_sense(scsi::kRemovalPreventedByDrive, "tape: medium removal prevented"));
  }
  m_medium = TapeMedium::Empty;
  m_tag.clear();
  return {};
}

TapeMedium TapeModel::medium_state() const {
  std::lock_guard lock(m_lock);
  return m_medium;
}

std::string TapeModel::medium_tag() const {
  std::lock_guard lock(m_lock);
  return m_tag;
}

bool TapeModel::prevent() const {
  std::lock_guard lock(m_lock);
  return m_prevent;
}

}  // namespace ucam::emu
