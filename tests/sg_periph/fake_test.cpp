// The sg driver against the fake SIM: node lifecycle (references, departure), the bus's maxio,
// and commands the SIM holds when the device leaves.
#include <gtest/gtest.h>

#include <cerrno>
#include <thread>

#include "periphs/sg/sg.h"
#include "tests/errno_of.h"
#include "tests/sg_periph/sg_fake_stack.h"
#include "tests/wait.h"

namespace ucam::sgp {
namespace {

using testing::FakeSim;
using testing::sg_tur;
using testing::SgFakeStack;

class SgpFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack.sim->add_lun(0, 0, 0, "DISK0");
    stack.sim->add_lun(1, 0, 8, "CHANGER");
    stack.start();
  }
  SgFakeStack stack;
};

TEST_F(SgpFakeTest, AttachesToEveryDeviceNumberedLikePass) {
  EXPECT_EQ(stack.devfs->names(),
            (std::vector<std::string>{"pass0", "pass1", "sg0", "sg1"}));
  EXPECT_EQ(stack.periphs->names_for({stack.bus, 1, 0}),
            (std::vector<std::string>{"pass1", "sg1"}));
}

TEST_F(SgpFakeTest, OpensInAnyModeAndManyAtOnce) {
  auto ref = stack.periphs->acquire("sg0");
  ASSERT_TRUE(ref);
  const auto base = ref->refcount();
  {
    auto ro = stack.devfs->open("sg0", devfs::kOpenRead);  // sg_inq opens read-only.
    auto wo = stack.devfs->open("sg0", devfs::kOpenWrite);
    auto rw = stack.devfs->open("sg0");
    ASSERT_TRUE(ro && wo && rw);
    EXPECT_EQ(ref->refcount(), base + 3);
    auto io = sg_tur();
    ASSERT_TRUE(ro->ioctl(io));
    EXPECT_EQ(io.reply.host_status, 0);
    SgGetAccessCount count;
    ASSERT_TRUE(rw->ioctl(count));
    EXPECT_EQ(count.value, 3);
    ASSERT_TRUE(wo->close());
    EXPECT_EQ(ref->refcount(), base + 2);
  }
  EXPECT_EQ(ref->refcount(), base);
}

TEST_F(SgpFakeTest, UnitAttentionAndBusyAreReturnedNotRetried) {
  auto h = stack.devfs->open("sg0");
  ASSERT_TRUE(h);
  stack.sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x06, 0x29, 0x00});
  stack.sim->script(0, 0, {FakeSim::Outcome::Busy});
  const auto before = stack.sim->commands_seen(0x00);
  auto ua = sg_tur();
  ASSERT_TRUE(h->ioctl(ua));
  EXPECT_EQ(ua.reply.status, 0x02);
  EXPECT_EQ(ua.reply.driver_status, kDriverSense);
  ASSERT_GE(ua.reply.sense.size(), 14U);
  EXPECT_EQ(ua.reply.sense[2] & 0x0f, 0x06);
  EXPECT_EQ(ua.reply.sense[12], 0x29);
  auto busy = sg_tur();
  ASSERT_TRUE(h->ioctl(busy));
  EXPECT_EQ(busy.reply.status, 0x08);
  EXPECT_EQ(busy.reply.masked_status, 0x04);
  EXPECT_EQ(busy.reply.host_status, 0);
  EXPECT_EQ(busy.reply.driver_status, kDriverOk);
  EXPECT_EQ(busy.reply.info, kInfoCheck);
  EXPECT_EQ(stack.sim->commands_seen(0x00), before + 2) << "a command was retried";
}

TEST_F(SgpFakeTest, SelectionTimeoutIsBadTarget) {
  auto h = stack.devfs->open("sg0");
  ASSERT_TRUE(h);
  stack.sim->script(0, 0, {FakeSim::Outcome::SelTimeout});
  auto io = sg_tur();
  ASSERT_TRUE(h->ioctl(io));
  EXPECT_EQ(io.reply.host_status, static_cast<std::uint16_t>(HostStatus::BadTarget));
  EXPECT_EQ(io.reply.info, kInfoCheck);
}

