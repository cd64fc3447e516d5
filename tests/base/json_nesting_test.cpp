#include "base/json_nesting.h"

#include <gtest/gtest.h>

#include <string>

namespace ucam {
namespace {

TEST(JsonNesting, CountsArraysAndObjects) {
  EXPECT_EQ(json_nesting("3").deepest, 0U);
  EXPECT_EQ(json_nesting("{}").deepest, 1U);
  EXPECT_EQ(json_nesting(R"({"a": [1, {"b": [[]]}], "c": {}})").deepest, 5U);
  EXPECT_FALSE(json_nesting(R"({"a": [1, {"b": [[]]}]})").beyond_limit);
}

TEST(JsonNesting, BracketsInStringsDoNotCountEscapesIncluded) {
  EXPECT_EQ(json_nesting(R"(["[[[{{{", "\"[[[", "\\", ["x"]])").deepest, 2U);
  // After an escaped backslash the quote ends the string: the bracket after it counts.
  EXPECT_EQ(json_nesting(R"(["\\"])").deepest, 1U);
  EXPECT_EQ(json_nesting(R"(["\\", [[]]])").deepest, 3U);
}

TEST(JsonNesting, StrayClosingBracketsDoNotGoNegative) {
  EXPECT_EQ(json_nesting("]]]}[[").deepest, 2U);
}

TEST(JsonNesting, NamesTheLineAndColumnOfTheFirstLevelBeyondTheLimit) {
  const auto n = json_nesting("{\"a\":\n  [[\n [[[1]]]]]}", 4);
  EXPECT_EQ(n.deepest, 6U);
  ASSERT_TRUE(n.beyond_limit);
  EXPECT_EQ(n.beyond_limit->line, 3U);
  EXPECT_EQ(n.beyond_limit->column, 3U);
  EXPECT_EQ(n.beyond_limit->offset, 13U);
  EXPECT_FALSE(json_nesting("[[[[]]]]", 4).beyond_limit);
  EXPECT_TRUE(json_nesting("[[[[[]]]]]", 4).beyond_limit);
}

TEST(JsonNesting, DefaultLimitIs64) {
  const std::string at_limit = std::string(64, '[') + std::string(64, ']');
  EXPECT_FALSE(json_nesting(at_limit).beyond_limit);
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const auto n = json_nesting(deep);
  EXPECT_EQ(n.deepest, 100'000U);
  ASSERT_TRUE(n.beyond_limit);
  EXPECT_EQ(n.beyond_limit->offset, 64U);
}

}  // namespace
}  // namespace ucam
