// SES-4 7.2 status elements: the type-specific meaning of bytes 1-3 of a 4-byte status element,
// for every standard element type (0x00-0x19). Vendor-specific (0x80-0xff) and reserved types
// are kept raw.
//
// Two forms: typed structs for the elements the enclosure driver acts on (slots, cooling,
// temperature, voltage, current, power supply), and `decode_element_fields`, a list of named,
// typed fields for every type that ses_json renders (the names are the JSON keys documented in
// docs/ses-json.md; keep them stable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "scsi/ses.h"

namespace ucam::scsi::ses {

// ---- Typed decoders ---------------------------------------------------------------------------

// SES-4 7.3.2 Device Slot / 7.3.3 Array Device Slot status (bytes 1-3).
struct SlotStatus {
  bool array = false;             // Array Device Slot (byte 1 = array flags)
  std::uint8_t slot_address = 0;  // Device Slot byte 1
  // Array Device Slot byte 1.
  bool ok = false, reserved_device = false, hot_spare = false, consistency_check = false;
  bool in_critical_array = false, in_failed_array = false, rebuild_remap = false;
  bool rebuild_remap_abort = false;
  // Byte 2.
  bool app_client_bypassed_a = false, do_not_remove = false, enclosure_bypassed_a = false;
  bool enclosure_bypassed_b = false, ready_to_insert = false, remove = false;
  bool ident = false;  // the locate LED is on (byte 2 bit 1)
  bool report = false;
  // Byte 3.
  bool app_client_bypassed_b = false;
  bool fault_sensed = false;     // byte 3 bit 6
  bool fault_requested = false;  // byte 3 bit 5: the fault LED was requested on
  bool device_off = false, bypassed_a = false, bypassed_b = false;
  bool device_bypassed_a = false, device_bypassed_b = false;
};
// Meaningful for Device Slot and Array Device Slot elements only.
SlotStatus decode_slot_status(std::uint8_t element_type, const ElementBytes& e);

// SES-4 7.3.5 Cooling.
struct CoolingStatus {
  bool ident = false, do_not_remove = false, hot_swap = false, fail = false;
  bool requested_on = false, off = false;
  int actual_speed_rpm = 0;     // ACTUAL FAN SPEED ((byte 1 & 7) << 8 | byte 2) x 10 rpm
  std::uint8_t speed_code = 0;  // ACTUAL SPEED CODE (byte 3 bits 2-0)
};
CoolingStatus decode_cooling_status(const ElementBytes& e);
// "Fan stopped", "Fan at lowest speed", ..., "Fan at highest speed".
std::string_view cooling_speed_name(std::uint8_t speed_code);

// SES-4 7.3.6 Temperature Sensor.
struct TemperatureStatus {
  bool ident = false, fail = false;
  std::optional<int> temperature_c;  // byte 2 - 20 degrees C; byte 2 == 0 is reserved -> none
  bool over_temperature_failure = false, over_temperature_warning = false;
  bool under_temperature_failure = false, under_temperature_warning = false;
};
TemperatureStatus decode_temperature_status(const ElementBytes& e);
// The temperature coding shared by status and thresholds: nullopt for 0 (reserved).
inline std::optional<int> temperature_from_byte(std::uint8_t b) {
  if (b == 0) {
    return std::nullopt;
  }
  return int{b} - 20;
}

// SES-4 7.3.19 Voltage Sensor / 7.3.20 Current Sensor.
struct VoltageStatus {
  bool ident = false, fail = false;
  bool warning_over = false, warning_under = false, critical_over = false, critical_under = false;
  int millivolts = 0;  // signed 16-bit in units of 10 mV
};
VoltageStatus decode_voltage_status(const ElementBytes& e);
struct CurrentStatus {
  bool ident = false, fail = false, warning_over = false, critical_over = false;
  int milliamps = 0;  // signed 16-bit in units of 10 mA
};
CurrentStatus decode_current_status(const ElementBytes& e);

// SES-4 7.3.4 Power Supply.
struct PowerSupplyStatus {
  bool ident = false, do_not_remove = false;
  bool dc_overvoltage = false, dc_undervoltage = false, dc_overcurrent = false;
  bool hot_swap = false, fail = false, requested_on = false, off = false;
  bool overtemperature_failure = false, temperature_warning = false;
  bool ac_fail = false, dc_fail = false;
};
PowerSupplyStatus decode_power_supply_status(const ElementBytes& e);

// ---- Named fields for every type --------------------------------------------------------------

// null (std::monostate), a flag, an integer, or text.
using FieldValue = std::variant<std::monostate, bool, std::int64_t, std::string>;
struct Field {
  std::string_view name;  // a static snake_case key
  FieldValue value;
  friend bool operator==(const Field&, const Field&) = default;
};
// The type-specific fields of a status element (bytes 1-3; the common byte 0 fields are not
// repeated). Unspecified, vendor-specific and reserved types give one "vendor_specific" field
// (bytes 1-3 as "xx xx xx").
std::vector<Field> decode_element_fields(std::uint8_t element_type, const ElementBytes& e);

}  // namespace ucam::scsi::ses
