// Black-box tests: ucamctl runs as a subprocess; we check its output and exit status.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Run {
  int status = -1;
  std::string out;
};

std::string ucamctl() {
  return std::string(UCAM_TEST_BINARY_DIR) + "/cli/ucamctl";
}

Run run(const std::string& args) {
  Run r;
  const std::string command = ucamctl() + " " + args + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) {
    r.out += buf.data();
  }
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(UcamctlDevlist, ListsTheBuiltInTopologyLikeCamcontrol) {
  auto r = run("devlist -v");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("scbus0 on emu0 bus 0:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<ACME AX4000S A110>                at scbus0 target 0 lun 0 (pass0)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("at scbus1 target 0 lun 5 (pass8)"), std::string::npos) << r.out;
}

TEST(UcamctlDevlist, JsonListsEveryDeviceWithItsPeriphs) {
  auto r = run("--json devlist");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 12U);  // eleven LUNs and the enclosure (bus 1 target 9)
  EXPECT_EQ(j[4]["device_type"], 3);
  EXPECT_EQ(j[4]["device_type_name"], "processor device");
  EXPECT_EQ(j[0]["periphs"], nlohmann::json::array({"pass0"}));
  EXPECT_EQ(j[0]["serial"], "AX4S0000A1");
  EXPECT_TRUE(j[0]["physical_path"].is_null());  // Not in an enclosure.
  EXPECT_EQ(j[9]["physical_path"], "id1,enc@n5acde48000000e01/type@0/slot@1/elmdesc@Slot_00");
}

TEST(UcamctlInquiry, DecodesStandardDataAndDesignators) {
  auto r = run("--json inquiry pass0");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["vendor"], "ACME");
  EXPECT_EQ(j["product"], "AX4000S");
  EXPECT_EQ(j["serial"], "AX4S0000A1");
  ASSERT_GE(j["designators"].size(), 2U);
  EXPECT_EQ(j["designators"][0]["value"], "0x5acde48000000a01");
  auto human = run("inquiry 0:0:0");
  ASSERT_EQ(human.status, 0);
  EXPECT_NE(human.out.find("Unit serial number: AX4S0000A1"), std::string::npos) << human.out;
}

TEST(UcamctlTur, ReadyUnitExitsZero) {
  auto r = run("tur /dev/pass8");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("pass8: unit is ready"), std::string::npos);
}

TEST(UcamctlCmd, ReadCapacityDumpsDataIn) {
  auto r = run("cmd pass0 --cdb \"25 00 00 00 00 00 00 00 00 00\" --in 8");
  ASSERT_EQ(r.status, 0) << r.out;
  // 7814037168 blocks do not fit READ CAPACITY(10): the last LBA reads ffffffff.
  EXPECT_NE(r.out.find("00000000  ff ff ff ff 00 00 02 00"), std::string::npos) << r.out;
}

TEST(UcamctlCmd, CheckConditionIsDecodedAndExitsOne) {
  auto r = run("--json cmd pass0 --cdb ff0000000000");
  EXPECT_EQ(r.status, 1) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scsi_status_text"], "CHECK CONDITION");
  EXPECT_EQ(j["sense"]["key"], 5);
  EXPECT_EQ(j["sense"]["asc"], 0x20);
}

TEST(UcamctlErrors, BadHexIsAUsageError) {
  auto r = run("cmd pass0 --cdb \"12 00 zz\"");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--cdb: line 1 column 7: 'zz' is not a hex byte"), std::string::npos)
      << r.out;
}

TEST(UcamctlErrors, UnknownDeviceExitsThree) {
  auto r = run("tur pass99");
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.out.find("pass99: no such device"), std::string::npos) << r.out;
  EXPECT_EQ(run("tur 7:0:0").status, 3);
  EXPECT_EQ(run("tur 1:x:0").status, 2);
}

