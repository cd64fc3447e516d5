#include "base/hex.h"

#include <gtest/gtest.h>

namespace ucam {
namespace {

TEST(ParseHex, AcceptsSg3UtilsFormatWithCommentsAndCommas) {
  auto r = parse_hex("# header\n12 0,0a\tff # trailing\n\n7\n");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, (std::vector<std::uint8_t>{0x12, 0x00, 0x0a, 0xff, 0x07}));
}

TEST(ParseHex, RejectsNonHexTokenNamingLineAndColumn) {
  auto r = parse_hex("12 00\n00 zz\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("line 2 column 4"), std::string::npos) << r.error().message();
}

TEST(ParseHex, RejectsLongTokensUnlessRunsAllowed) {
  EXPECT_FALSE(parse_hex("120000").has_value());
  auto r = parse_hex("120000 0024 00", HexTokens::AllowRuns);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, (std::vector<std::uint8_t>{0x12, 0x00, 0x00, 0x00, 0x24, 0x00}));
  EXPECT_FALSE(parse_hex("12000", HexTokens::AllowRuns).has_value());
}

TEST(HexDump, ShowsOffsetBytesAndAscii) {
  const std::vector<std::uint8_t> data{'A', 'B', 0x00, 0x7f};
  EXPECT_EQ(hex_dump(data), "00000000  41 42 00 7f                                       |AB..|\n");
  EXPECT_EQ(hex_string(data), "41 42 00 7f");
}

}  // namespace
}  // namespace ucam
