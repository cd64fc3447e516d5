#include "cam/periph.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "cam/xpt.h"
#include "tests/cam/fake_sim.h"
#include "tests/wait.h"

namespace ucam::cam {
namespace {

using testing::FakeSim;
using testing::wait_until;

struct Counters {
  std::atomic<int> attaches{0}, invalidates{0}, destroys{0};
};

// Attaches to every disk (type 0); counts hook calls into counters that outlive it.
class TestDriver final : public PeriphDriver {
 public:
  explicit TestDriver(Counters& c)
      : attaches(c.attaches), invalidates(c.invalidates), destroys(c.destroys) {}
  std::string_view name() const override { return "tst"; }
  bool matches(const DeviceInfo& d) const override { return d.device_type == 0; }
  Result<void> attach(Periph&) override {
    attaches.fetch_add(1);
    return {};
  }
  void invalidate(Periph&) override { invalidates.fetch_add(1); }
  void async(Periph& p, const AsyncEvent& e) override {
    if (e.code == AsyncCode::BusReset) {
      std::lock_guard lock(reset_lock);
      resets.push_back(p.name());
    }
  }
  void destroy(Periph& p) override {
    destroys.fetch_add(1);
    if (release_in_destroy) {
      p.release();
    }
  }
  std::atomic<int>& attaches;
  std::atomic<int>& invalidates;
  std::atomic<int>& destroys;
  std::atomic<bool> release_in_destroy{false};
  std::mutex reset_lock;
  std::vector<std::string> resets;  // Periphs that saw a BusReset, in order. Guarded by reset_lock.
};

class PeriphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    XptConfig config;
    config.timer_tick = std::chrono::milliseconds(2);
    xpt = Xpt::create(config);
    sim = std::make_unique<FakeSim>(*xpt);
    sim->add_lun(0, 0);
    sim->add_lun(1, 0);
    sim->add_lun(2, 0, 3, "PROC");
    bus = sim->register_bus();
    auto drv = std::make_unique<TestDriver>(counters);
    driver = drv.get();
    std::vector<std::unique_ptr<PeriphDriver>> table;
    table.push_back(std::move(drv));
    periphs = PeriphManager::create(*xpt, std::move(table));
    ASSERT_TRUE(xpt->scan_all());
    xpt->drain();
  }
  void TearDown() override {
    periphs.reset();
    xpt->deregister_bus(bus);
    sim.reset();
    xpt.reset();
  }
  void remove_and_rescan(std::uint32_t target) {
    sim->remove_lun(target, 0);
    ASSERT_TRUE(xpt->scan({bus, target, Path::kWildcardLun}));
    xpt->drain();
  }
  Counters counters;
  std::unique_ptr<Xpt> xpt;
  std::unique_ptr<FakeSim> sim;
  std::unique_ptr<PeriphManager> periphs;
  TestDriver* driver = nullptr;
  std::uint32_t bus = 0;
};

TEST_F(PeriphTest, AttachesByDeviceTypeWithSequentialUnits) {
  EXPECT_EQ(driver->attaches.load(), 2);
  EXPECT_EQ(periphs->names_for({bus, 0, 0}), std::vector<std::string>{"tst0"});
  EXPECT_EQ(periphs->names_for({bus, 1, 0}), std::vector<std::string>{"tst1"});
  EXPECT_TRUE(periphs->names_for({bus, 2, 0}).empty());
  EXPECT_EQ(periphs->stats().live, 2U);
}

TEST_F(PeriphTest, AcquireFailsOnceInvalidated) {
  auto ref = periphs->acquire("tst0");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->refcount(), 2U);
  remove_and_rescan(0);
  EXPECT_TRUE(ref->invalid());
  EXPECT_EQ(driver->invalidates.load(), 1);
  EXPECT_FALSE(ref->acquire());
  EXPECT_FALSE(periphs->acquire("tst0"));
  // Still alive while we hold our reference.
  EXPECT_EQ(driver->destroys.load(), 0);
  EXPECT_EQ(ref->refcount(), 1U);
  ref.reset();
  EXPECT_EQ(driver->destroys.load(), 1);
  EXPECT_EQ(periphs->stats().live, 1U);
}

TEST_F(PeriphTest, AcquireFindsAPeriphByItsExactName) {
  EXPECT_TRUE(periphs->acquire("tst1"));
  for (const char* name : {"tst01", "tst", "tst1x", "tst+1", "ts1", "tst4294967297", "tst2", ""}) {
    EXPECT_FALSE(periphs->acquire(name)) << name;
  }
}

