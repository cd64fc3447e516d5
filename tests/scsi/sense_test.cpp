#include "scsi/sense.h"

#include <gtest/gtest.h>

#include <random>

#include "base/hex.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

using Vec = std::vector<std::uint8_t>;

Vec bytes_of(std::string_view hex) {
  return *parse_hex(hex);
}

// sense_code() reads only the triple, and agrees with the full decoder on both formats.
TEST(SenseCode, KeyAscAscqOfFixedAndDescriptorSenseAndNothingElse) {
  const auto fixed = encode_fixed_sense(0x06, 0x28, 0x01, {});
  ASSERT_TRUE(fixed);
  EXPECT_EQ(sense_code(*fixed), kImportExportAccessed);
  EXPECT_EQ(sense_code(*fixed), parse_sense(*fixed)->code());
  SenseFields deferred;
  deferred.deferred = true;
  const auto desc = encode_descriptor_sense(0x02, 0x04, 0x01, deferred);
  ASSERT_TRUE(desc);
  EXPECT_EQ(sense_code(*desc), kBecomingReady);
  EXPECT_EQ(sense_code(*desc), parse_sense(*desc)->code());
  // Too short for the format, another response code, nothing.
  EXPECT_FALSE(sense_code(Bytes(fixed->data(), 13)).has_value());
  EXPECT_EQ(sense_code(Bytes(fixed->data(), 14)), kImportExportAccessed);
  EXPECT_FALSE(sense_code(Bytes(desc->data(), 3)).has_value());
  const Vec vendor{0x7f, 0x00, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00};
  EXPECT_FALSE(sense_code(vendor).has_value());
  EXPECT_FALSE(sense_code(Bytes()).has_value());
}

TEST(SenseParse, DecodesFixedUnitAttentionVector) {
  auto s = parse_sense(test::oracle_vector("sense.hex"));
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->format, SenseFormat::Fixed);
  EXPECT_FALSE(s->deferred);
  EXPECT_EQ(s->code(), (SenseCode{0x06, 0x29, 0x00}));
  EXPECT_FALSE(s->information_valid);
  EXPECT_FALSE(s->truncated);
  EXPECT_FALSE(s->sense_key_specific.has_value());
  EXPECT_EQ(describe_sense(*s),
            "Fixed format, current; Sense key: Unit Attention; Additional sense: Power on, reset, "
            "or bus device reset occurred");
}

TEST(SenseParse, DecodesDescriptorFieldPointer) {
  auto s = parse_sense(bytes_of("72 05 24 00 00 00 00 08 02 06 00 00 c0 00 02 00"));
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->format, SenseFormat::Descriptor);
  EXPECT_EQ(s->code(), (SenseCode{0x05, 0x24, 0x00}));
  ASSERT_EQ(s->descriptors.size(), 1u);
  auto sks = s->sense_key_specific_info();
  ASSERT_TRUE(sks.has_value());
  const auto& fp = std::get<FieldPointerInfo>(*sks);
  EXPECT_TRUE(fp.command);
  EXPECT_FALSE(fp.bpv);
  EXPECT_EQ(fp.field_pointer, 2);
  EXPECT_EQ(describe_sense(*s),
            "Descriptor format, current; Sense key: Illegal Request; Additional sense: Invalid "
            "field in CDB; Field pointer: CDB byte 2");
}

TEST(SenseParse, DecodesFixedInformationFruAndRetryCount) {
  auto s = parse_sense(bytes_of("f1 00 23 00 00 12 34 0a 00 00 00 01 11 00 05 80 00 03"));
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->deferred);
  EXPECT_TRUE(s->information_valid);
  EXPECT_EQ(s->information, 0x1234u);
  EXPECT_EQ(s->command_specific, 1u);
  EXPECT_EQ(s->fru_code, 5);
  EXPECT_TRUE(s->ili);
  EXPECT_EQ(s->sense_key, 3);
  EXPECT_EQ(std::get<ActualRetryCount>(*s->sense_key_specific_info()).count, 3);
  EXPECT_EQ(describe_sense(*s),
            "Fixed format, deferred; Sense key: Medium Error; Additional sense: Unrecovered read "
            "error; Information: 0x1234; Command-specific: 0x1; Actual retry count: 3; Field "
            "replaceable unit: 0x05; ILI");
}

