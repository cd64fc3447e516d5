// Black-box: ucamctl ch on the emulated 1,000-slot library, in-process (--emulate) and through
// ucamd (a move seen by the next status).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/daemon_harness.h"

namespace {

struct Outcome {
  int status = -1;
  std::string out;
};

Outcome run_raw(const std::string& args, bool merge_stderr = true) {
  Outcome r;
  const std::string command = std::string(UCAM_TEST_BINARY_DIR) + "/cli/ucamctl " + args +
                              (merge_stderr ? " 2>&1" : " 2>/dev/null");
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

const std::string kLib = "--emulate builtin:library-1000 ";

Outcome run(const std::string& args, bool merge_stderr = true) {
  return run_raw(kLib + args, merge_stderr);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ChCli, StatusListsEveryElementChioStyle) {
  auto r = run("ch status");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "picker 0: <>\n")) << r.out.substr(0, 200);
  EXPECT_TRUE(contains(r.out, "slot 12: <FULL,ACCESS> voltag: <UCAM013L6>\n"));
  EXPECT_TRUE(contains(r.out, "slot 999: <ACCESS>\n"));
  EXPECT_TRUE(contains(r.out, "portal 0: <ACCESS,EXENAB,INENAB>"));
  // The drives are the emulated tape LUNs: their NAA as the identifier, and their devices.
  EXPECT_TRUE(contains(r.out, "drive 3: <ACCESS> serial number: <")) << r.out;
  EXPECT_TRUE(contains(r.out, "device: <pass4")) << r.out;
  r = run("ch status -v drive");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "drive 0: <ACCESS> sense: <0x00/0x00> intaddr: <256>")) << r.out;
  EXPECT_FALSE(contains(r.out, "slot"));
}

TEST(ChCli, StatusJsonHasEveryElement) {
  auto r = run("--json ch status", false);
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["elements"].size(), 1015U);
  EXPECT_EQ(j["counts"]["storage"], 1000);
  int full = 0, tags = 0;
  for (const auto& e : j["elements"]) {
    full += e["full"].get<bool>() ? 1 : 0;
    tags += e["volume_tag"].is_string() ? 1 : 0;
  }
  EXPECT_EQ(full, 900);
  EXPECT_EQ(tags, 900);
  const auto& slot = j["elements"][1 + 12];
  EXPECT_EQ(slot["type"], "storage");
  EXPECT_EQ(slot["unit"], 12);
  EXPECT_EQ(slot["address"], 0x1000 + 12);
  EXPECT_EQ(slot["volume_tag"], "UCAM013L6");
  EXPECT_TRUE(slot["source"].is_null());
}

TEST(ChCli, MovesBySlotAddressAndBarcodeAndMtxVerbs) {
  auto r = run("ch move slot 12 drive 0");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "moved slot 12 to drive 0\n");
  EXPECT_EQ(run("ch move slot:3 portal:0").status, 0);
  EXPECT_EQ(run("ch move 4108 256").status, 0);
  r = run("ch move UCAM013L6 drive:1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "moved slot 12 to drive 1\n");
  r = run("ch load 13");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Loading media from Storage Element 13 into drive 0...Done\n");
  EXPECT_EQ(run("ch transfer 1 1000").status, 0);
  EXPECT_EQ(run("ch exchange slot 0 slot 1").status, 0);
  EXPECT_EQ(run("ch position portal 3").status, 0);
  EXPECT_EQ(run("ch init").status, 0);
  EXPECT_EQ(run("ch inventory").status, 0);
  r = run("ch params");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "ch0: 1000 slots, 4 drives, 1 picker, 10 portals\nch0: current picker: 0\n");
}

TEST(ChCli, RefusalsSayWhyAndExitByKind) {
  auto r = run("ch move slot 950 drive 0");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.out, "Medium source element empty")) << r.out;
  r = run("ch move slot 0 slot 1");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.out, "Medium destination element full")) << r.out;
  r = run("ch move slot 1000 drive 0");
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, "no slot 1000")) << r.out;
  r = run("ch move NOSUCHTAG drive 0");
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_EQ(run("ch move slot 1").status, 2);
  EXPECT_EQ(run("ch load 0").status, 2);
  r = run("ch unload");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.out, "drive 0 is empty")) << r.out;
  EXPECT_EQ(run("ch -f pass9 status").status, 3);
}

