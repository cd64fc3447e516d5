// scsi/safte.h: SAF-TE READ/WRITE BUFFER formats, built by hand from the SAF-TE R041 layouts
// (sg_safte has no file input, so there is no oracle), round trips, every truncation, the SES
// element mapping checked with scsi/ses_element.h's decoders, the control sequences, and one
// regression test per FreeBSD scsi_enc_safte.c bug we do not reproduce.
#include "scsi/safte.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "base/hex.h"
#include "scsi/ses_element.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi::safte {
namespace {

using Vec = std::vector<std::uint8_t>;

Vec hex(std::string_view text) {
  auto v = parse_hex(text);
  EXPECT_TRUE(v.has_value()) << text;
  return v ? *v : Vec{};
}

std::string hex_of(const Vec& v) {
  return hex_string(Bytes(v));
}

// ---- Fixtures -----------------------------------------------------------------------------------

// 2 fans, 2 PSUs, 4 slots, door lock, 3 temperature sensors, alarm, 2 thermostats, Fahrenheit.
Config full_config() {
  return Config{2, 2, 4, true, 3, true, 2, TemperatureUnit::Fahrenheit};
}

// Read Enclosure Status for full_config(), byte by byte.
constexpr std::string_view kFullStatusHex =
    "00 01"         // fans: operational, malfunctioning
    " 00 11"        // PSUs: operational and on, malfunctioning and off
    " 00 01 02 03"  // slot SCSI IDs
    " 00"           // door locked
    " 01"           // speaker on
    " 57 5a 0a"     // 87, 90, 10 raw: 77 F, 80 F, 0 F
    " 80 08";       // flags 0x8008: thermostat 0 (bit 3 = 3 sensors + 0) and the alert

// Read Device Slot Status for full_config().
constexpr std::string_view kFullSlotsHex =
    "01 00 00 05"    // slot 0: no error; installed, powered
    " 02 00 00 05"   // slot 1: faulty
    " 40 01 00 05"   // slot 2: predicted fault, hot spare
    " 00 00 00 02";  // slot 3: empty, ready for insertion, not powered

Snapshot full_snapshot() {
  Snapshot s;
  s.config = full_config();
  s.status = *parse_enclosure_status(hex(kFullStatusHex), s.config);
  s.slots = *parse_slot_status(hex(kFullSlotsHex), s.config);
  s.flags.global_warning = true;
  return s;
}

// INQUIRY data of a SAF-TE processor: 36 standard bytes, unique ID, channel, "SAF-TE", "R41 ".
Vec safte_inquiry() {
  Vec v(54, 0x20);
  v[0] = 0x03;  // processor
  v[1] = 0x00;
  v[2] = 0x02;
  v[3] = 0x02;
  v[4] = static_cast<std::uint8_t>(v.size() - 5);
  v[5] = v[6] = v[7] = 0;
  for (std::size_t i = 36; i < 44; ++i) {
    v[i] = static_cast<std::uint8_t>(i);  // unique ID and channel
  }
  std::memcpy(v.data() + 44, "SAF-TER41 ", 10);
  return v;
}

// ---- Detection ----------------------------------------------------------------------------------

TEST(SafteInquiry, RecognisesProcessorWithSignature) {
  const Vec full = safte_inquiry();
  EXPECT_TRUE(is_safte_inquiry(full));
  Vec exact(full.begin(), full.begin() + 50);
  exact[4] = 45;
  EXPECT_TRUE(is_safte_inquiry(exact));
}

TEST(SafteInquiry, RejectsOtherTypesSignaturesAndShortData) {
  Vec v = safte_inquiry();
  v[0] = 0x0d;  // enclosure services device: SES, not SAF-TE
  EXPECT_FALSE(is_safte_inquiry(v));
  v = safte_inquiry();
  v[0] = 0x00;
  EXPECT_FALSE(is_safte_inquiry(v));
  v = safte_inquiry();
  v[44] = 's';
  EXPECT_FALSE(is_safte_inquiry(v));
  v = safte_inquiry();
  v[4] = 44;  // the signature's last byte is past ADDITIONAL LENGTH
  EXPECT_FALSE(is_safte_inquiry(v));
}

TEST(SafteInquiry, EveryPrefixIsSafe) {
  // ADDITIONAL LENGTH stays 49 (the full data); only the bytes present decide.
  test::for_each_prefix(
      safte_inquiry(), [](Bytes b) { EXPECT_EQ(is_safte_inquiry(b), b.size() >= 50) << b.size(); });
}

// FreeBSD: `SAFTE_LEN - 2` expands without parentheses, so only "SAF-" is compared.
TEST(SafteRegression, FreeBsdComparesOnlyFourSignatureCharacters) {
  Vec v = safte_inquiry();
  std::memcpy(v.data() + 44, "SAF-XX", 6);
  EXPECT_FALSE(is_safte_inquiry(v));
  std::memcpy(v.data() + 44, "SAF-TE", 6);
  EXPECT_TRUE(is_safte_inquiry(v));
}

// ---- CDBs ---------------------------------------------------------------------------------------

TEST(SafteCdb, ReadBufferCarriesModeOneAndBufferId) {
  EXPECT_EQ(hex_string(read_cdb(Buffer::EnclosureConfiguration, 64).span()),
            "3c 01 00 00 00 00 00 00 40 00");
  EXPECT_EQ(hex_string(read_cdb(Buffer::EnclosureStatus, 15).span()),
            "3c 01 01 00 00 00 00 00 0f 00");
  EXPECT_EQ(hex_string(read_cdb(Buffer::UsageStatistics, 16).span()),
            "3c 01 02 00 00 00 00 00 10 00");
  EXPECT_EQ(hex_string(read_cdb(Buffer::DeviceInsertions, 8).span()),
            "3c 01 03 00 00 00 00 00 08 00");
  EXPECT_EQ(hex_string(read_cdb(Buffer::DeviceSlotStatus, 0x1234).span()),
            "3c 01 04 00 00 00 00 12 34 00");
  EXPECT_EQ(hex_string(read_cdb(Buffer::GlobalFlags, 16).span()), "3c 01 05 00 00 00 00 00 10 00");
}

TEST(SafteCdb, WriteBufferCarriesModeOneAndBufferZero) {
  EXPECT_EQ(hex_string(write_cdb(64).span()), "3b 01 00 00 00 00 00 00 40 00");
}

TEST(SafteCdb, TargetSideDecodesWhatTheBuildersSend) {
  for (std::uint8_t id = 0; id <= kLastBuffer; ++id) {
    auto c = parse_read_cdb(read_cdb(static_cast<Buffer>(id), 300).span());
    ASSERT_TRUE(c.has_value()) << c.error().message();
    EXPECT_EQ(static_cast<std::uint8_t>(c->buffer), id);
    EXPECT_EQ(c->allocation_length, 300U);
  }
  auto w = parse_write_cdb(write_cdb(16).span());
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, 16U);
}

