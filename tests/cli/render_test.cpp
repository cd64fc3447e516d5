// The streamed devlist (Client::call_each, DevlistRenderer, PrettyArrayWriter) against the
// renderers of the whole result: the same text, on the built-in scenarios and on odd strings.
#include "cli/render.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli/client.h"
#include "stack/transport.h"

namespace ucam::cli {
namespace {

std::unique_ptr<Client> start(const std::string& scenario) {
  SimConfig emu;
  emu.scenario = scenario;
  auto specs = make_specs({emu});
  EXPECT_TRUE(specs.has_value()) << specs.error().message();
  if (!specs) {
    return nullptr;
  }
  auto client = start_in_process(std::move(*specs), scenario);
  EXPECT_TRUE(client.has_value()) << client.error().message();
  return client ? std::move(*client) : nullptr;
}

// The three forms devlist prints, from the whole result and streamed.
void expect_streamed_devlist_is_the_same(const std::string& scenario) {
  SCOPED_TRACE(scenario);
  auto client = start(scenario);
  ASSERT_NE(client, nullptr);
  auto whole = client->call("devices.list");
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  ASSERT_TRUE(whole->is_array());
  ASSERT_FALSE(whole->empty());

  DevlistRenderer plain(false);
  DevlistRenderer verbose(true);
  PrettyArrayWriter pretty;
  std::string plain_text, verbose_text, json_text;
  std::size_t count = 0;
  auto streamed = client->call_each("devices.list", json::object(), [&](const json& d) {
    plain_text += plain.next(d);
    verbose_text += verbose.next(d);
    json_text += pretty.next(d);
    ++count;
  });
  ASSERT_TRUE(streamed.has_value()) << streamed.error().message;
  EXPECT_EQ(*streamed, json::array());
  json_text += pretty.finish();
  EXPECT_EQ(count, whole->size());
  EXPECT_EQ(plain_text, render_devlist(*whole, false));
  EXPECT_EQ(verbose_text, render_devlist(*whole, true));
  EXPECT_EQ(json_text, whole->dump(2));
}

TEST(StreamedDevlist, IsTheSameAsTheWholeResultOnTheBuiltInScenarios) {
  for (const char* name : {"default", "minimal", "jbod-24", "jbod-102", "multipath"}) {
    expect_streamed_devlist_is_the_same(std::string("builtin:") + name);
  }
}

TEST(StreamedDevlist, IsTheSameAsTheWholeResultWithOddStrings) {
  const std::string path = ::testing::TempDir() + "odd-strings.json";
  std::ofstream(path) << R"({"buses": [{"targets": [
      {"luns": [{"vendor": "A\"B\\C", "product": "[y],\"z\" :<>&", "revision": " 1 ",
                 "serial": "\\\"\\"}]},
      {"luns": [{"vendor": " ", "product": "p", "serial": "s 1"}, {"lun": 3}]}]},
    {"targets": [{}]}]})";
  expect_streamed_devlist_is_the_same(path);
}

TEST(StreamedDevlist, AnEmptyArrayPrintsAsDumpDoes) {
  PrettyArrayWriter pretty;
  EXPECT_EQ(pretty.finish(), json::array().dump(2));
  EXPECT_EQ(render_devlist(json::array(), true), "");
}

TEST(StreamedDevlist, NestedElementsAreIndentedAsDumpDoes) {
  const json array = {{{"a", {1, 2, {{"b", json::object()}}}}, {"c", json::array()}},
                      "x\ny",
                      3,
                      json::array({json::array()}),
                      nullptr};
  PrettyArrayWriter pretty;
  std::string text;
  for (const auto& e : array) {
    text += pretty.next(e);
  }
  EXPECT_EQ(text + pretty.finish(), array.dump(2));
}

std::vector<json> elements_of(const std::string& text, std::int64_t id, json* message) {
  std::vector<json> seen;
  const ElementSink each = [&](const json& e) { seen.push_back(e); };
  *message = parse_message(text, id, &each);
  return seen;
}

TEST(ParseMessage, GivesTheResultElementsOfItsOwnReplyOnly) {
  json m;
  EXPECT_EQ(elements_of(R"({"id":7,"jsonrpc":"2.0","result":[{"a":[1]},2,[3],null]})", 7, &m),
            (std::vector<json>{{{"a", {1}}}, 2, {3}, nullptr}));
  EXPECT_EQ(m, json({{"id", 7}, {"jsonrpc", "2.0"}, {"result", json::array()}}));

  // Another reply's: kept.
  EXPECT_TRUE(elements_of(R"({"id":6,"jsonrpc":"2.0","result":[1,2]})", 7, &m).empty());
  EXPECT_EQ(m["result"], json({1, 2}));

  // Not an array, an error, a notification: kept whole.
  EXPECT_TRUE(elements_of(R"({"id":7,"result":{"a":[1,{"b":2}]}})", 7, &m).empty());
  EXPECT_EQ(m["result"], json({{"a", {1, {{"b", 2}}}}}));
  EXPECT_TRUE(elements_of(R"({"error":{"code":-32601,"data":[1]},"id":7})", 7, &m).empty());
  EXPECT_EQ(m["error"]["data"], json({1}));
  EXPECT_TRUE(elements_of(R"({"method":"event","params":[{"a":1}]})", 7, &m).empty());
  EXPECT_EQ(m["params"], json({{{"a", 1}}}));

  // The id after the result: the elements are given after the parse.
  EXPECT_EQ(elements_of(R"({"result":[{"x":1},2],"id":7})", 7, &m),
            (std::vector<json>{{{"x", 1}}, 2}));
  EXPECT_EQ(m["result"], json::array());
}

TEST(ParseMessage, WithoutASinkIsParse) {
  const std::string text = R"({"id":7,"result":[1,2]})";
  EXPECT_EQ(parse_message(text, 7, nullptr), json::parse(text));
}

}  // namespace
}  // namespace ucam::cli
