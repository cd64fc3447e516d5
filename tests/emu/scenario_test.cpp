#include "sims/emu/scenario.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "sims/emu/models/disk.h"
#include "sims/emu/models/processor.h"

namespace ucam::emu {
namespace {

Scenario parse_ok(std::string_view json) {
  auto scenario = parse_scenario(json, "x.json");
  EXPECT_TRUE(scenario.has_value()) << (scenario ? "" : scenario.error().message());
  return scenario ? *scenario : Scenario{};
}

// --- Malformed scenarios: each names the file, the JSON path and the problem. -----------------

struct BadCase {
  const char* name;
  const char* json;
  const char* message;  // The exact error context.
};

const BadCase kBadCases[] = {
    {"CapacityNotANumber", R"({"buses":[{"targets":[{},{},{"luns":[{"capacity":"ten"}]}]}]})",
     R"(x.json: buses[0].targets[2].luns[0].capacity: expected a positive integer, got "ten")"},
    {"CapacityZero", R"({"buses":[{"targets":[{"luns":[{"capacity":0}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].capacity: expected a positive integer, got 0"},
    {"CapacityNegative", R"({"buses":[{"targets":[{"luns":[{"capacity":-5}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].capacity: expected a positive integer, got -5"},
    {"CapacityFraction", R"({"buses":[{"targets":[{"luns":[{"capacity":1.5}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].capacity: expected a positive integer, got 1.5"},
    {"UnknownLunKey", R"({"buses":[{"targets":[{"luns":[{"capactiy":10}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].capactiy: unknown key"},
    {"UnknownTopLevelKey", R"({"bus":[],"buses":[]})", "x.json: bus: unknown key"},
    {"UnknownBusKey", R"({"buses":[{"max_targets":3}]})",
     "x.json: buses[0].max_targets: unknown key"},
    {"UnknownTargetKey", R"({"buses":[{"targets":[{"idd":3}]}]})",
     "x.json: buses[0].targets[0].idd: unknown key"},
    {"ModelKeyOnOtherModel",
     R"({"buses":[{"targets":[{"luns":[{"type":"disk","message_limit":3}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].message_limit: unknown key"},
    {"DiskKeyOnProcessor",
     R"({"buses":[{"targets":[{"luns":[{"type":"processor","capacity":3}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].capacity: unknown key"},
    {"UnknownType", R"({"buses":[{"targets":[{"luns":[{"type":"optical"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].type: expected one of "disk", "processor", "ses", "safte", "changer", "tape", got "optical")"},
    {"TypeNotAString", R"({"buses":[{"targets":[{"luns":[{"type":3}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].type: expected a string, got 3"},
    {"DuplicateTargetId", R"({"buses":[{"targets":[{"id":3},{"id":1},{"id":3}]}]})",
     "x.json: buses[0].targets[2].id: duplicate target id 3 (also at buses[0].targets[0].id)"},
    {"DuplicateDefaultedTargetId", R"({"buses":[{"targets":[{"id":1},{"id":0},{}]}]})",
     "x.json: buses[0].targets[2]: duplicate target id 1 (also at buses[0].targets[0].id)"},
    {"DuplicateLun", R"({"buses":[{"targets":[{"luns":[{"lun":4},{"lun":2},{"lun":4}]}]}]})",
     "x.json: buses[0].targets[0].luns[2].lun: duplicate LUN 4 (also at "
     "buses[0].targets[0].luns[0].lun)"},
    {"DuplicateDefaultedLun", R"({"buses":[{"targets":[{"luns":[{"lun":1},{"lun":0},{}]}]}]})",
     "x.json: buses[0].targets[0].luns[2]: duplicate LUN 1 (also at "
     "buses[0].targets[0].luns[0].lun)"},
    {"DuplicateJsonKey", R"({"buses":[{"targets":[{"id":1,"id":2}]}]})",
     R"(x.json: buses[0].targets[0]: duplicate key "id")"},
    {"MissingBuses", R"({"name":"x"})", "x.json: buses: missing required field"},
    {"BusesNotAnArray", R"({"buses":{"targets":[]}})",
     "x.json: buses: expected an array of buses, got an object"},
    {"RootNotAnObject", "[1]", R"(x.json: expected an object with a "buses" array, got an array)"},
    {"BusNotAnObject", R"({"buses":[3]})", "x.json: buses[0]: expected an object, got 3"},
    {"TargetNotAnObject", R"({"buses":[{"targets":[5]}]})",
     "x.json: buses[0].targets[0]: expected an object, got 5"},
    {"LunNotAnObject", R"({"buses":[{"targets":[{"luns":[null]}]}]})",
     "x.json: buses[0].targets[0].luns[0]: expected an object, got null"},
    {"TargetsWrongType", R"({"buses":[{"targets":"all"}]})",
     R"(x.json: buses[0].targets: expected an array of targets or a generator object, got "all")"},
    {"LunsWrongType", R"({"buses":[{"targets":[{"luns":7}]}]})",
     "x.json: buses[0].targets[0].luns: expected an array of LUNs or a generator object, got 7"},
    {"VendorTooLong", R"({"buses":[{"targets":[{"luns":[{"vendor":"ABCDEFGHIJ"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].vendor: "ABCDEFGHIJ" is longer than 8 characters)"},
    {"ProductTooLong", R"({"buses":[{"targets":[{"luns":[{"product":"ABCDEFGHIJKLMNOPQ"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].product: "ABCDEFGHIJKLMNOPQ" is longer than 16 characters)"},
    {"RevisionTooLong", R"({"buses":[{"targets":[{"luns":[{"revision":"12345"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].revision: "12345" is longer than 4 characters)"},
    {"SerialNotAscii", R"({"buses":[{"targets":[{"luns":[{"serial":"S\u00e9rie"}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].serial: only printable ASCII characters are allowed"},
    {"NaaNotHex", R"({"buses":[{"targets":[{"luns":[{"naa":"5xyz000000000000"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].naa: expected a string of 16 hex digits, got "5xyz000000000000")"},
    {"NaaTooShort", R"({"buses":[{"targets":[{"luns":[{"naa":"5000"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].naa: expected a string of 16 hex digits, got "5000")"},
    {"NaaAsNumber", R"({"buses":[{"targets":[{"luns":[{"naa":5000}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].naa: expected a string of 16 hex digits, got 5000"},
    {"NaaWrongType", R"({"buses":[{"targets":[{"luns":[{"naa":"6000000000000001"}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].naa: NAA type 6 cannot be used here: expected 2, 3 "
     "or 5 (first hex digit)"},
    {"SasAddressNotNaa5", R"({"buses":[{"targets":[{"sas_address":"3000000000000001"}]}]})",
     "x.json: buses[0].targets[0].sas_address: a SAS address is NAA type 5: expected a first "
     "hex digit of 5"},
    {"LunAboveFlatSpace", R"({"buses":[{"targets":[{"luns":[{"lun":16384}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].lun: expected an integer in 0..16383, got 16384"},
    {"TargetAboveMaxTarget", R"({"buses":[{"max_target":15,"targets":[{"id":16}]}]})",
     "x.json: buses[0].targets[0].id: target id 16 is above the bus's max_target 15"},
    {"TargetIsInitiator", R"({"buses":[{"initiator_id":2,"targets":[{"id":2}]}]})",
     "x.json: buses[0].targets[0].id: target id 2 is the initiator's id"},
    {"MaxLunBelowHighestLun", R"({"buses":[{"max_lun":3,"targets":[{"luns":[{"lun":7}]}]}]})",
     "x.json: buses[0].max_lun: 3 is below the highest LUN 7 on the bus"},
    {"UnknownTransport", R"({"buses":[{"transport":"SCSI"}]})",
     R"(x.json: buses[0].transport: expected one of "SAS", "SPI", "FC", "iSCSI", got "SCSI")"},
    {"QueueDepthZero", R"({"buses":[{"queue_depth":0}]})",
     "x.json: buses[0].queue_depth: expected an integer in 1..65535, got 0"},
    {"SenseFormatUnknown", R"({"buses":[{"targets":[{"luns":[{"sense_format":"long"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].sense_format: expected one of "fixed", "descriptor", got "long")"},
    {"RelativePortZero", R"({"buses":[{"targets":[{"relative_target_port":0}]}]})",
     "x.json: buses[0].targets[0].relative_target_port: expected an integer in 1..65535, got 0"},
    {"WriteCacheNotBool", R"({"buses":[{"targets":[{"luns":[{"write_cache":"yes"}]}]}]})",
     R"(x.json: buses[0].targets[0].luns[0].write_cache: expected true or false, got "yes")"},
    {"BlockSizeTooSmall", R"({"buses":[{"targets":[{"luns":[{"block_size":100}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].block_size: expected an integer in 256..65536, got 100"},
    {"BlockSizeOdd", R"({"buses":[{"targets":[{"luns":[{"block_size":513}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].block_size: expected a multiple of 8 in 256..65536, "
     "got 513"},
    {"MessageLimitZero",
     R"({"buses":[{"targets":[{"luns":[{"type":"processor","message_limit":0}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].message_limit: expected an integer in 1..65536, got 0"},
    {"GeneratorWithoutCount", R"({"buses":[{"targets":{"luns_per_target":2}}]})",
     "x.json: buses[0].targets.count: missing required field"},
    {"GeneratorTooManyLuns", R"({"buses":[{"targets":{"count":1000,"luns_per_target":101}}]})",
     "x.json: buses[0].targets.count: the scenario would have more than 100000 LUNs (the limit, "
     "see docs/scenarios.md)"},
    // Refused by counting before anything is built: building a billion LUNs first would not end.
    {"GeneratorOfABillionLuns",
     R"({"buses":[{"targets":{"count":65536,"luns_per_target":16384}}]})",
     "x.json: buses[0].targets.count: the scenario would have more than 100000 LUNs (the limit, "
     "see docs/scenarios.md)"},
    {"GeneratorTooManyLunsAcrossBuses",
     R"({"buses":[{"targets":{"count":1000,"luns_per_target":60}},
                  {"targets":{"count":1000,"luns_per_target":60}}]})",
     "x.json: buses[1].targets.count: the scenario would have more than 100000 LUNs (the limit, "
     "see docs/scenarios.md)"},
    {"LunGeneratorsOverTheLimit",
     R"({"buses":[{"targets":{"count":1000,"luns_per_target":100}},
                  {"targets":[{"luns":{"count":1}}]}]})",
     "x.json: buses[1].targets[0].luns.count: the scenario would have more than 100000 LUNs (the "
     "limit, see docs/scenarios.md)"},
    {"ExplicitLunsOverTheLimit",
     R"({"buses":[{"targets":{"count":1000,"luns_per_target":100}},
                  {"targets":[{"luns":[{}, {}]}]}]})",
     "x.json: buses[1].targets[0].luns: the scenario would have more than 100000 LUNs (the limit, "
     "see docs/scenarios.md)"},
    {"DefaultLunOverTheLimit",
     R"({"buses":[{"targets":{"count":1000,"luns_per_target":100}}, {"targets":[{"id":4}]}]})",
     "x.json: buses[1].targets[0]: the scenario would have more than 100000 LUNs (the limit, "
     "see docs/scenarios.md)"},
    {"GeneratorUnknownKey", R"({"buses":[{"targets":{"count":2,"lun_per_target":2}}]})",
     "x.json: buses[0].targets.lun_per_target: unknown key"},
    {"GeneratorIdsBeyondRange", R"({"buses":[{"targets":{"count":10,"first_id":65530}}]})",
     "x.json: buses[0].targets.count: target ids 65530..65539 go beyond the highest id 65535"},
    {"GeneratorLunsBeyondRange",
     R"({"buses":[{"targets":{"count":1,"first_lun":16380,"luns_per_target":5}}]})",
     "x.json: buses[0].targets.luns_per_target: LUNs 16380..16384 go beyond the highest LUN "
     "16383"},
    {"TemplateFieldError", R"({"buses":[{"targets":{"count":2,"template":{"capacity":"big"}}}]})",
     R"(x.json: buses[0].targets.template.capacity: expected a positive integer, got "big")"},
    {"TemplateUnknownKey", R"({"buses":[{"targets":{"count":2,"template":{"serail":"x"}}}]})",
     "x.json: buses[0].targets.template.serail: unknown key"},
    {"TemplateFixesLun", R"({"buses":[{"targets":{"count":2,"template":{"lun":1}}}]})",
     "x.json: buses[0].targets.template.lun: a template cannot fix the LUN (use first_lun)"},
    {"TemplateNotAnObject", R"({"buses":[{"targets":{"count":2,"template":[]}}]})",
     "x.json: buses[0].targets.template: expected an object, got an array"},
    {"BadPlaceholder", R"({"buses":[{"targets":{"count":2,"template":{"serial":"S{slot}"}}}]})",
     R"(x.json: buses[0].targets.template.serial: bad placeholder "{slot}": expected {bus}, {target}, {lun} or {index} with an optional format like :04 or :x)"},
    {"UnterminatedPlaceholder", R"({"buses":[{"targets":[{"luns":[{"serial":"S{lun"}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].serial: unterminated placeholder \"{lun\" (write '{{' "
     "for a literal brace)"},
    {"UnmatchedBrace", R"({"buses":[{"targets":[{"luns":[{"serial":"S}"}]}]}]})",
     "x.json: buses[0].targets[0].luns[0].serial: unmatched '}' in \"S}\" (write '}}' for a "
     "literal brace)"},
    {"GeneratedStringTooLongForLaterLun",
     R"({"buses":[{"targets":{"count":20,"luns_per_target":10,"template":{"vendor":"ABCDEF{index}"}}}]})",
     R"(x.json: buses[0].targets.template.vendor: "ABCDEF100" is longer than 8 characters (target 10 lun 0))"},
    {"GeneratedNaaOverflow",
     R"({"buses":[{"targets":{"count":2,"template":{"naa":"5fffffffffffffff"}}}]})",
     "x.json: buses[0].targets.template.naa: base + 1 overflows the NAA field (target 1 lun 0)"},
    {"LunGeneratorTooMany", R"({"buses":[{"targets":[{"luns":{"count":16385}}]}]})",
     "x.json: buses[0].targets[0].luns.count: expected an integer in 1..16384, got 16385"},
    {"LunGeneratorBeyondRange",
     R"({"buses":[{"targets":[{"luns":{"count":10,"first_lun":16380}}]}]})",
     "x.json: buses[0].targets[0].luns.count: LUNs 16380..16389 go beyond the highest LUN 16383"},
};

class ScenarioParseBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ScenarioParseBad, ErrorNamesFileFieldPathAndProblem) {
  const BadCase& c = GetParam();
  auto scenario = parse_scenario(c.json, "x.json");
  ASSERT_FALSE(scenario.has_value()) << c.name << " parsed";
  EXPECT_EQ(scenario.error().context(), c.message);
  EXPECT_EQ(scenario.error().errno_value(), EINVAL);
}

INSTANTIATE_TEST_SUITE_P(ScenarioParse, ScenarioParseBad, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ScenarioParse, TheLunLimitItselfIsAccepted) {
  const Scenario s = parse_ok(R"({"buses":[{"max_target":999,"targets":{"count":999,
      "luns_per_target":100}}, {"targets":{"count":99,"luns_per_target":1}},
      {"targets":[{"luns":[{}]}]}]})");
  EXPECT_EQ(s.lun_count(), kMaxScenarioLuns);
}

TEST(ScenarioParse, MoreBusesThanTheLimitAreRefusedBeforeAnyIsBuilt) {
  std::string text = R"({"buses":[)";
  for (std::size_t i = 0; i <= kMaxScenarioBuses; ++i) {
    text += i == 0 ? "{}" : ",{}";
  }
  text += "]}";
  auto scenario = parse_scenario(text, "x.json");
  ASSERT_FALSE(scenario);
  EXPECT_EQ(scenario.error().context(), "x.json: buses: 1025 buses; the limit is 1024");
  EXPECT_EQ(scenario.error().errno_value(), EINVAL);
}