TEST(SenseParse, DecodesEveryKnownDescriptor) {
  SenseFields f;
  f.information = 0x1122334455667788ULL;
  f.command_specific = 0x99;
  f.sense_key_specific = ProgressIndication{0x4000};
  f.fru_code = 7;
  f.filemark = true;
  f.eom = true;
  f.ili = true;
  f.ata_status = AtaStatusReturn{true, 0x04, 0x0105, 0x442200553311ULL, 0x40, 0x51};
  f.another_progress = {AnotherProgress{5, 0x24, 0, 0x8000}};
  f.extra_descriptors = {SenseDescriptor{0x80, {1, 2, 3}}};
  auto bytes = encode_descriptor_sense(0x02, 0x04, 0x04, f);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message();
  auto s = parse_sense(*bytes);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_TRUE(s->information_valid);
  EXPECT_EQ(s->information, *f.information);
  EXPECT_EQ(s->command_specific, f.command_specific);
  EXPECT_EQ(std::get<ProgressIndication>(*s->sense_key_specific_info()).progress, 0x4000);
  EXPECT_EQ(s->fru_code, 7);
  EXPECT_TRUE(s->filemark && s->eom && s->ili);
  EXPECT_EQ(s->ata_status, f.ata_status);
  EXPECT_EQ(s->another_progress, f.another_progress);
  ASSERT_EQ(s->descriptors.size(), 8u);
  EXPECT_EQ(s->descriptors.back(), f.extra_descriptors.back());
  EXPECT_EQ(describe_sense(*s),
            "Descriptor format, current; Sense key: Not Ready; Additional sense: Logical unit not "
            "ready, format in progress; Information: 0x1122334455667788; Command-specific: 0x99; "
            "Progress: 25.00%; Field replaceable unit: 0x07; Filemark; EOM; ILI; ATA status: "
            "0x51, error: 0x04; Another progress: 0x05/0x24/0x00 50.00%; Descriptor 0x80 (5 "
            "bytes)");
}

TEST(SenseParse, RejectsTruncatedDescriptor) {
  // ADDITIONAL SENSE LENGTH 8 but the descriptor claims 10 more bytes.
  auto s = parse_sense(bytes_of("72 05 24 00 00 00 00 08 00 0a 80 00 00 00 00 00"));
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("runs past"), std::string::npos) << s.error().message();
}

TEST(SenseParse, RejectsKnownDescriptorShorterThanDefined) {
  auto s = parse_sense(bytes_of("72 05 24 00 00 00 00 04 02 02 80 00"));
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("needs 6"), std::string::npos) << s.error().message();
}

TEST(SenseParse, RejectsUnknownResponseCodes) {
  EXPECT_FALSE(parse_sense(Vec{}).has_value());
  EXPECT_FALSE(parse_sense(bytes_of("7f 00 05 00")).has_value());
  EXPECT_FALSE(parse_sense(bytes_of("00 00 05 00")).has_value());
  EXPECT_FALSE(parse_sense(bytes_of("74 00 05 00")).has_value());
}

TEST(SenseParse, BufferCutByAllocationLengthKeepsCompleteFields) {
  const auto full = bytes_of(
      "72 02 04 01 00 00 00 18 00 0a 80 00 00 00 00 00 00 00 12 34 "
      "03 02 00 09 02 06 00 00 80 00 10 00");
  auto cut = parse_sense(Bytes(full).first(24));  // FRU complete, SKS descriptor cut
  ASSERT_TRUE(cut.has_value()) << cut.error().message();
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->information, 0x1234u);
  EXPECT_EQ(cut->fru_code, 9);
  EXPECT_FALSE(cut->sense_key_specific.has_value());
  EXPECT_NE(describe_sense(*cut).find("; Truncated"), std::string::npos);
}

TEST(SenseParse, FixedWithShortAdditionalLengthHasNoAscBeyondIt) {
  auto s = parse_sense(bytes_of("70 00 05 00 00 00 00 04 00 00 00 00 24 00 00 00 00 00"));
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->truncated);
  EXPECT_EQ(s->asc, 0);  // byte 12 lies beyond 8 + 4
  EXPECT_FALSE(s->command_specific.has_value() && *s->command_specific != 0);
}

