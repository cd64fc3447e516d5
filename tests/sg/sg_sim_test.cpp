// The SG SIM against a fake XPT (tests/emu/fake_xpt.h), a fake sysfs tree and a fake sg device
// layer: topology, the command path, the outcome of every kind of failure, abort, hot plug and
// exclusive opens.
#include "sims/sg/sg_sim.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "sims/sg/device.h"
#include "tests/emu/fake_xpt.h"
#include "tests/sg/fake_sg.h"
#include "tests/sg/fake_sysfs.h"
#include "tests/wait.h"

namespace ucam::sg {
namespace {

using emu::testing::FakeXpt;
using testing::FakeCommand;
using testing::FakeReply;
using testing::FakeSgOps;
using testing::FakeSysfs;
using ucam::testing::wait_until;

LinuxAddress at(std::uint32_t h, std::uint32_t c, std::uint32_t t, std::uint64_t l) {
  return {h, c, t, l};
}

// INQUIRY answers "ACME <model>", anything else GOOD; data-out is remembered by the test.
FakeReply answer(const FakeCommand& c, const std::string& model) {
  FakeReply r;
  if (!c.cdb.empty() && c.cdb[0] == 0x12) {
    std::vector<std::uint8_t> inq(36, ' ');
    inq[0] = 0x00;
    inq[1] = 0;
    inq[2] = 7;
    inq[3] = 2;
    inq[4] = 31;
    inq[5] = inq[6] = inq[7] = 0;
    std::copy_n("ACME    ", 8, inq.begin() + 8);
    std::copy(model.begin(), model.end(), inq.begin() + 16);
    r.data_in = inq;
  }
  return r;
}

// Every test runs with both ways of watching devices (sims/sg/device.h, "Watching").
class SgSimTest : public ::testing::TestWithParam<DeviceWatch> {
 protected:
  void SetUp() override {
    ops = std::make_shared<FakeSgOps>();
    sys.add_host(0, "scsi_debug");
    add("sg0", at(0, 0, 0, 0));
    add("sg1", at(0, 0, 0, 1));
    add("sg2", at(0, 0, 1, 0));
  }
  void TearDown() override {
    if (sim) {
      sim->stop();
    }
  }

  void add(const std::string& name, LinuxAddress address, std::uint8_t type = 0) {
    FakeSysfs::Device d;
    d.sg = name;
    d.address = address;
    d.type = type;
    sys.add_device(d);
    ops->add_node(sys.dev_path(name),
                  [name](const FakeCommand& c) { return answer(c, "DISK-" + name); });
  }
  void remove(const std::string& name, LinuxAddress address) {
    sys.remove_device(name, address);
    ops->detach(sys.dev_path(name));
  }

  void start(std::vector<std::string> filter = {}) {
    SgOptions options;
    options.roots = sys.roots();
    options.ops = ops;
    options.filter = std::move(filter);
    options.uevents = UeventWatch::Off;
    options.device_watch = GetParam();
    auto created = SgSim::create(xpt, options);
    ASSERT_TRUE(created) << created.error().message();
    sim = std::move(*created);
  }

  cam::Sim* bus_of(const cam::Path& path) { return xpt.bus(path.bus); }
  cam::Path path(LinuxAddress a) { return *sim->path_of(a); }

  // Sends `ccb` to its bus and waits for the SIM to complete it.
  void run(cam::Ccb& ccb) {
    xpt.forget(ccb);
    ccb.reset_result();
    bus_of(ccb.path)->action(ccb);
    ASSERT_TRUE(xpt.wait_done(ccb));
  }

  static void inquiry(cam::Ccb& ccb, std::vector<std::uint8_t>& buffer) {
    buffer.assign(96, 0);
    const std::uint8_t cdb[] = {0x12, 0, 0, 0, 96, 0};
    ccb.set_cdb(cdb);
    ccb.dir = cam::DataDir::In;
    ccb.data = buffer.data();
    ccb.dxfer_len = 96;
  }

