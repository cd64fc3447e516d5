// SES-4 7.3 element status formats, one section per element type.
#include "scsi/ses_element.h"

#include <array>
#include <cstdio>

namespace ucam::scsi::ses {

namespace {
bool b(const ElementBytes& e, std::size_t byte, unsigned n) {
  return bit(e[byte], n);
}
std::int16_t signed16(const ElementBytes& e) {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>((e[2] << 8) | e[3]));
}
}  // namespace

SlotStatus decode_slot_status(std::uint8_t element_type, const ElementBytes& e) {
  SlotStatus s;
  s.array = element_type == type_value(ElementType::ArrayDeviceSlot);
  if (s.array) {
    s.ok = b(e, 1, 7);
    s.reserved_device = b(e, 1, 6);
    s.hot_spare = b(e, 1, 5);
    s.consistency_check = b(e, 1, 4);
    s.in_critical_array = b(e, 1, 3);
    s.in_failed_array = b(e, 1, 2);
    s.rebuild_remap = b(e, 1, 1);
    s.rebuild_remap_abort = b(e, 1, 0);
  } else {
    s.slot_address = e[1];
  }
  s.app_client_bypassed_a = b(e, 2, 7);
  s.do_not_remove = b(e, 2, 6);
  s.enclosure_bypassed_a = b(e, 2, 5);
  s.enclosure_bypassed_b = b(e, 2, 4);
  s.ready_to_insert = b(e, 2, 3);
  s.remove = b(e, 2, 2);
  s.ident = b(e, 2, 1);
  s.report = b(e, 2, 0);
  s.app_client_bypassed_b = b(e, 3, 7);
  s.fault_sensed = b(e, 3, 6);
  s.fault_requested = b(e, 3, 5);
  s.device_off = b(e, 3, 4);
  s.bypassed_a = b(e, 3, 3);
  s.bypassed_b = b(e, 3, 2);
  s.device_bypassed_a = b(e, 3, 1);
  s.device_bypassed_b = b(e, 3, 0);
  return s;
}

CoolingStatus decode_cooling_status(const ElementBytes& e) {
  CoolingStatus c;
  c.ident = b(e, 1, 7);
  c.do_not_remove = b(e, 1, 6);
  c.actual_speed_rpm = ((e[1] & 0x07) << 8 | e[2]) * 10;
  c.hot_swap = b(e, 3, 7);
  c.fail = b(e, 3, 6);
  c.requested_on = b(e, 3, 5);
  c.off = b(e, 3, 4);
  c.speed_code = bits(e[3], 0, 3);
  return c;
}

std::string_view cooling_speed_name(std::uint8_t speed_code) {
  static constexpr std::array<std::string_view, 8> kNames = {
      "Fan stopped",
      "Fan at lowest speed",
      "Fan at second lowest speed",
      "Fan at third lowest speed",
      "Fan at intermediate speed",
      "Fan at third highest speed",
      "Fan at second highest speed",
      "Fan at highest speed",
  };
  return kNames[speed_code & 7];
}

TemperatureStatus decode_temperature_status(const ElementBytes& e) {
  TemperatureStatus t;
  t.ident = b(e, 1, 7);
  t.fail = b(e, 1, 6);
  t.temperature_c = temperature_from_byte(e[2]);
  t.over_temperature_failure = b(e, 3, 3);
  t.over_temperature_warning = b(e, 3, 2);
  t.under_temperature_failure = b(e, 3, 1);
  t.under_temperature_warning = b(e, 3, 0);
  return t;
}

VoltageStatus decode_voltage_status(const ElementBytes& e) {
  VoltageStatus v;
  v.ident = b(e, 1, 7);
  v.fail = b(e, 1, 6);
  v.warning_over = b(e, 1, 3);
  v.warning_under = b(e, 1, 2);
  v.critical_over = b(e, 1, 1);
  v.critical_under = b(e, 1, 0);
  v.millivolts = signed16(e) * 10;
  return v;
}

CurrentStatus decode_current_status(const ElementBytes& e) {
  CurrentStatus c;
  c.ident = b(e, 1, 7);
  c.fail = b(e, 1, 6);
  c.warning_over = b(e, 1, 3);
  c.critical_over = b(e, 1, 1);
  c.milliamps = signed16(e) * 10;
  return c;
}

PowerSupplyStatus decode_power_supply_status(const ElementBytes& e) {
  PowerSupplyStatus p;
  p.ident = b(e, 1, 7);
  p.do_not_remove = b(e, 1, 6);
  p.dc_overvoltage = b(e, 2, 3);
  p.dc_undervoltage = b(e, 2, 2);
  p.dc_overcurrent = b(e, 2, 1);
  p.hot_swap = b(e, 3, 7);
  p.fail = b(e, 3, 6);
  p.requested_on = b(e, 3, 5);
  p.off = b(e, 3, 4);
  p.overtemperature_failure = b(e, 3, 3);
  p.temperature_warning = b(e, 3, 2);
  p.ac_fail = b(e, 3, 1);
  p.dc_fail = b(e, 3, 0);
  return p;
}

