// The placeholder grammar shared by scenario string fields and SES descriptor patterns.
#include "sims/emu/text_template.h"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "sims/emu/models/ses_config.h"
#include "sims/emu/scenario.h"

namespace ucam::emu::testing {
namespace {

constexpr std::array<std::string_view, 4> kNames = {"bus", "target", "lun", "index"};
constexpr std::array<std::string_view, 1> kDefaultOnly = {""};
// bus 2, target 10, lun 255, index 7
constexpr std::array<std::uint64_t, 4> kValues = {2, 10, 255, 7};

std::string expand(std::string_view text) {
  auto parsed = TextTemplate::parse(text, kNames);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << parsed.error().message();
  return parsed ? parsed->expand(kValues) : std::string{};
}

std::string error_of(std::string_view text, std::span<const std::string_view> names = kNames) {
  auto parsed = TextTemplate::parse(text, names);
  if (parsed) {
    ADD_FAILURE() << text << " parsed";
    return "";
  }
  EXPECT_EQ(parsed.error().errno_value(), EINVAL);
  return parsed.error().message();
}

TEST(TextTemplate, LiteralTextExpandsToItself) {
  EXPECT_EQ(expand("ABC def-1.2"), "ABC def-1.2");
  EXPECT_EQ(expand(""), "");
  auto parsed = TextTemplate::parse("", kNames);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->empty());
  EXPECT_FALSE(TextTemplate::parse("x", kNames)->empty());
}

TEST(TextTemplate, DoubledBracesAreLiteralBraces) {
  EXPECT_EQ(expand("{{"), "{");
  EXPECT_EQ(expand("}}"), "}");
  EXPECT_EQ(expand("{{lun}}"), "{lun}");
  EXPECT_EQ(expand("L{{{lun}}}"), "L{255}");
  EXPECT_EQ(expand("a}}b{{c"), "a}b{c");
}

TEST(TextTemplate, NamedPlaceholdersTakeTheirValues) {
  EXPECT_EQ(expand("{bus}/{target}/{lun}/{index}"), "2/10/255/7");
  EXPECT_EQ(expand("{lun}{lun}"), "255255");
  EXPECT_EQ(expand("S{target}-L{lun}"), "S10-L255");
}

TEST(TextTemplate, EachFormat) {
  EXPECT_EQ(expand("{target:}"), "10");         // colon alone: plain
  EXPECT_EQ(expand("{target:4}"), "  10");      // width: spaces
  EXPECT_EQ(expand("{target:04}"), "0010");     // 0 flag: zeros
  EXPECT_EQ(expand("{target:0}"), "10");        // 0 flag without width
  EXPECT_EQ(expand("{lun:x}"), "ff");           // lower-case hex
  EXPECT_EQ(expand("{lun:X}"), "FF");           // upper-case hex
  EXPECT_EQ(expand("{lun:04x}"), "00ff");       // all three
  EXPECT_EQ(expand("{target:06X}"), "00000A");  //
  EXPECT_EQ(expand("{lun:5x}"), "   ff");
  EXPECT_EQ(expand("{lun:2}"), "255");  // longer than the width: in full
  EXPECT_EQ(expand("{lun:064}"), std::string(61, '0') + "255");
}

TEST(TextTemplate, LargestValuePrintsInFull) {
  const std::array<std::uint64_t, 1> values = {std::numeric_limits<std::uint64_t>::max()};
  EXPECT_EQ(TextTemplate::parse("{}", kDefaultOnly)->expand(values), "18446744073709551615");
  EXPECT_EQ(TextTemplate::parse("{:X}", kDefaultOnly)->expand(values), "FFFFFFFFFFFFFFFF");
  EXPECT_EQ(TextTemplate::parse("{:22}", kDefaultOnly)->expand(values), "  18446744073709551615");
}

TEST(TextTemplate, DefaultVariableIsTheEmptyName) {
  const std::array<std::uint64_t, 1> values = {7};
  auto parsed = TextTemplate::parse("Fan {} ({:03}, {:x})", kDefaultOnly);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->expand(values), "Fan 7 (007, 7)");
}

TEST(TextTemplate, NoDefaultVariableUnlessTheCallerListsIt) {
  EXPECT_EQ(error_of("S{}"),
            R"(bad placeholder "{}": expected {bus}, {target}, {lun} or {index} with an optional )"
            "format like :04 or :x");
  EXPECT_EQ(error_of("S{:02}"),
            R"(bad placeholder "{:02}": expected {bus}, {target}, {lun} or {index} with an )"
            "optional format like :04 or :x");
}

TEST(TextTemplate, UnknownNamesAreRefusedWithTheAllowedOnes) {
  EXPECT_EQ(error_of("S{slot}"),
            R"(bad placeholder "{slot}": expected {bus}, {target}, {lun} or {index} with an )"
            "optional format like :04 or :x");
  EXPECT_EQ(error_of("S{LUN}"),
            R"(bad placeholder "{LUN}": expected {bus}, {target}, {lun} or {index} with an )"
            "optional format like :04 or :x");
  EXPECT_EQ(error_of("Fan {x}", kDefaultOnly),
            R"(bad placeholder "{x}": expected {} with an optional format like :04 or :x)");
  EXPECT_EQ(error_of("Fan {lun}", kDefaultOnly),
            R"(bad placeholder "{lun}": expected {} with an optional format like :04 or :x)");
}

