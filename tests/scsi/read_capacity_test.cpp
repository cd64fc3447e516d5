#include "scsi/read_capacity.h"

#include <gtest/gtest.h>

#include "base/hex.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

// No sg3_utils oracle here: sg_readcap 1.46 has no --inhex.

TEST(ReadCapacity10Parse, DecodesKnownVector) {
  auto r = parse_read_capacity10(*parse_hex("00 12 34 56 00 00 02 00"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->last_lba, 0x123456u);
  EXPECT_EQ(r->block_length, 512u);
  EXPECT_FALSE(parse_read_capacity10(*parse_hex("00 12 34 56 00 00 02")).has_value());
}

TEST(ReadCapacity10Encode, RoundTripsAndSaturatesLargeDevices) {
  const ReadCapacity10Data d{0xfffffffe, 4096};
  EXPECT_EQ(hex_string(encode_read_capacity10(d)), "ff ff ff fe 00 00 10 00");
  EXPECT_EQ(*parse_read_capacity10(encode_read_capacity10(d)), d);
  EXPECT_EQ(read_capacity10_for(1000, 512).last_lba, 999u);
  EXPECT_EQ(read_capacity10_for(0xffffffffULL, 512).last_lba, 0xfffffffeu);
  EXPECT_EQ(read_capacity10_for(0x100000000ULL, 512).last_lba, kReadCapacity10Overflow);
  EXPECT_EQ(read_capacity10_for(1ULL << 40, 512).last_lba, kReadCapacity10Overflow);
}

TEST(ReadCapacity16Parse, DecodesProtectionAndProvisioningFields) {
  // SBC-4 5.21.2: P_TYPE 010b + PROT_EN, P_I_EXPONENT 2, LBPPBE 3, LBPME, LBPRZ, LALBA 8.
  auto r = parse_read_capacity16(*parse_hex(
      "00 00 00 00 12 34 56 77 00 00 10 00 15 23 c0 08 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
      "00 00"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->last_lba, 0x12345677u);
  EXPECT_EQ(r->block_count(), 0x12345678u);
  EXPECT_EQ(r->block_length, 4096u);
  EXPECT_EQ(r->rc_basis, 1);
  EXPECT_EQ(r->p_type, 2);
  EXPECT_TRUE(r->prot_en);
  EXPECT_EQ(r->p_i_exponent, 2);
  EXPECT_EQ(r->logical_per_physical_exponent, 3);
  EXPECT_TRUE(r->lbpme);
  EXPECT_TRUE(r->lbprz);
  EXPECT_EQ(r->lowest_aligned_lba, 8);
  EXPECT_FALSE(r->truncated);
}

TEST(ReadCapacity16Encode, RoundTripsEveryField) {
  ReadCapacity16Data d;
  d.last_lba = 0x0123456789abcdefULL;
  d.block_length = 520;
  d.rc_basis = 1;
  d.p_type = 1;
  d.prot_en = true;
  d.p_i_exponent = 15;
  d.logical_per_physical_exponent = 3;
  d.lbpme = true;
  d.lbprz = false;
  d.lowest_aligned_lba = 0x3fff;
  auto bytes = encode_read_capacity16(d);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), 32u);
  EXPECT_EQ(*parse_read_capacity16(*bytes), d);
  d.lowest_aligned_lba = 0x4000;
  EXPECT_FALSE(encode_read_capacity16(d).has_value());
  d.lowest_aligned_lba = 0;
  d.p_type = 8;
  EXPECT_FALSE(encode_read_capacity16(d).has_value());
}

TEST(ReadCapacity16Parse, EveryPrefixIsAnErrorOrFlagsTruncation) {
  ReadCapacity16Data d;
  d.last_lba = 99;
  d.block_length = 512;
  d.prot_en = true;
  const auto full = *encode_read_capacity16(d);
  test::for_each_prefix(full, [&](Bytes b) {
    auto r = parse_read_capacity16(b);
    EXPECT_EQ(r.has_value(), b.size() >= 12);
    if (r) {
      EXPECT_EQ(r->last_lba, 99u);
      EXPECT_EQ(r->truncated, b.size() < 16);
      EXPECT_EQ(r->prot_en, b.size() >= 16);
    }
    EXPECT_EQ(parse_read_capacity10(b).has_value(), b.size() >= 8);
  });
}

}  // namespace
}  // namespace ucam::scsi
