// Black-box tests: ucamctl runs as a subprocess; we check its output and exit status.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/daemon_harness.h"
#include "tests/wait.h"

namespace {

struct Outcome {
  int status = -1;
  std::string out;
};

std::string ucamctl() {
  return std::string(UCAM_TEST_BINARY_DIR) + "/cli/ucamctl";
}

// How ucamctl reaches the stack in the current test: "--emulate builtin:default" (in-process)
// or "--socket PATH" of a ucamd started for the test. Every command must behave the same.
std::string g_mode;

std::string ucamd() {
  return std::string(UCAM_TEST_BINARY_DIR) + "/daemon/ucamd";
}

enum class Stderr { Merged, Dropped };

// Runs ucamctl with `args` (shell syntax) and collects its output: stdout and stderr, or stdout
// alone.
Outcome run_raw(const std::string& args, Stderr err = Stderr::Merged,
                const std::string& program = "") {
  Outcome r;
  const std::string command = (program.empty() ? ucamctl() : program) + " " + args +
                              (err == Stderr::Merged ? " 2>&1" : " 2>/dev/null");
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

Outcome run(const std::string& args) {
  return run_raw(g_mode + " " + args);
}

enum class Mode { InProcess, Daemon };

class ModeTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (GetParam() == Mode::InProcess) {
      g_mode = "--emulate builtin:default";
      return;
    }
    m_daemon = ucam::testing::Daemon::start();
    ASSERT_NE(m_daemon, nullptr) << "ucamd did not start";
    g_mode = "--socket " + m_daemon->socket();
  }
  void TearDown() override {
    if (m_daemon) {
      EXPECT_EQ(m_daemon->stop(), 0) << m_daemon->log();
    }
  }
  std::unique_ptr<ucam::testing::Daemon> m_daemon;
};

std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  return info.param == Mode::InProcess ? "InProcess" : "Daemon";
}

#define UCAMCTL_SUITE(name)        \
  class name : public ModeTest {}; \
  INSTANTIATE_TEST_SUITE_P(Modes, name, ::testing::Values(Mode::InProcess, Mode::Daemon), mode_name)

UCAMCTL_SUITE(UcamctlDevlist);
UCAMCTL_SUITE(UcamctlInquiry);
UCAMCTL_SUITE(UcamctlTur);
UCAMCTL_SUITE(UcamctlCmd);
UCAMCTL_SUITE(UcamctlErrors);
UCAMCTL_SUITE(UcamctlEnc);
UCAMCTL_SUITE(UcamctlGlobalOptions);
UCAMCTL_SUITE(UcamctlPt);

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST_P(UcamctlDevlist, ListsTheBuiltInTopologyLikeCamcontrol) {
  auto r = run("devlist -v");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("scbus0 on emu0 bus 0:"), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("<ACME AX4000S A110>                at scbus0 target 0 lun 0 (pass0,da0,sg0)"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("at scbus1 target 0 lun 5 (pass8,da7,sg8)"), std::string::npos) << r.out;
}

TEST_P(UcamctlDevlist, JsonListsEveryDeviceWithItsPeriphs) {
  auto r = run("--json devlist");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 12U);  // eleven LUNs and the enclosure (bus 1 target 9)
  EXPECT_EQ(j[4]["device_type"], 3);
  EXPECT_EQ(j[4]["device_type_name"], "processor device");
  EXPECT_EQ(j[0]["periphs"], nlohmann::json::array({"pass0", "da0", "sg0"}));
  EXPECT_EQ(j[0]["serial"], "AX4S0000A1");
  EXPECT_TRUE(j[0]["physical_path"].is_null());  // Not in an enclosure.
  EXPECT_EQ(j[9]["physical_path"], "id1,enc@n5acde48000000e01/type@0/slot@1/elmdesc@Slot_00");
}

TEST_P(UcamctlInquiry, DecodesStandardDataAndDesignators) {
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

TEST_P(UcamctlTur, ReadyUnitExitsZero) {
  auto r = run("tur /dev/pass8");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("pass8: unit is ready"), std::string::npos);
}

