// Emulator scenarios: the topology (buses -> targets -> LUNs) and the identity of every emulated
// logical unit, read from JSON. The format, every field and its default are documented in
// docs/scenarios.md; this header is the parsed form.
//
// A parsed Scenario is a plain value: immutable once returned, safe to share between threads and
// to build several emulators from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "scsi/cdb.h"

namespace ucam::emu {

struct ModelDescriptor;  // sims/emu/model.h

// The model-specific part of a LUN's description (for example `DiskConfig`). Each model derives
// its own; LUNs generated from one template share one instance.
class ModelConfig {
 public:
  virtual ~ModelConfig() = default;
};

// Transport protocols a bus can claim (SPC-5 7.6.1 Table 444 protocol identifiers).
enum class Transport : std::uint8_t { Fc = 0x0, Spi = 0x1, Iscsi = 0x5, Sas = 0x6 };
std::string_view transport_name(Transport transport);  // "FC", "SPI", "iSCSI", "SAS"

struct LunSpec {
  std::uint64_t lun = 0;
  const ModelDescriptor* model = nullptr;  // Never null in a parsed scenario.
  std::string vendor;                      // INQUIRY T10 VENDOR IDENTIFICATION (<= 8 characters).
  std::string product;                     // PRODUCT IDENTIFICATION (<= 16).
  std::string revision;                    // PRODUCT REVISION LEVEL (<= 4).
  std::string serial;                      // VPD 0x80 (<= 64).
  std::uint64_t naa = 0;                   // VPD 0x83 logical unit designator (NAA 2, 3 or 5).
  std::uint64_t sas_address = 0;           // VPD 0x83 target port designator (NAA 5).
  std::uint16_t relative_target_port = 1;  // VPD 0x83 relative target port designator.
  scsi::SenseFormat sense_format = scsi::SenseFormat::Fixed;  // Control mode page D_SENSE.
  std::shared_ptr<const ModelConfig> config;                  // Model-specific fields.

  std::string_view type() const;  // The model's name, "disk".
  template <class Config>
  const Config* config_as() const {
    return dynamic_cast<const Config*>(config.get());
  }
};

struct TargetSpec {
  std::uint32_t id = 0;
  std::uint64_t sas_address = 0;  // Default target port designator of its LUNs.
  std::uint16_t relative_target_port = 1;
  std::vector<LunSpec> luns;  // Sorted by LUN, no duplicates.

  const LunSpec* find_lun(std::uint64_t lun) const;
};

struct BusSpec {
  Transport transport = Transport::Sas;
  std::uint32_t max_target = 0;
  std::uint64_t max_lun = 0;
  std::uint32_t initiator_id = 0;
  std::uint32_t queue_depth = 64;
  std::vector<TargetSpec> targets;  // Sorted by id, no duplicates.

  const TargetSpec* find_target(std::uint32_t id) const;
};

struct Scenario {
  std::string name;            // "name" field, or the source's file stem.
  std::string description;     // Free text.
  std::string source;          // Where it was read from (for messages).
  std::vector<BusSpec> buses;  // Scenario bus number = index.

  std::size_t lun_count() const;
};

// Limits that keep a typo from asking for a billion LUNs. kMaxScenarioLuns is what the whole
// stack handles in a few seconds and under 1 GiB (docs/performance.md, "Scenario size"): a
// scenario with more is refused while it is parsed, by counting, before any LUN is built.
inline constexpr std::uint64_t kMaxScenarioLuns = 100'000;
inline constexpr std::size_t kMaxScenarioBuses = 1024;  // Each is a SIM; a machine has a few.
inline constexpr std::uint64_t kMaxLunNumber = 16383;   // SAM-5 flat space addressing.
inline constexpr std::uint32_t kMaxTargetId = 65535;

// Parses a scenario. Errors (EINVAL) read "<source_name>: <json path>: <problem>", or
// "<source_name>: line L, column C: <problem>" for JSON syntax errors.
Result<Scenario> parse_scenario(std::string_view json_text, std::string_view source_name);

// Reads and parses a file; the path as given is the source name.
Result<Scenario> load_scenario_file(const std::filesystem::path& path);

// Identifiers derived when a scenario does not give them. NAA 5 with the IEEE "private" example
// company id AC-DE-48; the 36-bit vendor-specific part holds a kind (0 LU, 1 target port), the
// bus (6 bits), the target (14 bits) and the LUN (14 bits), so defaults are distinct in any
// topology with fewer than 64 buses and 16384 targets per bus.
std::uint64_t default_lu_naa(std::uint32_t bus, std::uint32_t target, std::uint64_t lun);
std::uint64_t default_target_sas_address(std::uint32_t bus, std::uint32_t target);
std::string default_serial(std::uint32_t bus, std::uint32_t target, std::uint64_t lun);

}  // namespace ucam::emu