namespace {

class Fields {
 public:
  explicit Fields(const ElementBytes& e) : m_e(e) {}
  Fields& flag(std::string_view name, std::size_t byte, unsigned n) {
    m_out.push_back(Field{name, bit(m_e[byte], n)});
    return *this;
  }
  Fields& number(std::string_view name, std::int64_t v) {
    m_out.push_back(Field{name, v});
    return *this;
  }
  Fields& field(std::string_view name, std::size_t byte, unsigned lsb, unsigned width) {
    return number(name, bits(m_e[byte], lsb, width));
  }
  Fields& text(std::string_view name, std::string v) {
    m_out.push_back(Field{name, std::move(v)});
    return *this;
  }
  Fields& null(std::string_view name) {
    m_out.push_back(Field{name, std::monostate{}});
    return *this;
  }
  // IDENT (byte 1 bit 7) and FAIL (byte 1 bit 6), the common pair of most types.
  Fields& ident_fail() { return flag("ident", 1, 7).flag("fail", 1, 6); }
  std::vector<Field> take() { return std::move(m_out); }

 private:
  const ElementBytes& m_e;
  std::vector<Field> m_out;
};

std::string hex3(const ElementBytes& e) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02x %02x %02x", e[1], e[2], e[3]);
  return buf;
}

void slot_bytes_2_3(Fields& f) {
  f.flag("app_client_bypassed_a", 2, 7)
      .flag("do_not_remove", 2, 6)
      .flag("enclosure_bypassed_a", 2, 5)
      .flag("enclosure_bypassed_b", 2, 4)
      .flag("ready_to_insert", 2, 3)
      .flag("remove", 2, 2)
      .flag("ident", 2, 1)
      .flag("report", 2, 0)
      .flag("app_client_bypassed_b", 3, 7)
      .flag("fault_sensed", 3, 6)
      .flag("fault_requested", 3, 5)
      .flag("device_off", 3, 4)
      .flag("bypassed_a", 3, 3)
      .flag("bypassed_b", 3, 2)
      .flag("device_bypassed_a", 3, 1)
      .flag("device_bypassed_b", 3, 0);
}

std::int64_t nv_cache_bytes(const ElementBytes& e) {
  const std::int64_t size = (e[2] << 8) | e[3];
  static constexpr std::array<std::int64_t, 4> kUnit = {1, 1LL << 10, 1LL << 20, 1LL << 30};
  return size * kUnit[e[1] & 3];
}

}  // namespace

