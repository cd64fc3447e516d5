#include "scsi/report_luns.h"

#include <gtest/gtest.h>

#include <random>

#include "base/hex.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

Lun lun(std::uint64_t raw) {
  return Lun{raw};
}

TEST(LunDecode, DecodesEachAddressMethod) {
  auto p = decode_lun(lun(0x0005000000000000ULL));
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].method, AddressMethod::PeripheralDevice);
  EXPECT_EQ((*p)[0].lun, 5u);

  auto f = decode_lun(lun(0x412c000000000000ULL));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ((*f)[0].method, AddressMethod::FlatSpace);
  EXPECT_EQ((*f)[0].lun, 300u);

  auto l = decode_lun(lun(0x8a21000000000000ULL));
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ((*l)[0].method, AddressMethod::LogicalUnit);
  EXPECT_EQ((*l)[0].target, 10);
  EXPECT_EQ((*l)[0].bus, 1);
  EXPECT_EQ((*l)[0].lun, 1u);

  auto w = decode_lun(lun(0xc101000000000000ULL));
  ASSERT_TRUE(w.has_value());
  EXPECT_TRUE((*w)[0].well_known);
  EXPECT_EQ((*w)[0].lun, kWellKnownReportLuns);

  auto e = decode_lun(lun(0xd212345600000000ULL));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ((*e)[0].size, 4);
  EXPECT_EQ((*e)[0].extended_method, kExtendedFlatSpace);
  EXPECT_EQ((*e)[0].lun, 0x123456u);

  auto none = decode_lun(lun(0xffffffffffffffffULL));
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ((*none)[0].size, 8);
  EXPECT_EQ((*none)[0].extended_method, kExtendedNotSpecified);
}

TEST(LunDecode, DecodesMultiLevelLun) {
  auto m = decode_lun(lun(0x0105401000000000ULL));
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].bus, 1);
  EXPECT_EQ((*m)[0].lun, 5u);
  EXPECT_EQ((*m)[1].method, AddressMethod::FlatSpace);
  EXPECT_EQ((*m)[1].lun, 16u);
}

TEST(LunDecode, RejectsExtendedLevelPastEightBytes) {
  EXPECT_FALSE(decode_lun(lun(0x0101f01122334455ULL)).has_value());  // 8-byte level at byte 2
  EXPECT_FALSE(decode_lun(lun(0x01010101e0112233ULL)).has_value());  // 6-byte level at byte 4
  EXPECT_TRUE(decode_lun(lun(0x0101e01122334455ULL)).has_value());   // 6-byte level at byte 2
}

TEST(LunEncode, RoundTripsDecodedLevels) {
  for (std::uint64_t raw : {0x0005000000000000ULL, 0x412c000000000000ULL, 0x8a21000000000000ULL,
                            0xc101000000000000ULL, 0xd212345600000000ULL, 0xffffffffffffffffULL,
                            0x0105401000000000ULL, 0x0102030440ff0000ULL}) {
    auto levels = decode_lun(lun(raw));
    ASSERT_TRUE(levels.has_value());
    auto back = encode_lun(*levels);
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(back->raw_lun, raw) << std::hex << raw;
  }
}

TEST(LunEncode, RejectsOutOfRangeFields) {
  LunLevel flat;
  flat.method = AddressMethod::FlatSpace;
  flat.lun = 0x4000;
  EXPECT_FALSE(encode_lun(std::vector<LunLevel>{flat}).has_value());
  LunLevel ext;
  ext.method = AddressMethod::ExtendedLogicalUnit;
  ext.size = 2;
  ext.lun = 0x100;
  EXPECT_FALSE(encode_lun(std::vector<LunLevel>{ext}).has_value());
  LunLevel p;
  EXPECT_FALSE(encode_lun(std::vector<LunLevel>(5, p)).has_value());
}

TEST(LunText, RendersCommonForms) {
  EXPECT_EQ(lun_text(lun(0x0007000000000000ULL)), "7");
  EXPECT_EQ(lun_text(lun(0x412c000000000000ULL)), "flat 300");
  EXPECT_EQ(lun_text(lun(0xc101000000000000ULL)), "W-LUN REPORT LUNS");
  EXPECT_EQ(lun_text(lun(0x0105401000000000ULL)), "0x0105401000000000");
}

