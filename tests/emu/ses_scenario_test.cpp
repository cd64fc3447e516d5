// The enclosure keys of the scenario format: defaults, the compact forms, parse errors that name
// the JSON path, errors found when the emulator links enclosures to the rest of the scenario,
// and the example scenarios that have enclosures.
#include <gtest/gtest.h>

#include "sims/emu/embedded.h"
#include "tests/emu/ses_harness.h"

namespace ucam::emu::testing {
namespace {

namespace ses = scsi::ses;

std::string scenario_with(const std::string& lun) {
  return R"({"buses":[{"targets":[{"id":0},{"id":1},{"id":2,"luns":[{"type":"processor"}]},
    {"id":9,"luns":[)" +
         lun + "]}]}]}";
}

TEST(SesScenario, BareSesLunGetsASmallDefaultEnclosure) {
  Harness h(R"({"buses":[{"targets":[{"id":3,"luns":[{"type":"ses"}]}]}]})");
  ASSERT_TRUE(h.emu);
  const auto config = read_config(h, {0, 3, 0});
  ASSERT_EQ(config.types.size(), 4U);
  EXPECT_EQ(config.types[0], (ses::TypeHeader{0x01, 4, 0, ""}));
  EXPECT_EQ(config.types[1].element_type, 0x02);
  EXPECT_EQ(config.types[2].element_type, 0x03);
  EXPECT_EQ(config.types[3].element_type, 0x04);
  EXPECT_EQ(config.subenclosures[0].vendor, "UCAM");
  EXPECT_EQ(config.subenclosures[0].product, "EMU ENCLOSURE");
  EXPECT_EQ(config.subenclosures[0].logical_id, default_lu_naa(0, 3, 0));
  EXPECT_EQ(h.emu->enclosure_names(), (std::vector<std::string>{"0:3:0"}));
  const auto view = h.emu->enclosure(LunAddress{0, 3, 0});
  ASSERT_TRUE(view);
  EXPECT_EQ(view->slot(0)->descriptor, "Slot 00");
  EXPECT_EQ(ses::status_code(view->slot(0)->status), 5);  // empty
}

TEST(SesScenario, SlotsCanNameDisksExplicitly) {
  Harness h(scenario_with(R"({"type":"ses","elements":[{"type":"array_slots","count":4,
      "disks":[{"target":1},null,"5000c50000000abc",{"sas_address":"5000c50000000abd"}],
      "status":["ok","critical","ok","noncritical"]}]})"));
  ASSERT_TRUE(h.emu);
  const auto view = h.emu->enclosure("0:9:0");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->slot(0)->disk, (LunAddress{0, 1, 0}));
  EXPECT_EQ(view->slot(0)->sas_address, target_port_address(h, {0, 1, 0}));
  EXPECT_EQ(view->slot(1)->sas_address, 0U);
  EXPECT_EQ(ses::status_code(view->slot(1)->status), 2);  // as configured, though empty
  EXPECT_EQ(view->slot(2)->sas_address, 0x5000c50000000abcU);
  EXPECT_FALSE(view->slot(2)->disk);
  EXPECT_EQ(view->slot(3)->sas_address, 0x5000c50000000abdU);
  EXPECT_EQ(ses::status_code(view->slot(3)->status), 3);
}

TEST(SesScenario, AutoSkipsLunsThatAreNotDisks) {
  Harness h(scenario_with(R"({"type":"ses","elements":{"slots":{"count":5,"disks":"auto"}}})"));
  ASSERT_TRUE(h.emu);
  const auto view = h.emu->enclosure("0:9:0");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->slot(0)->disk, (LunAddress{0, 0, 0}));
  EXPECT_EQ(view->slot(1)->disk, (LunAddress{0, 1, 0}));
  EXPECT_FALSE(view->slot(2)->disk);  // target 2 is a processor, target 9 the enclosure
}

TEST(SesScenario, LunsGeneratedFromOneTemplateShareTheEnclosure) {
  Harness h(R"({"buses":[{"targets":[{"id":0},{"id":9,"luns":{"count":2,"template":{
    "type":"ses","enclosure":"shared","naa":"5acde48000007000",
    "elements":{"slots":{"count":2,"disks":"auto","targets":[0]}}}}}]}]})");
  ASSERT_TRUE(h.emu);
  const auto view = h.emu->enclosure("shared");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->luns, (std::vector<LunAddress>{{0, 9, 0}, {0, 9, 1}}));
  const auto second = read_config(h, {0, 9, 1});
  EXPECT_EQ(second.subenclosures[0].relative_es_process_id, 2);
  EXPECT_EQ(second.subenclosures[0].es_process_count, 2);
  EXPECT_EQ(second.subenclosures[0].logical_id, 0x5acde48000007000U);
}

