// SAF-TE (SCSI Accessed Fault-Tolerant Enclosures, Interface Specification R041, 1997): the
// wire formats an enclosure driver and an emulated SAF-TE processor exchange, and the mapping
// of SAF-TE state onto the SES element model that FreeBSD's enc(4) presents for SAF-TE units.
//
// A SAF-TE enclosure is a processor device (INQUIRY peripheral device type 03h) that answers
// READ BUFFER (3Ch) and WRITE BUFFER (3Bh) in the vendor-specific mode (01h):
//   - READ BUFFER, buffer ID in CDB byte 2, returns one of six buffers (`Buffer`);
//   - WRITE BUFFER, buffer ID 0, carries one command whose code is the first parameter byte
//     (`WriteCommand`).
//
// Pure: no I/O. Parsers take `Bytes` and return `Result<T>`; they never read past the span and
// fail, naming the buffer and the length needed, when it is too short. Parsers of the status
// buffers need the enclosure configuration, because the buffers are sized by its counts.
// Encoders serve the emulator (status buffers) and the driver (write commands); every encoder
// has a parser that inverts it.
//
// Where FreeBSD's scsi_enc_safte.c is wrong we are not (see the regression tests): all six
// characters of "SAF-TE" are compared; the temperature flag word is big-endian (high byte
// first); the alarm bit lives in global flag 1; PSU and fan control reach the enclosure; a
// thermostat alert changes only its own element.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/cdb.h"
#include "scsi/ses.h"

