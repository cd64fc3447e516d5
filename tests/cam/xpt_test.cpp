#include "cam/xpt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>

#include "base/check.h"
#include "cam/cancel.h"
#include "tests/cam/fake_sim.h"
#include "tests/wait.h"

namespace ucam::cam {
namespace {

using testing::FakeSim;
using testing::wait_until;

XptConfig fast_config() {
  XptConfig c;
  c.timer_tick = std::chrono::milliseconds(2);
  c.busy_retry_delay = std::chrono::milliseconds(1);
  return c;
}

// Records events in order.
struct EventLog {
  std::mutex m;
  std::vector<AsyncEvent> events;
  std::unique_ptr<Subscription> sub;
  explicit EventLog(Xpt& xpt, std::uint32_t mask = kAllAsyncCodes) {
    sub = xpt.subscribe(mask, Path::wildcard(), [this](const AsyncEvent& e) {
      std::lock_guard lock(m);
      events.push_back(e);
    });
  }
  std::size_t count(AsyncCode code) {
    std::lock_guard lock(m);
    std::size_t n = 0;
    for (auto& e : events) {
      n += e.code == code ? 1 : 0;
    }
    return n;
  }
};

Ccb tur(const Path& path, Recovery recovery = Recovery::Standard) {
  Ccb ccb;
  ccb.path = path;
  const std::uint8_t cdb[6] = {0, 0, 0, 0, 0, 0};
  ccb.set_cdb(cdb);
  ccb.recovery = recovery;
  return ccb;
}

// The XPT's latency clock may be the TSC at a measured rate: allow it a little error against
// steady_clock.
constexpr double kClockTolerance = 0.999;

// The SimStats entry for `path_id`; fails the test if the bus is not listed.
SimStats sim_stats_of(const Xpt& xpt, std::uint32_t path_id) {
  for (auto& s : xpt.sim_stats()) {
    if (s.path_id == path_id) {
      return s;
    }
  }
  ADD_FAILURE() << "no SimStats for scbus" << path_id;
  return {};
}

// `after - before`, field by field (the counters are monotonic).
SimStats delta(const SimStats& before, const SimStats& after) {
  SimStats d = after;
  d.ccbs -= before.ccbs;
  d.errors -= before.errors;
  d.timeouts -= before.timeouts;
  d.retries -= before.retries;
  for (std::size_t i = 0; i < d.latency_buckets.size(); ++i) {
    d.latency_buckets[i] -= before.latency_buckets[i];
  }
  d.latency_sum_seconds -= before.latency_sum_seconds;
  return d;
}

std::uint64_t bucket_total(const SimStats& s) {
  return std::accumulate(s.latency_buckets.begin(), s.latency_buckets.end(), std::uint64_t{0});
}

class XptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xpt = Xpt::create(fast_config());
    sim = std::make_unique<FakeSim>(*xpt);
    sim->add_lun(0, 0, 0, "DISK0");
    sim->add_lun(1, 0, 0, "DISK1");
    sim->add_lun(1, 1, 3, "PROC");
    bus = sim->register_bus();
  }
  void TearDown() override {
    xpt->deregister_bus(bus);
    sim.reset();
    xpt.reset();
  }
  std::unique_ptr<Xpt> xpt;
  std::unique_ptr<FakeSim> sim;
  std::uint32_t bus = 0;
};

TEST_F(XptTest, ScanFindsEveryLunAndRaisesFoundDevice) {
  EventLog log(*xpt);
  const auto gen = xpt->stats().generation;
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  auto devices = xpt->devices();
  ASSERT_EQ(devices.size(), 3U);
  EXPECT_EQ(devices[0].product, "DISK0");
  EXPECT_EQ(devices[2].path, (Path{bus, 1, 1}));
  EXPECT_EQ(devices[2].device_type, 3);
  EXPECT_EQ(devices[2].vendor, "UCAM");
  EXPECT_EQ(log.count(AsyncCode::FoundDevice), 3U);
  EXPECT_GT(xpt->stats().generation, gen);
}

TEST_F(XptTest, RescanAfterRemovalRaisesLostDeviceOnce) {
  ASSERT_TRUE(xpt->scan_all());
  EventLog log(*xpt);
  sim->remove_lun(1, 1);
  ASSERT_TRUE(xpt->scan(Path{bus, 1, Path::kWildcardLun}));
  xpt->drain();
  EXPECT_EQ(log.count(AsyncCode::LostDevice), 1U);
  EXPECT_FALSE(xpt->device(Path{bus, 1, 1}));
  EXPECT_TRUE(xpt->device(Path{bus, 1, 0}));
  // Whole target gone.
  sim->remove_lun(1, 0);
  xpt->request_rescan(Path{bus, Path::kWildcardTarget, Path::kWildcardLun});
  xpt->drain();
  EXPECT_EQ(log.count(AsyncCode::LostDevice), 2U);
  EXPECT_EQ(xpt->devices().size(), 1U);
}

TEST_F(XptTest, RunSyncCompletesTestUnitReady) {
  ASSERT_TRUE(xpt->scan_all());
  auto ccb = tur({bus, 0, 0});
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(xpt->stats().ccbs_outstanding, 0U);
}

TEST_F(XptTest, CommandToUnknownPathCompletesWithDevNotThere) {
  auto ccb = tur({bus, 3, 0});
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
}

TEST_F(XptTest, CommandTimeoutIsEnforcedWhenTheSimNeverAnswers) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(0, 0, {FakeSim::Outcome::Park});
  auto ccb = tur({bus, 0, 0});
  ccb.timeout = std::chrono::milliseconds(20);
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::CmdTimeout);
  EXPECT_EQ(sim->parked(), 0U);  // The SIM was told to forget it.
  EXPECT_GE(sim->aborts(), 1U);
  EXPECT_EQ(xpt->stats().timeouts, 1U);
}

TEST_F(XptTest, UnitAttentionIsRetriedWithinBudget) {
  ASSERT_TRUE(xpt->scan_all());
  EventLog log(*xpt, static_cast<std::uint32_t>(AsyncCode::UnitAttention));
  sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x06, 0x29, 0x00}, 2);
  auto ccb = tur({bus, 0, 0});
  ccb.retry_count = 4;
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(sim->commands_seen(0x00), 3U);
  xpt->drain();
  EXPECT_EQ(log.count(AsyncCode::UnitAttention), 2U);
}

