#include "scsi/mode.h"

#include <gtest/gtest.h>

#include "base/hex.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

// No sg3_utils oracle here: sg_modes 1.46 has no --inhex.

ModeParameters sample(ModeHeaderFormat format) {
  ModeParameters p;
  p.format = format;
  p.medium_type = 0;
  p.device_specific = 0x90;  // WP + DPOFUA
  p.block_descriptors = {BlockDescriptor{0x00123456, 0x00, 512}};
  p.pages = {
      ModePage{0x08,
               0,
               false,
               true,
               {0x04, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0,
                0}},                                    // caching page, 18 bytes
      ModePage{0x0a, 0x01, true, false, {1, 2, 3, 4}},  // control extension subpage
      ModePage{0x1c, 0, false, false, {}},
  };
  return p;
}

TEST(ModeSenseEncode, BuildsTenByteHeaderAndPages) {
  auto bytes = encode_mode_sense_data(sample(ModeHeaderFormat::Ten));
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message();
  const std::size_t total = 8 + 8 + 20 + 8 + 2;
  ASSERT_EQ(bytes->size(), total);
  EXPECT_EQ(hex_string(Bytes(*bytes).first(16)), "00 2c 00 90 00 00 00 08 00 12 34 56 00 00 02 00");
  EXPECT_EQ((*bytes)[16], 0x88);  // PS | page 8
  EXPECT_EQ((*bytes)[17], 18);
  EXPECT_EQ(hex_string(Bytes(*bytes).subspan(36, 4)), "4a 01 00 04");
}

TEST(ModeSenseParse, RoundTripsBothHeaderForms) {
  for (auto format : {ModeHeaderFormat::Six, ModeHeaderFormat::Ten}) {
    const auto p = sample(format);
    auto bytes = encode_mode_sense_data(p);
    ASSERT_TRUE(bytes.has_value());
    auto back = parse_mode_sense_data(*bytes, format);
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_TRUE(back->write_protected());
    EXPECT_TRUE(back->dpofua());
    EXPECT_FALSE(back->truncated);
    ModeParameters expect = p;
    expect.mode_data_length = back->mode_data_length;
    expect.block_descriptors[0].density_code = 0x00;
    EXPECT_EQ(*back, expect);
    ASSERT_NE(find_mode_page(*back, 0x0a, 0x01), nullptr);
    EXPECT_EQ(find_mode_page(*back, 0x0a, 0x01)->data.size(), 4u);
    EXPECT_EQ(find_mode_page(*back, 0x0a), nullptr);
  }
}

TEST(ModeSenseParse, LongLbaBlockDescriptors) {
  ModeParameters p;
  p.longlba = true;
  p.block_descriptors = {BlockDescriptor{0x0123456789ULL, 0, 4096}};
  auto bytes = encode_mode_sense_data(p);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), 24u);
  auto back = parse_mode_sense_data(*bytes, ModeHeaderFormat::Ten);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->block_descriptors, p.block_descriptors);
  p.format = ModeHeaderFormat::Six;
  EXPECT_FALSE(encode_mode_sense_data(p).has_value());
}

TEST(ModeSenseParse, FlagsAllocationTruncationAndDropsPartialPage) {
  auto bytes = *encode_mode_sense_data(sample(ModeHeaderFormat::Ten));
  auto cut = parse_mode_sense_data(Bytes(bytes).first(40), ModeHeaderFormat::Ten);
  ASSERT_TRUE(cut.has_value()) << cut.error().message();
  EXPECT_TRUE(cut->truncated);
  ASSERT_EQ(cut->pages.size(), 1u);  // the subpage at 36..43 is cut
  EXPECT_EQ(cut->pages[0].page_code, 0x08);
}

TEST(ModeSenseParse, RejectsPageRunningPastModeDataLength) {
  auto bytes = *encode_mode_sense_data(sample(ModeHeaderFormat::Six));
  bytes[4 + 8 + 1] = 40;  // caching page claims 40 bytes
  auto r = parse_mode_sense_data(bytes, ModeHeaderFormat::Six);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("runs past"), std::string::npos);
}

TEST(ModeSenseParse, RejectsBadBlockDescriptorLength) {
  auto bytes = *encode_mode_sense_data(sample(ModeHeaderFormat::Six));
  bytes[3] = 7;
  EXPECT_FALSE(parse_mode_sense_data(bytes, ModeHeaderFormat::Six).has_value());
  bytes[3] = 0xf8;
  EXPECT_FALSE(parse_mode_sense_data(bytes, ModeHeaderFormat::Six).has_value());
}

TEST(ModeSelectList, IgnoresModeDataLengthAndClearsPs) {
  const auto p = sample(ModeHeaderFormat::Ten);
  auto bytes = encode_mode_select_list(p);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ((*bytes)[0], 0);
  EXPECT_EQ((*bytes)[1], 0);
  EXPECT_EQ((*bytes)[16], 0x08);  // PS cleared
  auto back = parse_mode_select_list(*bytes, ModeHeaderFormat::Ten);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->pages.size(), 3u);
  EXPECT_FALSE(back->pages[0].ps);
  // A list cut in a page is an error (there is no MODE DATA LENGTH to say it was cut).
  EXPECT_FALSE(parse_mode_select_list(Bytes(*bytes).first(30), ModeHeaderFormat::Ten));
}

TEST(ModeEncode, RejectsOversizedSixByteData) {
  ModeParameters p;
  p.format = ModeHeaderFormat::Six;
  p.pages = {ModePage{0x01, 0, false, false, std::vector<std::uint8_t>(250)}};
  EXPECT_TRUE(encode_mode_sense_data(p).has_value());  // 4 + 2 + 250 = 256
  p.pages[0].data.resize(251);
  EXPECT_FALSE(encode_mode_sense_data(p).has_value());
  p.pages[0].data.resize(256);
  p.format = ModeHeaderFormat::Ten;
  EXPECT_FALSE(encode_mode_sense_data(p).has_value());  // page_0 body > 255
  p.pages[0].spf = true;
  EXPECT_TRUE(encode_mode_sense_data(p).has_value());
  p.pages[0].page_code = 0x40;
  EXPECT_FALSE(encode_mode_sense_data(p).has_value());
}

TEST(ModeParse, EveryPrefixAndRandomBufferIsSafe) {
  for (auto format : {ModeHeaderFormat::Six, ModeHeaderFormat::Ten}) {
    const auto full = *encode_mode_sense_data(sample(format));
    test::for_each_prefix(full, [&](Bytes b) {
      auto r = parse_mode_sense_data(b, format);
      EXPECT_EQ(r.has_value(), b.size() >= (format == ModeHeaderFormat::Six ? 4u : 8u));
      if (r) {
        EXPECT_EQ(r->truncated, b.size() < full.size());
        EXPECT_LE(r->pages.size(), 3u);
      }
      (void)parse_mode_select_list(b, format);
    });
    test::for_random_buffers(10000, 64, [&](Bytes b) {
      (void)parse_mode_sense_data(b, format);
      (void)parse_mode_select_list(b, format);
    });
  }
}

}  // namespace
}  // namespace ucam::scsi