  FakeSysfs sys;
  std::shared_ptr<FakeSgOps> ops;
  FakeXpt xpt;
  std::unique_ptr<SgSim> sim;
};

TEST_P(SgSimTest, RegistersOneBusPerHostAndChannelDescribedFromSysfs) {
  sys.add_host(2, "mpt3sas", "sas_host");
  add("sg3", at(2, 0, 9, 0), 13);
  add("sg4", at(2, 1, 0, 0));
  start();

  ASSERT_EQ(xpt.registrations().size(), 3U);
  const auto p0 = path(at(0, 0, 0, 0));
  const auto p3 = path(at(2, 0, 9, 0));
  const auto p4 = path(at(2, 1, 0, 0));
  EXPECT_EQ(path(at(0, 0, 0, 1)).bus, p0.bus);
  EXPECT_EQ(path(at(0, 0, 1, 0)), (cam::Path{p0.bus, 1, 0}));
  EXPECT_NE(p3.bus, p4.bus);

  const auto host0 = bus_of(p0)->path_inquiry();
  EXPECT_EQ(host0.sim_name, "sg");
  EXPECT_EQ(host0.unit, 0U);
  EXPECT_EQ(host0.bus, 0U);
  EXPECT_EQ(host0.max_target, 1U);
  EXPECT_EQ(host0.max_lun, 1U);
  EXPECT_EQ(host0.hba_vendor, "scsi_debug");
  EXPECT_EQ(host0.device_queue_depth, 16U);
  const auto host2 = bus_of(p3)->path_inquiry();
  EXPECT_EQ(host2.unit, 2U);
  EXPECT_EQ(host2.bus, 0U);
  EXPECT_EQ(host2.max_target, 9U);
  EXPECT_EQ(host2.transport, "SAS");
  EXPECT_EQ(host2.hba_vendor, "mpt3sas");
  EXPECT_EQ(bus_of(p4)->path_inquiry().bus, 1U);

  // An HBA's attach: a scan of each whole bus.
  std::vector<cam::Path> expected;
  for (auto id : xpt.registrations()) {
    expected.push_back({id, cam::Path::kWildcardTarget, cam::Path::kWildcardLun});
  }
  EXPECT_EQ(xpt.rescans(), expected);

  const auto devices = sim->devices();
  ASSERT_EQ(devices.size(), 5U);
  EXPECT_EQ(devices[0].entry.name, "sg0");
  EXPECT_EQ(devices[3].entry.name, "sg3");
  EXPECT_EQ(devices[3].entry.type, 13);
  EXPECT_EQ(devices[3].path, p3);
  EXPECT_EQ(sim->linux_address(p3), at(2, 0, 9, 0));
  EXPECT_EQ(sim->stats().open_devices, 5U);
  EXPECT_EQ(sim->stats().buses, 3U);
}

TEST_P(SgSimTest, OpensReadWriteNonBlockingAndNeverExclusive) {
  start();
  const auto flags = ops->open_flags();
  ASSERT_EQ(flags.size(), 3U);
  for (int f : flags) {
    EXPECT_EQ(f & O_ACCMODE, O_RDWR);
    EXPECT_NE(f & O_NONBLOCK, 0);
    EXPECT_EQ(f & O_EXCL, 0);
  }
}

TEST_P(SgSimTest, AFilterLimitsTheDevicesServed) {
  start({"sg2", "0:0:0:1"});
  const auto devices = sim->devices();
  ASSERT_EQ(devices.size(), 2U);
  EXPECT_EQ(devices[0].entry.name, "sg1");
  EXPECT_EQ(devices[1].entry.name, "sg2");
  EXPECT_EQ(ops->open_fds(), 2U);
}

TEST_P(SgSimTest, ACommandRoundTripsThroughTheKernelInterface) {
  start();
  cam::Ccb ccb;
  std::vector<std::uint8_t> data;
  ccb.path = path(at(0, 0, 1, 0));
  inquiry(ccb, data);
  ccb.timeout = std::chrono::milliseconds(1234);
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(ccb.resid, 96U - 36U);
  EXPECT_EQ(std::string(data.begin() + 16, data.begin() + 24), "DISK-sg2");
  const auto history = ops->history(sys.dev_path("sg2"));
  ASSERT_EQ(history.size(), 1U);
  EXPECT_EQ(history[0].cdb, (std::vector<std::uint8_t>{0x12, 0, 0, 0, 96, 0}));
  EXPECT_EQ(history[0].direction, SG_DXFER_FROM_DEV);
  EXPECT_EQ(history[0].dxfer_len, 96U);
  EXPECT_EQ(history[0].timeout_ms, 1234U);  // The kernel gets the CCB's timeout.
  EXPECT_EQ(ops->commands(sys.dev_path("sg0")), 0U);

  // Data-out reaches the device; a no-data command sends no buffer.
  std::vector<std::uint8_t> block(512);
  for (std::size_t i = 0; i < block.size(); ++i) {
    block[i] = static_cast<std::uint8_t>(i * 7);
  }
  cam::Ccb write;
  write.path = ccb.path;
  const std::uint8_t cdb[] = {0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0};
  write.set_cdb(cdb);
  write.dir = cam::DataDir::Out;
  write.data = block.data();
  write.dxfer_len = 512;
  run(write);
  EXPECT_EQ(write.status, CamStatus::ReqCmp);
  cam::Ccb tur;
  tur.path = ccb.path;
  const std::uint8_t tur_cdb[] = {0, 0, 0, 0, 0, 0};
  tur.set_cdb(tur_cdb);
  run(tur);
  EXPECT_EQ(tur.status, CamStatus::ReqCmp);
  const auto after = ops->history(sys.dev_path("sg2"));
  ASSERT_EQ(after.size(), 3U);
  EXPECT_EQ(after[1].direction, SG_DXFER_TO_DEV);
  EXPECT_EQ(after[1].data_out, block);
  EXPECT_EQ(after[2].direction, SG_DXFER_NONE);
  EXPECT_EQ(after[2].dxfer_len, 0U);
  EXPECT_EQ(sim->stats().submitted, 3U);
  EXPECT_EQ(sim->stats().completed, 3U);
  EXPECT_EQ(sim->stats().in_kernel, 0U);
}

TEST_P(SgSimTest, FailuresMapOntoCamStatuses) {
  start();
  const std::string node = sys.dev_path("sg0");
  struct Case {
    const char* what;
    FakeReply reply;
    CamStatus status;
  };
  FakeReply medium;
  medium.status = 0x02;
  medium.sense = {0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00, 0, 0, 0, 0};
  medium.resid = 512;
  FakeReply timeout;
  timeout.host_status = 0x03;
  FakeReply gone;
  gone.host_status = 0x01;
  FakeReply busy;
  busy.status = 0x08;
  FakeReply short_read;
  short_read.data_in.assign(100, 0xab);
  const Case cases[] = {
      {"medium error", medium, CamStatus::ScsiStatusError},
      {"DID_TIME_OUT", timeout, CamStatus::CmdTimeout},
      {"DID_NO_CONNECT", gone, CamStatus::DevNotThere},
      {"BUSY", busy, CamStatus::ScsiStatusError},
      {"short read", short_read, CamStatus::ReqCmp},
  };
  for (const auto& c : cases) {
    ops->add_node(node, [r = c.reply](const FakeCommand&) { return r; });
    cam::Ccb ccb;
    std::vector<std::uint8_t> data(1024, 0);
    ccb.path = path(at(0, 0, 0, 0));
    const std::uint8_t cdb[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0};
    ccb.set_cdb(cdb);
    ccb.dir = cam::DataDir::In;
    ccb.data = data.data();
    ccb.dxfer_len = 1024;
    run(ccb);
    EXPECT_EQ(ccb.status, c.status) << c.what;
    if (c.reply.status == 0x02) {
      EXPECT_EQ(ccb.scsi_status, cam::ScsiStatus::CheckCondition);
      EXPECT_NE(ccb.flags & cam::kCcbAutosenseValid, 0U);
      ASSERT_EQ(ccb.sense_len, 18U);
      EXPECT_EQ(ccb.sense_data[2], 0x03);
      EXPECT_EQ(ccb.sense_data[12], 0x11);
      EXPECT_EQ(ccb.resid, 512U);
    }
    if (c.reply.status == 0x08) {
      EXPECT_EQ(ccb.scsi_status, cam::ScsiStatus::Busy);
    }
    if (!c.reply.data_in.empty()) {
      EXPECT_EQ(ccb.resid, 1024U - 100U);
      EXPECT_EQ(data[99], 0xab);
      EXPECT_EQ(data[100], 0);
    }
  }
}

TEST_P(SgSimTest, WhatSysfsDoesNotListIsAnsweredWithoutTheKernel) {
  add("sg5", at(0, 0, 5, 1));  // Target 5 has LUN 1 but no LUN 0 node.
  start();
  const auto bus = path(at(0, 0, 0, 0)).bus;
  std::vector<std::uint8_t> data;

  cam::Ccb absent_target;
  absent_target.path = {bus, 3, 0};
  inquiry(absent_target, data);
  run(absent_target);
  EXPECT_EQ(absent_target.status, CamStatus::SelTimeout);

  cam::Ccb absent_lun;
  absent_lun.path = {bus, 1, 4};
  inquiry(absent_lun, data);
  run(absent_lun);
  EXPECT_EQ(absent_lun.status, CamStatus::DevNotThere);

  // LUN 0 of target 5: "no LU here" (qualifier 3), and REPORT LUNS lists LUN 1, so that the
  // XPT's target scan finds it.
  cam::Ccb lun0;
  lun0.path = {bus, 5, 0};
  inquiry(lun0, data);
  run(lun0);
  EXPECT_EQ(lun0.status, CamStatus::ReqCmp);
  EXPECT_EQ(data[0], 0x7f);
  cam::Ccb report;
  report.path = {bus, 5, 0};
  std::vector<std::uint8_t> luns(64, 0xee);
  const std::uint8_t cdb[] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
  report.set_cdb(cdb);
  report.dir = cam::DataDir::In;
  report.data = luns.data();
  report.dxfer_len = 64;
  run(report);
  EXPECT_EQ(report.status, CamStatus::ReqCmp);
  EXPECT_EQ(report.resid, 64U - 16U);
  EXPECT_EQ(luns[3], 8);  // LUN LIST LENGTH: one LUN.
  EXPECT_EQ(luns[9], 1);  // LUN 1, peripheral device addressing.
  cam::Ccb tur;
  tur.path = {bus, 5, 0};
  const std::uint8_t tur_cdb[] = {0, 0, 0, 0, 0, 0};
  tur.set_cdb(tur_cdb);
  run(tur);
  EXPECT_EQ(tur.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(tur.sense_data[12], 0x25);  // LOGICAL UNIT NOT SUPPORTED.
  for (const char* name : {"sg0", "sg1", "sg2", "sg5"}) {
    EXPECT_EQ(ops->commands(sys.dev_path(name)), 0U) << name;
  }
}

TEST_P(SgSimTest, ATransferAboveTheHostLimitIsRefusedBeforeTheKernel) {
  ops->set_max_bytes(sys.dev_path("sg0"), 4096);
  start();
  EXPECT_EQ(sim->devices()[0].max_transfer, 4096U);
  cam::Ccb ccb;
  std::vector<std::uint8_t> data(8192);
  ccb.path = path(at(0, 0, 0, 0));
  const std::uint8_t cdb[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 16, 0};
  ccb.set_cdb(cdb);
  ccb.dir = cam::DataDir::In;
  ccb.data = data.data();
  ccb.dxfer_len = 8192;
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::CcbLenErr);
  EXPECT_EQ(ops->commands(sys.dev_path("sg0")), 0U);
  ccb.dxfer_len = 4096;
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
}

TEST_P(SgSimTest, AbortAbandonsACommandAndItsLateReplyTouchesNothing) {
  ops->set_hold(sys.dev_path("sg0"), true);
  start();
  // The CCB and its buffer die right after the abort, as a submitter's would once the XPT
  // completed it: AddressSanitizer sees any late write into them.
  auto ccb = std::make_unique<cam::Ccb>();
  auto data = std::make_unique<std::vector<std::uint8_t>>();
  ccb->path = path(at(0, 0, 0, 0));
  inquiry(*ccb, *data);
  bus_of(ccb->path)->action(*ccb);
  ASSERT_TRUE(wait_until([&] { return ops->held(sys.dev_path("sg0")) == 1; }));
  EXPECT_EQ(sim->stats().in_kernel, 1U);

  EXPECT_TRUE(bus_of(ccb->path)->abort(*ccb));
  EXPECT_FALSE(bus_of(ccb->path)->abort(*ccb));  // Already forgotten.
  const auto done_before = xpt.total_done();
  ccb.reset();
  data.reset();
  EXPECT_EQ(sim->stats().abandoned, 1U);
  EXPECT_EQ(sim->stats().in_kernel, 1U);  // The kernel still has it.

  EXPECT_EQ(ops->release(sys.dev_path("sg0")), 1U);
  ASSERT_TRUE(wait_until([&] { return sim->stats().replies_dropped == 1; }));
  EXPECT_EQ(sim->stats().in_kernel, 0U);
  EXPECT_EQ(sim->stats().completed, 0U);
  EXPECT_EQ(xpt.total_done(), done_before);
}

TEST_P(SgSimTest, ACommandBeingCompletedCannotBeAborted) {
  start();
  cam::Ccb ccb;
  std::vector<std::uint8_t> data;
  ccb.path = path(at(0, 0, 0, 0));
  inquiry(ccb, data);
  run(ccb);
  EXPECT_FALSE(bus_of(ccb.path)->abort(ccb));  // Completed: the SIM holds nothing.
}

TEST_P(SgSimTest, WhenEverySlotIsInTheKernelNewCommandsGetResrcUnavail) {
  ops->set_hold(sys.dev_path("sg0"), true);
  start();
  std::vector<cam::Ccb> ccbs(SgDevice::kSlots + 1);
  std::vector<std::vector<std::uint8_t>> buffers(ccbs.size());
  for (std::size_t i = 0; i < ccbs.size(); ++i) {
    ccbs[i].path = path(at(0, 0, 0, 0));
    inquiry(ccbs[i], buffers[i]);
    bus_of(ccbs[i].path)->action(ccbs[i]);
  }
  ASSERT_TRUE(xpt.wait_done(ccbs.back()));
  EXPECT_EQ(ccbs.back().status, CamStatus::ResrcUnavail);
  EXPECT_EQ(ops->held(sys.dev_path("sg0")), SgDevice::kSlots);
  EXPECT_EQ(ops->release(sys.dev_path("sg0")), SgDevice::kSlots);
  for (std::size_t i = 0; i < SgDevice::kSlots; ++i) {
    ASSERT_TRUE(xpt.wait_done(ccbs[i]));
    EXPECT_EQ(ccbs[i].status, CamStatus::ReqCmp);
  }
}

TEST_P(SgSimTest, ENODEVOnSubmitCompletesDevNotThereAndRescans) {
  start();
  const auto before = sim->stats().rescans;
  // A detaching device: its write() fails with ENODEV, and so would a new open().
  ops->fail_submits(sys.dev_path("sg1"), ENODEV);
  ops->set_open_error(sys.dev_path("sg1"), ENODEV);
  cam::Ccb ccb;
  std::vector<std::uint8_t> data;
  ccb.path = path(at(0, 0, 0, 1));
  inquiry(ccb, data);
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  ASSERT_TRUE(wait_until([&] { return sim->stats().rescans > before; }));
  // sysfs still lists sg1, but it is detaching: it is no longer served, and not a problem.
  EXPECT_EQ(sim->devices().size(), 2U);
  EXPECT_TRUE(sim->problems().empty());
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
}

TEST_P(SgSimTest, EbusyOnSubmitIsRetriedLater) {
  start();
  ops->fail_submits(sys.dev_path("sg0"), EBUSY);
  cam::Ccb ccb;
  std::vector<std::uint8_t> data;
  ccb.path = path(at(0, 0, 0, 0));
  inquiry(ccb, data);
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::Busy);
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
}

TEST_P(SgSimTest, ADeletedDeviceDepartsAndItsHeldCommandsComplete) {
  ops->set_hold(sys.dev_path("sg1"), true);
  start();
  const auto gone_path = path(at(0, 0, 0, 1));
  cam::Ccb ccb;
  std::vector<std::uint8_t> data;
  ccb.path = gone_path;
  inquiry(ccb, data);
  bus_of(ccb.path)->action(ccb);
  ASSERT_TRUE(wait_until([&] { return ops->held(sys.dev_path("sg1")) == 1; }));
  xpt.clear_rescans();

  remove("sg1", at(0, 0, 0, 1));  // echo 1 > .../delete
  ASSERT_TRUE(xpt.wait_done(ccb));
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);  // DID_NO_CONNECT from the midlayer.
  // POLLHUP -> rescan -> the device is retired, the XPT asked to rescan its path, the
  // descriptor closed once the kernel holds nothing of it.
  ASSERT_TRUE(wait_until([&] { return sim->devices().size() == 2; }));
  ASSERT_TRUE(wait_until([&] {
    const auto r = xpt.rescans();
    return std::find(r.begin(), r.end(), gone_path) != r.end();
  }));
  ASSERT_TRUE(wait_until([&] { return ops->open_fds(sys.dev_path("sg1")) == 0; }));
  EXPECT_EQ(sim->stats().open_devices, 2U);
  EXPECT_FALSE(sim->path_of(at(0, 0, 0, 1)));
  run(ccb);
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  // The others still work.
  cam::Ccb other;
  other.path = path(at(0, 0, 0, 0));
  inquiry(other, data);
  run(other);
  EXPECT_EQ(other.status, CamStatus::ReqCmp);
}

