#include "sims/emu/models/safte.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "scsi/opcodes.h"
#include "scsi/sense.h"
#include "sims/emu/models/ses.h"

namespace ucam::emu {

namespace safte = scsi::safte;
namespace ses = scsi::ses;
using nlohmann::json;

namespace {

constexpr std::uint16_t kVersionSam5 = 0x00a0;
constexpr std::uint16_t kVersionSpc4 = 0x0460;
constexpr std::size_t kEnclosureIdOffset = 36;   // 7 bytes, then the channel identifier (43)
constexpr std::size_t kSpecRevisionOffset = 50;  // "41  ": interface specification R041
constexpr std::uint8_t kStatusOk = 0x01;
constexpr std::uint8_t kStatusCritical = 0x02;
constexpr std::uint8_t kStatusNoncritical = 0x03;
constexpr std::uint8_t kStatusUnrecoverable = 0x04;
constexpr std::uint8_t kStatusNotInstalled = 0x05;
constexpr std::uint8_t kStatusUnknown = 0x06;

constexpr std::uint8_t op(scsi::Opcode opcode) {
  return static_cast<std::uint8_t>(opcode);
}

Result<std::uint8_t> count(ObjectReader& lun, std::string_view key, std::uint64_t max) {
  auto value = lun.unsigned_integer(key, 0, max);
  if (!value) {
    return fail(value.error());
  }
  return static_cast<std::uint8_t>(value->value_or(0));
}

Error no_such(std::string_view what) {
  return Error::from_errno(19 /* ENODEV */, std::string(what));
}

}  // namespace

// --- Scenario -------------------------------------------------------------------------------

Result<std::shared_ptr<const ModelConfig>> parse_safte_model_config(ObjectReader& lun) {
  auto config = std::make_shared<SafteModelConfig>();
  config->path = lun.path();
  auto name = lun.string("enclosure");
  if (!name) {
    return fail(name.error());
  }
  if (*name) {
    if ((*name)->empty()) {
      return fail(lun.error("enclosure", "the enclosure name is empty"));
    }
    config->name = **name;
  }
  safte::Config& c = config->config;
  for (const auto& [key, field] :
       {std::pair{"fans", &c.fans}, std::pair{"power_supplies", &c.power_supplies},
        std::pair{"temperature_sensors", &c.temperature_sensors}}) {
    auto value = count(lun, key, 255);
    if (!value) {
      return fail(value.error());
    }
    *field = *value;
  }
  auto thermostats = count(lun, "thermostats", safte::kMaxThermostats);
  if (!thermostats) {
    return fail(thermostats.error());
  }
  c.thermostats = *thermostats;
  if (c.temperature_sensors + c.thermostats > safte::kTemperatureFlagBits) {
    return fail(lun.error("thermostats",
                          fmt::format("temperature sensors and thermostats share {} flag bits",
                                      safte::kTemperatureFlagBits)));
  }
  for (const auto& [key, field] :
       {std::pair{"door_lock", &c.door_lock}, std::pair{"alarm", &c.audible_alarm}}) {
    auto value = lun.boolean(key);
    if (!value) {
      return fail(value.error());
    }
    *field = value->value_or(false);
  }
  static constexpr std::array<std::string_view, 2> kUnits = {"celsius", "fahrenheit"};
  auto unit = lun.choice("temperature_unit", kUnits);
  if (!unit) {
    return fail(unit.error());
  }
  c.temperature_unit = unit->value_or("celsius") == "celsius" ? safte::TemperatureUnit::Celsius
                                                              : safte::TemperatureUnit::Fahrenheit;

  // "celsius": one reading for every sensor, or one per sensor.
  config->celsius.assign(c.temperature_sensors, 25);
  if (const json* celsius = lun.find("celsius"); celsius != nullptr) {
    const auto read = [&](const json& v, std::string_view key) -> Result<std::int32_t> {
      if (!v.is_number_integer() || v.get<std::int64_t>() < -10 || v.get<std::int64_t>() > 200) {
        return fail(lun.error(key, fmt::format("expected a temperature in -10..200, got {}",
                                               describe_json_value(v))));
      }
      return static_cast<std::int32_t>(v.get<std::int64_t>());
    };
    if (celsius->is_array()) {
      if (celsius->size() != c.temperature_sensors) {
        return fail(lun.error("celsius", fmt::format("expected one value per sensor ({}), got {}",
                                                     c.temperature_sensors, celsius->size())));
      }
      for (std::size_t i = 0; i < celsius->size(); ++i) {
        auto value = read((*celsius)[i], json_path_index("celsius", i));
        if (!value) {
          return fail(value.error());
        }
        config->celsius[i] = *value;
      }
    } else {
      auto value = read(*celsius, "celsius");
      if (!value) {
        return fail(value.error());
      }
      std::fill(config->celsius.begin(), config->celsius.end(), *value);
    }
  }

  // "slots": a count, or {"count": N, "disks": ..., "targets": ..., "bus": ...}.
  config->slots_path = lun.path_of("slots");
  if (const json* slots = lun.find("slots"); slots != nullptr) {
    if (slots->is_number_unsigned() && slots->get<std::uint64_t>() <= 255) {
      c.device_slots = static_cast<std::uint8_t>(slots->get<std::uint64_t>());
      config->slots.disks.resize(c.device_slots);
    } else if (slots->is_object()) {
      ObjectReader group(*slots, lun.source_name(), config->slots_path);
      auto n = count(group, "count", 255);
      if (!n) {
        return fail(n.error());
      }
      c.device_slots = *n;
      auto disks = parse_slot_disks(group, c.device_slots);
      if (!disks) {
        return fail(disks.error());
      }
      config->slots = std::move(*disks);
      if (auto done = group.finish(); !done) {
        return fail(done.error());
      }
    } else {
      return fail(lun.error("slots", fmt::format("expected a count in 0..255 or a slot group "
                                                 "object, got {}",
                                                 describe_json_value(*slots))));
    }
  }
  auto minutes = lun.unsigned_integer("power_on_minutes", 0, 0xffffffff);
  auto cycles = lun.unsigned_integer("power_cycles", 0, 0xffffffff);
  for (const auto* field : {&minutes, &cycles}) {
    if (!*field) {
      return fail(field->error());
    }
  }
  config->usage.power_on_minutes = static_cast<std::uint32_t>(minutes->value_or(0));
  config->usage.power_cycles = static_cast<std::uint32_t>(cycles->value_or(0));
  return std::shared_ptr<const ModelConfig>(std::move(config));
}

// --- Enclosure state ------------------------------------------------------------------------

SafteEnclosure::SafteEnclosure(std::string name, const SafteModelConfig& config)
    : m_name(std::move(name)), m_config(config.config), m_usage(config.usage) {
  const safte::Config& c = m_config;
  m_status.fans.assign(c.fans, safte::FanStatus::Operational);
  m_status.power_supplies.assign(c.power_supplies, safte::PowerSupplyStatus::OperationalOn);
  m_status.slot_scsi_ids.assign(c.device_slots, 0xff);
  m_status.door_lock =
      c.door_lock ? safte::DoorLockStatus::Locked : safte::DoorLockStatus::Unlocked;
  for (std::size_t i = 0; i < c.temperature_sensors; ++i) {
    const std::int32_t celsius = i < config.celsius.size() ? config.celsius[i] : 25;
    m_status.temperatures.push_back(safte::temperature_raw(celsius, c.temperature_unit));
  }
  m_slots.assign(c.device_slots, safte::SlotStatus{});
  m_contents.assign(c.device_slots, SlotContent{});
  m_insertions.assign(c.device_slots, 0);
  m_identify.assign(c.device_slots, false);
  m_fan_speeds.assign(c.fans, safte::kMaxFanSpeed);
}

void SafteEnclosure::attach(std::vector<LunAddress> luns, std::vector<SlotContent> slots) {
  std::lock_guard lock(m_lock);
  m_luns = std::move(luns);
  for (std::size_t i = 0; i < m_contents.size() && i < slots.size(); ++i) {
    m_contents[i] = slots[i];
    const bool installed = !slots[i].empty();
    m_slots[i].installed = installed;
    m_slots[i].powered = installed;
    m_insertions[i] = installed ? 1 : 0;
    m_status.slot_scsi_ids[i] =
        slots[i].disk ? static_cast<std::uint8_t>(slots[i].disk->target) : 0xff;
  }
}

std::vector<std::uint8_t> SafteEnclosure::read_buffer(safte::Buffer buffer) const {
  std::lock_guard lock(m_lock);
  Result<std::vector<std::uint8_t>> data = std::vector<std::uint8_t>{};
  switch (buffer) {
    case safte::Buffer::EnclosureConfiguration: {
      auto config = safte::encode_config(m_config);
      data = config ? std::vector<std::uint8_t>(config->begin(), config->end())
                    : Result<std::vector<std::uint8_t>>(fail(config.error()));
      break;
    }
    case safte::Buffer::EnclosureStatus:
      data = safte::encode_enclosure_status(m_status, m_config);
      break;
    case safte::Buffer::UsageStatistics: {
      const auto usage = safte::encode_usage_statistics(m_usage);
      data = std::vector<std::uint8_t>(usage.begin(), usage.end());
      break;
    }
    case safte::Buffer::DeviceInsertions:
      data = safte::encode_device_insertions(m_insertions, m_config);
      break;
    case safte::Buffer::DeviceSlotStatus:
      data = safte::encode_slot_status(m_slots, m_config);
      break;
    case safte::Buffer::GlobalFlags: {
      const auto flags = safte::encode_global_flags(m_flags);
      data = std::vector<std::uint8_t>(flags.begin(), flags.end());
      break;
    }
  }
  if (!data) {
    // The vectors always match the configuration; an encoder failure is a bug.
    log_error("emu: SAF-TE enclosure \"{}\": {}", m_name, data.error().message());
    return {};
  }
  return std::move(*data);
}

std::optional<ParameterListError> SafteEnclosure::write_command(
    const safte::WriteCommand& command) {
  std::lock_guard lock(m_lock);
  const auto invalid = [](std::uint16_t byte) {
    return ParameterListError{scsi::kInvalidFieldInParameterList, byte, std::nullopt};
  };
  if (const auto* w = std::get_if<safte::WriteSlotStatus>(&command)) {
    // The enclosure replaces the state of every slot: the list must name all of them.
    if (w->slots.size() != m_slots.size()) {
      return ParameterListError{scsi::kParameterListLengthError, std::nullopt, std::nullopt};
    }
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
      m_slots[i].array = w->slots[i];
    }
    return std::nullopt;
  }
  if (const auto* o = std::get_if<safte::SlotOperation>(&command)) {
    if (o->slot >= m_slots.size()) {
      return invalid(1);
    }
    auto& slot = m_slots[o->slot];
    if (o->prepare_for_operation) {
      slot.powered = slot.installed;
      slot.ready_for_insertion_removal = false;
    }
    if (o->prepare_for_insertion_removal) {
      slot.powered = false;
      slot.ready_for_insertion_removal = true;
    }
    m_identify[o->slot] = o->identify;  // operation 00h turns identify off
    return std::nullopt;
  }
  if (const auto* f = std::get_if<safte::SetFanSpeed>(&command)) {
    if (f->fan >= m_fan_speeds.size()) {
      return invalid(1);
    }
    m_fan_speeds[f->fan] = f->speed;
    return std::nullopt;
  }
  if (const auto* p = std::get_if<safte::ActivatePowerSupply>(&command)) {
    if (p->power_supply >= m_status.power_supplies.size()) {
      return invalid(1);
    }
    auto& status = m_status.power_supplies[p->power_supply];
    const bool on = p->power == safte::Power::On;
    using S = safte::PowerSupplyStatus;
    if (status == S::OperationalOn || status == S::OperationalOff) {
      status = on ? S::OperationalOn : S::OperationalOff;
    } else if (status == S::MalfunctioningOn || status == S::MalfunctioningOff) {
      status = on ? S::MalfunctioningOn : S::MalfunctioningOff;
    }
    return std::nullopt;
  }
  m_flags = std::get<safte::GlobalFlags>(command);
  return std::nullopt;
}

