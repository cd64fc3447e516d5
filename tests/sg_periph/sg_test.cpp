// The sg driver in the assembled stack, on emulated devices: SG_IO round trips and Linux's
// reporting of device and transport errors (faults injected in the emulator), the request
// checks and their errnos, and the informational ioctls.
#include "periphs/sg/sg.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <thread>

#include "scsi/sense.h"
#include "sims/emu/fault.h"
#include "stack/stack.h"
#include "tests/errno_of.h"
#include "tests/wait.h"

namespace ucam::sgp {
namespace {

std::unique_ptr<Stack> make_stack(const char* scenario_name) {
  auto scenario = load_scenario(scenario_name);
  EXPECT_TRUE(scenario.has_value());
  auto s = Stack::create_emulated(*scenario);
  EXPECT_TRUE(s.has_value());
  return std::move(*s);
}

SgIo tur() {
  SgIo io;
  io.request.cdb = {0x00, 0, 0, 0, 0, 0};
  io.request.mx_sb_len = 64;
  return io;
}

SgIo inquiry(std::span<std::uint8_t> buf) {
  SgIo io;
  io.request.cdb = {
      0x12, 0, 0, static_cast<std::uint8_t>(buf.size() >> 8), static_cast<std::uint8_t>(buf.size()),
      0};
  io.request.dxfer_direction = kDxferFromDev;
  io.request.data = buf;
  io.request.mx_sb_len = 64;
  return io;
}

class SgpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack = make_stack("builtin:minimal");
    auto h = stack->devfs().open("sg0");
    ASSERT_TRUE(h.has_value());
    handle = std::move(*h);
  }
  emu::Emulator& emulator() { return *stack->emulator(); }
  static constexpr emu::LunAddress kLun{0, 0, 0};

  std::unique_ptr<Stack> stack;
  devfs::FileHandle handle;
};

TEST_F(SgpTest, EveryDeviceHasAnSgNodeNumberedLikeItsPassNode) {
  EXPECT_EQ(stack->periphs().names_for({0, 0, 0}),
            (std::vector<std::string>{"pass0", "da0", "sg0"}));
  auto full = make_stack("builtin:default");
  std::size_t sg_nodes = 0;
  for (const auto& name : full->devfs().names()) {
    sg_nodes += name.starts_with("sg") ? 1 : 0;
  }
  EXPECT_EQ(sg_nodes, full->xpt().devices().size());
}

TEST_F(SgpTest, InquiryRoundTrip) {
  std::vector<std::uint8_t> buf(36);
  auto io = inquiry(buf);
  io.request.pack_id = 1234;
  ASSERT_TRUE(handle.ioctl(io).has_value());
  const auto& r = io.reply;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.masked_status, 0);
  EXPECT_EQ(r.host_status, 0);
  EXPECT_EQ(r.driver_status, kDriverOk);
  EXPECT_EQ(r.info, kInfoOk);
  EXPECT_EQ(r.resid, 0);
  EXPECT_EQ(r.sb_len_wr, 0);
  EXPECT_EQ(r.pack_id, 1234);
  const auto info = stack->xpt().device({0, 0, 0});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(std::vector<std::uint8_t>(buf.begin(), buf.end()),
            std::vector<std::uint8_t>(info->inquiry_data.begin(), info->inquiry_data.begin() + 36));
}

TEST_F(SgpTest, ShortTransferReportsResid) {
  std::vector<std::uint8_t> buf(255);
  auto io = inquiry(buf);
  ASSERT_TRUE(handle.ioctl(io).has_value());
  const int returned = buf[4] + 5;  // ADDITIONAL LENGTH + 5.
  ASSERT_LT(returned, 255);
  EXPECT_EQ(io.reply.resid, 255 - returned);
  EXPECT_EQ(io.reply.info, kInfoOk);  // A short transfer is not an error.
}

