// What real transports need from the XPT: SIM queue freeze/release, the bus's maximum transfer
// size (maxio), and scans that probe only the targets a SIM lists.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "base/check.h"
#include "cam/xpt.h"
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

// A TEST UNIT READY whose control byte carries `tag`, so the order the SIM saw them in shows.
Ccb tagged_tur(const Path& path, std::uint8_t tag) {
  Ccb ccb;
  ccb.path = path;
  const std::uint8_t cdb[6] = {0, 0, 0, 0, 0, tag};
  ccb.set_cdb(cdb);
  return ccb;
}

void count_done(Ccb& /*ccb*/, void* arg) {
  static_cast<std::atomic<int>*>(arg)->fetch_add(1);
}

// The tags of the TEST UNIT READYs the SIM received for `path`, in arrival order.
std::vector<std::uint8_t> tur_tags(const FakeSim& sim, const Path& path) {
  std::vector<std::uint8_t> tags;
  for (const auto& c : sim.commands()) {
    if (c.path == path && c.cdb.size() == 6 && c.cdb[0] == 0x00) {
      tags.push_back(c.cdb[5]);
    }
  }
  return tags;
}

struct EventLog {
  std::mutex m;
  std::vector<AsyncEvent> events;
  std::unique_ptr<Subscription> sub;
  explicit EventLog(Xpt& xpt) {
    sub = xpt.subscribe(kAllAsyncCodes, Path::wildcard(), [this](const AsyncEvent& e) {
      std::lock_guard lock(m);
      events.push_back(e);
    });
  }
  std::vector<Path> paths_of(AsyncCode code) {
    std::lock_guard lock(m);
    std::vector<Path> out;
    for (const auto& e : events) {
      if (e.code == code) {
        out.push_back(e.path);
      }
    }
    return out;
  }
};

class XptTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xpt = Xpt::create(fast_config());
    sim = std::make_unique<FakeSim>(*xpt, 200);
  }
  void TearDown() override {
    if (registered) {
      xpt->deregister_bus(bus);
    }
    sim.reset();
    xpt.reset();
  }
  void start() {
    bus = sim->register_bus();
    registered = true;
    ASSERT_TRUE(xpt->scan_all());
    xpt->drain();
  }
  std::unique_ptr<Xpt> xpt;
  std::unique_ptr<FakeSim> sim;
  std::uint32_t bus = 0;
  bool registered = false;
};

// --- SIM queue freeze -------------------------------------------------------------------------

TEST_F(XptTransportTest, FrozenSimQueueHoldsEveryDeviceAndReleaseStartsThemInOrder) {
  sim->add_lun(0, 0);
  sim->add_lun(1, 0);
  start();
  const Path disk0{bus, 0, 0};
  const Path disk1{bus, 1, 0};
  ASSERT_TRUE(xpt->freeze_simq(bus));
  std::atomic<int> done{0};
  std::vector<Ccb> ccbs;
  ccbs.reserve(6);
  for (std::uint8_t tag = 1; tag <= 6; ++tag) {
    ccbs.push_back(tagged_tur(tag % 2 == 1 ? disk0 : disk1, tag));
  }
  const std::size_t seen_before = sim->commands().size();
  for (auto& c : ccbs) {
    c.done = count_done;
    c.done_arg = &done;
    xpt->action(c);
  }
  // action() dispatches on the calling thread: had the freeze let one through, it would be in
  // the SIM by now.
  EXPECT_EQ(sim->commands().size(), seen_before);
  EXPECT_EQ(done.load(), 0);
  ASSERT_TRUE(xpt->release_simq(bus));
  ASSERT_TRUE(wait_until([&] { return done.load() == 6; }));
  EXPECT_EQ(tur_tags(*sim, disk0), (std::vector<std::uint8_t>{1, 3, 5}));
  EXPECT_EQ(tur_tags(*sim, disk1), (std::vector<std::uint8_t>{2, 4, 6}));
  for (const auto& c : ccbs) {
    EXPECT_EQ(c.status, CamStatus::ReqCmp);
  }
  EXPECT_EQ(xpt->stats().ccbs_outstanding, 0U);
}

