// The whole stack (XPT, devfs, pass, da) on the SG SIM, over a fake sysfs tree and a fake sg
// layer whose devices are emulated LUNs: scanning finds what sysfs lists (probing only the
// targets it lists), the host's transfer limit reaches pass and da as maxio, block I/O
// round-trips, timeouts abandon commands, devices leave and arrive through the XPT lifecycle,
// and the lifecycle holds under concurrent I/O and hot plug (run under TSan and ASan in CI).
#include "tests/sg/sg_stack.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <utility>

#include "sims/sg/sg_sim.h"
#include "tests/errno_of.h"
#include "tests/sg/fake_sg.h"
#include "tests/sg/fake_sysfs.h"
#include "tests/wait.h"

namespace ucam::sg {
namespace {

using testing::EmuBackend;
using testing::FakeSgOps;
using testing::FakeSysfs;
using testing::SgStack;
using testing::SimSide;
using ucam::testing::errno_of;
using ucam::testing::wait_until;

// Scenario bus 0 is Linux host 0, scenario bus 1 is host 3.
constexpr const char* kScenario = R"({"buses": [
  {"targets": [
    {"id": 0, "luns": [{"lun": 0, "type": "disk", "product": "DISK A", "capacity": 8192},
                       {"lun": 1, "type": "disk", "product": "DISK B", "capacity": 8192}]},
    {"id": 1, "luns": [{"type": "processor"}]}]},
  {"targets": [
    {"id": 2, "luns": [{"type": "disk", "product": "DISK C", "capacity": 8192}]},
    {"id": 3, "luns": [{"type": "disk", "product": "DISK D", "capacity": 8192}]}]}
]})";

struct Lun {
  std::string sg;
  LinuxAddress address;
  std::uint8_t type;
  std::string block;
  std::uint32_t emu_bus;
};

const Lun kLuns[] = {
    {"sg0", {0, 0, 0, 0}, 0, "sda", 0}, {"sg1", {0, 0, 0, 1}, 0, "sdb", 0},
    {"sg2", {0, 0, 1, 0}, 3, "", 0},    {"sg3", {3, 0, 2, 0}, 0, "sdc", 1},
    {"sg4", {3, 0, 3, 0}, 0, "sdd", 1},
};

constexpr std::uint32_t k64KiB = 64 * 1024;
constexpr std::uint32_t k128KiB = 128 * 1024;
constexpr std::uint32_t k1MiB = 1024 * 1024;

// The data lengths of the READ(10)/READ(16) commands in `history` from index `from` on.
std::vector<std::uint32_t> read_lengths(const std::vector<testing::FakeCommand>& history,
                                        std::size_t from = 0) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = from; i < history.size(); ++i) {
    if (!history[i].cdb.empty() && (history[i].cdb[0] == 0x28 || history[i].cdb[0] == 0x88)) {
      out.push_back(history[i].dxfer_len);
    }
  }
  return out;
}

// READ(10) of 256 blocks (128 KiB) from LBA 0.
pass::PassCommand read_128k_command(std::vector<std::uint8_t>& buffer) {
  pass::PassCommand cmd;
  cmd.cdb = {0x28, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0};
  cmd.dir = cam::DataDir::In;
  cmd.data = buffer;
  return cmd;
}

// Every test runs with both ways of watching devices (sims/sg/device.h, "Watching").
class SgStackTest : public ::testing::TestWithParam<DeviceWatch> {
 protected:
  SgStackTest() : backend(kScenario) {
    ops = std::make_shared<FakeSgOps>();
    sys.add_host(0, "scsi_debug");
    sys.add_host(3, "mpt3sas", "sas_host");
  }