std::vector<Field> decode_element_fields(std::uint8_t element_type, const ElementBytes& e) {
  Fields f(e);
  switch (element_type) {
    case type_value(ElementType::DeviceSlot):
      f.number("slot_address", e[1]);
      slot_bytes_2_3(f);
      break;
    case type_value(ElementType::ArrayDeviceSlot):
      f.flag("ok", 1, 7)
          .flag("reserved_device", 1, 6)
          .flag("hot_spare", 1, 5)
          .flag("consistency_check", 1, 4)
          .flag("in_critical_array", 1, 3)
          .flag("in_failed_array", 1, 2)
          .flag("rebuild_remap", 1, 1)
          .flag("rebuild_remap_abort", 1, 0);
      slot_bytes_2_3(f);
      break;
    case type_value(ElementType::PowerSupply):
      f.flag("ident", 1, 7)
          .flag("do_not_remove", 1, 6)
          .flag("dc_overvoltage", 2, 3)
          .flag("dc_undervoltage", 2, 2)
          .flag("dc_overcurrent", 2, 1)
          .flag("hot_swap", 3, 7)
          .flag("fail", 3, 6)
          .flag("requested_on", 3, 5)
          .flag("off", 3, 4)
          .flag("overtemperature_failure", 3, 3)
          .flag("temperature_warning", 3, 2)
          .flag("ac_fail", 3, 1)
          .flag("dc_fail", 3, 0);
      break;
    case type_value(ElementType::Cooling): {
      const auto c = decode_cooling_status(e);
      f.flag("ident", 1, 7)
          .flag("do_not_remove", 1, 6)
          .number("actual_speed_rpm", c.actual_speed_rpm)
          .flag("hot_swap", 3, 7)
          .flag("fail", 3, 6)
          .flag("requested_on", 3, 5)
          .flag("off", 3, 4)
          .number("speed_code", c.speed_code)
          .text("speed", std::string(cooling_speed_name(c.speed_code)));
      break;
    }
    case type_value(ElementType::TemperatureSensor): {
      f.ident_fail();
      if (const auto t = temperature_from_byte(e[2])) {
        f.number("temperature_c", *t);
      } else {
        f.null("temperature_c");
      }
      f.flag("over_temperature_failure", 3, 3)
          .flag("over_temperature_warning", 3, 2)
          .flag("under_temperature_failure", 3, 1)
          .flag("under_temperature_warning", 3, 0);
      break;
    }
    case type_value(ElementType::Door):
      f.ident_fail().flag("open", 3, 1).flag("unlocked", 3, 0);
      break;
    case type_value(ElementType::AudibleAlarm):
      f.ident_fail()
          .flag("request_mute", 3, 7)
          .flag("muted", 3, 6)
          .flag("remind", 3, 4)
          .flag("tone_info", 3, 3)
          .flag("tone_non_critical", 3, 2)
          .flag("tone_critical", 3, 1)
          .flag("tone_unrecoverable", 3, 0);
      break;
    case type_value(ElementType::EscElectronics):
      f.ident_fail().flag("do_not_remove", 1, 5).flag("report", 2, 0).flag("hot_swap", 3, 7);
      break;
    case type_value(ElementType::SccElectronics):
      f.ident_fail().flag("report", 2, 0);
      break;
    case type_value(ElementType::NonvolatileCache):
      f.ident_fail()
          .field("size_multiplier", 1, 0, 2)
          .number("cache_size", (e[2] << 8) | e[3])
          .number("cache_size_bytes", nv_cache_bytes(e));
      break;
    case type_value(ElementType::InvalidOperationReason): {
      const auto invop_type = bits(e[1], 6, 2);
      f.number("invop_type", invop_type);
      if (invop_type == 0) {
        f.flag("page_not_supported", 1, 0);
      } else if (invop_type == 1) {
        // Page format error: the offending byte and bit of the control page.
        f.number("byte_offset", (e[2] << 8) | e[3]).field("bit_number", 1, 0, 3);
      } else {
        f.text("invop_data", hex3(e));
      }
      break;
    }
    case type_value(ElementType::UninterruptiblePowerSupply):
      f.number("battery_status_minutes", e[1])
          .flag("ac_low", 2, 7)
          .flag("ac_high", 2, 6)
          .flag("ac_quality", 2, 5)
          .flag("ac_fail", 2, 4)
          .flag("dc_fail", 2, 3)
          .flag("ups_fail", 2, 2)
          .flag("warning", 2, 1)
          .flag("interface_fail", 2, 0)
          .flag("ident", 3, 7)
          .flag("fail", 3, 6)
          .flag("do_not_remove", 3, 5)
          .flag("battery_fail", 3, 1)
          .flag("battery_predicted_failure", 3, 0);
      break;
    case type_value(ElementType::Display):
      f.ident_fail()
          .field("display_mode_status", 1, 0, 2)
          .number("display_character", (e[2] << 8) | e[3]);
      break;
    case type_value(ElementType::KeyPadEntry):
    case type_value(ElementType::SasExpander):
      f.ident_fail();
      break;
    case type_value(ElementType::Enclosure):
      f.flag("ident", 1, 7)
          .field("time_until_power_cycle_min", 2, 2, 6)
          .flag("failure_indication", 2, 1)
          .flag("warning_indication", 2, 0)
          .field("requested_power_off_duration_min", 3, 2, 6)
          .flag("failure_requested", 3, 1)
          .flag("warning_requested", 3, 0);
      break;
    case type_value(ElementType::ScsiPortTransceiver):
      f.ident_fail()
          .flag("report", 2, 0)
          .flag("port_disabled", 3, 4)
          .flag("loss_of_link", 3, 1)
          .flag("transmitter_failure", 3, 0);
      break;
    case type_value(ElementType::Language): {
      f.flag("ident", 1, 7);
      const bool printable = e[2] >= 0x20 && e[2] <= 0x7e && e[3] >= 0x20 && e[3] <= 0x7e;
      if (e[2] == 0 && e[3] == 0) {
        f.text("language_code", "");
      } else if (printable) {
        f.text("language_code", std::string{static_cast<char>(e[2]), static_cast<char>(e[3])});
      } else {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%02x%02x", e[2], e[3]);
        f.text("language_code", buf);
      }
      break;
    }
    case type_value(ElementType::CommunicationPort):
      f.ident_fail().flag("port_disabled", 3, 0);
      break;
    case type_value(ElementType::VoltageSensor):
      f.ident_fail()
          .flag("warning_over", 1, 3)
          .flag("warning_under", 1, 2)
          .flag("critical_over", 1, 1)
          .flag("critical_under", 1, 0)
          .number("voltage_mv", decode_voltage_status(e).millivolts);
      break;
    case type_value(ElementType::CurrentSensor):
      f.ident_fail()
          .flag("warning_over", 1, 3)
          .flag("critical_over", 1, 1)
          .number("current_ma", decode_current_status(e).milliamps);
      break;
    case type_value(ElementType::ScsiTargetPort):
    case type_value(ElementType::ScsiInitiatorPort):
      f.ident_fail().flag("report", 2, 0).flag("enabled", 3, 0);
      break;
    case type_value(ElementType::SimpleSubenclosure):
      f.ident_fail().number("short_enclosure_status", e[3]);
      break;
    case type_value(ElementType::SasConnector):
      f.flag("ident", 1, 7)
          .field("connector_type", 1, 0, 7)
          .number("connector_physical_link", e[2])
          .flag("mated", 3, 7)
          .flag("fail", 3, 6)
          .flag("overcurrent", 3, 5);
      break;
    default:  // Unspecified, reserved and vendor-specific types
      f.text("vendor_specific", hex3(e));
      break;
  }
  return f.take();
}

}  // namespace ucam::scsi::ses