// Nesting is refused by a linear scan before parsing: parsing 100,000 levels took seconds and
// gigabytes (the reader keeps each open level's path), also inside an ignored "comment".
TEST(ScenarioParse, DeepNestingIsRefusedBeforeParsingNamingWhere) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto scenario = parse_scenario(deep, "deep.json");
  ASSERT_FALSE(scenario);
  EXPECT_EQ(scenario.error().context(),
            "deep.json: line 1, column 65 (byte 64): arrays and objects nested more than 64 deep "
            "(the limit)");
  EXPECT_EQ(scenario.error().errno_value(), EINVAL);

  const std::string in_comment = "{\"buses\": [],\n \"comment\": " + deep + "}";
  scenario = parse_scenario(in_comment, "comment.json");
  ASSERT_FALSE(scenario);
  EXPECT_EQ(scenario.error().context(),
            "comment.json: line 2, column 76 (byte 89): arrays and objects nested more than 64 "
            "deep (the limit)");
  // Brackets in strings do not count, and 64 levels are allowed.
  const std::string at_limit = "{\"buses\": [], \"comment\": " + std::string(63, '[') +
                               "\"[[[[\\\"{{\"" + std::string(63, ']') + "}";
  parse_ok(at_limit);
}

TEST(ScenarioParse, ErrorNamesFieldPath) {
  auto scenario = parse_scenario(R"({"buses":[{"targets":[{},{},{"luns":[{"capacity":"ten"}]}]}]})",
                                 "examples/x.json");
  ASSERT_FALSE(scenario);
  EXPECT_EQ(
      scenario.error().context(),
      R"(examples/x.json: buses[0].targets[2].luns[0].capacity: expected a positive integer, got "ten")");
}