safte::Snapshot SafteEnclosure::snapshot_locked() const {
  safte::Snapshot s;
  s.config = m_config;
  s.status = m_status;
  s.slots = m_slots;
  s.flags = m_flags;
  s.slot_identify = m_identify;
  s.fan_speeds = m_fan_speeds;
  return s;
}

EnclosureView SafteEnclosure::view() const {
  std::lock_guard lock(m_lock);
  EnclosureView view;
  view.kind = EnclosureView::Kind::Safte;
  view.name = m_name;
  view.luns = m_luns;
  auto ses_view = safte::ses_view(snapshot_locked(), safte::SlotElements::ArrayDeviceSlot);
  if (!ses_view) {
    log_error("emu: SAF-TE enclosure \"{}\": {}", m_name, ses_view.error().message());
    return view;
  }
  view.status_flags = ses_view->enclosure_status;
  std::vector<int> per_type(256, 0);
  int header = -1;
  std::optional<safte::ElementKind> previous;
  for (std::size_t i = 0; i < ses_view->elements.size(); ++i) {
    const auto& e = ses_view->elements[i];
    if (!previous || *previous != e.kind) {
      ++header;
      previous = e.kind;
    }
    EnclosureView::Element element;
    element.global_index = static_cast<int>(i);
    element.type_header = header;
    element.type = ses::type_value(e.type);
    element.index = per_type[element.type]++;
    element.status = e.status;
    if (e.kind == safte::ElementKind::Slot) {
      element.slot = e.index;
      element.sas_address = m_contents[e.index].sas_address;
      element.disk = m_contents[e.index].disk;
    }
    view.elements.push_back(std::move(element));
  }
  return view;
}