  void plug(const Lun& lun) {
    FakeSysfs::Device d;
    d.sg = lun.sg;
    d.address = lun.address;
    d.type = lun.type;
    d.block = lun.block;
    sys.add_device(d);
    ops->add_node(sys.dev_path(lun.sg),
                  backend.responder(lun.emu_bus, lun.address.target, lun.address.lun));
  }
  void unplug(const Lun& lun) {
    sys.remove_device(lun.sg, lun.address);
    ops->detach(sys.dev_path(lun.sg));
  }
  void start(cam::XptConfig config = {}, SimSide side = SimSide::Direct) {
    SgOptions options;
    options.roots = sys.roots();
    options.ops = ops;
    options.uevents = UeventWatch::Off;
    options.device_watch = GetParam();
    stack = std::make_unique<SgStack>(options, config, side);
  }
  cam::Path path(const Lun& lun) { return *stack->sim->path_of(lun.address); }

  FakeSysfs sys;
  EmuBackend backend;
  std::shared_ptr<FakeSgOps> ops;
  std::unique_ptr<SgStack> stack;
};

TEST_P(SgStackTest, TheScanFindsExactlyWhatSysfsLists) {
  for (const auto& lun : kLuns) {
    plug(lun);
  }
  start();
  const auto devices = stack->xpt->devices();
  ASSERT_EQ(devices.size(), std::size(kLuns));
  for (const auto& lun : kLuns) {
    const auto p = path(lun);
    const auto info = stack->xpt->device(p);
    ASSERT_TRUE(info) << lun.sg;
    EXPECT_EQ(info->device_type, lun.type) << lun.sg;
    EXPECT_EQ(info->sim_name, "sg");
    EXPECT_EQ(info->sim_unit, lun.address.host);
    EXPECT_EQ(info->sim_bus, lun.address.channel);
    EXPECT_FALSE(stack->node(p, "pass").empty()) << lun.sg;
    EXPECT_EQ(stack->node(p, "da").empty(), lun.type != 0) << lun.sg;
  }
  EXPECT_EQ(stack->xpt->device(path(kLuns[3]))->product, "DISK C");
  EXPECT_EQ(stack->xpt->buses().size(), 2U);
}

TEST_P(SgStackTest, BlocksWrittenThroughDaReadBack) {
  for (const auto& lun : kLuns) {
    plug(lun);
  }
  start();
  auto h = stack->devfs->open(stack->node(path(kLuns[3]), "da"));
  ASSERT_TRUE(h) << h.error().message();
  da::DaGetGeometry g;
  ASSERT_TRUE(h->ioctl(g));
  EXPECT_EQ(g.block_length, 512U);
  EXPECT_EQ(g.block_count, 8192U);
  std::vector<std::uint8_t> out(4096), in(4096);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(i * 13 + 1);
  }
  da::DaIo write(da::DaIo::kWrite);
  write.lba = 100;
  write.blocks = 8;
  write.data = out;
  ASSERT_TRUE(h->ioctl(write));
  da::DaIo read(da::DaIo::kRead);
  read.lba = 100;
  read.blocks = 8;
  read.data = in;
  ASSERT_TRUE(h->ioctl(read));
  EXPECT_EQ(in, out);
}

TEST_P(SgStackTest, ACommandTheDeviceNeverAnswersTimesOutAndIsAbandoned) {
  for (const auto& lun : kLuns) {
    plug(lun);
  }
  cam::XptConfig config;
  config.timer_tick = std::chrono::milliseconds(5);
  start(config);
  auto h = stack->devfs->open(stack->node(path(kLuns[0]), "pass"));
  ASSERT_TRUE(h);
  ops->set_hold(sys.dev_path("sg0"), true);
  pass::PassCommand tur;
  tur.cdb = {0, 0, 0, 0, 0, 0};
  tur.timeout = std::chrono::milliseconds(50);
  ASSERT_TRUE(h->ioctl(tur));
  EXPECT_EQ(tur.status, CamStatus::CmdTimeout);
  EXPECT_EQ(stack->sim->stats().abandoned, 1U);
  EXPECT_EQ(stack->sim->stats().in_kernel, 1U);
  // The kernel gives it back (after its own timeout): the reply is dropped, the slot freed.
  ops->set_hold(sys.dev_path("sg0"), false);
  EXPECT_EQ(ops->release(sys.dev_path("sg0")), 1U);
  ASSERT_TRUE(wait_until([&] { return stack->sim->stats().replies_dropped == 1; }));
  EXPECT_EQ(stack->sim->stats().in_kernel, 0U);
  tur.timeout = std::chrono::seconds(10);
  ASSERT_TRUE(h->ioctl(tur));
  EXPECT_EQ(tur.status, CamStatus::ReqCmp);
}