TEST(ScenarioParse, SyntaxErrorNamesLineAndColumn) {
  auto scenario = parse_scenario("{\n  \"buses\": [\n    {,}\n  ]\n}\n", "bad.json");
  ASSERT_FALSE(scenario);
  const std::string& message = scenario.error().context();
  EXPECT_EQ(message.rfind("bad.json: line 3, column 6: syntax error", 0), 0U) << message;
}

TEST(ScenarioParse, TruncatedFileIsASyntaxError) {
  auto scenario = parse_scenario("{\"buses\": [", "cut.json");
  ASSERT_FALSE(scenario);
  EXPECT_NE(scenario.error().context().find("cut.json: line 1, column 12: syntax error"),
            std::string::npos)
      << scenario.error().context();
}

TEST(ScenarioParse, EmptyTextIsASyntaxError) {
  auto scenario = parse_scenario("", "empty.json");
  ASSERT_FALSE(scenario);
  EXPECT_EQ(scenario.error().context().rfind("empty.json: line 1, column 1:", 0), 0U)
      << scenario.error().context();
}

// --- Defaults ---------------------------------------------------------------------------------

TEST(ScenarioParse, MinimalFileGivesOneDefaultDisk) {
  const Scenario s = parse_ok(R"({"buses":[{"targets":[{}]}]})");
  ASSERT_EQ(s.buses.size(), 1U);
  const BusSpec& bus = s.buses[0];
  EXPECT_EQ(bus.transport, Transport::Sas);
  EXPECT_EQ(bus.max_target, 63U);
  EXPECT_EQ(bus.max_lun, 255U);
  EXPECT_EQ(bus.initiator_id, 64U);
  EXPECT_EQ(bus.queue_depth, 64U);
  ASSERT_EQ(bus.targets.size(), 1U);
  const TargetSpec& target = bus.targets[0];
  EXPECT_EQ(target.id, 0U);
  EXPECT_EQ(target.sas_address, default_target_sas_address(0, 0));
  EXPECT_EQ(target.relative_target_port, 1);
  ASSERT_EQ(target.luns.size(), 1U);
  const LunSpec& lun = target.luns[0];
  EXPECT_EQ(lun.lun, 0U);
  EXPECT_EQ(lun.type(), "disk");
  EXPECT_EQ(lun.vendor, "UCAM");
  EXPECT_EQ(lun.product, "EMU DISK");
  EXPECT_EQ(lun.revision, "0001");
  EXPECT_EQ(lun.serial, default_serial(0, 0, 0));
  EXPECT_EQ(lun.naa, default_lu_naa(0, 0, 0));
  EXPECT_EQ(lun.sas_address, target.sas_address);
  EXPECT_EQ(lun.relative_target_port, 1);
  EXPECT_EQ(lun.sense_format, scsi::SenseFormat::Fixed);
  const auto* disk = lun.config_as<DiskConfig>();
  ASSERT_NE(disk, nullptr);
  EXPECT_EQ(disk->capacity, 2097152U);
  EXPECT_EQ(disk->block_size, 512U);
  EXPECT_TRUE(disk->write_cache);
}