TEST(CamLun, MapsSimpleLunsLikeFreeBsdCam) {
  EXPECT_EQ(lun_to_u64(lun(0x0005000000000000ULL)), 5u);
  EXPECT_EQ(lun_to_u64(lun(0x412c000000000000ULL)), 300u);
  EXPECT_EQ(u64_to_lun(5).raw_lun, 0x0005000000000000ULL);
  EXPECT_EQ(u64_to_lun(255).raw_lun, 0x00ff000000000000ULL);
  EXPECT_EQ(u64_to_lun(256).raw_lun, 0x4100000000000000ULL);
  EXPECT_EQ(u64_to_lun(16383).raw_lun, 0x7fff000000000000ULL);
  for (std::uint64_t i = 0; i < 16384; ++i) {
    ASSERT_EQ(lun_to_u64(u64_to_lun(i)), i);
  }
}

TEST(CamLun, SwizzlesMultiLevelAndExtendedLuns) {
  // First level lands in bits 15:0.
  EXPECT_EQ(lun_to_u64(lun(0xc101000000000000ULL)), 0xc101u);
  EXPECT_EQ(lun_to_u64(lun(0x0105401000000000ULL)), 0x40100105u);
  EXPECT_EQ(lun_to_u64(lun(0x0102030405060708ULL)), 0x0708050603040102ULL);
  for (std::uint64_t raw : {0xc101000000000000ULL, 0xd212345600000000ULL, 0x4105401000000000ULL,
                            0x8a21000000000000ULL, 0xffffffffffffffffULL}) {
    EXPECT_EQ(u64_to_lun(lun_to_u64(lun(raw))).raw_lun, raw) << std::hex << raw;
  }
}

TEST(CamLun, DocumentedAmbiguityOfLowSwizzledValues) {
  // Peripheral method with bus 1 swizzles to 0x105 = 261, which converts back as flat LUN 261:
  // the 8-byte form does not round trip (FreeBSD CAM has the same ambiguity).
  const Lun bus1{0x0105000000000000ULL};
  EXPECT_EQ(lun_to_u64(bus1), 0x105u);
  EXPECT_NE(u64_to_lun(lun_to_u64(bus1)), bus1);
  // Flat LUN 5 and peripheral LUN 5 share the integer 5.
  EXPECT_EQ(lun_to_u64(lun(0x4005000000000000ULL)), lun_to_u64(lun(0x0005000000000000ULL)));
}

TEST(ReportLunsParse, DecodesListAndFlagsTruncation) {
  const auto data = encode_report_luns(std::vector<std::uint64_t>{
      0x0000000000000000ULL, 0x0001000000000000ULL, 0xc101000000000000ULL});
  EXPECT_EQ(data.size(), 32u);
  auto r = parse_report_luns(data);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->listed, 3u);
  ASSERT_EQ(r->luns.size(), 3u);
  EXPECT_EQ(r->luns[2].raw_lun, 0xc101000000000000ULL);
  EXPECT_FALSE(r->truncated());
  EXPECT_EQ(r->truncation_text(), "");
  auto cut = parse_report_luns(Bytes(data).first(23));  // 1 whole LUN and a partial one
  ASSERT_TRUE(cut.has_value());
  EXPECT_TRUE(cut->truncated());
  EXPECT_EQ(cut->truncation_text(), "list truncated: 1 of 3");
}

TEST(ReportLunsParse, RejectsBadHeader) {
  EXPECT_FALSE(parse_report_luns(std::vector<std::uint8_t>(7)).has_value());
  const std::vector<std::uint8_t> odd{0, 0, 0, 9, 0, 0, 0, 0};
  EXPECT_FALSE(parse_report_luns(odd).has_value());
}

TEST(ReportLunsParse, EveryPrefixAndRandomBufferIsSafe) {
  const auto data = encode_report_luns(std::vector<std::uint64_t>{1, 2, 3, 4});
  test::for_each_prefix(data, [](Bytes b) {
    auto r = parse_report_luns(b);
    EXPECT_EQ(r.has_value(), b.size() >= 8);
    if (r) {
      EXPECT_EQ(r->luns.size(), (b.size() - 8) / 8);
      EXPECT_EQ(r->listed, 4u);
    }
  });
  test::for_random_buffers(5000, 80, [](Bytes b) {
    if (auto r = parse_report_luns(b)) {
      for (const Lun& l : r->luns) {
        (void)decode_lun(l);
        (void)lun_text(l);
        (void)lun_to_u64(l);
      }
    }
  });
  std::mt19937_64 rng(9);
  for (int i = 0; i < 20000; ++i) {
    const Lun l{rng()};
    if (auto levels = decode_lun(l)) {
      auto back = encode_lun(*levels);
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(back->raw_lun, l.raw_lun);
    }
  }
}