TEST_F(SgpFakeTest, DepartureInvalidatesAndTheOldHandleGetsEnxio) {
  auto h = stack.devfs->open("sg0");
  ASSERT_TRUE(h);
  stack.sim->remove_lun(0, 0);
  stack.rescan(0);
  stack.devfs->drain();
  auto again = stack.devfs->open("sg0");
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().errno_value() == ENXIO || again.error().errno_value() == ENOENT);
  auto io = sg_tur();
  EXPECT_EQ(testing::errno_of(h->ioctl(io)), ENXIO);
  SgGetScsiId id;
  EXPECT_EQ(testing::errno_of(h->ioctl(id)), ENXIO);
  EXPECT_TRUE(h->close());
  EXPECT_EQ(stack.periphs->stats().live, 2U);  // pass1 and sg1.
  EXPECT_EQ(stack.periphs->stats().underflows, 0U);
  // The device returns: sg0 again (the freed unit number).
  stack.sim->add_lun(0, 0, 0, "DISK0");
  stack.rescan(0);
  stack.devfs->drain();
  auto back = stack.devfs->open("sg0");
  ASSERT_TRUE(back);
  auto tur = sg_tur();
  ASSERT_TRUE(back->ioctl(tur));
  EXPECT_EQ(tur.reply.info, kInfoOk);
}

TEST_F(SgpFakeTest, CommandInFlightWhenTheDeviceDepartsIsAnsweredNoConnect) {
  auto h = stack.devfs->open("sg0");
  ASSERT_TRUE(h);
  stack.sim->script(0, 0, {FakeSim::Outcome::Park});
  auto io = sg_tur();
  io.request.timeout_ms = 60'000;
  Result<void> result;
  std::thread t([&] { result = h->ioctl(io); });
  ASSERT_TRUE(testing::wait_until([&] { return stack.sim->parked() == 1; }));
  stack.sim->remove_lun(0, 0);
  stack.rescan(0);
  t.join();
  ASSERT_TRUE(result);  // Answered, as a successful call: Linux's DID_NO_CONNECT.
  EXPECT_EQ(io.reply.host_status, static_cast<std::uint16_t>(HostStatus::NoConnect));
  EXPECT_EQ(io.reply.info, kInfoCheck);
  EXPECT_TRUE(h->close());
  stack.devfs->drain();
  EXPECT_EQ(stack.periphs->stats().live, 2U);
  EXPECT_EQ(stack.periphs->stats().underflows, 0U);
}

TEST(SgpMaxio, TransferAboveTheBusLimitIsEnomemAndNotSent) {
  SgFakeStack stack;
  stack.sim->set_maxio(8192);
  stack.sim->add_lun(0, 0, 0, "DISK0");
  stack.start();
  auto h = stack.devfs->open("sg0");
  ASSERT_TRUE(h);
  // The reserved size defaults to 32 KiB, capped at maxio.
  SgGetReservedSize reserved;
  ASSERT_TRUE(h->ioctl(reserved));
  EXPECT_EQ(reserved.value, 8192);
  SgSetReservedSize set;
  set.value = 1 << 20;
  ASSERT_TRUE(h->ioctl(set));
  ASSERT_TRUE(h->ioctl(reserved));
  EXPECT_EQ(reserved.value, 8192);

  std::vector<std::uint8_t> buf(16384);
  SgIo io;
  io.request.cdb = {0x28, 0, 0, 0, 0, 0, 0, 0, 32, 0};
  io.request.dxfer_direction = kDxferFromDev;
  io.request.data = buf;
  EXPECT_EQ(testing::errno_of(h->ioctl(io)), ENOMEM);
  EXPECT_EQ(stack.sim->commands_seen(0x28), 0U);
  io.request.cdb[8] = 16;
  io.request.data = std::span<std::uint8_t>(buf).first(8192);
  ASSERT_TRUE(h->ioctl(io));
  EXPECT_EQ(io.reply.info, kInfoOk);
  EXPECT_EQ(stack.sim->commands_seen(0x28), 1U);
}

}  // namespace
}  // namespace ucam::sgp