TEST_P(SgSimTest, ARescanNoticesADetachingDeviceThatSysfsStillLists) {
  start();
  const auto gone = path(at(0, 0, 1, 0));
  xpt.clear_rescans();
  ops->detach(sys.dev_path("sg2"));  // The kernel detaches it; sysfs lags behind.
  ASSERT_TRUE(sim->rescan());        // The uevent's rescan.
  EXPECT_FALSE(sim->path_of(at(0, 0, 1, 0)));
  EXPECT_EQ(sim->devices().size(), 2U);
  const auto r = xpt.rescans();
  EXPECT_NE(std::find(r.begin(), r.end(), gone), r.end());
  ASSERT_TRUE(wait_until([&] { return ops->open_fds(sys.dev_path("sg2")) == 0; }));
}

TEST_P(SgSimTest, RepliesReadBySubmittersWakeThePollerOnlyWhenWatchedAlways) {
  start();
  const auto before = sim->stats();
  for (int i = 0; i < 50; ++i) {
    cam::Ccb ccb;
    std::vector<std::uint8_t> data;
    ccb.path = path(at(0, 0, 0, 0));
    inquiry(ccb, data);
    run(ccb);
    EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  }
  const auto after = sim->stats();
  EXPECT_EQ(after.completed - before.completed, 50U);
  if (GetParam() == DeviceWatch::WhileBusy) {
    // The fake answers inside write(): every reply is read by its submitter, and the idle
    // device was never armed, so the poller never woke for it.
    EXPECT_EQ(after.completed_inline - before.completed_inline, 50U);
    EXPECT_EQ(after.device_events, before.device_events);
  }
  // (Always: the poller wakes for each reply and may read some of them first.)
}

