// scsi/ses.h: names, Configuration and the element map, Enclosure Status/Control, Element
// Descriptor and Additional Element Status, against the oracle vectors (facts stated in
// shared/reference/anchors-and-users.md §4) and by round trip.
#include <gtest/gtest.h>

#include <algorithm>

#include "base/hex.h"
#include "scsi/diag.h"
#include "scsi/ses.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi::ses {
namespace {

using Vec = std::vector<std::uint8_t>;

// Page `code` of a multi-page conformance vector.
Vec page_of(const Vec& all, std::uint8_t code) {
  auto pages = split_diag_pages(all);
  EXPECT_TRUE(pages.has_value());
  for (const auto& p : *pages) {
    if (p.header.page_code == code) {
      const auto* start = p.body.data() - 4;
      return Vec(start, start + p.header.total());
    }
  }
  ADD_FAILURE() << "no page " << int{code};
  return {};
}

SesConfig acme_config() {
  auto cfg = parse_ses_config(page_of(test::oracle_vector("all.hex"), 0x01));
  EXPECT_TRUE(cfg.has_value());
  return *cfg;
}

bool has_warning(const std::vector<std::string>& warnings, const std::string& needle) {
  return std::any_of(warnings.begin(), warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

TEST(SesNames, ElementTypesUseKernelNamesAndHexForUnknown) {
  EXPECT_EQ(element_type_name(0x00), "Unspecified");
  EXPECT_EQ(element_type_name(0x01), "Device Slot");
  EXPECT_EQ(element_type_name(0x06), "Audible alarm");
  EXPECT_EQ(element_type_name(0x07), "Enclosure Services Controller Electronics");
  EXPECT_EQ(element_type_name(0x17), "Array Device Slot");
  EXPECT_EQ(element_type_name(0x19), "SAS Connector");
  EXPECT_EQ(element_type_name(0x1a), "<Type 0x1a>");
  EXPECT_EQ(element_type_name(0x9e), "<Type 0x9e>");
  EXPECT_EQ(element_type_sesutil_name(0x05), "Door Lock");
  EXPECT_EQ(element_type_sesutil_name(0x06), "Audible Alarm");
  EXPECT_EQ(element_type_sesutil_name(0x9e), "<Type 0x9e>");
  EXPECT_EQ(element_type_sesutil_name(0x1a), "<Type 0x1a>");
}

TEST(SesNames, StatusCodesUseTheContractNames) {
  const std::vector<std::string> names = {
      "Unsupported",   "OK",      "Critical",      "Noncritical",       "Unrecoverable",
      "Not installed", "Unknown", "Not available", "No access allowed",
  };
  for (std::uint8_t c = 0; c < names.size(); ++c) {
    EXPECT_EQ(element_status_name(c), names[c]);
  }
  EXPECT_EQ(element_status_name(9), "<Status 0x9>");
  EXPECT_EQ(element_status_name(15), "<Status 0xf>");
  EXPECT_EQ(page_name(0x0a), "Additional Element Status");
  EXPECT_EQ(page_name(0x80), "Vendor specific (0x80)");
  EXPECT_EQ(page_name(0x40), "<Page 0x40>");
}

TEST(SesConfigParse, DecodesTheAcmeVector) {
  const auto cfg = acme_config();
  EXPECT_EQ(cfg.generation, 1u);
  ASSERT_EQ(cfg.subenclosures.size(), 1u);
  const auto& s = cfg.subenclosures[0];
  EXPECT_EQ(s.id, 0);
  EXPECT_EQ(s.relative_es_process_id, 1);
  EXPECT_EQ(s.es_process_count, 1);
  EXPECT_EQ(s.type_header_count, 2);
  EXPECT_EQ(hex64(s.logical_id), "5000c50012345678");
  EXPECT_EQ(s.vendor, "ACME");
  EXPECT_EQ(s.product, "TESTJBOD4");
  EXPECT_EQ(s.revision, "0001");
  EXPECT_TRUE(s.vendor_specific.empty());
  ASSERT_EQ(cfg.types.size(), 2u);
  EXPECT_EQ(cfg.types[0], (TypeHeader{0x01, 4, 0, "Slots"}));
  EXPECT_EQ(cfg.types[1], (TypeHeader{0x04, 1, 0, "Temp"}));
  EXPECT_EQ(cfg.element_count(), 7u);
  EXPECT_TRUE(cfg.warnings.empty());
}

TEST(SesConfigEncode, RoundTripsByteExact) {
  const auto page = page_of(test::oracle_vector("all.hex"), 0x01);
  auto cfg = parse_ses_config(page);
  ASSERT_TRUE(cfg.has_value());
  auto back = encode_ses_config(*cfg);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(hex_string(*back), hex_string(page));
}

TEST(SesConfigEncode, RecomputesHeaderCountsAndRejectsUngroupedTypes) {
  SesConfig cfg;
  cfg.generation = 7;
  cfg.subenclosures.resize(2);
  cfg.subenclosures[0].vendor = "V";
  cfg.subenclosures[1].id = 3;
  cfg.types = {TypeHeader{0x17, 2, 0, "a"}, TypeHeader{0x02, 1, 3, "b"},
               TypeHeader{0x03, 1, 3, ""}};
  auto page = encode_ses_config(cfg);
  ASSERT_TRUE(page.has_value());
  auto back = parse_ses_config(*page);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->subenclosures[0].type_header_count, 1);
  EXPECT_EQ(back->subenclosures[1].type_header_count, 2);
  EXPECT_EQ(back->types, cfg.types);
  std::swap(cfg.types[0], cfg.types[1]);
  EXPECT_FALSE(encode_ses_config(cfg).has_value());
}

TEST(SesConfigParse, RejectsWrongPageAndCutStructure) {
  auto page = page_of(test::oracle_vector("all.hex"), 0x01);
  auto wrong = page;
  wrong[0] = 0x02;
  EXPECT_FALSE(parse_ses_config(wrong).has_value());
  // Cut inside the type headers: no element count can be trusted.
  EXPECT_FALSE(parse_ses_config(Bytes(page).first(8 + 40 + 6)).has_value());
  // Cut inside the texts: decoded, with a warning.
  auto cut = parse_ses_config(Bytes(page).first(page.size() - 2));
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->types[1].text, "Te");
  EXPECT_TRUE(has_warning(cut->warnings, "page cut"));
  EXPECT_TRUE(has_warning(cut->warnings, "text 1 cut"));
}

TEST(SesElementMap, ListsOverallThenIndividualPerType) {
  const auto map = build_element_map(acme_config());
  ASSERT_EQ(map.size(), 7u);
  EXPECT_EQ(map[0], (ElementRef{0, 0, -1, -1, 0x01, 0}));
  EXPECT_EQ(map[1], (ElementRef{1, 0, 0, 0, 0x01, 0}));
  EXPECT_EQ(map[4], (ElementRef{4, 0, 3, 3, 0x01, 0}));
  EXPECT_EQ(map[5], (ElementRef{5, 1, -1, -1, 0x04, 0}));
  EXPECT_EQ(map[6], (ElementRef{6, 1, 0, 4, 0x04, 0}));
  EXPECT_EQ(type_element_index(map[0]), 0);
  EXPECT_EQ(type_element_index(map[1]), 1);
  EXPECT_EQ(global_index_of_individual(map, 4), 6);
  EXPECT_EQ(global_index_of_individual(map, 5), -1);
  EXPECT_EQ(global_index_of_individual(map, -1), -1);
}

TEST(SesStatusParse, DecodesTheAcmeVector) {
  const auto all = test::oracle_vector("all.hex");
  auto st = parse_ses_status(page_of(all, 0x02), acme_config());
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(st->generation, 1u);
  EXPECT_EQ(st->flags, 0);
  ASSERT_EQ(st->elements.size(), 7u);
  EXPECT_EQ(status_code(st->elements[1]), 1);  // Slot00 OK
  EXPECT_EQ(status_code(st->elements[3]), 2);  // Slot02 Critical, fault sensed + requested
  EXPECT_EQ(st->elements[3][3], 0x60);
  EXPECT_EQ(status_code(st->elements[4]), 5);  // Slot03 Not installed
  EXPECT_EQ(st->elements[6][2], 0x2d);         // 25 C
  EXPECT_FALSE(st->generation_mismatch);
  EXPECT_TRUE(st->warnings.empty());
}

TEST(SesStatusParse, ReportsGenerationMismatch) {
  auto st = parse_ses_status(page_of(test::oracle_vector("mism.hex"), 0x02), acme_config());
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->generation_mismatch);
  EXPECT_EQ(st->generation, 2u);
  EXPECT_TRUE(has_warning(st->warnings, "generation code 0x2 differs"));
  EXPECT_EQ(st->elements.size(), 7u);  // still decoded
}

