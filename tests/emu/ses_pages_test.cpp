// The SES enclosure model's diagnostic pages: every page decodes with ucam's SES decoders and
// with sg_ses (sg3_utils) as an independent oracle, and both say what the scenario describes.
#include <gtest/gtest.h>

#include <set>

#include "scsi/inquiry.h"
#include "scsi/ses_element.h"
#include "sims/emu/embedded.h"
#include "sims/emu/models/ses_enclosure.h"
#include "tests/emu/ses_harness.h"
#include "tests/scsi/oracle.h"

namespace ucam::emu::testing {
namespace {

namespace ses = scsi::ses;
namespace test = scsi::test;

// Six single-LUN disks (targets 0-5) and one enclosure with two SES devices (targets 20 and
// 21): a primary subenclosure with every common element type and a secondary one with two
// array device slots.
constexpr const char* kJbod = R"({"buses":[{"targets":[
  {"id":0},{"id":1},{"id":2},{"id":3},{"id":4},{"id":5},
  {"id":20,"luns":[{"type":"ses","vendor":"ACME","product":"TESTJBOD","revision":"0200",
    "naa":"5acde48000000f01","enclosure":"jbod","help_text":"Call the lab",
    "subenclosures":[
      {"nickname":"front","help_text":"front shelf","elements":[
        {"type":"slots","count":8,"text":"Bays","descriptor":"Bay {:02}","first":1,
         "disks":"auto","targets":[0,1,2,3,4]},
        {"type":"power_supplies","count":2,"descriptor":["PSU L","PSU R"]},
        {"type":"fans","count":3,"rpm":[5000,5100,5200],"descriptor":"Fan {}"},
        {"type":"temperature_sensors","count":2,"celsius":[24,31],
         "thresholds":{"high_critical":60,"high_warning":50,"low_warning":5,"low_critical":1}},
        {"type":"voltage_sensors","count":2,"millivolts":[5000,12000],
         "thresholds":{"high_critical":10,"high_warning":5,"low_warning":5,"low_critical":10}},
        {"type":"current_sensors","count":1,"milliamps":2500},
        {"type":"doors","count":1},
        {"type":"alarms","count":1},
        {"type":"esc_electronics","count":2,"descriptor":["ESM A","ESM B"]},
        {"type":"sas_expanders","count":2,"sas_address":"5acde48100000f00"},
        {"type":"sas_connectors","count":2,"connector_type":2}]},
      {"id":1,"vendor":"ACME","product":"REAR SHELF","revision":"0100",
       "elements":{"array_slots":{"count":2,"descriptor":["Rear 0","Rear 1"],
                                  "disks":[{"target":5},null]},
                   "displays":1}}]}]},
  {"id":21,"luns":[{"type":"ses","vendor":"ACME","product":"TESTJBOD","revision":"0200",
    "naa":"5acde48000000f02","enclosure":"jbod"}]}]}]})";
constexpr LunAddress kEs1{0, 20, 0};
constexpr LunAddress kEs2{0, 21, 0};

// sg_ses --inhex with the Configuration page and `page` in one file.
std::string sg_ses(const std::vector<std::vector<std::uint8_t>>& pages, const std::string& page,
                   const std::vector<std::string>& extra = {}) {
  HexPagesFile file(pages);
  std::vector<std::string> argv = {"sg_ses", "--inhex=" + file.path(), "--status",
                                   "--page=" + page};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto r = test::run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

// The text after `label` on every line that has it, trimmed, in order.
std::vector<std::string> values_after(const std::string& text, const std::string& label) {
  std::vector<std::string> out;
  for (const auto& line : test::lines(text)) {
    const auto at = line.find(label);
    if (at == std::string::npos) {
      continue;
    }
    std::string value = line.substr(at + label.size());
    const auto end = value.find_first_of(",\n");
    if (end != std::string::npos) {
      value.resize(end);
    }
    while (!value.empty() && value.back() == ' ') {
      value.pop_back();
    }
    out.push_back(value);
  }
  return out;
}

class SesPages : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.emu);
    ASSERT_TRUE(test::have_tool("sg_ses")) << test::missing_tool_message("sg_ses");
    config_page = page_bytes(h, kEs1, 0x01);
    auto parsed = ses::parse_ses_config(config_page);
    ASSERT_TRUE(parsed) << parsed.error().message();
    config = *parsed;
  }

  std::string oracle(std::uint8_t page, const std::vector<std::string>& extra = {}) {
    return sg_ses({config_page, page_bytes(h, kEs1, page)}, fmt::format("0x{:x}", page), extra);
  }

  Harness h{kJbod};
  std::vector<std::uint8_t> config_page;
  ses::SesConfig config;
};