TEST(ScenarioParse, NameDefaultsToFileStem) {
  auto s = parse_scenario(R"({"buses":[]})", "some/dir/lab-rack.json");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name, "lab-rack");
  EXPECT_EQ(s->source, "some/dir/lab-rack.json");
  EXPECT_TRUE(s->buses.empty());
  auto named = parse_scenario(R"({"name":"given","description":"d","buses":[]})", "a.json");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->name, "given");
  EXPECT_EQ(named->description, "d");
}

TEST(ScenarioParse, ProcessorDefaults) {
  const Scenario s = parse_ok(R"({"buses":[{"targets":[{"luns":[{"type":"processor"}]}]}]})");
  const LunSpec& lun = s.buses[0].targets[0].luns[0];
  EXPECT_EQ(lun.type(), "processor");
  EXPECT_EQ(lun.product, "EMU PROCESSOR");
  const auto* config = lun.config_as<ProcessorConfig>();
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->message_limit, 64U);
}

TEST(ScenarioParse, IdsAndLunsDefaultToPreviousPlusOne) {
  const Scenario s =
      parse_ok(R"({"buses":[{"targets":[{"id":4},{},{"luns":[{"lun":2},{},{}]}]}]})");
  const auto& targets = s.buses[0].targets;
  ASSERT_EQ(targets.size(), 3U);
  EXPECT_EQ(targets[0].id, 4U);
  EXPECT_EQ(targets[1].id, 5U);
  EXPECT_EQ(targets[2].id, 6U);
  ASSERT_EQ(targets[2].luns.size(), 3U);
  EXPECT_EQ(targets[2].luns[0].lun, 2U);
  EXPECT_EQ(targets[2].luns[1].lun, 3U);
  EXPECT_EQ(targets[2].luns[2].lun, 4U);
}