TEST(UcamctlErrors, MalformedScenarioNamesFileAndFieldAndExitsTwo) {
  const auto path = write_temp(
      "bad.json",
      R"({"buses": [{"targets": [{"id": 0, "luns": [{"type": "disk", "capacity": "ten"}]}]}]})");
  auto r = run("--emulate " + path + " devlist");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find(path + ": buses[0].targets[0].luns[0].capacity"), std::string::npos)
      << r.out;
  EXPECT_EQ(run("--emulate /nonexistent.json devlist").status, 2);
  EXPECT_EQ(run("--emulate builtin:nope devlist").status, 2);
}

TEST(UcamctlErrors, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(run("frobnicate").status, 2);
  EXPECT_EQ(run("").status, 2);
  EXPECT_EQ(run("cmd pass0 --cdb 00 --in 0").status, 2);
  EXPECT_EQ(run("cmd pass0 --cdb 00 --in 4 --out 00").status, 2);
  auto help = run("cmd --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--cdb"), std::string::npos);
}

}  // namespace

namespace {

std::string shared_dir() {
  return std::string(UCAM_TEST_SOURCE_DIR) + "/../shared";
}

TEST(UcamctlEnc, ListShowsTheBuiltInEnclosure) {
  auto r = run("--json enc list");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1U);
  EXPECT_EQ(j[0]["enclosure"], "ses0");
  EXPECT_EQ(j[0]["name"], "ACME JBOD4 SES 0100");
  EXPECT_EQ(j[0]["slots"], 4);
  EXPECT_EQ(j[0]["occupied_slots"], 2);
}

TEST(UcamctlEnc, ShowListsSlotsWithDiskModelSerialAndSize) {
  auto r = run("enc show");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Slot 00         pass9   ACME AX1200               AX12000B7"),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find(
          "Slot 02         -       -                         -                    Not installed"),
      std::string::npos)
      << r.out;
  auto j = nlohmann::json::parse(run("--json enc show ses0").out);
  EXPECT_EQ(j[0]["slots"][0]["physical_path"],
            "id1,enc@n5acde48000000e01/type@0/slot@1/elmdesc@Slot_00");
  EXPECT_EQ(j[0]["fans"][0]["rpm"], 6200);
  EXPECT_EQ(j[0]["temperatures"][0]["celsius"], 27);
}

TEST(UcamctlEnc, MapListsEveryElementWithStatusBytes) {
  auto r = run("enc map ses0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\tElement 1, Type: Device Slot\n\t\tStatus: OK (0x01 0x00 0x00 0x00)\n"
                       "\t\tDescription: Slot 00\n\t\tDevice Names: pass9"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(run("enc map ses7").status, 3);
}

TEST(UcamctlEnc, StatusExitsZeroWhenOk) {
  auto r = run("enc status");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "ses0: OK\n");
}

TEST(UcamctlEnc, LocateByDiskNameTurnsTheLedOnAndReadsItBack) {
  auto r = run("--json enc locate pass10 on");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j[0]["element"], 2);
  EXPECT_EQ(j[0]["descriptor"], "Slot 01");
  EXPECT_EQ(j[0]["locate"], true);
  auto fault = nlohmann::json::parse(run("--json enc fault ses0:3 on").out);
  EXPECT_EQ(fault[0]["fault"], true);
  EXPECT_EQ(run("enc locate pass4 on").status, 3);     // Not in any slot.
  EXPECT_EQ(run("enc locate ses0:99 on").status, 2);   // No such element.
  EXPECT_EQ(run("enc locate pass9 blink").status, 2);  // Bad state.
}

TEST(UcamctlEnc, DecodeMatchesTheConformanceVector) {
  auto r = run("--json enc decode " + shared_dir() + "/conformance/oracle/all.hex");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["configuration"]["subenclosures"][0]["logical_id"], "5000c50012345678");
  EXPECT_EQ(j["configuration"]["subenclosures"][0]["product"], "TESTJBOD4");
  EXPECT_EQ(j["elements"][1]["descriptor"], "Slot00");
  EXPECT_EQ(j["elements"][1]["sas_addresses"][0], "5000cca000000010");
  auto bad = write_temp("bad.hex", "01 00 zz\n");
  EXPECT_EQ(run("enc decode " + bad).status, 2);
  EXPECT_EQ(run("enc decode /nonexistent.hex").status, 2);
}

}  // namespace