TEST(SafteCdb, TargetSideRejectsOtherModesBuffersAndOffsetsWithFieldPointers) {
  auto pointer_of = [](const Vec& cdb, bool read) -> int {
    const Result<void> r = read ? Result<void>(parse_read_cdb(cdb).map([](auto&&) {}))
                                : Result<void>(parse_write_cdb(cdb).map([](auto&&) {}));
    if (r) {
      ADD_FAILURE() << "accepted " << hex_of(cdb);
      return -1;
    }
    EXPECT_EQ(r.error().sense(), (SenseCode{5, 0x24, 0})) << r.error().message();
    return cdb_field_pointer(r.error()).value_or(CdbFieldPointer{0xffff, {}}).byte;
  };
  EXPECT_EQ(pointer_of(hex("3c 02 00 00 00 00 00 00 40 00"), true), 1);
  EXPECT_EQ(pointer_of(hex("3c 01 06 00 00 00 00 00 40 00"), true), 2);
  EXPECT_EQ(pointer_of(hex("3c 01 01 00 00 04 00 00 40 00"), true), 3);
  EXPECT_EQ(pointer_of(hex("3b 05 00 00 00 00 00 00 40 00"), false), 1);
  EXPECT_EQ(pointer_of(hex("3b 01 01 00 00 00 00 00 40 00"), false), 2);
  EXPECT_EQ(pointer_of(hex("3b 01 00 00 01 00 00 00 40 00"), false), 3);
  // Another command altogether: INVALID COMMAND OPERATION CODE.
  EXPECT_EQ(parse_read_cdb(hex("3b 01 00 00 00 00 00 00 40 00")).error().sense(),
            (SenseCode{5, 0x20, 0}));
  test::for_each_prefix(read_cdb(Buffer::GlobalFlags, 16).span(), [](Bytes b) {
    EXPECT_EQ(parse_read_cdb(b).has_value(), b.size() == 10);
    EXPECT_FALSE(parse_write_cdb(b).has_value());
  });
}

TEST(SafteCdb, BufferLengthsFollowTheConfiguration) {
  const Config c = full_config();
  EXPECT_EQ(buffer_length(Buffer::EnclosureConfiguration, c), 64);
  EXPECT_EQ(buffer_length(Buffer::EnclosureStatus, c), 15);
  EXPECT_EQ(buffer_length(Buffer::UsageStatistics, c), 16);
  EXPECT_EQ(buffer_length(Buffer::DeviceInsertions, c), 8);
  EXPECT_EQ(buffer_length(Buffer::DeviceSlotStatus, c), 16);
  EXPECT_EQ(buffer_length(Buffer::GlobalFlags, c), 16);
  const Config big{255, 255, 255, true, 255, true, 15, TemperatureUnit::Celsius};
  EXPECT_EQ(buffer_length(Buffer::EnclosureStatus, big), 1024);
  EXPECT_EQ(buffer_name(0x04), "Read Device Slot Status");
  EXPECT_EQ(buffer_name(0x42), "<Buffer 0x42>");
}

// ---- Configuration ------------------------------------------------------------------------------

TEST(SafteConfig, DecodesKnownVector) {
  Vec v(64, 0);
  const Vec head = hex("02 02 04 01 03 01 82");
  std::copy(head.begin(), head.end(), v.begin());
  v[63] = 0x11;  // vendor-specific: ignored
  auto c = parse_config(v);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->fans, 2);
  EXPECT_EQ(c->power_supplies, 2);
  EXPECT_EQ(c->device_slots, 4);
  EXPECT_TRUE(c->door_lock);
  EXPECT_EQ(c->temperature_sensors, 3);
  EXPECT_TRUE(c->audible_alarm);
  EXPECT_EQ(c->thermostats, 2);
  EXPECT_EQ(c->temperature_unit, TemperatureUnit::Celsius);
}

TEST(SafteConfig, ThermostatByteIsOptional) {
  auto c = parse_config(hex("01 00 08 00 02 00"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->thermostats, 0);
  EXPECT_EQ(c->temperature_unit, TemperatureUnit::Fahrenheit);
  EXPECT_FALSE(c->door_lock);
  EXPECT_FALSE(c->audible_alarm);
}

TEST(SafteConfig, EveryTruncationBelowSixBytesFails) {
  const auto full = encode_config(full_config());
  ASSERT_TRUE(full.has_value());
  test::for_each_prefix(*full, [](Bytes b) {
    auto c = parse_config(b);
    EXPECT_EQ(c.has_value(), b.size() >= 6);
    if (!c) {
      EXPECT_NE(c.error().message().find("enclosure configuration truncated"), std::string::npos)
          << c.error().message();
    }
  });
}

TEST(SafteConfig, RoundTripsAndRejectsSixteenThermostats) {
  const Config c = full_config();
  auto bytes = encode_config(c);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(hex_string(Bytes(*bytes).first(8)), "02 02 04 01 03 01 02 00");
  EXPECT_EQ(*parse_config(*bytes), c);
  Config celsius = c;
  celsius.temperature_unit = TemperatureUnit::Celsius;
  EXPECT_EQ((*encode_config(celsius))[6], 0x82);
  EXPECT_EQ(*parse_config(*encode_config(celsius)), celsius);
  Config bad = c;
  bad.thermostats = 16;
  EXPECT_FALSE(encode_config(bad).has_value());
}

// FreeBSD builds DoorLock elements per unit of byte 3 and counts byte 5 into nelms, yet fills
// one status each. Both bytes are "installed" flags: one element at most.
TEST(SafteConfig, DoorAndAlarmBytesAreFlagsNotCounts) {
  auto c = parse_config(hex("00 00 00 02 00 03 00"));
  ASSERT_TRUE(c.has_value());
  const auto map = element_map(*c, SlotElements::ArrayDeviceSlot);
  ASSERT_EQ(map.size(), 3U);  // door, alarm, temperature alert
  EXPECT_EQ(map[0].kind, ElementKind::DoorLock);
  EXPECT_EQ(map[1].kind, ElementKind::Alarm);
  EXPECT_EQ(map[2].kind, ElementKind::TemperatureAlert);
}

// ---- Temperatures -------------------------------------------------------------------------------

TEST(SafteTemperature, RawIsDegreesPlusTenInTheConfiguredUnit) {
  EXPECT_EQ(temperature_degrees(0), -10);
  EXPECT_EQ(temperature_degrees(255), 245);
  EXPECT_DOUBLE_EQ(temperature_celsius(87, TemperatureUnit::Fahrenheit), 25.0);  // 77 F
  EXPECT_DOUBLE_EQ(temperature_celsius(42, TemperatureUnit::Fahrenheit), 0.0);   // 32 F
  EXPECT_DOUBLE_EQ(temperature_celsius(35, TemperatureUnit::Celsius), 25.0);
  EXPECT_DOUBLE_EQ(temperature_celsius(0, TemperatureUnit::Celsius), -10.0);
}

TEST(SafteTemperature, SesByteIsCelsiusPlusTwentyClamped) {
  EXPECT_EQ(temperature_ses_byte(87, TemperatureUnit::Fahrenheit), 45);
  EXPECT_EQ(temperature_ses_byte(90, TemperatureUnit::Fahrenheit), 47);  // 26.7 C rounds to 27
  EXPECT_EQ(temperature_ses_byte(10, TemperatureUnit::Fahrenheit), 2);   // 0 F = -17.8 C
  EXPECT_EQ(temperature_ses_byte(0, TemperatureUnit::Fahrenheit), 1);    // -23.3 C: clamped
  EXPECT_EQ(temperature_ses_byte(35, TemperatureUnit::Celsius), 45);
  EXPECT_EQ(temperature_ses_byte(0, TemperatureUnit::Celsius), 10);
  EXPECT_EQ(temperature_ses_byte(255, TemperatureUnit::Celsius), 255);  // 245 C: clamped
  EXPECT_EQ(ses::temperature_from_byte(temperature_ses_byte(87, TemperatureUnit::Fahrenheit)), 25);
}

TEST(SafteTemperature, RawFromCelsiusInvertsAndClamps) {
  for (int raw = 0; raw <= 255; ++raw) {
    for (auto unit : {TemperatureUnit::Fahrenheit, TemperatureUnit::Celsius}) {
      const auto r = static_cast<std::uint8_t>(raw);
      EXPECT_EQ(temperature_raw(temperature_celsius(r, unit), unit), r);
    }
  }
  EXPECT_EQ(temperature_raw(-100.0, TemperatureUnit::Celsius), 0);
  EXPECT_EQ(temperature_raw(1e300, TemperatureUnit::Fahrenheit), 255);
  EXPECT_EQ(temperature_raw(std::nan(""), TemperatureUnit::Celsius), 0);
  // Halves round away from zero (raw = degrees + 10); just below a half rounds down.
  EXPECT_EQ(temperature_raw(25.5, TemperatureUnit::Celsius), 36);
  EXPECT_EQ(temperature_raw(25.499999, TemperatureUnit::Celsius), 35);
  EXPECT_EQ(temperature_raw(-9.5, TemperatureUnit::Celsius), 1);  // degrees 0.5
  EXPECT_EQ(temperature_raw(std::nextafter(-9.5, 0.0), TemperatureUnit::Celsius), 1);
  EXPECT_EQ(temperature_raw(-9.51, TemperatureUnit::Celsius), 0);
}

// ---- Enclosure status ---------------------------------------------------------------------------

TEST(SafteEnclosureStatus, DecodesKnownVector) {
  auto s = parse_enclosure_status(hex(kFullStatusHex), full_config());
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->fans, (std::vector<FanStatus>{FanStatus::Operational, FanStatus::Malfunctioning}));
  EXPECT_EQ(s->power_supplies,
            (std::vector<PowerSupplyStatus>{PowerSupplyStatus::OperationalOn,
                                            PowerSupplyStatus::MalfunctioningOff}));
  EXPECT_EQ(s->slot_scsi_ids, (Vec{0, 1, 2, 3}));
  EXPECT_EQ(s->door_lock, DoorLockStatus::Locked);
  EXPECT_EQ(s->speaker, SpeakerStatus::On);
  EXPECT_EQ(s->temperatures, (Vec{0x57, 0x5a, 0x0a}));
  EXPECT_EQ(s->temperature_flags, 0x8008);
  EXPECT_TRUE(s->temperature_alert());
  EXPECT_TRUE(s->out_of_range(3));
  EXPECT_FALSE(s->out_of_range(0));
  EXPECT_FALSE(s->out_of_range(15));  // the alert is not a sensor
  EXPECT_FALSE(s->out_of_range(40));
}