TEST_F(SesPages, InquiryIsAnEnclosureServicesDeviceWithAnNaa5Name) {
  const Reply r = h.read(kEs1, scsi::inquiry(scsi::InquiryData::Standard, 0, 96), 96);
  ASSERT_TRUE(r.good());
  auto inquiry = scsi::parse_standard_inquiry(r.data);
  ASSERT_TRUE(inquiry);
  EXPECT_EQ(inquiry->device_type, 0x0d);
  EXPECT_TRUE(inquiry->encserv);
  EXPECT_EQ(inquiry->product, "TESTJBOD");
  EXPECT_EQ(lu_naa(h, kEs1), 0x5acde48000000f01U);
  EXPECT_EQ(lu_naa(h, kEs2), 0x5acde48000000f02U);
}

TEST_F(SesPages, SupportedPagesListEveryPageTheEnclosureAnswers) {
  auto pages = ses::parse_ses_supported_pages(page_bytes(h, kEs1, 0x00));
  ASSERT_TRUE(pages);
  EXPECT_TRUE(pages->warnings.empty());
  const std::vector<std::uint8_t> expected = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07,
                                              0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
  EXPECT_EQ(pages->pages, expected);
  for (const auto page : expected) {
    EXPECT_TRUE(receive_page(h, kEs1, page).good()) << int{page};
  }
  auto ses_pages = ses::parse_ses_supported_pages(page_bytes(h, kEs1, 0x0d));
  ASSERT_TRUE(ses_pages);
  EXPECT_EQ(ses_pages->pages, std::vector<std::uint8_t>(expected.begin() + 1, expected.end()));

  const auto text = oracle(0x00);
  for (const auto page : expected) {
    EXPECT_NE(text.find(fmt::format("[0x{:x}]", page)), std::string::npos) << int{page} << text;
  }
  EXPECT_EQ(values_after(oracle(0x0d), "[0x").size(), expected.size() - 1);
}

TEST_F(SesPages, ConfigurationDescribesBothSubenclosuresAndTheirTypes) {
  ASSERT_EQ(config.subenclosures.size(), 2U);
  const auto& primary = config.subenclosures[0];
  EXPECT_EQ(primary.id, 0);
  EXPECT_EQ(primary.logical_id, 0x5acde48000000f01U);  // the describing LUN's name
  EXPECT_EQ(primary.vendor, "ACME");
  EXPECT_EQ(primary.product, "TESTJBOD");
  EXPECT_EQ(primary.revision, "0200");
  EXPECT_EQ(primary.relative_es_process_id, 1);
  EXPECT_EQ(primary.es_process_count, 2);
  const auto& rear = config.subenclosures[1];
  EXPECT_EQ(rear.id, 1);
  EXPECT_EQ(rear.logical_id, 0x5acde48000000f02U);  // primary + id
  EXPECT_EQ(rear.product, "REAR SHELF");
  ASSERT_EQ(config.types.size(), 13U);
  EXPECT_EQ(config.types[0], (ses::TypeHeader{0x01, 8, 0, "Bays"}));
  // The object form of "elements" lists its groups by type code: the display first.
  EXPECT_EQ(config.types[11].element_type, 0x0c);
  EXPECT_EQ(config.types[11].subenclosure, 1);
  EXPECT_EQ(config.types[12].element_type, 0x17);
  EXPECT_EQ(config.element_count(), 13U + 8 + 2 + 3 + 2 + 2 + 1 + 1 + 1 + 2 + 2 + 2 + 2 + 1);

  const auto text = oracle(0x01);
  EXPECT_NE(text.find("number of secondary subenclosures: 1"), std::string::npos) << text;
  EXPECT_EQ(values_after(text, "relative ES process id: "), (std::vector<std::string>{"1", "1"}));
  EXPECT_EQ(values_after(text, "number of ES processes: "), (std::vector<std::string>{"2", "2"}));
  EXPECT_EQ(values_after(text, "enclosure logical identifier (hex): "),
            (std::vector<std::string>{"5acde48000000f01", "5acde48000000f02"}));
  const auto counts = values_after(text, "number of possible elements: ");
  ASSERT_EQ(counts.size(), config.types.size()) << text;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_EQ(counts[i], std::to_string(config.types[i].possible_elements));
  }
  EXPECT_EQ(values_after(text, "text: "), (std::vector<std::string>{"Bays"}));
}

