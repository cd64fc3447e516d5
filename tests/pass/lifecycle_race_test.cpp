// The lifecycle race of the seed: many threads open, command and close pass nodes while their
// devices depart and return. Run under TSan and ASan in CI.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "base/check.h"
#include "tests/pass/pass_stack.h"

namespace ucam::pass {
namespace {

using testing::PassStack;
using testing::tur_command;

TEST(PassLifecycleRace, OpensCommandsAndClosesRaceWithDepartureAndReturn) {
  constexpr std::uint32_t kTargets = 4;
  constexpr int kThreads = 16;
  constexpr int kCycles = 200;  // Departures and returns.
  PassStack stack(kTargets - 1);
  for (std::uint32_t t = 0; t < kTargets; ++t) {
    stack.sim->add_lun(t, 0);
  }
  stack.start();
  ASSERT_EQ(stack.devfs->names().size(), kTargets);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> commands{0}, answered{0}, opened{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      while (!stop.load()) {
        const std::string name = "pass" + std::to_string(rng() % kTargets);
        auto h = stack.devfs->open(name);
        if (!h) {
          const int e = h.error().errno_value();
          EXPECT_TRUE(e == ENXIO || e == ENOENT) << name << ": " << h.error().message();
          ++refused;
          continue;
        }
        ++opened;
        auto cmd = tur_command();
        cmd.timeout = std::chrono::seconds(5);
        ++commands;
        auto r = h->ioctl(cmd);
        ++answered;  // The call returned: answered one way or another.
        if (r) {
          EXPECT_TRUE(cmd.status == CamStatus::ReqCmp || cmd.status == CamStatus::DevNotThere ||
                      cmd.status == CamStatus::SelTimeout ||
                      cmd.status == CamStatus::ScsiStatusError)
              << cam_status_name(cmd.status);
        } else {
          EXPECT_EQ(r.error().errno_value(), ENXIO);
        }
        EXPECT_TRUE(h->close());
      }
    });
  }
  // The remover: take devices away and bring them back while the openers run.
  std::mt19937 rng(42);
  int cycles = 0;
  for (; cycles < kCycles; ++cycles) {
    const auto t = static_cast<std::uint32_t>(rng() % kTargets);
    stack.sim->remove_lun(t, 0);
    // Half the departures are scanned synchronously, half through the scan thread.
    if (rng() % 2 == 0) {
      ASSERT_TRUE(stack.xpt->scan({stack.bus, t, cam::Path::kWildcardLun}));
    } else {
      stack.xpt->request_rescan({stack.bus, t, cam::Path::kWildcardLun});
      stack.xpt->drain();
    }
    stack.sim->add_lun(t, 0);
    stack.xpt->request_rescan({stack.bus, t, cam::Path::kWildcardLun});
  }
  stop = true;
  for (auto& th : threads) {
    th.join();
  }
  // Quiesce.
  for (std::uint32_t t = 0; t < kTargets; ++t) {
    stack.rescan(t);
  }
  stack.xpt->drain();
  stack.devfs->drain();
  stack.xpt->drain();

  EXPECT_EQ(commands.load(), answered.load());
  EXPECT_GT(opened.load(), 0U);
  EXPECT_EQ(stack.xpt->stats().ccbs_outstanding, 0U);
  const auto ps = stack.periphs->stats();
  EXPECT_EQ(ps.underflows, 0U);
  EXPECT_EQ(ps.live, kTargets) << "stale periphs left behind";
  const auto ds = stack.devfs->stats();
  EXPECT_EQ(ds.nodes, kTargets) << "nodes leaked";
  EXPECT_EQ(ds.opens, 0U);
  EXPECT_EQ(ds.opens_total, ds.closes_total);
  for (const auto& p : stack.periphs->periphs()) {
    EXPECT_FALSE(p.invalid) << p.name;
    EXPECT_EQ(p.refcount, 2U) << p.name << ": initial + node reference only";
  }
  EXPECT_EQ(violation_count(), 0U);
  RecordProperty("remove_insert_cycles", cycles);
  std::printf("opened %llu refused %llu cycles %d\n",
              static_cast<unsigned long long>(opened.load()),
              static_cast<unsigned long long>(refused.load()), cycles);

  // Tear down: every periph freed, every node gone.
  stack.xpt->deregister_bus(stack.bus);
  stack.xpt->drain();
  stack.devfs->drain();
  EXPECT_TRUE(stack.periphs->wait_all_freed(std::chrono::seconds(10)));
  EXPECT_EQ(stack.devfs->stats().nodes, 0U);
  stack.bus = stack.sim->register_bus();
}

}  // namespace
}  // namespace ucam::pass
