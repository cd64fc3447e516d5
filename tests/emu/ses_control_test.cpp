// SEND DIAGNOSTIC to the SES enclosure model: control pages change the emulated state, which
// the status pages then report (through every SES device of the enclosure); bad parameter lists
// change nothing and end in the sense SES-4 and SPC-5 call for.
#include <gtest/gtest.h>

#include <functional>

#include "tests/emu/ses_harness.h"
#include "tests/scsi/oracle.h"

namespace ucam::emu::testing {
namespace {

namespace ses = scsi::ses;
namespace test = scsi::test;

constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":0},{"id":1},{"id":2},
  {"id":8,"luns":[{"type":"ses","enclosure":"shelf","naa":"5acde48000000f01","elements":[
    {"type":"slots","count":4,"descriptor":"Slot {}","disks":"auto","targets":[0,1,2]},
    {"type":"array_slots","count":1},
    {"type":"power_supplies","count":2},
    {"type":"fans","count":2,"rpm":6000,"speed_code":3},
    {"type":"temperature_sensors","count":1,"celsius":30,
     "thresholds":{"high_critical":60,"high_warning":50,"low_warning":10,"low_critical":5}},
    {"type":"doors","count":1},
    {"type":"alarms","count":1},
    {"type":"esc_electronics","count":2}]}]},
  {"id":9,"luns":[{"type":"ses","enclosure":"shelf","naa":"5acde48000000f02"}]}]}]})";
constexpr LunAddress kEs1{0, 8, 0};
constexpr LunAddress kEs2{0, 9, 0};

// Fixed sense: SKSV (byte 15 bit 7) and C/D (bit 6), field pointer bytes 16-17.
struct FieldPointer {
  bool command = true;
  std::uint16_t byte = 0;
};
std::optional<FieldPointer> sense_field_pointer(const Reply& r) {
  if (r.sense.size() < 18 || (r.sense[15] & 0x80) == 0) {
    return std::nullopt;
  }
  return FieldPointer{(r.sense[15] & 0x40) != 0, load_be16(r.sense, 16)};
}

// sg_ses --inhex on `pages` (the Configuration page first when the page needs it).
std::string oracle(const std::vector<std::vector<std::uint8_t>>& pages, const std::string& page) {
  EXPECT_TRUE(test::have_tool("sg_ses")) << test::missing_tool_message("sg_ses");
  HexPagesFile file(pages);
  const auto r = test::run({"sg_ses", "--inhex=" + file.path(), "--status", "--page=" + page});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

class SesControl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.emu);
    config = read_config(h, kEs1);
  }
  ses::SesStatus status(const LunAddress& at = kEs1) { return read_status(h, at, config); }
  int index(ses::ElementType type, int i) { return global_index(config, type, i); }
  // Read-modify-write of one element, as sesutil and sg_ses do it.
  Reply change(int element, const std::function<void(ses::ElementBytes&)>& edit,
               const LunAddress& at = kEs1) {
    const auto current = status(at);
    ses::ElementBytes control = ses::status_to_control(
        build_element_map(config)[static_cast<std::size_t>(element)].element_type,
        current.elements[static_cast<std::size_t>(element)]);
    edit(control);
    return send_page(h, at, control_page(current, {{element, control}}));
  }

  Harness h{kScenario};
  ses::SesConfig config;
};