TEST(SesScenario, PortsOfOneSesLogicalUnitAreOneProcess) {
  // Same type and NAA: the two paths of one SES device, so one enclosure service process.
  Harness h(R"({"buses":[
    {"targets":[{"id":9,"luns":[{"type":"ses","enclosure":"e","naa":"5acde48000007001"}]}]},
    {"targets":[{"id":9,"luns":[{"type":"ses","enclosure":"e","naa":"5acde48000007001",
       "elements":{"fans":2}}]}]}]})");
  ASSERT_TRUE(h.emu);
  const auto config = read_config(h, {1, 9, 0});
  EXPECT_EQ(config.subenclosures[0].es_process_count, 1);
  EXPECT_EQ(read_config(h, {0, 9, 0}).types, config.types);
  EXPECT_EQ(h.emu->enclosure("e")->luns, (std::vector<LunAddress>{{0, 9, 0}, {1, 9, 0}}));
}

struct BadCase {
  const char* name;
  const char* lun;
  const char* message;
};

const BadCase kParseErrors[] = {
    {"UnknownGroupName", R"({"type":"ses","elements":{"slotz":1}})",
     R"(buses[0].targets[3].luns[0].elements.slotz: unknown key (expected a group name)"},
    {"GroupWithoutType", R"({"type":"ses","elements":[{"count":1}]})",
     "luns[0].elements[0].type: missing required field"},
    {"UnknownGroupType", R"({"type":"ses","elements":[{"type":"tapes"}]})",
     R"(luns[0].elements[0].type: unknown element group "tapes")"},
    {"DescriptorCount", R"({"type":"ses","elements":[{"type":"fans","count":2,
       "descriptor":["a","b","c"]}]})",
     "luns[0].elements[0].descriptor: 3 descriptors for 2 elements"},
    {"DescriptorHexNotHex",
     R"({"type":"ses","elements":[{"type":"fans","descriptor":[{"hex":"zz"}]}]})",
     "luns[0].elements[0].descriptor[0].hex: "},
    {"DescriptorHexTooLong",
     R"({"type":"ses","elements":[{"type":"fans","descriptor":[{"hex":")"
     R"(00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 )"
     R"(00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 )"
     R"(00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 )"
     R"(00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"}]}]})",
     "luns[0].elements[0].descriptor[0].hex: 129 bytes, longer than 128"},
    {"DescriptorObjectKey",
     R"({"type":"ses","elements":[{"type":"fans","descriptor":[{"text":"a"}]}]})",
     "luns[0].elements[0].descriptor[0]: expected a string or {\"hex\": \"...\"}"},
    {"DescriptorControlByte",
     R"({"type":"ses","elements":[{"type":"fans","descriptor":["a\u0001"]}]})",
     "luns[0].elements[0].descriptor[0]: only printable ASCII characters are allowed"},
    {"BadPlaceholder", R"({"type":"ses","elements":[{"type":"fans","descriptor":"Fan {x}"}]})",
     R"(luns[0].elements[0].descriptor: bad placeholder "{x}")"},
    {"DescriptorPatternExpandsPastTheLimit",
     R"({"type":"ses","elements":[{"type":"fans","count":10,"descriptor":"{:64}{:64}{}"}]})",
     "luns[0].elements[0].descriptor: the pattern expands to 129 bytes for element number 9"},
    {"DescriptorPatternTooLongForTheLastNumber",
     R"({"type":"ses","elements":[{"type":"fans","count":10,"first":999995,"descriptor":)"
     R"("{:60}{:62}{}"}]})",
     "the pattern expands to 129 bytes for element number 1000004, longer than the 128 bytes"},
    {"TemperatureRange", R"({"type":"ses","elements":{"temperature_sensors":{"celsius":300}}})",
     "elements.temperature_sensors.celsius: expected an integer in -19..235, got 300"},
    {"PerElementListLength", R"({"type":"ses","elements":{"fans":{"count":3,"rpm":[1,2]}}})",
     "elements.fans.rpm: expected one value per element (3), got 2"},
    {"DisksOnAPowerSupply", R"({"type":"ses","elements":{"power_supplies":{"disks":"auto"}}})",
     "elements.power_supplies.disks: only slots and array_slots hold disks"},
    {"TargetsWithoutAuto", R"({"type":"ses","elements":{"slots":{"targets":[1]}}})",
     R"(elements.slots.targets: only used with "disks": "auto")"},
    {"KeyOfAnotherType", R"({"type":"ses","elements":{"slots":{"rpm":1}}})",
     "elements.slots.rpm: unknown key"},
    {"BadSlotEntry", R"({"type":"ses","elements":{"slots":{"count":2,"disks":[7]}}})",
     "elements.slots.disks[0]: expected null, a SAS address"},
    {"NotNaa5", R"({"type":"ses","naa":"3acde48000000001"})",
     "luns[0].naa: an enclosure's logical unit name is NAA type 5"},
    {"Eiioe", R"({"type":"ses","eiioe":2})", "luns[0].eiioe: expected an integer in 0..1, got 2"},
    {"ElementsAndSubenclosures", R"({"type":"ses","elements":{},"subenclosures":[{}]})",
     R"(luns[0].elements: give either "elements")"},
    {"PrimaryIdNotZero", R"({"type":"ses","subenclosures":[{"id":1}]})",
     "luns[0].subenclosures[0].id: the first subenclosure is the primary, whose id is 0"},
    {"DuplicateSubenclosure", R"({"type":"ses","subenclosures":[{},{"id":0}]})",
     "luns[0].subenclosures[1].id: duplicate subenclosure id 0"},
    {"LogicalIdOfAReference", R"({"type":"ses","enclosure":"x","logical_id":"5acde48000000001"})",
     R"(luns[0].logical_id: describes the enclosure: give "elements" too)"},
    {"DiskKeyOnSes", R"({"type":"ses","capacity":5})", "luns[0].capacity: unknown key"},
    {"SafteThermostats", R"({"type":"safte","temperature_sensors":12,"thermostats":4})",
     "luns[0].thermostats: temperature sensors and thermostats share 15 flag bits"},
};