TEST(ScenarioParse, TargetsAndLunsAreSorted) {
  const Scenario s =
      parse_ok(R"({"buses":[{"targets":[{"id":9},{"id":2,"luns":[{"lun":7},{"lun":1}]}]}]})");
  const auto& targets = s.buses[0].targets;
  ASSERT_EQ(targets.size(), 2U);
  EXPECT_EQ(targets[0].id, 2U);
  EXPECT_EQ(targets[1].id, 9U);
  EXPECT_EQ(targets[0].luns[0].lun, 1U);
  EXPECT_EQ(targets[0].luns[1].lun, 7U);
  EXPECT_NE(s.buses[0].find_target(9), nullptr);
  EXPECT_EQ(s.buses[0].find_target(3), nullptr);
  EXPECT_NE(targets[0].find_lun(7), nullptr);
  EXPECT_EQ(targets[0].find_lun(2), nullptr);
}

TEST(ScenarioParse, ExplicitFieldsAreKept) {
  const Scenario s = parse_ok(R"({"buses":[{"transport":"FC","max_target":200,"max_lun":511,
      "initiator_id":7,"queue_depth":16,"targets":[{"id":3,"sas_address":"0x5acde48100000003",
      "relative_target_port":2,"luns":[{"lun":1,"type":"disk","vendor":"ACME","product":"P",
      "revision":"R1","serial":"SN1","naa":"3000000000000001","capacity":100,"block_size":4096,
      "write_cache":false,"sense_format":"descriptor","comment":"ignored"}]}]}]})");
  const BusSpec& bus = s.buses[0];
  EXPECT_EQ(bus.transport, Transport::Fc);
  EXPECT_EQ(bus.max_target, 200U);
  EXPECT_EQ(bus.max_lun, 511U);
  EXPECT_EQ(bus.initiator_id, 7U);
  EXPECT_EQ(bus.queue_depth, 16U);
  const LunSpec& lun = bus.targets[0].luns[0];
  EXPECT_EQ(lun.vendor, "ACME");
  EXPECT_EQ(lun.product, "P");
  EXPECT_EQ(lun.revision, "R1");
  EXPECT_EQ(lun.serial, "SN1");
  EXPECT_EQ(lun.naa, 0x3000000000000001U);
  EXPECT_EQ(lun.sas_address, 0x5acde48100000003U);
  EXPECT_EQ(lun.relative_target_port, 2);
  EXPECT_EQ(lun.sense_format, scsi::SenseFormat::Descriptor);
  const auto* disk = lun.config_as<DiskConfig>();
  ASSERT_NE(disk, nullptr);
  EXPECT_EQ(disk->capacity, 100U);
  EXPECT_EQ(disk->block_size, 4096U);
  EXPECT_FALSE(disk->write_cache);
}

