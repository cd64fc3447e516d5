// The lifecycle race of the seed, with sg nodes beside pass nodes (two periphs per device, as
// in the real driver table): many threads open sgN or passN, run a command, query the node and
// close, while devices depart and return. Counts must come out exact. Run under TSan and ASan.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "base/check.h"
#include "tests/sg_periph/sg_fake_stack.h"

namespace ucam::sgp {
namespace {

using testing::sg_tur;
using testing::SgFakeStack;

TEST(SgpLifecycleRace, SgAndPassOpenersRaceWithDepartureAndReturn) {
  constexpr std::uint32_t kTargets = 4;
  constexpr int kThreads = 16;
  constexpr int kCycles = 200;  // Departures and returns.
  SgFakeStack stack(kTargets - 1);
  for (std::uint32_t t = 0; t < kTargets; ++t) {
    stack.sim->add_lun(t, 0);
  }
  stack.start();
  ASSERT_EQ(stack.devfs->names().size(), 2 * kTargets);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> commands{0}, answered{0}, opened{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      while (!stop.load()) {
        const bool sg = rng() % 4 != 0;  // Mostly sg; pass keeps the periph pairs honest.
        const auto unit = std::to_string(rng() % kTargets);
        const std::string name = (sg ? "sg" : "pass") + unit;
        auto h =
            stack.devfs->open(name, sg ? devfs::kOpenRead : devfs::kOpenRead | devfs::kOpenWrite);
        if (!h) {
          const int e = h.error().errno_value();
          EXPECT_TRUE(e == ENXIO || e == ENOENT) << name << ": " << h.error().message();
          ++refused;
          continue;
        }
        ++opened;
        ++commands;
        Result<void> r;
        if (sg) {
          auto io = sg_tur();
          io.request.timeout_ms = 5000;
          r = h->ioctl(io);
          if (r) {
            // Answered by the device, or the device was gone (DID_NO_CONNECT / DID_BAD_TARGET).
            EXPECT_TRUE(io.reply.host_status == 0 ||
                        io.reply.host_status == static_cast<std::uint16_t>(HostStatus::NoConnect) ||
                        io.reply.host_status == static_cast<std::uint16_t>(HostStatus::BadTarget))
                << io.reply.host_status;
          }
          SgGetScsiId id;
          const auto q = h->ioctl(id);
          EXPECT_TRUE(q || q.error().errno_value() == ENXIO);
        } else {
          pass::PassCommand cmd;
          cmd.cdb = {0, 0, 0, 0, 0, 0};
          cmd.timeout = std::chrono::seconds(5);
          r = h->ioctl(cmd);
        }
        ++answered;
        if (!r) {
          EXPECT_EQ(r.error().errno_value(), ENXIO);
        }
        EXPECT_TRUE(h->close());
      }
    });
  }
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
  EXPECT_EQ(ps.live, 2 * kTargets) << "stale periphs left behind";
  const auto ds = stack.devfs->stats();
  EXPECT_EQ(ds.nodes, 2 * kTargets) << "nodes leaked";
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

  stack.xpt->deregister_bus(stack.bus);
  stack.xpt->drain();
  stack.devfs->drain();
  EXPECT_TRUE(stack.periphs->wait_all_freed(std::chrono::seconds(10)));
  EXPECT_EQ(stack.devfs->stats().nodes, 0U);
  stack.bus = stack.sim->register_bus();
}

}  // namespace
}  // namespace ucam::sgp