TEST_F(SgpTest, CheckConditionIsASuccessfulCallWithSense) {
  ASSERT_TRUE(emulator().inject(kLun, emu::Fault::check_condition({0x05, 0x24, 0x00})));
  auto io = tur();
  ASSERT_TRUE(handle.ioctl(io).has_value());
  const auto& r = io.reply;
  EXPECT_EQ(r.status, 0x02);
  EXPECT_EQ(r.masked_status, 0x01);
  EXPECT_EQ(r.host_status, 0);
  EXPECT_EQ(r.driver_status, kDriverSense);
  EXPECT_EQ(r.info & kInfoCheck, kInfoCheck);
  ASSERT_GE(r.sb_len_wr, 8);
  ASSERT_EQ(r.sense.size(), r.sb_len_wr);
  EXPECT_EQ(r.sb_len_wr, 8 + r.sense[7]);
  const auto sense = scsi::parse_sense(r.sense);
  ASSERT_TRUE(sense.has_value());
  EXPECT_EQ(sense->code(), (SenseCode{0x05, 0x24, 0x00}));
  // The next command is fine: the fault was used up, nothing was retried.
  auto again = tur();
  ASSERT_TRUE(handle.ioctl(again).has_value());
  EXPECT_EQ(again.reply.info, kInfoOk);
}

TEST_F(SgpTest, SenseIsCutToMxSbLen) {
  ASSERT_TRUE(emulator().inject(kLun, emu::Fault::check_condition({0x03, 0x11, 0x00})));
  auto io = tur();
  io.request.mx_sb_len = 4;
  ASSERT_TRUE(handle.ioctl(io).has_value());
  EXPECT_EQ(io.reply.sb_len_wr, 4);
  EXPECT_EQ(io.reply.sense.size(), 4U);
  EXPECT_EQ(io.reply.driver_status, kDriverSense);
}

TEST_F(SgpTest, UnitAttentionReachesTheCaller) {
  ASSERT_TRUE(emulator().set_unit_attention(kLun, scsi::kPowerOnReset));
  auto io = tur();
  ASSERT_TRUE(handle.ioctl(io).has_value());
  EXPECT_EQ(io.reply.status, 0x02);
  const auto sense = scsi::parse_sense(io.reply.sense);
  ASSERT_TRUE(sense.has_value());
  EXPECT_EQ(sense->code(), scsi::kPowerOnReset);
}

TEST_F(SgpTest, CommandTimeoutIsDidTimeOut) {
  // The device never answers; the XPT's timer takes the command back at the SG_IO timeout.
  ASSERT_TRUE(emulator().inject(kLun, emu::Fault::hang(1, 0x00)));
  auto io = tur();
  io.request.timeout_ms = 50;
  ASSERT_TRUE(handle.ioctl(io).has_value());
  EXPECT_EQ(io.reply.host_status, static_cast<std::uint16_t>(HostStatus::TimeOut));
  EXPECT_EQ(io.reply.driver_status, kDriverOk);
  EXPECT_EQ(io.reply.status, 0);
  EXPECT_EQ(io.reply.info, kInfoCheck);
  EXPECT_GE(io.reply.duration_ms, 50U);  // It ran at least until its deadline.
  EXPECT_EQ(stack->xpt().stats().ccbs_outstanding, 0U);
}

struct TransportRow {
  CamStatus cam;
  HostStatus host;
};

class SgpTransportTest : public SgpTest, public ::testing::WithParamInterface<TransportRow> {};

TEST_P(SgpTransportTest, TransportErrorIsASuccessfulCallWithHostStatus) {
  ASSERT_TRUE(emulator().inject(kLun, emu::Fault::transport_error(GetParam().cam)));
  std::vector<std::uint8_t> buf(36);
  auto io = inquiry(buf);
  ASSERT_TRUE(handle.ioctl(io).has_value());
  EXPECT_EQ(io.reply.host_status, static_cast<std::uint16_t>(GetParam().host));
  EXPECT_EQ(io.reply.status, 0);
  EXPECT_EQ(io.reply.driver_status, kDriverOk);
  EXPECT_EQ(io.reply.info, kInfoCheck);
  EXPECT_EQ(io.reply.resid, 36);
}