TEST_F(SesPages, EachSesDeviceIsItsOwnEnclosureServiceProcess) {
  const auto second = read_config(h, kEs2);
  ASSERT_EQ(second.subenclosures.size(), 2U);
  EXPECT_EQ(second.subenclosures[0].relative_es_process_id, 2);
  EXPECT_EQ(second.subenclosures[0].es_process_count, 2);
  EXPECT_EQ(second.subenclosures[0].logical_id, config.subenclosures[0].logical_id);
  EXPECT_EQ(second.types, config.types);
  // ESC electronics element i is process i: REPORT set by the one answering.
  const int esc = global_index(config, ses::ElementType::EscElectronics, 0);
  const auto one = read_status(h, kEs1, config);
  const auto two = read_status(h, kEs2, config);
  EXPECT_TRUE(one.elements[esc][2] & 0x01);
  EXPECT_FALSE(one.elements[esc + 1][2] & 0x01);
  EXPECT_FALSE(two.elements[esc][2] & 0x01);
  EXPECT_TRUE(two.elements[esc + 1][2] & 0x01);
}

TEST_F(SesPages, StatusReportsEveryElementAsConfigured) {
  const auto status = read_status(h, kEs1, config);
  ASSERT_EQ(status.elements.size(), config.element_count());
  EXPECT_EQ(status.flags, 0);
  for (int slot = 0; slot < 8; ++slot) {
    const auto& e = status.elements[global_index(config, ses::ElementType::DeviceSlot, slot)];
    EXPECT_EQ(ses::status_code(e), slot < 5 ? 1 : 5) << slot;  // OK or Not Installed
    EXPECT_EQ(ses::decode_slot_status(0x01, e).slot_address, slot);
  }
  const auto rear = status.elements[global_index(config, ses::ElementType::ArrayDeviceSlot, 0)];
  EXPECT_EQ(ses::status_code(rear), 1);
  const auto psu = ses::decode_power_supply_status(
      status.elements[global_index(config, ses::ElementType::PowerSupply, 1)]);
  EXPECT_TRUE(psu.requested_on);
  EXPECT_FALSE(psu.off);
  for (int fan = 0; fan < 3; ++fan) {
    const auto cooling = ses::decode_cooling_status(
        status.elements[global_index(config, ses::ElementType::Cooling, fan)]);
    EXPECT_EQ(cooling.actual_speed_rpm, 5000 + 100 * fan);
    EXPECT_TRUE(cooling.requested_on);
  }
  const auto t1 = ses::decode_temperature_status(
      status.elements[global_index(config, ses::ElementType::TemperatureSensor, 1)]);
  EXPECT_EQ(t1.temperature_c, 31);
  const auto v1 = ses::decode_voltage_status(
      status.elements[global_index(config, ses::ElementType::VoltageSensor, 1)]);
  EXPECT_EQ(v1.millivolts, 12000);
  const auto c0 = ses::decode_current_status(
      status.elements[global_index(config, ses::ElementType::CurrentSensor, 0)]);
  EXPECT_EQ(c0.milliamps, 2500);

  // sg_ses: the same status for every element, in the same order.
  const auto text = oracle(0x02);
  const auto codes = values_after(text, "status: ");
  ASSERT_EQ(codes.size(), status.elements.size()) << text;
  for (std::size_t i = 0; i < codes.size(); ++i) {
    EXPECT_EQ(test::normalize(codes[i]),
              test::normalize(ses::element_status_name(ses::status_code(status.elements[i]))))
        << "element " << i;
  }
  EXPECT_EQ(values_after(text, "Actual speed="),
            (std::vector<std::string>{"0 rpm", "5000 rpm", "5100 rpm", "5200 rpm"}));
  EXPECT_EQ(values_after(text, "Temperature="), (std::vector<std::string>{"24 C", "31 C"}));
  EXPECT_EQ(values_after(text, "Slot address: "),
            (std::vector<std::string>{"0", "0", "1", "2", "3", "4", "5", "6", "7"}));
  EXPECT_NE(text.find("Voltage: 12.00 volts"), std::string::npos) << text;
  EXPECT_NE(text.find("Current: 2.50 amps"), std::string::npos) << text;
}