std::optional<safte::Element> SafteEnclosure::find(EnclosureElement element) const {
  std::uint8_t type = element.type;
  if (type == ses::type_value(ses::ElementType::DeviceSlot)) {
    type = ses::type_value(ses::ElementType::ArrayDeviceSlot);  // either slot type names a slot
  }
  int seen = 0;
  for (const auto& e : safte::element_map(m_config, safte::SlotElements::ArrayDeviceSlot)) {
    if (ses::type_value(e.type) == type && seen++ == element.index) {
      return e;
    }
  }
  return std::nullopt;
}

// The SES status code, mapped back onto the SAF-TE state that ses_view() turns into it.
Result<void> SafteEnclosure::set_element_status(EnclosureElement element,
                                                const ses::ElementBytes& status) {
  const auto e = find(element);
  if (!e) {
    return fail(no_such(fmt::format("SAF-TE enclosure \"{}\" has no element {} of type 0x{:02x}",
                                    m_name, element.index, element.type)));
  }
  const std::uint8_t code = ses::status_code(status);
  const auto unsupported = [&] {
    return fail_invalid(fmt::format("SAF-TE cannot report status code {} for a {} element", code,
                                    ses::element_type_name(ses::type_value(e->type))));
  };
  std::lock_guard lock(m_lock);
  switch (e->kind) {
    case safte::ElementKind::Fan: {
      auto& fan = m_status.fans[e->index];
      if (code == kStatusOk) {
        fan = safte::FanStatus::Operational;
      } else if (code == kStatusCritical || code == kStatusNoncritical) {
        fan = safte::FanStatus::Malfunctioning;
      } else if (code == kStatusNotInstalled) {
        fan = safte::FanStatus::NotInstalled;
      } else if (code == kStatusUnknown) {
        fan = safte::FanStatus::Unknown;
      } else {
        return unsupported();
      }
      return {};
    }
    case safte::ElementKind::PowerSupply: {
      using S = safte::PowerSupplyStatus;
      auto& psu = m_status.power_supplies[e->index];
      const bool off = (status[3] & 0x10) != 0;  // OFF
      if (code == kStatusOk) {
        psu = off ? S::OperationalOff : S::OperationalOn;
      } else if (code == kStatusCritical || code == kStatusNoncritical) {
        psu = off ? S::MalfunctioningOff : S::MalfunctioningOn;
      } else if (code == kStatusNotInstalled) {
        psu = S::NotPresent;
      } else if (code == kStatusUnknown) {
        psu = S::Unknown;
      } else {
        return unsupported();
      }
      return {};
    }
    case safte::ElementKind::DoorLock:
      if (code == kStatusUnknown) {
        m_status.door_lock = safte::DoorLockStatus::Unknown;
      } else {
        m_status.door_lock = (status[3] & 0x01) != 0 ? safte::DoorLockStatus::Unlocked
                                                     : safte::DoorLockStatus::Locked;
      }
      return {};
    case safte::ElementKind::Alarm:
      m_status.speaker =
          (status[3] & 0x0f) != 0 ? safte::SpeakerStatus::On : safte::SpeakerStatus::Off;
      return {};
    case safte::ElementKind::TemperatureSensor:
    case safte::ElementKind::Thermostat:
    case safte::ElementKind::TemperatureAlert: {
      const unsigned bit = e->kind == safte::ElementKind::TemperatureSensor ? e->index
                           : e->kind == safte::ElementKind::Thermostat
                               ? m_config.temperature_sensors + e->index
                               : 15U;
      const bool alarm = code == kStatusCritical || code == kStatusUnrecoverable;
      if (!alarm && code != kStatusOk) {
        return unsupported();
      }
      const auto mask = static_cast<std::uint16_t>(1U << bit);
      m_status.temperature_flags = static_cast<std::uint16_t>(
          alarm ? m_status.temperature_flags | mask : m_status.temperature_flags & ~mask);
      return {};
    }
    case safte::ElementKind::Slot: {
      auto& slot = m_slots[e->index];
      if (code == kStatusOk) {
        slot.array.faulty = false;
        slot.array.predicted_fault = false;
      } else if (code == kStatusCritical) {
        slot.array.faulty = true;
      } else if (code == kStatusNoncritical) {
        slot.array.predicted_fault = true;
      } else {
        return unsupported();  // Not Installed: pull_disk()
      }
      return {};
    }
  }
  return unsupported();
}