TEST(SesStatusParse, KeepsTheElementsOfAShortPageAndDropsExtras) {
  auto page = page_of(test::oracle_vector("all.hex"), 0x02);
  const auto cfg = acme_config();
  Vec shorter(page.begin(), page.end() - 8);
  shorter[3] = static_cast<std::uint8_t>(shorter.size() - 4);
  auto st = parse_ses_status(shorter, cfg);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->elements.size(), 5u);
  EXPECT_TRUE(has_warning(st->warnings, "5 status elements, the configuration implies 7"));
  Vec longer = page;
  longer.insert(longer.end(), {1, 0, 0, 0});
  longer[3] = static_cast<std::uint8_t>(longer.size() - 4);
  st = parse_ses_status(longer, cfg);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->elements.size(), 7u);
  EXPECT_TRUE(has_warning(st->warnings, "extra elements ignored"));
}

TEST(SesStatusParse, RecognisesTheShortEnclosureStatusReply) {
  auto st = parse_ses_status(Vec{0x08, 0x5a, 0x00, 0x00}, acme_config());
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->is_short);
  EXPECT_EQ(st->short_status, 0x5a);
  EXPECT_TRUE(st->elements.empty());
  EXPECT_EQ(encode_ses_short_status(0x5a), (Vec{0x08, 0x5a, 0, 0}));
  EXPECT_FALSE(encode_ses_control(*st, 1, 0, {}).has_value());
}