TEST(SafteEnclosureStatus, KeepsUndefinedStatusValues) {
  const Config c{1, 1, 0, false, 0, false, 0, TemperatureUnit::Fahrenheit};
  auto s = parse_enclosure_status(hex("07 33 05 09 00 00"), c);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(static_cast<std::uint8_t>(s->fans[0]), 0x07);
  EXPECT_EQ(static_cast<std::uint8_t>(s->power_supplies[0]), 0x33);
  EXPECT_EQ(static_cast<std::uint8_t>(s->door_lock), 0x05);
  EXPECT_EQ(*encode_enclosure_status(*s, c), hex("07 33 05 09 00 00"));
}

TEST(SafteEnclosureStatus, EveryTruncationFailsAndExtraBytesAreIgnored) {
  const Vec v = hex(kFullStatusHex);
  test::for_each_prefix(v, [&](Bytes b) {
    auto s = parse_enclosure_status(b, full_config());
    EXPECT_EQ(s.has_value(), b.size() == v.size());
    if (!s) {
      EXPECT_NE(s.error().message().find("of 15 bytes"), std::string::npos) << s.error().message();
    }
  });
  Vec longer = v;
  longer.push_back(0xee);  // vendor-specific
  EXPECT_EQ(*parse_enclosure_status(longer, full_config()),
            *parse_enclosure_status(v, full_config()));
}

TEST(SafteEnclosureStatus, RoundTripsAndChecksCounts) {
  const Vec v = hex(kFullStatusHex);
  const auto s = *parse_enclosure_status(v, full_config());
  auto bytes = encode_enclosure_status(s, full_config());
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(*bytes, v);
  auto bad = s;
  bad.temperatures.pop_back();
  auto e = encode_enclosure_status(bad, full_config());
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message().find("2 temperatures, configuration has 3"), std::string::npos)
      << e.error().message();
}

// FreeBSD assembles the word as `t = hi; t |= (t << 8) | lo`, which leaves the high byte in bits
// 7-0 too: "01 02" flags sensors 0, 1 and 8 instead of 1 and 8, "80 00" flags sensor 7.
TEST(SafteRegression, FreeBsdTemperatureFlagWordIsHighByteFirst) {
  const Config c{0, 0, 0, false, 9, false, 0, TemperatureUnit::Fahrenheit};
  auto s = parse_enclosure_status(hex("00 00  00 00 00 00 00 00 00 00 00  01 02"), c);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->temperature_flags, 0x0102);
  EXPECT_FALSE(s->out_of_range(0));
  EXPECT_TRUE(s->out_of_range(1));
  EXPECT_TRUE(s->out_of_range(8));
  s = parse_enclosure_status(hex("00 00  00 00 00 00 00 00 00 00 00  80 00"), c);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->temperature_alert());
  EXPECT_FALSE(s->out_of_range(7));
  Snapshot snap;
  snap.config = c;
  snap.status = *s;
  auto view = ses_view(snap, SlotElements::ArrayDeviceSlot);
  ASSERT_TRUE(view.has_value());
  for (std::size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(ses::status_code(view->elements[i].status), 1) << "sensor " << i;
  }
  EXPECT_EQ(ses::status_code(view->elements[9].status), 2);  // the alert
}

// ---- Usage statistics, insertions, slot status, global flags ------------------------------------

TEST(SafteUsageStatistics, DecodesRoundTripsAndRejectsTruncation) {
  const Vec v = hex("00 01 02 03 00 00 01 00 00 00 00 00 00 00 00 00");
  auto u = parse_usage_statistics(v);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->power_on_minutes, 0x00010203U);
  EXPECT_EQ(u->power_cycles, 256U);
  const auto bytes = encode_usage_statistics(*u);
  EXPECT_EQ(Vec(bytes.begin(), bytes.end()), v);
  test::for_each_prefix(
      v, [](Bytes b) { EXPECT_EQ(parse_usage_statistics(b).has_value(), b.size() >= 8); });
}

TEST(SafteDeviceInsertions, DecodesBigEndianCountsPerSlot) {
  const Vec v = hex("00 01 01 00 ff ff 00 00");
  auto counts = parse_device_insertions(v, full_config());
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(*counts, (std::vector<std::uint16_t>{1, 256, 65535, 0}));
  EXPECT_EQ(*encode_device_insertions(*counts, full_config()), v);
  EXPECT_FALSE(encode_device_insertions(std::vector<std::uint16_t>{1}, full_config()));
  test::for_each_prefix(v, [&](Bytes b) {
    EXPECT_EQ(parse_device_insertions(b, full_config()).has_value(), b.size() == 8);
  });
}