TEST_F(XptTest, UnitAttentionBeyondBudgetSurfacesAfterBoundedAttempts) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x06, 0x29, 0x00}, 10);
  auto ccb = tur({bus, 0, 0});
  ccb.retry_count = 2;
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(ccb.scsi_status, ScsiStatus::CheckCondition);
  EXPECT_EQ(ccb.sense_data[2] & 0x0f, 0x06);
  EXPECT_EQ(sim->commands_seen(0x00), 3U);  // 1 + 2 retries.
}

TEST_F(XptTest, NoRecoveryReturnsTheFirstError) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x06, 0x29, 0x00});
  auto ccb = tur({bus, 0, 0}, Recovery::None);
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(sim->commands_seen(0x00), 1U);
}

TEST_F(XptTest, BusyIsRetriedLater) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(0, 0, {FakeSim::Outcome::Busy}, 2);
  auto ccb = tur({bus, 0, 0});
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(xpt->stats().retries, 2U);
}

TEST_F(XptTest, SelectionTimeoutIsNotRetried) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(0, 0, {FakeSim::Outcome::SelTimeout});
  auto ccb = tur({bus, 0, 0});
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::SelTimeout);
  EXPECT_EQ(sim->commands_seen(0x00), 1U);
}

TEST_F(XptTest, DeviceGoneMidCommandCompletesWithDevNotThere) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(1, 1, {FakeSim::Outcome::Park});
  std::atomic<bool> finished{false};
  Ccb ccb = tur({bus, 1, 1});
  ccb.done = [](Ccb&, void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); };
  ccb.done_arg = &finished;
  xpt->action(ccb);
  ASSERT_TRUE(wait_until([&] { return sim->parked() == 1; }));
  sim->remove_lun(1, 1);
  ASSERT_TRUE(xpt->scan(Path{bus, 1, Path::kWildcardLun}));
  ASSERT_TRUE(wait_until([&] { return finished.load(); }));
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(sim->parked(), 0U);
}

TEST_F(XptTest, FrozenQueueHoldsCommandsUntilReleased) {
  ASSERT_TRUE(xpt->scan_all());
  ASSERT_TRUE(xpt->freeze_devq({bus, 0, 0}));
  std::atomic<int> done{0};
  Ccb a = tur({bus, 0, 0});
  Ccb b = tur({bus, 0, 0});
  for (Ccb* c : {&a, &b}) {
    c->done = [](Ccb&, void* arg) { static_cast<std::atomic<int>*>(arg)->fetch_add(1); };
    c->done_arg = &done;
    xpt->action(*c);
  }
  EXPECT_EQ(done.load(), 0);
  EXPECT_EQ(sim->commands_seen(0x00), 0U);
  ASSERT_TRUE(xpt->release_devq({bus, 0, 0}));
  EXPECT_TRUE(wait_until([&] { return done.load() == 2; }));
  EXPECT_EQ(a.status, CamStatus::ReqCmp);
  EXPECT_FALSE(xpt->release_devq({bus, 0, 0}));  // Not frozen any more.
}

TEST_F(XptTest, AbortCompletesQueuedAndInSimCommandsWithReqAborted) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(0, 0, {FakeSim::Outcome::Park});
  std::atomic<int> done{0};
  Ccb in_sim = tur({bus, 0, 0});
  Ccb queued = tur({bus, 0, 0});
  for (Ccb* c : {&in_sim, &queued}) {
    c->done = [](Ccb&, void* arg) { static_cast<std::atomic<int>*>(arg)->fetch_add(1); };
    c->done_arg = &done;
  }
  xpt->action(in_sim);
  ASSERT_EQ(sim->parked(), 1U);
  ASSERT_TRUE(xpt->freeze_devq({bus, 0, 0}));
  xpt->action(queued);
  EXPECT_EQ(xpt->abort(queued), CamStatus::ReqCmp);
  EXPECT_EQ(queued.status, CamStatus::ReqAborted);
  EXPECT_EQ(xpt->abort(in_sim), CamStatus::ReqCmp);
  EXPECT_EQ(in_sim.status, CamStatus::ReqAborted);
  EXPECT_EQ(sim->parked(), 0U);
  EXPECT_EQ(done.load(), 2);
  ASSERT_TRUE(xpt->release_devq({bus, 0, 0}));
  EXPECT_EQ(sim->commands_seen(0x00), 1U);  // The aborted queued one never reached the SIM.
  EXPECT_EQ(xpt->stats().ccbs_outstanding, 0U);
}

// A SIM may complete a CCB on another thread before its action() has returned, while the XPT
// has not yet recorded the CCB as held by the SIM. The completion must run exactly once, with
// the SIM's result, whether the SIM calls done() or done_direct().
TEST_F(XptTest, ACompletionFromAnotherThreadBeforeActionReturnsRunsOnce) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  for (const bool direct : {false, true}) {
    sim->set_direct_completion(direct);
    sim->script(0, 0, {FakeSim::Outcome::AsyncBeforeReturn}, 3);
    struct Calls {
      std::atomic<int> count{0};
      std::atomic<bool> on_submitter{true};
      std::thread::id submitter = std::this_thread::get_id();
    } calls;
    for (int i = 0; i < 3; ++i) {
      Ccb ccb = tur({bus, 0, 0});
      ccb.done = [](Ccb&, void* arg) {
        auto* c = static_cast<Calls*>(arg);
        if (std::this_thread::get_id() != c->submitter) {
          c->on_submitter = false;
        }
        c->count.fetch_add(1);
      };
      ccb.done_arg = &calls;
      xpt->action(ccb);  // Returns only after the SIM's thread called done() for it.
      ASSERT_TRUE(wait_until([&] { return calls.count.load() == i + 1; })) << "direct " << direct;
      EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
    }
    // Even done_direct(): the SIM's thread could not run it before action() had returned.
    EXPECT_TRUE(calls.on_submitter.load()) << "direct " << direct;
    // Synchronous too: run_sync() returns once, with the result.
    sim->script(0, 0, {FakeSim::Outcome::AsyncBeforeReturn});
    Ccb sync = tur({bus, 0, 0});
    xpt->run_sync(sync);
    EXPECT_EQ(sync.status, CamStatus::ReqCmp);
    EXPECT_EQ(calls.count.load(), 3);
    EXPECT_TRUE(wait_until([&] { return xpt->stats().ccbs_outstanding == 0; }));
  }
  EXPECT_EQ(sim->max_in_flight(), 1U);
}

