// The iSCSI SIM when its session drops: tgt stopped under it (its connection reset), started
// again, or not. Commands fail cleanly or wait, never hang; devices stay through a short outage,
// depart after the loss timeout and return through the normal lifecycle.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/iscsi/iscsi_stack.h"

namespace ucam::iscsi {
namespace {

using testing::IscsiStack;
using testing::quick_config;
using testing::wait_until;

// An asynchronous TEST UNIT READY whose completion a test can wait for.
struct PendingTur {
  cam::Ccb ccb;
  std::atomic<bool> done{false};
  void send(cam::Xpt& xpt, const cam::Path& path,
            cam::Recovery recovery = cam::Recovery::Standard) {
    ccb.path = path;
    const std::uint8_t cdb[6] = {};
    ccb.set_cdb(cdb);
    ccb.recovery = recovery;
    ccb.done = [](cam::Ccb&, void* arg) {
      static_cast<std::atomic<bool>*>(arg)->store(true, std::memory_order_release);
    };
    ccb.done_arg = &done;
    xpt.action(ccb);
  }
  bool completed() const { return done.load(std::memory_order_acquire); }
};

TEST(IscsiSession, TargetStoppedMidRunFailsCommandsCleanlyAndItsDevicesReturnWithIt) {
  UCAM_START_TGT_OR_SKIP(peer);
  IscsiStack stack;
  auto config = quick_config(peer->url());
  config.loss_timeout = std::chrono::milliseconds(1500);
  ASSERT_TRUE(stack.start(config)) << stack.error->message();
  ASSERT_EQ(stack.xpt->devices().size(), 5U);

  // Commands run back to back on two LUNs while the target goes away.
  std::atomic<bool> stop{false};
  std::mutex status_lock;
  std::set<CamStatus> statuses;
  std::atomic<std::uint64_t> answered{0};
  std::vector<std::thread> workers;
  for (std::uint64_t l : {1, 4}) {
    workers.emplace_back([&, l] {
      while (!stop.load()) {
        const CamStatus s = stack.tur(l, cam::Recovery::None);
        answered.fetch_add(1);
        std::lock_guard lock(status_lock);
        statuses.insert(s);
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return answered.load() > 20; }));
  ASSERT_TRUE(peer->stop());
  ASSERT_TRUE(stack.wait_for_state(SessionState::Reconnecting));
  EXPECT_EQ(stack.sim->describe().drops, 1U);
  // Past the loss timeout the devices depart and every command is answered at once.
  ASSERT_TRUE(stack.wait_for_state(SessionState::Lost));
  ASSERT_TRUE(wait_until([&] { return stack.xpt->devices().empty(); }));
  stack.settle();
  EXPECT_EQ(stack.events_of(cam::AsyncCode::LostDevice), 5U);
  EXPECT_FALSE(stack.devfs->open("da0"));
  const auto before = answered.load();
  ASSERT_TRUE(wait_until([&] { return answered.load() > before + 10; }));
  stop = true;
  for (auto& w : workers) {
    w.join();  // Would hang here if a command never completed.
  }
  {
    std::lock_guard lock(status_lock);
    const std::set<CamStatus> clean = {CamStatus::ReqCmp, CamStatus::Requeue, CamStatus::SelTimeout,
                                       CamStatus::DevNotThere, CamStatus::ScsiStatusError};
    for (CamStatus s : statuses) {
      EXPECT_TRUE(clean.count(s) == 1) << cam_status_name(s);
    }
    EXPECT_TRUE(statuses.count(CamStatus::DevNotThere) == 1 ||
                statuses.count(CamStatus::SelTimeout) == 1);
  }
  EXPECT_EQ(stack.tur(1), CamStatus::DevNotThere);

  // The target returns: the session logs in again and a rescan brings the devices back.
  ASSERT_TRUE(peer->restart());
  ASSERT_TRUE(stack.wait_for_state(SessionState::LoggedIn));
  ASSERT_TRUE(wait_until([&] { return stack.xpt->devices().size() == 5; }));
  stack.settle();
  EXPECT_EQ(stack.sim->describe().reconnects, 1U);
  EXPECT_EQ(stack.events_of(cam::AsyncCode::FoundDevice), 10U);  // 5 at start, 5 on return.
  EXPECT_EQ(stack.tur(1), CamStatus::ReqCmp);  // Its power-on UNIT ATTENTION retried.
  ASSERT_TRUE(wait_until([&] { return static_cast<bool>(stack.devfs->open("da0")); }));
  auto disk = stack.devfs->open("da0");
  ASSERT_TRUE(disk);
  std::vector<std::uint8_t> block(512, 0x5a), back(512);
  da::DaIo write(da::DaIo::kWrite);
  write.lba = 7;
  write.blocks = 1;
  write.data = block;
  ASSERT_TRUE(disk->ioctl(write));
  da::DaIo read(da::DaIo::kRead);
  read.lba = 7;
  read.blocks = 1;
  read.data = back;
  ASSERT_TRUE(disk->ioctl(read));
  EXPECT_EQ(back, block);
}

TEST(IscsiSession, AnOutageShorterThanTheLossTimeoutKeepsTheDevicesAndRunsWhatWaited) {
  UCAM_START_TGT_OR_SKIP(peer);
  IscsiStack stack;
  auto config = quick_config(peer->url());
  config.loss_timeout = std::chrono::seconds(60);
  ASSERT_TRUE(stack.start(config)) << stack.error->message();
  ASSERT_EQ(stack.xpt->devices().size(), 5U);
  auto pass = stack.devfs->open("pass1");
  ASSERT_TRUE(pass);

  ASSERT_TRUE(peer->stop());
  // The drop is seen by the next I/O on the dead socket, or at once through its reset.
  PendingTur waiting;
  waiting.send(*stack.xpt, stack.lun(1));
  ASSERT_TRUE(stack.wait_for_state(SessionState::Reconnecting));
  // The SIM queue is frozen: the command waits in the XPT instead of failing.
  PendingTur queued;
  queued.send(*stack.xpt, stack.lun(4));
  EXPECT_FALSE(queued.completed());

  ASSERT_TRUE(peer->restart());
  ASSERT_TRUE(stack.wait_for_state(SessionState::LoggedIn));
  ASSERT_TRUE(wait_until([&] { return waiting.completed() && queued.completed(); }));
  EXPECT_EQ(waiting.ccb.status, CamStatus::ReqCmp) << cam_status_name(waiting.ccb.status);
  EXPECT_EQ(queued.ccb.status, CamStatus::ReqCmp) << cam_status_name(queued.ccb.status);
  stack.settle();
  EXPECT_EQ(stack.events_of(cam::AsyncCode::LostDevice), 0U);
  EXPECT_EQ(stack.xpt->devices().size(), 5U);
  EXPECT_EQ(stack.sim->describe().reconnects, 1U);
  // The node opened before the outage still works.
  auto cmd = testing::tur_command_for_pass();
  ASSERT_TRUE(pass->ioctl(cmd));
  EXPECT_EQ(cmd.status, CamStatus::ReqCmp);
}

TEST(IscsiSession, AHungTargetIsNoticedByNopOutsAndTheSessionComesBackWithIt) {
  UCAM_START_TGT_OR_SKIP(peer);
  IscsiStack stack;
  auto config = quick_config(peer->url());
  config.nop_interval = std::chrono::milliseconds(100);
  config.login_timeout = std::chrono::milliseconds(500);
  ASSERT_TRUE(stack.start(config)) << stack.error->message();
  ASSERT_TRUE(peer->pause());
  // The connection stays up; only the unanswered NOP-Outs tell.
  ASSERT_TRUE(stack.wait_for_state(SessionState::Reconnecting));
  EXPECT_NE(stack.sim->describe().last_error.find("NOP-Out"), std::string::npos)
      << stack.sim->describe().last_error;
  PendingTur waiting;
  waiting.send(*stack.xpt, stack.lun(1));
  // Logins to the hung target time out and are retried.
  ASSERT_TRUE(wait_until([&] { return stack.sim->describe().failed_attempts >= 1; }));
  EXPECT_EQ(stack.sim->describe().state, SessionState::Reconnecting);
  ASSERT_TRUE(peer->resume());
  ASSERT_TRUE(stack.wait_for_state(SessionState::LoggedIn));
  ASSERT_TRUE(wait_until([&] { return waiting.completed(); }));
  EXPECT_EQ(waiting.ccb.status, CamStatus::ReqCmp) << cam_status_name(waiting.ccb.status);
  EXPECT_EQ(stack.xpt->devices().size(), 5U);
}

TEST(IscsiSession, StopCompletesWhatWaitsWithDevNotThere) {
  UCAM_START_TGT_OR_SKIP(peer);
  IscsiStack stack;
  ASSERT_TRUE(stack.start(quick_config(peer->url()))) << stack.error->message();
  ASSERT_TRUE(peer->stop());
  PendingTur first;
  first.send(*stack.xpt, stack.lun(1));
  ASSERT_TRUE(stack.wait_for_state(SessionState::Reconnecting));
  PendingTur second;
  second.send(*stack.xpt, stack.lun(2));
  stack.sim->stop();
  ASSERT_TRUE(wait_until([&] { return first.completed() && second.completed(); }));
  EXPECT_EQ(first.ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(second.ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(stack.sim->describe().state, SessionState::Stopped);
  EXPECT_EQ(stack.sim->describe().path_id, std::nullopt);
  EXPECT_TRUE(stack.xpt->buses().empty());
  EXPECT_TRUE(wait_until([&] { return stack.xpt->stats().ccbs_outstanding == 0; }));
}

TEST(IscsiSession, StopWhileLoggedInLogsOutAndAnswersLaterCommandsWithDevNotThere) {
  UCAM_START_TGT_OR_SKIP(peer);
  IscsiStack stack;
  ASSERT_TRUE(stack.start(quick_config(peer->url()))) << stack.error->message();
  EXPECT_EQ(stack.tur(1), CamStatus::ReqCmp);
  stack.sim->stop();
  stack.sim->stop();  // Idempotent.
  EXPECT_EQ(stack.tur(1), CamStatus::DevNotThere);
  EXPECT_TRUE(stack.xpt->devices().empty());
  // The target counts no session left behind: a new one logs in at once.
  IscsiStack again;
  ASSERT_TRUE(again.start(quick_config(peer->url()))) << again.error->message();
  EXPECT_EQ(again.tur(1), CamStatus::ReqCmp);
}

TEST(IscsiSession, AStopRacingCommandsFromManyThreadsLeavesNothingBehind) {
  UCAM_START_TGT_OR_SKIP(peer);
  for (int round = 0; round < 3; ++round) {
    IscsiStack stack;
    ASSERT_TRUE(stack.start(quick_config(peer->url()))) << stack.error->message();
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> answered{0};
    std::vector<std::thread> workers;
    for (std::uint64_t l = 0; l < 4; ++l) {
      workers.emplace_back([&, l] {
        while (!stop.load()) {
          const CamStatus s = stack.tur(l % 5, cam::Recovery::None);
          EXPECT_TRUE(s == CamStatus::ReqCmp || s == CamStatus::DevNotThere ||
                      s == CamStatus::ScsiStatusError)
              << cam_status_name(s);
          answered.fetch_add(1);
        }
      });
    }
    ASSERT_TRUE(wait_until([&] { return answered.load() > 50; }));
    stack.sim->stop();
    const auto after_stop = answered.load();
    ASSERT_TRUE(wait_until([&] { return answered.load() > after_stop + 20; }));
    stop = true;
    for (auto& w : workers) {
      w.join();
    }
    EXPECT_EQ(stack.xpt->stats().ccbs_outstanding, 0U);
  }
}

}  // namespace
}  // namespace ucam::iscsi