TEST(SenseParse, EveryPrefixIsAnErrorOrConsistent) {
  SenseFields f;
  f.information = 0xabcdef;
  f.sense_key_specific = FieldPointerInfo{false, true, 3, 7};
  f.fru_code = 2;
  f.ata_status = AtaStatusReturn{};
  std::vector<Vec> vectors{test::oracle_vector("sense.hex"),
                           *encode_descriptor_sense(5, 0x26, 0, f)};
  f.ata_status.reset();
  vectors.push_back(*encode_fixed_sense(5, 0x26, 0, f));
  for (const Vec& v : vectors) {
    auto whole = parse_sense(v);
    ASSERT_TRUE(whole.has_value());
    test::for_each_prefix(v, [&](Bytes b) {
      auto s = parse_sense(b);
      EXPECT_EQ(s.has_value(), !b.empty()) << b.size();
      if (s && b.size() < v.size()) {
        EXPECT_TRUE(s->truncated) << b.size();
        EXPECT_EQ(s->format, whole->format);
        EXPECT_LE(s->descriptors.size(), whole->descriptors.size());
        (void)describe_sense(*s);
      }
    });
  }
}

TEST(SenseParse, RandomBytesNeverCrash) {
  std::size_t parsed = 0;
  test::for_random_buffers(30000, 64, [&](Bytes b) {
    std::vector<std::uint8_t> v(b.begin(), b.end());
    if (!v.empty()) {
      v[0] = static_cast<std::uint8_t>(0x70 | (v[0] & 0x83));  // mostly valid codes
    }
    if (auto s = parse_sense(v)) {
      ++parsed;
      (void)describe_sense(*s);
    }
  });
  EXPECT_GT(parsed, 1000u);
}

TEST(SenseEncode, FixedRoundTripsEveryField) {
  SenseFields f;
  f.deferred = true;
  f.information = 0xfedcba98;
  f.command_specific = 0x01020304;
  f.sense_key_specific = SegmentPointer{true, true, 5, 0x1234};
  f.fru_code = 0x42;
  f.filemark = true;
  f.eom = true;
  f.ili = true;
  auto bytes = encode_fixed_sense(0x0a, 0x0d, 0x00, f);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(hex_string(*bytes), "f1 00 ea fe dc ba 98 0a 01 02 03 04 0d 00 42 ad 12 34");
  auto s = parse_sense(*bytes);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->deferred);
  EXPECT_EQ(s->information, 0xfedcba98u);
  EXPECT_EQ(s->command_specific, 0x01020304u);
  EXPECT_EQ(std::get<SegmentPointer>(*s->sense_key_specific_info()),
            (SegmentPointer{true, true, 5, 0x1234}));
  EXPECT_EQ(s->fru_code, 0x42);
}

TEST(SenseEncode, FixedRejectsWideInformationAndDescriptors) {
  SenseFields f;
  f.information = 0x100000000ULL;
  EXPECT_FALSE(encode_fixed_sense(5, 0x24, 0, f).has_value());
  f.information.reset();
  f.ata_status = AtaStatusReturn{};
  EXPECT_FALSE(encode_fixed_sense(5, 0x24, 0, f).has_value());
  EXPECT_FALSE(encode_fixed_sense(0x10, 0, 0).has_value());
  SenseFields bad;
  bad.sense_key_specific = FieldPointerInfo{true, true, 8, 0};
  EXPECT_FALSE(encode_fixed_sense(5, 0x24, 0, bad).has_value());
}

TEST(SenseEncode, DescriptorRejectsMoreThan252Bytes) {
  SenseFields f;
  f.extra_descriptors = {SenseDescriptor{0x80, Vec(200)}, SenseDescriptor{0x81, Vec(60)}};
  EXPECT_FALSE(encode_descriptor_sense(5, 0x24, 0, f).has_value());
}