TEST(ScenarioParse, LunPortFieldsOverrideTheTargets) {
  const Scenario s = parse_ok(R"({"buses":[{"targets":[{"sas_address":"5000000000000010",
      "relative_target_port":3,"luns":[{},{"sas_address":"5000000000000020",
      "relative_target_port":4}]}]}]})");
  const auto& luns = s.buses[0].targets[0].luns;
  EXPECT_EQ(luns[0].sas_address, 0x5000000000000010U);
  EXPECT_EQ(luns[0].relative_target_port, 3);
  EXPECT_EQ(luns[1].sas_address, 0x5000000000000020U);
  EXPECT_EQ(luns[1].relative_target_port, 4);
}

TEST(ScenarioParse, DefaultIdentifiersAreDistinct) {
  const Scenario s = parse_ok(R"({"buses":[
      {"targets":[{"id":0,"luns":[{},{},{}]},{"id":1,"luns":[{},{}]}]},
      {"targets":[{"id":0,"luns":[{},{}]}]}]})");
  std::set<std::uint64_t> naas;
  std::set<std::string> serials;
  std::set<std::uint64_t> ports;
  for (const auto& bus : s.buses) {
    for (const auto& target : bus.targets) {
      ports.insert(target.sas_address);
      for (const auto& lun : target.luns) {
        naas.insert(lun.naa);
        serials.insert(lun.serial);
        EXPECT_EQ(lun.naa >> 60, 5U);
      }
    }
  }
  EXPECT_EQ(naas.size(), 7U);
  EXPECT_EQ(serials.size(), 7U);
  EXPECT_EQ(ports.size(), 3U);
  for (auto port : ports) {
    EXPECT_EQ(naas.count(port), 0U) << "a port name equals a LU name";
  }
}

TEST(ScenarioParse, EmptyBusAndCommentsAreAccepted) {
  const Scenario s = parse_ok(R"({"comment":"top","buses":[{"comment":"no targets"}]})");
  ASSERT_EQ(s.buses.size(), 1U);
  EXPECT_TRUE(s.buses[0].targets.empty());
  EXPECT_EQ(s.lun_count(), 0U);
}

TEST(ScenarioParse, DefaultMaxTargetGrowsWithTheHighestId) {
  const Scenario s = parse_ok(R"({"buses":[{"targets":[{"id":100}]}]})");
  EXPECT_EQ(s.buses[0].max_target, 100U);
  EXPECT_EQ(s.buses[0].initiator_id, 101U);
}

// --- Generators -------------------------------------------------------------------------------

TEST(ScenarioGenerator, TargetGeneratorDerivesIdentitiesPerLun) {
  const Scenario s = parse_ok(R"({"buses":[{"targets":{"count":3,"first_id":2,
      "luns_per_target":4,"first_lun":1,"template":{"vendor":"V{bus}","product":"P{target:03}",
      "serial":"S{target:02}-{lun:04x}-{index}","naa":"5000000000000100",
      "sas_address":"5000000000000a00","capacity":77}}}]})");
  const auto& targets = s.buses[0].targets;
  ASSERT_EQ(targets.size(), 3U);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    EXPECT_EQ(targets[t].id, 2 + t);
    EXPECT_EQ(targets[t].sas_address, 0x5000000000000a00U + t);
    ASSERT_EQ(targets[t].luns.size(), 4U);
    for (std::size_t l = 0; l < 4; ++l) {
      const LunSpec& lun = targets[t].luns[l];
      const std::size_t index = t * 4 + l;
      EXPECT_EQ(lun.lun, 1 + l);
      EXPECT_EQ(lun.vendor, "V0");
      EXPECT_EQ(lun.product, fmt::format("P{:03}", 2 + t));
      EXPECT_EQ(lun.serial, fmt::format("S{:02}-{:04x}-{}", 2 + t, 1 + l, index));
      EXPECT_EQ(lun.naa, 0x5000000000000100U + index);
      EXPECT_EQ(lun.sas_address, targets[t].sas_address);
      EXPECT_EQ(lun.config_as<DiskConfig>()->capacity, 77U);
    }
  }
  // One model configuration shared by every generated LUN.
  EXPECT_EQ(targets[0].luns[0].config.get(), targets[2].luns[3].config.get());
}

