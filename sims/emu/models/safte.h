// SAF-TE enclosure ("safte"): a processor device (peripheral device type 03h) with "SAF-TE" at
// INQUIRY bytes 44-49 that answers READ BUFFER (buffer IDs 00h-05h) and WRITE BUFFER (the
// SAF-TE R041 write commands) in vendor-specific mode 01h, through scsi/safte.h. What
// FreeBSD's enc(4) SAF-TE backend and sg_safte drive.
//
// The enclosure state (SafteEnclosure) is the fault-injection side too: the Emulator's
// enclosure methods see it as SES elements, in FreeBSD's SAF-TE element order
// (scsi::safte::element_map, slots as Array Device Slot elements).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "scsi/safte.h"
#include "sims/emu/model.h"
#include "sims/emu/models/ses_config.h"
#include "sims/emu/models/ses_enclosure.h"

namespace ucam::emu {

struct SafteModelConfig final : ModelConfig {
  std::string path;  // JSON path of the LUN object
  std::optional<std::string> name;
  scsi::safte::Config config;
  std::vector<std::int32_t> celsius;  // per temperature sensor
  std::string slots_path;             // JSON path of "slots" (for errors found later)
  SlotDisksSpec slots;
  scsi::safte::UsageStatistics usage;
};

Result<std::shared_ptr<const ModelConfig>> parse_safte_model_config(ObjectReader& lun);
std::unique_ptr<LunModel> create_safte(const LunSpec& spec);

class SafteEnclosure final : public EnclosureState {
 public:
  SafteEnclosure(std::string name, const SafteModelConfig& config);

  // The enclosure's LUN and what its slots hold (resolved against the scenario). Called once
  // before any command.
  void attach(std::vector<LunAddress> luns, std::vector<SlotContent> slots);

  const scsi::safte::Config& config() const { return m_config; }

  // --- Device server side ---
  std::vector<std::uint8_t> read_buffer(scsi::safte::Buffer buffer) const;
  // Carries out one WRITE BUFFER command; a slot, fan or power supply number the enclosure
  // does not have is INVALID FIELD IN PARAMETER LIST at byte 1.
  std::optional<ParameterListError> write_command(const scsi::safte::WriteCommand& command);

  // --- EnclosureState ---
  EnclosureView view() const override;
  Result<void> set_element_status(EnclosureElement element,
                                  const scsi::ses::ElementBytes& status) override;
  Result<void> set_sensor(EnclosureElement element, std::int32_t value) override;
  Result<SlotContent> pull(int slot) override;
  Result<void> insert(int slot, const SlotContent& content) override;
  std::optional<int> slot_of(const LunAddress& disk) const override;
  // SAF-TE has no generation code: EOPNOTSUPP.
  Result<std::vector<SlotContent>> reconfigure(const EnclosureReconfiguration& change) override;

 private:
  // The element of element_map() that `element` names (by SES type and index), or nullopt.
  std::optional<scsi::safte::Element> find(EnclosureElement element) const;
  scsi::safte::Snapshot snapshot_locked() const;

  const std::string m_name;
  const scsi::safte::Config m_config;
  mutable std::mutex m_lock;
  scsi::safte::EnclosureStatus m_status;         // Guarded by m_lock.
  std::vector<scsi::safte::SlotStatus> m_slots;  // Guarded by m_lock.
  std::vector<SlotContent> m_contents;           // Guarded by m_lock.
  std::vector<std::uint16_t> m_insertions;       // Guarded by m_lock.
  scsi::safte::GlobalFlags m_flags;              // Guarded by m_lock.
  scsi::safte::UsageStatistics m_usage;          // Guarded by m_lock.
  std::vector<bool> m_identify;                  // Guarded by m_lock.
  std::vector<std::uint8_t> m_fan_speeds;        // Guarded by m_lock.
  std::vector<LunAddress> m_luns;                // Guarded by m_lock.
};

class SafteModel final : public LunModel {
 public:
  SafteModel(const LunSpec& spec, std::shared_ptr<const SafteModelConfig> config);

  Dispatch execute(Command& command) override;
  void adjust_inquiry(scsi::StandardInquiry& inquiry) const override;
  void adjust_inquiry_data(std::vector<std::uint8_t>& data) const override;

  const SafteModelConfig& config() const { return *m_config; }
  const std::shared_ptr<SafteEnclosure>& enclosure() const { return m_enclosure; }

 private:
  void read_buffer(Command& command) const;
  void write_buffer(Command& command) const;

  std::shared_ptr<const SafteModelConfig> m_config;
  std::uint64_t m_naa;  // the unique enclosure identifier of INQUIRY bytes 36-42
  std::shared_ptr<SafteEnclosure> m_enclosure;
};

}  // namespace ucam::emu