INSTANTIATE_TEST_SUITE_P(
    Emulated, SgpTransportTest,
    ::testing::Values(TransportRow{CamStatus::CmdTimeout, HostStatus::TimeOut},
                      TransportRow{CamStatus::SelTimeout, HostStatus::BadTarget},
                      TransportRow{CamStatus::ReqAborted, HostStatus::Abort},
                      TransportRow{CamStatus::ScsiBusReset, HostStatus::Reset},
                      TransportRow{CamStatus::Requeue, HostStatus::Requeue},
                      TransportRow{CamStatus::UnexpBusfree, HostStatus::Error}));

TEST_F(SgpTest, BusyStatusIsReturned) {
  ASSERT_TRUE(emulator().inject(kLun, emu::Fault::status(cam::ScsiStatus::Busy)));
  auto io = tur();
  ASSERT_TRUE(handle.ioctl(io).has_value());
  EXPECT_EQ(io.reply.status, 0x08);
  EXPECT_EQ(io.reply.masked_status, 0x04);
  EXPECT_EQ(io.reply.host_status, 0);
  EXPECT_EQ(io.reply.info, kInfoCheck);
}

TEST_F(SgpTest, DataOutReachesTheDevice) {
  std::vector<std::uint8_t> out(512), in(512);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(i * 13 + 1);
  }
  SgIo write;
  write.request.cdb = {0x2a, 0, 0, 0, 0, 7, 0, 0, 1, 0};  // WRITE(10) LBA 7, 1 block.
  write.request.dxfer_direction = kDxferToDev;
  write.request.data = out;
  ASSERT_TRUE(handle.ioctl(write).has_value());
  EXPECT_EQ(write.reply.info, kInfoOk);
  SgIo read;
  read.request.cdb = {0x28, 0, 0, 0, 0, 7, 0, 0, 1, 0};
  read.request.dxfer_direction = kDxferFromDev;
  read.request.data = in;
  ASSERT_TRUE(handle.ioctl(read).has_value());
  EXPECT_EQ(read.reply.info, kInfoOk);
  EXPECT_EQ(in, out);
}

TEST_F(SgpTest, InvalidRequestsGetLinuxsErrnoAndAreNotSent) {
  const auto started = stack->xpt().stats().ccbs_started;
  std::vector<std::uint8_t> buf(64);

  auto bad_id = tur();
  bad_id.request.interface_id = 'Q';
  EXPECT_EQ(testing::errno_of(handle.ioctl(bad_id)), ENOSYS);

  for (std::size_t len : {0U, 1U, 5U, 33U, 260U}) {
    auto io = tur();
    io.request.cdb.assign(len, 0);
    EXPECT_EQ(testing::errno_of(handle.ioctl(io)), EMSGSIZE) << len << "-byte CDB";
  }

  auto bad_dir = tur();
  bad_dir.request.dxfer_direction = -7;
  EXPECT_EQ(testing::errno_of(handle.ioctl(bad_dir)), EINVAL);
  auto none_with_data = tur();
  none_with_data.request.data = buf;
  EXPECT_EQ(testing::errno_of(handle.ioctl(none_with_data)), EINVAL);
  // mmap-ed IO larger than the reserved buffer.
  SgSetReservedSize small;
  small.value = 4096;
  ASSERT_TRUE(handle.ioctl(small).has_value());
  std::vector<std::uint8_t> big(8192);
  auto mmap_io = inquiry(big);
  mmap_io.request.flags = kFlagMmapIo;
  EXPECT_EQ(testing::errno_of(handle.ioctl(mmap_io)), ENOMEM);

  struct Unknown : devfs::Ioctl {
    Unknown() : Ioctl(0x2284) {}  // SG_SCSI_RESET: not implemented.
  } unknown;
  EXPECT_EQ(testing::errno_of(handle.ioctl(unknown)), ENOTTY);

  EXPECT_EQ(stack->xpt().stats().ccbs_started, started) << "a refused request was sent";

  // Accepted: every direction with no buffer (no data phase; mtx sends MOVE MEDIUM as TO_DEV
  // with no buffer, as Linux allows), and a 16- and 32-byte CDB.
  for (int dir : {kDxferFromDev, kDxferUnknown, kDxferToDev, kDxferToFromDev}) {
    auto io = tur();
    io.request.dxfer_direction = dir;
    ASSERT_TRUE(handle.ioctl(io).has_value()) << dir;
    EXPECT_EQ(io.reply.info, kInfoOk);
  }
  for (std::size_t len : {16U, 32U}) {
    auto io = tur();
    io.request.cdb.assign(len, 0);
    io.request.cdb[0] = 0x9e;  // SERVICE ACTION IN(16): whatever the device says, it is sent.
    EXPECT_TRUE(handle.ioctl(io).has_value()) << len;
  }
}