TEST_P(UcamctlCmd, ReadCapacityDumpsDataIn) {
  auto r = run("cmd pass0 --cdb \"25 00 00 00 00 00 00 00 00 00\" --in 8");
  ASSERT_EQ(r.status, 0) << r.out;
  // 7814037168 blocks do not fit READ CAPACITY(10): the last LBA reads ffffffff.
  EXPECT_NE(r.out.find("00000000  ff ff ff ff 00 00 02 00"), std::string::npos) << r.out;
}

TEST_P(UcamctlCmd, CheckConditionIsDecodedAndExitsOne) {
  auto r = run("--json cmd pass0 --cdb ff0000000000");
  EXPECT_EQ(r.status, 1) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scsi_status_text"], "CHECK CONDITION");
  EXPECT_EQ(j["sense"]["key"], 5);
  EXPECT_EQ(j["sense"]["asc"], 0x20);
}

TEST_P(UcamctlErrors, BadHexIsAUsageError) {
  auto r = run("cmd pass0 --cdb \"12 00 zz\"");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--cdb: line 1 column 7: 'zz' is not a hex byte"), std::string::npos)
      << r.out;
}

TEST_P(UcamctlErrors, UnknownDeviceExitsThree) {
  auto r = run("tur pass99");
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.out.find("pass99: no such device"), std::string::npos) << r.out;
  EXPECT_EQ(run("tur 7:0:0").status, 3);
  EXPECT_EQ(run("tur 1:x:0").status, 2);
}

// The processor at 0:8:0 of builtin:default is pt0. Each in-process run is a new stack (an empty
// queue); ucamd keeps its queue between runs, so there the message comes back.
TEST_P(UcamctlPt, SendThenReceiveAndTheExitStatuses) {
  auto sent = run("pt send pt0 \"48 65 6c 6c 6f\"");
  ASSERT_EQ(sent.status, 0) << sent.out;
  EXPECT_EQ(sent.out, "pt0: sent 5 bytes\n");
  auto got = run("pt receive 0:8:0 --length 64 --json");
  ASSERT_EQ(got.status, 0) << got.out;
  const auto j = nlohmann::json::parse(got.out);
  EXPECT_EQ(j["device"], "pt0");
  EXPECT_EQ(j["length"], 64);
  if (GetParam() == Mode::Daemon) {
    EXPECT_EQ(j["received"], 5);
    EXPECT_EQ(j["data"], "48 65 6c 6c 6f");
  } else {
    EXPECT_EQ(j["received"], 0);
  }
  const auto empty = run("pt receive pt0");
  EXPECT_EQ(empty.status, 0);
  EXPECT_EQ(empty.out, "pt0: no message\n");
  const auto file = write_temp("pt-message.bin", "from a file");
  auto from_file = run("pt send pass4 --file " + file);
  EXPECT_EQ(from_file.status, 0) << from_file.out;
  EXPECT_EQ(from_file.out, "pt0: sent 11 bytes\n");
  // Usage (2), not a processor / no such device (3).
  EXPECT_EQ(run("pt send pt0 \"4x\"").status, 2);
  EXPECT_EQ(run("pt send pt0").status, 2);
  EXPECT_EQ(run("pt receive pt0 --length 16777216").status, 2);
  auto disk = run("pt send da0 00");
  EXPECT_EQ(disk.status, 3);
  EXPECT_NE(disk.out.find("da0: no pt device for it"), std::string::npos) << disk.out;
  EXPECT_EQ(run("pt receive pt9").status, 3);
}

// pt takes one opener: while a client holds pt0 open, ucamctl's per-call open is refused (exit
// 1) with a message that says why; once the handle is closed it works again.
TEST(UcamctlModes, PtHeldOpenByAnotherClientIsBusy) {
  auto daemon = ucam::testing::Daemon::start();
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  ucam::testing::RpcConnection rpc(daemon->socket());
  ASSERT_TRUE(rpc.connected());
  const auto opened = rpc.call("open", {{"node", "pt0"}});
  ASSERT_TRUE(opened.contains("result")) << opened.dump();
  const auto handle = opened["result"]["handle"];
  auto busy = run_raw(s + "pt send pt0 01");
  EXPECT_EQ(busy.status, 1) << busy.out;
  EXPECT_NE(busy.out.find("pt0: already open; pt allows one opener at a time"), std::string::npos)
      << busy.out;
  EXPECT_NE(busy.out.find("another client holds the pt node open"), std::string::npos);
  // The holder itself uses its handle.
  const auto sent = rpc.call("pt.send", {{"handle", handle}, {"data", "01 02"}});
  EXPECT_EQ(sent["result"]["sent"], 2) << sent.dump();
  ASSERT_TRUE(rpc.call("close", {{"handle", handle}}).contains("result"));
  auto got = run_raw(s + "pt receive pt0");
  EXPECT_EQ(got.status, 0) << got.out;
  EXPECT_NE(got.out.find("pt0: received 2 bytes"), std::string::npos) << got.out;
  EXPECT_EQ(daemon->stop(), 0);
}