class SesScenarioParseError : public ::testing::TestWithParam<BadCase> {};

TEST_P(SesScenarioParseError, NamesThePathAndTheProblem) {
  const auto& c = GetParam();
  auto scenario = parse_scenario(scenario_with(c.lun), "x.json");
  ASSERT_FALSE(scenario) << c.name;
  EXPECT_NE(scenario.error().message().find(c.message), std::string::npos)
      << scenario.error().message();
}

INSTANTIATE_TEST_SUITE_P(SesScenario, SesScenarioParseError, ::testing::ValuesIn(kParseErrors),
                         [](const auto& info) { return std::string(info.param.name); });

const BadCase kLinkErrors[] = {
    {"NobodyDescribesIt", R"({"type":"ses","enclosure":"ghost"})",
     R"(buses[0].targets[3].luns[0]: no LUN describes enclosure "ghost")"},
    {"DescribedTwice", R"({"type":"ses","enclosure":"e"},{"type":"ses","enclosure":"e"},
       {"type":"ses","enclosure":"e","elements":{"fans":1}},
       {"type":"ses","enclosure":"e","elements":{"fans":2}})",
     R"(luns[3]: enclosure "e" is already described at buses[0].targets[3].luns[2])"},
    {"MissingLun", R"({"type":"ses","elements":{"slots":{"disks":[{"target":7}]}}})",
     "elements.slots.disks[0]: the scenario has no bus 0 target 7 lun 0"},
    {"NotADisk", R"({"type":"ses","elements":{"slots":{"disks":[{"target":2}]}}})",
     R"(elements.slots.disks[0]: bus 0 target 2 lun 0 is a "processor", not a disk)"},
    {"DiskInTwoSlots",
     R"({"type":"ses","elements":{"slots":{"count":2,"disks":[{"target":1},{"target":1}]}}})",
     "elements.slots.disks[1]: bus 0 target 1 lun 0 is already in a slot"},
    {"AutoTargetMissing", R"({"type":"ses","elements":{"slots":{"disks":"auto","targets":[0,5]}}})",
     "elements.slots.targets: bus 0 has no target 5"},
    {"AutoBusMissing", R"({"type":"ses","elements":{"slots":{"disks":"auto","bus":3}}})",
     "elements.slots.bus: the scenario has no bus 3"},
    {"IndexTooLarge", R"({"type":"ses","elements":[{"type":"fans","count":255},
       {"type":"slots","count":2}]})",
     "does not fit one byte"},
    {"TwoEnclosuresOneName", R"({"type":"ses","enclosure":"e","elements":{"fans":1}},
       {"type":"safte","enclosure":"e"})",
     R"(two enclosures are named "e")"},
};