TEST_P(SgStackTest, ADeletedDeviceDepartsWhileOpenAndANewOneArrives) {
  for (const auto& lun : kLuns) {
    plug(lun);
  }
  start();
  std::atomic<int> lost{0}, found{0};
  auto subscription = stack->xpt->subscribe(
      cam::AsyncCode::LostDevice | cam::AsyncCode::FoundDevice, cam::Path::wildcard(),
      [&](const cam::AsyncEvent& e) { ++(e.code == cam::AsyncCode::LostDevice ? lost : found); });
  const auto gone = path(kLuns[1]);
  const auto da_name = stack->node(gone, "da");
  const auto pass_name = stack->node(gone, "pass");
  auto da_handle = stack->devfs->open(da_name);
  auto pass_handle = stack->devfs->open(pass_name);
  ASSERT_TRUE(da_handle && pass_handle);
  const auto opens = stack->devfs->stats().opens;

  unplug(kLuns[1]);  // echo 1 > /sys/class/scsi_device/0:0:0:1/device/delete
  if (GetParam() == DeviceWatch::WhileBusy) {
    // Nobody watches an idle device: the kernel's uevent makes the SIM rescan.
    ASSERT_TRUE(stack->sim->rescan());
  }
  ASSERT_TRUE(wait_until([&] { return lost.load() == 1; }));
  stack->settle();
  EXPECT_FALSE(stack->xpt->device(gone));
  da::DaGetGeometry g;
  EXPECT_EQ(errno_of(da_handle->ioctl(g)), ENXIO);
  pass::PassCommand tur;
  tur.cdb = {0, 0, 0, 0, 0, 0};
  EXPECT_EQ(errno_of(pass_handle->ioctl(tur)), ENXIO);
  EXPECT_EQ(errno_of(stack->devfs->open(da_name)), ENOENT);
  EXPECT_TRUE(da_handle->close());
  EXPECT_TRUE(pass_handle->close());
  EXPECT_EQ(stack->devfs->stats().opens, opens - 2);
  ASSERT_TRUE(wait_until([&] { return ops->open_fds(sys.dev_path("sg1")) == 0; }));
  EXPECT_EQ(stack->sim->stats().open_devices, std::size(kLuns) - 1);
  // The others are untouched.
  EXPECT_EQ(stack->xpt->devices().size(), std::size(kLuns) - 1);

  // A new disk: the rescan (a uevent's, or a user's) brings it in under new names.
  Lun fresh = kLuns[1];
  fresh.sg = "sg5";
  plug(fresh);
  ASSERT_TRUE(stack->sim->rescan());
  stack->settle();
  EXPECT_EQ(found.load(), 1);
  const auto back = path(fresh);
  EXPECT_EQ(back, gone);
  EXPECT_TRUE(stack->xpt->device(back));
  EXPECT_FALSE(stack->node(back, "da").empty());
  EXPECT_EQ(stack->periphs->stats().underflows, 0U);
}

TEST_P(SgStackTest, StoppingWithCommandsInTheKernelCompletesThemAndClosesEverything) {
  for (const auto& lun : kLuns) {
    plug(lun);
  }
  start();
  ops->set_hold(sys.dev_path("sg3"), true);
  cam::Ccb ccb;
  ccb.path = path(kLuns[3]);
  const std::uint8_t tur[] = {0, 0, 0, 0, 0, 0};
  ccb.set_cdb(tur);
  std::atomic<bool> done{false};
  ccb.done = [](cam::Ccb&, void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); };
  ccb.done_arg = &done;
  stack->xpt->action(ccb);
  ASSERT_TRUE(wait_until([&] { return ops->held(sys.dev_path("sg3")) == 1; }));
  stack->sim->stop();
  // The XPT aborted it (the SIM abandoned it in the kernel); its callback runs on the XPT's
  // completion thread.
  ASSERT_TRUE(wait_until([&] { return done.load(); }));
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(ops->open_fds(), 0U);
  EXPECT_TRUE(stack->xpt->devices().empty());
  EXPECT_TRUE(stack->xpt->buses().empty());
}