Result<void> SafteEnclosure::set_sensor(EnclosureElement element, std::int32_t value) {
  const auto e = find(element);
  if (!e) {
    return fail(no_such(fmt::format("SAF-TE enclosure \"{}\" has no element {} of type 0x{:02x}",
                                    m_name, element.index, element.type)));
  }
  if (e->kind != safte::ElementKind::TemperatureSensor) {
    return fail_invalid("a SAF-TE enclosure reports only temperatures");
  }
  if (value < -10 || value > 200) {
    return fail_invalid(fmt::format("a SAF-TE temperature is -10..200 C, got {}", value));
  }
  std::lock_guard lock(m_lock);
  m_status.temperatures[e->index] = safte::temperature_raw(value, m_config.temperature_unit);
  return {};
}

Result<SlotContent> SafteEnclosure::pull(int slot) {
  std::lock_guard lock(m_lock);
  if (slot < 0 || static_cast<std::size_t>(slot) >= m_slots.size()) {
    return fail(no_such(fmt::format("SAF-TE enclosure \"{}\" has no slot {}", m_name, slot)));
  }
  const auto i = static_cast<std::size_t>(slot);
  if (m_contents[i].empty()) {
    return fail_invalid(fmt::format("SAF-TE enclosure \"{}\": slot {} is empty", m_name, slot));
  }
  SlotContent content = m_contents[i];
  m_contents[i] = {};
  m_slots[i] = safte::SlotStatus{};
  m_identify[i] = false;
  return content;
}