// While the SIM is still inside action() the CCB cannot be aborted (the SIM may be completing
// it), nor seen by a device loss; once action() returns, a CCB the SIM kept is aborted for the
// loss it missed.
TEST_F(XptTest, ACcbInsideTheSimsActionIsAbortedForALossOnlyAfterItReturns) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  sim->script(1, 1, {FakeSim::Outcome::Hold});
  std::atomic<bool> finished{false};
  Ccb ccb = tur({bus, 1, 1});
  ccb.done = [](Ccb&, void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); };
  ccb.done_arg = &finished;
  std::thread issuer([&] { xpt->action(ccb); });
  ASSERT_TRUE(wait_until([&] { return sim->holding(); }));
  EXPECT_EQ(xpt->abort(ccb), CamStatus::UaAbort);
  EXPECT_EQ(xpt->stats().ccbs_outstanding, 1U);
  sim->remove_lun(1, 1);
  ASSERT_TRUE(xpt->scan(Path{bus, 1, Path::kWildcardLun}));
  EXPECT_FALSE(xpt->device({bus, 1, 1}));
  EXPECT_FALSE(finished.load());
  EXPECT_EQ(sim->parked(), 1U);  // The loss could not abort what it could not see.
  sim->release_hold();
  issuer.join();
  ASSERT_TRUE(wait_until([&] { return finished.load(); }));
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(sim->parked(), 0U);
  EXPECT_TRUE(wait_until([&] { return xpt->stats().ccbs_outstanding == 0; }));
}

// Gives `sim` one LUN (0:0) with `openings`, registers its bus and scans it: `path` is the LUN.
void one_lun(Xpt& xpt, FakeSim& sim, std::uint32_t openings, Path& path) {
  sim.set_queue_depth(openings);
  sim.add_lun(0, 0);
  const std::uint32_t bus = sim.register_bus();
  ASSERT_TRUE(xpt.scan_all());
  xpt.drain();
  path = Path{bus, 0, 0};
}

// `threads` threads each run `each` TEST UNIT READYs on `path` with run_sync() (calling
// `script(i)` before command i), while another thread freezes and releases the device queue;
// every command must complete with ReqCmp.
void run_with_freezer(Xpt& xpt, const Path& path, int threads, int each,
                      const std::function<void(int)>& script) {
  std::atomic<bool> stop{false};
  std::thread freezer([&] {
    while (!stop.load()) {
      ASSERT_TRUE(xpt.freeze_devq(path));
      std::this_thread::yield();
      ASSERT_TRUE(xpt.release_devq(path));
    }
  });
  std::vector<std::thread> issuers;
  for (int t = 0; t < threads; ++t) {
    issuers.emplace_back([&, t] {
      Ccb ccb = tur(path, Recovery::None);
      for (int i = 0; i < each; ++i) {
        script(i);
        xpt.run_sync(ccb);
        ASSERT_EQ(ccb.status, CamStatus::ReqCmp) << "thread " << t << " command " << i;
      }
    });
  }
  for (auto& t : issuers) {
    t.join();
  }
  stop = true;
  freezer.join();
}

// Admission without the device lock: many threads on one device with two openings, while the
// device queue is frozen and released and the SIM completes some CCBs inside action() and the
// rest on its own thread (some before action() returns). The SIM never holds more than the
// openings, and every CCB completes once, in order of admission within a thread.
TEST(XptGate, ManyThreadsNeverExceedTheOpeningsAndAllComplete) {
  auto xpt = Xpt::create(fast_config());
  FakeSim sim(*xpt);
  Path path;
  ASSERT_NO_FATAL_FAILURE(one_lun(*xpt, sim, 2, path));
  constexpr int kThreads = 6;
  constexpr int kEach = 300;
  run_with_freezer(*xpt, path, kThreads, kEach, [&](int i) {
    if (i % 3 != 0) {
      sim.script(0, 0,
                 {i % 3 == 1 ? FakeSim::Outcome::Async : FakeSim::Outcome::AsyncBeforeReturn});
    }
  });
  EXPECT_LE(sim.max_in_flight(), 2U);
  EXPECT_GE(sim.max_in_flight(), 1U);
  EXPECT_EQ(sim.commands_seen(0x00), std::size_t{kThreads} * kEach);
  EXPECT_EQ(xpt->stats().ccbs_outstanding, 0U);
  xpt->deregister_bus(path.bus);
}

// Admission credits (XptDevice::credits): a thread that hands back an admission keeps it as a
// credit and its next CCB on the device takes it without touching the shared admission word.
// These tests give devices their credits from the first CCB (XptConfig::credits_from_first_ccb),
// so that a thread holds one after any synchronous command.
class XptCredits : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kOpenings = 16;  // Credits need openings >= kStripes (16).
  void SetUp() override {
    XptConfig config = fast_config();
    config.credits_from_first_ccb = true;
    xpt = Xpt::create(config);
    sim = std::make_unique<FakeSim>(*xpt);
    ASSERT_NO_FATAL_FAILURE(one_lun(*xpt, *sim, kOpenings, path));
    bus = path.bus;
  }
  void TearDown() override {
    if (xpt) {
      xpt->deregister_bus(bus);
    }
  }
  // One synchronous TEST UNIT READY on `path` from a new thread, which leaves its credit behind.
  void tur_from_new_thread() {
    std::thread([&] {
      Ccb ccb = tur(path, Recovery::None);
      xpt->run_sync(ccb);
      EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
    }).join();
  }
  std::unique_ptr<Xpt> xpt;
  std::unique_ptr<FakeSim> sim;
  std::uint32_t bus = 0;
  Path path;
};

// A thread holding a credit must not get past a frozen device queue: the CCB waits for the
// release, and the SIM does not see it before.
TEST_F(XptCredits, AFrozenQueueHoldsBackTheCcbOfAThreadWithACredit) {
  Ccb first = tur(path, Recovery::None);
  xpt->run_sync(first);  // Completed inside action(): this thread now holds a credit.
  ASSERT_EQ(first.status, CamStatus::ReqCmp);
  const std::size_t seen = sim->commands_seen(0x00);
  ASSERT_TRUE(xpt->freeze_devq(path));
  std::atomic<bool> done{false};
  Ccb held = tur(path, Recovery::None);
  held.done = [](Ccb&, void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); };
  held.done_arg = &done;
  xpt->action(held);  // The SIM completes inline: had it been sent, it would be done now.
  EXPECT_FALSE(done.load());
  EXPECT_EQ(sim->commands_seen(0x00), seen);
  ASSERT_TRUE(xpt->release_devq(path));
  ASSERT_TRUE(wait_until([&] { return done.load(); }));
  EXPECT_EQ(held.status, CamStatus::ReqCmp);
  EXPECT_EQ(sim->commands_seen(0x00), seen + 1);
}