TEST_F(PeriphTest, EventsOnABusReachEveryPeriphOnItAndOnlyThose) {
  xpt->post_async({AsyncCode::BusReset, {bus, Path::kWildcardTarget, Path::kWildcardLun}});
  xpt->post_async({AsyncCode::BusReset, {bus, 1, 0}});
  xpt->post_async({AsyncCode::BusReset, {bus + 1, Path::kWildcardTarget, Path::kWildcardLun}});
  xpt->post_async({AsyncCode::BusReset, {bus, 2, 0}});  // A device without a periph.
  xpt->drain();
  std::lock_guard lock(driver->reset_lock);
  EXPECT_EQ(driver->resets, (std::vector<std::string>{"tst0", "tst1", "tst1"}));
}

TEST_F(PeriphTest, LosingATargetOrABusInvalidatesEveryPeriphOnIt) {
  xpt->post_async({AsyncCode::LostDevice, {bus, 1, Path::kWildcardLun}});
  xpt->drain();
  EXPECT_EQ(driver->invalidates.load(), 1);
  EXPECT_TRUE(periphs->names_for({bus, 1, 0}).empty());
  EXPECT_EQ(periphs->names_for({bus, 0, 0}), std::vector<std::string>{"tst0"});
  xpt->post_async({AsyncCode::LostDevice, {bus, Path::kWildcardTarget, Path::kWildcardLun}});
  xpt->drain();
  EXPECT_EQ(driver->invalidates.load(), 2);
  EXPECT_TRUE(periphs->names_for({bus, 0, 0}).empty());
  EXPECT_EQ(periphs->stats().live, 0U);
}

TEST_F(PeriphTest, UnitNumberIsReusedOnlyAfterTheOldPeriphIsFreed) {
  auto ref = periphs->acquire("tst0");
  remove_and_rescan(0);
  sim->add_lun(3, 0);  // A new disk while tst0 is invalid but referenced.
  ASSERT_TRUE(xpt->scan({bus, 3, Path::kWildcardLun}));
  xpt->drain();
  EXPECT_EQ(periphs->names_for({bus, 3, 0}), std::vector<std::string>{"tst2"});
  ref.reset();
  sim->add_lun(0, 0);
  ASSERT_TRUE(xpt->scan({bus, 0, Path::kWildcardLun}));
  xpt->drain();
  EXPECT_EQ(periphs->names_for({bus, 0, 0}), std::vector<std::string>{"tst0"});
}

TEST_F(PeriphTest, DeviceReturningWhileOldPeriphIsReferencedGetsANewPeriphAfterTheFree) {
  auto ref = periphs->acquire("tst1");
  remove_and_rescan(1);
  sim->add_lun(1, 0);
  ASSERT_TRUE(xpt->scan({bus, 1, Path::kWildcardLun}));
  xpt->drain();
  // The old periph still exists (invalid): no second periph yet on that path.
  EXPECT_TRUE(periphs->names_for({bus, 1, 0}).empty());
  EXPECT_EQ(driver->attaches.load(), 2);
  ref.reset();  // Frees tst1; the deferred FoundDevice attaches a fresh one.
  xpt->drain();
  EXPECT_EQ(periphs->names_for({bus, 1, 0}), std::vector<std::string>{"tst1"});
  EXPECT_EQ(driver->attaches.load(), 3);
}

TEST_F(PeriphTest, HoldIsExclusiveAndFailsWithEnxioAfterInvalidate) {
  auto ref = periphs->acquire("tst0");
  ASSERT_TRUE(ref->hold());
  std::atomic<bool> second_result_ok{true}, second_done{false};
  std::thread other([&] {
    auto r = ref->hold();  // Blocks while held; the device then departs.
    second_result_ok = static_cast<bool>(r);
    if (r) {
      ref->unhold();
    } else {
      EXPECT_EQ(r.error().errno_value(), ENXIO);
    }
    second_done = true;
  });
  EXPECT_FALSE(second_done.load());
  remove_and_rescan(0);
  ASSERT_TRUE(wait_until([&] { return second_done.load(); }));
  other.join();
  EXPECT_FALSE(second_result_ok.load());
  ref->unhold();
}

// A driver bug: releasing in the destroy hook a reference it never took. The periph is still
// alive (being freed), so the underflow is caught, not silent.
#if UCAM_DEBUG_CHECKS
TEST_F(PeriphTest, ReleaseUnderflowIsDetected) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        driver->release_in_destroy = true;
        remove_and_rescan(0);
      },
      "tst0: release would underflow");
}
#else
TEST_F(PeriphTest, ReleaseUnderflowIsCountedAndLoggedInRelease) {
  driver->release_in_destroy = true;
  remove_and_rescan(0);
  EXPECT_EQ(periphs->stats().underflows, 1U);
  EXPECT_EQ(periphs->stats().freed, 1U);
}
#endif

TEST_F(PeriphTest, ManagerShutdownInvalidatesAndFreesEverything) {
  auto ref = periphs->acquire("tst1");
  ref.reset();
  periphs.reset();
  EXPECT_EQ(counters.destroys.load(), counters.attaches.load());
  EXPECT_EQ(counters.invalidates.load(), counters.attaches.load());
}

}  // namespace
}  // namespace ucam::cam