TEST_F(SgpTest, ScsiIdDescribesTheDevice) {
  SgGetScsiId get;
  ASSERT_TRUE(handle.ioctl(get).has_value());
  const auto info = stack->xpt().device({0, 0, 0});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(get.id.host_no, static_cast<int>(info->path.bus));
  EXPECT_EQ(get.id.channel, static_cast<int>(info->sim_bus));
  EXPECT_EQ(get.id.scsi_id, 0);
  EXPECT_EQ(get.id.lun, 0);
  EXPECT_EQ(get.id.scsi_type, 0);       // Direct access.
  EXPECT_EQ(get.id.h_cmd_per_lun, 64);  // The emulated bus's queue depth.
  EXPECT_EQ(get.id.d_queue_depth, 64);

  ScsiGetIdlun idlun;
  ASSERT_TRUE(handle.ioctl(idlun).has_value());
  EXPECT_EQ(idlun.dev_id, info->path.bus << 24);
  ScsiGetBusNumber bus;
  ASSERT_TRUE(handle.ioctl(bus).has_value());
  EXPECT_EQ(bus.value, static_cast<int>(info->path.bus));
}

TEST(SgpScsiId, TypesAndTargetsOfTheDefaultScenario) {
  auto stack = make_stack("builtin:default");
  for (const auto& d : stack->xpt().devices()) {
    std::string sg;
    for (const auto& n : stack->periphs().names_for(d.path)) {
      if (n.starts_with("sg")) {
        sg = n;
      }
    }
    ASSERT_FALSE(sg.empty()) << cam::to_string(d.path);
    auto h = stack->devfs().open(sg, devfs::kOpenRead);
    ASSERT_TRUE(h.has_value());
    SgGetScsiId get;
    ASSERT_TRUE(h->ioctl(get).has_value());
    EXPECT_EQ(get.id.scsi_type, d.device_type) << sg;
    EXPECT_EQ(get.id.scsi_id, static_cast<int>(d.path.target)) << sg;
    EXPECT_EQ(static_cast<std::uint64_t>(get.id.lun), linux_lun(d.path.lun)) << sg;
    EXPECT_EQ(get.id.host_no, static_cast<int>(d.path.bus)) << sg;
  }
}