// Credits left by threads that have ended still count as taken openings; a thread that needs
// them gets them back. Every opening reaches the SIM at once, none waits for a completion.
TEST_F(XptCredits, CreditsOfOtherThreadsNeverHoldBackAnOpening) {
  for (std::uint32_t i = 0; i < kOpenings; ++i) {
    tur_from_new_thread();
  }
  sim->script(0, 0, {FakeSim::Outcome::Park}, static_cast<int>(kOpenings));
  std::vector<Ccb> ccbs;
  ccbs.reserve(kOpenings);
  std::atomic<std::uint32_t> done{0};
  for (std::uint32_t i = 0; i < kOpenings; ++i) {
    ccbs.push_back(tur(path, Recovery::None));
    ccbs.back().done = [](Ccb&, void* arg) { ++*static_cast<std::atomic<std::uint32_t>*>(arg); };
    ccbs.back().done_arg = &done;
    xpt->action(ccbs.back());
  }
  EXPECT_TRUE(wait_until([&] { return sim->parked() == kOpenings; }));
  sim->flush_parked(CamStatus::ReqCmp);
  ASSERT_TRUE(wait_until([&] { return done.load() == kOpenings; }));
  EXPECT_EQ(sim->max_in_flight(), kOpenings);
}

// Removing the bus waits for the CCBs in its SIM, not for credits that no CCB holds.
TEST_F(XptCredits, RemovingTheBusDoesNotWaitForCredits) {
  tur_from_new_thread();
  Ccb ccb = tur(path, Recovery::None);
  xpt->run_sync(ccb);
  ASSERT_EQ(ccb.status, CamStatus::ReqCmp);
  std::atomic<bool> removed{false};
  std::thread remover([&] {
    xpt->deregister_bus(bus);
    removed = true;
  });
  if (!wait_until([&] { return removed.load(); })) {
    ADD_FAILURE() << "deregister_bus() still waits: for credits no CCB holds";
    remover.detach();  // Blocked for good: leave it, and the XPT it uses, to the exit.
    static_cast<void>(xpt.release());
    static_cast<void>(sim.release());
    return;
  }
  remover.join();
  EXPECT_EQ(xpt->stats().buses, 0U);
  ccb.reset_result();
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  xpt.reset();  // TearDown must not deregister it again.
}

// More threads than openings and stripes on one device with credits, while the queue is frozen
// and released and the SIM completes some CCBs on its own thread (some before action()
// returns, which the submitting thread then completes and may keep as a credit): the SIM never
// holds more than the openings, and every CCB completes once.
TEST_F(XptCredits, ManyThreadsWithCreditsNeverExceedTheOpenings) {
  constexpr int kThreads = 24;
  constexpr int kEach = 200;
  run_with_freezer(*xpt, path, kThreads, kEach, [&](int i) {
    if (i % 4 == 1) {
      sim->script(0, 0, {FakeSim::Outcome::Async});
    } else if (i % 4 == 2) {
      sim->script(0, 0, {FakeSim::Outcome::AsyncBeforeReturn});
    }
  });
  EXPECT_LE(sim->max_in_flight(), std::size_t{kOpenings});
  EXPECT_EQ(sim->commands_seen(0x00), std::size_t{kThreads} * kEach);
  EXPECT_EQ(xpt->stats().ccbs_outstanding, 0U);
}

// A CCB that waits to be retried (BUSY) does not hold its opening meanwhile: a CCB queued
// behind it starts at once, not when the retry is due (an hour here).
TEST(XptRetry, ACcbWaitingToRetryLetsTheCcbQueuedBehindItRun) {
  struct Flag {
    std::atomic<bool> done{false};
    static void set(Ccb&, void* arg) { static_cast<Flag*>(arg)->done = true; }
  };
  // Declared before the XPT: its destructor runs the retry, on a device by then removed.
  Flag first_done;
  Flag second_done;
  Ccb first;
  Ccb second;
  XptConfig config = fast_config();
  config.busy_retry_delay = std::chrono::hours(1);
  auto xpt = Xpt::create(config);
  FakeSim sim(*xpt);
  Path path;
  ASSERT_NO_FATAL_FAILURE(one_lun(*xpt, sim, 1, path));
  first = tur(path, Recovery::Standard);
  first.done = &Flag::set;
  first.done_arg = &first_done;
  second = tur(path, Recovery::None);
  second.done = &Flag::set;
  second.done_arg = &second_done;
  sim.script(0, 0, {FakeSim::Outcome::Park});
  xpt->action(first);   // Held by the SIM: the only opening is taken.
  xpt->action(second);  // Queued behind it.
  EXPECT_EQ(sim.parked(), 1U);
  EXPECT_FALSE(second_done.done.load());
  sim.flush_parked(CamStatus::Busy);  // The first is to be retried in an hour.
  ASSERT_TRUE(wait_until([&] { return second_done.done.load(); }));
  EXPECT_EQ(second.status, CamStatus::ReqCmp);
  EXPECT_FALSE(first_done.done.load());
  xpt->deregister_bus(path.bus);
}

TEST_F(XptTest, AsynchronousCompletionRunsInNoBlockContext) {
  ASSERT_TRUE(xpt->scan_all());
  sim->script(0, 0, {FakeSim::Outcome::Async});
  struct Seen {
    std::atomic<bool> done{false};
    std::atomic<bool> no_block{false};
  } seen;
  Ccb ccb = tur({bus, 0, 0});
  ccb.done = [](Ccb&, void* arg) {
    auto* s = static_cast<Seen*>(arg);
    s->no_block = in_no_block_scope();
    s->done = true;
  };
  ccb.done_arg = &seen;
  xpt->action(ccb);
  ASSERT_TRUE(wait_until([&] { return seen.done.load(); }));
  EXPECT_TRUE(seen.no_block.load());
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
}

#if UCAM_DEBUG_CHECKS
struct NestedCtx {
  Xpt* xpt;
  Path path;
};

