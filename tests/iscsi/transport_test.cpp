// The iSCSI SIM as a transport of the whole product, against tgt on loopback: the Stack built
// from an IscsiSpec beside the emulator, `ucamctl --iscsi URL` in-process, and ucamd configured
// with {"sims": [{"type": "iscsi", ...}, {"type": "emu", ...}]} serving ucamctl.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "stack/stack.h"
#include "tests/daemon_harness.h"
#include "tests/iscsi/tgt_peer.h"

namespace ucam {
namespace {

using nlohmann::json;

using IscsiTransport = testing::TgtSuite;

struct Run {
  int status = -1;
  std::string out;
};

// Runs ucamctl with `args` (shell syntax); stdout only.
Run ucamctl(const std::string& args) {
  const std::string command = testing::build_dir() + "/cli/ucamctl " + args + " 2>/dev/null";
  Run r;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    r.out.append(buf, n);
  }
  const int w = ::pclose(p);
  r.status = WIFEXITED(w) ? WEXITSTATUS(w) : -1;
  return r;
}

// tgt's layout (tgt-changer.sh): LUN 0 controller, 1 disk, 2-3 tapes, 4 changer.
const std::multiset<int> kTgtTypes = {0x0c, 0x00, 0x01, 0x01, 0x08};

std::multiset<int> iscsi_types(const json& devlist) {
  std::multiset<int> types;
  for (const auto& d : devlist) {
    if (d["sim"].get<std::string>().starts_with("iscsi")) {
      types.insert(d["device_type"].get<int>());
    }
  }
  return types;
}

TEST_F(IscsiTransport, TheStackHostsTheTargetBesideTheEmulator) {
  auto emu = emu_spec("builtin:minimal");
  ASSERT_TRUE(emu.has_value()) << emu.error().message();
  IscsiSpec iscsi;
  iscsi.config.url = s_peer->url();
  iscsi.config.login_timeout = std::chrono::seconds(10);
  std::vector<SimSpec> sims;
  sims.emplace_back(std::move(iscsi));
  sims.emplace_back(std::move(*emu));
  auto stack = Stack::create(std::move(sims));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  std::multiset<int> types;
  std::size_t emulated = 0;
  for (const auto& d : (*stack)->xpt().devices()) {
    if (d.sim_name == "iscsi") {
      EXPECT_EQ(d.sim_unit, 0U);
      types.insert(d.device_type);
    } else {
      ++emulated;
    }
  }
  EXPECT_EQ(types, kTgtTypes);
  EXPECT_EQ(emulated, 1U);  // builtin:minimal's disk.
  const auto transports = (*stack)->transports();
  ASSERT_EQ(transports.size(), 2U);
  EXPECT_EQ(transports[0].kind, "iscsi");
  EXPECT_EQ(transports[0].spec, s_peer->url());
  EXPECT_TRUE(transports[0].up);
  EXPECT_EQ(transports[0].details[0],
            (std::pair<std::string, std::string>{"state", "logged-in"}));
  EXPECT_EQ(transports[1].kind, "emu");
}

TEST_F(IscsiTransport, UcamctlRunsInProcessOnTheTarget) {
  const auto url = s_peer->url();
  const auto list = ucamctl("--iscsi " + url + " --json devlist");
  ASSERT_EQ(list.status, 0) << list.out;
  const auto devices = json::parse(list.out);
  EXPECT_EQ(iscsi_types(devices), kTgtTypes) << list.out;
  EXPECT_EQ(devices.size(), kTgtTypes.size());
  // The disk, by its bus:target:lun, answers INQUIRY with tgt's identity.
  std::string disk;
  for (const auto& d : devices) {
    if (d["device_type"] == 0) {
      disk = std::to_string(d["bus"].get<int>()) + ":0:" + std::to_string(d["lun"].get<int>());
    }
  }
  ASSERT_FALSE(disk.empty());
  const auto inquiry = ucamctl("--json inquiry " + disk + " --iscsi " + url);
  ASSERT_EQ(inquiry.status, 0) << inquiry.out;
  EXPECT_NE(inquiry.out.find("PEER-DISK"), std::string::npos) << inquiry.out;
  // Combined with the emulator, in either order of the options.
  const auto both = ucamctl("--emulate builtin:minimal --json devlist --iscsi " + url);
  ASSERT_EQ(both.status, 0) << both.out;
  EXPECT_EQ(json::parse(both.out).size(), kTgtTypes.size() + 1);
  // Nothing listening: exit 1 with the portal named; a bad URL: usage (2).
  const auto refused = ucamctl("--iscsi iscsi://127.0.0.1:1/iqn.2024-01.org.ucam:none devlist");
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(ucamctl("--iscsi http://127.0.0.1/x devlist").status, 2);
}

TEST_F(IscsiTransport, UcamdHostsTheSimsItsConfigurationLists) {
  const auto dir = testing::temp_dir();
  const auto config = dir + "/ucamd.json";
  {
    std::ofstream f(config);
    f << json{{"sims",
               {{{"type", "iscsi"}, {"url", s_peer->url()}, {"login_timeout_ms", 10000}},
                {{"type", "emu"}, {"scenario", "builtin:minimal"}}}}}
             .dump();
  }
  auto daemon = testing::Daemon::start({"--config", config});
  ASSERT_NE(daemon, nullptr);
  const std::string socket = "--socket " + daemon->socket();
  const auto list = ucamctl(socket + " --json devlist");
  ASSERT_EQ(list.status, 0) << list.out;
  EXPECT_EQ(iscsi_types(json::parse(list.out)), kTgtTypes) << list.out;
  const auto status = ucamctl(socket + " --json status");
  ASSERT_EQ(status.status, 0) << status.out;
  const auto s = json::parse(status.out);
  ASSERT_EQ(s["transports"].size(), 2U) << status.out;
  EXPECT_EQ(s["transports"][0]["kind"], "iscsi");
  EXPECT_EQ(s["transports"][0]["details"]["state"], "logged-in");
  EXPECT_EQ(s["transports"][1]["kind"], "emu");
  // The emulator's methods exist because an emulator is hosted.
  testing::RpcConnection rpc(daemon->socket());
  ASSERT_TRUE(rpc.connected());
  const auto methods = rpc.call("rpc.methods");
  bool has_emu = false;
  for (const auto& m : methods["result"]) {
    has_emu = has_emu || m["method"].get<std::string>().starts_with("emu.");
  }
  EXPECT_TRUE(has_emu);
  EXPECT_EQ(daemon->stop(), 0) << daemon->log();
}

}  // namespace
}  // namespace ucam