TEST_F(SgpTest, VersionTimeoutAndReservedSizeAreLinuxs) {
  SgGetVersionNum version;
  ASSERT_TRUE(handle.ioctl(version).has_value());
  EXPECT_EQ(version.value, 30536);

  SgGetTimeout timeout;
  ASSERT_TRUE(handle.ioctl(timeout).has_value());
  EXPECT_EQ(timeout.value, 6000);  // 60 s in USER_HZ.
  SgSetTimeout set;
  set.value = 250;
  ASSERT_TRUE(handle.ioctl(set).has_value());
  ASSERT_TRUE(handle.ioctl(timeout).has_value());
  EXPECT_EQ(timeout.value, 250);
  set.value = -1;
  EXPECT_EQ(testing::errno_of(handle.ioctl(set)), EIO);

  SgGetReservedSize reserved;
  ASSERT_TRUE(handle.ioctl(reserved).has_value());
  EXPECT_EQ(reserved.value, 32768);
  SgSetReservedSize resize;
  for (const auto& [asked, got] :
       std::vector<std::pair<int, int>>{{0, 4096}, {1000, 4096}, {5000, 5120}, {65536, 65536}}) {
    resize.value = asked;
    ASSERT_TRUE(handle.ioctl(resize).has_value());
    ASSERT_TRUE(handle.ioctl(reserved).has_value());
    EXPECT_EQ(reserved.value, got) << asked;
  }
  resize.value = -1;
  EXPECT_EQ(testing::errno_of(handle.ioctl(resize)), EINVAL);

  // Settings belong to the open, as Linux's per-fd state.
  auto other = stack->devfs().open("sg0");
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(other->ioctl(timeout).has_value());
  EXPECT_EQ(timeout.value, 6000);
  ASSERT_TRUE(other->ioctl(reserved).has_value());
  EXPECT_EQ(reserved.value, 32768);

  SgEmulatedHost emulated;
  emulated.value = 7;
  ASSERT_TRUE(handle.ioctl(emulated).has_value());
  EXPECT_EQ(emulated.value, 0);
  SgGetSgTablesize tablesize;
  tablesize.value = 7;
  ASSERT_TRUE(handle.ioctl(tablesize).has_value());
  EXPECT_EQ(tablesize.value, 0);
}

TEST_F(SgpTest, DepartureRefusesNewOpensAndCallsThroughOldHandles) {
  ASSERT_TRUE(emulator().remove_lun(kLun).has_value());
  stack->settle();
  auto again = stack->devfs().open("sg0");
  ASSERT_FALSE(again.has_value());
  EXPECT_TRUE(again.error().errno_value() == ENXIO || again.error().errno_value() == ENOENT);
  auto io = tur();
  EXPECT_EQ(testing::errno_of(handle.ioctl(io)), ENXIO);
  SgGetVersionNum version;
  EXPECT_EQ(testing::errno_of(handle.ioctl(version)), ENXIO);
  EXPECT_TRUE(handle.close().has_value());
  stack->settle();
  EXPECT_EQ(stack->periphs().stats().underflows, 0U);
  EXPECT_TRUE(stack->periphs().names_for({0, 0, 0}).empty());
  ASSERT_TRUE(emulator().insert_lun(kLun).has_value());
  stack->settle();
  auto back = stack->devfs().open("sg0");
  ASSERT_TRUE(back.has_value());
  auto tur_back = tur();
  ASSERT_TRUE(back->ioctl(tur_back).has_value());
  EXPECT_EQ(tur_back.reply.info, kInfoOk);
}

TEST_F(SgpTest, HeldCommandOfADepartingDeviceIsAnsweredNoConnect) {
  ASSERT_TRUE(emulator().inject(kLun, emu::Fault::hang(1, 0x00)));
  auto io = tur();
  io.request.timeout_ms = 60'000;
  Result<void> result;
  std::thread t([&] { result = handle.ioctl(io); });
  // Wait for the command to be held, then pull the LUN.
  ASSERT_TRUE(testing::wait_until([&] { return emulator().held_commands() == 1; }));
  ASSERT_TRUE(emulator().remove_lun(kLun).has_value());
  t.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(io.reply.host_status, static_cast<std::uint16_t>(HostStatus::NoConnect));
}

}  // namespace
}  // namespace ucam::sgp