void run_sync_inside_completion(Xpt& xpt, const Path& path) {
  NestedCtx ctx{&xpt, path};
  Ccb outer = tur(path);
  outer.done = [](Ccb&, void* arg) {
    auto* c = static_cast<NestedCtx*>(arg);
    Ccb inner = tur(c->path);
    c->xpt->run_sync(inner);  // Forbidden: waits inside a completion.
  };
  outer.done_arg = &ctx;
  xpt.action(outer);
}

TEST_F(XptTest, BlockingInsideACompletionIsDetected) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_TRUE(xpt->scan_all());
  EXPECT_DEATH(run_sync_inside_completion(*xpt, {bus, 0, 0}),
               "blocking call in completion context");
}
#endif

TEST_F(XptTest, UnsubscribeFromInsideItsOwnCallbackStopsFurtherCalls) {
  std::atomic<int> calls{0};
  std::unique_ptr<Subscription> sub;
  std::mutex m;
  {
    std::lock_guard lock(m);
    sub = xpt->subscribe(kAllAsyncCodes, Path::wildcard(), [&](const AsyncEvent&) {
      calls.fetch_add(1);
      std::lock_guard lock2(m);
      sub->unsubscribe();
    });
  }
  xpt->post_async({AsyncCode::BusReset, {bus, 0, 0}});
  xpt->post_async({AsyncCode::BusReset, {bus, 0, 0}});
  xpt->drain();
  EXPECT_EQ(calls.load(), 1);
}

// A subscriber callback that, once called, stays inside until `leave` is set.
struct HeldCallback {
  std::atomic<bool> inside{false}, leave{false}, finished{false};
  XptPeriph::AsyncCallback callback() {
    return [this](const AsyncEvent&) {
      inside = true;
      while (!leave.load()) {
        std::this_thread::yield();
      }
      finished = true;
    };
  }
};

TEST_F(XptTest, UnsubscribeWaitsForARunningCallback) {
  HeldCallback held;
  auto sub = xpt->subscribe(kAllAsyncCodes, Path::wildcard(), held.callback());
  xpt->post_async({AsyncCode::BusReset, {bus, 0, 0}});
  ASSERT_TRUE(wait_until([&] { return held.inside.load(); }));
  std::thread releaser([&] {
    // Let the unsubscriber block first; it must not return before the callback finished.
    held.leave = true;
  });
  sub->unsubscribe();
  EXPECT_TRUE(held.finished.load());
  releaser.join();
}

// Only the events these tests post (not the PathRegistered of the fixture's bus).
constexpr auto kAen = static_cast<std::uint32_t>(AsyncCode::ScsiAen);

// The event thread is woken only when it sleeps and drain() only when the queue empties: a
// handler that posts must still be waited for, to the end of the chain.
TEST_F(XptTest, DrainWaitsForEventsThatHandlersPost) {
  constexpr std::uint64_t kChain = 200;
  std::atomic<std::uint64_t> delivered{0};
  auto sub = xpt->subscribe(kAen, Path::wildcard(), [&](const AsyncEvent& e) {
    delivered.fetch_add(1);
    if (e.path.lun + 1 < kChain) {
      xpt->post_async({AsyncCode::ScsiAen, {bus, 0, e.path.lun + 1}});
    }
  });
  xpt->post_async({AsyncCode::ScsiAen, {bus, 0, 0}});
  xpt->drain();
  EXPECT_EQ(delivered.load(), kChain);
}

TEST_F(XptTest, DrainWaitsForTheCallbackBeingRun) {
  HeldCallback held;
  std::atomic<bool> drained{false};
  auto sub = xpt->subscribe(kAen, Path::wildcard(), held.callback());
  xpt->post_async({AsyncCode::ScsiAen, {bus, 0, 0}});
  ASSERT_TRUE(wait_until([&] { return held.inside.load(); }));
  std::thread drainer([&] {
    xpt->drain();
    drained = true;
  });
  EXPECT_FALSE(drained.load());  // The callback has not returned.
  held.leave = true;
  drainer.join();
  EXPECT_TRUE(held.finished.load());
}

// unsubscribe() from another thread returns only after the running callback has, even while
// more events for other subscribers are queued behind it.
TEST_F(XptTest, UnsubscribeFromAnotherThreadReturnsAfterTheRunningCallback) {
  std::atomic<bool> inside{false}, leave{false};
  std::atomic<int> order{0}, finished_at{0}, returned_at{0};
  std::atomic<int> others{0};
  auto other =
      xpt->subscribe(kAen, Path::wildcard(), [&](const AsyncEvent&) { others.fetch_add(1); });
  std::atomic<int> calls{0};
  auto sub = xpt->subscribe(kAen, Path::wildcard(), [&](const AsyncEvent&) {
    if (calls.fetch_add(1) != 0) {
      return;  // The queued events may reach it before unsubscribe() removes it.
    }
    inside = true;
    while (!leave.load()) {
      std::this_thread::yield();
    }
    finished_at = ++order;
  });
  xpt->post_async({AsyncCode::ScsiAen, {bus, 0, 0}});
  ASSERT_TRUE(wait_until([&] { return inside.load(); }));
  for (int i = 0; i < 10; ++i) {
    xpt->post_async({AsyncCode::ScsiAen, {bus, 0, 0}});
  }
  std::thread unsubscriber([&] {
    sub->unsubscribe();
    returned_at = ++order;
  });
  EXPECT_EQ(returned_at.load(), 0);  // The callback has not returned.
  leave = true;
  unsubscriber.join();
  EXPECT_EQ(finished_at.load(), 1);
  EXPECT_EQ(returned_at.load(), 2);
  xpt->drain();
  EXPECT_EQ(others.load(), 11);  // The other subscriber saw every event.
}