TEST_F(XptTransportTest, FreezesCountAndOnlyTheLastReleaseStartsTheQueue) {
  sim->add_lun(0, 0);
  start();
  ASSERT_TRUE(xpt->freeze_simq(bus));
  ASSERT_TRUE(xpt->freeze_simq(bus));
  std::atomic<int> done{0};
  Ccb ccb = tagged_tur({bus, 0, 0}, 7);
  ccb.done = count_done;
  ccb.done_arg = &done;
  xpt->action(ccb);
  ASSERT_TRUE(xpt->release_simq(bus));
  EXPECT_TRUE(tur_tags(*sim, {bus, 0, 0}).empty());  // Still frozen once.
  EXPECT_EQ(done.load(), 0);
  ASSERT_TRUE(xpt->release_simq(bus));
  ASSERT_TRUE(wait_until([&] { return done.load() == 1; }));
  EXPECT_EQ(tur_tags(*sim, {bus, 0, 0}), (std::vector<std::uint8_t>{7}));
  // Unbalanced release and unknown buses are errors, not silent.
  auto extra = xpt->release_simq(bus);
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().errno_value(), EINVAL);
  auto unknown = xpt->freeze_simq(bus + 100);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().errno_value(), ENXIO);
  EXPECT_FALSE(xpt->release_simq(bus + 100));
}

TEST_F(XptTransportTest, RequeuedCommandWaitsForTheReleaseOfAFrozenSimQueue) {
  sim->add_lun(0, 0);
  start();
  sim->script(0, 0, {FakeSim::Outcome::Park});
  std::atomic<int> done{0};
  Ccb ccb = tagged_tur({bus, 0, 0}, 9);
  ccb.done = count_done;
  ccb.done_arg = &done;
  xpt->action(ccb);
  ASSERT_EQ(sim->parked(), 1U);
  // What a SIM whose session dropped does: freeze, then hand back what it held as Requeue.
  ASSERT_TRUE(xpt->freeze_simq(bus));
  sim->flush_parked(CamStatus::Requeue);
  ASSERT_TRUE(wait_until([&] { return xpt->stats().retries == 1; }));
  EXPECT_EQ(done.load(), 0);
  EXPECT_EQ(tur_tags(*sim, {bus, 0, 0}).size(), 1U);  // The retry waits in the queue.
  ASSERT_TRUE(xpt->release_simq(bus));
  ASSERT_TRUE(wait_until([&] { return done.load() == 1; }));
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(tur_tags(*sim, {bus, 0, 0}), (std::vector<std::uint8_t>{9, 9}));
}

TEST_F(XptTransportTest, DeregisteringAFrozenBusCompletesWhatWaitsWithDevNotThere) {
  sim->add_lun(0, 0);
  start();
  ASSERT_TRUE(xpt->freeze_simq(bus));
  std::atomic<int> done{0};
  Ccb ccb = tagged_tur({bus, 0, 0}, 1);
  ccb.done = count_done;
  ccb.done_arg = &done;
  xpt->action(ccb);
  xpt->deregister_bus(bus);
  registered = false;
  ASSERT_TRUE(wait_until([&] { return done.load() == 1; }));
  EXPECT_EQ(ccb.status, CamStatus::DevNotThere);
  EXPECT_TRUE(tur_tags(*sim, {bus, 0, 0}).empty());
}

TEST_F(XptTransportTest, ReleaseRacingWithNewCommandsLosesNone) {
  sim->add_lun(0, 0);
  start();
  constexpr int kRounds = 200;
  constexpr int kPerRound = 4;
  std::atomic<int> done{0};
  std::vector<Ccb> ccbs(kRounds * kPerRound);
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(xpt->freeze_simq(bus));
    std::thread submitter([&, round] {
      for (int i = 0; i < kPerRound; ++i) {
        Ccb& c = ccbs[static_cast<std::size_t>(round * kPerRound + i)];
        c = tagged_tur({bus, 0, 0}, static_cast<std::uint8_t>(i));
        c.done = count_done;
        c.done_arg = &done;
        xpt->action(c);
      }
    });
    ASSERT_TRUE(xpt->release_simq(bus));
    submitter.join();
    ASSERT_TRUE(wait_until([&] { return done.load() == (round + 1) * kPerRound; }))
        << "round " << round << ": a CCB was left in a released queue";
  }
}

// --- direct completion -------------------------------------------------------------------------