// Readers hammer two disks while one of them leaves and comes back, repeatedly: every command
// is answered, every open ends in exactly one close, nothing leaks.
TEST_P(SgStackTest, IoDuringHotPlugKeepsTheLifecycle) {
  for (const auto& lun : kLuns) {
    plug(lun);
  }
  start();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> reads{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      const Lun& lun = kLuns[t % 2 == 0 ? 3 : 4];
      std::vector<std::uint8_t> buffer(4096);
      while (!stop.load()) {
        const auto p = stack->sim->path_of(lun.address);
        const auto name = p ? stack->node(*p, "da") : std::string();
        auto h = name.empty() ? Result<devfs::FileHandle>(fail_errno(ENOENT, "no node"))
                              : stack->devfs->open(name);
        if (!h) {
          std::this_thread::yield();
          continue;
        }
        for (int i = 0; i < 20 && !stop.load(); ++i) {
          da::DaIo read(da::DaIo::kRead);
          read.lba = static_cast<std::uint64_t>(i);
          read.blocks = 8;
          read.data = buffer;
          if (h->ioctl(read)) {
            ++reads;
          } else {
            ++failures;
          }
        }
      }
    });
  }
  Lun current = kLuns[4];
  for (int round = 0; round < 5; ++round) {
    const auto before = reads.load();
    ASSERT_TRUE(wait_until([&] { return reads.load() > before + 20; }));
    unplug(current);
    if (GetParam() == DeviceWatch::WhileBusy) {
      ASSERT_TRUE(stack->sim->rescan());  // The uevent's.
    }
    ASSERT_TRUE(wait_until([&] { return !stack->sim->path_of(current.address); }));
    stack->settle();
    current.sg = "sg" + std::to_string(10 + round);  // The kernel numbers it anew.
    plug(current);
    ASSERT_TRUE(stack->sim->rescan());
    stack->settle();
  }
  stop.store(true);
  for (auto& t : readers) {
    t.join();
  }
  stack->settle();
  EXPECT_GT(reads.load(), 100U);
  EXPECT_EQ(stack->devfs->stats().opens, 0U);
  EXPECT_EQ(stack->periphs->stats().underflows, 0U);
  ASSERT_TRUE(wait_until([&] { return stack->sim->stats().in_kernel == 0; }));
  EXPECT_EQ(stack->sim->stats().open_devices, std::size(kLuns));
  EXPECT_EQ(ops->open_fds(), std::size(kLuns));
  EXPECT_EQ(stack->xpt->stats().ccbs_outstanding, 0U);
}