TEST_P(SgSimTest, ARescanFindsNewDevicesAndHostsAndForgetsHostsThatLeft) {
  start();
  const auto bus0 = path(at(0, 0, 0, 0)).bus;
  xpt.clear_rescans();
  add("sg3", at(0, 0, 7, 0));
  sys.add_host(4, "iscsi_tcp", "iscsi_host");
  add("sg4", at(4, 0, 0, 0), 8);
  ASSERT_TRUE(sim->rescan());

  ASSERT_EQ(sim->devices().size(), 5U);
  EXPECT_EQ(path(at(0, 0, 7, 0)), (cam::Path{bus0, 7, 0}));
  const auto bus4 = path(at(4, 0, 0, 0)).bus;
  EXPECT_EQ(bus_of(path(at(4, 0, 0, 0)))->path_inquiry().transport, "iSCSI");
  EXPECT_EQ(xpt.rescans(),
            (std::vector<cam::Path>{{bus4, cam::Path::kWildcardTarget, cam::Path::kWildcardLun},
                                    {bus0, 7, 0}}));

  // Nothing changed: nothing to rescan.
  xpt.clear_rescans();
  ASSERT_TRUE(sim->rescan());
  EXPECT_TRUE(xpt.rescans().empty());

  // host4 goes (its device first, as the kernel removes them): its bus is deregistered.
  remove("sg4", at(4, 0, 0, 0));
  sys.remove_host(4);
  ASSERT_TRUE(sim->rescan());
  EXPECT_EQ(xpt.deregistrations(), (std::vector<std::uint32_t>{bus4}));
  EXPECT_EQ(sim->stats().buses, 1U);
  EXPECT_EQ(sim->devices().size(), 4U);
}