TEST(SesStatusEncode, RoundTripsByteExact) {
  const auto page = page_of(test::oracle_vector("all.hex"), 0x02);
  auto st = parse_ses_status(page, acme_config());
  ASSERT_TRUE(st.has_value());
  auto back = encode_ses_status(*st);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, page);
}

TEST(SesControl, MasksPerTypeKeepByteZeroPrdfailAndDisable) {
  EXPECT_EQ(control_mask(0x01), (ElementBytes{0x60, 0x00, 0x4e, 0x3c}));
  EXPECT_EQ(control_mask(0x17), (ElementBytes{0x60, 0xff, 0x4e, 0x3c}));
  for (int t = 0; t <= 0xff; ++t) {
    EXPECT_EQ(control_mask(static_cast<std::uint8_t>(t))[0], 0x60) << t;
  }
  // Device slot status with everything set: the read-only bits go.
  EXPECT_EQ(status_to_control(0x01, ElementBytes{0xff, 0xff, 0xff, 0xff}),
            (ElementBytes{0x60, 0x00, 0x4e, 0x3c}));
}

TEST(SesControl, SlotRequestsSetSelectAndTheRequestBit) {
  // Slot02 of the vector: Critical, fault sensed + fault requested.
  const ElementBytes status{0x02, 0x02, 0x00, 0x60};
  auto ident = slot_control(0x01, status, SlotRequest::Ident, Turn::On);
  ASSERT_TRUE(ident.has_value());
  EXPECT_EQ(*ident, (ElementBytes{0x80, 0x00, 0x02, 0x20}));  // fault request kept
  auto fault_off = slot_control(0x17, status, SlotRequest::Fault, Turn::Off);
  ASSERT_TRUE(fault_off.has_value());
  EXPECT_EQ(*fault_off, (ElementBytes{0x80, 0x02, 0x00, 0x00}));
  EXPECT_FALSE(slot_control(0x04, status, SlotRequest::Ident, Turn::On).has_value());
}

TEST(SesControl, EncodesOnlyTheChangedElementsWithSelect) {
  auto st = parse_ses_status(page_of(test::oracle_vector("all.hex"), 0x02), acme_config());
  ASSERT_TRUE(st.has_value());
  auto ident = slot_control(0x01, st->elements[2], SlotRequest::Ident, Turn::On);
  ASSERT_TRUE(ident.has_value());
  const std::vector<ElementChange> changes = {{2, *ident}};
  auto page = encode_ses_control(*st, st->generation, 0x1f, changes);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(hex_string(*page),
            "02 0f 00 20 00 00 00 01 00 00 00 00 00 00 00 00 80 00 02 00 00 00 00 00 00 00 00 00 "
            "00 00 00 00 00 00 00 00");
  const std::vector<ElementChange> bad = {{7, *ident}};
  EXPECT_FALSE(encode_ses_control(*st, 1, 0, bad).has_value());
  const std::vector<ElementChange> twice = {{1, *ident}, {1, *ident}};
  EXPECT_FALSE(encode_ses_control(*st, 1, 0, twice).has_value());
}