// The bus reports the host's limit (BLKSECTGET on the sg node; the smallest of its devices') as
// PathInquiry::maxio. pass refuses a longer transfer with E2BIG and da splits one, before any
// command reaches the sg layer.
TEST_P(SgStackTest, TheBusReportsItsDevicesSmallestLimitAsMaxio) {
  ops->set_max_bytes(sys.dev_path("sg0"), static_cast<int>(k128KiB));
  ops->set_max_bytes(sys.dev_path("sg1"), static_cast<int>(k64KiB));
  for (const auto& lun : kLuns) {
    plug(lun);
  }
  start({}, SimSide::Recorded);
  const auto p0 = path(kLuns[0]);  // host 0: sg0 128 KiB, sg1 64 KiB, sg2 the fake's 1 MiB.
  const auto p3 = path(kLuns[3]);  // host 3: 1 MiB.
  EXPECT_EQ(stack->recorder->path_inquiry(p0.bus)->maxio, k64KiB);
  EXPECT_EQ(stack->recorder->path_inquiry(p3.bus)->maxio, k1MiB);
  // The same at registration (the XPT's cached copy): the bus registers after opening them all.
  for (const auto& bus : stack->xpt->buses()) {
    EXPECT_EQ(bus.inquiry.maxio, bus.path_id == p0.bus ? k64KiB : k1MiB) << bus.path_id;
  }
  EXPECT_EQ(stack->xpt->device(p0)->maxio, k64KiB);
  EXPECT_EQ(stack->xpt->device(path(kLuns[1]))->maxio, k64KiB);
  EXPECT_EQ(stack->xpt->device(p3)->maxio, k1MiB);

  const std::string node = sys.dev_path("sg0");
  std::vector<std::uint8_t> buffer(k128KiB);
  auto pass_handle = stack->devfs->open(stack->node(p0, "pass"));
  ASSERT_TRUE(pass_handle);
  const auto before = ops->commands(node);
  auto big = read_128k_command(buffer);
  EXPECT_EQ(errno_of(pass_handle->ioctl(big)), E2BIG);
  EXPECT_EQ(ops->commands(node), before);  // Refused by the XPT, never written to sg.

  auto da_handle = stack->devfs->open(stack->node(p0, "da"));
  ASSERT_TRUE(da_handle);
  const auto from = ops->history(node).size();
  da::DaIo read(da::DaIo::kRead);
  read.blocks = k128KiB / 512;
  read.data = buffer;
  ASSERT_TRUE(da_handle->ioctl(read));
  EXPECT_EQ(read_lengths(ops->history(node), from), (std::vector<std::uint32_t>{k64KiB, k64KiB}));
  EXPECT_TRUE(pass_handle->close());
  EXPECT_TRUE(da_handle->close());
}

// The XPT reads maxio when it creates a device's entry: a device with a smaller limit that
// arrives later gets its own, and the devices found before keep theirs.
TEST_P(SgStackTest, ADeviceWithASmallerLimitArrivingLaterIsHeldToIt) {
  plug(kLuns[0]);  // The fake's 1 MiB.
  start({}, SimSide::Recorded);
  const auto p0 = path(kLuns[0]);
  EXPECT_EQ(stack->recorder->path_inquiry(p0.bus)->maxio, k1MiB);
  const std::string node1 = sys.dev_path("sg1");
  ops->set_max_bytes(node1, static_cast<int>(k64KiB));
  plug(kLuns[1]);
  ASSERT_TRUE(stack->sim->rescan());
  stack->settle();
  const auto p1 = path(kLuns[1]);
  ASSERT_EQ(p1.bus, p0.bus);
  EXPECT_EQ(stack->recorder->path_inquiry(p1.bus)->maxio, k64KiB);
  ASSERT_TRUE(stack->xpt->device(p1));
  EXPECT_EQ(stack->xpt->device(p1)->maxio, k64KiB);
  EXPECT_EQ(stack->xpt->device(p0)->maxio, k1MiB);

  std::vector<std::uint8_t> buffer(k128KiB);
  auto pass1 = stack->devfs->open(stack->node(p1, "pass"));
  ASSERT_TRUE(pass1);
  auto big = read_128k_command(buffer);
  EXPECT_EQ(errno_of(pass1->ioctl(big)), E2BIG);
  for (const auto& [lun, expected] :
       {std::pair{kLuns[1], std::vector<std::uint32_t>{k64KiB, k64KiB}},
        std::pair{kLuns[0], std::vector<std::uint32_t>{k128KiB}}}) {
    auto da_handle = stack->devfs->open(stack->node(path(lun), "da"));
    ASSERT_TRUE(da_handle) << lun.sg;
    const auto from = ops->history(sys.dev_path(lun.sg)).size();
    da::DaIo read(da::DaIo::kRead);
    read.blocks = k128KiB / 512;
    read.data = buffer;
    ASSERT_TRUE(da_handle->ioctl(read)) << lun.sg;
    EXPECT_EQ(read_lengths(ops->history(sys.dev_path(lun.sg)), from), expected) << lun.sg;
    EXPECT_TRUE(da_handle->close());
  }
  for (const auto& command : ops->history(node1)) {
    EXPECT_LE(command.dxfer_len, k64KiB);  // Nothing longer ever reached its sg node.
  }
  EXPECT_TRUE(pass1->close());
}