TEST_F(SesPages, ElementDescriptorsFollowTheirPatterns) {
  auto descriptors = ses::parse_ses_element_descriptors(page_bytes(h, kEs1, 0x07), config);
  ASSERT_TRUE(descriptors) << descriptors.error().message();
  EXPECT_TRUE(descriptors->warnings.empty());
  ASSERT_EQ(descriptors->text.size(), config.element_count());
  EXPECT_EQ(descriptors->text[0], "");
  EXPECT_EQ(descriptors->text[1], "Bay 01");
  EXPECT_EQ(descriptors->text[8], "Bay 08");
  EXPECT_EQ(descriptors->text[global_index(config, ses::ElementType::PowerSupply, 1)], "PSU R");
  EXPECT_EQ(descriptors->text[global_index(config, ses::ElementType::Cooling, 2)], "Fan 2");
  EXPECT_EQ(descriptors->text[global_index(config, ses::ElementType::ArrayDeviceSlot, 1)],
            "Rear 1");

  const auto text = oracle(0x07);
  std::vector<std::string> expected;
  for (const auto& d : descriptors->text) {
    expected.push_back(d.empty() ? "<empty>" : d);
  }
  EXPECT_EQ(values_after(text, "descriptor: "), expected) << text;
}

TEST_F(SesPages, AdditionalStatusLinksSlotsToTheDisksTargetPorts) {
  const auto aes = read_additional(h, kEs1, config);
  std::vector<std::string> sg_addresses;
  for (int slot = 0; slot < 8; ++slot) {
    const int g = global_index(config, ses::ElementType::DeviceSlot, slot);
    const auto* d = aes.find(g);
    ASSERT_NE(d, nullptr) << slot;
    EXPECT_TRUE(d->eip);
    EXPECT_EQ(d->eiioe, 1);
    ASSERT_TRUE(d->sas);
    EXPECT_EQ(d->sas->device_slot_number, slot);
    ASSERT_EQ(d->sas->phys.size(), 1U);
    const auto& phy = d->sas->phys[0];
    if (slot < 5) {
      // The same address the disk reports as its target port designator in VPD 0x83.
      EXPECT_EQ(phy.sas_address,
                target_port_address(h, LunAddress{0, static_cast<std::uint32_t>(slot), 0}));
      EXPECT_EQ(phy.device_type, 1);
      EXPECT_TRUE(phy.ssp_target);
      EXPECT_EQ(phy.attached_sas_address, 0x5acde48100000f00U);  // the first expander
    } else {
      EXPECT_EQ(phy.sas_address, 0U);
      EXPECT_EQ(phy.device_type, 0);
    }
    sg_addresses.push_back(fmt::format("0x{:x}", phy.sas_address));
  }
  const auto* rear = aes.find(global_index(config, ses::ElementType::ArrayDeviceSlot, 0));
  ASSERT_NE(rear, nullptr);
  EXPECT_EQ(rear->sas->device_slot_number, 8);
  EXPECT_EQ(rear->sas->phys[0].sas_address, target_port_address(h, LunAddress{0, 5, 0}));
  sg_addresses.push_back(fmt::format("0x{:x}", rear->sas->phys[0].sas_address));
  sg_addresses.emplace_back("0x0");
  // Expanders: their addresses, one phy per slot naming the slot's element index.
  const auto* expander = aes.find(global_index(config, ses::ElementType::SasExpander, 1));
  ASSERT_NE(expander, nullptr);
  EXPECT_EQ(expander->sas->expander_sas_address, 0x5acde48100000f01U);
  ASSERT_EQ(expander->sas->expander_phys.size(), 10U);
  EXPECT_EQ(expander->sas->expander_phys[0].other_element_index,
            global_index(config, ses::ElementType::DeviceSlot, 0));
  // ESC electronics: the SAS address of each SES device's target port.
  const auto* esc = aes.find(global_index(config, ses::ElementType::EscElectronics, 1));
  ASSERT_NE(esc, nullptr);
  ASSERT_EQ(esc->sas->port_phys.size(), 1U);
  EXPECT_EQ(esc->sas->port_phys[0].sas_address, target_port_address(h, kEs2));

  const auto text = oracle(0x0a);
  const auto addresses = values_after(text, "  SAS address: ");
  ASSERT_GE(addresses.size(), sg_addresses.size()) << text;
  EXPECT_EQ(std::vector<std::string>(addresses.begin(), addresses.begin() + 8),
            std::vector<std::string>(sg_addresses.begin(), sg_addresses.begin() + 8));
  EXPECT_EQ(values_after(text, "device slot number: "),
            (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(text.find("eiioe=0"), std::string::npos);
}

TEST_F(SesPages, ThresholdsAreReportedInTheirUnits) {
  auto thresholds = ses::parse_ses_threshold_in(page_bytes(h, kEs1, 0x05), config);
  ASSERT_TRUE(thresholds) << thresholds.error().message();
  EXPECT_TRUE(thresholds->warnings.empty());
  const auto& t =
      thresholds->thresholds[global_index(config, ses::ElementType::TemperatureSensor, 0)];
  EXPECT_EQ(t, (ses::Threshold{80, 70, 25, 21}));  // degrees C + 20
  const auto& v = thresholds->thresholds[global_index(config, ses::ElementType::VoltageSensor, 0)];
  EXPECT_EQ(v, (ses::Threshold{20, 10, 10, 20}));  // 0.5 % steps

  const auto text = oracle(0x05);
  EXPECT_EQ(
      values_after(text, "high critical="),
      (std::vector<std::string>{"60", "60", "60", "10.0 %", "10.0 %", "10.0 %", "0.0 %", "0.0 %"}))
      << text;
}

TEST_F(SesPages, TextPagesCarryTheConfiguredStrings) {
  auto help = ses::parse_ses_help_text(page_bytes(h, kEs1, 0x03));
  ASSERT_TRUE(help);
  EXPECT_EQ(help->text, "Call the lab");
  EXPECT_NE(oracle(0x03).find("Call the lab"), std::string::npos);

  auto sub_help = ses::parse_ses_subenclosure_help_text(page_bytes(h, kEs1, 0x0b), &config);
  ASSERT_TRUE(sub_help);
  EXPECT_TRUE(sub_help->warnings.empty());
  ASSERT_EQ(sub_help->subenclosures.size(), 2U);
  EXPECT_EQ(sub_help->subenclosures[0].text, "front shelf");
  EXPECT_NE(oracle(0x0b).find("front shelf"), std::string::npos);

  auto nicknames = ses::parse_ses_nickname_status(page_bytes(h, kEs1, 0x0f), &config);
  ASSERT_TRUE(nicknames);
  EXPECT_TRUE(nicknames->warnings.empty());
  ASSERT_EQ(nicknames->subenclosures.size(), 2U);
  EXPECT_EQ(nicknames->subenclosures[0].nickname, "front");
  EXPECT_EQ(values_after(oracle(0x0f), "nickname: ")[0], "front");

  auto microcode = ses::parse_ses_download_microcode_status(page_bytes(h, kEs1, 0x0e), &config);
  ASSERT_TRUE(microcode);
  EXPECT_TRUE(microcode->warnings.empty());
  EXPECT_EQ(microcode->subenclosures.size(), 2U);
  EXPECT_EQ(values_after(oracle(0x0e), "download microcode status: ").size(), 2U);

  auto strings = ses::parse_ses_subenclosure_string_in(page_bytes(h, kEs1, 0x0c), &config);
  ASSERT_TRUE(strings);
  EXPECT_TRUE(strings->warnings.empty());
  EXPECT_EQ(strings->subenclosures.size(), 2U);
}

TEST_F(SesPages, EveryPageTogetherDecodesWithoutWarnings) {
  std::vector<std::uint8_t> all;
  for (const auto page : SesEnclosure::supported_pages()) {
    const auto bytes = page_bytes(h, kEs1, page);
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  auto set = ses::decode_ses_pages(all);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_TRUE(set->warnings.empty()) << set->warnings.front();
  EXPECT_TRUE(set->other_pages.empty());
  EXPECT_TRUE(set->config && set->status && set->descriptors && set->additional &&
              set->thresholds && set->help_text && set->string_in);
}

TEST_F(SesPages, ShortAllocationLengthCutsThePage) {
  const Reply r = receive_page(h, kEs1, 0x02, 16);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 16U);
  EXPECT_EQ(r.data[0], 0x02);
  EXPECT_GT(load_be16(r.data, 2), 12);  // PAGE LENGTH still says the whole page
}

TEST_F(SesPages, UnknownPageIsInvalidFieldPointingAtThePageCode) {
  for (const std::uint8_t page : {0x06, 0x08, 0x10, 0x80}) {
    const Reply r = receive_page(h, kEs1, page);
    ASSERT_TRUE(r.check_condition()) << int{page};
    EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x24, 0x00}));
    ASSERT_TRUE(r.field_pointer());
    EXPECT_TRUE(*r.field_pointer() == (scsi::CdbFieldPointer{2, std::nullopt}));
  }
}

