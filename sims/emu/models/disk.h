// SBC direct-access block device ("disk"): READ/WRITE (6/10/12/16) on a sparse in-memory
// medium, READ CAPACITY (10/16), MODE SENSE (caching, control, all pages), TEST UNIT READY,
// SYNCHRONIZE CACHE and START STOP UNIT.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "sims/emu/model.h"
#include "sims/emu/models/mode_sense.h"
#include "sims/emu/models/sparse_store.h"

namespace ucam::emu {

struct DiskConfig final : ModelConfig {
  std::uint64_t capacity = 2'097'152;  // Blocks (1 GiB of 512-byte blocks).
  std::uint32_t block_size = 512;
  bool write_cache = true;  // Caching mode page WCE.
};

Result<std::shared_ptr<const ModelConfig>> parse_disk_config(ObjectReader& lun);
std::unique_ptr<LunModel> create_disk(const LunSpec& spec);

class DiskModel final : public LunModel {
 public:
  DiskModel(const LunSpec& spec, const DiskConfig& config);

  Dispatch execute(Command& command) override;
  void adjust_inquiry(scsi::StandardInquiry& inquiry) const override;

  const SparseStore& store() const { return m_store; }

 private:
  void read_capacity10(Command& command) const;
  void read_capacity16(Command& command) const;
  void read_write(Command& command);

  std::uint64_t m_capacity;
  std::uint32_t m_block_size;
  SparseStore m_store;
  std::array<std::uint8_t, 20> m_caching_page{};
  std::array<std::uint8_t, 20> m_caching_default{};
  std::array<std::uint8_t, 12> m_control_page{};
  std::array<std::uint8_t, 20> m_caching_changeable{};
  std::array<std::uint8_t, 12> m_control_changeable{};
  std::array<ModePageValues, 2> m_pages{};
};

}  // namespace ucam::emu
