// The scenario description of an emulated SES enclosure ("type": "ses"): what the JSON keys of
// an enclosure LUN parse into. The format is documented in docs/scenarios.md ("Enclosures");
// this header is the parsed form, immutable once parsed and shared by every LUN generated from
// one template.
//
// References to emulated disks (slots holding "disks") are kept symbolic here: they are
// resolved against the whole scenario when the emulator is built (ses_registry.h), because a
// LUN's parser sees only its own object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scsi/ses.h"
#include "scsi/ses_pages.h"
#include "sims/emu/json_reader.h"
#include "sims/emu/scenario.h"
#include "sims/emu/text_template.h"

namespace ucam::emu {

// What a slot holds when the enclosure starts.
struct SlotDeviceSpec {
  enum class Kind : std::uint8_t {
    Empty,       // nothing: status Not Installed, no SAS address
    SasAddress,  // a device that is not emulated: only its SAS address appears
    Lun,         // an emulated LUN of the scenario: its target-port SAS address appears
  };
  Kind kind = Kind::Empty;
  std::uint64_t sas_address = 0;     // SasAddress
  std::optional<std::uint32_t> bus;  // Lun: default the enclosure LUN's bus
  std::uint32_t target = 0;          // Lun
  std::uint64_t lun = 0;             // Lun
};

// "disks": "auto": slot i holds the i-th disk LUN (type "disk") of these targets, in the order
// given (LUNs ascending within a target).
struct AutoDisksSpec {
  std::optional<std::uint32_t> bus;                   // default: the enclosure LUN's bus
  std::optional<std::vector<std::uint32_t>> targets;  // default: every target of the bus
};

// What a group of slots holds: one entry per slot (Empty when the list is shorter), or the
// automatic assignment.
struct SlotDisksSpec {
  std::vector<SlotDeviceSpec> disks;
  std::optional<AutoDisksSpec> auto_disks;
};
// Reads "disks" of a slot group object with `count` slots, and with "disks": "auto" its
// "targets" and "bus" (SAF-TE enclosures use the same keys).
Result<SlotDisksSpec> parse_slot_disks(ObjectReader& group, std::size_t count);

// An element descriptor pattern (sims/emu/text_template.h) whose one placeholder is the default
// "{}" or "{:[0][WIDTH][x|X]}": the element's number (`first` + its index in the group).
// "Slot {:02}" gives "Slot 00", "Slot 01", ...
Result<TextTemplate> parse_descriptor_pattern(std::string_view text);
std::string expand_descriptor_pattern(const TextTemplate& pattern, std::uint64_t number);
// Whether the pattern's expansions up to element number `last` fit a descriptor (128 bytes).
// Expansions only grow with the number, so the last one is the longest.
Result<void> check_descriptor_pattern_fits(const TextTemplate& pattern, std::uint64_t last);

// One type descriptor header of the Configuration page and its elements.
struct ElementGroupSpec {
  std::string path;       // JSON path of the group object (errors found when the emulator is built)
  std::uint8_t type = 0;  // SES element type code
  std::uint8_t count = 0;
  std::string text;  // TYPE DESCRIPTOR TEXT
  // Element descriptors: either a pattern (used also for elements added at run time) or one
  // string per element.
  std::optional<TextTemplate> pattern;
  std::uint64_t first = 0;  // the number the pattern gives the first element
  std::vector<std::string> descriptors;
  std::string overall_descriptor;
  std::uint8_t overall_status = 0x01;  // OK
  // Per element (count entries): the initial ELEMENT STATUS CODE (nullopt: the type's default)
  // and the measured value in the type's unit: fan rpm, temperature degrees C, voltage mV,
  // current mA; 0 for the other types.
  std::vector<std::optional<std::uint8_t>> status_codes;
  std::vector<std::int32_t> values;
  std::uint8_t speed_code = 3;  // cooling: ACTUAL SPEED CODE at the configured rpm
  // Sensors: thresholds as the Threshold In page codes them (temperature: degrees + 20;
  // voltage and current: 0.5 % steps of the nominal value).
  std::optional<scsi::ses::Threshold> thresholds;
  // SAS connector status bytes 1 (CONNECTOR TYPE) and 2 (CONNECTOR PHYSICAL LINK).
  std::uint8_t connector_type = 0x02;
  std::uint8_t connector_physical_link = 0xff;
  // SAS expanders: the address of element 0 (the others follow); nullopt: derived.
  std::optional<std::uint64_t> sas_address;
  // Slots: explicit devices (count entries) or the automatic assignment.
  std::vector<SlotDeviceSpec> disks;
  std::optional<AutoDisksSpec> auto_disks;
};

struct SubenclosureSpec {
  std::string path;
  std::uint8_t id = 0;
  std::optional<std::uint64_t> logical_id;  // default: the primary's (+ id for secondaries)
  std::optional<std::string> vendor, product, revision;  // default: the LUN's INQUIRY strings
  std::string help_text;                                 // Subenclosure Help Text (0x0B)
  std::string nickname;                                  // Subenclosure Nickname (0x0F)
  std::vector<ElementGroupSpec> groups;
};

struct SesModelConfig final : ModelConfig {
  std::string path;  // JSON path of the LUN object
  // "enclosure": LUNs naming the same enclosure are its enclosure service processes and share
  // its state; exactly one of them (or LUNs generated from one template) describes it.
  std::optional<std::string> name;
  std::vector<SubenclosureSpec> subenclosures;        // empty: described by another LUN
  std::uint8_t eiioe = 1;                             // Additional Element Status EIIOE (0 or 1)
  std::optional<std::uint64_t> expander_sas_address;  // ATTACHED SAS ADDRESS of slot phys
  std::string help_text;                              // Help Text (0x03)

  bool describes_enclosure() const { return !subenclosures.empty(); }
};

// Reads the "ses" keys of a LUN object or template.
Result<std::shared_ptr<const ModelConfig>> parse_ses_model_config(ObjectReader& lun);

// Element type names of the scenario format ("slots", "power_supplies", ...), by type code;
// "" for codes without a name (reserved and vendor specific: written as numbers).
std::string_view element_group_name(std::uint8_t type);

// Status code names of the scenario format ("ok", "critical", ...): nullopt if unknown.
std::optional<std::uint8_t> element_status_code(std::string_view name);

}  // namespace ucam::emu
