#include "scsi/safte.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "scsi/inquiry.h"
#include "scsi/sense.h"

namespace ucam::scsi::safte {
namespace {

using ses::ElementBytes;
using ses::ElementStatusCode;
using ses::ElementType;

// SES-4 7.3 bits of the element types we produce and consume. Status and control share a
// position where the control bit requests what the status bit reports.
// Cooling (7.3.5) and Power Supply (7.3.4), byte 3.
constexpr std::uint8_t kFail = 0x40;         // FAIL / RQST FAIL
constexpr std::uint8_t kRequestedOn = 0x20;  // RQSTED ON / RQST ON
constexpr std::uint8_t kOff = 0x10;          // OFF
constexpr std::uint8_t kSpeedCodeMask = 0x07;
constexpr std::uint8_t kPsuDcFail = 0x01;
// Door (7.3.7), byte 3.
constexpr std::uint8_t kDoorUnlocked = 0x01;  // UNLOCKED / UNLOCK
// Audible Alarm (7.3.8), byte 3.
constexpr std::uint8_t kAlarmMuted = 0x40;  // MUTED / SET MUTE
constexpr std::uint8_t kToneUrgencyMask = 0x0f;
constexpr std::uint8_t kToneInfo = 0x08;
constexpr std::uint8_t kToneNonCritical = 0x04;
constexpr std::uint8_t kToneCritical = 0x02;
// Temperature Sensor (7.3.6), byte 3.
constexpr std::uint8_t kOverTemperatureFailure = 0x08;
// (Array) Device Slot (7.3.2, 7.3.3). Byte 1, Array Device Slot only.
constexpr std::uint8_t kSlotOk = 0x80;
constexpr std::uint8_t kSlotHotSpare = 0x20;
constexpr std::uint8_t kSlotConsistencyCheck = 0x10;
constexpr std::uint8_t kSlotInCriticalArray = 0x08;
constexpr std::uint8_t kSlotInFailedArray = 0x04;
constexpr std::uint8_t kSlotRebuildRemap = 0x02;
constexpr std::uint8_t kSlotRebuildRemapAbort = 0x01;
// Byte 2.
constexpr std::uint8_t kSlotInsert = 0x08;  // INSERT READY / RQST INSERT
constexpr std::uint8_t kSlotRemove = 0x04;  // REMOVE / RQST REMOVE
constexpr std::uint8_t kSlotIdent = 0x02;   // IDENT / RQST IDENT
// Byte 3.
constexpr std::uint8_t kSlotFault = 0x20;      // FAULT REQSTD / RQST FAULT
constexpr std::uint8_t kSlotDeviceOff = 0x10;  // DEVICE OFF

constexpr std::uint8_t code(ElementStatusCode c) {
  return static_cast<std::uint8_t>(c);
}

std::string hex2(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", v & 0xffU);
  return buf;
}

Result<void> need(Bytes data, std::size_t n, std::string_view what) {
  if (data.size() < n) {
    return fail_invalid("SAF-TE " + std::string(what) +
                        " truncated: " + std::to_string(data.size()) + " of " + std::to_string(n) +
                        " bytes (allocation length must be at least " + std::to_string(n) + ")");
  }
  return {};
}

Result<void> check_count(std::size_t have, std::size_t want, std::string_view what) {
  if (have != want) {
    return fail_invalid("SAF-TE: " + std::to_string(have) + " " + std::string(what) +
                        ", configuration has " + std::to_string(want));
  }
  return {};
}

tl::unexpected<Error> cdb_error(std::string_view name, unsigned byte, const std::string& what) {
  return fail(Error::from_sense(
      kInvalidFieldInCdb, std::string(name) + " CDB byte " + std::to_string(byte) + ": " + what));
}

tl::unexpected<Error> parameter_error(SenseCode sense, const std::string& what) {
  return fail(Error::from_sense(sense, "SAF-TE WRITE BUFFER: " + what));
}

}  // namespace

// ---- Detection ----------------------------------------------------------------------------------

bool is_safte_inquiry(Bytes data) {
  if (data.size() < kInquiryMinLength) {
    return false;
  }
  const auto processor = static_cast<std::uint8_t>(PeripheralType::Processor);
  if (bits(data[0], 0, 5) != processor || data[4] < kInquiryMinAdditionalLength) {
    return false;
  }
  // All six characters: FreeBSD's length macro lacks parentheses and compares only "SAF-".
  return std::equal(kSignature.begin(), kSignature.end(), data.begin() + kSignatureOffset,
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

// ---- CDBs ---------------------------------------------------------------------------------------

std::string buffer_name(std::uint8_t buffer_id) {
  static constexpr std::array<std::string_view, kLastBuffer + 1> kNames = {
      "Read Enclosure Configuration", "Read Enclosure Status",   "Read Usage Statistics",
      "Read Device Insertions",       "Read Device Slot Status", "Read Global Flags",
  };
  if (buffer_id <= kLastBuffer) {
    return std::string(kNames[buffer_id]);
  }
  return "<Buffer 0x" + hex2(buffer_id) + ">";
}

Cdb read_cdb(Buffer buffer, std::uint16_t allocation_length) {
  // Cannot fail: offset 0 and a 16-bit length fit the 24-bit fields.
  return *read_buffer(buffer_mode::kVendorSpecific, static_cast<std::uint8_t>(buffer), 0,
                      allocation_length);
}

Cdb write_cdb(std::uint16_t parameter_list_length) {
  return *write_buffer(buffer_mode::kVendorSpecific, 0, 0, parameter_list_length);
}

Result<ReadCdb> parse_read_cdb(Bytes cdb) {
  constexpr std::string_view kName = "READ BUFFER";
  auto c = parse_read_buffer_cdb(cdb);
  if (!c) {
    return fail(c.error());
  }
  if (c->mode != buffer_mode::kVendorSpecific) {
    return cdb_error(kName, 1,
                     "SAF-TE uses MODE 01h (vendor specific), not " + hex2(c->mode) + "h");
  }
  if (c->buffer_id > kLastBuffer) {
    return cdb_error(kName, 2, "SAF-TE buffer ID " + hex2(c->buffer_id) + "h does not exist");
  }
  if (c->buffer_offset != 0) {
    return cdb_error(kName, 3, "SAF-TE buffers are read from BUFFER OFFSET 0");
  }
  return ReadCdb{static_cast<Buffer>(c->buffer_id), c->length};
}

Result<std::uint32_t> parse_write_cdb(Bytes cdb) {
  constexpr std::string_view kName = "WRITE BUFFER";
  auto c = parse_write_buffer_cdb(cdb);
  if (!c) {
    return fail(c.error());
  }
  if (c->mode != buffer_mode::kVendorSpecific) {
    return cdb_error(kName, 1,
                     "SAF-TE uses MODE 01h (vendor specific), not " + hex2(c->mode) + "h");
  }
  if (c->buffer_id != 0) {
    return cdb_error(kName, 2,
                     "SAF-TE commands go to buffer ID 0, not " + hex2(c->buffer_id) + "h");
  }
  if (c->buffer_offset != 0) {
    return cdb_error(kName, 3, "SAF-TE commands are written at BUFFER OFFSET 0");
  }
  return c->length;
}

std::uint16_t buffer_length(Buffer buffer, const Config& config) {
  std::size_t n = 0;
  switch (buffer) {
    case Buffer::EnclosureConfiguration:
      n = kConfigLength;
      break;
    case Buffer::EnclosureStatus:
      // Fans, PSUs, slot SCSI IDs, door lock, speaker, temperatures, the 2-byte flag word.
      n = std::size_t{config.fans} + config.power_supplies + config.device_slots + 2 +
          config.temperature_sensors + 2;
      break;
    case Buffer::UsageStatistics:
      n = kUsageStatisticsLength;
      break;
    case Buffer::DeviceInsertions:
      n = 2 * std::size_t{config.device_slots};
      break;
    case Buffer::DeviceSlotStatus:
      n = kSlotStatusLength * config.device_slots;
      break;
    case Buffer::GlobalFlags:
      n = kGlobalFlagsLength;
      break;
  }
  return static_cast<std::uint16_t>(n);  // at most 1024
}

// ---- Configuration ------------------------------------------------------------------------------

Result<Config> parse_config(Bytes data) {
  if (auto ok = need(data, kConfigMinLength, "enclosure configuration"); !ok) {
    return fail(ok.error());
  }
  Config c;
  c.fans = data[0];
  c.power_supplies = data[1];
  c.device_slots = data[2];
  c.door_lock = data[3] != 0;
  c.temperature_sensors = data[4];
  c.audible_alarm = data[5] != 0;
  if (data.size() > 6) {
    c.thermostats = bits(data[6], 0, 4);
    c.temperature_unit = bit(data[6], 7) ? TemperatureUnit::Celsius : TemperatureUnit::Fahrenheit;
  }
  return c;
}

Result<std::array<std::uint8_t, kConfigLength>> encode_config(const Config& c) {
  if (c.thermostats > kMaxThermostats) {
    return fail_invalid("SAF-TE configuration: " + std::to_string(c.thermostats) +
                        " thermostats do not fit 4 bits");
  }
  std::array<std::uint8_t, kConfigLength> out{};
  out[0] = c.fans;
  out[1] = c.power_supplies;
  out[2] = c.device_slots;
  out[3] = c.door_lock ? 1 : 0;
  out[4] = c.temperature_sensors;
  out[5] = c.audible_alarm ? 1 : 0;
  out[6] = static_cast<std::uint8_t>(
      c.thermostats | (c.temperature_unit == TemperatureUnit::Celsius ? 0x80 : 0x00));
  return out;
}

// ---- Temperatures -------------------------------------------------------------------------------

namespace {
// Rounds half away from zero, as std::lround does, for the small values here; written out so the
// installed binaries need nothing from libm (a shared library mapped at every start).
long round_half_away(double x) {
  long r = static_cast<long>(x);  // Toward zero; the fraction below is exact in this range.
  const double fraction = x - static_cast<double>(r);
  if (fraction >= 0.5) {
    ++r;
  } else if (fraction <= -0.5) {
    --r;
  }
  return r;
}
}  // namespace

double temperature_celsius(std::uint8_t raw, TemperatureUnit unit) {
  const double degrees = temperature_degrees(raw);
  return unit == TemperatureUnit::Celsius ? degrees : (degrees - 32.0) * 5.0 / 9.0;
}

std::uint8_t temperature_ses_byte(std::uint8_t raw, TemperatureUnit unit) {
  const long c = round_half_away(temperature_celsius(raw, unit));
  return static_cast<std::uint8_t>(std::clamp(c + 20, 1L, 255L));
}

std::uint8_t temperature_raw(double celsius, TemperatureUnit unit) {
  if (std::isnan(celsius)) {
    return 0;
  }
  double degrees = unit == TemperatureUnit::Celsius ? celsius : celsius * 9.0 / 5.0 + 32.0;
  // Clamp before rounding so an infinite or huge value cannot overflow the conversion.
  degrees = std::clamp(degrees - kTemperatureOffset, 0.0, 255.0);
  return static_cast<std::uint8_t>(round_half_away(degrees));
}

// ---- Enclosure status ---------------------------------------------------------------------------

Result<EnclosureStatus> parse_enclosure_status(Bytes data, const Config& config) {
  const std::size_t n = buffer_length(Buffer::EnclosureStatus, config);
  if (auto ok = need(data, n, "enclosure status"); !ok) {
    return fail(ok.error().with_context(
        std::to_string(config.fans) + " fans, " + std::to_string(config.power_supplies) +
        " power supplies, " + std::to_string(config.device_slots) + " slots, " +
        std::to_string(config.temperature_sensors) + " temperature sensors"));
  }
  EnclosureStatus s;
  std::size_t at = 0;
  for (unsigned i = 0; i < config.fans; ++i) {
    s.fans.push_back(static_cast<FanStatus>(data[at++]));
  }
  for (unsigned i = 0; i < config.power_supplies; ++i) {
    s.power_supplies.push_back(static_cast<PowerSupplyStatus>(data[at++]));
  }
  s.slot_scsi_ids.assign(data.begin() + static_cast<long>(at),
                         data.begin() + static_cast<long>(at + config.device_slots));
  at += config.device_slots;
  s.door_lock = static_cast<DoorLockStatus>(data[at++]);
  s.speaker = static_cast<SpeakerStatus>(data[at++]);
  s.temperatures.assign(data.begin() + static_cast<long>(at),
                        data.begin() + static_cast<long>(at + config.temperature_sensors));
  at += config.temperature_sensors;
  // High byte first (FreeBSD's `t |= (t << 8) | b` keeps the high byte in bits 7-0 as well).
  s.temperature_flags = load_be16(data, at);
  return s;
}

Result<std::vector<std::uint8_t>> encode_enclosure_status(const EnclosureStatus& s,
                                                          const Config& config) {
  for (auto ok :
       {check_count(s.fans.size(), config.fans, "fan states"),
        check_count(s.power_supplies.size(), config.power_supplies, "power supply states"),
        check_count(s.slot_scsi_ids.size(), config.device_slots, "slot SCSI IDs"),
        check_count(s.temperatures.size(), config.temperature_sensors, "temperatures")}) {
    if (!ok) {
      return fail(ok.error());
    }
  }
  std::vector<std::uint8_t> out;
  out.reserve(buffer_length(Buffer::EnclosureStatus, config));
  for (auto f : s.fans) {
    out.push_back(static_cast<std::uint8_t>(f));
  }
  for (auto p : s.power_supplies) {
    out.push_back(static_cast<std::uint8_t>(p));
  }
  out.insert(out.end(), s.slot_scsi_ids.begin(), s.slot_scsi_ids.end());
  out.push_back(static_cast<std::uint8_t>(s.door_lock));
  out.push_back(static_cast<std::uint8_t>(s.speaker));
  out.insert(out.end(), s.temperatures.begin(), s.temperatures.end());
  out.resize(out.size() + 2);
  store_be16(MutableBytes(out), out.size() - 2, s.temperature_flags);
  return out;
}

// ---- Usage statistics, insertions ---------------------------------------------------------------

Result<UsageStatistics> parse_usage_statistics(Bytes data) {
  if (auto ok = need(data, 8, "usage statistics"); !ok) {
    return fail(ok.error());
  }
  return UsageStatistics{load_be32(data, 0), load_be32(data, 4)};
}

std::array<std::uint8_t, kUsageStatisticsLength> encode_usage_statistics(const UsageStatistics& u) {
  std::array<std::uint8_t, kUsageStatisticsLength> out{};
  store_be32(MutableBytes(out), 0, u.power_on_minutes);
  store_be32(MutableBytes(out), 4, u.power_cycles);
  return out;
}

Result<std::vector<std::uint16_t>> parse_device_insertions(Bytes data, const Config& config) {
  if (auto ok = need(data, buffer_length(Buffer::DeviceInsertions, config), "device insertions");
      !ok) {
    return fail(ok.error());
  }
  std::vector<std::uint16_t> counts;
  counts.reserve(config.device_slots);
  for (std::size_t i = 0; i < config.device_slots; ++i) {
    counts.push_back(load_be16(data, 2 * i));
  }
  return counts;
}

Result<std::vector<std::uint8_t>> encode_device_insertions(std::span<const std::uint16_t> counts,
                                                           const Config& config) {
  if (auto ok = check_count(counts.size(), config.device_slots, "insertion counts"); !ok) {
    return fail(ok.error());
  }
  std::vector<std::uint8_t> out(2 * counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    store_be16(MutableBytes(out), 2 * i, counts[i]);
  }
  return out;
}

// ---- Slot status --------------------------------------------------------------------------------

std::uint8_t ArrayState::byte0() const {
  return static_cast<std::uint8_t>((no_error ? 0x01 : 0) | (faulty ? 0x02 : 0) |
                                   (rebuilding ? 0x04 : 0) | (in_failed_array ? 0x08 : 0) |
                                   (in_critical_array ? 0x10 : 0) | (parity_check ? 0x20 : 0) |
                                   (predicted_fault ? 0x40 : 0) | (not_configured ? 0x80 : 0));
}

std::uint8_t ArrayState::byte1() const {
  return static_cast<std::uint8_t>((hot_spare ? 0x01 : 0) | (rebuild_stopped ? 0x02 : 0));
}

ArrayState ArrayState::from_bytes(std::uint8_t b0, std::uint8_t b1) {
  ArrayState a;
  a.no_error = bit(b0, 0);
  a.faulty = bit(b0, 1);
  a.rebuilding = bit(b0, 2);
  a.in_failed_array = bit(b0, 3);
  a.in_critical_array = bit(b0, 4);
  a.parity_check = bit(b0, 5);
  a.predicted_fault = bit(b0, 6);
  a.not_configured = bit(b0, 7);
  a.hot_spare = bit(b1, 0);
  a.rebuild_stopped = bit(b1, 1);
  return a;
}

Result<std::vector<SlotStatus>> parse_slot_status(Bytes data, const Config& config) {
  if (auto ok = need(data, buffer_length(Buffer::DeviceSlotStatus, config), "device slot status");
      !ok) {
    return fail(ok.error().with_context(std::to_string(config.device_slots) + " slots"));
  }
  std::vector<SlotStatus> slots;
  slots.reserve(config.device_slots);
  for (std::size_t i = 0; i < config.device_slots; ++i) {
    const Bytes s = data.subspan(kSlotStatusLength * i, kSlotStatusLength);
    SlotStatus slot;
    slot.array = ArrayState::from_bytes(s[0], s[1]);
    slot.installed = bit(s[3], 0);
    slot.ready_for_insertion_removal = bit(s[3], 1);
    slot.powered = bit(s[3], 2);
    slots.push_back(slot);
  }
  return slots;
}

Result<std::vector<std::uint8_t>> encode_slot_status(std::span<const SlotStatus> slots,
                                                     const Config& config) {
  if (auto ok = check_count(slots.size(), config.device_slots, "slot states"); !ok) {
    return fail(ok.error());
  }
  std::vector<std::uint8_t> out(kSlotStatusLength * slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const auto& s = slots[i];
    out[4 * i] = s.array.byte0();
    out[4 * i + 1] = s.array.byte1();
    out[4 * i + 3] = static_cast<std::uint8_t>((s.installed ? 0x01 : 0) |
                                               (s.ready_for_insertion_removal ? 0x02 : 0) |
                                               (s.powered ? 0x04 : 0));
  }
  return out;
}

// ---- Global flags -------------------------------------------------------------------------------

std::uint8_t GlobalFlags::flag1() const {
  return static_cast<std::uint8_t>((audible_alarm ? 0x01 : 0) | (global_failure ? 0x02 : 0) |
                                   (global_warning ? 0x04 : 0) | (enclosure_power_off ? 0x08 : 0) |
                                   (fan_failure ? 0x10 : 0) | (power_supply_failure ? 0x20 : 0) |
                                   (drive_failure ? 0x40 : 0) | (drive_warning ? 0x80 : 0));
}

std::uint8_t GlobalFlags::flag2() const {
  return static_cast<std::uint8_t>((array_failure ? 0x01 : 0) | (array_warning ? 0x02 : 0) |
                                   (lock_door ? 0x04 : 0) | (identify_enclosure ? 0x08 : 0));
}

GlobalFlags GlobalFlags::from_bytes(std::uint8_t f1, std::uint8_t f2) {
  GlobalFlags g;
  g.audible_alarm = bit(f1, 0);
  g.global_failure = bit(f1, 1);
  g.global_warning = bit(f1, 2);
  g.enclosure_power_off = bit(f1, 3);
  g.fan_failure = bit(f1, 4);
  g.power_supply_failure = bit(f1, 5);
  g.drive_failure = bit(f1, 6);
  g.drive_warning = bit(f1, 7);
  g.array_failure = bit(f2, 0);
  g.array_warning = bit(f2, 1);
  g.lock_door = bit(f2, 2);
  g.identify_enclosure = bit(f2, 3);
  return g;
}

Result<GlobalFlags> parse_global_flags(Bytes data) {
  if (auto ok = need(data, 2, "global flags"); !ok) {
    return fail(ok.error());
  }
  return GlobalFlags::from_bytes(data[0], data[1]);
}

std::array<std::uint8_t, kGlobalFlagsLength> encode_global_flags(const GlobalFlags& flags) {
  std::array<std::uint8_t, kGlobalFlagsLength> out{};
  out[0] = flags.flag1();
  out[1] = flags.flag2();
  return out;
}

// ---- WRITE BUFFER commands ----------------------------------------------------------------------

WriteCommandCode command_code(const WriteCommand& command) {
  // In the order of the variant's alternatives.
  static constexpr std::array<WriteCommandCode, std::variant_size_v<WriteCommand>> kCodes = {
      WriteCommandCode::WriteDeviceSlotStatus, WriteCommandCode::PerformSlotOperation,
      WriteCommandCode::SetFanSpeed, WriteCommandCode::ActivatePowerSupply,
      WriteCommandCode::SendGlobalFlags};
  return kCodes[command.index()];
}

Result<std::vector<std::uint8_t>> encode_write_command(const WriteCommand& command) {
  const auto op = static_cast<std::uint8_t>(command_code(command));
  if (const auto* w = std::get_if<WriteSlotStatus>(&command)) {
    if (w->slots.size() > kMaxSlots) {
      return fail_invalid("SAF-TE Write Device Slot Status: " + std::to_string(w->slots.size()) +
                          " slots (at most 255)");
    }
    std::vector<std::uint8_t> out(1 + kWriteSlotStatusBytesPerSlot * w->slots.size(), 0);
    out[0] = op;
    for (std::size_t i = 0; i < w->slots.size(); ++i) {
      out[1 + 3 * i] = w->slots[i].byte0();
      out[2 + 3 * i] = w->slots[i].byte1();
    }
    return out;
  }
  if (const auto* s = std::get_if<SlotOperation>(&command)) {
    std::vector<std::uint8_t> out(kSlotOperationLength, 0);
    out[0] = op;
    out[1] = s->slot;
    out[2] = static_cast<std::uint8_t>((s->prepare_for_operation ? 0x01 : 0) |
                                       (s->prepare_for_insertion_removal ? 0x02 : 0) |
                                       (s->identify ? 0x04 : 0));
    return out;
  }
  std::vector<std::uint8_t> out(kShortCommandLength, 0);
  out[0] = op;
  if (const auto* f = std::get_if<SetFanSpeed>(&command)) {
    if (f->speed > kMaxFanSpeed) {
      return fail_invalid("SAF-TE Set Fan Speed: speed " + std::to_string(f->speed) +
                          " is above 4");
    }
    out[1] = f->fan;
    out[2] = f->speed;
  } else if (const auto* p = std::get_if<ActivatePowerSupply>(&command)) {
    out[1] = p->power_supply;
    out[2] = static_cast<std::uint8_t>(p->power);
  } else {
    const auto& g = std::get<GlobalFlags>(command);
    out[1] = g.flag1();
    out[2] = g.flag2();
  }
  return out;
}

Result<WriteCommand> parse_write_command(Bytes p) {
  if (p.empty()) {
    return parameter_error(kParameterListLengthError, "empty parameter list");
  }
  auto exact = [&](std::size_t n, std::string_view name) -> Result<void> {
    if (p.size() != n) {
      return parameter_error(kParameterListLengthError,
                             std::string(name) + " (" + hex2(p[0]) + "h) takes " +
                                 std::to_string(n) + " bytes, got " + std::to_string(p.size()));
    }
    return {};
  };
  switch (static_cast<WriteCommandCode>(p[0])) {
    case WriteCommandCode::WriteDeviceSlotStatus: {
      if ((p.size() - 1) % kWriteSlotStatusBytesPerSlot != 0) {
        return parameter_error(kParameterListLengthError,
                               "Write Device Slot Status (10h) takes 1 + 3 bytes per slot, got " +
                                   std::to_string(p.size()));
      }
      if (const std::size_t n = (p.size() - 1) / kWriteSlotStatusBytesPerSlot; n > kMaxSlots) {
        return parameter_error(
            kParameterListLengthError,
            "Write Device Slot Status (10h): " + std::to_string(n) + " slots (at most 255)");
      }
      WriteSlotStatus w;
      for (std::size_t at = 1; at + 2 < p.size(); at += kWriteSlotStatusBytesPerSlot) {
        w.slots.push_back(ArrayState::from_bytes(p[at], p[at + 1]));
      }
      return w;
    }
    case WriteCommandCode::PerformSlotOperation: {
      if (auto ok = exact(kSlotOperationLength, "Perform Slot Operation"); !ok) {
        return fail(ok.error());
      }
      if ((p[2] & ~0x07U) != 0) {
        return parameter_error(
            kInvalidFieldInParameterList,
            "Perform Slot Operation byte 2: operation " + hex2(p[2]) + "h has bits outside 07h");
      }
      return SlotOperation{p[1], bit(p[2], 0), bit(p[2], 1), bit(p[2], 2)};
    }
    case WriteCommandCode::SetFanSpeed: {
      if (auto ok = exact(kShortCommandLength, "Set Fan Speed"); !ok) {
        return fail(ok.error());
      }
      if (p[2] > kMaxFanSpeed) {
        return parameter_error(
            kInvalidFieldInParameterList,
            "Set Fan Speed byte 2: speed " + std::to_string(p[2]) + " is above 4");
      }
      return SetFanSpeed{p[1], p[2]};
    }
    case WriteCommandCode::ActivatePowerSupply: {
      if (auto ok = exact(kShortCommandLength, "Activate Power Supply"); !ok) {
        return fail(ok.error());
      }
      if (p[2] > 0x01) {
        return parameter_error(
            kInvalidFieldInParameterList,
            "Activate Power Supply byte 2: " + hex2(p[2]) + "h is neither 00h (off) nor 01h (on)");
      }
      return ActivatePowerSupply{p[1], static_cast<Power>(p[2])};
    }
    case WriteCommandCode::SendGlobalFlags: {
      if (auto ok = exact(kShortCommandLength, "Send Global Flags"); !ok) {
        return fail(ok.error());
      }
      return GlobalFlags::from_bytes(p[1], p[2]);
    }
    case WriteCommandCode::SetScsiId:
      return parameter_error(kInvalidFieldInParameterList, "Set SCSI ID (11h) is not supported");
  }
  return parameter_error(kInvalidFieldInParameterList,
                         "byte 0: unknown SAF-TE command " + hex2(p[0]) + "h");
}

// ---- SES element model --------------------------------------------------------------------------

std::vector<Element> element_map(const Config& config, SlotElements slots) {
  std::vector<Element> map;
  auto add = [&map](ElementKind kind, unsigned count, ElementType type) {
    for (unsigned i = 0; i < count; ++i) {
      map.push_back(Element{kind, static_cast<std::uint8_t>(i), type, {}});
    }
  };
  add(ElementKind::Fan, config.fans, ElementType::Cooling);
  add(ElementKind::PowerSupply, config.power_supplies, ElementType::PowerSupply);
  add(ElementKind::DoorLock, config.door_lock ? 1 : 0, ElementType::Door);
  add(ElementKind::Alarm, config.audible_alarm ? 1 : 0, ElementType::AudibleAlarm);
  add(ElementKind::TemperatureSensor, config.temperature_sensors, ElementType::TemperatureSensor);
  add(ElementKind::Thermostat, config.thermostats, ElementType::TemperatureSensor);
  add(ElementKind::TemperatureAlert, 1, ElementType::TemperatureSensor);
  add(ElementKind::Slot, config.device_slots,
      slots == SlotElements::ArrayDeviceSlot ? ElementType::ArrayDeviceSlot
                                             : ElementType::DeviceSlot);
  return map;
}

namespace {

Result<void> check_snapshot(const Snapshot& s) {
  const Config& c = s.config;
  for (auto ok :
       {check_count(s.status.fans.size(), c.fans, "fan states"),
        check_count(s.status.power_supplies.size(), c.power_supplies, "power supply states"),
        check_count(s.status.slot_scsi_ids.size(), c.device_slots, "slot SCSI IDs"),
        check_count(s.status.temperatures.size(), c.temperature_sensors, "temperatures"),
        check_count(s.slots.size(), c.device_slots, "slot states")}) {
    if (!ok) {
      return fail(ok.error());
    }
  }
  if (!s.slot_identify.empty()) {
    if (auto ok = check_count(s.slot_identify.size(), c.device_slots, "slot identify states");
        !ok) {
      return fail(ok.error());
    }
  }
  if (!s.fan_speeds.empty()) {
    if (auto ok = check_count(s.fan_speeds.size(), c.fans, "fan speeds"); !ok) {
      return fail(ok.error());
    }
  }
  return {};
}

// SAF-TE fan speed 0-4 <-> SES speed code 0-7 (0 stopped, 1 lowest, 7 highest). The SES codes
// pair up onto SAF-TE speeds (1-2 -> 1, 3-4 -> 2, 5-6 -> 3, 7 -> 4); back, each speed gives the
// lowest code of its pair, so a round trip keeps the speed.
std::uint8_t ses_speed_code(std::uint8_t safte_speed) {
  static constexpr std::array<std::uint8_t, kMaxFanSpeed + 1> kCodes = {0, 1, 3, 5, 7};
  return kCodes[std::min<std::uint8_t>(safte_speed, kMaxFanSpeed)];
}
std::uint8_t safte_speed(std::uint8_t ses_code) {
  return static_cast<std::uint8_t>((ses_code + 1) / 2);
}

struct Builder {
  const Snapshot& s;
  std::uint8_t enclosure = 0;

  ElementBytes fan(std::size_t i) {
    const Config& c = s.config;
    ElementBytes e{};
    const std::uint8_t fail_bit = s.flags.fan_failure ? kFail : 0;
    const bool only_fan = c.fans == 1;
    switch (s.status.fans[i]) {
      case FanStatus::Operational: {
        const std::uint8_t speed = s.fan_speeds.empty() ? kMaxFanSpeed : s.fan_speeds[i];
        e[0] = code(ElementStatusCode::Ok);
        e[3] = speed == 0 ? kOff : static_cast<std::uint8_t>(kRequestedOn | ses_speed_code(speed));
        break;
      }
      case FanStatus::Malfunctioning:
        e[0] = code(ElementStatusCode::Critical);
        e[3] = kOff;
        // Losing a fan is critical when there is no other fan or nothing to watch temperature.
        enclosure |= (only_fan || c.temperature_sensors + c.thermostats == 0)
                         ? ses::kEnclosureCritical
                         : ses::kEnclosureNonCritical;
        break;
      case FanStatus::NotInstalled:
        e[0] = code(ElementStatusCode::NotInstalled);
        e[3] = kOff;
        enclosure |= only_fan ? ses::kEnclosureCritical : ses::kEnclosureNonCritical;
        break;
      case FanStatus::Unknown:
        e[0] = code(ElementStatusCode::Unknown);
        enclosure |= ses::kEnclosureInfo;
        break;
      default:
        e[0] = code(ElementStatusCode::Unsupported);
        break;
    }
    e[3] |= fail_bit;
    return e;
  }

  ElementBytes power_supply(std::size_t i) {
    ElementBytes e{};
    switch (s.status.power_supplies[i]) {
      case PowerSupplyStatus::OperationalOn:
        e[0] = code(ElementStatusCode::Ok);
        e[3] = kRequestedOn;
        break;
      case PowerSupplyStatus::OperationalOff:
        e[0] = code(ElementStatusCode::Ok);
        e[3] = kOff;
        enclosure |= ses::kEnclosureInfo;
        break;
      case PowerSupplyStatus::MalfunctioningOn:
        e[0] = code(ElementStatusCode::Critical);
        e[3] = kFail | kRequestedOn | kPsuDcFail;
        enclosure |= ses::kEnclosureNonCritical;
        break;
      case PowerSupplyStatus::MalfunctioningOff:
        e[0] = code(ElementStatusCode::Noncritical);
        e[3] = kFail | kOff | kPsuDcFail;
        enclosure |= ses::kEnclosureNonCritical;
        break;
      case PowerSupplyStatus::NotPresent:
        e[0] = code(ElementStatusCode::NotInstalled);
        enclosure |= ses::kEnclosureInfo;
        break;
      default:  // Present (state unknown), Unknown, values the spec does not define
        e[0] = code(ElementStatusCode::Unknown);
        enclosure |= ses::kEnclosureInfo;
        break;
    }
    if (s.flags.power_supply_failure) {
      e[3] |= kFail;
    }
    return e;
  }

  ElementBytes door_lock() {
    ElementBytes e{};
    switch (s.status.door_lock) {
      case DoorLockStatus::Locked:
        e[0] = code(ElementStatusCode::Ok);
        break;
      case DoorLockStatus::Unlocked:
        e[0] = code(ElementStatusCode::Ok);
        e[3] = kDoorUnlocked;
        break;
      case DoorLockStatus::Unknown:
        e[0] = code(ElementStatusCode::Unknown);
        enclosure |= ses::kEnclosureInfo;
        break;
      default:
        e[0] = code(ElementStatusCode::Unsupported);
        break;
    }
    return e;
  }

  [[nodiscard]] ElementBytes alarm() const {
    ElementBytes e{};
    e[0] = code(ElementStatusCode::Ok);
    if (s.status.speaker == SpeakerStatus::Off) {
      e[0] |= ses::kDisabled;
      e[3] = kAlarmMuted;
    } else if (s.flags.global_failure) {
      e[3] = kToneCritical;
    } else if (s.flags.global_warning) {
      e[3] = kToneNonCritical;
    } else {
      e[3] = kToneInfo;
    }
    return e;
  }

  ElementBytes temperature_sensor(std::size_t i) {
    ElementBytes e{};
    e[0] = code(ElementStatusCode::Ok);
    e[2] = temperature_ses_byte(s.status.temperatures[i], s.config.temperature_unit);
    if (s.status.out_of_range(static_cast<unsigned>(i))) {
      e[0] = code(ElementStatusCode::Critical);
      enclosure |= ses::kEnclosureCritical;
    }
    return e;
  }

  // A thermostat (bit sensors + i) or the temperature alert (bit 15): a switch without a value.
  // Only this element changes (FreeBSD also writes 0xff into element 4's temperature).
  ElementBytes temperature_switch(bool alert) {
    ElementBytes e{};
    if (alert) {
      e[0] = code(ElementStatusCode::Critical);
      e[3] = kOverTemperatureFailure;
      enclosure |= ses::kEnclosureCritical;
    } else if (s.config.temperature_sensors + s.config.thermostats == 0) {
      e[0] = code(ElementStatusCode::NotAvailable);
    } else {
      e[0] = code(ElementStatusCode::Ok);
    }
    return e;
  }

  ElementBytes slot(std::size_t i, SlotElements slots) {
    const SlotStatus& st = s.slots[i];
    const ArrayState& a = st.array;
    ElementBytes e{};
    if (!st.installed) {
      e[0] = code(ElementStatusCode::NotInstalled);
    } else if (a.faulty) {
      e[0] = code(ElementStatusCode::Critical);
      enclosure |= ses::kEnclosureCritical;
    } else if (a.predicted_fault) {
      e[0] = code(ElementStatusCode::Noncritical);
      enclosure |= ses::kEnclosureNonCritical;
    } else {
      e[0] = code(ElementStatusCode::Ok);
    }
    if (a.predicted_fault) {
      e[0] |= ses::kPrdfail;
    }
    if (slots == SlotElements::DeviceSlot) {
      e[1] = s.status.slot_scsi_ids[i];
    } else {
      e[1] = static_cast<std::uint8_t>(
          (a.no_error ? kSlotOk : 0) | (a.hot_spare ? kSlotHotSpare : 0) |
          (a.parity_check ? kSlotConsistencyCheck : 0) |
          (a.in_critical_array ? kSlotInCriticalArray : 0) |
          (a.in_failed_array ? kSlotInFailedArray : 0) | (a.rebuilding ? kSlotRebuildRemap : 0) |
          (a.rebuild_stopped ? kSlotRebuildRemapAbort : 0));
    }
    if (st.ready_for_insertion_removal) {
      e[2] |= st.installed ? kSlotRemove : kSlotInsert;
    }
    if (!s.slot_identify.empty() && s.slot_identify[i]) {
      e[2] |= kSlotIdent;
    }
    if (a.faulty) {
      e[3] |= kSlotFault;
    }
    if (!st.powered) {
      e[3] |= kSlotDeviceOff;
    }
    return e;
  }
};

// The slot's device is (to be) on: neither ready for insertion/removal nor off. Status and
// control use the same bits.
bool slot_on(const ElementBytes& e) {
  return (e[2] & (kSlotInsert | kSlotRemove)) == 0 && (e[3] & kSlotDeviceOff) == 0;
}

ArrayState requested_array_state(const ElementBytes& control, SlotElements slots) {
  ArrayState a;
  a.predicted_fault = (control[0] & ses::kPrdfail) != 0;
  a.faulty = (control[3] & kSlotFault) != 0;
  if (slots == SlotElements::ArrayDeviceSlot) {
    const std::uint8_t b = control[1];
    a.no_error = (b & kSlotOk) != 0;
    a.hot_spare = (b & kSlotHotSpare) != 0;
    a.parity_check = (b & kSlotConsistencyCheck) != 0;
    a.in_critical_array = (b & kSlotInCriticalArray) != 0;
    a.in_failed_array = (b & kSlotInFailedArray) != 0;
    a.rebuilding = (b & kSlotRebuildRemap) != 0;
    a.rebuild_stopped = (b & kSlotRebuildRemapAbort) != 0;
  }
  if (a.byte0() == 0 && a.byte1() == 0) {
    a.no_error = true;
  }
  return a;
}

}  // namespace

Result<SesView> ses_view(const Snapshot& snapshot, SlotElements slots) {
  if (auto ok = check_snapshot(snapshot); !ok) {
    return fail(ok.error());
  }
  const Config& c = snapshot.config;
  SesView view;
  view.elements = element_map(c, slots);
  Builder b{snapshot};
  for (Element& e : view.elements) {
    const std::size_t i = e.index;
    switch (e.kind) {
      case ElementKind::Fan:
        e.status = b.fan(i);
        break;
      case ElementKind::PowerSupply:
        e.status = b.power_supply(i);
        break;
      case ElementKind::DoorLock:
        e.status = b.door_lock();
        break;
      case ElementKind::Alarm:
        e.status = b.alarm();
        break;
      case ElementKind::TemperatureSensor:
        e.status = b.temperature_sensor(i);
        break;
      case ElementKind::Thermostat:
        e.status = b.temperature_switch(
            snapshot.status.out_of_range(static_cast<unsigned>(c.temperature_sensors + i)));
        break;
      case ElementKind::TemperatureAlert:
        e.status = b.temperature_switch(snapshot.status.temperature_alert());
        break;
      case ElementKind::Slot:
        e.status = b.slot(i, slots);
        break;
    }
  }
  // Whatever else is known, an enclosure with fans and none of them turning is critical.
  if (c.fans > 0 && std::none_of(snapshot.status.fans.begin(), snapshot.status.fans.end(),
                                 [](FanStatus f) { return f == FanStatus::Operational; })) {
    b.enclosure |= ses::kEnclosureCritical;
  }
  if (snapshot.flags.global_failure) {
    b.enclosure |= ses::kEnclosureCritical;
  } else if (snapshot.flags.global_warning) {
    b.enclosure |= ses::kEnclosureNonCritical;
  }
  view.enclosure_status = b.enclosure;
  return view;
}

Result<std::vector<WriteCommand>> control_commands(const Snapshot& snapshot, SlotElements slots,
                                                   std::size_t element_index,
                                                   const ElementBytes& control) {
  auto view = ses_view(snapshot, slots);
  if (!view) {
    return fail(view.error());
  }
  if (element_index >= view->elements.size()) {
    return fail_invalid("SAF-TE control: element " + std::to_string(element_index) +
                        " does not exist (" + std::to_string(view->elements.size()) + " elements)");
  }
  std::vector<WriteCommand> out;
  if ((control[0] & ses::kSelect) == 0) {
    return out;  // SELECT clear: the element is not to be changed
  }
  const Element& element = view->elements[element_index];
  GlobalFlags flags = snapshot.flags;
  switch (element.kind) {
    case ElementKind::Slot: {
      WriteSlotStatus w;
      for (const SlotStatus& slot : snapshot.slots) {
        w.slots.push_back(slot.array);
      }
      w.slots[element.index] = requested_array_state(control, slots);
      out.emplace_back(std::move(w));
      const bool want_on = slot_on(control);
      if (want_on != slot_on(element.status)) {
        SlotOperation op{element.index, want_on, !want_on, false};
        out.emplace_back(op);
      }
      const bool want_identify = (control[2] & kSlotIdent) != 0;
      const bool identify = (element.status[2] & kSlotIdent) != 0;
      if (want_identify != identify) {
        out.emplace_back(SlotOperation{element.index, false, false, want_identify});
      }
      break;
    }
    case ElementKind::PowerSupply:
      // FreeBSD falls through from the second stage into `default: return EINVAL`, so the
      // Activate Power Supply command never reaches the enclosure.
      flags.power_supply_failure = (control[3] & kFail) != 0;
      out.emplace_back(flags);
      out.emplace_back(ActivatePowerSupply{
          element.index, (control[3] & kRequestedOn) != 0 ? Power::On : Power::Off});
      break;
    case ElementKind::Fan: {
      // As for power supplies, FreeBSD never sends its second stage.
      flags.fan_failure = (control[3] & kFail) != 0;
      out.emplace_back(flags);
      const std::uint8_t speed_code = control[3] & kSpeedCodeMask;
      if (speed_code != 0) {
        const bool on = (control[3] & kRequestedOn) != 0;
        out.emplace_back(
            SetFanSpeed{element.index, on ? safte_speed(speed_code) : std::uint8_t{0}});
      }
      break;
    }
    case ElementKind::DoorLock:
      flags.lock_door = (control[3] & kDoorUnlocked) == 0;
      out.emplace_back(flags);
      break;
    case ElementKind::Alarm:
      // The alarm bit is in flag 1 (FreeBSD masks flag 2 with the flag 1 constant, toggling
      // "array failure" instead).
      if ((control[0] & ses::kDisabled) != 0 || (control[3] & kAlarmMuted) != 0) {
        flags.audible_alarm = false;
      } else {
        flags.audible_alarm = (control[3] & kToneUrgencyMask) != 0;
      }
      out.emplace_back(flags);
      break;
    case ElementKind::TemperatureSensor:
    case ElementKind::Thermostat:
    case ElementKind::TemperatureAlert:
      return fail_invalid("SAF-TE control: element " + std::to_string(element_index) +
                          " is a temperature sensor, which SAF-TE cannot control");
  }
  return out;
}

WriteCommand enclosure_control_command(const Snapshot& snapshot, std::uint8_t enclosure_control) {
  GlobalFlags flags = snapshot.flags;
  flags.global_failure =
      (enclosure_control & (ses::kEnclosureCritical | ses::kEnclosureUnrecoverable)) != 0;
  flags.global_warning =
      !flags.global_failure && (enclosure_control & ses::kEnclosureNonCritical) != 0;
  return flags;
}

}  // namespace ucam::scsi::safte