TEST_F(SesControl, SlotIdentAndFaultRequestsReadBackThroughBothProcesses) {
  const int slot = index(ses::ElementType::DeviceSlot, 1);
  const auto before = status();
  auto ident =
      ses::slot_control(0x01, before.elements[slot], ses::SlotRequest::Ident, ses::Turn::On);
  ASSERT_TRUE(ident);
  ASSERT_TRUE(send_page(h, kEs1, control_page(before, {{slot, *ident}})).good());
  auto after = status(kEs2);  // the other enclosure service process sees it too
  EXPECT_TRUE(ses::decode_slot_status(0x01, after.elements[slot]).ident);
  EXPECT_FALSE(ses::decode_slot_status(0x01, after.elements[slot]).fault_requested);
  EXPECT_EQ(ses::status_code(after.elements[slot]), 1);  // still OK

  auto fault =
      ses::slot_control(0x01, after.elements[slot], ses::SlotRequest::Fault, ses::Turn::On);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(send_page(h, kEs2, control_page(after, {{slot, *fault}})).good());
  after = status(kEs1);
  const auto s = ses::decode_slot_status(0x01, after.elements[slot]);
  EXPECT_TRUE(s.ident);  // kept: the read-modify-write carried it
  EXPECT_TRUE(s.fault_requested);
  EXPECT_EQ(after.elements[slot][2] & 0x02, 0x02);  // status byte 2 bit 1
  EXPECT_EQ(after.elements[slot][3] & 0x20, 0x20);  // status byte 3 bit 5

  // Every other element is as it was.
  for (std::size_t i = 0; i < after.elements.size(); ++i) {
    if (static_cast<int>(i) != slot) {
      EXPECT_EQ(after.elements[i], before.elements[i]) << i;
    }
  }
  const auto view = h.emu->enclosure("shelf");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->slot(1)->status, after.elements[slot]);

  // sg_ses reads the same bits.
  ASSERT_TRUE(test::have_tool("sg_ses")) << test::missing_tool_message("sg_ses");
  HexPagesFile file({page_bytes(h, kEs1, 0x01), page_bytes(h, kEs1, 0x02)});
  const auto r = test::run(
      {"sg_ses", "--inhex=" + file.path(), "--status", "--page=es", "--index=0,1", "--get=ident"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::normalize(r.output), "1");
  const auto fault_text = test::run(
      {"sg_ses", "--inhex=" + file.path(), "--status", "--page=es", "--index=0,1", "--get=3:5:1"});
  EXPECT_EQ(test::normalize(fault_text.output), "1") << fault_text.output;
}

TEST_F(SesControl, SlotRequestsMirrorTheirStatusBits) {
  const int slot = index(ses::ElementType::DeviceSlot, 0);
  ASSERT_TRUE(change(slot, [](ses::ElementBytes& c) {
                c[2] |= 0x40 | 0x08 | 0x04;  // DO NOT REMOVE, RQST INSERT, RQST REMOVE
                c[3] |= 0x10 | 0x08;         // DEVICE OFF, ENABLE BYP A
                c[0] |= ses::kPrdfail;
              }).good());
  const auto s = ses::decode_slot_status(0x01, status().elements[slot]);
  EXPECT_TRUE(s.do_not_remove);
  EXPECT_TRUE(s.ready_to_insert);
  EXPECT_TRUE(s.remove);
  EXPECT_TRUE(s.device_off);
  EXPECT_TRUE(s.bypassed_a);
  EXPECT_TRUE(ses::prdfail(status().elements[slot]));
  EXPECT_EQ(s.slot_address, 0);  // not a control field: kept

  const int array = index(ses::ElementType::ArrayDeviceSlot, 0);
  ASSERT_TRUE(change(array, [](ses::ElementBytes& c) { c[1] = 0x80 | 0x20; }).good());
  const auto a = ses::decode_slot_status(0x17, status().elements[array]);
  EXPECT_TRUE(a.ok);
  EXPECT_TRUE(a.hot_spare);
}

TEST_F(SesControl, PowerSupplyOffAndFailRequests) {
  const int psu = index(ses::ElementType::PowerSupply, 0);
  ASSERT_TRUE(change(psu, [](ses::ElementBytes& c) {
                c[3] &= static_cast<std::uint8_t>(~0x20);  // RQST ON = 0
                c[3] |= 0x40;                              // RQST FAIL
                c[1] |= 0x80;                              // RQST IDENT
              }).good());
  auto p = ses::decode_power_supply_status(status().elements[psu]);
  EXPECT_TRUE(p.off);
  EXPECT_FALSE(p.requested_on);
  EXPECT_TRUE(p.fail);
  EXPECT_TRUE(p.ident);
  ASSERT_TRUE(change(psu, [](ses::ElementBytes& c) { c[3] = 0x20; }).good());
  p = ses::decode_power_supply_status(status().elements[psu]);
  EXPECT_FALSE(p.off);
  EXPECT_TRUE(p.requested_on);
  EXPECT_FALSE(p.fail);
}

