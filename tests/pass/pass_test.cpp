#include "periphs/pass/pass.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/errno_of.h"
#include "tests/pass/pass_stack.h"
#include "tests/wait.h"

namespace ucam::pass {
namespace {

using testing::FakeSim;
using testing::PassStack;
using testing::tur_command;

class PassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack.sim->add_lun(0, 0, 0, "DISK0");
    stack.sim->add_lun(1, 0, 3, "PROC");
    stack.start();
  }
  PassStack stack;
};

TEST_F(PassTest, AttachesToEveryDeviceWithANode) {
  EXPECT_EQ(stack.devfs->names(), (std::vector<std::string>{"pass0", "pass1"}));
  EXPECT_EQ(stack.periphs->names_for({stack.bus, 1, 0}), std::vector<std::string>{"pass1"});
}

TEST_F(PassTest, CommandReturnsStatusAndData) {
  auto h = stack.devfs->open("pass0");
  ASSERT_TRUE(h);
  PassCommand cmd;
  cmd.cdb = {0x12, 0, 0, 0, 36, 0};
  std::vector<std::uint8_t> buf(36);
  cmd.dir = cam::DataDir::In;
  cmd.data = buf;
  ASSERT_TRUE(h->ioctl(cmd));
  EXPECT_EQ(cmd.status, CamStatus::ReqCmp);
  EXPECT_EQ(cmd.resid, 0U);
  EXPECT_EQ(std::string(buf.begin() + 16, buf.begin() + 21), "DISK0");
}

TEST_F(PassTest, CheckConditionReturnsSenseWithoutRecovery) {
  auto h = stack.devfs->open("pass0");
  ASSERT_TRUE(h);
  stack.sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x06, 0x29, 0x00});
  auto cmd = tur_command();
  ASSERT_TRUE(h->ioctl(cmd));
  EXPECT_EQ(cmd.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(cmd.scsi_status, cam::ScsiStatus::CheckCondition);
  ASSERT_GE(cmd.sense.size(), 14U);
  EXPECT_EQ(cmd.sense[12], 0x29);
}

TEST_F(PassTest, RejectsBadRequests) {
  auto h = stack.devfs->open("pass0");
  ASSERT_TRUE(h);
  PassCommand empty;
  EXPECT_EQ(testing::errno_of(h->ioctl(empty)), EINVAL);
  auto in_without_buffer = tur_command();
  in_without_buffer.dir = cam::DataDir::In;
  EXPECT_EQ(testing::errno_of(h->ioctl(in_without_buffer)), EINVAL);
  struct Unknown : devfs::Ioctl {
    Unknown() : Ioctl(0xdead) {}
  } unknown;
  EXPECT_EQ(testing::errno_of(h->ioctl(unknown)), ENOTTY);
}

TEST_F(PassTest, OpenNeedsReadAndWrite) {
  auto h = stack.devfs->open("pass0", devfs::kOpenRead);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().errno_value(), EPERM);
}

TEST_F(PassTest, EachOpenHoldsOneReferenceAndEachCloseDropsIt) {
  auto ref = stack.periphs->acquire("pass0");
  ASSERT_TRUE(ref);
  const auto base = ref->refcount();
  {
    auto a = stack.devfs->open("pass0");
    auto b = stack.devfs->open("pass0");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(ref->refcount(), base + 2);
    ASSERT_TRUE(a->close());
    EXPECT_EQ(ref->refcount(), base + 1);
  }
  EXPECT_EQ(ref->refcount(), base);
}

TEST_F(PassTest, DepartureWhileOpenInvalidatesAndFreesAtLastClose) {
  auto h = stack.devfs->open("pass0");
  ASSERT_TRUE(h);
  stack.sim->remove_lun(0, 0);
  stack.rescan(0);
  stack.devfs->drain();
  // New opens fail; calls on the old handle fail with ENXIO; its close succeeds.
  auto again = stack.devfs->open("pass0");
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().errno_value() == ENXIO || again.error().errno_value() == ENOENT);
  auto cmd = tur_command();
  EXPECT_EQ(testing::errno_of(h->ioctl(cmd)), ENXIO);
  EXPECT_TRUE(h->close());
  EXPECT_EQ(stack.periphs->stats().live, 1U);  // Only pass1 remains.
  EXPECT_EQ(stack.periphs->stats().underflows, 0U);
  // It comes back as a new periph with the freed unit number.
  stack.sim->add_lun(0, 0, 0, "DISK0");
  stack.rescan(0);
  stack.devfs->drain();
  EXPECT_TRUE(stack.devfs->open("pass0"));
}

TEST_F(PassTest, CommandInFlightWhenDeviceDepartsIsAnswered) {
  auto h = stack.devfs->open("pass0");
  ASSERT_TRUE(h);
  stack.sim->script(0, 0, {FakeSim::Outcome::Park});
  auto cmd = tur_command();
  std::thread t([&] { ASSERT_TRUE(h->ioctl(cmd)); });
  ASSERT_TRUE(testing::wait_until([&] { return stack.sim->parked() == 1; }));
  stack.sim->remove_lun(0, 0);
  stack.rescan(0);
  t.join();
  EXPECT_EQ(cmd.status, CamStatus::DevNotThere);
  EXPECT_TRUE(h->close());
  stack.devfs->drain();
  EXPECT_EQ(stack.periphs->stats().live, 1U);
}

TEST(PassMaxio, TransferAboveTheBusLimitIsRefusedWithE2bigAndNotSent) {
  PassStack stack;
  stack.sim->set_maxio(512);
  stack.sim->add_lun(0, 0, 0, "DISK0");
  stack.start();
  auto h = stack.devfs->open("pass0");
  ASSERT_TRUE(h);
  PassGetDevice get;
  ASSERT_TRUE(h->ioctl(get));
  EXPECT_EQ(get.device.maxio, 512U);  // Reported to the user with the device.
  std::vector<std::uint8_t> buf(1024);
  PassCommand cmd;
  cmd.cdb = {0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0};
  cmd.dir = cam::DataDir::In;
  cmd.data = buf;
  const auto big = h->ioctl(cmd);
  EXPECT_EQ(testing::errno_of(big), E2BIG);
  if (!big) {
    EXPECT_NE(big.error().message().find("512"), std::string::npos) << big.error().message();
  }
  EXPECT_EQ(stack.sim->commands_seen(0x28), 0U);
  cmd.cdb[8] = 1;
  cmd.data = std::span<std::uint8_t>(buf).first(512);
  ASSERT_TRUE(h->ioctl(cmd));
  EXPECT_EQ(cmd.status, CamStatus::ReqCmp);
  EXPECT_EQ(stack.sim->commands_seen(0x28), 1U);
}

}  // namespace
}  // namespace ucam::pass