TEST_P(SgSimTest, AnExclusivelyHeldDeviceIsLeftOutWithAClearError) {
  ops->set_open_error(sys.dev_path("sg1"), EBUSY);
  start();
  EXPECT_EQ(sim->devices().size(), 2U);
  const auto problems = sim->problems();
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].name, "sg1");
  EXPECT_EQ(problems[0].address, at(0, 0, 0, 1));
  EXPECT_EQ(problems[0].error.errno_value(), EBUSY);
  const auto message = problems[0].error.message();
  EXPECT_NE(message.find("sg1 (0:0:0:1)"), std::string::npos) << message;
  EXPECT_NE(message.find(sys.dev_path("sg1")), std::string::npos) << message;
  EXPECT_NE(message.find("O_EXCL"), std::string::npos) << message;

  // The other program lets go: the next rescan serves it.
  ops->set_open_error(sys.dev_path("sg1"), 0);
  ASSERT_TRUE(sim->rescan());
  EXPECT_EQ(sim->devices().size(), 3U);
  EXPECT_TRUE(sim->problems().empty());
}

TEST_P(SgSimTest, PermissionDeniedSaysWhatToDo) {
  ops->set_open_error(sys.dev_path("sg0"), EACCES);
  start();
  const auto problems = sim->problems();
  ASSERT_EQ(problems.size(), 1U);
  const auto message = problems[0].error.message();
  EXPECT_NE(message.find("permission denied"), std::string::npos) << message;
  EXPECT_NE(message.find("docs/hardware.md"), std::string::npos) << message;
}