TEST_F(SesControl, FanSpeedCodeAndPower) {
  const int fan = index(ses::ElementType::Cooling, 1);
  ASSERT_TRUE(change(fan, [](ses::ElementBytes& c) { c[3] = 0x20 | 7; }).good());
  auto f = ses::decode_cooling_status(status().elements[fan]);
  EXPECT_EQ(f.speed_code, 7);
  EXPECT_EQ(f.actual_speed_rpm, 14000);  // 6000 rpm at code 3, scaled
  ASSERT_TRUE(change(fan, [](ses::ElementBytes& c) { c[3] = 0; }).good());  // RQST ON = 0
  f = ses::decode_cooling_status(status().elements[fan]);
  EXPECT_TRUE(f.off);
  EXPECT_EQ(f.actual_speed_rpm, 0);
  EXPECT_EQ(f.speed_code, 0);
  ASSERT_TRUE(change(fan, [](ses::ElementBytes& c) { c[3] = 0x20; }).good());  // on, code 0
  f = ses::decode_cooling_status(status().elements[fan]);
  EXPECT_FALSE(f.off);
  EXPECT_EQ(f.actual_speed_rpm, 6000);  // back at the configured speed
  EXPECT_EQ(f.speed_code, 3);
}

TEST_F(SesControl, DoorAlarmAndSensorRequests) {
  const int door = index(ses::ElementType::Door, 0);
  ASSERT_TRUE(change(door, [](ses::ElementBytes& c) { c[3] |= 0x01; }).good());  // UNLOCK
  EXPECT_EQ(status().elements[door][3] & 0x01, 0x01);
  const int alarm = index(ses::ElementType::AudibleAlarm, 0);
  ASSERT_TRUE(change(alarm, [](ses::ElementBytes& c) { c[3] = 0x40 | 0x02; }).good());
  EXPECT_EQ(status().elements[alarm][3], 0x42);  // MUTED, TONE URGENCY critical
  const int sensor = index(ses::ElementType::TemperatureSensor, 0);
  ASSERT_TRUE(change(sensor, [](ses::ElementBytes& c) { c[1] |= 0x80; }).good());
  const auto t = ses::decode_temperature_status(status().elements[sensor]);
  EXPECT_TRUE(t.ident);
  EXPECT_EQ(t.temperature_c, 30);  // not a control field
}

TEST_F(SesControl, ElementsWithoutSelectAreLeftAlone) {
  const auto before = status();
  auto page = control_page(before, {});
  // Request bits everywhere, SELECT nowhere.
  for (std::size_t at = 8; at < page.size(); at += 4) {
    page[at + 2] = 0x02;
    page[at + 3] = 0x20;
  }
  ASSERT_TRUE(send_page(h, kEs1, page).good());
  EXPECT_EQ(status().elements, before.elements);
}

TEST_F(SesControl, EnclosureRequestFlagsAddToTheElementConditions) {
  ASSERT_TRUE(send_page(h, kEs1, control_page(status(), {}, ses::kEnclosureInfo)).good());
  EXPECT_EQ(status(kEs2).flags, ses::kEnclosureInfo);
  ASSERT_TRUE(send_page(h, kEs1, control_page(status(), {}, 0x0f)).good());
  EXPECT_EQ(status().flags, 0x0f);
  ASSERT_TRUE(send_page(h, kEs1, control_page(status(), {}, 0)).good());
  EXPECT_EQ(status().flags, 0);
  // A critical element sets CRIT on its own.
  ASSERT_TRUE(h.emu
                  ->set_element_status("shelf",
                                       EnclosureElement::of(ses::ElementType::PowerSupply, 1),
                                       {0x02, 0, 0, 0x40})
                  .has_value());
  EXPECT_EQ(status().flags, ses::kEnclosureCritical);
  EXPECT_EQ(h.emu->enclosure("shelf")->status_flags, ses::kEnclosureCritical);
}

TEST_F(SesControl, PageFromAnOldConfigurationIsRefusedAndChangesNothing) {
  const auto old = status();
  const int slot = index(ses::ElementType::DeviceSlot, 0);
  auto ident = ses::slot_control(0x01, old.elements[slot], ses::SlotRequest::Ident, ses::Turn::On);
  ASSERT_TRUE(ident);
  const auto page = control_page(old, {{slot, *ident}}, 0x0f);
  auto generation = h.emu->reconfigure_enclosure("shelf", {});
  ASSERT_TRUE(generation);
  EXPECT_EQ(*generation, old.generation + 1);

  const Reply r = send_page(h, kEs1, page);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x26, 0x00}));  // INVALID FIELD IN PARAMETER LIST
  const auto pointer = sense_field_pointer(r);
  ASSERT_TRUE(pointer);
  EXPECT_FALSE(pointer->command);  // in the parameter list
  EXPECT_EQ(pointer->byte, 4);     // EXPECTED GENERATION CODE
  const auto now = read_status(h, kEs1, read_config(h, kEs1));
  EXPECT_EQ(now.generation, old.generation + 1);
  EXPECT_FALSE(ses::decode_slot_status(0x01, now.elements[slot]).ident);
  EXPECT_EQ(now.flags, 0);
}