TEST(SafteSlotStatus, DecodesKnownVector) {
  auto slots = parse_slot_status(hex(kFullSlotsHex), full_config());
  ASSERT_TRUE(slots.has_value());
  ASSERT_EQ(slots->size(), 4U);
  EXPECT_TRUE((*slots)[0].array.no_error);
  EXPECT_TRUE((*slots)[0].installed);
  EXPECT_TRUE((*slots)[0].powered);
  EXPECT_FALSE((*slots)[0].ready_for_insertion_removal);
  EXPECT_TRUE((*slots)[1].array.faulty);
  EXPECT_TRUE((*slots)[2].array.predicted_fault);
  EXPECT_TRUE((*slots)[2].array.hot_spare);
  EXPECT_FALSE((*slots)[3].installed);
  EXPECT_TRUE((*slots)[3].ready_for_insertion_removal);
  EXPECT_FALSE((*slots)[3].powered);
}

TEST(SafteSlotStatus, ArrayBitsRoundTrip) {
  for (unsigned b0 = 0; b0 < 256; ++b0) {
    for (unsigned b1 = 0; b1 < 4; ++b1) {
      const auto a =
          ArrayState::from_bytes(static_cast<std::uint8_t>(b0), static_cast<std::uint8_t>(b1));
      EXPECT_EQ(a.byte0(), b0);
      EXPECT_EQ(a.byte1(), b1);
    }
  }
  EXPECT_EQ(ArrayState::from_bytes(0x04, 0x02).rebuilding, true);
  EXPECT_EQ(ArrayState::from_bytes(0x04, 0x02).rebuild_stopped, true);
  EXPECT_EQ(ArrayState::from_bytes(0x80, 0).not_configured, true);
}

TEST(SafteSlotStatus, RoundTripsAndRejectsTruncation) {
  const Vec v = hex(kFullSlotsHex);
  const auto slots = *parse_slot_status(v, full_config());
  EXPECT_EQ(*encode_slot_status(slots, full_config()), v);
  EXPECT_FALSE(encode_slot_status(std::span(slots).first(3), full_config()).has_value());
  test::for_each_prefix(v, [&](Bytes b) {
    auto s = parse_slot_status(b, full_config());
    EXPECT_EQ(s.has_value(), b.size() == v.size());
    if (!s) {
      EXPECT_NE(s.error().message().find("device slot status truncated"), std::string::npos);
    }
  });
}

