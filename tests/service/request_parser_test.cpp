// parse_request_line(): the request-parsing step of Service::handle_line on its own.
#include "service/request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "base/json_nesting.h"

namespace ucam::service {
namespace {

TEST(RequestParser, ParsesARequestAndKeepsNoRawIdForAnExactInteger) {
  const auto r = parse_request_line(R"({"jsonrpc":"2.0","id":7,"method":"list"})");
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.message["id"], 7);
  EXPECT_EQ(r.message["method"], "list");
  EXPECT_TRUE(r.raw_ids.empty());
}

TEST(RequestParser, KeepsTheTextOfIdsJsonCannotHoldExactly) {
  const auto r = parse_request_line(
      R"([{"id":123456789012345678901234567890,"method":"a"},{"id":2,"method":"b"},)"
      R"({"id":1.50,"method":"c"}])");
  ASSERT_FALSE(r.error);
  ASSERT_TRUE(r.message.is_array());
  EXPECT_EQ(r.raw_ids.size(), 2U);
  EXPECT_EQ(r.raw_ids.at(0), "123456789012345678901234567890");
  EXPECT_EQ(r.raw_ids.at(2), "1.50");
}

TEST(RequestParser, ALaterIdReplacesTheRawTextOfAnEarlierOne) {
  const auto r = parse_request_line(R"({"id":1.50,"id":3,"method":"a"})");
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.message["id"], 3);
  EXPECT_TRUE(r.raw_ids.empty());
}

TEST(RequestParser, RefusesInvalidJsonAsParseError) {
  const auto r = parse_request_line(R"({"id":1,"method":)");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, static_cast<int>(RpcCode::ParseError));
  EXPECT_EQ(r.error->message.rfind("not valid JSON: ", 0), 0U);
}

TEST(RequestParser, RefusesNestingBeyondTheLimitBeforeParsing) {
  const std::string deep =
      std::string(kMaxJsonNesting + 1, '[') + "1" + std::string(kMaxJsonNesting + 1, ']');
  const auto r = parse_request_line(deep);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, static_cast<int>(RpcCode::InvalidRequest));
  EXPECT_EQ(r.error->message, "JSON nested 65 deep; the limit is 64");
}

}  // namespace
}  // namespace ucam::service