// Posts from several threads while the event thread sleeps, wakes and works: none is lost
// and each thread's events arrive in the order it posted them.
TEST_F(XptTest, EventsPostedFromSeveralThreadsAreEachDeliveredOnceInOrder) {
  constexpr std::uint32_t kThreads = 4;
  constexpr std::uint64_t kEach = 2000;
  std::mutex m;
  std::vector<std::vector<std::uint64_t>> seen(kThreads);
  auto sub = xpt->subscribe(kAen, Path::wildcard(), [&](const AsyncEvent& e) {
    std::lock_guard lock(m);
    seen[e.path.target].push_back(e.path.lun);
  });
  std::vector<std::thread> posters;
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < kEach; ++i) {
        xpt->post_async({AsyncCode::ScsiAen, {bus, t, i}});
        if (i % 64 == 0) {
          std::this_thread::yield();  // Let the event thread catch up and sleep now and then.
        }
      }
    });
  }
  for (auto& p : posters) {
    p.join();
  }
  xpt->drain();
  std::lock_guard lock(m);
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), kEach) << "thread " << t;
    for (std::uint64_t i = 0; i < kEach; ++i) {
      ASSERT_EQ(seen[t][i], i) << "thread " << t;
    }
  }
}

// Probe entries are created a target at a time; those found empty leave the table.
TEST_F(XptTest, ScanLeavesNoProbeEntriesBehind) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  EXPECT_EQ(xpt->devices().size(), 3U);
  EXPECT_EQ(xpt->device_entries(), 3U);
  sim->remove_lun(1, 1);
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  EXPECT_EQ(xpt->devices().size(), 2U);
  EXPECT_EQ(xpt->device_entries(), 2U);
  EXPECT_FALSE(xpt->device({bus, 1, 1}));
}

TEST_F(XptTest, SubscriptionFilterSelectsPath) {
  std::atomic<int> calls{0};
  auto sub = xpt->subscribe(static_cast<std::uint32_t>(AsyncCode::BusReset),
                            Path{bus, 1, Path::kWildcardLun},
                            [&](const AsyncEvent&) { calls.fetch_add(1); });
  xpt->post_async({AsyncCode::BusReset, {bus, 0, 0}});
  xpt->post_async({AsyncCode::BusReset, {bus, 1, 1}});
  xpt->post_async({AsyncCode::LostDevice, {bus, 1, 1}});
  xpt->drain();
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(XptTest, AdvinfoStoreRaisesEventOnlyOnChange) {
  ASSERT_TRUE(xpt->scan_all());
  EventLog log(*xpt, static_cast<std::uint32_t>(AsyncCode::AdvinfoChanged));
  const std::string path = "id1,enc@n5000c50012345678/type@0/slot@1";
  const Bytes bytes(reinterpret_cast<const std::uint8_t*>(path.data()), path.size());
  ASSERT_TRUE(xpt->set_advinfo({bus, 0, 0}, AdvinfoType::PhysPath, bytes));
  ASSERT_TRUE(xpt->set_advinfo({bus, 0, 0}, AdvinfoType::PhysPath, bytes));
  xpt->drain();
  EXPECT_EQ(log.count(AsyncCode::AdvinfoChanged), 1U);
  auto info = xpt->device({bus, 0, 0});
  ASSERT_TRUE(info);
  const auto& stored = info->advinfo.at(AdvinfoType::PhysPath);
  EXPECT_EQ(std::string(stored.begin(), stored.end()), path);
  ASSERT_TRUE(xpt->set_advinfo({bus, 0, 0}, AdvinfoType::PhysPath, {}));
  xpt->drain();
  EXPECT_EQ(log.count(AsyncCode::AdvinfoChanged), 2U);
  EXPECT_EQ(xpt->device({bus, 0, 0})->advinfo.count(AdvinfoType::PhysPath), 0U);
  EXPECT_FALSE(xpt->set_advinfo({bus, 3, 0}, AdvinfoType::PhysPath, bytes));
}

TEST_F(XptTest, DeregisterBusLosesDevicesAndAbortsParkedCommands) {
  ASSERT_TRUE(xpt->scan_all());
  EventLog log(*xpt);
  sim->script(0, 0, {FakeSim::Outcome::Park});
  std::atomic<bool> finished{false};
  Ccb ccb = tur({bus, 0, 0});
  ccb.done = [](Ccb&, void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); };
  ccb.done_arg = &finished;
  xpt->action(ccb);
  xpt->deregister_bus(bus);
  ASSERT_TRUE(wait_until([&] { return finished.load(); }));
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  xpt->drain();
  EXPECT_EQ(log.count(AsyncCode::LostDevice), 3U);
  EXPECT_EQ(log.count(AsyncCode::PathDeregistered), 1U);
  EXPECT_TRUE(xpt->devices().empty());
  bus = sim->register_bus();  // For TearDown.
}

TEST_F(XptTest, SimStatsCountCompletedScsiIoAndErrorsAfterRecovery) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  const SimStats before = sim_stats_of(*xpt, bus);

  auto good = tur({bus, 0, 0});
  xpt->run_sync(good);
  ASSERT_EQ(good.status, CamStatus::ReqCmp);
  sim->script(0, 0, {FakeSim::Outcome::SelTimeout});
  auto failed = tur({bus, 0, 0});
  xpt->run_sync(failed);
  ASSERT_EQ(failed.status, CamStatus::SelTimeout);
  // Two UNIT ATTENTIONs retried away: one CCB, no error, two retries.
  sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x06, 0x29, 0x00}, 2);
  auto recovered = tur({bus, 0, 0});
  xpt->run_sync(recovered);
  ASSERT_EQ(recovered.status, CamStatus::ReqCmp);
  // No device at the path: completes with DevNotThere, still on this bus.
  auto absent = tur({bus, 3, 0});
  xpt->run_sync(absent);
  ASSERT_EQ(absent.status, CamStatus::DevNotThere);
  // Not SCSI I/O: not counted.
  Ccb noop;
  noop.func = FuncCode::Noop;
  noop.path = {bus, 0, 0};
  xpt->run_sync(noop);

  const SimStats d = delta(before, sim_stats_of(*xpt, bus));
  EXPECT_EQ(d.ccbs, 4U);
  EXPECT_EQ(d.errors, 2U);
  EXPECT_EQ(d.retries, 2U);
  EXPECT_EQ(d.timeouts, 0U);
  EXPECT_EQ(d.sim_name, "fake");
  EXPECT_EQ(d.path_id, bus);
}

