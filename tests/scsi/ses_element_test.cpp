// scsi/ses_element.h: the per-type status element decoders, and the control masks of ses.h.
#include "scsi/ses_element.h"

#include <gtest/gtest.h>

#include <set>

namespace ucam::scsi::ses {
namespace {

TEST(SesSlotStatus, DecodesEveryBitOfDeviceAndArraySlots) {
  auto s = decode_slot_status(0x01, ElementBytes{0x01, 0x07, 0x02, 0x20});
  EXPECT_FALSE(s.array);
  EXPECT_EQ(s.slot_address, 7);
  EXPECT_TRUE(s.ident);
  EXPECT_TRUE(s.fault_requested);
  EXPECT_FALSE(s.fault_sensed);
  s = decode_slot_status(0x17, ElementBytes{0x01, 0xa0, 0xc0, 0x40});
  EXPECT_TRUE(s.array);
  EXPECT_TRUE(s.ok);
  EXPECT_TRUE(s.hot_spare);
  EXPECT_FALSE(s.reserved_device);
  EXPECT_TRUE(s.app_client_bypassed_a);
  EXPECT_TRUE(s.do_not_remove);
  EXPECT_TRUE(s.fault_sensed);
  EXPECT_FALSE(s.ident);
  // One bit at a time: exactly one flag (or the slot address) changes.
  for (std::size_t byte = 1; byte < 4; ++byte) {
    for (unsigned n = 0; n < 8; ++n) {
      ElementBytes e{0x01, 0, 0, 0};
      e[byte] = static_cast<std::uint8_t>(1U << n);
      const auto fields = decode_element_fields(0x17, e);
      int set = 0;
      for (const auto& f : fields) {
        if (const auto* b = std::get_if<bool>(&f.value); b != nullptr && *b) {
          ++set;
        }
      }
      EXPECT_EQ(set, 1) << "byte " << byte << " bit " << n;
    }
  }
}

TEST(SesCoolingStatus, ComputesRpmFromElevenBitsAndNamesTheSpeedCode) {
  auto c = decode_cooling_status(ElementBytes{0x01, 0x02, 0xee, 0x07});  // Areca CPUFan
  EXPECT_EQ(c.actual_speed_rpm, 7500);
  EXPECT_EQ(c.speed_code, 7);
  EXPECT_EQ(cooling_speed_name(c.speed_code), "Fan at highest speed");
  // Reserved bits 5-3 of byte 1 are not part of the speed (sg_ses 1.46 counts them).
  c = decode_cooling_status(ElementBytes{0x01, 0xff, 0xff, 0x10});
  EXPECT_EQ(c.actual_speed_rpm, 20470);
  EXPECT_TRUE(c.ident);
  EXPECT_TRUE(c.do_not_remove);
  EXPECT_TRUE(c.off);
  EXPECT_EQ(cooling_speed_name(0), "Fan stopped");
  EXPECT_EQ(cooling_speed_name(4), "Fan at intermediate speed");
}

TEST(SesTemperatureStatus, OffsetsByTwentyAndTreatsZeroAsReserved) {
  EXPECT_EQ(decode_temperature_status(ElementBytes{1, 0, 0x2d, 0}).temperature_c, 25);
  EXPECT_EQ(decode_temperature_status(ElementBytes{1, 0, 0x01, 0}).temperature_c, -19);
  EXPECT_EQ(decode_temperature_status(ElementBytes{1, 0, 0xff, 0}).temperature_c, 235);
  EXPECT_FALSE(decode_temperature_status(ElementBytes{1, 0, 0x00, 0}).temperature_c.has_value());
  const auto t = decode_temperature_status(ElementBytes{1, 0xc0, 0x40, 0x0f});
  EXPECT_TRUE(t.ident && t.fail && t.over_temperature_failure && t.over_temperature_warning &&
              t.under_temperature_failure && t.under_temperature_warning);
  const auto fields = decode_element_fields(0x04, ElementBytes{0, 0, 0, 0});
  ASSERT_EQ(fields[2].name, "temperature_c");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(fields[2].value));
}

TEST(SesVoltageAndCurrentStatus, AreSignedTenthsOfHundredths) {
  EXPECT_EQ(decode_voltage_status(ElementBytes{1, 0, 0x04, 0xb0}).millivolts, 12000);
  EXPECT_EQ(decode_voltage_status(ElementBytes{1, 0, 0xff, 0xff}).millivolts, -10);
  EXPECT_EQ(decode_voltage_status(ElementBytes{1, 0, 0x80, 0x00}).millivolts, -327680);
  const auto v = decode_voltage_status(ElementBytes{1, 0x0f, 0, 0});
  EXPECT_TRUE(v.warning_over && v.warning_under && v.critical_over && v.critical_under);
  EXPECT_EQ(decode_current_status(ElementBytes{1, 0x0a, 0x01, 0x2c}).milliamps, 3000);
  EXPECT_TRUE(decode_current_status(ElementBytes{1, 0x0a, 0, 0}).warning_over);
  EXPECT_TRUE(decode_current_status(ElementBytes{1, 0x0a, 0, 0}).critical_over);
}

TEST(SesPowerSupplyStatus, DecodesEveryFlag) {
  const auto p = decode_power_supply_status(ElementBytes{1, 0xc0, 0x0e, 0xff});
  EXPECT_TRUE(p.ident && p.do_not_remove && p.dc_overvoltage && p.dc_undervoltage &&
              p.dc_overcurrent && p.hot_swap && p.fail && p.requested_on && p.off &&
              p.overtemperature_failure && p.temperature_warning && p.ac_fail && p.dc_fail);
  const auto none = decode_power_supply_status(ElementBytes{1, 0x3f, 0xf1, 0x00});
  EXPECT_FALSE(none.ident || none.do_not_remove || none.dc_overvoltage || none.dc_undervoltage ||
               none.dc_overcurrent);
}

TEST(SesElementFields, EveryTypeHasUniqueNamesThatDoNotShadowTheCommonKeys) {
  const std::set<std::string> reserved = {
      "global_index", "type_index",  "element_type", "type_name",     "index",
      "subenclosure", "status_code", "status",       "prdfail",       "disabled",
      "swap",         "raw",         "descriptor",   "sas_addresses", "device_slot_number"};
  for (int t = 0; t <= 0xff; ++t) {
    for (const ElementBytes e : {ElementBytes{0, 0, 0, 0}, ElementBytes{0x0f, 0xff, 0xff, 0xff},
                                 ElementBytes{1, 0x55, 0xaa, 0x5a}}) {
      const auto fields = decode_element_fields(static_cast<std::uint8_t>(t), e);
      ASSERT_FALSE(fields.empty()) << t;
      std::set<std::string> names;
      for (const auto& f : fields) {
        EXPECT_TRUE(names.insert(std::string(f.name)).second) << t << " " << f.name;
        EXPECT_EQ(reserved.count(std::string(f.name)), 0u) << t << " " << f.name;
      }
    }
  }
}

TEST(SesElementFields, VendorAndUnspecifiedTypesAreKeptRaw) {
  for (const std::uint8_t t : {0x00, 0x1a, 0x7f, 0x80, 0x9e, 0xff}) {
    const auto fields = decode_element_fields(t, ElementBytes{1, 0xde, 0xad, 0x01});
    ASSERT_EQ(fields.size(), 1u);
    EXPECT_EQ(fields[0], (Field{"vendor_specific", std::string("de ad 01")}));
  }
}

TEST(SesElementFields, DecodesTypeSpecificValues) {
  auto find = [](const std::vector<Field>& fields, std::string_view name) {
    for (const auto& f : fields) {
      if (f.name == name) {
        return f.value;
      }
    }
    ADD_FAILURE() << "no field " << name;
    return FieldValue{};
  };
  EXPECT_EQ(find(decode_element_fields(0x03, {1, 0x02, 0xee, 0x07}), "actual_speed_rpm"),
            FieldValue{std::int64_t{7500}});
  EXPECT_EQ(find(decode_element_fields(0x03, {1, 0x02, 0xee, 0x07}), "speed"),
            FieldValue{std::string("Fan at highest speed")});
  EXPECT_EQ(find(decode_element_fields(0x12, {1, 0, 0x00, 0xb4}), "voltage_mv"),
            FieldValue{std::int64_t{1800}});
  EXPECT_EQ(find(decode_element_fields(0x13, {1, 0, 0xff, 0xce}), "current_ma"),
            FieldValue{std::int64_t{-500}});
  EXPECT_EQ(find(decode_element_fields(0x09, {1, 0x02, 0x00, 0x04}), "cache_size_bytes"),
            FieldValue{std::int64_t{4LL << 20}});
  EXPECT_EQ(find(decode_element_fields(0x0b, {1, 30, 0x10, 0x21}), "battery_status_minutes"),
            FieldValue{std::int64_t{30}});
  EXPECT_EQ(find(decode_element_fields(0x0b, {1, 30, 0x10, 0x21}), "ac_fail"), FieldValue{true});
  EXPECT_EQ(find(decode_element_fields(0x0b, {1, 30, 0x10, 0x21}), "do_not_remove"),
            FieldValue{true});
  EXPECT_EQ(find(decode_element_fields(0x0e, {1, 0x80, 0x0e, 0x0d}), "time_until_power_cycle_min"),
            FieldValue{std::int64_t{3}});
  EXPECT_EQ(find(decode_element_fields(0x0e, {1, 0x80, 0x0e, 0x0d}), "failure_indication"),
            FieldValue{true});
  EXPECT_EQ(find(decode_element_fields(0x10, {1, 0, 'e', 'n'}), "language_code"),
            FieldValue{std::string("en")});
  EXPECT_EQ(find(decode_element_fields(0x19, {1, 0x85, 0xff, 0xa0}), "connector_type"),
            FieldValue{std::int64_t{5}});
  EXPECT_EQ(find(decode_element_fields(0x19, {1, 0x85, 0xff, 0xa0}), "overcurrent"),
            FieldValue{true});
  EXPECT_EQ(find(decode_element_fields(0x0a, {1, 0x41, 0x00, 0x09}), "byte_offset"),
            FieldValue{std::int64_t{9}});
  EXPECT_EQ(find(decode_element_fields(0x0a, {1, 0x01, 0x00, 0x00}), "page_not_supported"),
            FieldValue{true});
  EXPECT_EQ(find(decode_element_fields(0x16, {1, 0, 0, 0x5a}), "short_enclosure_status"),
            FieldValue{std::int64_t{0x5a}});
  EXPECT_EQ(find(decode_element_fields(0x0f, {1, 0, 0, 0x10}), "port_disabled"), FieldValue{true});
  EXPECT_EQ(find(decode_element_fields(0x06, {1, 0, 0, 0x48}), "muted"), FieldValue{true});
  EXPECT_EQ(find(decode_element_fields(0x06, {1, 0, 0, 0x48}), "tone_info"), FieldValue{true});
}

TEST(SesControlMask, OnlyKeepsBitsThatAreControlBitsInTheSamePlace) {
  // Spot checks against SES-4 7.3: status-only bits never reach a control element.
  EXPECT_EQ(control_mask(0x04), (ElementBytes{0x60, 0xc0, 0x00, 0x00}));  // OT/UT flags dropped
  EXPECT_EQ(control_mask(0x0e)[2], 0x00);  // TIME UNTIL POWER CYCLE never becomes a request
  EXPECT_EQ(control_mask(0x03)[3], 0x60);  // actual speed code is not a requested speed
  EXPECT_EQ(control_mask(0x9e), (ElementBytes{0x60, 0xff, 0xff, 0xff}));
  for (int t = 0; t <= 0xff; ++t) {
    const auto ctl = status_to_control(static_cast<std::uint8_t>(t), {0xff, 0xff, 0xff, 0xff});
    EXPECT_EQ(ctl[0] & (kSelect | kSwap | 0x0f), 0) << t;  // no SELECT, RST SWAP or reserved
  }
}

}  // namespace
}  // namespace ucam::scsi::ses