TEST(UcamctlOffline, MalformedScenarioNamesFileAndFieldAndExitsTwo) {
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

// A scenario error that the SIM finds when it starts is still bad input: 2, like a parse error,
// from ucamctl --emulate and from ucamd --emulate.
TEST(UcamctlOffline, ScenarioErrorFoundWhenTheSimStartsExitsTwo) {
  const auto path = write_temp("no-target.json", R"({"buses": [{"targets": [{"id": 0},
      {"id": 8, "luns": [{"type": "ses", "elements": {"slots": {"disks": "auto",
                                                                 "targets": [0, 12]}}}]}]}]})");
  auto r = run("--emulate " + path + " devlist");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(path + ": buses[0].targets[1].luns[0].elements.slots.targets: bus 0 has "
                              "no target 12"),
            std::string::npos)
      << r.out;
  const auto daemon =
      run_raw("--socket " + ::testing::TempDir() + "no-target.sock --emulate " + path,
              Stderr::Merged, ucamd());
  EXPECT_EQ(daemon.status, 2) << daemon.out;
  EXPECT_NE(daemon.out.find("bus 0 has no target 12"), std::string::npos) << daemon.out;
}

// Nesting is refused by a linear scan before anything parses: 100,000 levels once took
// gigabytes (also inside an ignored "comment"), in ucamctl --emulate and in ucamd --emulate.
TEST(UcamctlOffline, DeeplyNestedScenarioIsRefusedBeforeParsing) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const auto arrays = write_temp("deep.json", deep);
  const auto comment =
      write_temp("deep-comment.json", "{\"buses\": [],\n\"comment\": " + deep + "}");
  auto r = run("--emulate " + arrays + " devlist");
  EXPECT_EQ(r.status, 2) << r.out.substr(0, 300);
  EXPECT_NE(r.out.find(arrays + ": line 1, column 65 (byte 64): arrays and objects nested more "
                                "than 64 deep (the limit)"),
            std::string::npos)
      << r.out.substr(0, 300);
  r = run("--emulate " + comment + " devlist");
  EXPECT_EQ(r.status, 2) << r.out.substr(0, 300);
  EXPECT_NE(r.out.find(comment + ": line 2, column 75 (byte 88)"), std::string::npos)
      << r.out.substr(0, 300);
  const auto daemon = run_raw("--socket " + ::testing::TempDir() + "deep.sock --emulate " + comment,
                              Stderr::Merged, ucamd());
  EXPECT_EQ(daemon.status, 2) << daemon.out.substr(0, 300);
  EXPECT_NE(daemon.out.find("nested more than 64 deep"), std::string::npos)
      << daemon.out.substr(0, 300);
}

// Above the documented limit a scenario is refused by counting its LUNs while it is parsed,
// before any is built: this one asks for a billion (if it were built, this test would not end).
TEST(UcamctlOffline, ScenarioOverTheLunLimitIsRefusedByCount) {
  const auto path = write_temp(
      "billion.json", R"({"buses": [{"targets": {"count": 65536, "luns_per_target": 16384}}]})");
  auto r = run("--emulate " + path + " devlist");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(path + ": buses[0].targets.count: the scenario would have more than "
                              "100000 LUNs (the limit, see docs/scenarios.md)"),
            std::string::npos)
      << r.out;
  const auto daemon = run_raw("--socket " + ::testing::TempDir() + "billion.sock --emulate " + path,
                              Stderr::Merged, ucamd());
  EXPECT_EQ(daemon.status, 2) << daemon.out;
  EXPECT_NE(daemon.out.find("more than 100000 LUNs"), std::string::npos) << daemon.out;
}