TEST_F(SesControl, PageOfTheWrongLengthIsRefused) {
  auto page = control_page(status(), {});
  page.resize(page.size() - 4);
  store_be16(MutableBytes(page), 2, static_cast<std::uint16_t>(page.size() - 4));
  const Reply r = send_page(h, kEs1, page);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x26, 0x00}));
  ASSERT_TRUE(sense_field_pointer(r));
  EXPECT_EQ(sense_field_pointer(r)->byte, 2);  // PAGE LENGTH
}

TEST_F(SesControl, StringOutIsReadBackAsStringIn) {
  auto out = ses::encode_ses_string(std::vector<std::uint8_t>{'h', 'e', 'l', 'l', 'o'});
  ASSERT_TRUE(out);
  ASSERT_TRUE(send_page(h, kEs2, *out).good());
  auto in = ses::parse_ses_string_in(page_bytes(h, kEs1, 0x04));
  ASSERT_TRUE(in);
  EXPECT_EQ(in->data, (std::vector<std::uint8_t>{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(h.emu->enclosure("shelf")->string_out, in->data);
  EXPECT_NE(oracle({page_bytes(h, kEs1, 0x04)}, "str").find("68 65 6c 6c 6f"), std::string::npos);
}

TEST_F(SesControl, ThresholdOutChangesThresholdsAndSensorStatus) {
  auto thresholds = ses::parse_ses_threshold_in(page_bytes(h, kEs1, 0x05), config);
  ASSERT_TRUE(thresholds);
  const int sensor = index(ses::ElementType::TemperatureSensor, 0);
  thresholds->thresholds[sensor].high_warning = 20 + 25;  // 25 C: the sensor reads 30 C
  auto page = ses::encode_ses_threshold_out(thresholds->generation, thresholds->thresholds);
  ASSERT_TRUE(page);
  ASSERT_TRUE(send_page(h, kEs1, *page).good());
  auto again = ses::parse_ses_threshold_in(page_bytes(h, kEs2, 0x05), config);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->thresholds[sensor].high_warning, 45);
  const auto t = ses::decode_temperature_status(status().elements[sensor]);
  EXPECT_TRUE(t.over_temperature_warning);
  EXPECT_EQ(ses::status_code(status().elements[sensor]), 3);  // Noncritical
  EXPECT_EQ(status().flags, ses::kEnclosureNonCritical);

  ASSERT_TRUE(h.emu->reconfigure_enclosure("shelf", {}));
  const Reply stale = send_page(h, kEs1, *page);
  ASSERT_TRUE(stale.check_condition());
  EXPECT_EQ(stale.sense_code(), (SenseCode{0x05, 0x26, 0x00}));
}

TEST_F(SesControl, SubenclosureStringOutAndNicknameControl) {
  const auto generation = status().generation;
  auto string_out =
      ses::encode_ses_subenclosure_string_out(0, generation, std::vector<std::uint8_t>{1, 2, 3, 4});
  ASSERT_TRUE(string_out);
  ASSERT_TRUE(send_page(h, kEs1, *string_out).good());
  auto strings = ses::parse_ses_subenclosure_string_in(page_bytes(h, kEs1, 0x0c), &config);
  ASSERT_TRUE(strings);
  ASSERT_EQ(strings->subenclosures.size(), 1U);
  EXPECT_EQ(strings->subenclosures[0].data, (std::vector<std::uint8_t>{1, 2, 3, 4}));

  auto nickname = ses::encode_ses_nickname_control(0, generation, "left rack");
  ASSERT_TRUE(nickname);
  ASSERT_TRUE(send_page(h, kEs2, *nickname).good());
  auto nicknames = ses::parse_ses_nickname_status(page_bytes(h, kEs1, 0x0f), &config);
  ASSERT_TRUE(nicknames);
  EXPECT_EQ(nicknames->subenclosures[0].nickname, "left rack");
  const auto config_page = page_bytes(h, kEs1, 0x01);
  // sg_ses (sg3_utils 1.45) decodes the page but does not print the string data.
  const auto sstr = oracle({config_page, page_bytes(h, kEs1, 0x0c)}, "sstr");
  EXPECT_NE(sstr.find("subenclosure identifier: 0"), std::string::npos) << sstr;
  EXPECT_NE(oracle({config_page, page_bytes(h, kEs1, 0x0f)}, "snic").find("nickname: left rack"),
            std::string::npos);

  auto unknown = ses::encode_ses_nickname_control(7, generation, "x");
  ASSERT_TRUE(unknown);
  const Reply r = send_page(h, kEs1, *unknown);
  ASSERT_TRUE(r.check_condition());
  ASSERT_TRUE(sense_field_pointer(r));
  EXPECT_EQ(sense_field_pointer(r)->byte, 1);  // SUBENCLOSURE IDENTIFIER
}

TEST_F(SesControl, StatusOnlyPageIsInvalidFieldAtThePageCode) {
  const Reply r = send_page(h, kEs1, {0x07, 0, 0, 4, 0, 0, 0, 0});
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x26, 0x00}));
  ASSERT_TRUE(sense_field_pointer(r));
  EXPECT_FALSE(sense_field_pointer(r)->command);
  EXPECT_EQ(sense_field_pointer(r)->byte, 0);
}