TEST(SesElementDescriptorParse, DecodesTheAcmeVectorAndRoundTrips) {
  const auto page = page_of(test::oracle_vector("all.hex"), 0x07);
  auto ed = parse_ses_element_descriptors(page, acme_config());
  ASSERT_TRUE(ed.has_value());
  EXPECT_EQ(ed->text, (std::vector<std::string>{"AllSlots", "Slot00", "Slot01", "Slot02", "Slot03",
                                                "", "Ambient"}));
  EXPECT_TRUE(ed->warnings.empty());
  auto back = encode_ses_element_descriptors(ed->generation, ed->raw);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, page);
}

TEST(SesElementDescriptorParse, SanitisesPaddedAndNonPrintableText) {
  const std::vector<std::string> raw = {"",
                                        std::string("Bay 1\0\0\0", 8),
                                        "Bay\x01"
                                        "2  ",
                                        "",
                                        "ok  ",
                                        "",
                                        "x"};
  auto page = encode_ses_element_descriptors(1, raw);
  ASSERT_TRUE(page.has_value());
  auto ed = parse_ses_element_descriptors(*page, acme_config());
  ASSERT_TRUE(ed.has_value());
  EXPECT_EQ(ed->text[1], "Bay 1");
  EXPECT_EQ(ed->text[2], "Bay.2");
  EXPECT_EQ(ed->text[4], "ok");
  EXPECT_EQ(ed->raw[1], raw[1]);
  EXPECT_TRUE(has_warning(ed->warnings, "NUL bytes in the descriptors of elements 1"));
  EXPECT_TRUE(has_warning(ed->warnings, "non-printable bytes in the descriptors of elements 2"));
}

TEST(SesAdditionalStatusParse, DecodesTheAcmeVector) {
  auto aes =
      parse_ses_additional_status(page_of(test::oracle_vector("all.hex"), 0x0a), acme_config());
  ASSERT_TRUE(aes.has_value()) << aes.error().message();
  ASSERT_EQ(aes->descriptors.size(), 4u);
  EXPECT_TRUE(aes->warnings.empty()) << aes->warnings[0];
  for (int i = 0; i < 4; ++i) {
    const auto& d = aes->descriptors[static_cast<std::size_t>(i)];
    EXPECT_TRUE(d.eip);
    EXPECT_EQ(d.eiioe, 0);
    EXPECT_EQ(d.protocol, 6);
    EXPECT_EQ(d.global_index, i + 1);
    ASSERT_TRUE(d.sas.has_value());
    EXPECT_EQ(d.sas->device_slot_number, i);
    ASSERT_EQ(d.sas->phys.size(), 1u);
  }
  const auto& p0 = aes->descriptors[0].sas->phys[0];
  EXPECT_EQ(p0.device_type, 1);
  EXPECT_TRUE(p0.ssp_target);
  EXPECT_EQ(hex64(p0.attached_sas_address), "5000c50012345640");
  EXPECT_EQ(hex64(p0.sas_address), "5000cca000000010");
  EXPECT_EQ(aes->descriptors[2].sas->phys[0].phy_id, 2);
  EXPECT_EQ(aes->find(4), &aes->descriptors[3]);
  EXPECT_EQ(aes->find(5), nullptr);
}

TEST(SesAdditionalStatusParse, Eiioe1CountsOverallElements) {
  auto aes =
      parse_ses_additional_status(page_of(test::oracle_vector("eiioe1.hex"), 0x0a), acme_config());
  ASSERT_TRUE(aes.has_value());
  ASSERT_EQ(aes->descriptors.size(), 4u);
  EXPECT_TRUE(aes->warnings.empty());
  for (int i = 0; i < 4; ++i) {
    const auto& d = aes->descriptors[static_cast<std::size_t>(i)];
    EXPECT_EQ(d.eiioe, 1);
    EXPECT_EQ(d.element_index, i + 1);
    EXPECT_EQ(d.global_index, i + 1);  // Slot0i, not shifted by one
    EXPECT_EQ(d.sas->device_slot_number, 10 + i);
  }
  EXPECT_EQ(hex64(aes->descriptors[3].sas->phys[0].sas_address), "5000cca000000013");
}