// An emulated-only stack in ucamctl's process ends with _Exit instead of its teardown (outside
// the sanitizer builds): everything written before must still arrive, through a pipe, with the
// command's status.
TEST(UcamctlOffline, AnEmulatedStackEndsWithEveryLineWrittenAndItsStatus) {
  const auto tail = [](const std::string& s) {
    return s.substr(s.size() - std::min<std::size_t>(s.size(), 200));
  };
  const std::string big = std::string(UCAM_TEST_SOURCE_DIR) + "/examples/big-10k.json";
  auto text = run_raw("--emulate " + big + " devlist", Stderr::Dropped);
  EXPECT_EQ(text.status, 0);
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 10000);
  // The last device's line, whole.
  EXPECT_TRUE(text.out.ends_with(" target 99 lun 63 (pass9999,da9999,sg9999)\n"))  // LUN in hex.
      << tail(text.out);
  auto listed = run_raw("--emulate " + big + " --json devlist", Stderr::Dropped);
  EXPECT_EQ(listed.status, 0);
  const auto devices = nlohmann::json::parse(listed.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(devices.is_array()) << tail(listed.out);
  EXPECT_EQ(devices.size(), 10000U);
  // A failing command on the same kind of stack keeps its status and message.
  auto missing = run_raw("--emulate builtin:default inquiry pass999");
  EXPECT_EQ(missing.status, 3) << missing.out;
  EXPECT_NE(missing.out.find("pass999"), std::string::npos) << missing.out;
}

TEST(UcamctlOffline, VersionPrintsTheProjectVersionAndExitsZero) {
  const auto ctl = run_raw("--version", Stderr::Dropped);
  EXPECT_EQ(ctl.status, 0) << ctl.out;
  EXPECT_EQ(ctl.out, "ucamctl " UCAM_TEST_VERSION "\n");
  const auto daemon = run_raw("--version", Stderr::Dropped, ucamd());
  EXPECT_EQ(daemon.status, 0) << daemon.out;
  EXPECT_EQ(daemon.out, "ucamd " UCAM_TEST_VERSION "\n");
}

TEST(UcamctlOffline, BadArgumentsAreUsageErrors) {
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

TEST_P(UcamctlEnc, ListShowsTheBuiltInEnclosure) {
  auto r = run("--json enc list");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1U);
  EXPECT_EQ(j[0]["enclosure"], "ses0");
  EXPECT_EQ(j[0]["name"], "ACME JBOD4 SES 0100");
  EXPECT_EQ(j[0]["slots"], 4);
  EXPECT_EQ(j[0]["occupied_slots"], 2);
}