TEST(SafteGlobalFlags, DecodesEveryNamedBit) {
  auto g = parse_global_flags(hex("ff 0f 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->audible_alarm && g->global_failure && g->global_warning &&
              g->enclosure_power_off && g->fan_failure && g->power_supply_failure &&
              g->drive_failure && g->drive_warning);
  EXPECT_TRUE(g->array_failure && g->array_warning && g->lock_door && g->identify_enclosure);
  const GlobalFlags one_each = GlobalFlags::from_bytes(0x01, 0x04);
  EXPECT_TRUE(one_each.audible_alarm);
  EXPECT_FALSE(one_each.array_failure);
  EXPECT_TRUE(one_each.lock_door);
  for (unsigned f1 = 0; f1 < 256; ++f1) {
    for (unsigned f2 = 0; f2 < 16; ++f2) {
      const auto flags =
          GlobalFlags::from_bytes(static_cast<std::uint8_t>(f1), static_cast<std::uint8_t>(f2));
      EXPECT_EQ(flags.flag1(), f1);
      EXPECT_EQ(flags.flag2(), f2);
    }
  }
}

// The Read Global Flags buffer has flag 1 in byte 0 (sg_safte, OpenBSD safte(4)); FreeBSD reads
// bytes 1 and 2, the Send Global Flags layout, where byte 0 is the command code.
TEST(SafteGlobalFlags, ReadBufferStartsAtByteZeroUnlikeSendGlobalFlags) {
  GlobalFlags g;
  g.global_failure = true;
  g.lock_door = true;
  const auto read = encode_global_flags(g);
  EXPECT_EQ(hex_string(read), "02 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
  EXPECT_EQ(*parse_global_flags(read), g);
  EXPECT_EQ(hex_of(*encode_write_command(g)), "15 02 04 00 00 00 00 00 00 00 00 00 00 00 00 00");
  test::for_each_prefix(
      read, [](Bytes b) { EXPECT_EQ(parse_global_flags(b).has_value(), b.size() >= 2); });
}

// ---- WRITE BUFFER commands ----------------------------------------------------------------------

std::vector<WriteCommand> sample_commands() {
  WriteSlotStatus w;
  w.slots = {ArrayState::from_bytes(0x01, 0), ArrayState::from_bytes(0x42, 0x01),
             ArrayState::from_bytes(0x1c, 0x02)};
  GlobalFlags g;
  g.audible_alarm = true;
  g.fan_failure = true;
  g.array_warning = true;
  return {w,
          SlotOperation{3, false, true, false},
          SlotOperation{1, false, false, true},
          SetFanSpeed{2, 4},
          ActivatePowerSupply{1, Power::On},
          g};
}

TEST(SafteWriteCommand, EncodesKnownVectors) {
  const auto cmds = sample_commands();
  const std::string zeros12 = " 00 00 00 00 00 00 00 00 00 00 00 00 00";
  EXPECT_EQ(hex_of(*encode_write_command(cmds[0])), "10 01 00 00 42 01 00 1c 02 00");
  const auto op = *encode_write_command(cmds[1]);
  ASSERT_EQ(op.size(), 64U);
  EXPECT_EQ(hex_string(Bytes(op).first(4)), "12 03 02 00");
  EXPECT_TRUE(std::all_of(op.begin() + 3, op.end(), [](std::uint8_t b) { return b == 0; }));
  EXPECT_EQ(hex_string(Bytes(*encode_write_command(cmds[2])).first(3)), "12 01 04");
  EXPECT_EQ(hex_of(*encode_write_command(cmds[3])), "13 02 04" + zeros12);
  EXPECT_EQ(hex_of(*encode_write_command(cmds[4])), "14 01 01" + zeros12);
  EXPECT_EQ(hex_of(*encode_write_command(cmds[5])), "15 11 02" + zeros12);
  EXPECT_EQ(command_code(cmds[3]), WriteCommandCode::SetFanSpeed);
}

TEST(SafteWriteCommand, RoundTripsThroughTheEmulatorDecoder) {
  for (const auto& c : sample_commands()) {
    auto bytes = encode_write_command(c);
    ASSERT_TRUE(bytes.has_value());
    auto back = parse_write_command(*bytes);
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(*back, c);
  }
  // No slots at all is a well-formed (if useless) Write Device Slot Status.
  EXPECT_EQ(*parse_write_command(hex("10")), WriteCommand{WriteSlotStatus{}});
}

TEST(SafteWriteCommand, EveryTruncationFails) {
  for (const auto& c : sample_commands()) {
    const auto bytes = *encode_write_command(c);
    const bool slot_status = std::holds_alternative<WriteSlotStatus>(c);
    test::for_each_prefix(bytes, [&](Bytes b) {
      auto p = parse_write_command(b);
      // A prefix of a slot status list of 1 + 3k bytes is a shorter, valid list.
      const bool valid =
          b.size() == bytes.size() || (slot_status && (b.size() - 1) % 3 == 0 && !b.empty());
      EXPECT_EQ(p.has_value(), valid) << hex_string(b);
      if (!p) {
        EXPECT_EQ(p.error().sense(), (SenseCode{5, 0x1a, 0})) << p.error().message();
      }
    });
  }
}

TEST(SafteWriteCommand, RejectsBadFieldsAndUnknownCodes) {
  const std::string zeros12 = " 00 00 00 00 00 00 00 00 00 00 00 00 00";
  auto invalid_field = [](const Vec& p) {
    auto r = parse_write_command(p);
    return !r && r.error().sense() == SenseCode{5, 0x26, 0};
  };
  EXPECT_TRUE(invalid_field(hex("13 00 05" + zeros12)));  // speed above 4
  EXPECT_TRUE(invalid_field(hex("14 00 02" + zeros12)));  // neither on nor off
  Vec op(64, 0);
  op[0] = 0x12;
  op[2] = 0x08;
  EXPECT_TRUE(invalid_field(op));
  EXPECT_TRUE(invalid_field(hex("11 00 00" + zeros12)));  // Set SCSI ID: not modelled
  EXPECT_TRUE(invalid_field(hex("16 00 00" + zeros12)));
  EXPECT_FALSE(encode_write_command(SetFanSpeed{0, 5}).has_value());
  WriteSlotStatus too_many;
  too_many.slots.resize(256);
  EXPECT_FALSE(encode_write_command(too_many).has_value());
  // The decoder refuses what the encoder cannot write back (found by safte_fuzz): 255 slots
  // decode, 256 are a length error.
  too_many.slots.resize(255);
  const auto most = *encode_write_command(too_many);
  EXPECT_EQ(parse_write_command(most), WriteCommand{too_many});
  Vec over = most;
  over.insert(over.end(), {0, 0, 0});
  const auto refused = parse_write_command(over);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().sense(), (SenseCode{5, 0x1a, 0})) << refused.error().message();
  // One byte too many is a length error too.
  EXPECT_FALSE(parse_write_command(hex("15 00 00" + zeros12 + " 00")).has_value());
}

TEST(SafteParsers, RandomBuffersNeverCrash) {
  const Config c = full_config();
  test::for_random_buffers(2000, 80, [&](Bytes b) {
    (void)is_safte_inquiry(b);
    (void)parse_config(b);
    (void)parse_enclosure_status(b, c);
    (void)parse_usage_statistics(b);
    (void)parse_device_insertions(b, c);
    (void)parse_slot_status(b, c);
    (void)parse_global_flags(b);
    (void)parse_write_command(b);
    (void)parse_read_cdb(b);
    (void)parse_write_cdb(b);
    if (auto cfg = parse_config(b); cfg && b.size() > 8) {
      Snapshot s;
      s.config = *cfg;
      s.config.device_slots = 0;
      s.config.temperature_sensors = b[7] % 4;
      s.config.fans = b[8] % 3;
      s.config.power_supplies = 0;
      auto st = parse_enclosure_status(b.subspan(8), s.config);
      if (st) {
        s.status = *st;
        auto view = ses_view(s, SlotElements::DeviceSlot);
        ASSERT_TRUE(view.has_value());
        for (std::size_t i = 0; i < view->elements.size(); ++i) {
          (void)control_commands(s, SlotElements::DeviceSlot, i, {0xff, b[0], b[1], b[2]});
        }
      }
    }
  });
}

// ---- SES element model --------------------------------------------------------------------------

TEST(SafteElementMap, FollowsFreeBsdOrder) {
  const auto map = element_map(full_config(), SlotElements::ArrayDeviceSlot);
  using K = ElementKind;
  const std::vector<std::pair<K, int>> want = {{K::Fan, 0},
                                               {K::Fan, 1},
                                               {K::PowerSupply, 0},
                                               {K::PowerSupply, 1},
                                               {K::DoorLock, 0},
                                               {K::Alarm, 0},
                                               {K::TemperatureSensor, 0},
                                               {K::TemperatureSensor, 1},
                                               {K::TemperatureSensor, 2},
                                               {K::Thermostat, 0},
                                               {K::Thermostat, 1},
                                               {K::TemperatureAlert, 0},
                                               {K::Slot, 0},
                                               {K::Slot, 1},
                                               {K::Slot, 2},
                                               {K::Slot, 3}};
  ASSERT_EQ(map.size(), want.size());
  for (std::size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(map[i].kind, want[i].first) << i;
    EXPECT_EQ(map[i].index, want[i].second) << i;
  }
  const std::vector<std::uint8_t> types = {3, 3, 2, 2, 5,    6,    4,    4,
                                           4, 4, 4, 4, 0x17, 0x17, 0x17, 0x17};
  for (std::size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(ses::type_value(map[i].type), types[i]) << i;
  }
  const auto plain = element_map(full_config(), SlotElements::DeviceSlot);
  EXPECT_EQ(plain.back().type, ses::ElementType::DeviceSlot);
  // Nothing installed: only the temperature alert pseudo sensor.
  const auto empty = element_map(Config{}, SlotElements::ArrayDeviceSlot);
  ASSERT_EQ(empty.size(), 1U);
  EXPECT_EQ(empty[0].kind, ElementKind::TemperatureAlert);
}

TEST(SafteSesView, MapsEveryElementOfAFullEnclosure) {
  auto view = ses_view(full_snapshot(), SlotElements::ArrayDeviceSlot);
  ASSERT_TRUE(view.has_value()) << view.error().message();
  const std::vector<std::string> want = {
      "01 00 00 27",  // fan 0: OK, RQSTED ON, speed code 7
      "02 00 00 10",  // fan 1: malfunctioning -> CRIT, OFF
      "01 00 00 20",  // PSU 0: on
      "03 00 00 51",  // PSU 1: malfunctioning and off -> NONCRIT, FAIL, OFF, DC FAIL
      "01 00 00 00",  // door locked
      "01 00 00 04",  // alarm on, global warning -> tone NON-CRIT
      "01 00 2d 00",  // 77 F = 25 C
      "01 00 2f 00",  // 80 F = 26.7 C -> 27 C
      "01 00 02 00",  // 0 F = -17.8 C -> -18 C
      "02 00 00 08",  // thermostat 0: bit 3 -> CRIT, OT FAILURE
      "01 00 00 00",  // thermostat 1
      "02 00 00 08",  // temperature alert (bit 15)
      "01 80 00 00",  // slot 0: OK, array OK
      "02 00 00 20",  // slot 1: faulty -> CRIT, FAULT REQSTD
      "43 20 00 00",  // slot 2: PRDFAIL, NONCRIT, HOT SPARE
      "05 00 08 10",  // slot 3: empty, INSERT READY, DEVICE OFF
  };
  ASSERT_EQ(view->elements.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(hex_string(view->elements[i].status), want[i]) << "element " << i;
  }
  // Malfunctioning fan with a second fan and thermometers, PSU malfunction, slot predicted
  // fault, global warning: NON-CRIT; thermostat, alert and faulty slot: CRIT.
  EXPECT_EQ(view->enclosure_status, ses::kEnclosureCritical | ses::kEnclosureNonCritical);
  // Independent decode with scsi/ses_element.h.
  const auto fan = ses::decode_cooling_status(view->elements[0].status);
  EXPECT_TRUE(fan.requested_on);
  EXPECT_EQ(fan.speed_code, 7);
  const auto psu = ses::decode_power_supply_status(view->elements[3].status);
  EXPECT_TRUE(psu.fail && psu.off && psu.dc_fail);
  EXPECT_EQ(ses::decode_temperature_status(view->elements[6].status).temperature_c, 25);
  EXPECT_TRUE(ses::decode_temperature_status(view->elements[9].status).over_temperature_failure);
  const auto slot1 = ses::decode_slot_status(0x17, view->elements[13].status);
  EXPECT_TRUE(slot1.fault_requested);
  const auto slot2 = ses::decode_slot_status(0x17, view->elements[14].status);
  EXPECT_TRUE(slot2.hot_spare);
  EXPECT_TRUE(ses::prdfail(view->elements[14].status));
  const auto slot3 = ses::decode_slot_status(0x17, view->elements[15].status);
  EXPECT_TRUE(slot3.ready_to_insert);
  EXPECT_TRUE(slot3.device_off);
}

TEST(SafteSesView, DeviceSlotsCarryTheScsiIdAndIdentify) {
  Snapshot s = full_snapshot();
  s.slot_identify = {false, false, true, false};
  auto view = ses_view(s, SlotElements::DeviceSlot);
  ASSERT_TRUE(view.has_value());
  for (std::size_t i = 0; i < 4; ++i) {
    const auto slot = ses::decode_slot_status(0x01, view->elements[12 + i].status);
    EXPECT_EQ(slot.slot_address, i);
    EXPECT_EQ(slot.ident, i == 2);
  }
}

TEST(SafteSesView, FanAndPowerSupplyStatesAndFailureFlags) {
  Snapshot s;
  s.config = Config{4, 7, 0, false, 0, false, 0, TemperatureUnit::Fahrenheit};
  s.status.fans = {FanStatus::Operational, FanStatus::NotInstalled, FanStatus::Unknown,
                   static_cast<FanStatus>(0x33)};
  s.status.power_supplies = {PowerSupplyStatus::OperationalOn,    PowerSupplyStatus::OperationalOff,
                             PowerSupplyStatus::MalfunctioningOn, PowerSupplyStatus::NotPresent,
                             PowerSupplyStatus::Present,          PowerSupplyStatus::Unknown,
                             static_cast<PowerSupplyStatus>(0x44)};
  s.fan_speeds = {2, 0, 0, 0};
  s.flags.fan_failure = true;
  s.flags.power_supply_failure = true;
  auto view = ses_view(s, SlotElements::ArrayDeviceSlot);
  ASSERT_TRUE(view.has_value());
  const std::vector<std::string> want = {
      "01 00 00 63",  // operational, speed 2 -> code 3, FAIL from the flag
      "05 00 00 50",  // not installed: OFF
      "06 00 00 40",  // unknown
      "00 00 00 40",  // undefined -> unsupported
      "01 00 00 60", "01 00 00 50", "02 00 00 61", "05 00 00 40",
      "06 00 00 40", "06 00 00 40", "06 00 00 40",
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(hex_string(view->elements[i].status), want[i]) << "element " << i;
  }
  // Missing fan with others present: NON-CRIT; unknowns and PSU off/absent: INFO.
  EXPECT_EQ(view->enclosure_status, ses::kEnclosureNonCritical | ses::kEnclosureInfo);
  // A fan turned off (speed 0) by the driver.
  s.fan_speeds = {0, 0, 0, 0};
  EXPECT_EQ(hex_string(ses_view(s, SlotElements::ArrayDeviceSlot)->elements[0].status),
            "01 00 00 50");
}

TEST(SafteSesView, EnclosureStatusRulesForFans) {
  Snapshot s;
  s.config = Config{1, 0, 0, false, 0, false, 0, TemperatureUnit::Fahrenheit};
  s.status.fans = {FanStatus::Malfunctioning};
  EXPECT_EQ(ses_view(s, SlotElements::ArrayDeviceSlot)->enclosure_status, ses::kEnclosureCritical);
  s.config.fans = 2;
  s.config.temperature_sensors = 1;
  s.status.temperatures = {100};
  s.status.fans = {FanStatus::Malfunctioning, FanStatus::Operational};
  EXPECT_EQ(ses_view(s, SlotElements::ArrayDeviceSlot)->enclosure_status,
            ses::kEnclosureNonCritical);
  // No operational fan at all is critical, whatever else is known.
  s.status.fans = {FanStatus::Malfunctioning, FanStatus::NotInstalled};
  EXPECT_NE(ses_view(s, SlotElements::ArrayDeviceSlot)->enclosure_status & ses::kEnclosureCritical,
            0);
  s.status.fans = {FanStatus::Operational, FanStatus::Operational};
  s.flags.global_failure = true;
  s.flags.global_warning = true;
  EXPECT_EQ(ses_view(s, SlotElements::ArrayDeviceSlot)->enclosure_status, ses::kEnclosureCritical);
}

TEST(SafteSesView, DoorAlarmAndAlertWithoutSensors) {
  Snapshot s;
  s.config = Config{0, 0, 0, true, 0, true, 0, TemperatureUnit::Fahrenheit};
  s.status.door_lock = DoorLockStatus::Unlocked;
  s.status.speaker = SpeakerStatus::Off;
  auto view = ses_view(s, SlotElements::ArrayDeviceSlot);
  ASSERT_TRUE(view.has_value());
  ASSERT_EQ(view->elements.size(), 3U);
  EXPECT_EQ(hex_string(view->elements[0].status), "01 00 00 01");  // UNLOCKED
  EXPECT_EQ(hex_string(view->elements[1].status), "21 00 00 40");  // DISABLED, MUTED
  EXPECT_EQ(hex_string(view->elements[2].status), "07 00 00 00");  // alert: NOT AVAILABLE
  s.status.door_lock = DoorLockStatus::Unknown;
  s.status.speaker = SpeakerStatus::On;
  s.flags.global_failure = true;
  view = ses_view(s, SlotElements::ArrayDeviceSlot);
  EXPECT_EQ(hex_string(view->elements[0].status), "06 00 00 00");
  EXPECT_EQ(hex_string(view->elements[1].status), "01 00 00 02");  // tone CRIT
  EXPECT_EQ(view->enclosure_status, ses::kEnclosureCritical | ses::kEnclosureInfo);
}

TEST(SafteSesView, RejectsInconsistentSnapshots) {
  Snapshot s = full_snapshot();
  s.slots.pop_back();
  auto v = ses_view(s, SlotElements::ArrayDeviceSlot);
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message().find("3 slot states, configuration has 4"), std::string::npos)
      << v.error().message();
  s = full_snapshot();
  s.slot_identify = {true};
  EXPECT_FALSE(ses_view(s, SlotElements::ArrayDeviceSlot).has_value());
  s = full_snapshot();
  s.fan_speeds = {1, 2, 3};
  EXPECT_FALSE(ses_view(s, SlotElements::ArrayDeviceSlot).has_value());
  EXPECT_FALSE(control_commands(s, SlotElements::ArrayDeviceSlot, 0, {0x80, 0, 0, 0}));
}