TEST_F(SesPages, PcvZeroIsInvalidFieldPointingAtPcv) {
  const Reply r =
      h.read(kEs1, scsi::receive_diagnostic_results(scsi::PageCodeValid::No, 0x00, 0xffff), 0xffff);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x24, 0x00}));
  ASSERT_TRUE(r.field_pointer());
  EXPECT_TRUE(*r.field_pointer() == (scsi::CdbFieldPointer{1, 0}));
}

// The enclosure answers a page it already encoded with the same bytes, until something
// changes it: an injected status, a disk pulled, a control page, a new configuration. Each
// enclosure service process keeps its own status page (its ESC element reports itself).
TEST(SesPagesAnsweredAgain, ShowEveryChangeMadeSinceTheLastRead) {
  Harness h{kJbod};
  ASSERT_TRUE(h.emu);
  const auto config = read_config(h, kEs1);
  const auto status = page_bytes(h, kEs1, 0x02);
  EXPECT_EQ(page_bytes(h, kEs1, 0x02), status);
  EXPECT_NE(page_bytes(h, kEs2, 0x02), status);  // The other process's REPORT bit.

  const int psu = global_index(config, ses::ElementType::PowerSupply, 1);
  ASSERT_TRUE(h.emu->set_element_status(
      "jbod", EnclosureElement::of(ses::ElementType::PowerSupply, 1), {0x02, 0, 0, 0x40}));
  EXPECT_EQ(ses::status_code(read_status(h, kEs1, config).elements.at(psu)), 2);
  EXPECT_EQ(ses::status_code(read_status(h, kEs2, config).elements.at(psu)), 2);
  const int sensor = global_index(config, ses::ElementType::TemperatureSensor, 0);
  ASSERT_TRUE(
      h.emu->set_sensor("jbod", EnclosureElement::of(ses::ElementType::TemperatureSensor, 0), 45));
  EXPECT_EQ(ses::decode_temperature_status(read_status(h, kEs1, config).elements.at(sensor))
                .temperature_c,
            45);

  const int slot = global_index(config, ses::ElementType::DeviceSlot, 0);
  ASSERT_NE(read_additional(h, kEs1, config).find(slot)->sas->phys.at(0).sas_address, 0U);
  ASSERT_TRUE(h.emu->pull_disk("jbod", 0));
  EXPECT_EQ(read_additional(h, kEs1, config).find(slot)->sas->phys.at(0).sas_address, 0U);

  // IDENT on the second slot through SEND DIAGNOSTIC.
  const int bay = global_index(config, ses::ElementType::DeviceSlot, 1);
  const auto before = read_status(h, kEs1, config);
  auto ident =
      ses::slot_control(0x01, before.elements.at(bay), ses::SlotRequest::Ident, ses::Turn::On);
  ASSERT_TRUE(ident);
  ASSERT_TRUE(send_page(h, kEs1, control_page(before, {{bay, *ident}})).good());
  EXPECT_TRUE(ses::decode_slot_status(0x01, read_status(h, kEs2, config).elements.at(bay)).ident);

  const auto descriptors = page_bytes(h, kEs1, 0x07);
  ASSERT_TRUE(h.emu->reconfigure_enclosure("jbod", {{{0, 9}}}));  // A ninth bay.
  const auto grown = read_config(h, kEs1);
  EXPECT_NE(grown.generation, config.generation);
  auto names = ses::parse_ses_element_descriptors(page_bytes(h, kEs1, 0x07), grown);
  ASSERT_TRUE(names) << names.error().message();
  EXPECT_EQ(names->text.at(
                static_cast<std::size_t>(global_index(grown, ses::ElementType::DeviceSlot, 8))),
            "Bay 09");
  EXPECT_NE(page_bytes(h, kEs1, 0x07), descriptors);
}