std::string watch_name(const ::testing::TestParamInfo<DeviceWatch>& info) {
  return info.param == DeviceWatch::Always ? "Always" : "WhileBusy";
}
INSTANTIATE_TEST_SUITE_P(Watch, SgStackTest,
                         ::testing::Values(DeviceWatch::Always, DeviceWatch::WhileBusy),
                         watch_name);

// One host whose targets are 0, 5 and 300: the bus lists them (Sim::list_targets), so the scan
// probes those three and sends nothing, INQUIRY included, to any other target id.
constexpr const char* kSparseScenario = R"({"buses": [{"targets": [
  {"id": 0, "luns": [{"type": "disk", "product": "DISK T0", "capacity": 8192}]},
  {"id": 5, "luns": [{"type": "disk", "product": "DISK T5", "capacity": 8192}]},
  {"id": 300, "luns": [{"type": "processor"}]}]}]})";

TEST(SgScan, ProbesOnlyTheTargetsSysfsLists) {
  FakeSysfs sys;
  EmuBackend backend(kSparseScenario);
  auto ops = std::make_shared<FakeSgOps>();
  sys.add_host(2, "mpt3sas", "sas_host");
  const std::set<std::uint32_t> present = {0, 5, 300};
  for (const std::uint32_t target : present) {
    FakeSysfs::Device d;
    d.sg = "sg" + std::to_string(target);
    d.address = {2, 0, target, 0};
    d.type = target == 300 ? 3 : 0;
    d.block = target == 300 ? "" : "sd" + std::to_string(target);
    sys.add_device(d);
    ops->add_node(sys.dev_path(d.sg), backend.responder(0, target, 0));
  }
  SgOptions options;
  options.roots = sys.roots();
  options.ops = ops;
  options.uevents = UeventWatch::Off;
  SgStack stack(options, {}, SimSide::Recorded);  // Scans every bus.

  std::set<std::uint32_t> found;
  for (const auto& device : stack.xpt->devices()) {
    found.insert(device.path.target);
  }
  EXPECT_EQ(found, present);
  const auto addressed = [&](std::size_t from) {
    std::set<std::uint32_t> targets;
    std::size_t inquiries_to_absent = 0;
    const auto ccbs = stack.recorder->ccbs();
    for (std::size_t i = from; i < ccbs.size(); ++i) {
      targets.insert(ccbs[i].path.target);
      if (ccbs[i].opcode == 0x12 && present.count(ccbs[i].path.target) == 0) {
        ++inquiries_to_absent;
      }
    }
    return std::pair{targets, inquiries_to_absent};
  };
  EXPECT_EQ(addressed(0), std::pair(present, std::size_t{0}));
  for (const std::uint32_t target : present) {
    // And each present target's INQUIRYs went down to its sg node.
    const auto history = ops->history(sys.dev_path("sg" + std::to_string(target)));
    EXPECT_GT(std::count_if(history.begin(), history.end(),
                            [](const testing::FakeCommand& c) { return c.cdb[0] == 0x12; }),
              0)
        << target;
  }

  // Target 5 leaves; a later scan of the whole bus drops nothing else and does not probe it.
  sys.remove_device("sg5", {2, 0, 5, 0});
  ops->detach(sys.dev_path("sg5"));
  ASSERT_TRUE(stack.sim->rescan());
  stack.settle();
  const auto seen = stack.recorder->ccbs().size();
  ASSERT_TRUE(stack.xpt->scan_all());
  stack.settle();
  EXPECT_EQ(addressed(seen), std::pair(std::set<std::uint32_t>{0, 300}, std::size_t{0}));
  found.clear();
  for (const auto& device : stack.xpt->devices()) {
    found.insert(device.path.target);
  }
  EXPECT_EQ(found, (std::set<std::uint32_t>{0, 300}));
}

}  // namespace
}  // namespace ucam::sg