// ---- Oracle: sg_luns --test=ALUN decodes LUNs independently ---------------------------------

struct Expected {
  std::string kind;
  std::vector<std::uint64_t> numbers;
};

Expected expected_for(const LunLevel& l) {
  switch (l.method) {
    case AddressMethod::PeripheralDevice:
      if (l.bus == 0) {
        return {"Peripheral device addressing", {l.lun}};
      }
      return {"Peripheral device addressing", {l.bus, l.lun}};
    case AddressMethod::FlatSpace:
      return {"Flat space addressing", {l.lun}};
    case AddressMethod::LogicalUnit:
      return {"Logical unit addressing", {l.bus, l.target, l.lun}};
    default:
      break;
  }
  if (l.well_known) {
    return {"well known logical unit", {}};
  }
  if (l.extended_method == kExtendedFlatSpace && l.size == 4) {
    return {"Extended flat space addressing", {l.lun}};
  }
  if (l.extended_method == kExtendedFlatSpace && l.size == 6) {
    return {"Long extended flat space addressing", {l.lun}};
  }
  return {"Extended logical unit addressing",
          {static_cast<std::uint64_t>(l.size / 2 - 1), l.extended_method, l.lun}};
}

TEST(LunOracle, SgLunsDecodesRandomEncodedLunsAsWeDo) {
  ASSERT_TRUE(test::have_tool("sg_luns")) << test::missing_tool_message("sg_luns");
  std::mt19937_64 rng(4711);
  for (int i = 0; i < 60; ++i) {
    // Intermediate levels route (peripheral method, nonzero bus); the last addresses the LU.
    std::vector<LunLevel> levels;
    std::size_t used = 0;
    const std::size_t routing = rng() % 3;
    for (std::size_t k = 0; k < routing; ++k) {
      LunLevel r;
      r.bus = static_cast<std::uint8_t>(1 + rng() % 63);
      r.lun = rng() % 256;
      levels.push_back(r);
      used += 2;
    }
    LunLevel last;
    switch (rng() % 5) {
      case 0:
        last.lun = rng() % 256;
        break;
      case 1:
        last.method = AddressMethod::FlatSpace;
        last.lun = rng() % 0x4000;
        break;
      case 2:
        last.method = AddressMethod::LogicalUnit;
        last.target = static_cast<std::uint8_t>(rng() % 64);
        last.bus = static_cast<std::uint8_t>(rng() % 8);
        last.lun = rng() % 32;
        break;
      case 3:
        last.method = AddressMethod::ExtendedLogicalUnit;
        last.size = 4;
        last.extended_method = kExtendedFlatSpace;
        last.lun = rng() % 0x1000000;
        break;
      default:
        last.method = AddressMethod::ExtendedLogicalUnit;
        last.size = static_cast<std::uint8_t>(used <= 2 ? 6 : 4);
        last.extended_method = kExtendedFlatSpace;
        last.lun = rng() % (1ULL << (8 * (last.size - 1)));
        break;
    }
    levels.push_back(last);
    auto encoded = encode_lun(levels);
    ASSERT_TRUE(encoded.has_value()) << encoded.error().message();
    auto decoded = decode_lun(*encoded);
    ASSERT_TRUE(decoded.has_value());
    const auto bytes = encoded->bytes();
    std::string hex;
    for (auto b : bytes) {
      hex += hex_string(Bytes(&b, 1));
    }
    const auto r = test::run({"sg_luns", "--test=" + hex});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> sg_levels;
    for (const auto& line : test::lines(r.output)) {
      if (line.find(">>") == std::string::npos && (line.find("addressing:") != std::string::npos ||
                                                   line.find("well known") != std::string::npos)) {
        sg_levels.push_back(line);
      }
    }
    ASSERT_EQ(sg_levels.size(), decoded->size()) << hex << "\n" << r.output;
    for (std::size_t k = 0; k < decoded->size(); ++k) {
      const auto want = expected_for((*decoded)[k]);
      EXPECT_NE(sg_levels[k].find(want.kind), std::string::npos) << hex << "\n" << r.output;
      std::vector<std::uint64_t> numbers;
      for (const auto& kv : test::key_values(sg_levels[k])) {
        numbers.push_back(kv.second);
      }
      EXPECT_EQ(numbers, want.numbers) << hex << "\n" << r.output;
    }
    if (HasFailure()) {
      return;
    }
  }
}

}  // namespace
}  // namespace ucam::scsi