TEST(TextTemplate, MalformedFormatsAreRefused) {
  for (const std::string_view text :
       {"{lun:y}", "{lun:x4}", "{lun:-4}", "{lun:+4}", "{lun:4.2}", "{lun: 4}", "{lun:xx}",
        "{lun:04xx}", "{lun::4}", "{lun:4 }", "{ lun}"}) {
    const std::string message = error_of(text);
    EXPECT_EQ(message.rfind("bad placeholder \"" + std::string(text) + "\": expected {bus}", 0), 0U)
        << message;
  }
}

TEST(TextTemplate, WidthIsBounded) {
  EXPECT_EQ(expand("{lun:64}").size(), 64U);
  EXPECT_EQ(error_of("{lun:65}"), R"(bad placeholder "{lun:65}": the width is at most 64)");
  EXPECT_EQ(error_of("{lun:099}"), R"(bad placeholder "{lun:099}": the width is at most 64)");
  // Far too many digits for any integer type: refused, not wrapped around.
  EXPECT_EQ(error_of("{lun:18446744073709551616000}"),
            R"(bad placeholder "{lun:18446744073709551616000}": the width is at most 64)");
}

TEST(TextTemplate, UnterminatedPlaceholderIsRefused) {
  EXPECT_EQ(error_of("S{lun"),
            R"(unterminated placeholder "{lun" (write '{{' for a literal brace))");
  EXPECT_EQ(error_of("{"), R"(unterminated placeholder "{" (write '{{' for a literal brace))");
  EXPECT_EQ(error_of("{{{"), R"(unterminated placeholder "{" (write '{{' for a literal brace))");
}

TEST(TextTemplate, StrayClosingBraceIsRefused) {
  EXPECT_EQ(error_of("S}"), R"(unmatched '}' in "S}" (write '}}' for a literal brace))");
  EXPECT_EQ(error_of("{lun}}"), R"(unmatched '}' in "{lun}}" (write '}}' for a literal brace))");
  EXPECT_EQ(error_of("}}}"), R"(unmatched '}' in "}}}" (write '}}' for a literal brace))");
}

TEST(TextTemplate, MessagesQuoteAtMostFortyCharacters) {
  const std::string long_name(1000, 'a');
  EXPECT_EQ(error_of("{" + long_name + "}"),
            "bad placeholder \"{" + std::string(39, 'a') +
                "...\": expected {bus}, {target}, {lun} or {index} with an optional format like "
                ":04 or :x");
  EXPECT_EQ(error_of(long_name + "}"), "unmatched '}' in \"" + std::string(40, 'a') +
                                           "...\" (write '}}' for a literal brace)");
}

TEST(TextTemplate, ParsedOnceExpandsForManyValues) {
  auto parsed = TextTemplate::parse("BIG{target:03}L{lun:03}", kNames);
  ASSERT_TRUE(parsed);
  for (std::uint64_t lun = 0; lun < 3; ++lun) {
    const std::array<std::uint64_t, 4> values = {0, 42, lun, lun};
    EXPECT_EQ(parsed->expand(values), "BIG042L00" + std::to_string(lun));
  }
}

// The SES descriptor patterns (ses_config.h) give what they gave before the grammar was shared.
TEST(TextTemplate, DescriptorPatternsExpandTheElementNumber) {
  const auto expand_pattern = [](std::string_view text, std::uint64_t number) {
    auto pattern = parse_descriptor_pattern(text);
    EXPECT_TRUE(pattern) << text;
    return pattern ? expand_descriptor_pattern(*pattern, number) : std::string{};
  };
  EXPECT_EQ(expand_pattern("Slot {:02}", 0), "Slot 00");
  EXPECT_EQ(expand_pattern("Slot {:02}", 11), "Slot 11");
  EXPECT_EQ(expand_pattern("Slot {:03}", 101), "Slot 101");
  EXPECT_EQ(expand_pattern("Slot {}", 3), "Slot 3");
  EXPECT_EQ(expand_pattern("Fan {:x}", 10), "Fan a");
  EXPECT_EQ(expand_pattern("Bay {:4}", 5), "Bay    5");
  EXPECT_EQ(expand_pattern("{{}}{}", 1), "{}1");
  EXPECT_EQ(expand_pattern("PSU", 1), "PSU");
  EXPECT_FALSE(parse_descriptor_pattern("Slot {slot}"));
}

// Scenario string fields (scenario.cpp) give what they gave before the grammar was shared.
TEST(TextTemplate, ScenarioFieldsExpandPerLun) {
  auto scenario = parse_scenario(
      R"({"buses":[{"targets":{"count":2,"first_id":9,"luns_per_target":2,"template":{)"
      R"("vendor":"V{bus}","product":"P{target:03}","serial":"S{target:02}-{lun:04x}-{index}"}}}]})",
      "x.json");
  ASSERT_TRUE(scenario) << scenario.error().message();
  const auto& targets = scenario->buses.at(0).targets;
  ASSERT_EQ(targets.size(), 2U);
  EXPECT_EQ(targets[0].luns.at(0).vendor, "V0");
  EXPECT_EQ(targets[0].luns.at(0).product, "P009");
  EXPECT_EQ(targets[0].luns.at(1).serial, "S09-0001-1");
  EXPECT_EQ(targets[1].luns.at(0).serial, "S10-0000-2");
  EXPECT_EQ(targets[1].luns.at(1).serial, "S10-0001-3");
}

}  // namespace
}  // namespace ucam::emu::testing