TEST_F(SesControl, ParameterListThatCutsThePageIsALengthError) {
  auto page = control_page(status(), {});
  page.resize(10);  // PAGE LENGTH still announces the whole page
  const Reply r = send_page(h, kEs1, page);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x1a, 0x00}));
}

TEST_F(SesControl, SendDiagnosticCdbVariants) {
  // SELFTEST=1: the default self-test passes.
  EXPECT_TRUE(h.run(kEs1, scsi::send_diagnostic(scsi::PageFormat::Standard, scsi::SelfTest::Yes, 0))
                  .good());
  // No parameter list: nothing to do.
  EXPECT_TRUE(
      h.run(kEs1, scsi::send_diagnostic(scsi::PageFormat::Standard, scsi::SelfTest::No, 0)).good());
  // PF=0 with a parameter list: vendor specific, refused (CDB byte 1 bit 4).
  const auto page = control_page(status(), {});
  Reply r = h.write(kEs1,
                    scsi::send_diagnostic(scsi::PageFormat::VendorSpecific, scsi::SelfTest::No,
                                          static_cast<std::uint16_t>(page.size())),
                    page);
  ASSERT_TRUE(r.check_condition());
  ASSERT_TRUE(r.field_pointer());
  EXPECT_EQ(r.field_pointer()->byte, 1);
  EXPECT_EQ(r.field_pointer()->bit, 4);
  // A background self-test (SELF-TEST CODE 001b) is not emulated.
  r = h.run(kEs1, raw_cdb({0x1d, 0x20, 0, 0, 0, 0}));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.field_pointer()->byte, 1);
  // Less data than PARAMETER LIST LENGTH: the HBA sees an underrun.
  r = h.write(kEs1, scsi::send_diagnostic(scsi::PageFormat::Standard, scsi::SelfTest::No, 64),
              std::vector<std::uint8_t>(16, 0));
  EXPECT_EQ(r.status, CamStatus::DataRunErr);
}

TEST_F(SesControl, TestUnitReadyAndUnknownOpcodes) {
  EXPECT_TRUE(h.run(kEs1, scsi::test_unit_ready()).good());
  const Reply r = h.read(kEs1, scsi::read10(0, 1), 512);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x20, 0x00}));
}

// Growing a group whose descriptors come from a pattern: the new elements' descriptors must
// still fit the 128 bytes of a descriptor, or the change is refused and nothing changes.
TEST(SesReconfigure, GrowingPastWhatThePatternCanDescribeIsRefused) {
  Harness h{R"({"buses":[{"targets":[{"id":8,"luns":[{"type":"ses","enclosure":"shelf",
    "naa":"5acde48000000f01","elements":[
      {"type":"fans","count":2,"first":8,"descriptor":"{:64}{:63}{}"}]}]}]}]})"};
  const auto before = read_config(h, kEs1);
  // Elements 8 and 9 take 128 bytes; element 10 would take 129.
  auto refused = h.emu->reconfigure_enclosure("shelf", {{{0, 3}}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errno_value(), EINVAL);
  EXPECT_NE(refused.error().message().find("129 bytes for element number 10"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(read_config(h, kEs1).generation, before.generation);
  // Shrinking, or growing no further than the pattern allows, is fine.
  EXPECT_TRUE(h.emu->reconfigure_enclosure("shelf", {{{0, 1}}}));
  EXPECT_TRUE(h.emu->reconfigure_enclosure("shelf", {{{0, 2}}}));
}

}  // namespace
}  // namespace ucam::emu::testing