// FreeBSD's thermostat path writes `elm_map[4].encstat[2] = 0xff`: element 4 whatever it is
// (here the door lock).
TEST(SafteRegression, FreeBsdThermostatAlertChangesOnlyItsOwnElement) {
  Snapshot quiet = full_snapshot();
  quiet.status.temperature_flags = 0;
  Snapshot alert = quiet;
  alert.status.temperature_flags = 0x8018;  // both thermostats and the alert
  const auto a = *ses_view(quiet, SlotElements::ArrayDeviceSlot);
  const auto b = *ses_view(alert, SlotElements::ArrayDeviceSlot);
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    const bool is_switch = i >= 9 && i <= 11;
    EXPECT_EQ(a.elements[i] == b.elements[i], !is_switch) << "element " << i;
  }
  EXPECT_EQ(b.elements[4].status[2], 0);
}

// ---- Control ------------------------------------------------------------------------------------

constexpr std::size_t kFan1 = 1, kPsu1 = 3, kDoor = 4, kAlarm = 5, kTemp0 = 6, kSlot0 = 12,
                      kSlot3 = 15;

Vec encoded(const WriteCommand& c) {
  auto b = encode_write_command(c);
  EXPECT_TRUE(b.has_value());
  return b ? *b : Vec{};
}

ses::ElementBytes slot_request(const Snapshot& s, std::size_t element, ses::SlotRequest request,
                               ses::Turn turn) {
  const auto view = *ses_view(s, SlotElements::ArrayDeviceSlot);
  return *ses::slot_control(0x17, view.elements[element].status, request, turn);
}