Result<void> SafteEnclosure::insert(int slot, const SlotContent& content) {
  if (content.empty()) {
    return fail_invalid("a device in a slot needs a SAS address");
  }
  std::lock_guard lock(m_lock);
  if (slot < 0 || static_cast<std::size_t>(slot) >= m_slots.size()) {
    return fail(no_such(fmt::format("SAF-TE enclosure \"{}\" has no slot {}", m_name, slot)));
  }
  const auto i = static_cast<std::size_t>(slot);
  if (!m_contents[i].empty()) {
    return fail(Error::from_errno(
        16 /* EBUSY */,
        fmt::format("SAF-TE enclosure \"{}\": slot {} is not empty", m_name, slot)));
  }
  m_contents[i] = content;
  m_slots[i] = safte::SlotStatus{};
  m_slots[i].installed = true;
  m_slots[i].powered = true;
  ++m_insertions[i];
  if (content.disk) {
    m_status.slot_scsi_ids[i] = static_cast<std::uint8_t>(content.disk->target);
  }
  return {};
}

std::optional<int> SafteEnclosure::slot_of(const LunAddress& disk) const {
  std::lock_guard lock(m_lock);
  for (std::size_t i = 0; i < m_contents.size(); ++i) {
    if (m_contents[i].disk == disk) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

Result<std::vector<SlotContent>> SafteEnclosure::reconfigure(
    const EnclosureReconfiguration& /*change*/) {
  return fail(Error::from_errno(
      95 /* EOPNOTSUPP */,
      fmt::format("SAF-TE enclosure \"{}\" has a fixed configuration (no generation code)",
                  m_name)));
}

// --- Device server --------------------------------------------------------------------------

std::unique_ptr<LunModel> create_safte(const LunSpec& spec) {
  auto config = std::dynamic_pointer_cast<const SafteModelConfig>(spec.config);
  if (!config) {
    config = std::make_shared<const SafteModelConfig>();
  }
  return std::make_unique<SafteModel>(spec, std::move(config));
}

SafteModel::SafteModel(const LunSpec& spec, std::shared_ptr<const SafteModelConfig> config)
    : m_config(std::move(config)),
      m_naa(spec.naa),
      m_enclosure(
          std::make_shared<SafteEnclosure>(m_config->name.value_or(spec.serial), *m_config)) {
  // Alone, slots hold the SAS addresses written in the scenario; the emulator resolves
  // references to emulated disks (ses_registry.h).
  std::vector<SlotContent> slots;
  for (const auto& device : m_config->slots.disks) {
    SlotContent content;
    if (device.kind == SlotDeviceSpec::Kind::SasAddress) {
      content.sas_address = device.sas_address;
    }
    slots.push_back(content);
  }
  m_enclosure->attach({}, std::move(slots));
}

void SafteModel::adjust_inquiry(scsi::StandardInquiry& inquiry) const {
  inquiry.version_descriptors = {kVersionSam5, kVersionSpc4};
}

// SAF-TE R041: bytes 36-42 the unique enclosure identifier (here the low 56 bits of the LU
// name), 43 the channel identifier, 44-49 "SAF-TE", 50-53 the interface specification revision.
void SafteModel::adjust_inquiry_data(std::vector<std::uint8_t>& data) const {
  if (data.size() < kSpecRevisionOffset + 4) {
    data.resize(kSpecRevisionOffset + 4, 0);
    data[4] = static_cast<std::uint8_t>(data.size() - 5);
  }
  for (std::size_t i = 0; i < 7; ++i) {
    data[kEnclosureIdOffset + i] = static_cast<std::uint8_t>(m_naa >> (8 * (6 - i)));
  }
  data[kEnclosureIdOffset + 7] = 0;
  std::copy(safte::kSignature.begin(), safte::kSignature.end(),
            data.begin() + static_cast<long>(safte::kSignatureOffset));
  const std::string_view revision = "41  ";
  std::copy(revision.begin(), revision.end(),
            data.begin() + static_cast<long>(kSpecRevisionOffset));
}

Dispatch SafteModel::execute(Command& command) {
  switch (command.opcode()) {
    case op(scsi::Opcode::TestUnitReady):
      command.complete_good();
      return Dispatch::Handled;
    case op(scsi::Opcode::ReadBuffer):
      read_buffer(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::WriteBuffer):
      write_buffer(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::SendDiagnostic): {
      // FreeBSD's ENCIOC_INIT sends an empty SEND DIAGNOSTIC to a SAF-TE unit: a self-test
      // that passes; a parameter list means nothing to SAF-TE.
      auto cdb = scsi::parse_send_diag_cdb(command.cdb());
      if (!cdb) {
        command.check_condition(cdb.error());
      } else if (cdb->parameter_list_length != 0) {
        command.invalid_field_in_cdb(3);
      } else {
        command.complete_good();
      }
      return Dispatch::Handled;
    }
    default:
      return Dispatch::Unsupported;
  }
}

void SafteModel::read_buffer(Command& command) const {
  auto cdb = safte::parse_read_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  const auto data = m_enclosure->read_buffer(cdb->buffer);
  command.complete_data_in(data, cdb->allocation_length);
}

void SafteModel::write_buffer(Command& command) const {
  auto length = safte::parse_write_cdb(command.cdb());
  if (!length) {
    command.check_condition(length.error());
    return;
  }
  const Bytes data = command.data_out();
  if (data.size() < *length) {
    command.transport_status(CamStatus::DataRunErr);
    return;
  }
  auto parsed = safte::parse_write_command(data.first(*length));
  if (!parsed) {
    const SenseCode sense = parsed.error().kind() == Error::Kind::Sense
                                ? parsed.error().sense()
                                : scsi::kInvalidFieldInParameterList;
    parameter_list_error(command, ParameterListError{sense, std::nullopt, std::nullopt});
    return;
  }
  if (const auto error = m_enclosure->write_command(*parsed)) {
    parameter_list_error(command, *error);
    return;
  }
  command.complete_good(*length);
}

}  // namespace ucam::emu