namespace ucam::scsi::safte {

// ---- Detection ----------------------------------------------------------------------------------

// SAF-TE R041 INQUIRY data: after the 36 standard bytes come a 7-byte unique enclosure
// identifier (36-42), a channel identifier (43) and the signature "SAF-TE" (44-49).
inline constexpr std::size_t kSignatureOffset = 44;
inline constexpr std::string_view kSignature = "SAF-TE";
inline constexpr std::size_t kInquiryMinLength = kSignatureOffset + 6;  // 50
// ADDITIONAL LENGTH (byte 4) counts the bytes after byte 4, so 50 bytes need at least 45.
inline constexpr std::uint8_t kInquiryMinAdditionalLength = kInquiryMinLength - 5;

// Whether standard INQUIRY data describes a SAF-TE enclosure: peripheral device type 03h
// (processor; the qualifier is not checked), at least 50 bytes with ADDITIONAL LENGTH >= 45, and
// bytes 44-49 equal to "SAF-TE" (all six characters; FreeBSD compares only "SAF-").
bool is_safte_inquiry(Bytes inquiry_data);

// ---- READ BUFFER --------------------------------------------------------------------------------

// SAF-TE R041 READ BUFFER buffer IDs (CDB byte 2).
enum class Buffer : std::uint8_t {
  EnclosureConfiguration = 0x00,  // mandatory
  EnclosureStatus = 0x01,         // mandatory
  UsageStatistics = 0x02,         // optional
  DeviceInsertions = 0x03,        // optional
  DeviceSlotStatus = 0x04,        // mandatory
  GlobalFlags = 0x05,             // optional
};
inline constexpr std::uint8_t kLastBuffer = 0x05;
// "Read Enclosure Configuration", ...; unknown IDs give "<Buffer 0xNN>".
std::string buffer_name(std::uint8_t buffer_id);

// READ BUFFER(10), MODE 01h (vendor specific), BUFFER ID `buffer`, BUFFER OFFSET 0.
Cdb read_cdb(Buffer buffer, std::uint16_t allocation_length);
// WRITE BUFFER, MODE 01h, BUFFER ID 0, BUFFER OFFSET 0.
Cdb write_cdb(std::uint16_t parameter_list_length);

struct ReadCdb {
  Buffer buffer = Buffer::EnclosureConfiguration;
  std::uint32_t allocation_length = 0;
};
// Target side. Fails like the decoders in cdb.h (sense 5/24/00 or 5/20/00, context
// "READ BUFFER CDB byte N: ...", so cdb_field_pointer() works): MODE other than 01h (byte 1),
// a buffer ID above 05h (byte 2), a nonzero BUFFER OFFSET (byte 3).
Result<ReadCdb> parse_read_cdb(Bytes cdb);
// Target side: the PARAMETER LIST LENGTH. Fails on MODE other than 01h, a nonzero buffer ID or
// BUFFER OFFSET.
Result<std::uint32_t> parse_write_cdb(Bytes cdb);

struct Config;
// The length of `buffer` for this configuration (what the driver asks for and what an
// enclosure returns): configuration 64, status fans + PSUs + slots + 4 + sensors, usage
// statistics 16, insertions 2 per slot, slot status 4 per slot, global flags 16.
std::uint16_t buffer_length(Buffer buffer, const Config& config);

// ---- Buffer 00h: Read Enclosure Configuration ---------------------------------------------------

inline constexpr std::size_t kConfigLength = 64;
inline constexpr std::size_t kConfigMinLength = 6;  // byte 6 (thermostats) is optional
inline constexpr std::uint8_t kMaxThermostats = 0x0f;

enum class TemperatureUnit : std::uint8_t { Fahrenheit, Celsius };

struct Config {
  std::uint8_t fans = 0;                 // byte 0
  std::uint8_t power_supplies = 0;       // byte 1
  std::uint8_t device_slots = 0;         // byte 2
  bool door_lock = false;                // byte 3 (nonzero: installed)
  std::uint8_t temperature_sensors = 0;  // byte 4
  bool audible_alarm = false;            // byte 5 (nonzero: installed)
  std::uint8_t thermostats = 0;          // byte 6 bits 3-0; 0 when the byte is absent
  // Byte 6 bit 7: temperatures are in degrees Celsius; clear (or absent): Fahrenheit.
  TemperatureUnit temperature_unit = TemperatureUnit::Fahrenheit;
  friend bool operator==(const Config&, const Config&) = default;
};
// Needs bytes 0-5.
Result<Config> parse_config(Bytes data);
// 64 bytes, reserved and vendor bytes zero. Fails when thermostats > 15.
Result<std::array<std::uint8_t, kConfigLength>> encode_config(const Config& config);

// ---- Temperatures -------------------------------------------------------------------------------

// A SAF-TE temperature byte is degrees plus 10: 0 means -10, 255 means 245 (SAF-TE R041; the
// same offset in OpenBSD's safte(4) and sg3_utils' sg_safte). The unit is the configuration's:
// Fahrenheit unless configuration byte 6 bit 7 says Celsius.
inline constexpr int kTemperatureOffset = -10;
constexpr int temperature_degrees(std::uint8_t raw) {
  return int{raw} + kTemperatureOffset;
}
double temperature_celsius(std::uint8_t raw, TemperatureUnit unit);
// SES temperature byte (SES-4 7.3.6: degrees Celsius + 20, 0 reserved), rounded to the nearest
// degree and clamped to 1..255 (-19..235 C).
std::uint8_t temperature_ses_byte(std::uint8_t raw, TemperatureUnit unit);
// The SAF-TE byte for `celsius` (emulator side), rounded and clamped to 0..255.
std::uint8_t temperature_raw(double celsius, TemperatureUnit unit);

// ---- Buffer 01h: Read Enclosure Status ----------------------------------------------------------

// One byte per fan. Other values are kept as received.
enum class FanStatus : std::uint8_t {
  Operational = 0x00,
  Malfunctioning = 0x01,
  NotInstalled = 0x02,
  Unknown = 0x80,  // unknown or not reportable
};
// One byte per power supply. Other values are kept as received.
enum class PowerSupplyStatus : std::uint8_t {
  OperationalOn = 0x00,
  OperationalOff = 0x01,
  MalfunctioningOn = 0x10,   // malfunctioning and commanded on
  MalfunctioningOff = 0x11,  // malfunctioning and commanded off
  NotPresent = 0x20,
  Present = 0x21,  // present, state unknown
  Unknown = 0x80,  // unknown or not reportable
};
enum class DoorLockStatus : std::uint8_t {
  Locked = 0x00,
  Unlocked = 0x01,  // or no lock installed
  Unknown = 0x80,
};
enum class SpeakerStatus : std::uint8_t { Off = 0x00, On = 0x01 };

// The temperature out-of-range word: bit n is sensor n (thermostat t is bit sensors + t), bit 15
// is the enclosure temperature alert, which may be set alone.
inline constexpr std::uint16_t kTemperatureAlert = 0x8000;
inline constexpr unsigned kTemperatureFlagBits = 15;  // bits 0-14 name sensors and thermostats

struct EnclosureStatus {
  std::vector<FanStatus> fans;                          // config.fans
  std::vector<PowerSupplyStatus> power_supplies;        // config.power_supplies
  std::vector<std::uint8_t> slot_scsi_ids;              // config.device_slots: SCSI ID per slot
  DoorLockStatus door_lock = DoorLockStatus::Unlocked;  // present even without a lock
  SpeakerStatus speaker = SpeakerStatus::Off;           // present even without a speaker
  std::vector<std::uint8_t> temperatures;  // config.temperature_sensors, raw (see above)
  std::uint16_t temperature_flags = 0;     // big-endian on the wire: the high byte first