TEST(SenseKeySpecific, DecodesPerSenseKey) {
  const std::array<std::uint8_t, 3> sks{0x81, 0x12, 0x34};
  EXPECT_TRUE(std::holds_alternative<ProgressIndication>(decode_sense_key_specific(0x0, sks)));
  EXPECT_TRUE(std::holds_alternative<ActualRetryCount>(decode_sense_key_specific(0x1, sks)));
  EXPECT_TRUE(std::holds_alternative<FieldPointerInfo>(decode_sense_key_specific(0x5, sks)));
  EXPECT_EQ(std::get<UnitAttentionQueue>(decode_sense_key_specific(0x6, sks)).overflow, true);
  EXPECT_TRUE(std::holds_alternative<SegmentPointer>(decode_sense_key_specific(0xa, sks)));
  EXPECT_TRUE(std::holds_alternative<RawSenseKeySpecific>(decode_sense_key_specific(0x7, sks)));
}

TEST(SenseForCdbError, CarriesFieldPointerOfDecoderError) {
  auto err = parse_inquiry_cdb(Vec{0x12, 0x02, 0, 0, 36, 0});
  ASSERT_FALSE(err.has_value());
  for (SenseFormat format : {SenseFormat::Fixed, SenseFormat::Descriptor}) {
    auto s = parse_sense(sense_for_cdb_error(err.error(), format));
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->code(), (SenseCode{5, 0x24, 0}));
    const auto fp = std::get<FieldPointerInfo>(*s->sense_key_specific_info());
    EXPECT_EQ(fp, (FieldPointerInfo{true, true, 1, 1}));
  }
  auto plain = parse_sense(sense_for_cdb_error(Error::invalid("x"), SenseFormat::Fixed));
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->sense_key_specific.has_value());
}

TEST(AscAscqText, CoversTableRangesAndVendorCodes) {
  EXPECT_EQ(asc_ascq_text(0x24, 0x00), "Invalid field in CDB");
  EXPECT_EQ(asc_ascq_text(0x04, 0x01), "Logical unit is in process of becoming ready");
  EXPECT_EQ(asc_ascq_text(0x3f, 0x12), "iSCSI IP address added");
  EXPECT_EQ(asc_ascq_text(0x4b, 0x0e), "PCIe fabric error");
  EXPECT_EQ(asc_ascq_text(0x29, 0x07), "I_T nexus loss occurred");
  EXPECT_EQ(asc_ascq_text(0x40, 0x81), "Diagnostic failure on component 0x81");
  EXPECT_EQ(asc_ascq_text(0x4d, 0x11), "Tagged overlapped commands (task tag 0x11)");
  EXPECT_EQ(asc_ascq_text(0x85, 0x11), "Vendor specific ASC 0x85 ASCQ 0x11");
  EXPECT_EQ(asc_ascq_text(0x24, 0x91), "Vendor specific ASC 0x24 ASCQ 0x91");
  EXPECT_EQ(asc_ascq_text(0x24, 0x61), "Reserved ASC 0x24 ASCQ 0x61");
  EXPECT_EQ(asc_ascq_text(0x40, 0x11), "Reserved ASC 0x40 ASCQ 0x11");  // T10: 80h-FFh only
  EXPECT_TRUE(asc_ascq_known(0x5d, 0x6c));
  EXPECT_FALSE(asc_ascq_known(0x0f, 0x00));
}

TEST(SenseKeyName, NamesAllSixteenKeys) {
  EXPECT_EQ(sense_key_name(0x0), "No Sense");
  EXPECT_EQ(sense_key_name(0x5), "Illegal Request");
  EXPECT_EQ(sense_key_name(0xc), "Reserved [0xc]");
  EXPECT_EQ(sense_key_name(0xf), "Completed");
}

// ---- Oracle ---------------------------------------------------------------------------------

struct SgSense {
  std::string first_line;  // "Fixed format, current; Sense key: Unit Attention"
  std::string additional;  // after "Additional sense: "
  std::string all;
};

SgSense sg_decode(Bytes sense) {
  test::TempHexFile file(sense);
  const auto r = test::run({"sg_decode_sense", "--file=" + file.path()});
  SgSense s;
  s.all = r.output;
  const auto ls = test::lines(r.output);
  if (!ls.empty()) {
    s.first_line = ls[0];
  }
  for (const auto& l : ls) {
    if (l.rfind("Additional sense: ", 0) == 0) {
      s.additional = l.substr(18);
    }
  }
  return s;
}