TEST_F(XptTransportTest, DirectCompletionRunsCallbacksOnTheSimThreadBeforeItReturns) {
  sim->add_lun(0, 0);
  start();
  sim->set_direct_completion(true);
  sim->script(0, 0, {FakeSim::Outcome::Async}, 2);
  struct Seen {
    Xpt* xpt = nullptr;
    Ccb* next = nullptr;
    std::mutex m;
    std::vector<std::thread::id> threads;
    std::vector<bool> no_block;
    std::atomic<int> done{0};
  } seen;
  seen.xpt = xpt.get();
  const auto record = [](Ccb&, void* arg) {
    auto* s = static_cast<Seen*>(arg);
    {
      std::lock_guard lock(s->m);
      s->threads.push_back(std::this_thread::get_id());
      s->no_block.push_back(in_no_block_scope());
    }
    if (s->next != nullptr) {
      Ccb* next = std::exchange(s->next, nullptr);
      s->xpt->action(*next);  // The next command, from the callback (on the SIM's thread).
    }
    s->done.fetch_add(1);
  };
  Ccb first = tagged_tur({bus, 0, 0}, 1);
  Ccb second = tagged_tur({bus, 0, 0}, 2);
  first.done = second.done = record;
  first.done_arg = second.done_arg = &seen;
  seen.next = &second;
  // Completed once action() has returned (a completion that beats it runs on the submitting
  // thread: ACompletionFromAnotherThreadBeforeActionReturnsRunsOnce).
  sim->pause_worker();
  xpt->action(first);
  sim->resume_worker();
  ASSERT_TRUE(wait_until([&] { return seen.done.load() == 2; }));
  std::lock_guard lock(seen.m);
  EXPECT_EQ(seen.threads, (std::vector<std::thread::id>{sim->worker_id(), sim->worker_id()}));
  EXPECT_EQ(seen.no_block, (std::vector<bool>{true, true}));
  EXPECT_EQ(first.status, CamStatus::ReqCmp);
  EXPECT_EQ(second.status, CamStatus::ReqCmp);
  EXPECT_EQ(tur_tags(*sim, {bus, 0, 0}), (std::vector<std::uint8_t>{1, 2}));
  EXPECT_TRUE(wait_until([&] { return xpt->stats().ccbs_outstanding == 0; }));
}

// --- maxio ------------------------------------------------------------------------------------

TEST_F(XptTransportTest, TransferAboveMaxioCompletesWithReqTooBigAndIsNotSent) {
  sim->set_maxio(4096);
  sim->add_lun(0, 0);
  start();
  ASSERT_EQ(xpt->buses().size(), 1U);
  EXPECT_EQ(xpt->buses()[0].inquiry.maxio, 4096U);
  auto info = xpt->device({bus, 0, 0});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->maxio, 4096U);  // Periphs read it from the device database.

  std::vector<std::uint8_t> buffer(8192);
  const auto read10 = [&](std::uint32_t bytes) {
    Ccb ccb;
    ccb.path = {bus, 0, 0};
    const std::uint8_t cdb[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(bytes / 512),
                                  0};
    ccb.set_cdb(cdb);
    ccb.dir = DataDir::In;
    ccb.data = buffer.data();
    ccb.dxfer_len = bytes;
    xpt->run_sync(ccb);
    return ccb;
  };
  const auto reads_seen = [&] { return sim->commands_seen(0x28); };
  const auto big = read10(8192);
  EXPECT_EQ(big.status, CamStatus::ReqTooBig);
  EXPECT_EQ(big.resid, 8192U);
  EXPECT_EQ(reads_seen(), 0U);
  EXPECT_EQ(Error::from_cam(big.status, "").errno_value(), E2BIG);
  const auto fits = read10(4096);
  EXPECT_EQ(fits.status, CamStatus::ReqCmp);
  EXPECT_EQ(reads_seen(), 1U);
}

TEST_F(XptTransportTest, NoMaxioMeansNoLimit) {
  sim->add_lun(0, 0);
  start();
  std::vector<std::uint8_t> buffer(1 << 20);
  Ccb ccb;
  ccb.path = {bus, 0, 0};
  const std::uint8_t cdb[10] = {0x28, 0, 0, 0, 0, 0, 0, 0x08, 0, 0};
  ccb.set_cdb(cdb);
  ccb.dir = DataDir::In;
  ccb.data = buffer.data();
  ccb.dxfer_len = static_cast<std::uint32_t>(buffer.size());
  xpt->run_sync(ccb);
  EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
}

