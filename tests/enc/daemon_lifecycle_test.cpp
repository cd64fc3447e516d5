// The enclosure daemon's thread is owned: it starts only once the node exists, is joined when
// its periph is destroyed, and a failed attach leaves no thread and no periph behind. The
// enclosure here is a fake SES LUN that answers no diagnostic page: the daemon's reads fail,
// which is all its lifecycle needs.
#include <gtest/gtest.h>

#include "periphs/enc/enc.h"
#include "tests/pass/pass_stack.h"
#include "tests/wait.h"

namespace ucam::enc {
namespace {

using ucam::testing::PassStack;
using ucam::testing::wait_until;

struct Blocker final : devfs::CdevSw {
  Result<void> open(devfs::Node&, devfs::OpenFile&) override { return {}; }
  void close(devfs::Node&, devfs::OpenFile&, devfs::CloseReason) override {}
  Result<void> ioctl(devfs::Node&, devfs::OpenFile&, devfs::Ioctl&) override {
    return fail_errno(ENOTTY, "blocker");
  }
  void gone(devfs::Node&) override {}
};

struct EncStack {
  EncDriver* enc = nullptr;
  PassStack stack{
      3, [this](devfs::Devfs& devfs, std::vector<std::unique_ptr<cam::PeriphDriver>>& drivers) {
        auto driver = std::make_unique<EncDriver>(devfs, EncOptions{});
        enc = driver.get();
        drivers.push_back(std::move(driver));
      }};
  std::size_t ses_periphs() {
    std::size_t n = 0;
    for (const auto& p : stack.periphs->periphs()) {
      n += p.name.starts_with("ses") ? 1 : 0;
    }
    return n;
  }
};

TEST(EncDaemonLifecycle, ANodeThatCannotBeMadeFailsTheAttachWithNoDaemonLeft) {
  EncStack s;
  Blocker blocker;
  // The name the enclosure's node would take is held: make_node fails with EEXIST.
  auto held = s.stack.devfs->make_node("ses0", blocker, nullptr);
  ASSERT_TRUE(held.has_value()) << held.error().message();
  s.stack.sim->add_lun(1, 0, 0x0d, "FAKESES");
  s.stack.start();
  EXPECT_EQ(s.enc->daemons(), 0U);
  // The periph made for it is freed at once, not held by a daemon until the manager's timeout.
  EXPECT_TRUE(wait_until([&] { return s.ses_periphs() == 0; }));
  const auto stats = s.stack.periphs->stats();
  EXPECT_EQ(stats.underflows, 0U);
  EXPECT_EQ(stats.live, 1U);  // pass0 only.
  s.stack.devfs->destroy_node_async(*held);
  s.stack.devfs->drain();
}

// The node lifecycle is periph::NodePeriphDriver's: the periph's own reference, the node's and
// the daemon's, plus exactly one per open; enc lets any open mode in and refuses the set
// ioctls to a read-only open.
TEST(EncDaemonLifecycle, EachOpenHoldsOneReferenceAndAReadOnlyOpenMayOnlyRead) {
  EncStack s;
  s.stack.sim->add_lun(1, 0, 0x0d, "FAKESES");
  s.stack.start();
  const auto refs = [&]() -> std::uint32_t {
    for (const auto& p : s.stack.periphs->periphs()) {
      if (p.name == "ses0") {
        return p.refcount;
      }
    }
    return 0;
  };
  ASSERT_EQ(refs(), 3U);  // Its own, the node's, the daemon's.
  auto read_only = s.stack.devfs->open("ses0", devfs::kOpenRead);
  ASSERT_TRUE(read_only.has_value()) << read_only.error().message();
  auto read_write = s.stack.devfs->open("ses0");
  ASSERT_TRUE(read_write.has_value()) << read_write.error().message();
  EXPECT_EQ(refs(), 5U);
  EncGetState get;
  EXPECT_TRUE(read_only->ioctl(get).has_value());
  EXPECT_NE(get.state, nullptr);
  EncSetElementStatus set;
  set.index = 1;
  set.control[0] = 0x80;  // SELECT.
  auto refused = read_only->ioctl(set);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().errno_value(), EBADF);
  EXPECT_TRUE(read_only->close());
  EXPECT_TRUE(read_write->close());
  EXPECT_EQ(refs(), 3U);
  EXPECT_EQ(s.stack.periphs->stats().underflows, 0U);
}

TEST(EncDaemonLifecycle, EachEnclosureHasOneDaemonJoinedWhenItDeparts) {
  EncStack s;
  s.stack.sim->add_lun(1, 0, 0x0d, "FAKESES");
  s.stack.sim->add_lun(2, 0, 0x0d, "FAKESES");
  s.stack.start();
  EXPECT_EQ(s.enc->daemons(), 2U);
  EXPECT_EQ(s.ses_periphs(), 2U);
  // One departs while open: its daemon leaves at invalidation; the open is revoked with the
  // node, and the periph with its joined thread goes.
  auto open = s.stack.devfs->open("ses0");
  ASSERT_TRUE(open.has_value());
  s.stack.sim->remove_lun(1, 0);
  s.stack.rescan(1);
  EXPECT_TRUE(wait_until([&] { return s.enc->daemons() == 1; }));
  EXPECT_TRUE(wait_until([&] { return s.ses_periphs() == 1; }));
  EncGetState get;
  auto r = open->ioctl(get);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().errno_value(), ENXIO);
  EXPECT_TRUE(open->close());
  // It returns: a new daemon.
  s.stack.sim->add_lun(1, 0, 0x0d, "FAKESES");
  s.stack.rescan(1);
  EXPECT_TRUE(wait_until([&] { return s.enc->daemons() == 2; }));
  EXPECT_EQ(s.stack.periphs->stats().underflows, 0U);
}

}  // namespace
}  // namespace ucam::enc