class SesScenarioLinkError : public ::testing::TestWithParam<BadCase> {};

TEST_P(SesScenarioLinkError, EmulatorRefusesTheScenario) {
  const auto& c = GetParam();
  auto scenario = parse_scenario(scenario_with(c.lun), "x.json");
  ASSERT_TRUE(scenario) << scenario.error().message();
  FakeXpt xpt;
  auto emu = Emulator::create(*scenario, xpt);
  ASSERT_FALSE(emu) << c.name;
  EXPECT_NE(emu.error().message().find(c.message), std::string::npos) << emu.error().message();
  EXPECT_EQ(emu.error().message().rfind("x.json: ", 0), 0U) << emu.error().message();
  EXPECT_EQ(xpt.registered_buses(), 0U);  // nothing was registered
}

INSTANTIATE_TEST_SUITE_P(SesScenario, SesScenarioLinkError, ::testing::ValuesIn(kLinkErrors),
                         [](const auto& info) { return std::string(info.param.name); });

// The example scenarios with enclosures run, and their enclosures hold what they say.
TEST(SesExamples, Jbod24IsOneEnclosureThroughTwoSesDevices) {
  Harness h(embedded_scenario("jbod-24"));
  ASSERT_TRUE(h.emu);
  const auto view = h.emu->enclosure("jbod24");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->luns, (std::vector<LunAddress>{{0, 100, 0}, {0, 101, 0}}));
  EXPECT_EQ(view->slot_count(), 24U);
  for (int slot = 0; slot < 24; ++slot) {
    EXPECT_EQ(view->slot(slot)->disk.has_value(), slot < 20) << slot;
  }
  const auto a = read_config(h, {0, 100, 0});
  const auto b = read_config(h, {0, 101, 0});
  EXPECT_EQ(a.subenclosures[0].relative_es_process_id, 1);
  EXPECT_EQ(b.subenclosures[0].relative_es_process_id, 2);
  EXPECT_EQ(a.subenclosures[0].logical_id, b.subenclosures[0].logical_id);
  const auto count = [&](ses::ElementType type) {
    for (const auto& t : a.types) {
      if (t.element_type == ses::type_value(type)) {
        return int{t.possible_elements};
      }
    }
    return 0;
  };
  EXPECT_EQ(count(ses::ElementType::PowerSupply), 2);
  EXPECT_EQ(count(ses::ElementType::Cooling), 4);
  EXPECT_EQ(count(ses::ElementType::TemperatureSensor), 3);
  EXPECT_EQ(count(ses::ElementType::VoltageSensor), 2);
  EXPECT_EQ(count(ses::ElementType::EscElectronics), 2);
  const auto aes = read_additional(h, {0, 101, 0}, b);
  const auto* slot19 = aes.find(global_index(b, ses::ElementType::DeviceSlot, 19));
  ASSERT_NE(slot19, nullptr);
  EXPECT_EQ(slot19->sas->phys[0].sas_address, target_port_address(h, {0, 19, 0}));
  EXPECT_NE(lu_naa(h, {0, 100, 0}), lu_naa(h, {0, 101, 0}));
}

TEST(SesExamples, Jbod102IsFullyPopulated) {
  Harness h(embedded_scenario("jbod-102"));
  ASSERT_TRUE(h.emu);
  const auto view = h.emu->enclosure("jbod102");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->slot_count(), 102U);
  for (int slot = 0; slot < 102; ++slot) {
    ASSERT_TRUE(view->slot(slot)->disk) << slot;
    EXPECT_EQ(view->slot(slot)->disk->target, static_cast<std::uint32_t>(slot));
  }
  EXPECT_EQ(view->slot(101)->descriptor, "Slot 101");
  const auto config = read_config(h, {0, 120, 0});
  const auto aes = read_additional(h, {0, 120, 0}, config);
  EXPECT_EQ(aes.descriptors.size(), 102U + 1U + 2U);
  EXPECT_EQ(
      ses::decode_cooling_status(read_status(h, {0, 120, 0}, config)
                                     .elements[global_index(config, ses::ElementType::Cooling, 7)])
          .actual_speed_rpm,
      9000);
}

}  // namespace
}  // namespace ucam::emu::testing