TEST(ChCli, ThroughUcamdAMoveShowsInTheNextStatusAndUnloadReturnsIt) {
  auto daemon = ucam::testing::Daemon::start({"--emulate", "builtin:library-1000"});
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  auto r = run_raw(s + "ch load 13 2");
  ASSERT_EQ(r.status, 0) << r.out << daemon->log();
  r = run_raw(s + "ch status drive");
  EXPECT_TRUE(contains(r.out, "drive 2: <FULL,ACCESS> voltag: <UCAM013L6> source: <slot 12>"))
      << r.out;
  r = run_raw(s + "--json ch status slot", false);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["elements"][12]["full"].get<bool>());
  r = run_raw(s + "ch unload 2");  // mtx: one number is the slot: empty drive 0 to slot 2.
  EXPECT_EQ(r.status, 1) << r.out;
  r = run_raw(s + "ch move drive 2 slot 12");
  EXPECT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "--json ch status slot", false);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["elements"][12]["volume_tag"], "UCAM013L6");
  EXPECT_EQ(daemon->stop(), 0);
}

// The operator's side through emu.*: an open door stops moves with NOT READY, and a medium
// put into a portal shows there, marked as imported (IMPEXP), until it is taken out.
TEST(ChCli, TheDoorAndThePortalsAreDrivenThroughEmu) {
  auto daemon = ucam::testing::Daemon::start({"--emulate", "builtin:library-1000"});
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  const std::string lun = R"("bus":0,"target":0,"lun":0)";
  auto r = run_raw(s + "call emu.changer_door '{" + lun + R"(,"open":true}')");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "ch move slot:0 drive:0");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "Not Ready")) << r.out;
  r = run_raw(s + "call emu.changer_door '{" + lun + R"(,"open":false}')");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "ch move slot:0 drive:0");  // The UNIT ATTENTION of the closed door is retried.
  EXPECT_EQ(r.status, 0) << r.out;

  r = run_raw(s + "call emu.changer_import '{" + lun + R"(,"portal":3,"volume_tag":"NEW001L6"}')");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "--json ch status portal", false);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["elements"].size(), 10U) << r.out;
  EXPECT_TRUE(j["elements"][3]["full"].get<bool>());
  EXPECT_TRUE(j["elements"][3]["impexp"].get<bool>());
  EXPECT_EQ(j["elements"][3]["volume_tag"], "NEW001L6");
  // Imported media move like any other; then the portal is empty.
  r = run_raw(s + "ch move NEW001L6 slot:999");
  EXPECT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "call emu.changer_export '{" + lun + R"(,"portal":3}')");
  EXPECT_NE(r.status, 0) << r.out;  // Nothing left in the portal to take out.
  r = run_raw(s + "call emu.changer_door '{\"bus\":0,\"target\":5,\"lun\":0,\"open\":true}'");
  EXPECT_NE(r.status, 0) << r.out;  // Not a changer LUN.
  EXPECT_EQ(daemon->stop(), 0);
}

std::string lower(std::string s) {
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

TEST(ChCli, DrivesLinkToTheTapeDevicesInStatusAndDevlist) {
  auto r = run("--json ch status drive", false);
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["elements"].size(), 4U);
  for (int unit = 0; unit < 4; ++unit) {
    const auto& d = j["elements"][unit];
    ASSERT_TRUE(d["device"].is_array()) << d.dump();
    EXPECT_EQ(d["device"][0], "pass" + std::to_string(unit + 1)) << d.dump();
    EXPECT_TRUE(d["identifier"].is_string()) << d.dump();
  }
  r = run("devlist");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "LIB1000")) << r.out;
  for (const char* pass : {"pass1", "pass2", "pass3", "pass4"}) {
    EXPECT_TRUE(contains(r.out, pass)) << r.out;
  }
  EXPECT_TRUE(contains(r.out, "ULT3580-TD6")) << r.out;
}

