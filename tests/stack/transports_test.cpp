// The Stack over real-transport specs: the SG_IO SIM (on a fake sysfs tree and sg layer whose
// devices are emulated LUNs) alone and beside the emulator, and the service on a stack without an
// emulator (no emu.* methods; status and metrics describe the transports). The iSCSI transport
// is tested against tgt in tests/iscsi (iscsi_stack_test).
#include <gtest/gtest.h>

#include <algorithm>

#include "service/service.h"
#include "stack/stack.h"
#include "tests/sg/fake_sg.h"
#include "tests/sg/fake_sysfs.h"

namespace ucam {
namespace {

using sg::LinuxAddress;
using sg::testing::EmuBackend;
using sg::testing::FakeSgOps;
using sg::testing::FakeSysfs;

constexpr const char* kBackend = R"({"buses": [{"targets": [
  {"id": 0, "luns": [{"lun": 0, "type": "disk", "product": "SG DISK A", "capacity": 8192},
                     {"lun": 1, "type": "disk", "product": "SG DISK B", "capacity": 8192}]},
  {"id": 4, "luns": [{"type": "disk", "product": "SG DISK C", "capacity": 8192}]}]}]})";

class TransportsTest : public ::testing::Test {
 protected:
  TransportsTest() : backend(kBackend), ops(std::make_shared<FakeSgOps>()) {
    sys.add_host(2, "mpt3sas", "sas_host");
    plug("sg0", {2, 0, 0, 0});
    plug("sg1", {2, 0, 0, 1});
    plug("sg2", {2, 0, 4, 0});
  }
  void plug(const std::string& name, LinuxAddress address) {
    FakeSysfs::Device d;
    d.sg = name;
    d.address = address;
    d.type = 0;
    sys.add_device(d);
    ops->add_node(sys.dev_path(name), backend.responder(0, address.target, address.lun));
  }
  SgSpec sg_spec(std::vector<std::string> filter = {}) {
    SgSpec spec;
    spec.options.roots = sys.roots();
    spec.options.ops = ops;
    spec.options.uevents = sg::UeventWatch::Off;
    spec.options.filter = std::move(filter);
    return spec;
  }
  static std::vector<std::string> products(Stack& stack) {
    std::vector<std::string> out;
    for (const auto& d : stack.xpt().devices()) {
      out.push_back(d.product);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  FakeSysfs sys;
  EmuBackend backend;
  std::shared_ptr<FakeSgOps> ops;
};

TEST_F(TransportsTest, AnSgStackFindsWhatSysfsListsAndDescribesIt) {
  std::vector<SimSpec> sims;
  sims.emplace_back(sg_spec());
  auto stack = Stack::create(std::move(sims));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  EXPECT_EQ((*stack)->emulator(), nullptr);
  EXPECT_EQ(products(**stack),
            (std::vector<std::string>{"SG DISK A", "SG DISK B", "SG DISK C"}));
  const auto transports = (*stack)->transports();
  ASSERT_EQ(transports.size(), 1U);
  EXPECT_EQ(transports[0].kind, "sg");
  EXPECT_EQ(transports[0].spec, "(all)");
  EXPECT_TRUE(transports[0].up);
  EXPECT_TRUE(transports[0].problems.empty());
  const auto& details = transports[0].details;
  EXPECT_NE(std::find(details.begin(), details.end(),
                      std::pair<std::string, std::string>{"devices", "3"}),
            details.end());
  // The stack asked for no scan of its own beyond the one it runs: the sg SIM was created
  // with InitialScan::None, so every device is scanned once.
  (*stack)->stop_sims();
  EXPECT_TRUE((*stack)->xpt().devices().empty());
}

TEST_F(TransportsTest, TheFilterSelectsDevices) {
  std::vector<SimSpec> sims;
  sims.emplace_back(sg_spec({"sg2", "2:0:0:1"}));
  auto stack = Stack::create(std::move(sims));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  EXPECT_EQ(products(**stack), (std::vector<std::string>{"SG DISK B", "SG DISK C"}));
  EXPECT_EQ((*stack)->transports()[0].spec, "sg2,2:0:0:1");
}

TEST_F(TransportsTest, SgAndTheEmulatorShareOneStack) {
  auto emu = emu_spec("builtin:minimal");
  ASSERT_TRUE(emu.has_value()) << emu.error().message();
  std::size_t emu_luns = 0;
  for (const auto& bus : emu->scenario.buses) {
    for (const auto& target : bus.targets) {
      emu_luns += target.luns.size();
    }
  }
  std::vector<SimSpec> sims;
  sims.emplace_back(std::move(*emu));
  sims.emplace_back(sg_spec());
  auto stack = Stack::create(std::move(sims));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  ASSERT_NE((*stack)->emulator(), nullptr);
  EXPECT_EQ((*stack)->xpt().devices().size(), emu_luns + 3);
  const auto transports = (*stack)->transports();
  ASSERT_EQ(transports.size(), 2U);
  EXPECT_EQ(transports[0].kind, "emu");
  EXPECT_EQ(transports[1].kind, "sg");
  // Every device has a pass node, whichever SIM it is on.
  for (const auto& d : (*stack)->xpt().devices()) {
    const auto names = (*stack)->periphs().names_for(d.path);
    EXPECT_TRUE(std::any_of(names.begin(), names.end(),
                            [](const std::string& n) { return n.starts_with("pass"); }))
        << cam::to_string(d.path);
  }
}

TEST_F(TransportsTest, ADeviceThatCannotBeOpenedIsAProblemNamingIt) {
  ops->set_open_error(sys.dev_path("sg1"), EBUSY);
  std::vector<SimSpec> sims;
  sims.emplace_back(sg_spec());
  auto stack = Stack::create(std::move(sims));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  EXPECT_EQ(products(**stack), (std::vector<std::string>{"SG DISK A", "SG DISK C"}));
  const auto problems = (*stack)->transports()[0].problems;
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].find("sg1"), std::string::npos) << problems[0];
}

