// scsi/ses_json.h: the JSON contract of docs/ses-json.md and the text rendering, on the oracle
// vectors and on the real captures, whose facts come from their sidecar .md files.
#include "scsi/ses_json.h"

#include <gtest/gtest.h>

#include "tests/scsi/ses_test_util.h"

namespace ucam::scsi::ses {
namespace {

using nlohmann::json;
using Vec = std::vector<std::uint8_t>;

json render(const Vec& bytes) {
  auto r = render_ses_pages(bytes);
  EXPECT_TRUE(r.has_value());
  return r ? r->json : json();
}

json areca() {
  return render(test::real_captures({"areca-arc8028-p00", "areca-arc8028-p01", "areca-arc8028-p02",
                                     "areca-arc8028-p04", "areca-arc8028-p05", "areca-arc8028-p07",
                                     "areca-arc8028-p0a", "areca-arc8028-p0d", "areca-arc8028-p0e",
                                     "areca-arc8028-p0f"}));
}

bool warned(const json& doc, const std::string& needle) {
  for (const auto& w : doc["warnings"]) {
    if (w.get<std::string>().find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(SesJson, TopLevelKeysAreAlwaysPresent) {
  const auto doc = render(test::oracle_file("all.hex"));
  for (const char* key :
       {"configuration", "enclosure_status", "elements", "element_descriptors",
        "additional_element_status", "threshold_in", "supported_diagnostic_pages",
        "supported_ses_pages", "help_text", "string_in", "short_enclosure_status", "enclosure_busy",
        "subenclosure_help_text", "subenclosure_string_in", "download_microcode_status",
        "subenclosure_nickname_status", "other_pages", "warnings"}) {
    EXPECT_TRUE(doc.contains(key)) << key;
  }
  EXPECT_TRUE(doc["help_text"].is_null());
  EXPECT_TRUE(doc["warnings"].empty());
}

TEST(SesJson, ConfigurationOfTheAcmeVector) {
  const auto cfg = render(test::oracle_file("all.hex"))["configuration"];
  EXPECT_EQ(cfg["generation"], 1);
  ASSERT_EQ(cfg["subenclosures"].size(), 1u);
  EXPECT_EQ(cfg["subenclosures"][0]["id"], 0);
  EXPECT_EQ(cfg["subenclosures"][0]["logical_id"], "5000c50012345678");
  EXPECT_EQ(cfg["subenclosures"][0]["vendor"], "ACME");
  EXPECT_EQ(cfg["subenclosures"][0]["product"], "TESTJBOD4");
  EXPECT_EQ(cfg["subenclosures"][0]["revision"], "0001");
  ASSERT_EQ(cfg["types"].size(), 2u);
  EXPECT_EQ(cfg["types"][1], (json{{"index", 1},
                                   {"element_type", 4},
                                   {"name", "Temperature Sensor"},
                                   {"subenclosure", 0},
                                   {"possible_elements", 1},
                                   {"text", "Temp"}}));
}

TEST(SesJson, ElementsOfTheAcmeVector) {
  const auto doc = render(test::oracle_file("all.hex"));
  const auto& e = doc["elements"];
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e[0]["index"], -1);
  EXPECT_EQ(e[0]["status"], "Unsupported");
  EXPECT_EQ(e[0]["descriptor"], "AllSlots");
  EXPECT_EQ(e[0]["sas_addresses"], json::array());
  EXPECT_TRUE(e[0]["device_slot_number"].is_null());
  EXPECT_EQ(e[2]["type_index"], 0);
  EXPECT_EQ(e[2]["element_type"], 1);
  EXPECT_EQ(e[2]["index"], 1);
  EXPECT_EQ(e[2]["status_code"], 1);
  EXPECT_EQ(e[2]["status"], "OK");
  EXPECT_EQ(e[2]["ident"], true);
  EXPECT_EQ(e[2]["descriptor"], "Slot01");
  EXPECT_EQ(e[2]["sas_addresses"], (json{"5000cca000000011"}));
  EXPECT_EQ(e[2]["device_slot_number"], 1);
  EXPECT_EQ(e[3]["status"], "Critical");
  EXPECT_EQ(e[3]["fault_sensed"], true);
  EXPECT_EQ(e[3]["fault_requested"], true);
  EXPECT_EQ(e[3]["prdfail"], false);
  EXPECT_EQ(e[4]["status"], "Not installed");
  EXPECT_EQ(e[4]["sas_addresses"], (json{"0000000000000000"}));  // phy without a device
  EXPECT_EQ(e[5]["descriptor"], "");
  EXPECT_TRUE(e[5]["temperature_c"].is_null());
  EXPECT_EQ(e[6]["temperature_c"], 25);
  EXPECT_EQ(e[6]["descriptor"], "Ambient");
  EXPECT_EQ(e[6]["raw"], "01 00 2d 00");
  EXPECT_EQ(doc["enclosure_status"]["critical"], false);
  EXPECT_EQ(doc["supported_diagnostic_pages"]["pages"], (json{0, 1, 2, 7, 10}));
}

TEST(SesJson, Eiioe1PutsSlotNumbersOnTheRightSlots) {
  const auto e = render(test::oracle_file("eiioe1.hex"))["elements"];
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(e[static_cast<std::size_t>(i + 1)]["device_slot_number"], 10 + i);
    EXPECT_EQ(e[static_cast<std::size_t>(i + 1)]["descriptor"], "Slot0" + std::to_string(i));
  }
  EXPECT_TRUE(e[0]["device_slot_number"].is_null());
  EXPECT_TRUE(e[6]["device_slot_number"].is_null());
}

TEST(SesJson, GenerationMismatchIsReportedNotIgnored) {
  const auto doc = render(test::oracle_file("mism.hex"));
  EXPECT_EQ(doc["enclosure_status"]["generation_mismatch"], true);
  EXPECT_EQ(doc["enclosure_status"]["generation"], 2);
  EXPECT_EQ(doc["element_descriptors"]["generation_mismatch"], false);
  EXPECT_TRUE(warned(doc, "page 0x02: enclosure status: generation code 0x2 differs"));
}

TEST(SesJson, OtherPagesOfTheMoreVector) {
  const auto doc = render(test::oracle_file("more.hex"));
  EXPECT_EQ(doc["help_text"]["text"], "Call ACME support");
  EXPECT_EQ(doc["string_in"]["data"], "01 02 03 68 65 6c 6c 6f");
  EXPECT_EQ(doc["short_enclosure_status"]["status"], 0x5a);
  EXPECT_EQ(doc["enclosure_busy"]["busy"], true);
  const auto& th = doc["threshold_in"]["thresholds"];
  ASSERT_EQ(th.size(), 7u);
  EXPECT_EQ(th[6]["high_critical_c"], 60);
  EXPECT_EQ(th[6]["high_warning_c"], 55);
  EXPECT_EQ(th[6]["low_warning_c"], 5);
  EXPECT_EQ(th[6]["low_critical_c"], 0);
  EXPECT_FALSE(th[1].contains("high_critical_c"));
  EXPECT_EQ(doc["download_microcode_status"]["subenclosures"][0]["maximum_size"], 1048576);
  EXPECT_EQ(doc["subenclosure_nickname_status"]["subenclosures"][0]["nickname"], "Rack A JBOD 1");
  EXPECT_EQ(doc["subenclosure_nickname_status"]["subenclosures"][0]["language_code"], "");
}

TEST(SesJson, TextRenderingNamesElementsStatusesAndWarnings) {
  auto r = render_ses_pages(test::oracle_file("mism.hex"));
  ASSERT_TRUE(r.has_value());
  const auto& text = r->text;
  EXPECT_NE(text.find("Subenclosure 0 (primary): ACME TESTJBOD4 0001, logical id "
                      "5000c50012345678"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Element 3, Type: Device Slot, #2 (type 0)\n    Status: Critical (02 02 00 "
                      "60)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Description: Slot02"), std::string::npos);
  EXPECT_NE(text.find("Additional status: SAS, device slot 2, 5000cca000000012"),
            std::string::npos);
  EXPECT_NE(text.find("temperature_c=25"), std::string::npos);
  EXPECT_NE(text.find("warning: page 0x02"), std::string::npos);
  EXPECT_FALSE(render_ses_pages(Vec{}).has_value());
}

// Found by fuzz/ses_fuzz: a type descriptor text with a NUL and a high byte made dump() throw
// (JSON strings must be valid UTF-8). Every string is printable ASCII now.
TEST(SesJson, DumpsPagesWithNonPrintableText) {
  SesConfig cfg;
  cfg.subenclosures.resize(1);
  cfg.subenclosures[0].vendor = "V";
  cfg.types = {TypeHeader{0x04, 1, 0, std::string("T\0\xff", 3)}};
  auto page = encode_ses_config(cfg);
  ASSERT_TRUE(page.has_value());
  auto r = render_ses_pages(*page);
  ASSERT_TRUE(r.has_value());
  EXPECT_NO_THROW((void)r->json.dump());
  EXPECT_EQ(r->json["configuration"]["types"][0]["text"], "T..");
  EXPECT_TRUE(warned(r->json, "type descriptor text 0 has non-printable bytes"));
}

// Element descriptors go out byte for byte, whatever the bytes: blanks and NULs as they are,
// bytes >= 0x80 as U+0080-U+00FF, so dump() never throws and nothing is lost; the text
// rendering still shows them sanitised.
TEST(SesJson, ElementDescriptorsAreLosslessAndValidUtf8) {
  SesConfig cfg;
  cfg.subenclosures.resize(1);
  cfg.subenclosures[0].vendor = "V";
  cfg.types = {TypeHeader{0x17, 3, 0, "Slots"}};
  auto config = encode_ses_config(cfg);
  const std::vector<std::string> descriptors = {"", " Bay 1  ", std::string("Bay 2\0\0", 7),
                                                std::string("Caf\xe9\x01\xff", 6)};
  auto page = encode_ses_element_descriptors(0, descriptors);
  ASSERT_TRUE(config.has_value() && page.has_value());
  Vec pages = *config;
  pages.insert(pages.end(), page->begin(), page->end());
  auto r = render_ses_pages(pages);
  ASSERT_TRUE(r.has_value());
  std::string dumped;
  ASSERT_NO_THROW(dumped = r->json.dump());
  const json doc = json::parse(dumped);
  const auto& e = doc["elements"];
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[1]["descriptor"], " Bay 1  ");
  EXPECT_EQ(e[2]["descriptor"], std::string("Bay 2\0\0", 7));
  EXPECT_EQ(e[3]["descriptor"],
            "Caf\u00e9"
            "\x01"
            "\u00ff");  // U+00E9 U+0001 U+00FF in UTF-8
  EXPECT_EQ(e[3]["descriptor_hex"], "43 61 66 e9 01 ff");
  EXPECT_EQ(e[0]["descriptor_hex"], "");
  EXPECT_NE(r->text.find("Description: Caf..."), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("Description:  Bay 1\n"), std::string::npos) << r->text;
}

// A 4 KiB page can declare ~250,000 elements; decoding stays linear (the AES mapping used to
// rescan the element list for every descriptor that fit nowhere).
TEST(SesJson, LargeDeclaredConfigurationsDecodeQuickly) {
  SesConfig cfg;
  cfg.subenclosures.resize(1);
  for (int t = 0; t < 250; ++t) {  // NUMBER OF TYPE DESCRIPTOR HEADERS is one byte
    cfg.types.push_back(TypeHeader{0x01, 255, 0, ""});
  }
  auto config_page = encode_ses_config(cfg);
  ASSERT_TRUE(config_page.has_value());
  Vec pages = *config_page;
  // 8000 SAS descriptors with the expander layout (type 1): no Device Slot can take them.
  Vec aes = {0x0a, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 8000; ++i) {
    aes.insert(aes.end(), {0x16, 0x04, 0x00, static_cast<std::uint8_t>(i), 0x00, 0x40});
  }
  aes[2] = static_cast<std::uint8_t>((aes.size() - 4) >> 8);
  aes[3] = static_cast<std::uint8_t>(aes.size() - 4);
  pages.insert(pages.end(), aes.begin(), aes.end());
  auto set = decode_ses_pages(pages);
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->config->element_count(), 250u * 256u);
  ASSERT_EQ(set->additional->descriptors.size(), 8000u);
  EXPECT_EQ(set->additional->descriptors[0].global_index, -1);
}

// shared/conformance/ses-real/areca-arc8028-p0*.md
TEST(SesRealCaptureFacts, ArecaConfiguration) {
  const auto cfg = areca()["configuration"];
  EXPECT_EQ(cfg["generation"], 0);
  ASSERT_EQ(cfg["subenclosures"].size(), 1u);
  const auto& s = cfg["subenclosures"][0];
  EXPECT_EQ(s["vendor"], "Areca");
  EXPECT_EQ(s["product"], "ARC-802801.33.63");
  EXPECT_EQ(s["revision"], "0133");
  EXPECT_EQ(s["logical_id"], "d5b401503fc0ec16");
  EXPECT_EQ(s["relative_es_process_id"], 1);
  EXPECT_EQ(s["es_process_count"], 1);
  EXPECT_EQ(s["vendor_specific"], "11 22 33 44 55 00 00 00");
  const std::vector<std::tuple<int, int, std::string>> types = {
      {0x17, 24, "ArrayDevicesInSubEnclsr0"},
      {0x0e, 1, "EnclosureElementInSubEnclsr0"},
      {0x18, 1, "SAS Expander"},
      {0x03, 5, "CoolingElementInSubEnclsr0"},
      {0x04, 2, "TempSensorsInSubEnclsr0"},
      {0x12, 2, "VoltageSensorsInSubEnclsr0"},
      {0x19, 3, "ConnectorsInSubEnclsr0"},
      {0x02, 2, "PowerSupplyInSubEnclsr0"},
      {0x06, 1, "AudibleAlarmInSubEnclsr0"}};
  ASSERT_EQ(cfg["types"].size(), types.size());
  for (std::size_t t = 0; t < types.size(); ++t) {
    EXPECT_EQ(cfg["types"][t]["element_type"], std::get<0>(types[t]));
    EXPECT_EQ(cfg["types"][t]["possible_elements"], std::get<1>(types[t]));
    EXPECT_EQ(cfg["types"][t]["text"], std::get<2>(types[t]));
  }
}

TEST(SesRealCaptureFacts, ArecaStatusDescriptorsAndAdditionalStatus) {
  const auto doc = areca();
  EXPECT_EQ(doc["enclosure_status"]["critical"], true);
  EXPECT_EQ(doc["enclosure_status"]["flags"], 0x02);
  const auto& e = doc["elements"];
  ASSERT_EQ(e.size(), 50u);
  for (const auto& el : e) {
    if (el["index"] == -1) {
      EXPECT_EQ(el["status"], "Unsupported") << el["global_index"];
    }
  }
  for (int slot = 0; slot < 24; ++slot) {
    const auto& el = e[static_cast<std::size_t>(slot + 1)];
    EXPECT_EQ(el["status"], slot == 18 ? "OK" : "Not installed") << slot;
    EXPECT_EQ(el["device_slot_number"], slot);
    char desc[16];
    std::snprintf(desc, sizeof desc, "SLOT %02d", slot + 1);  // 1-based descriptors
    // Byte for byte: the Areca pads its 8-byte slot names with a NUL.
    EXPECT_EQ(el["descriptor"], std::string(desc) + '\0');
  }
  EXPECT_EQ(e[19]["sas_addresses"], (json{"5000c5003011cb29"}));  // the disk in SLOT 19
  for (int slot = 12; slot <= 15; ++slot) {                       // a cascaded expander
    EXPECT_EQ(e[static_cast<std::size_t>(slot + 1)]["sas_addresses"], (json{"5001517e85c3efff"}));
  }
  // Enclosure, expander, cooling 0-3 not installed, CPUFan OK, sensors and connectors OK,
  // power supplies not installed, alarm OK.
  EXPECT_EQ(e[26]["status"], "OK");
  EXPECT_EQ(e[28]["status"], "OK");
  EXPECT_EQ(e[28]["sas_addresses"], (json{"5001b4d516ecc03f"}));
  for (int fan = 0; fan < 4; ++fan) {
    EXPECT_EQ(e[static_cast<std::size_t>(30 + fan)]["status"], "Not installed");
  }
  EXPECT_EQ(e[34]["descriptor"], std::string("CPUFan\0", 7));
  EXPECT_EQ(e[34]["status"], "OK");
  EXPECT_EQ(e[34]["actual_speed_rpm"], 7500);
  EXPECT_EQ(e[36]["status"], "OK");
  EXPECT_EQ(e[37]["status"], "OK");
  EXPECT_EQ(e[39]["status"], "OK");
  EXPECT_EQ(e[40]["status"], "OK");
  for (int c = 42; c <= 44; ++c) {
    EXPECT_EQ(e[static_cast<std::size_t>(c)]["status"], "OK");
  }
  EXPECT_EQ(e[46]["status"], "Not installed");
  EXPECT_EQ(e[47]["status"], "Not installed");
  EXPECT_EQ(e[49]["status"], "OK");
  // Page 0x0A: 24 slot descriptors (EIP=1, EIIOE=0) and the expander with 36 phys.
  const auto& aes = doc["additional_element_status"]["descriptors"];
  ASSERT_EQ(aes.size(), 25u);
  EXPECT_EQ(aes[24]["sas"]["expander_sas_address"], "5001b4d516ecc03f");
  EXPECT_EQ(aes[24]["sas"]["expander_phys"].size(), 36u);
  EXPECT_EQ(aes[24]["global_index"], 28);
  EXPECT_EQ(aes[13]["sas"]["phys"][0]["phy_id"], 0x15);
  EXPECT_EQ(aes[13]["sas"]["phys"][0]["device_type"], 2);
  EXPECT_EQ(aes[18]["sas"]["phys"][0]["ssp_target"], true);
  EXPECT_TRUE(warned(doc, "descriptor 24: element index 0 (EIIOE 0) names no element"));
}

TEST(SesRealCaptureFacts, ArecaOtherPages) {
  const auto doc = areca();
  EXPECT_EQ(doc["supported_diagnostic_pages"]["pages"],
            (json{0x00, 0x01, 0x02, 0x04, 0x05, 0x07, 0x0a, 0x0d, 0x0e, 0x0f, 0x3f}));
  EXPECT_EQ(doc["supported_ses_pages"]["pages"],
            (json{0x01, 0x02, 0x04, 0x05, 0x07, 0x0a, 0x0d, 0x0e, 0x0f}));
  EXPECT_EQ(doc["threshold_in"]["thresholds"].size(), 48u);
  EXPECT_TRUE(warned(doc, "48 threshold elements, the configuration implies 50"));
  EXPECT_EQ(doc["download_microcode_status"]["subenclosures"][0]["maximum_size"], 1048576);
  EXPECT_EQ(doc["subenclosure_nickname_status"]["subenclosures"][0]["nickname"],
            "Eval Board Nickname Simulator");
}

// newisys-nds4600jd-0509-p*.md and newisys-nds4600jd-b507-p01.md
TEST(SesRealCaptureFacts, NewisysVendorTypeAndLongDescriptorPage) {
  const auto doc = render(test::real_captures(
      {"newisys-nds4600jd-0509-p00", "newisys-nds4600jd-0509-p01", "newisys-nds4600jd-0509-p04",
       "newisys-nds4600jd-0509-p07", "newisys-nds4600jd-0509-p80"}));
  EXPECT_EQ(doc["supported_diagnostic_pages"]["pages"],
            (json{0x00, 0x01, 0x02, 0x04, 0x05, 0x07, 0x0a, 0x0e, 0x80}));
  const auto& cfg = doc["configuration"];
  EXPECT_EQ(cfg["subenclosures"][0]["vendor_specific"], "01");
  EXPECT_EQ(cfg["types"][1]["element_type"], 0x9e);
  EXPECT_EQ(cfg["types"][1]["name"], "<Type 0x9e>");
  const auto& e = doc["elements"];
  ASSERT_EQ(e.size(), 90u);
  EXPECT_EQ(e[0]["descriptor"], "");
  EXPECT_EQ(e[1]["descriptor"], "SLOT  1 00  ");  // Trailing blanks kept, as page 0x07 has them.
  EXPECT_EQ(e[1]["descriptor_hex"], "53 4c 4f 54 20 20 31 20 30 30 20 20");
  EXPECT_EQ(e[60]["descriptor"], "SLOT 60 4B  ");
  EXPECT_EQ(doc["string_in"]["data"].get<std::string>().substr(0, 11), "00 00 1c 7d");
  ASSERT_EQ(doc["other_pages"].size(), 1u);
  EXPECT_EQ(doc["other_pages"][0]["page_code"], 0x80);
  EXPECT_TRUE(doc["warnings"].empty()) << doc["warnings"];

  const auto b507 = render(test::real_capture("newisys-nds4600jd-b507-p01"))["configuration"];
  EXPECT_EQ(b507["generation"], 1);
  const auto& s = b507["subenclosures"][0];
  EXPECT_EQ(s["vendor"], "NEWISYS");
  EXPECT_EQ(s["product"], "NDS-4600-JD");
  EXPECT_EQ(s["revision"], "B507");
  EXPECT_EQ(s["logical_id"], "500093d0006a7000");
  EXPECT_EQ(s["relative_es_process_id"], 1);
  EXPECT_EQ(s["es_process_count"], 2);
  const std::vector<std::tuple<int, int, std::string>> types = {
      {0x17, 60, "Array Dev Slot"}, {0x9e, 1, "4600 Enclosure"}, {0x02, 2, "Power Supply"},
      {0x03, 4, "Cooling Fan"},     {0x04, 6, "Temp Sensor"},    {0x06, 1, "Buzzer"},
      {0x07, 2, "ES Processor"},    {0x18, 6, "SAS Expander"}};
  ASSERT_EQ(b507["types"].size(), types.size());
  for (std::size_t t = 0; t < types.size(); ++t) {
    EXPECT_EQ(b507["types"][t]["element_type"], std::get<0>(types[t]));
    EXPECT_EQ(b507["types"][t]["possible_elements"], std::get<1>(types[t]));
    const auto text = b507["types"][t]["text"].get<std::string>();
    EXPECT_EQ(text.size(), 16u);  // space padded, kept raw
    EXPECT_EQ(text.substr(0, std::get<2>(types[t]).size()), std::get<2>(types[t]));
  }
}

// emc-tabasco-lcc{a,b}-p01.md: 5 subenclosures, 24 type headers, ESES vendor data.
TEST(SesRealCaptureFacts, EmcTabascoSubenclosuresAndVendorData) {
  const struct {
    const char* name;
    int generation;
    int side;
    char side_name;
    const char* serial;
  } views[] = {{"emc-tabasco-lcca-p01", 0x09, 0x80, 'A', "CF2DB140900089"},
               {"emc-tabasco-lccb-p01", 0x0d, 0x81, 'B', "CF2DB140900134"}};
  for (const auto& v : views) {
    auto cfg = parse_ses_config(test::real_capture(v.name));
    ASSERT_TRUE(cfg.has_value()) << v.name;
    EXPECT_EQ(cfg->generation, static_cast<std::uint32_t>(v.generation));
    ASSERT_EQ(cfg->subenclosures.size(), 5u);
    EXPECT_EQ(cfg->types.size(), 24u);
    const std::vector<int> counts = {10, 5, 3, 3, 3};
    for (std::size_t s = 0; s < 5; ++s) {
      EXPECT_EQ(cfg->subenclosures[s].id, s);
      EXPECT_EQ(cfg->subenclosures[s].type_header_count, counts[s]);
    }
    const auto& vs = cfg->subenclosures[0].vendor_specific;  // descriptor bytes 40..
    ASSERT_GE(vs.size(), 24u);
    EXPECT_EQ(vs[0], 0x07);  // LCC
    EXPECT_EQ(vs[1], v.side);
    EXPECT_EQ(vs[2], v.side_name);
    EXPECT_EQ(std::string(vs.begin() + 7, vs.begin() + 21), v.serial);
    EXPECT_EQ(vs[23], 4);  // version descriptors
    EXPECT_TRUE(test::has_warning(cfg->warnings, "padded with NULs"));
  }
}

}  // namespace
}  // namespace ucam::scsi::ses