TEST(SesPagesEiioe, IndividualIndexesWithEiioeZero) {
  Harness h(R"({"buses":[{"targets":[{"id":0},{"id":1},
    {"id":9,"luns":[{"type":"ses","eiioe":0,"elements":[
      {"type":"power_supplies","count":1},
      {"type":"slots","count":3,"disks":"auto"},
      {"type":"sas_expanders","count":1}]}]}]}]})");
  ASSERT_TRUE(h.emu);
  const LunAddress es{0, 9, 0};
  const auto config_page = page_bytes(h, es, 0x01);
  const auto config = read_config(h, es);
  const auto aes_page = page_bytes(h, es, 0x0a);
  auto aes = ses::parse_ses_additional_status(aes_page, config);
  ASSERT_TRUE(aes) << aes.error().message();
  EXPECT_TRUE(aes->warnings.empty()) << aes->warnings.front();
  const int slot0 = global_index(config, ses::ElementType::DeviceSlot, 0);
  const auto* d = aes->find(slot0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->eiioe, 0);
  EXPECT_EQ(d->element_index, 1);  // individual: PSU 0 is 0, slot 0 is 1
  EXPECT_EQ(d->sas->phys[0].sas_address, target_port_address(h, LunAddress{0, 0, 0}));
  EXPECT_EQ(
      aes->find(global_index(config, ses::ElementType::DeviceSlot, 2))->sas->phys[0].sas_address,
      0U);  // only two disks on the bus

  ASSERT_TRUE(test::have_tool("sg_ses")) << test::missing_tool_message("sg_ses");
  const auto text = sg_ses({config_page, aes_page}, "aes");
  EXPECT_NE(text.find("eiioe=0"), std::string::npos) << text;
  // sg_ses files each descriptor under its element's type: the slots under Device slot.
  const auto slots = text.find("Element type: Device slot");
  const auto expander = text.find("Element type: SAS expander");
  ASSERT_NE(slots, std::string::npos) << text;
  ASSERT_NE(expander, std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("SAS address: 0x{:x}", target_port_address(h, {0, 0, 0})), slots),
            std::string::npos);
}

