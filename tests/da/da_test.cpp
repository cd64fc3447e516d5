// The da driver on the emulated SIM: which devices it takes, geometry, block I/O, bounds, and
// the node's lifecycle when the disk departs.
#include "periphs/da/da.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <thread>

#include "periphs/pass/pass.h"
#include "stack/stack.h"
#include "tests/errno_of.h"
#include "tests/wait.h"

namespace ucam::da {
namespace {

std::unique_ptr<Stack> default_stack() {
  auto scenario = load_scenario("builtin:default");
  EXPECT_TRUE(scenario.has_value());
  auto s = Stack::create_emulated(*scenario);
  EXPECT_TRUE(s.has_value());
  return std::move(*s);
}

TEST(DaDriver, AttachesToDisksOnlyWithFreeBsdNames) {
  auto stack = default_stack();
  // Ten direct-access LUNs in builtin:default; the processor and the SES device get none.
  int disks = 0;
  for (const auto& d : stack->xpt().devices()) {
    const auto names = stack->periphs().names_for(d.path);
    const bool has_da = std::any_of(names.begin(), names.end(),
                                    [](const std::string& n) { return n.starts_with("da"); });
    EXPECT_EQ(has_da, d.device_type == 0) << cam::to_string(d.path);
    disks += has_da ? 1 : 0;
  }
  EXPECT_EQ(disks, 10);
  EXPECT_EQ(stack->periphs().names_for({0, 0, 0}), (std::vector<std::string>{"pass0", "da0", "sg0"}));
  EXPECT_EQ(*stack->resolve_pass("da3"), "pass3");
  EXPECT_EQ(*stack->resolve_pass("/dev/da0"), "pass0");
  EXPECT_EQ(*stack->resolve_pass("ses0"), "pass11");
}

TEST(DaDriver, GeometryComesFromReadCapacity) {
  auto stack = default_stack();
  auto h = stack->devfs().open("da0");
  ASSERT_TRUE(h.has_value());
  DaGetGeometry g;
  ASSERT_TRUE(h->ioctl(g).has_value());
  EXPECT_EQ(g.block_length, 512U);
  EXPECT_EQ(g.block_count * g.block_length, 4000787030016ULL);  // The scenario's 4 TB disk.
}

TEST(DaDriver, WrittenBlocksReadBack) {
  auto stack = default_stack();
  auto h = stack->devfs().open("da1");
  ASSERT_TRUE(h.has_value());
  std::vector<std::uint8_t> out(1024), in(1024);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  DaIo write(DaIo::kWrite);
  write.lba = 1000;
  write.blocks = 2;
  write.data = out;
  ASSERT_TRUE(h->ioctl(write).has_value());
  DaIo read(DaIo::kRead);
  read.lba = 1000;
  read.blocks = 2;
  read.data = in;
  ASSERT_TRUE(h->ioctl(read).has_value());
  EXPECT_EQ(in, out);
}

TEST(DaDriver, OutOfRangeAndShortBuffersAreRefused) {
  auto stack = default_stack();
  auto h = stack->devfs().open("da0");
  ASSERT_TRUE(h.has_value());
  DaGetGeometry g;
  ASSERT_TRUE(h->ioctl(g).has_value());
  std::vector<std::uint8_t> buf(1024);
  DaIo past(DaIo::kRead);
  past.lba = g.block_count - 1;
  past.blocks = 2;
  past.data = buf;
  EXPECT_EQ(testing::errno_of(h->ioctl(past)), EINVAL);
  DaIo zero(DaIo::kRead);
  zero.blocks = 0;
  EXPECT_EQ(testing::errno_of(h->ioctl(zero)), EINVAL);
  DaIo short_buffer(DaIo::kRead);
  short_buffer.blocks = 4;
  short_buffer.data = buf;  // 1024 bytes for 2048.
  EXPECT_EQ(testing::errno_of(h->ioctl(short_buffer)), EINVAL);
  pass::PassCommand raw;  // Raw CDBs are the pass node's.
  EXPECT_EQ(testing::errno_of(h->ioctl(raw)), ENOTTY);
}

TEST(DaDriver, DepartedDiskFailsWithEnxioAndCloseStillReleases) {
  auto stack = default_stack();
  auto h = stack->devfs().open("da3");
  ASSERT_TRUE(h.has_value());
  const auto opens = stack->devfs().stats().opens;
  ASSERT_TRUE(stack->emulator()->remove_lun({0, 3, 0}).has_value());
  stack->settle();
  DaGetGeometry g;
  EXPECT_EQ(testing::errno_of(h->ioctl(g)), ENXIO);
  EXPECT_EQ(testing::errno_of(stack->devfs().open("da3")), ENOENT);
  h->close();
  EXPECT_EQ(stack->devfs().stats().opens, opens - 1);
  // The disk comes back under a new name; nothing of the old periph is left.
  ASSERT_TRUE(stack->emulator()->insert_lun({0, 3, 0}).has_value());
  stack->settle();
  const auto names = stack->periphs().names_for({0, 3, 0});
  ASSERT_EQ(names.size(), 3U);  // pass, da, sg.
  EXPECT_TRUE(names[1].starts_with("da"));
  EXPECT_EQ(stack->periphs().stats().underflows, 0U);
}

TEST(DaDriver, HungIoIsAbortedThroughItsCancelToken) {
  auto stack = default_stack();
  auto h = stack->devfs().open("da2");
  ASSERT_TRUE(h.has_value());
  emu::Fault hang;
  hang.action = emu::Fault::Action::Hang;
  hang.count = emu::Fault::kEveryCommand;
  ASSERT_TRUE(stack->emulator()->inject({0, 2, 0}, hang).has_value());
  for (const auto code : {DaIo::kRead, DaIo::kWrite}) {
    cam::CancelToken token;
    std::vector<std::uint8_t> buf(4096);
    DaIo io(code);
    io.lba = 8;
    io.blocks = 1;
    io.data = buf;
    io.cancel = &token;  // The command's own timeout (60 s) is far away.
    Result<void> result;
    std::thread waiter([&] { result = h->ioctl(io); });
    ASSERT_TRUE(testing::wait_until([&] { return stack->xpt().stats().ccbs_outstanding == 1; }));
    token.cancel();
    waiter.join();
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().cam_status(), CamStatus::ReqAborted) << result.error().message();
    // A cancelled token refuses the next command at once, without sending it.
    const auto started = stack->xpt().stats().ccbs_started;
    EXPECT_FALSE(h->ioctl(io).has_value());
    EXPECT_EQ(stack->xpt().stats().ccbs_started, started);
  }
  ASSERT_TRUE(stack->emulator()->clear_faults({0, 2, 0}).has_value());
  cam::CancelToken fresh;
  std::vector<std::uint8_t> buf(4096);
  DaIo io(DaIo::kRead);
  io.blocks = 1;
  io.data = buf;
  io.cancel = &fresh;
  EXPECT_TRUE(h->ioctl(io).has_value());
}

}  // namespace
}  // namespace ucam::da
