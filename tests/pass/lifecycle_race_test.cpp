// The lifecycle race of the seed: many threads open, command and close pass nodes while their
// devices depart and return; and the same for pt nodes, whose single-opener rule must hold
// throughout. Run under TSan and ASan in CI.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "base/check.h"
#include "periphs/pt/pt.h"
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
  const int cycles = kCycles;
  ASSERT_NO_FATAL_FAILURE(stack.depart_and_return(
      kTargets, cycles, 42, [&](std::uint32_t t) { stack.sim->add_lun(t, 0); }));
  stop = true;
  for (auto& th : threads) {
    th.join();
  }
  stack.quiesce(kTargets);

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

// pt allows one opener per node. Many threads race to open the pt nodes of processors that
// depart and return: of the opens of one node that overlap, exactly one wins (the others get
// EBUSY), a departed node refuses with ENXIO or is gone (ENOENT), and every count is exact at
// the end. Holders are keyed by the node itself, not its name: a returned device may get the
// same name while a revoked open of the old node is still held, and that is no conflict.
TEST(PtLifecycleRace, SingleOpenerHoldsWhileOpensRaceWithDepartureAndReturn) {
  constexpr std::uint32_t kTargets = 2;  // Few nodes, many threads: opens collide.
  constexpr int kThreads = 16;
  constexpr int kCycles = 200;
  PassStack stack(kTargets - 1,
                  [](devfs::Devfs& devfs, std::vector<std::unique_ptr<cam::PeriphDriver>>& d) {
                    d.push_back(std::make_unique<pt::PtDriver>(devfs));
                  });
  for (std::uint32_t t = 0; t < kTargets; ++t) {
    stack.sim->add_lun(t, 0, 0x03, "PROC");
  }
  stack.start();
  ASSERT_EQ(stack.devfs->names().size(), 2 * kTargets);  // passN and ptN for each.

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> attempts{0}, opened{0}, busy{0}, gone{0}, conflicts{0};
  std::mutex holders_lock;
  std::set<const devfs::Node*> holders;  // Nodes some thread holds open. Guarded by holders_lock.
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      while (!stop.load()) {
        const std::string name = "pt" + std::to_string(rng() % kTargets);
        ++attempts;
        auto h = stack.devfs->open(name);
        if (!h) {
          const int e = h.error().errno_value();
          EXPECT_TRUE(e == EBUSY || e == ENXIO || e == ENOENT)
              << name << ": " << h.error().message();
          ++(e == EBUSY ? busy : gone);
          continue;
        }
        ++opened;
        {
          std::lock_guard lock(holders_lock);
          if (!holders.insert(h->node()).second) {
            ++conflicts;  // Two live opens of one node.
          }
        }
        pt::PtGetLimits limits;  // A call while holding it: answered, or ENXIO once departed.
        if (auto r = h->ioctl(limits); !r) {
          EXPECT_EQ(r.error().errno_value(), ENXIO);
        }
        {
          std::lock_guard lock(holders_lock);
          holders.erase(h->node());
        }
        EXPECT_TRUE(h->close());
      }
    });
  }
  const int cycles = kCycles;
  ASSERT_NO_FATAL_FAILURE(stack.depart_and_return(
      kTargets, cycles, 7, [&](std::uint32_t t) { stack.sim->add_lun(t, 0, 0x03, "PROC"); }));
  stop = true;
  for (auto& th : threads) {
    th.join();
  }
  stack.quiesce(kTargets);

  EXPECT_EQ(conflicts.load(), 0U) << "two opens of one pt node overlapped";
  EXPECT_EQ(attempts.load(), opened.load() + busy.load() + gone.load());
  EXPECT_GT(opened.load(), 0U);
  EXPECT_EQ(stack.xpt->stats().ccbs_outstanding, 0U);
  const auto ps = stack.periphs->stats();
  EXPECT_EQ(ps.underflows, 0U);
  EXPECT_EQ(ps.live, 2 * kTargets) << "stale periphs left behind";
  const auto ds = stack.devfs->stats();
  EXPECT_EQ(ds.nodes, 2 * kTargets) << "nodes leaked";
  EXPECT_EQ(ds.opens, 0U);
  EXPECT_EQ(ds.opens_total, ds.closes_total);
  EXPECT_EQ(ds.opens_total, opened.load());  // A refused open is no open.
  for (const auto& p : stack.periphs->periphs()) {
    EXPECT_FALSE(p.invalid) << p.name;
    EXPECT_EQ(p.refcount, 2U) << p.name << ": initial + node reference only";
  }
  // No claim was left behind: each pt node opens once, and refuses a second opener.
  for (std::uint32_t t = 0; t < kTargets; ++t) {
    const std::string name = "pt" + std::to_string(t);
    auto first = stack.devfs->open(name);
    ASSERT_TRUE(first.has_value()) << name << ": " << first.error().message();
    auto second = stack.devfs->open(name);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().errno_value(), EBUSY);
    EXPECT_TRUE(first->close());
  }
  EXPECT_EQ(violation_count(), 0U);
  RecordProperty("remove_insert_cycles", cycles);
  std::printf("pt: opened %llu busy %llu gone %llu cycles %d\n",
              static_cast<unsigned long long>(opened.load()),
              static_cast<unsigned long long>(busy.load()),
              static_cast<unsigned long long>(gone.load()), cycles);

  stack.xpt->deregister_bus(stack.bus);
  stack.xpt->drain();
  stack.devfs->drain();
  EXPECT_TRUE(stack.periphs->wait_all_freed(std::chrono::seconds(10)));
  EXPECT_EQ(stack.devfs->stats().nodes, 0U);
  stack.bus = stack.sim->register_bus();
}

}  // namespace
}  // namespace ucam::pass
