#include "scsi/diag.h"

#include <gtest/gtest.h>

#include "base/hex.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

TEST(DiagPageParse, SplitsConcatenatedSesPages) {
  const auto all = test::oracle_vector("all.hex");
  auto pages = split_diag_pages(all);
  ASSERT_TRUE(pages.has_value()) << pages.error().message();
  std::vector<std::uint8_t> codes;
  for (const auto& p : *pages) {
    codes.push_back(p.header.page_code);
  }
  EXPECT_EQ(codes, (std::vector<std::uint8_t>{0x00, 0x01, 0x02, 0x07, 0x0a}));
  auto supported = parse_supported_diag_pages(all);
  ASSERT_TRUE(supported.has_value());
  EXPECT_FALSE(supported->empty());
}

TEST(DiagPageParse, RejectsTruncatedPageNamingAllocationLength) {
  const std::vector<std::uint8_t> v{0x02, 0x00, 0x00, 0x10, 0x00};
  auto r = parse_diag_page(v);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("at least 20"), std::string::npos) << r.error().message();
  EXPECT_FALSE(parse_diag_page_header(Bytes(v).first(3)).has_value());
  auto all = test::oracle_vector("all.hex");
  all.pop_back();
  EXPECT_FALSE(split_diag_pages(all).has_value());
}

TEST(DiagPageEncode, RoundTrips) {
  const std::vector<std::uint8_t> body{1, 2, 3};
  auto page = encode_diag_page(0x80, 0x05, body);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(hex_string(*page), "80 05 00 03 01 02 03");
  auto back = parse_diag_page(*page);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->header.page_specific, 0x05);
  EXPECT_EQ(std::vector<std::uint8_t>(back->body.begin(), back->body.end()), body);
  EXPECT_FALSE(encode_diag_page(0, 0, std::vector<std::uint8_t>(0x10000)).has_value());
  EXPECT_FALSE(parse_supported_diag_pages(*page).has_value());  // not page 0
}

TEST(DiagPageParse, EveryPrefixAndRandomBufferIsSafe) {
  const auto all = test::oracle_vector("all.hex");
  test::for_each_prefix(all, [&](Bytes b) {
    auto r = split_diag_pages(b);
    if (r) {
      std::size_t sum = 0;
      for (const auto& p : *r) {
        sum += p.header.total();
      }
      EXPECT_EQ(sum, b.size());
    }
  });
  test::for_random_buffers(10000, 64, [](Bytes b) { (void)split_diag_pages(b); });
}

// Oracle: sg_ses decodes the Supported Diagnostic Pages page we encode.
TEST(DiagOracle, SgSesListsTheSupportedPagesWeEncode) {
  ASSERT_TRUE(test::have_tool("sg_ses")) << test::missing_tool_message("sg_ses");
  const std::vector<std::uint8_t> pages{0x00, 0x01, 0x02, 0x05, 0x07, 0x0a, 0x0e};
  auto bytes = encode_supported_diag_pages(pages);
  ASSERT_TRUE(bytes.has_value());
  test::TempHexFile file(*bytes);
  const auto r = test::run({"sg_ses", "--inhex=" + file.path(), "--status", "--page=0"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::uint8_t> listed;
  for (const auto& line : test::lines(r.output)) {  // "  Configuration (SES) [cf] [0x1]"
    const auto at = line.rfind("[0x");
    if (at != std::string::npos) {
      listed.push_back(static_cast<std::uint8_t>(*test::number_after(line.substr(at), "[")));
    }
  }
  EXPECT_EQ(listed, pages) << r.output;
  EXPECT_EQ(*parse_supported_diag_pages(*bytes), pages);
}

}  // namespace
}  // namespace ucam::scsi