TEST(SesAdditionalStatusParse, FallsBackToTheOtherIndexingWhenTheIndexCannotBeRight) {
  // EIIOE=0 but indexes 1..4 (an HP-style enclosure): index 4 read as individual is the
  // temperature sensor, which cannot carry additional status.
  auto page = page_of(test::oracle_vector("eiioe1.hex"), 0x0a);
  for (std::size_t off = 8; off < page.size(); off += 36) {
    page[off + 2] = 0;
  }
  auto aes = parse_ses_additional_status(page, acme_config());
  ASSERT_TRUE(aes.has_value());
  EXPECT_EQ(aes->descriptors[0].global_index, 2);  // individual 1 = Slot01
  EXPECT_EQ(aes->descriptors[3].global_index, 4);  // fell back to global
  EXPECT_TRUE(has_warning(aes->warnings, "read as a global index instead"));
  auto forced = parse_ses_additional_status(page, acme_config(), EiioePolicy::ForceGlobal);
  ASSERT_TRUE(forced.has_value());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(forced->descriptors[static_cast<std::size_t>(i)].global_index, i + 1);
  }
  EXPECT_TRUE(forced->warnings.empty());
}

TEST(SesAdditionalStatusEncode, RoundTripsTheVectorsByteExact) {
  for (const char* name : {"all.hex", "eiioe1.hex"}) {
    const auto page = page_of(test::oracle_vector(name), 0x0a);
    auto aes = parse_ses_additional_status(page, acme_config());
    ASSERT_TRUE(aes.has_value());
    auto back = encode_ses_additional_status(acme_config(), aes->generation, aes->descriptors);
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(hex_string(*back), hex_string(page)) << name;
  }
}

TEST(SesAdditionalStatusEncode, RejectsIndexesEiioeCannotExpress) {
  AesDescriptor d;
  d.eip = true;
  d.eiioe = 0;
  d.protocol = 6;
  d.global_index = 0;  // the overall device slot element
  d.sas = SasInfo{};
  const std::vector<AesDescriptor> v{d};
  EXPECT_FALSE(encode_ses_additional_status(acme_config(), 1, v).has_value());
  auto global = v;
  global[0].eiioe = 1;
  EXPECT_TRUE(encode_ses_additional_status(acme_config(), 1, global).has_value());
  global[0].global_index = 9;
  EXPECT_FALSE(encode_ses_additional_status(acme_config(), 1, global).has_value());
}

// Every prefix of every page decodes or fails cleanly; ASan/UBSan catch reads past the end.
TEST(SesCorePages, EveryPrefixIsSafe) {
  const auto cfg = acme_config();
  for (const char* name : {"all.hex", "eiioe1.hex", "mism.hex"}) {
    const auto all = test::oracle_vector(name);
    test::for_each_prefix(page_of(all, 0x01), [](Bytes b) { (void)parse_ses_config(b); });
    test::for_each_prefix(page_of(all, 0x02), [&](Bytes b) {
      auto st = parse_ses_status(b, cfg);
      if (st && b.size() >= 8) {
        EXPECT_EQ(st->elements.size(), std::min<std::size_t>(7, (b.size() - 8) / 4));
      }
    });
    test::for_each_prefix(page_of(all, 0x07),
                          [&](Bytes b) { (void)parse_ses_element_descriptors(b, cfg); });
    test::for_each_prefix(page_of(all, 0x0a),
                          [&](Bytes b) { (void)parse_ses_additional_status(b, cfg); });
  }
}

TEST(SesCorePages, RandomBuffersAreSafe) {
  const auto cfg = acme_config();
  test::for_random_buffers(20000, 96, [&](Bytes b) {
    std::vector<std::uint8_t> v(b.begin(), b.end());
    for (std::uint8_t code : {0x01, 0x02, 0x07, 0x0a}) {
      if (!v.empty()) {
        v[0] = code;
      }
      (void)parse_ses_config(v);
      (void)parse_ses_status(v, cfg);
      (void)parse_ses_element_descriptors(v, cfg);
      (void)parse_ses_additional_status(v, cfg);
    }
  });
}

}  // namespace
}  // namespace ucam::scsi::ses