TEST_P(UcamctlEnc, ShowListsSlotsWithDiskModelSerialAndSize) {
  auto r = run("enc show");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Slot 00         da8     ACME AX1200               AX12000B7"),
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

TEST_P(UcamctlEnc, MapListsEveryElementWithStatusBytes) {
  auto r = run("enc map ses0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\tElement 1, Type: Device Slot\n\t\tStatus: OK (0x01 0x00 0x00 0x00)\n"
                       "\t\tDescription: Slot 00\n\t\tDevice Names: pass9"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(run("enc map ses7").status, 3);
}

TEST_P(UcamctlEnc, StatusExitsZeroWhenOk) {
  auto r = run("enc status");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "ses0: OK\n");
}

TEST_P(UcamctlEnc, LocateByDiskNameTurnsTheLedOnAndReadsItBack) {
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

TEST(UcamctlOffline, DecodeMatchesTheConformanceVector) {
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

namespace {

// The promise of the two modes: the same command prints the same bytes and exits the same.
TEST(UcamctlModes, EveryReadCommandPrintsTheSameThroughUcamdAndInProcess) {
  auto daemon = ucam::testing::Daemon::start();
  ASSERT_NE(daemon, nullptr);
  const std::vector<std::string> commands = {
      "devlist",
      "devlist -v",
      "--json devlist",
      "inquiry pass0",
      "--json inquiry 0:1:0",
      "tur pass8",
      "enc list",
      "--json enc list",
      "enc map",
      "--json enc map ses0",
      "enc show",
      "--json enc show",
      "enc status",
      "enc locate pass9",
      "--json enc fault all",
      "tur pass99",
      "enc map ses7",
      "inquiry 1:x:0",
      "cmd pass0 --cdb \"25 00 00 00 00 00 00 00 00 00\" --in 8",
      "--json cmd pass0 --cdb ff0000000000"};
  for (const auto& c : commands) {
    const auto local = run_raw("--emulate builtin:default " + c);
    const auto remote = run_raw("--socket " + daemon->socket() + " " + c);
    EXPECT_EQ(local.status, remote.status) << c;
    EXPECT_EQ(local.out, remote.out) << c;
  }
  EXPECT_EQ(daemon->stop(), 0) << daemon->log();
}

TEST(UcamctlModes, NoDaemonExitsFiveAndSaysWhatToDo) {
  auto r = run_raw("--socket /nonexistent/ucamd.sock devlist");
  EXPECT_EQ(r.status, 5) << r.out;
  EXPECT_NE(r.out.find("cannot reach ucamd at /nonexistent/ucamd.sock"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("--emulate"), std::string::npos) << r.out;
}

TEST(UcamctlModes, ChangesThroughUcamdPersistBetweenInvocations) {
  auto daemon = ucam::testing::Daemon::start();
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  ASSERT_EQ(run_raw(s + "enc locate \"Slot 00\" on").status, 0);
  auto j = nlohmann::json::parse(run_raw(s + "--json enc locate pass9").out);
  EXPECT_EQ(j[0]["locate"], true);
  // A slot name that two enclosures could mean is refused elsewhere; here it is unique.
  EXPECT_EQ(run_raw(s + "enc locate slot_00 off").status, 0);
  j = nlohmann::json::parse(run_raw(s + "--json enc locate pass9").out);
  EXPECT_EQ(j[0]["locate"], false);
  EXPECT_EQ(run_raw(s + "enc locate \"Slot 99\" on").status, 3);
  EXPECT_EQ(daemon->stop(), 0);
}

TEST(UcamctlModes, EventsStreamsJsonLinesWhileADiskIsPulled) {
  auto daemon = ucam::testing::Daemon::start();
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  const std::string command =
      ucamctl() + " " + s + "--json events --codes LostDevice --count 1 --timeout 60 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  ucam::testing::RpcConnection rpc(daemon->socket());
  ASSERT_TRUE(rpc.connected());
  ASSERT_TRUE(ucam::testing::wait_until(
      [&] {
        auto st = rpc.call("daemon.status");
        for (const auto& session : st["result"]["sessions"]) {
          if (session["subscribed"] == true) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(30)));
  ASSERT_EQ(run_raw(s + "emu pull-disk jbod4 0").status, 0);
  std::array<char, 4096> buf{};
  std::string out;
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) {
    out += buf.data();
  }
  const int st = pclose(p);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  auto event = nlohmann::json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(event["event"], "LostDevice");
  EXPECT_EQ(event["bus"], 1);
  EXPECT_EQ(event["target"], 4);
}

}  // namespace

namespace {

// Slot 07's IDENT through every SES device of builtin:jbod-24 (ses0 and ses1), from
// `ucamctl --json enc map`; one entry per SES device.
std::vector<bool> slot07_locate_everywhere(const std::string& socket) {
  std::vector<bool> out;
  auto r = run_raw("--socket " + socket + " --json enc map");
  if (r.status != 0) {
    return out;
  }
  for (const auto& e : nlohmann::json::parse(r.out)) {
    for (const auto& el : e["elements"]) {
      if (el["descriptor"] == "Slot 07") {
        out.push_back(el["fields"].value("ident", false));
      }
    }
  }
  return out;
}

// The issue 8 report, end to end: after `enc locate "Slot 07" on`, `enc map` shows the LED on
// through both SES devices within 2 s, not at ses1's next poll (60 s); with ses0's LUN failing,
// the same command works through ses1 and both still agree.
TEST(UcamctlOneEnclosure, LocateIsSeenThroughBothSesDevicesAndSurvivesOneFailing) {
  auto daemon = ucam::testing::Daemon::start({"--emulate", "builtin:jbod-24"});
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  ASSERT_EQ(slot07_locate_everywhere(daemon->socket()), (std::vector<bool>{false, false}));
  auto r = run_raw(s + "enc locate \"Slot 07\" on");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(ucam::testing::wait_until(
      [&] {
        return slot07_locate_everywhere(daemon->socket()) == std::vector<bool>{true, true};
      },
      std::chrono::seconds(2)));
  r = run_raw(s + R"(call emu.inject '{"bus": 0, "target": 100, "lun": 0, )" +
              R"("action": "check_condition", "sense": "04/44/00", "count": 4294967295}')");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "--json enc locate \"Slot 07\" off");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)[0]["enclosure"], "ses1") << r.out;
  EXPECT_TRUE(ucam::testing::wait_until(
      [&] {
        return slot07_locate_everywhere(daemon->socket()) == std::vector<bool>{false, false};
      },
      std::chrono::seconds(2)));
  r = run_raw(s + "enc list");
  EXPECT_NE(r.out.find("status as read through ses1"), std::string::npos) << r.out;
  EXPECT_EQ(daemon->stop(), 0) << daemon->log();
}

// ---- Global options go before or after the command ------------------------------------------

enum class Compare {
  Output,     // The same bytes on stdout.
  JsonShape,  // The same top-level keys (status: counters and pids change from run to run).
};

struct Placement {
  const char* command;  // The command's name: one word, or two ("enc map").
  const char* args;     // Its arguments ("{examples}" is the examples/ folder).
  int status;           // Its exit status on builtin:default.
  Compare compare = Compare::Output;
  const char* undo = nullptr;  // Through ucamd, after each run: puts the state back.
};

// Every command. Those that change the emulated hardware come last: ucamd keeps the state.
const Placement kEveryCommand[] = {
    {"devlist", "", 0},
    {"devlist", "-v", 0},
    {"inquiry", "pass0", 0},
    {"tur", "pass8", 0},
    {"tur", "pass99", 3},
    {"cmd", "pass0 --cdb \"12 00 00 00 24 00\" --in 36", 0},  // An option's value with spaces.
    {"cmd", "pass0 --cdb ff0000000000", 1},
    {"enc list", "", 0},
    {"enc map", "ses0", 0},
    {"enc show", "", 0},
    {"enc status", "", 0},
    {"enc locate", "\"Slot 00\" on", 0},  // A slot name with a space, then a state.
    {"enc locate", "\"Slot 00\" -u ses0", 0},
    {"enc fault", "ses0:3", 0},
    {"enc decode", "{examples}/ses-testjbod4.hex", 0},
    {"events", "--codes BusReset SentBdr --timeout 0.1", 0},  // A list option, then the globals.
    {"status", "", 0, Compare::JsonShape},
    {"call", "device.tur '{\"device\": \"pass0\"}'", 0},
    {"call", "rpc.nothing", 2},
    {"emu remove-lun", "0:3:0", 0, Compare::Output, "emu insert-lun 0:3:0"},
    {"emu insert-lun", "0:3:0", 0},
    {"emu pull-disk", "jbod4 0", 0, Compare::Output, "emu insert-disk jbod4 0 1:4:0"},
    {"emu insert-disk", "jbod4 2 0:0:0", 0, Compare::Output, "emu pull-disk jbod4 2"},
};

std::set<std::string> top_level_keys(const std::string& text) {
  std::set<std::string> keys;
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      keys.insert(key);
    }
  }
  return keys;
}

// --socket or --emulate, --json and --log-level: before the command (the reference), after its
// arguments, between the command and its arguments, and between "enc"/"emu" and the
// subcommand. Every placement prints the same (JSON) on stdout and exits the same.
TEST_P(UcamctlGlobalOptions, GoBeforeOrAfterEveryCommandWithTheSameResult) {
  const std::string globals = g_mode + " --json --log-level error";
  const std::string examples = std::string(UCAM_TEST_SOURCE_DIR) + "/examples";
  for (const auto& c : kEveryCommand) {
    const std::string command = c.command;
    std::string args = c.args;
    if (const auto at = args.find("{examples}"); at != std::string::npos) {
      args.replace(at, std::string("{examples}").size(), examples);
    }
    std::vector<std::string> lines = {globals + " " + command + " " + args,
                                      command + " " + args + " " + globals,
                                      command + " " + globals + " " + args};
    if (const auto space = command.find(' '); space != std::string::npos) {
      lines.push_back(command.substr(0, space) + " " + globals + command.substr(space) + " " +
                      args);
    }
    std::optional<Outcome> reference;
    for (const auto& line : lines) {
      const Outcome r = run_raw(line, Stderr::Dropped);
      EXPECT_EQ(r.status, c.status) << line << "\n" << r.out;
      if (!reference) {
        reference = r;
        // The reference did take --json: every command here prints JSON with it (or nothing).
        EXPECT_TRUE(r.out.empty() || nlohmann::json::accept(r.out)) << line << "\n" << r.out;
      } else if (c.compare == Compare::Output) {
        EXPECT_EQ(r.out, reference->out) << line;
      } else {
        EXPECT_FALSE(top_level_keys(r.out).empty()) << line << "\n" << r.out;
        EXPECT_EQ(top_level_keys(r.out), top_level_keys(reference->out)) << line;
      }
      if (c.undo != nullptr && GetParam() == Mode::Daemon) {
        const Outcome undone = run(c.undo);
        ASSERT_EQ(undone.status, 0) << c.undo << ": " << undone.out;
      }
    }
  }
}

TEST(UcamctlGlobalOptionsOffline, GivenTwiceTheLastCounts) {
  const auto a = run_raw("--emulate builtin:nope devlist --emulate builtin:minimal --json");
  EXPECT_EQ(a.status, 0) << a.out;
  EXPECT_EQ(nlohmann::json::parse(a.out).size(), 1U);
  EXPECT_EQ(run_raw("--json --emulate builtin:minimal devlist --json", Stderr::Dropped).out, a.out);
}

TEST(UcamctlGlobalOptionsOffline, OptionValuesAreNotTakenForGlobalOptions) {
  // An option's value is its value even when it looks like a global option...
  auto r = run_raw("--emulate builtin:default cmd pass0 --cdb --json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--cdb: line 1 column 1: '--json' is not a hex byte"), std::string::npos)
      << r.out;
  // ...and after "--" a file named like one is the file.
  const auto dir = ::testing::TempDir() + "dashes";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(std::string(UCAM_TEST_SOURCE_DIR) + "/examples/ses-testjbod4.hex",
                             dir + "/--json", std::filesystem::copy_options::overwrite_existing);
  const auto plain =
      run_raw("enc decode " + std::string(UCAM_TEST_SOURCE_DIR) + "/examples/ses-testjbod4.hex",
              Stderr::Dropped);
  ASSERT_EQ(plain.status, 0);
  const auto by_name =
      run_raw("enc decode -- --json", Stderr::Dropped, "cd " + dir + " && " + ucamctl());
  EXPECT_EQ(by_name.status, 0);
  EXPECT_EQ(by_name.out, plain.out);
}

