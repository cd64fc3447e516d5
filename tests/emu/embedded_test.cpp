// The example scenarios compiled into the library, and the default topology they describe.
#include "sims/emu/embedded.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "scsi/cdb.h"
#include "sims/emu/models/disk.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

std::filesystem::path examples_dir() {
  const char* source = std::getenv("UCAM_SOURCE_DIR");
  return std::filesystem::path(source != nullptr ? source : ".") / "examples";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(EmbeddedScenarios, EveryExampleFileIsEmbeddedVerbatim) {
  const auto dir = examples_dir();
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " (set UCAM_SOURCE_DIR)";
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") {
      files.insert(entry.path().stem().string());
      EXPECT_EQ(embedded_scenario(entry.path().stem().string()), read_file(entry.path()))
          << entry.path();
    }
  }
  const auto names = embedded_scenario_names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), files);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(EmbeddedScenarios, EveryEmbeddedScenarioParses) {
  for (const auto name : embedded_scenario_names()) {
    auto scenario = load_embedded_scenario(name);
    EXPECT_TRUE(scenario) << name << ": " << (scenario ? "" : scenario.error().message());
  }
}

TEST(EmbeddedScenarios, UnknownNameIsENOENTListingTheKnownOnes) {
  EXPECT_TRUE(embedded_scenario("nope").empty());
  auto scenario = load_embedded_scenario("nope");
  ASSERT_FALSE(scenario);
  EXPECT_EQ(scenario.error().errno_value(), ENOENT);
  EXPECT_NE(scenario.error().context().find("default"), std::string::npos);
  EXPECT_NE(scenario.error().context().find("big-10k"), std::string::npos);
}

TEST(EmbeddedScenarios, ErrorsNameTheEmbeddedSource) {
  auto scenario = parse_scenario("{", "embedded:x");
  ASSERT_FALSE(scenario);
  EXPECT_EQ(scenario.error().context().rfind("embedded:x: line 1", 0), 0U);
}

TEST(EmbeddedScenarios, DefaultIsASmallSasTopology) {
  auto scenario = load_embedded_scenario(kDefaultScenarioName);
  ASSERT_TRUE(scenario) << scenario.error().message();
  EXPECT_EQ(scenario->name, "default");
  ASSERT_EQ(scenario->buses.size(), 2U);
  std::set<std::string> serials;
  std::set<std::uint64_t> naas;
  std::set<std::uint64_t> ports;
  std::size_t disks = 0;
  std::size_t processors = 0;
  std::size_t multi_lun_targets = 0;
  for (const auto& bus : scenario->buses) {
    EXPECT_EQ(bus.transport, Transport::Sas);
    for (const auto& target : bus.targets) {
      ports.insert(target.sas_address);
      multi_lun_targets += target.luns.size() > 1 ? 1 : 0;
      for (const auto& lun : target.luns) {
        serials.insert(lun.serial);
        naas.insert(lun.naa);
        disks += lun.type() == "disk" ? 1 : 0;
        processors += lun.type() == "processor" ? 1 : 0;
      }
    }
  }
  const std::size_t luns = scenario->lun_count();
  EXPECT_GE(disks, 6U);
  EXPECT_GE(processors, 1U);
  EXPECT_GE(multi_lun_targets, 1U);
  EXPECT_EQ(serials.size(), luns);
  EXPECT_EQ(naas.size(), luns);
  EXPECT_EQ(ports.size(), scenario->buses[0].targets.size() + scenario->buses[1].targets.size());
}

TEST(EmbeddedScenarios, Big10kHasTenThousandDistinctLuns) {
  auto scenario = load_embedded_scenario("big-10k");
  ASSERT_TRUE(scenario) << scenario.error().message();
  EXPECT_EQ(scenario->lun_count(), 10000U);
  std::set<std::string> serials;
  std::set<std::uint64_t> naas;
  for (const auto& target : scenario->buses[0].targets) {
    for (const auto& lun : target.luns) {
      serials.insert(lun.serial);
      naas.insert(lun.naa);
    }
  }
  EXPECT_EQ(serials.size(), 10000U);
  EXPECT_EQ(naas.size(), 10000U);
  EXPECT_EQ(embedded_scenario("big-10k").size() < 2000, true) << "the generator form is short";
}

TEST(EmbeddedScenarios, MultipathShowsEachDiskOnBothBuses) {
  auto scenario = load_embedded_scenario("multipath");
  ASSERT_TRUE(scenario) << scenario.error().message();
  ASSERT_EQ(scenario->buses.size(), 2U);
  for (std::size_t t = 0; t < scenario->buses[0].targets.size(); ++t) {
    const auto& a = scenario->buses[0].targets[t];
    const auto& b = scenario->buses[1].targets[t];
    EXPECT_EQ(a.luns[0].naa, b.luns[0].naa);
    EXPECT_EQ(a.luns[0].serial, b.luns[0].serial);
    EXPECT_NE(a.sas_address, b.sas_address);
    EXPECT_NE(a.relative_target_port, b.relative_target_port);
  }
}

// The default topology on a running emulator: every LUN answers INQUIRY with its own serial.
TEST(EmbeddedScenarios, DefaultRunsOnTheEmulator) {
  Harness h(embedded_scenario(kDefaultScenarioName));
  ASSERT_TRUE(h.emu);
  std::set<std::string> serials;
  const Scenario& scenario = h.emu->scenario();
  for (std::uint32_t b = 0; b < scenario.buses.size(); ++b) {
    for (const auto& target : scenario.buses[b].targets) {
      for (const auto& lun : target.luns) {
        const LunAddress at{b, target.id, lun.lun};
        const Reply r = h.read(at, scsi::inquiry(scsi::InquiryData::VpdPage, 0x80, 255), 255);
        ASSERT_TRUE(r.good());
        serials.insert(ascii(r.data, 4, r.data.size() - 4));
        EXPECT_TRUE(h.run(at, scsi::test_unit_ready()).good());
      }
    }
  }
  EXPECT_EQ(serials.size(), scenario.lun_count());
}

TEST(EmbeddedScenarios, Big10kRunsOnTheEmulator) {
  Harness h(embedded_scenario("big-10k"));
  ASSERT_TRUE(h.emu);
  const Reply r = h.read({0, 99, 0}, scsi::report_luns(scsi::SelectReport::All, 4096), 4096);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(load_be32(r.data, 0), 100U * 8U);
  const Reply serial = h.read({0, 99, 99}, scsi::inquiry(scsi::InquiryData::VpdPage, 0x80, 64), 64);
  EXPECT_EQ(ascii(serial.data, 4, serial.data.size() - 4), "BIG099L099");
}

}  // namespace
}  // namespace ucam::emu::testing