  // Bit `bit` of the flag word; false for bits 15 and above.
  bool out_of_range(unsigned bit) const {
    return bit < kTemperatureFlagBits && ((temperature_flags >> bit) & 1U) != 0;
  }
  bool temperature_alert() const { return (temperature_flags & kTemperatureAlert) != 0; }
  friend bool operator==(const EnclosureStatus&, const EnclosureStatus&) = default;
};
// Needs buffer_length(EnclosureStatus, config) bytes; extra bytes (vendor-specific) ignored.
Result<EnclosureStatus> parse_enclosure_status(Bytes data, const Config& config);
// Fails when a vector's size differs from the configuration's count.
Result<std::vector<std::uint8_t>> encode_enclosure_status(const EnclosureStatus& status,
                                                          const Config& config);

// ---- Buffer 02h: Read Usage Statistics ----------------------------------------------------------

inline constexpr std::size_t kUsageStatisticsLength = 16;
struct UsageStatistics {
  std::uint32_t power_on_minutes = 0;  // bytes 0-3
  std::uint32_t power_cycles = 0;      // bytes 4-7
  friend bool operator==(const UsageStatistics&, const UsageStatistics&) = default;
};
// Needs bytes 0-7.
Result<UsageStatistics> parse_usage_statistics(Bytes data);
std::array<std::uint8_t, kUsageStatisticsLength> encode_usage_statistics(
    const UsageStatistics& usage);

// ---- Buffer 03h: Read Device Insertions ---------------------------------------------------------

// One big-endian 16-bit insertion count per slot. Needs 2 * config.device_slots bytes.
Result<std::vector<std::uint16_t>> parse_device_insertions(Bytes data, const Config& config);
// Fails when the count differs from config.device_slots.
Result<std::vector<std::uint8_t>> encode_device_insertions(std::span<const std::uint16_t> counts,
                                                           const Config& config);

// ---- Buffer 04h: Read Device Slot Status / command 10h: Write Device Slot Status ----------------

// The RAID state of a slot's device: bytes 0-1 of a slot in READ DEVICE SLOT STATUS and in
// WRITE DEVICE SLOT STATUS (the host writes it, the enclosure reports it back and lights its
// LEDs from it).
struct ArrayState {
  // Byte 0.
  bool no_error = false;           // bit 0: device operational, no error
  bool faulty = false;             // bit 1: device faulty (fault LED)
  bool rebuilding = false;         // bit 2: rebuilding or remapping
  bool in_failed_array = false;    // bit 3
  bool in_critical_array = false;  // bit 4
  bool parity_check = false;       // bit 5: consistency check in progress
  bool predicted_fault = false;    // bit 6
  bool not_configured = false;     // bit 7: device not configured
  // Byte 1.
  bool hot_spare = false;        // bit 0
  bool rebuild_stopped = false;  // bit 1: rebuild or remap aborted
  std::uint8_t byte0() const;
  std::uint8_t byte1() const;
  static ArrayState from_bytes(std::uint8_t b0, std::uint8_t b1);
  friend bool operator==(const ArrayState&, const ArrayState&) = default;
};

inline constexpr std::size_t kSlotStatusLength = 4;  // per slot
struct SlotStatus {
  ArrayState array;  // bytes 0-1 (byte 2 reserved)
  // Byte 3.
  bool installed = false;                    // bit 0: a device is inserted
  bool ready_for_insertion_removal = false;  // bit 1
  bool powered = false;                      // bit 2: activated, ready for operation
  friend bool operator==(const SlotStatus&, const SlotStatus&) = default;
};
// Needs 4 * config.device_slots bytes.
Result<std::vector<SlotStatus>> parse_slot_status(Bytes data, const Config& config);
// Fails when the count differs from config.device_slots.
Result<std::vector<std::uint8_t>> encode_slot_status(std::span<const SlotStatus> slots,
                                                     const Config& config);

// ---- Buffer 05h: Read Global Flags / command 15h: Send Global Flags -----------------------------

inline constexpr std::size_t kGlobalFlagsLength = 16;
struct GlobalFlags {
  // Global flag 1.
  bool audible_alarm = false;         // 0x01: sound the alarm
  bool global_failure = false;        // 0x02: global failure indicator
  bool global_warning = false;        // 0x04: global warning indicator
  bool enclosure_power_off = false;   // 0x08
  bool fan_failure = false;           // 0x10
  bool power_supply_failure = false;  // 0x20
  bool drive_failure = false;         // 0x40
  bool drive_warning = false;         // 0x80
  // Global flag 2 (bits 7-4 reserved).
  bool array_failure = false;       // 0x01
  bool array_warning = false;       // 0x02
  bool lock_door = false;           // 0x04
  bool identify_enclosure = false;  // 0x08
  std::uint8_t flag1() const;
  std::uint8_t flag2() const;
  static GlobalFlags from_bytes(std::uint8_t f1, std::uint8_t f2);
  friend bool operator==(const GlobalFlags&, const GlobalFlags&) = default;
};
// READ BUFFER 05h: flag 1 is byte 0 and flag 2 byte 1 (sg3_utils' sg_safte and OpenBSD's
// safte(4) agree; FreeBSD reads bytes 1 and 2, the Send Global Flags layout, which has the
// command code in byte 0). Needs 2 bytes.
Result<GlobalFlags> parse_global_flags(Bytes data);
std::array<std::uint8_t, kGlobalFlagsLength> encode_global_flags(const GlobalFlags& flags);

// ---- WRITE BUFFER commands ----------------------------------------------------------------------

// SAF-TE R041 WRITE BUFFER command codes (parameter byte 0).
enum class WriteCommandCode : std::uint8_t {
  WriteDeviceSlotStatus = 0x10,
  SetScsiId = 0x11,  // not modelled: parse_write_command() rejects it
  PerformSlotOperation = 0x12,
  SetFanSpeed = 0x13,
  ActivatePowerSupply = 0x14,
  SendGlobalFlags = 0x15,
};
inline constexpr std::size_t kSlotOperationLength = 64;
inline constexpr std::size_t kShortCommandLength = 16;  // fan speed, power supply, global flags
inline constexpr std::size_t kWriteSlotStatusBytesPerSlot = 3;
inline constexpr std::uint8_t kMaxFanSpeed = 4;
inline constexpr std::size_t kMaxSlots = 0xff;  // the configuration counts slots in one byte

// 10h: 1 + 3 * slots bytes; per slot ArrayState bytes 0-1 and a reserved byte. The enclosure
// replaces the state of every slot, so the list holds all of them in slot order.
struct WriteSlotStatus {
  std::vector<ArrayState> slots;
  friend bool operator==(const WriteSlotStatus&, const WriteSlotStatus&) = default;
};
// 12h: 64 bytes: code, slot, operation bits (01h prepare for operation, i.e. power the device
// on; 02h prepare for insertion or removal; 04h identify; 00h: none, which turns identify off).
struct SlotOperation {
  std::uint8_t slot = 0;
  bool prepare_for_operation = false;
  bool prepare_for_insertion_removal = false;
  bool identify = false;
  friend bool operator==(const SlotOperation&, const SlotOperation&) = default;
};
// 13h: 16 bytes: code, fan, speed (0 off, 1 lowest .. 4 highest).
struct SetFanSpeed {
  std::uint8_t fan = 0;
  std::uint8_t speed = 0;
  friend bool operator==(const SetFanSpeed&, const SetFanSpeed&) = default;
};
// 14h: 16 bytes: code, power supply, 01h on / 00h off.
enum class Power : std::uint8_t { Off = 0x00, On = 0x01 };
struct ActivatePowerSupply {
  std::uint8_t power_supply = 0;
  Power power = Power::Off;
  friend bool operator==(const ActivatePowerSupply&, const ActivatePowerSupply&) = default;
};
// 15h: 16 bytes: code, flag 1, flag 2, then zeros (GlobalFlags).
using WriteCommand =
    std::variant<WriteSlotStatus, SlotOperation, SetFanSpeed, ActivatePowerSupply, GlobalFlags>;

WriteCommandCode command_code(const WriteCommand& command);
// The parameter list. Fails on a fan speed above 4 or more than 255 slots.
Result<std::vector<std::uint8_t>> encode_write_command(const WriteCommand& command);
// Emulator side. The list must have exactly its command's length (1 + 3n for 10h; reserved bytes
// are not checked). Fails on an empty list, an unknown or unmodelled code, a fan speed above 4,
// a power supply byte other than 00h/01h, operation bits outside 07h.
Result<WriteCommand> parse_write_command(Bytes parameter_list);

// ---- SES element model (FreeBSD enc(4) for SAF-TE) ----------------------------------------------

// Slots appear as Array Device Slot elements (FreeBSD's default, kern.cam.enc.
// emulate_array_devices=1) or as plain Device Slot elements, whose byte 1 is the SCSI ID.
enum class SlotElements : std::uint8_t { ArrayDeviceSlot, DeviceSlot };

enum class ElementKind : std::uint8_t {
  Fan,                // SES Cooling
  PowerSupply,        // SES Power Supply
  DoorLock,           // SES Door
  Alarm,              // SES Audible Alarm
  TemperatureSensor,  // SES Temperature Sensor, with a temperature
  Thermostat,         // SES Temperature Sensor: an over-temperature switch, no temperature
  TemperatureAlert,   // SES Temperature Sensor: flag bit 15, the enclosure temperature alert
  Slot,               // SES Array Device Slot or Device Slot
};

struct Element {
  ElementKind kind = ElementKind::Fan;
  std::uint8_t index = 0;  // within its kind: fan 0, fan 1, ...
  ses::ElementType type = ses::ElementType::Cooling;
  ses::ElementBytes status{};  // SES-4 7.2 status element (zero from element_map())
  friend bool operator==(const Element&, const Element&) = default;
};

// FreeBSD's element order: fans, power supplies, the door lock (if installed), one alarm (if
// installed), temperature sensors, thermostats, the temperature alert, slots. There are no
// overall elements: the index into this list is the element index of every enc(4) request.
std::vector<Element> element_map(const Config& config, SlotElements slots);

// What the driver knows about the enclosure: the last buffers read, plus what SAF-TE does not
// report and the driver remembers from its own requests.
struct Snapshot {
  Config config;
  EnclosureStatus status;
  std::vector<SlotStatus> slots;
  GlobalFlags flags;
  // Identify (locate) state per slot as last requested; empty means all off.
  std::vector<bool> slot_identify;
  // SAF-TE speed (0-4) per fan as last set; empty means unknown, reported as SES speed code 7
  // (a SAF-TE fan runs at full speed until told otherwise).
  std::vector<std::uint8_t> fan_speeds;
};

struct SesView {
  // SES-4 6.1.4 header byte 1: ses::kEnclosureCritical/NonCritical/Info bits, from the
  // elements' states and from global flag 1 (global failure -> CRIT, else global warning ->
  // NON-CRIT).
  std::uint8_t enclosure_status = 0;
  std::vector<Element> elements;  // element_map() order, status filled in
};
// The SES status of every element. Fails when the snapshot's vectors disagree with its
// configuration (slot_identify and fan_speeds may be empty).
//
// Element status (byte 0 status code, bytes 1-3 in the type's SES layout):
//   fan: 00h OK + RQSTED ON + speed code; 01h CRIT + OFF; 02h NOT INSTALLED + OFF; 80h UNKNOWN;
//        other UNSUPPORTED. FAIL (byte 3 bit 6) mirrors global flag 1 fan failure.
//   PSU: 00h OK + RQSTED ON; 01h OK + OFF; 10h CRIT + FAIL, RQSTED ON, DC FAIL; 11h NONCRIT +
//        FAIL, OFF, DC FAIL; 20h NOT INSTALLED; 21h, 80h and others UNKNOWN. FAIL also mirrors
//        global flag 1 power supply failure.
//   door lock: OK with UNLOCKED (byte 3 bit 0) as reported; 80h UNKNOWN; other UNSUPPORTED.
//   alarm: OK; speaker off -> DISABLED + MUTED; on -> tone urgency from the global flags
//        (failure CRIT, warning NON-CRIT, else INFO).
//   temperature sensor: byte 2 the SES temperature (temperature_ses_byte, converted from the
//        raw value, where FreeBSD copies the raw byte); CRIT when its flag bit is set.
//   thermostat, temperature alert: CRIT + OT FAILURE when their bit is set, else OK (NOT
//        AVAILABLE for the alert when there are no sensors and no thermostats); byte 2 is 0.
//        Sensors and thermostats past bit 14 have no flag and always read OK.
//   slot: NOT INSTALLED when empty, else CRIT if faulty, NONCRIT if predicted fault, else OK;
//        PRDFAIL whenever predicted fault. Byte 1 is the SCSI ID (Device Slot) or the array
//        bits (Array Device Slot); byte 2 IDENT as remembered, REMOVE (installed) or INSERT
//        (empty) when ready for insertion/removal; byte 3 FAULT REQSTD when faulty, DEVICE OFF
//        when not powered.
// Enclosure bits from elements: a malfunctioning fan is CRIT when it is the only fan or there
// are no temperature sensors or thermostats, else NON-CRIT; a missing fan CRIT when it is the
// only fan, else NON-CRIT; no operational fan at all CRIT; PSU off, absent or unknown INFO; PSU
// malfunction NON-CRIT; unknown fan or door INFO; any temperature flag CRIT; a faulty slot CRIT;
// a predicted fault NON-CRIT.
Result<SesView> ses_view(const Snapshot& snapshot, SlotElements slots);

// The WRITE BUFFER commands that carry out an SES control element (SES-4 7.2.3 layout) for
// element `element_index` of element_map(snapshot.config, slots), in order; the caller sends
// them one by one and stops at the first failure. Empty when SELECT (byte 0 bit 7) is clear.
//   slot: 1 to 3 commands: Write Device Slot Status for every slot (this one from PRDFAIL, RQST
//        FAULT and, for Array Device Slot, the byte 1 requests; the others as last reported;
//        "no error" when nothing is set); then, if the requested power state (off when RQST
//        INSERT, RQST REMOVE or DEVICE OFF) differs from the current one, a slot operation
//        preparing for operation or for insertion/removal; then, if RQST IDENT differs from
//        the remembered identify state, an identify on/off slot operation.
//   PSU: Send Global Flags (power supply failure = RQST FAIL), then Activate Power Supply (on =
//        RQST ON).
//   fan: Send Global Flags (fan failure = RQST FAIL), then, when the REQUESTED SPEED CODE is
//        nonzero, Set Fan Speed: RQST ON clear -> 0, codes 1-2 -> 1, 3-4 -> 2, 5-6 -> 3, 7 -> 4.
//   door lock: Send Global Flags with lock door = !UNLOCK (byte 3 bit 0).
//   alarm: Send Global Flags with the flag 1 alarm bit: off on DISABLE or SET MUTE, else on when
//        any TONE URGENCY bit is set.
// Global flags are the snapshot's with the one change; after success the caller updates its
// snapshot (flags, slot_identify, fan_speeds) from the commands sent. Fails on an index outside
// the map and for temperature elements, which have no controls.
Result<std::vector<WriteCommand>> control_commands(const Snapshot& snapshot, SlotElements slots,
                                                   std::size_t element_index,
                                                   const ses::ElementBytes& control);

// SES-4 6.1.3 Enclosure Control header byte 1 (INFO, NON-CRIT, CRIT, UNRECOV requests) as one
// Send Global Flags: CRIT or UNRECOV -> global failure; else NON-CRIT -> global warning; both
// cleared otherwise.
WriteCommand enclosure_control_command(const Snapshot& snapshot, std::uint8_t enclosure_control);

}  // namespace ucam::scsi::safte