TEST(ChCli, SetVolTagAndFindThroughUcamd) {
  auto daemon = ucam::testing::Daemon::start({"--emulate", "builtin:library-1000"});
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  // Assert (the default) on a tagged medium: refused by the changer.
  auto r = run_raw(s + "ch setvoltag slot 12 NEW013L6");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(lower(r.out), "command sequence error")) << r.out;
  r = run_raw(s + "ch setvoltag slot 12 NEW013L6 --force");
  ASSERT_EQ(r.status, 0) << r.out << daemon->log();
  EXPECT_EQ(r.out, "set the primary volume tag of slot 12 to <NEW013L6>\n");
  r = run_raw(s + "ch find 'NEW*'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "slot 12: <FULL,ACCESS> voltag: <NEW013L6>\n");
  r = run_raw(s + "--json ch find 'UCAM01?L6' --type slot", false);
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["elements"].size(), 9U) << r.out;  // UCAM010L6..UCAM019L6 but slot 12's.
  EXPECT_EQ(j["template"], "UCAM01?L6");
  EXPECT_EQ(j["elements"][0]["address"], 0x1000 + 9);
  EXPECT_EQ(j["elements"][0]["volume_tag"], "UCAM010L6");
  r = run_raw(s + "ch setvoltag slot:12 --clear");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "cleared the primary volume tag of slot 12\n");
  r = run_raw(s + "ch find NEW013L6");
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, "no medium has a primary volume tag matching 'NEW013L6'")) << r.out;
  r = run_raw(s + "ch setvoltag slot 12 'A*' --force");
  EXPECT_EQ(r.status, 2) << r.out;  // A wildcard in a tag: bad argument, nothing sent.
  EXPECT_TRUE(contains(r.out, "wildcards")) << r.out;
  EXPECT_EQ(run_raw(s + "ch setvoltag slot 12").status, 2);
  EXPECT_EQ(run_raw(s + "ch setvoltag slot 12 X --clear").status, 2);
  EXPECT_EQ(run_raw(s + "ch setvoltag slot 1000 X --force").status, 3);
  r = run_raw(s + "ch setvoltag slot 950 X --force");  // Empty slot.
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(lower(r.out), "medium source element empty")) << r.out;
  r = run_raw(
      s + R"(call ch.set_voltag '{"device":"ch0","element":"slot:0","mode":"bogus","tag":"X"}')");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "expected assert, replace or clear")) << r.out;
  r = run_raw(s + R"(call ch.find '{"device":"ch0"}')");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "template")) << r.out;
  r = run_raw(s + "ch setvoltag slot 0 ALT --alternate --force");  // No alternate tags here.
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(daemon->stop(), 0);
}

TEST(ChCli, ChangerFaultsThroughEmu) {
  auto daemon = ucam::testing::Daemon::start({"--emulate", "builtin:library-1000"});
  ASSERT_NE(daemon, nullptr);
  const std::string s = "--socket " + daemon->socket() + " ";
  const std::string lun = R"("bus":0,"target":0,"lun":0)";
  // A medium stuck in the picker.
  auto r = run_raw(s + "call emu.changer_fault '{" + lun + R"(,"fault":"picker_jam"}')");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "ch move slot 0 slot 999");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(lower(r.out), "changer error")) << r.out;
  r = run_raw(s + "--json ch status picker", false);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["elements"].size(), 1U);
  const auto& picker = j["elements"][0];
  EXPECT_TRUE(picker["full"].get<bool>());
  EXPECT_TRUE(picker["except"].get<bool>());
  EXPECT_EQ(picker["asc"], 0x3b);
  EXPECT_EQ(picker["ascq"], 0x16);
  r = run_raw(s + "ch status -v picker");
  EXPECT_TRUE(contains(r.out, "picker 0: <FULL,EXCEPT> voltag: <UCAM001L6> source: <slot 0>"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "sense: <0x3b/0x16>")) << r.out;
  EXPECT_EQ(run_raw(s + "ch move slot 1 slot 999").status, 1);  // Jammed until initialized.
  ASSERT_EQ(run_raw(s + "ch init").status, 0);
  r = run_raw(s + "ch status picker");
  EXPECT_EQ(r.out, "picker 0: <FULL> voltag: <UCAM001L6> source: <slot 0>\n") << r.out;
  r = run_raw(s + "ch move picker 0 slot 0");
  EXPECT_EQ(r.status, 0) << r.out;

  // An unreadable label: no primary tag, so a move by barcode cannot find it.
  r = run_raw(s + "call emu.changer_fault '{" + lun +
              R"(,"fault":"unreadable_label","element":4097}')");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "--json ch status slot", false);
  j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["elements"][1]["full"].get<bool>());
  EXPECT_TRUE(j["elements"][1]["volume_tag"].is_null());
  r = run_raw(s + "ch move UCAM002L6 drive 0");
  EXPECT_EQ(r.status, 3) << r.out;
  r = run_raw(s + "call emu.changer_fault '{" + lun + R"(,"fault":"clear"}')");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_raw(s + "ch move UCAM002L6 drive 0");
  EXPECT_EQ(r.status, 0) << r.out;
  // Bad requests.
  r = run_raw(s + "call emu.changer_fault '{" + lun + R"(,"fault":"gremlins"}')");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "picker_jam")) << r.out;
  r = run_raw(s + "call emu.changer_fault '{" + lun +
              R"(,"fault":"unreadable_label","element":5000}')");
  EXPECT_NE(r.status, 0) << r.out;
  r = run_raw(s + "call emu.changer_fault '{" + lun + R"(,"fault":"unreadable_label"}')");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(daemon->stop(), 0);
}

}  // namespace