TEST(UcamctlGlobalOptionsOffline, UnknownOptionsAndExtraArgumentsAreStillUsageErrors) {
  EXPECT_EQ(run_raw("--emulate builtin:minimal devlist --bogus").status, 2);
  EXPECT_EQ(run_raw("--emulate builtin:minimal devlist extra").status, 2);
  EXPECT_EQ(run_raw("--emulate builtin:minimal enc map ses0 ses1").status, 2);
  EXPECT_EQ(run_raw("devlist --emulate").status, 2);
  EXPECT_EQ(run_raw("--json").status, 2);
  EXPECT_EQ(run_raw("devlist --log-level loud --emulate builtin:minimal").status, 2);
}

TEST(UcamctlGlobalOptionsOffline, EveryHelpSaysWhereTheGlobalOptionsGo) {
  auto top = run_raw("--help");
  EXPECT_EQ(top.status, 0);
  EXPECT_NE(top.out.find("they may come before or after the command"), std::string::npos)
      << top.out;
  for (const char* command : {"devlist",
                              "inquiry",
                              "tur",
                              "cmd",
                              "enc",
                              "enc list",
                              "enc map",
                              "enc show",
                              "enc status",
                              "enc locate",
                              "enc fault",
                              "enc decode",
                              "events",
                              "status",
                              "call",
                              "emu",
                              "emu remove-lun",
                              "emu insert-lun",
                              "emu pull-disk",
                              "emu insert-disk",
                              "pt",
                              "pt send",
                              "pt receive"}) {
    auto help = run_raw(std::string(command) + " --help");
    EXPECT_EQ(help.status, 0) << command;
    EXPECT_NE(help.out.find("GLOBAL OPTIONS\n  --socket PATH, --emulate FILE|builtin:NAME, "
                            "--sg[=FILTER], --iscsi URL, --json and\n  --log-level LEVEL"),
              std::string::npos)
        << command << "\n"
        << help.out;
  }
}

}  // namespace
