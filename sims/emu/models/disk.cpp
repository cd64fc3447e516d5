#include "sims/emu/models/disk.h"

#include <limits>

#include "scsi/opcodes.h"
#include "scsi/read_capacity.h"
#include "scsi/sense.h"

namespace ucam::emu {

namespace {

constexpr std::uint16_t kVersionSam5 = 0x00a0;
constexpr std::uint16_t kVersionSpc4 = 0x0460;
constexpr std::uint16_t kVersionSbc3 = 0x04c0;

constexpr std::uint8_t op(scsi::Opcode opcode) {
  return static_cast<std::uint8_t>(opcode);
}

// SBC-4 7.5.5 Caching mode page (0x08), 20 bytes.
std::array<std::uint8_t, 20> caching_page(bool write_cache) {
  std::array<std::uint8_t, 20> page{};
  page[0] = 0x08;
  page[1] = 0x12;
  page[2] = write_cache ? 0x04 : 0x00;  // WCE (bit 2); RCD (bit 0) = 0: read cache enabled.
  return page;
}

}  // namespace

Result<std::shared_ptr<const ModelConfig>> parse_disk_config(ObjectReader& lun) {
  auto config = std::make_shared<DiskConfig>();
  auto capacity = lun.unsigned_integer("capacity", 1, std::numeric_limits<std::uint64_t>::max());
  if (!capacity) {
    return fail(capacity.error());
  }
  auto block_size = lun.unsigned_integer("block_size", 256, 65536);
  if (!block_size) {
    return fail(block_size.error());
  }
  if (*block_size && **block_size % 8 != 0) {
    return fail(lun.error(
        "block_size", fmt::format("expected a multiple of 8 in 256..65536, got {}", **block_size)));
  }
  auto write_cache = lun.boolean("write_cache");
  if (!write_cache) {
    return fail(write_cache.error());
  }
  config->capacity = capacity->value_or(config->capacity);
  config->block_size = static_cast<std::uint32_t>(block_size->value_or(config->block_size));
  config->write_cache = write_cache->value_or(config->write_cache);
  return config;
}

std::unique_ptr<LunModel> create_disk(const LunSpec& spec) {
  static const DiskConfig defaults;
  const auto* config = spec.config_as<DiskConfig>();
  return std::make_unique<DiskModel>(spec, config != nullptr ? *config : defaults);
}

DiskModel::DiskModel(const LunSpec& spec, const DiskConfig& config)
    : m_capacity(config.capacity),
      m_block_size(config.block_size),
      m_store(config.block_size),
      m_caching_page(caching_page(config.write_cache)),
      m_caching_default(caching_page(true)),
      m_control_page(control_mode_page(spec.sense_format)) {
  // Nothing is changeable (no MODE SELECT); the changeable pages keep only their headers.
  m_caching_changeable[0] = m_caching_page[0];
  m_caching_changeable[1] = m_caching_page[1];
  m_control_changeable[0] = m_control_page[0];
  m_control_changeable[1] = m_control_page[1];
  m_pages[0] = ModePageValues{0x08, m_caching_page, m_caching_changeable, m_caching_default};
  m_pages[1] = ModePageValues{0x0a, m_control_page, m_control_changeable, m_control_page};
}

void DiskModel::adjust_inquiry(scsi::StandardInquiry& inquiry) const {
  inquiry.version_descriptors = {kVersionSam5, kVersionSpc4, kVersionSbc3};
}

Dispatch DiskModel::execute(Command& command) {
  switch (command.opcode()) {
    case op(scsi::Opcode::TestUnitReady):
    case op(scsi::Opcode::SynchronizeCache10):
    case op(scsi::Opcode::SynchronizeCache16):
    case op(scsi::Opcode::StartStopUnit):
      // The medium is always ready and the cache is memory: nothing to wait for.
      command.complete_good();
      return Dispatch::Handled;
    case op(scsi::Opcode::ReadCapacity10):
      read_capacity10(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::ServiceActionIn16):
      read_capacity16(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::ModeSense6):
    case op(scsi::Opcode::ModeSense10):
      execute_mode_sense(command, ModeSenseParameters{
                                      0, 0x10 /* DPOFUA */,
                                      scsi::BlockDescriptor{m_capacity, 0, m_block_size}, m_pages});
      return Dispatch::Handled;
    case op(scsi::Opcode::Read6):
    case op(scsi::Opcode::Read10):
    case op(scsi::Opcode::Read12):
    case op(scsi::Opcode::Read16):
    case op(scsi::Opcode::Write6):
    case op(scsi::Opcode::Write10):
    case op(scsi::Opcode::Write12):
    case op(scsi::Opcode::Write16):
      read_write(command);
      return Dispatch::Handled;
    default:
      return Dispatch::Unsupported;
  }
}

void DiskModel::read_capacity10(Command& command) const {
  const Bytes cdb = command.cdb();
  if (cdb.size() < 10) {
    command.invalid_field_in_cdb(0);
    return;
  }
  // SBC-3 5.16: with PMI = 0 the LOGICAL BLOCK ADDRESS must be zero.
  if (!bit(cdb[8], 0) && load_be32(cdb, 2) != 0) {
    command.invalid_field_in_cdb(2);
    return;
  }
  const auto data =
      scsi::encode_read_capacity10(scsi::read_capacity10_for(m_capacity, m_block_size));
  command.complete_data_in(data, static_cast<std::uint32_t>(data.size()));
}

void DiskModel::read_capacity16(Command& command) const {
  auto cdb = scsi::parse_read_capacity16_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  scsi::ReadCapacity16Data rc;
  rc.last_lba = m_capacity - 1;
  rc.block_length = m_block_size;
  auto data = scsi::encode_read_capacity16(rc);
  if (!data) {
    command.transport_status(CamStatus::ReqCmpErr);  // Unreachable: no sub-byte field is set.
    return;
  }
  command.complete_data_in(*data, cdb->allocation_length);
}

void DiskModel::read_write(Command& command) {
  auto rw = scsi::parse_rw_cdb(command.cdb());
  if (!rw) {
    command.check_condition(rw.error());
    return;
  }
  if (rw->protect != 0) {
    // No protection information on this medium (SBC-4 4.22): RDPROTECT/WRPROTECT must be 0.
    command.invalid_field_in_cdb(1, 7);
    return;
  }
  if (rw->lba > m_capacity || rw->blocks > m_capacity - rw->lba) {
    command.check_condition(scsi::kLbaOutOfRange);
    return;
  }
  const std::uint64_t bytes = std::uint64_t{rw->blocks} * m_block_size;
  if (rw->direction == scsi::Direction::Read) {
    const MutableBytes buffer = command.data_in_buffer();
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), bytes));
    m_store.read(rw->lba, buffer.first(n));
    command.complete_good(static_cast<std::uint32_t>(n));
    return;
  }
  const Bytes data = command.data_out();
  if (data.size() < bytes) {
    // The initiator offered less data than the CDB asks for: the HBA sees an underrun and the
    // medium is not touched.
    command.transport_status(CamStatus::DataRunErr);
    return;
  }
  m_store.write(rw->lba, data.first(static_cast<std::size_t>(bytes)));
  command.complete_good(static_cast<std::uint32_t>(bytes));
}

}  // namespace ucam::emu