TEST_F(XptTest, SimStatsAreKeptPerBus) {
  FakeSim other_sim(*xpt);
  other_sim.add_lun(0, 0);
  const std::uint32_t other = other_sim.register_bus();
  ASSERT_NE(other, bus);
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  const SimStats before = sim_stats_of(*xpt, bus);
  const SimStats other_before = sim_stats_of(*xpt, other);

  for (int i = 0; i < 3; ++i) {
    auto ccb = tur({bus, 0, 0});
    xpt->run_sync(ccb);
  }
  other_sim.script(0, 0, {FakeSim::Outcome::SelTimeout});
  auto failed = tur({other, 0, 0});
  xpt->run_sync(failed);

  const auto all = xpt->sim_stats();
  ASSERT_EQ(all.size(), 2U);
  EXPECT_LT(all[0].path_id, all[1].path_id);
  const SimStats d = delta(before, sim_stats_of(*xpt, bus));
  const SimStats other_d = delta(other_before, sim_stats_of(*xpt, other));
  EXPECT_EQ(d.ccbs, 3U);
  EXPECT_EQ(d.errors, 0U);
  EXPECT_EQ(other_d.ccbs, 1U);
  EXPECT_EQ(other_d.errors, 1U);

  xpt->deregister_bus(other);
  ASSERT_EQ(xpt->sim_stats().size(), 1U);
  EXPECT_EQ(xpt->sim_stats()[0].path_id, bus);
}

TEST_F(XptTest, SimStatsCountATimeoutAsAnErrorNoSoonerThanTheTimeout) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  const SimStats before = sim_stats_of(*xpt, bus);
  sim->script(0, 0, {FakeSim::Outcome::Park});
  auto ccb = tur({bus, 0, 0});
  ccb.timeout = std::chrono::milliseconds(20);
  xpt->run_sync(ccb);
  ASSERT_EQ(ccb.status, CamStatus::CmdTimeout);

  const SimStats d = delta(before, sim_stats_of(*xpt, bus));
  EXPECT_EQ(d.timeouts, 1U);
  EXPECT_EQ(d.errors, 1U);
  EXPECT_EQ(d.ccbs, 1U);
  EXPECT_GE(d.latency_sum_seconds, 0.020 * kClockTolerance);
}

TEST_F(XptTest, SimStatsLatencyBucketsAddUpToCcbsAndBoundTheSum) {
  ASSERT_TRUE(xpt->scan_all());  // Probes count too: INQUIRY, REPORT LUNS, VPD pages.
  for (int i = 0; i < 10; ++i) {
    auto ccb = tur({bus, static_cast<std::uint32_t>(i % 2), 0});
    xpt->run_sync(ccb);
  }
  const SimStats s = sim_stats_of(*xpt, bus);
  EXPECT_GE(s.ccbs, 10U);
  EXPECT_EQ(bucket_total(s), s.ccbs);
  // Each latency lies in (bound[i-1], bound[i]] of its bucket, so the sum lies between the
  // sums of the lower and upper bounds of the counted buckets.
  double low = 0;
  double high = 0;
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    low += static_cast<double>(s.latency_buckets[i]) * (i == 0 ? 0.0 : kLatencyBounds[i - 1]);
    high += static_cast<double>(s.latency_buckets[i]) * kLatencyBounds[i];
  }
  EXPECT_EQ(s.latency_buckets.back(), 0U);  // Nothing took more than 10 s.
  EXPECT_GT(s.latency_sum_seconds, 0.0);
  EXPECT_GE(s.latency_sum_seconds, low);
  EXPECT_LE(s.latency_sum_seconds, high);
}

TEST_F(XptTest, SimStatsPutADelayedCompletionInABucketAtLeastItsDelay) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  const SimStats before = sim_stats_of(*xpt, bus);
  constexpr auto kDelay = std::chrono::milliseconds(10);
  sim->script(0, 0, {FakeSim::Outcome::Park});
  std::atomic<bool> finished{false};
  Ccb ccb = tur({bus, 0, 0});
  ccb.done = [](Ccb&, void* arg) { static_cast<std::atomic<bool>*>(arg)->store(true); };
  ccb.done_arg = &finished;
  const auto submitted = std::chrono::steady_clock::now();
  xpt->action(ccb);
  ASSERT_TRUE(wait_until([&] { return sim->parked() == 1; }));
  // The SIM holds the CCB until kDelay has passed since it was submitted.
  ASSERT_TRUE(wait_until([&] { return std::chrono::steady_clock::now() - submitted >= kDelay; }));
  sim->flush_parked(CamStatus::ReqCmp);
  ASSERT_TRUE(wait_until([&] { return finished.load(); }));

  const SimStats d = delta(before, sim_stats_of(*xpt, bus));
  ASSERT_EQ(d.ccbs, 1U);
  const double delay = std::chrono::duration<double>(kDelay).count();
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    if (kLatencyBounds[i] < delay) {
      EXPECT_EQ(d.latency_buckets[i], 0U) << "bucket le=" << kLatencyBounds[i];
    }
  }
  EXPECT_GE(d.latency_sum_seconds, delay * kClockTolerance);
}

TEST_F(XptTest, SimStatsOfAReregisteredBusStartFromZero) {
  ASSERT_TRUE(xpt->scan_all());
  auto ccb = tur({bus, 0, 0});
  xpt->run_sync(ccb);
  ASSERT_GT(sim_stats_of(*xpt, bus).ccbs, 0U);
  const std::uint32_t old = bus;
  xpt->deregister_bus(bus);
  EXPECT_TRUE(xpt->sim_stats().empty());
  bus = sim->register_bus();
  ASSERT_NE(bus, old);
  const SimStats s = sim_stats_of(*xpt, bus);
  EXPECT_EQ(s.ccbs, 0U);
  EXPECT_EQ(bucket_total(s), 0U);
  EXPECT_EQ(s.latency_sum_seconds, 0.0);
}

// A CCB keeps the device it last ran on as a lookup cache (Xpt::resolve_device). The cache must
// never outlive what it names: a device lost and found again at the same path is a new device.
TEST_F(XptTest, ReusedCcbRunsOnTheDeviceThatReplacedALostOne) {
  ASSERT_TRUE(xpt->scan_all());
  Ccb ccb = tur({bus, 1, 1}, Recovery::None);
  xpt->run_sync(ccb);
  ASSERT_EQ(ccb.status, CamStatus::ReqCmp);
  sim->remove_lun(1, 1);
  ASSERT_TRUE(xpt->scan(Path{bus, 1, Path::kWildcardLun}));
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  sim->add_lun(1, 1, 3, "PROC2");
  ASSERT_TRUE(xpt->scan(Path{bus, 1, Path::kWildcardLun}));
  ASSERT_TRUE(xpt->device(Path{bus, 1, 1}));
  const std::size_t seen = sim->commands_seen(0x00);
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(sim->commands_seen(0x00), seen + 1);
}

