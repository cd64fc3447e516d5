// JsonWriter against json::dump(): the same values in the same order give the same text, for
// plain, escaped, control, non-ASCII and invalid UTF-8 strings.
#include "service/json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/check.h"

namespace ucam::service {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

TEST(JsonWriter, UnsignedNumbersBeyondInt64MatchDump) {
  const std::uint64_t big = 0xc000000000000001ULL;  // An extended-addressing LUN.
  JsonWriter w;
  w.begin_array().unsigned_number(big).unsigned_number(0).unsigned_number(UINT64_MAX).end_array();
  EXPECT_EQ(w.take(), dump(json{big, 0U, UINT64_MAX}));
}

TEST(JsonWriter, NestedObjectsAndArraysMatchDump) {
  JsonWriter w;
  w.begin_object();
  w.key("a").number(-5);
  w.key("b").begin_array().boolean(true).boolean(false).null().number(65535).end_array();
  w.key("c").begin_object().end_object();
  w.key("d").begin_array().end_array();
  w.key("e").begin_array().begin_object().key("x").string("y").end_object().end_array();
  w.key("f").raw(R"({"k":1})");
  w.end_object();
  const json expected = {{"a", -5},
                         {"b", {true, false, nullptr, 65535}},
                         {"c", json::object()},
                         {"d", json::array()},
                         {"e", {{{"x", "y"}}}},
                         {"f", {{"k", 1}}}};
  EXPECT_EQ(w.take(), dump(expected));
}

TEST(JsonWriter, StringsAreEscapedExactlyAsDumpDoes) {
  static constexpr char kControl[] = "nul \0 and tab \t, bell \a, DEL \x7f";
  const std::string cases[] = {
      "UCAM001L6",
      "",
      "quote \" and backslash \\",
      std::string(kControl, sizeof(kControl) - 1),
      "caf\xc3\xa9 \xe2\x82\xac",  // Valid UTF-8.
      "bad \xff\xfe utf-8 \xc3",   // Invalid: replaced with U+FFFD, as dump's replace does.
      "IBM     ULT3580-TD6     10WT000001",
  };
  for (const auto& s : cases) {
    JsonWriter w;
    w.begin_array().string(s).end_array();
    EXPECT_EQ(w.take(), dump(json::array({s}))) << s;
  }
  JsonWriter keys;
  keys.begin_object().key("we\"ird\n").number(1).end_object();
  EXPECT_EQ(keys.take(), dump(json{{"we\"ird\n", 1}}));
}

TEST(JsonWriter, TakeEmptiesTheWriter) {
  JsonWriter w;
  w.begin_array().number(1).end_array();
  EXPECT_EQ(w.take(), "[1]");
  w.begin_array().number(2).end_array();
  EXPECT_EQ(w.take(), "[2]");
  w.number(7);
  EXPECT_EQ(w.take(), "7");
}

}  // namespace
}  // namespace ucam::service