std::string our_first_line(const SenseData& s) {
  return std::string(s.format == SenseFormat::Fixed ? "Fixed" : "Descriptor") + " format, " +
         (s.deferred ? "<<<deferred>>>" : "current") +
         "; Sense key: " + sense_key_name(s.sense_key);
}

TEST(SenseOracle, AgreesWithSgDecodeSenseOnVectors) {
  ASSERT_TRUE(test::have_tool("sg_decode_sense")) << test::missing_tool_message("sg_decode_sense");
  const auto path = (test::shared_dir() / "conformance" / "oracle" / "sense.hex").string();
  const auto r = test::run({"sg_decode_sense", "--file=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto ours = parse_sense(test::oracle_vector("sense.hex"));
  ASSERT_TRUE(ours.has_value());
  const auto ls = test::lines(r.output);
  ASSERT_GE(ls.size(), 2u) << r.output;
  EXPECT_EQ(ls[0], our_first_line(*ours));
  EXPECT_EQ(test::normalize(ls[1]),
            test::normalize("Additional sense: " + asc_ascq_text(ours->asc, ours->ascq)));
}

// Every entry of our T10 table against sg3_utils' table.
TEST(SenseOracle, EveryTableEntryReadsTheSameAsSgDecodeSense) {
  ASSERT_TRUE(test::have_tool("sg_decode_sense")) << test::missing_tool_message("sg_decode_sense");
  std::string mismatches;
  int checked = 0;
  for (unsigned asc = 0; asc < 0x80; ++asc) {
    for (unsigned ascq = 0; ascq < 0x100; ++ascq) {
      const auto a = static_cast<std::uint8_t>(asc);
      const auto q = static_cast<std::uint8_t>(ascq);
      if (!asc_ascq_known(a, q) || asc == 0x40 || asc == 0x4d || asc == 0x70) {
        continue;
      }
      // T10 lists 20/05, 24/02 and 24/03 as "Obsolete"; sg3_utils keeps their former names
      // with "(obs)". Both are right; we follow the current list.
      if (asc_ascq_text(a, q) == "Obsolete") {
        continue;
      }
      auto bytes = encode_fixed_sense(0x05, a, q);
      const auto sg = sg_decode(*bytes);
      ++checked;
      if (test::normalize(sg.additional) != test::normalize(asc_ascq_text(a, q))) {
        mismatches += hex_string(std::vector<std::uint8_t>{a, q}) + ": ours \"" +
                      asc_ascq_text(a, q) + "\" sg \"" + sg.additional + "\"\n";
      }
    }
  }
  EXPECT_GT(checked, 700);
  EXPECT_EQ(mismatches, "");
}

// Independent-decoder check: random sense data from our encoders, decoded by sg_decode_sense.
TEST(SenseOracle, SgDecodeSenseDecodesRandomEncodedSenseAsWeDo) {
  ASSERT_TRUE(test::have_tool("sg_decode_sense")) << test::missing_tool_message("sg_decode_sense");
  std::mt19937 rng(1729);
  for (int i = 0; i < 150; ++i) {
    std::uint8_t asc = 0;
    std::uint8_t ascq = 0;
    do {
      asc = static_cast<std::uint8_t>(rng() % 0x76);
      ascq = static_cast<std::uint8_t>(rng() % 0x30);
    } while (!asc_ascq_known(asc, ascq) || asc == 0x40 || asc == 0x4d || asc == 0x70 ||
             asc_ascq_text(asc, ascq) == "Obsolete");
    // Keys 9 and 0xc are spelled "Vendor specific(9)" and "Equal" by sg3_utils.
    std::uint8_t key = static_cast<std::uint8_t>(rng() % 16);
    if (key == 0x9 || key == 0xc) {
      key = 0xb;
    }
    SenseFields f;
    f.deferred = rng() % 4 == 0;
    if (rng() % 2 == 0) {
      f.information = rng();
    }
    if (rng() % 3 == 0) {
      f.fru_code = static_cast<std::uint8_t>(1 + rng() % 255);
    }
    const bool descriptor = rng() % 2 == 0;
    auto bytes = descriptor ? encode_descriptor_sense(key, asc, ascq, f)
                            : encode_fixed_sense(key, asc, ascq, f);
    ASSERT_TRUE(bytes.has_value());
    auto ours = parse_sense(*bytes);
    ASSERT_TRUE(ours.has_value());
    const auto sg = sg_decode(*bytes);
    SCOPED_TRACE(hex_string(*bytes) + "\n" + sg.all);
    EXPECT_EQ(sg.first_line, our_first_line(*ours));
    EXPECT_EQ(test::normalize(sg.additional), test::normalize(asc_ascq_text(asc, ascq)));
    if (f.information) {
      // Fixed: "Info fld=0x1234 [4660]"; descriptor: "Information: 0x0000000000001234".
      auto info = descriptor ? test::number_after(sg.all, "Information:")
                             : test::number_after(sg.all, "Info fld=");
      ASSERT_TRUE(info.has_value());
      EXPECT_EQ(*info, *f.information);
    }
    if (f.fru_code != 0) {
      auto fru = test::number_after(sg.all, "Field replaceable unit code:");
      ASSERT_TRUE(fru.has_value());
      EXPECT_EQ(*fru, f.fru_code);
    }
    if (HasFailure()) {
      return;
    }
  }
}

TEST(SenseOracle, SenseKeySpecificFieldsAgreeWithSgDecodeSense) {
  ASSERT_TRUE(test::have_tool("sg_decode_sense")) << test::missing_tool_message("sg_decode_sense");
  struct Case {
    std::uint8_t key, asc;
    SenseKeySpecific sks;
    std::string sg_text;                  // what sg_decode_sense prints for it (fixed format)
    std::string sg_descriptor_text = {};  // descriptor format, when it prints differently
  };
  const std::vector<Case> cases{
      {0x05, 0x24, FieldPointerInfo{true, false, 0, 2}, "Error in Command: byte 2"},
      {0x05, 0x26, FieldPointerInfo{false, true, 3, 7}, "Error in Data parameters: byte 7 bit 3"},
      {0x03, 0x11, ActualRetryCount{3}, "Actual retry count: 0x0003", "Actual retry count: 3"},
      {0x02, 0x04, ProgressIndication{0x4000}, "Progress indication: 25.00%"},
      {0x0a, 0x0d, SegmentPointer{true, true, 1, 7},
       "Relative to start of segment descriptor, byte 7 bit 1"},
      {0x06, 0x29, UnitAttentionQueue{true}, "overflow flag is 1"},
  };
  for (const auto& c : cases) {
    for (bool descriptor : {false, true}) {
      SenseFields f;
      f.sense_key_specific = c.sks;
      auto bytes = descriptor ? encode_descriptor_sense(c.key, c.asc, 0, f)
                              : encode_fixed_sense(c.key, c.asc, 0, f);
      ASSERT_TRUE(bytes.has_value());
      const auto sg = sg_decode(*bytes);
      const std::string& want =
          descriptor && !c.sg_descriptor_text.empty() ? c.sg_descriptor_text : c.sg_text;
      EXPECT_NE(sg.all.find(want), std::string::npos) << hex_string(*bytes) << "\n" << sg.all;
      EXPECT_EQ(std::get_if<FieldPointerInfo>(&c.sks) != nullptr,
                describe_sense(*parse_sense(*bytes)).find("Field pointer") != std::string::npos);
    }
  }
}

TEST(SenseOracle, AtaStatusReturnAgreesWithSgDecodeSense) {
  ASSERT_TRUE(test::have_tool("sg_decode_sense")) << test::missing_tool_message("sg_decode_sense");
  SenseFields f;
  f.ata_status = AtaStatusReturn{true, 0x04, 0x0005, 0x442200553311ULL, 0x40, 0x51};
  auto bytes = encode_descriptor_sense(0x0b, 0x00, 0x00, f);
  ASSERT_TRUE(bytes.has_value());
  const auto sg = sg_decode(*bytes);
  EXPECT_NE(sg.all.find("extend=1 error=0x4"), std::string::npos) << sg.all;
  EXPECT_NE(sg.all.find("count=0x5 lba=0x442200553311 device=0x40 status=0x51"), std::string::npos)
      << sg.all;
}

}  // namespace
}  // namespace ucam::scsi