// The enclosure in the default topology: bus 1, target 9, holding the bus's two drives.
TEST(SesDefaultScenario, EnclosureHoldsTheBusOneDrives) {
  Harness h(embedded_scenario(kDefaultScenarioName));
  ASSERT_TRUE(h.emu);
  const LunAddress es{1, 9, 0};
  const auto config = read_config(h, es);
  ASSERT_EQ(config.subenclosures.size(), 1U);
  EXPECT_EQ(config.subenclosures[0].logical_id, lu_naa(h, es));
  const auto aes = read_additional(h, es, config);
  const auto address = [&](int slot) {
    const auto* d = aes.find(global_index(config, ses::ElementType::DeviceSlot, slot));
    return d != nullptr && d->sas && !d->sas->phys.empty() ? d->sas->phys[0].sas_address
                                                           : ~std::uint64_t{0};
  };
  EXPECT_EQ(address(0), target_port_address(h, {1, 4, 0}));
  EXPECT_EQ(address(1), target_port_address(h, {1, 5, 0}));
  EXPECT_EQ(address(2), 0U);
  EXPECT_EQ(address(3), 0U);
  const auto view = h.emu->enclosure("jbod4");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->luns, (std::vector<LunAddress>{es}));
  EXPECT_EQ(view->slot(0)->disk, (LunAddress{1, 4, 0}));
  EXPECT_EQ(view->slot(1)->disk, (LunAddress{1, 5, 0}));
  EXPECT_EQ(h.emu->enclosure_names(), (std::vector<std::string>{"jbod4"}));
}

}  // namespace
}  // namespace ucam::emu::testing