TEST(SafteControl, SlotIdentifyIsStatusThenIdentify) {
  const Snapshot s = full_snapshot();
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kSlot0,
                               slot_request(s, kSlot0, ses::SlotRequest::Ident, ses::Turn::On));
  ASSERT_TRUE(cmds.has_value()) << cmds.error().message();
  ASSERT_EQ(cmds->size(), 2U);
  // Every slot's state: slot 0 as requested (RQST OK -> no error), the others as reported.
  EXPECT_EQ(hex_of(encoded((*cmds)[0])), "10 01 00 00 02 00 00 40 01 00 00 00 00");
  EXPECT_EQ(std::get<SlotOperation>((*cmds)[1]), (SlotOperation{0, false, false, true}));
  // Once remembered, asking again sends the status only; turning it off sends 00h.
  Snapshot on = s;
  on.slot_identify = {true, false, false, false};
  cmds = control_commands(on, SlotElements::ArrayDeviceSlot, kSlot0,
                          slot_request(on, kSlot0, ses::SlotRequest::Ident, ses::Turn::On));
  EXPECT_EQ(cmds->size(), 1U);
  cmds = control_commands(on, SlotElements::ArrayDeviceSlot, kSlot0,
                          slot_request(on, kSlot0, ses::SlotRequest::Ident, ses::Turn::Off));
  ASSERT_EQ(cmds->size(), 2U);
  EXPECT_EQ(hex_string(Bytes(encoded((*cmds)[1])).first(3)), "12 00 00");
}

TEST(SafteControl, SlotFaultPowerAndIdentifyIsThreeStages) {
  const Snapshot s = full_snapshot();
  // FAULT on, DEVICE OFF, IDENT on for slot 0.
  ses::ElementBytes ctl = slot_request(s, kSlot0, ses::SlotRequest::Fault, ses::Turn::On);
  ctl[3] |= 0x10;
  ctl[2] |= 0x02;
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kSlot0, ctl);
  ASSERT_TRUE(cmds.has_value());
  ASSERT_EQ(cmds->size(), 3U);
  const auto& w = std::get<WriteSlotStatus>((*cmds)[0]);
  EXPECT_TRUE(w.slots[0].faulty);
  EXPECT_TRUE(w.slots[0].no_error);  // RQST OK kept from the status
  EXPECT_EQ(std::get<SlotOperation>((*cmds)[1]), (SlotOperation{0, false, true, false}));
  EXPECT_EQ(std::get<SlotOperation>((*cmds)[2]), (SlotOperation{0, false, false, true}));
  // Powering the empty slot 3 back on: status, then prepare for operation.
  ses::ElementBytes on{0x80, 0x00, 0x00, 0x00};
  cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kSlot3, on);
  ASSERT_EQ(cmds->size(), 2U);
  EXPECT_EQ(hex_string(Bytes(encoded((*cmds)[1])).first(3)), "12 03 01");
}

TEST(SafteControl, SlotArrayRequestsMapToSafteBits) {
  const Snapshot s = full_snapshot();
  // RQST HOT SPARE | CONS CHK | IN CRIT | IN FAILED | R/R | R/R ABORT, and PRDFAIL.
  const ses::ElementBytes ctl{0xc0, 0x3f, 0x00, 0x00};
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kSlot0, ctl);
  ASSERT_TRUE(cmds.has_value());
  const auto& w = std::get<WriteSlotStatus>((*cmds)[0]);
  EXPECT_EQ(w.slots[0].byte0(), 0x7c);  // predicted, parity, critical, failed, rebuilding
  EXPECT_EQ(w.slots[0].byte1(), 0x03);  // hot spare, rebuild stopped
  // Device Slot elements cannot express array bits: byte 1 is the SCSI ID.
  cmds = control_commands(s, SlotElements::DeviceSlot, kSlot0, ctl);
  EXPECT_EQ(std::get<WriteSlotStatus>((*cmds)[0]).slots[0].byte0(), 0x40);
  cmds = control_commands(s, SlotElements::DeviceSlot, kSlot0, {0x80, 0x00, 0x00, 0x00});
  EXPECT_EQ(std::get<WriteSlotStatus>((*cmds)[0]).slots[0].byte0(), 0x01);  // no error
}

TEST(SafteControl, StatusAsControlChangesNothing) {
  const Snapshot s = full_snapshot();
  const auto view = *ses_view(s, SlotElements::ArrayDeviceSlot);
  for (std::size_t i = kSlot0; i <= kSlot3; ++i) {
    auto ctl = ses::status_to_control(0x17, view.elements[i].status);
    ctl[0] |= ses::kSelect;
    auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, i, ctl);
    ASSERT_TRUE(cmds.has_value());
    ASSERT_EQ(cmds->size(), 1U) << "slot " << i - kSlot0;
    if (s.slots[i - kSlot0].installed) {
      EXPECT_EQ(std::get<WriteSlotStatus>((*cmds)[0]).slots[i - kSlot0], s.slots[i - kSlot0].array);
    }
  }
  auto ctl = ses::status_to_control(0x03, view.elements[0].status);
  ctl[0] |= ses::kSelect;
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, 0, ctl);
  ASSERT_EQ(cmds->size(), 1U);  // speed code masked out: the speed is left alone
  EXPECT_EQ(std::get<GlobalFlags>((*cmds)[0]), s.flags);
}