TEST_F(XptTransportTest, MaxioIsReadAgainForEachNewDeviceEntryAndKeptByOldOnes) {
  sim->set_maxio(4096);
  sim->add_lun(0, 0);
  start();
  // A device with a smaller limit arrives: the SIM's maxio shrinks, the bus's cached
  // PathInquiry does not.
  sim->set_maxio(1024);
  sim->add_lun(1, 0);
  ASSERT_TRUE(xpt->scan({bus, 1, Path::kWildcardLun}));
  xpt->drain();
  EXPECT_EQ(xpt->buses()[0].inquiry.maxio, 4096U);
  ASSERT_TRUE(xpt->device({bus, 0, 0}) && xpt->device({bus, 1, 0}));
  EXPECT_EQ(xpt->device({bus, 0, 0})->maxio, 4096U);
  EXPECT_EQ(xpt->device({bus, 1, 0})->maxio, 1024U);

  std::vector<std::uint8_t> buffer(2048);
  const auto read10 = [&](std::uint32_t target) {
    Ccb ccb;
    ccb.path = {bus, target, 0};
    const std::uint8_t cdb[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0};
    ccb.set_cdb(cdb);
    ccb.dir = DataDir::In;
    ccb.data = buffer.data();
    ccb.dxfer_len = static_cast<std::uint32_t>(buffer.size());
    xpt->run_sync(ccb);
    return ccb.status;
  };
  EXPECT_EQ(read10(1), CamStatus::ReqTooBig);
  EXPECT_EQ(sim->commands_seen(0x28), 0U);
  EXPECT_EQ(read10(0), CamStatus::ReqCmp);  // The earlier device keeps its own limit.
  EXPECT_EQ(sim->commands_seen(0x28), 1U);
}

// --- listed targets -----------------------------------------------------------------------------

std::set<std::uint32_t> targets_addressed(const FakeSim& sim, std::size_t from = 0) {
  std::set<std::uint32_t> out;
  const auto all = sim.commands();
  for (std::size_t i = from; i < all.size(); ++i) {
    out.insert(all[i].path.target);
  }
  return out;
}

TEST_F(XptTransportTest, ScanProbesOnlyTheTargetsTheSimLists) {
  sim->add_lun(3, 0, 0, "LISTED3");
  sim->add_lun(3, 1, 0, "LISTED3B");
  sim->add_lun(7, 0, 0, "LISTED7");
  sim->add_lun(5, 0, 0, "UNLISTED");  // Answers if asked; the SIM does not list it.
  sim->set_listed_targets(std::vector<std::uint32_t>{7, 3, 7});
  start();
  EXPECT_EQ(targets_addressed(*sim), (std::set<std::uint32_t>{3, 7}));
  std::vector<Path> paths;
  for (const auto& d : xpt->devices()) {
    paths.push_back(d.path);
  }
  EXPECT_EQ(paths, (std::vector<Path>{{bus, 3, 0}, {bus, 3, 1}, {bus, 7, 0}}));
}

TEST_F(XptTransportTest, TargetLeavingTheListIsLostWithoutAProbe) {
  sim->add_lun(3, 0);
  sim->add_lun(7, 0);
  sim->set_listed_targets(std::vector<std::uint32_t>{3, 7});
  start();
  ASSERT_EQ(xpt->devices().size(), 2U);
  EventLog log(*xpt);
  sim->set_listed_targets(std::vector<std::uint32_t>{7});
  const std::size_t before = sim->commands().size();
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  EXPECT_EQ(targets_addressed(*sim, before), (std::set<std::uint32_t>{7}));
  EXPECT_EQ(log.paths_of(AsyncCode::LostDevice), (std::vector<Path>{{bus, 3, 0}}));
  ASSERT_EQ(xpt->devices().size(), 1U);
  // An empty list (a transport that lost its target) loses everything, still without probes.
  sim->set_listed_targets(std::vector<std::uint32_t>{});
  const std::size_t before_empty = sim->commands().size();
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  EXPECT_EQ(sim->commands().size(), before_empty);
  EXPECT_TRUE(xpt->devices().empty());
  // And the target comes back through a scan once listed again.
  sim->set_listed_targets(std::vector<std::uint32_t>{3, 7});
  ASSERT_TRUE(xpt->scan_all());
  xpt->drain();
  EXPECT_EQ(xpt->devices().size(), 2U);
}

TEST_F(XptTransportTest, WithoutAListEveryTargetUpToMaxTargetIsProbed) {
  sim->add_lun(5, 0);
  start();
  EXPECT_EQ(targets_addressed(*sim).size(), 201U);  // 0..200.
  EXPECT_EQ(xpt->devices().size(), 1U);
}

}  // namespace
}  // namespace ucam::cam