TEST(ScenarioGenerator, TemplateWithoutIdentifiersGetsDistinctDefaults) {
  const Scenario s = parse_ok(R"({"buses":[{"targets":{"count":2,"luns_per_target":2}}]})");
  const auto& targets = s.buses[0].targets;
  EXPECT_EQ(targets[1].luns[1].serial, default_serial(0, 1, 1));
  EXPECT_EQ(targets[1].luns[1].naa, default_lu_naa(0, 1, 1));
  EXPECT_EQ(targets[1].sas_address, default_target_sas_address(0, 1));
  EXPECT_NE(targets[0].sas_address, targets[1].sas_address);
}

TEST(ScenarioGenerator, LunGeneratorInsideATarget) {
  const Scenario s = parse_ok(R"({"buses":[{"targets":[{"id":5,"luns":{"count":3,
      "first_lun":8,"template":{"type":"processor","serial":"PR{lun}","naa":"5000000000000001"}}}]}]})");
  const auto& luns = s.buses[0].targets[0].luns;
  ASSERT_EQ(luns.size(), 3U);
  EXPECT_EQ(luns[0].lun, 8U);
  EXPECT_EQ(luns[2].lun, 10U);
  EXPECT_EQ(luns[2].serial, "PR10");
  EXPECT_EQ(luns[2].naa, 0x5000000000000003U);
  EXPECT_EQ(luns[2].type(), "processor");
}

TEST(ScenarioGenerator, TenThousandLunsFromAFewLines) {
  const Scenario s = parse_ok(R"({"buses":[{"max_target":127,"targets":{"count":100,
      "luns_per_target":100,"template":{"serial":"BIG{target:03}L{lun:03}",
      "naa":"5acde48200000000"}}}]})");
  EXPECT_EQ(s.lun_count(), 10000U);
  const LunSpec* last = s.buses[0].find_target(99)->find_lun(99);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->serial, "BIG099L099");
  EXPECT_EQ(last->naa, 0x5acde48200000000U + 9999);
}

TEST(ScenarioGenerator, PlaceholderFormats) {
  auto s = parse_scenario(R"({"buses":[{"targets":[{"id":10,"luns":[{"lun":255,
      "serial":"{{x}}{target:4}|{lun:x}|{lun:06x}|{bus:02}"}]}]}]})",
                          "p.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->buses[0].targets[0].luns[0].serial, "{x}  10|ff|0000ff|00");
}

// --- Files ------------------------------------------------------------------------------------

class ScenarioFile : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = std::filesystem::temp_directory_path() /
            ("ucam-emu-scenario-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(m_dir);
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::filesystem::path write(const std::string& name, std::string_view text) {
    const auto path = m_dir / name;
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path m_dir;
};

TEST_F(ScenarioFile, LoadsAFile) {
  const auto path = write("rack.json", R"({"buses":[{"targets":[{"luns":[{"lun":3}]}]}]})");
  auto s = load_scenario_file(path);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->name, "rack");
  EXPECT_EQ(s->source, path.string());
  EXPECT_EQ(s->buses[0].targets[0].luns[0].lun, 3U);
}

TEST_F(ScenarioFile, ErrorsNameThePath) {
  const auto path = write("bad.json", R"({"buses":[{"targets":[{"luns":[{"capacity":-1}]}]}]})");
  auto s = load_scenario_file(path);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().context(), path.string() +
                                     ": buses[0].targets[0].luns[0].capacity: expected a positive "
                                     "integer, got -1");
}

TEST_F(ScenarioFile, MissingFileIsENOENT) {
  auto s = load_scenario_file(m_dir / "nope.json");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errno_value(), ENOENT);
  EXPECT_NE(s.error().context().find("nope.json"), std::string::npos);
}

}  // namespace
}  // namespace ucam::emu