TEST_F(TransportsTest, NoSgDriverFailsTheStackWithAClearError) {
  SgSpec spec = sg_spec();
  spec.options.roots.sysfs = sys.sys().string() + "/nonexistent";
  std::vector<SimSpec> sims;
  sims.emplace_back(std::move(spec));
  auto stack = Stack::create(std::move(sims));
  ASSERT_FALSE(stack.has_value());
  EXPECT_NE(stack.error().message().find("SG_IO SIM"), std::string::npos)
      << stack.error().message();
  EXPECT_NE(stack.error().message().find("scsi_generic"), std::string::npos)
      << stack.error().message();
}

TEST(TransportsIscsi, ABadUrlIsAConfigurationErrorWithoutTheSecret) {
  SimConfig c;
  c.kind = SimConfig::Kind::Iscsi;
  c.url = "iscsi://user%topsecret@127.0.0.1:70000/iqn.2024-01.org.ucam:x";
  auto spec = make_spec(c);
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().errno_value(), EINVAL);
  EXPECT_EQ(spec.error().message().find("topsecret"), std::string::npos)
      << spec.error().message();
  EXPECT_NE(spec.error().message().find("iSCSI"), std::string::npos) << spec.error().message();
}

TEST_F(TransportsTest, WithoutAnEmulatorTheServiceHasNoEmuMethodsAndDescribesItsTransports) {
  std::vector<SimSpec> sims;
  sims.emplace_back(sg_spec());
  auto stack = Stack::create(std::move(sims));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  service::AccessPolicy policy;
  policy.owner_uid = ::getuid();
  service::Service service(**stack, policy, {});
  service::Peer me;
  me.uid = ::getuid();
  me.gid = ::getgid();
  me.pid = ::getpid();
  auto session = service.begin_session(me, [](std::string) {});
  const auto call = [&](const char* method) {
    const auto line = service.handle_line(
        *session, nlohmann::json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}}.dump());
    return nlohmann::json::parse(line);
  };
  const auto methods = call("rpc.methods");
  ASSERT_TRUE(methods.contains("result")) << methods.dump();
  std::size_t count = 0;
  for (const auto& m : methods["result"]) {
    EXPECT_FALSE(m["method"].get<std::string>().starts_with("emu.")) << m["method"];
    ++count;
  }
  EXPECT_GT(count, 10U);
  // An emu method is an unknown method here, not a crash or a silent no-op.
  const auto inject = call("emu.remove_lun");
  ASSERT_TRUE(inject.contains("error")) << inject.dump();
  EXPECT_EQ(inject["error"]["code"], -32601);
  // Everything else works on this SIM.
  const auto devices = call("devices.list");
  ASSERT_TRUE(devices.contains("result")) << devices.dump();
  const auto status = call("daemon.status");
  ASSERT_TRUE(status.contains("result")) << status.dump();
  const auto& transports = status["result"]["transports"];
  ASSERT_EQ(transports.size(), 1U) << status.dump();
  EXPECT_EQ(transports[0]["kind"], "sg");
  EXPECT_EQ(transports[0]["details"]["devices"], "3");
  const auto metrics = service.metrics_text();
  EXPECT_NE(metrics.find("ucam_transport_up{kind=\"sg\",spec=\"(all)\"} 1"), std::string::npos)
      << metrics;
  service.end_session(*session);
}

}  // namespace
}  // namespace ucam