TEST_P(SgSimTest, NoScsiGenericClassFailsCreation) {
  std::filesystem::remove_all(sys.sys() / "class" / "scsi_generic");
  SgOptions options;
  options.roots = sys.roots();
  options.ops = ops;
  options.uevents = UeventWatch::Off;
  auto created = SgSim::create(xpt, options);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().errno_value(), ENOENT);
  EXPECT_TRUE(xpt.registrations().empty());
}

TEST_P(SgSimTest, StopClosesEveryDescriptorAndDeregistersEveryBus) {
  start();
  const auto bus = path(at(0, 0, 0, 0)).bus;
  sim->stop();
  sim->stop();  // Idempotent.
  EXPECT_EQ(ops->open_fds(), 0U);
  EXPECT_EQ(xpt.deregistrations(), (std::vector<std::uint32_t>{bus}));
  EXPECT_FALSE(sim->rescan());
}

// Many submitters, completions and aborts at once: every CCB ends exactly once, either through
// done() or through an abort() that returned true. Run under TSan and ASan in CI.
TEST_P(SgSimTest, ConcurrentCommandsAndAbortsEndExactlyOnce) {
  start();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      const LinuxAddress targets[] = {at(0, 0, 0, 0), at(0, 0, 0, 1), at(0, 0, 1, 0)};
      for (int i = 0; i < kPerThread; ++i) {
        auto ccb = std::make_unique<cam::Ccb>();
        std::vector<std::uint8_t> data;
        ccb->path = path(targets[rng() % 3]);
        inquiry(*ccb, data);
        cam::Sim* bus = bus_of(ccb->path);
        bus->action(*ccb);
        if (rng() % 3 == 0 && bus->abort(*ccb)) {
          ++aborted;
          continue;  // The "XPT" completed it; the SIM must never touch it again.
        }
        ASSERT_TRUE(xpt.wait_done(*ccb));
        EXPECT_EQ(ccb->status, CamStatus::ReqCmp);
        EXPECT_EQ(xpt.done_count(*ccb), 1);
        xpt.forget(*ccb);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_TRUE(wait_until([&] { return sim->stats().in_kernel == 0; }));
  const auto s = sim->stats();
  EXPECT_EQ(s.abandoned, static_cast<std::uint64_t>(aborted.load()));
  EXPECT_EQ(s.replies_dropped, s.abandoned);
  EXPECT_EQ(s.completed + s.abandoned, static_cast<std::uint64_t>(kThreads * kPerThread));
}

std::string watch_name(const ::testing::TestParamInfo<DeviceWatch>& info) {
  return info.param == DeviceWatch::Always ? "Always" : "WhileBusy";
}
INSTANTIATE_TEST_SUITE_P(Watch, SgSimTest,
                         ::testing::Values(DeviceWatch::Always, DeviceWatch::WhileBusy),
                         watch_name);

}  // namespace
}  // namespace ucam::sg