TEST_F(XptTest, ReusedCcbOnAnotherPathRunsThere) {
  ASSERT_TRUE(xpt->scan_all());
  Ccb ccb = tur({bus, 0, 0}, Recovery::None);
  xpt->run_sync(ccb);
  ASSERT_EQ(ccb.status, CamStatus::ReqCmp);
  ccb.path = {bus, 2, 0};  // Nothing there.
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  ccb.path = {bus, 1, 0};
  const auto before = sim->commands().size();
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  const auto commands = sim->commands();
  ASSERT_EQ(commands.size(), before + 1);
  EXPECT_EQ(commands.back().path, (Path{bus, 1, 0}));
}

// Completions from many threads on one bus are counted once each: the per-thread stripes of
// the bus's statistics and of the XPT's counters add up.
TEST_F(XptTest, SimStatsCountEveryCompletionFromManyThreads) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  const SimStats before = sim_stats_of(*xpt, bus);
  const auto started = xpt->stats().ccbs_started;
  constexpr int kThreads = 24;  // More than the stripes, so some threads share one.
  constexpr int kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Ccb ccb = tur({bus, static_cast<std::uint32_t>(t % 2), 0}, Recovery::None);
      for (int i = 0; i < kEach; ++i) {
        xpt->run_sync(ccb);
        ASSERT_EQ(ccb.status, CamStatus::ReqCmp);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const SimStats d = delta(before, sim_stats_of(*xpt, bus));
  EXPECT_EQ(d.ccbs, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(bucket_total(d), d.ccbs);
  EXPECT_EQ(d.errors, 0U);
  const auto s = xpt->stats();
  EXPECT_EQ(s.ccbs_started - started, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(s.ccbs_outstanding, 0U);
}

// A completion callback on one XPT may issue a CCB on another, which then completes on the
// first one's thread. Each XPT must still count its own: its timer skips the timeout walk when
// every CCB it started has completed.
TEST_F(XptTest, ANoopIssuedFromAnotherXptsCompletionCountsOnItsOwnXpt) {
  auto other = Xpt::create(fast_config());
  FakeSim other_sim(*other);
  other_sim.add_lun(0, 0);
  const std::uint32_t other_bus = other_sim.register_bus();
  ASSERT_TRUE(other->scan_all());
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  other->drain();
  struct Context {
    Xpt* xpt = nullptr;
    Ccb noop, absent;
    std::atomic<int> done{0};
  } context;
  context.xpt = xpt.get();
  context.noop.func = FuncCode::Noop;
  context.noop.path = {bus, 0, 0};
  context.absent = tur({bus, 2, 0}, Recovery::None);  // No device there.
  for (Ccb* c : {&context.noop, &context.absent}) {
    c->done = [](Ccb&, void* arg) { static_cast<Context*>(arg)->done.fetch_add(1); };
    c->done_arg = &context;
  }
  Ccb first = tur({other_bus, 0, 0}, Recovery::None);
  first.done = [](Ccb&, void* arg) {
    auto* c = static_cast<Context*>(arg);
    c->xpt->action(c->noop);
    c->xpt->action(c->absent);
  };
  first.done_arg = &context;
  other->action(first);
  ASSERT_TRUE(wait_until([&] { return context.done.load() == 2; }));
  EXPECT_EQ(context.absent.status, CamStatus::DevNotThere);
  xpt->drain();
  other->drain();
  for (Xpt* x : {xpt.get(), other.get()}) {
    const auto s = x->stats();
    EXPECT_EQ(s.ccbs_started, s.ccbs_completed);
    EXPECT_EQ(s.ccbs_outstanding, 0U);
  }
  other->deregister_bus(other_bus);
}

// A CCB may outlive the XPT it last ran on, still holding one of its devices; another XPT,
// possibly built at the same address, must look its own device up.
TEST(XptCcbCache, ACcbThatOutlivedItsXptRunsOnTheNextOne) {
  Ccb ccb = tur({0, 0, 0}, Recovery::None);
  for (int round = 0; round < 3; ++round) {
    auto xpt = Xpt::create(fast_config());
    auto sim = std::make_unique<FakeSim>(*xpt);
    sim->add_lun(0, 0, 0, "DISK" + std::to_string(round));
    const std::uint32_t bus = sim->register_bus();
    ASSERT_TRUE(xpt->scan_all());
    ccb.path = {bus, 0, 0};
    const std::size_t seen = sim->commands_seen(0x00);
    const SimStats before = sim_stats_of(*xpt, bus);
    xpt->run_sync(ccb);
    EXPECT_EQ(ccb.status, CamStatus::ReqCmp) << "round " << round;
    EXPECT_EQ(sim->commands_seen(0x00), seen + 1) << "round " << round;
    EXPECT_EQ(delta(before, sim_stats_of(*xpt, bus)).ccbs, 1U) << "round " << round;
    xpt->deregister_bus(bus);
    sim.reset();
    xpt.reset();
  }
}

}  // namespace
}  // namespace ucam::cam

namespace ucam::cam {
namespace {

TEST_F(XptTest, CancelTokenAbortsARunSyncStuckInTheSim) {
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  sim->script(0, 0, {FakeSim::Outcome::Park});
  CancelToken token;
  Ccb ccb = tur({bus, 0, 0});
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    xpt->run_sync(ccb, &token);
    returned = true;
  });
  ASSERT_TRUE(wait_until([&] { return sim->parked() == 1; }));
  EXPECT_FALSE(returned.load());
  token.cancel();  // From another thread, as ucamd does when the client died.
  ASSERT_TRUE(wait_until([&] { return returned.load(); }));
  waiter.join();
  EXPECT_EQ(ccb.status, CamStatus::ReqAborted);
  EXPECT_EQ(sim->parked(), 0U);
  // A cancelled token refuses later commands without sending them.
  Ccb later = tur({bus, 0, 0});
  xpt->run_sync(later, &token);
  EXPECT_EQ(later.status, CamStatus::ReqAborted);
  EXPECT_EQ(sim->parked(), 0U);
  // A token that is never cancelled changes nothing.
  CancelToken idle;
  Ccb normal = tur({bus, 1, 0});
  xpt->run_sync(normal, &idle);
  EXPECT_EQ(normal.status, CamStatus::ReqCmp);
}

}  // namespace
}  // namespace ucam::cam