// FreeBSD: the power supply case has no `break` after its second stage, falls into
// `default: return (EINVAL)`, and never sends Activate Power Supply.
TEST(SafteRegression, FreeBsdNeverSendsActivatePowerSupply) {
  const Snapshot s = full_snapshot();
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kPsu1, {0x80, 0, 0, 0x20});
  ASSERT_TRUE(cmds.has_value());
  ASSERT_EQ(cmds->size(), 2U);
  EXPECT_EQ(std::get<GlobalFlags>((*cmds)[0]), s.flags);
  const std::string zeros12 = " 00 00 00 00 00 00 00 00 00 00 00 00 00";
  EXPECT_EQ(hex_of(encoded((*cmds)[1])), "14 01 01" + zeros12);
  cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kPsu1, {0x80, 0, 0, 0x40});
  ASSERT_EQ(cmds->size(), 2U);
  EXPECT_TRUE(std::get<GlobalFlags>((*cmds)[0]).power_supply_failure);
  EXPECT_EQ(hex_of(encoded((*cmds)[0])), "15 24 00" + zeros12);
  EXPECT_EQ(std::get<ActivatePowerSupply>((*cmds)[1]), (ActivatePowerSupply{1, Power::Off}));
}

// The same missing `break` in the fan case: Set Fan Speed never reaches the enclosure.
TEST(SafteRegression, FreeBsdNeverSendsSetFanSpeed) {
  const Snapshot s = full_snapshot();
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kFan1, {0x80, 0, 0, 0x65});
  ASSERT_TRUE(cmds.has_value());
  ASSERT_EQ(cmds->size(), 2U);
  EXPECT_TRUE(std::get<GlobalFlags>((*cmds)[0]).fan_failure);
  const std::string zeros12 = " 00 00 00 00 00 00 00 00 00 00 00 00 00";
  EXPECT_EQ(hex_of(encoded((*cmds)[1])), "13 01 03" + zeros12);
}

TEST(SafteControl, FanSpeedCodesMapOntoFiveSafteSpeeds) {
  const Snapshot s = full_snapshot();
  const std::uint8_t want[8] = {0, 1, 1, 2, 2, 3, 3, 4};
  for (std::uint8_t code = 1; code < 8; ++code) {
    auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, 0,
                                 {0x80, 0, 0, static_cast<std::uint8_t>(0x20 | code)});
    ASSERT_EQ(cmds->size(), 2U);
    EXPECT_EQ(std::get<SetFanSpeed>((*cmds)[1]), (SetFanSpeed{0, want[code]}));
    // What the driver then remembers reads back as the lowest code of the pair.
    Snapshot after = s;
    after.fan_speeds = {want[code], 0};
    const auto cooling = ses::decode_cooling_status(
        ses_view(after, SlotElements::ArrayDeviceSlot)->elements[0].status);
    EXPECT_EQ((cooling.speed_code + 1) / 2, want[code]);
  }
  // RQST ON clear with a speed code: stop the fan. No speed code: leave the speed alone.
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, 0, {0x80, 0, 0, 0x07});
  ASSERT_EQ(cmds->size(), 2U);
  EXPECT_EQ(std::get<SetFanSpeed>((*cmds)[1]), (SetFanSpeed{0, 0}));
  cmds = control_commands(s, SlotElements::ArrayDeviceSlot, 0, {0x80, 0, 0, 0x20});
  EXPECT_EQ(cmds->size(), 1U);
}

TEST(SafteControl, DoorLockUsesFlagTwo) {
  const Snapshot s = full_snapshot();
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kDoor, {0x80, 0, 0, 0x00});
  ASSERT_EQ(cmds->size(), 1U);
  EXPECT_TRUE(std::get<GlobalFlags>((*cmds)[0]).lock_door);
  EXPECT_EQ(hex_string(Bytes(encoded((*cmds)[0])).first(3)), "15 04 04");
  cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kDoor, {0x80, 0, 0, 0x01});
  EXPECT_FALSE(std::get<GlobalFlags>((*cmds)[0]).lock_door);
}

// FreeBSD sets and clears SAFT_FLG1_ALARM (0x01) in flag2, where 0x01 is "array failure".
TEST(SafteRegression, FreeBsdAlarmBitBelongsToFlagOne) {
  Snapshot s = full_snapshot();
  s.flags.array_failure = true;
  auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kAlarm, {0x80, 0, 0, 0x02});
  ASSERT_EQ(cmds->size(), 1U);
  auto bytes = encoded((*cmds)[0]);
  EXPECT_EQ(hex_string(Bytes(bytes).first(3)), "15 05 01");  // alarm + warning; flag 2 kept
  // DISABLE or SET MUTE silences it, and still leaves flag 2 alone.
  s.flags.audible_alarm = true;
  for (ses::ElementBytes ctl :
       {ses::ElementBytes{0xa0, 0, 0, 0x02}, ses::ElementBytes{0x80, 0, 0, 0x42},
        ses::ElementBytes{0x80, 0, 0, 0x00}}) {
    cmds = control_commands(s, SlotElements::ArrayDeviceSlot, kAlarm, ctl);
    bytes = encoded((*cmds)[0]);
    EXPECT_EQ(hex_string(Bytes(bytes).first(3)), "15 04 01");
  }
}

TEST(SafteControl, SelectClearTemperatureAndRangeErrors) {
  const Snapshot s = full_snapshot();
  auto none = control_commands(s, SlotElements::ArrayDeviceSlot, kSlot0, {0x00, 0, 0x02, 0x20});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  for (std::size_t i = kTemp0; i < kSlot0; ++i) {
    auto e = control_commands(s, SlotElements::ArrayDeviceSlot, i, {0x80, 0, 0, 0});
    ASSERT_FALSE(e.has_value());
    EXPECT_NE(e.error().message().find("temperature"), std::string::npos);
  }
  auto e = control_commands(s, SlotElements::ArrayDeviceSlot, 16, {0x80, 0, 0, 0});
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message().find("element 16 does not exist"), std::string::npos);
}

TEST(SafteControl, EnclosureControlSetsGlobalFailureOrWarning) {
  Snapshot s = full_snapshot();
  auto g = std::get<GlobalFlags>(enclosure_control_command(s, ses::kEnclosureCritical));
  EXPECT_TRUE(g.global_failure);
  EXPECT_FALSE(g.global_warning);
  g = std::get<GlobalFlags>(enclosure_control_command(s, ses::kEnclosureUnrecoverable));
  EXPECT_TRUE(g.global_failure);
  g = std::get<GlobalFlags>(enclosure_control_command(s, ses::kEnclosureNonCritical));
  EXPECT_FALSE(g.global_failure);
  EXPECT_TRUE(g.global_warning);
  g = std::get<GlobalFlags>(enclosure_control_command(s, ses::kEnclosureInfo));
  EXPECT_FALSE(g.global_failure || g.global_warning);
}

TEST(SafteControl, EveryCommandSentDecodesOnTheEmulatorSide) {
  const Snapshot s = full_snapshot();
  const auto view = *ses_view(s, SlotElements::ArrayDeviceSlot);
  for (std::size_t i = 0; i < view.elements.size(); ++i) {
    for (unsigned b3 : {0x00U, 0x10U, 0x20U, 0x41U, 0x67U}) {
      auto cmds = control_commands(s, SlotElements::ArrayDeviceSlot, i,
                                   {0xc0, 0xa5, 0x0e, static_cast<std::uint8_t>(b3)});
      if (!cmds) {
        continue;  // temperature elements
      }
      for (const auto& c : *cmds) {
        auto back = parse_write_command(encoded(c));
        ASSERT_TRUE(back.has_value()) << back.error().message();
        EXPECT_EQ(*back, c);
      }
    }
  }
}

}  // namespace
}  // namespace ucam::scsi::safte
