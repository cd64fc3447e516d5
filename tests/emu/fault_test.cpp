// Fault injection, held commands (Delay, Hang), the Sim::abort() contract and removal of a
// device while commands are held.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "scsi/cdb.h"
#include "scsi/opcodes.h"
#include "scsi/sense.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

constexpr const char* kScenario = R"({"buses":[
  {"targets":[{"id":0,"luns":[{"lun":0},{"lun":1,"sense_format":"descriptor"}]},{"id":1}]},
  {"targets":[{"id":0}]}
]})";
constexpr LunAddress kLun0{0, 0, 0};
constexpr LunAddress kLun1{0, 0, 1};
constexpr LunAddress kOtherTarget{0, 1, 0};
constexpr LunAddress kOtherBus{1, 0, 0};
constexpr SenseCode kMediumError{0x03, 0x11, 0x00};
constexpr std::uint8_t kRead10 = static_cast<std::uint8_t>(scsi::Opcode::Read10);
constexpr std::uint8_t kTur = static_cast<std::uint8_t>(scsi::Opcode::TestUnitReady);
constexpr auto kLong = std::chrono::hours(1);  // A delay no test ever waits out.

class EmuFault : public ::testing::Test {
 protected:
  Harness h{kScenario};

  Reply tur(const LunAddress& at) { return h.run(at, scsi::test_unit_ready()); }
  Reply read(const LunAddress& at) { return h.read(at, scsi::read10(0, 1), 512); }

  // Submits a TUR and returns it still in flight.
  std::unique_ptr<Request> start(const LunAddress& at, const scsi::Cdb& cdb,
                                 cam::DataDir dir = cam::DataDir::None, std::size_t length = 0) {
    auto request = h.make(at, cdb, dir, std::vector<std::uint8_t>(length, 0xee));
    h.xpt.forget(request->ccb);
    h.submit(at.bus, *request);
    return request;
  }
};

// --- Immediate faults -------------------------------------------------------------------------

TEST_F(EmuFault, FailsTheNextNCommandsWithTheGivenSense) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition(kMediumError, 2)));
  for (int i = 0; i < 2; ++i) {
    const Reply r = read(kLun0);
    ASSERT_TRUE(r.check_condition()) << i;
    EXPECT_TRUE(r.autosense_valid);
    EXPECT_FALSE(r.descriptor_sense());
    EXPECT_EQ(r.sense_code(), kMediumError);
    EXPECT_EQ(r.resid, 512U);
  }
  EXPECT_TRUE(read(kLun0).good());
}

TEST_F(EmuFault, SenseFollowsTheLunsFormat) {
  ASSERT_TRUE(h.emu->inject(kLun1, Fault::check_condition(kMediumError)));
  const Reply r = read(kLun1);
  ASSERT_TRUE(r.check_condition());
  EXPECT_TRUE(r.descriptor_sense());
  EXPECT_EQ(r.sense_code(), kMediumError);
}

TEST_F(EmuFault, OpcodeFilterMatchesOnlyThatOpcode) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition(kMediumError, 1, kRead10)));
  EXPECT_TRUE(tur(kLun0).good());
  EXPECT_TRUE(h.read(kLun0, scsi::inquiry(scsi::InquiryData::Standard, 0, 36), 36).good());
  EXPECT_EQ(read(kLun0).sense_code(), kMediumError);
  EXPECT_TRUE(read(kLun0).good());
}

TEST_F(EmuFault, FaultsAreMatchedInArmingOrder) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition({0x04, 0x44, 0x00}, 1, kRead10)));
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition(kMediumError, 1)));
  EXPECT_EQ(tur(kLun0).sense_code(), kMediumError);  // The READ-only fault does not match.
  EXPECT_EQ(read(kLun0).sense_code(), (SenseCode{0x04, 0x44, 0x00}));
  EXPECT_TRUE(read(kLun0).good());
}

TEST_F(EmuFault, EveryCommandFaultLastsUntilCleared) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition(kMediumError, Fault::kEveryCommand)));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(tur(kLun0).sense_code(), kMediumError);
  }
  ASSERT_TRUE(h.emu->clear_faults(kLun0));
  EXPECT_TRUE(tur(kLun0).good());
}

TEST_F(EmuFault, FaultsStayOnTheirLun) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition(kMediumError, Fault::kEveryCommand)));
  EXPECT_TRUE(tur(kLun1).good());
  EXPECT_TRUE(tur(kOtherTarget).good());
  EXPECT_TRUE(tur(kOtherBus).good());
}

TEST_F(EmuFault, ScsiStatusFaultHasNoSense) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::status(cam::ScsiStatus::TaskSetFull)));
  const Reply r = tur(kLun0);
  EXPECT_EQ(r.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(r.scsi_status, cam::ScsiStatus::TaskSetFull);
  EXPECT_TRUE(r.sense.empty());
  EXPECT_FALSE(r.autosense_valid);
  EXPECT_TRUE(tur(kLun0).good());
}

TEST_F(EmuFault, TransportErrorFaultSetsTheCamStatus) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::transport_error(CamStatus::UnexpBusfree, 1, kRead10)));
  const Reply r = read(kLun0);
  EXPECT_EQ(r.status, CamStatus::UnexpBusfree);
  EXPECT_EQ(r.resid, 512U);
  EXPECT_TRUE(read(kLun0).good());
}

TEST_F(EmuFault, InjectRejectsBadFaults) {
  Fault zero = Fault::check_condition(kMediumError);
  zero.count = 0;
  EXPECT_FALSE(h.emu->inject(kLun0, zero));
  EXPECT_FALSE(h.emu->inject(kLun0, Fault::check_condition({0x10, 0, 0})));
  EXPECT_FALSE(h.emu->inject(kLun0, Fault::delayed(std::chrono::microseconds(-1))));
  EXPECT_FALSE(h.emu->set_unit_attention(kLun0, {0x16, 0x29, 0}));
  EXPECT_TRUE(tur(kLun0).good());
}

TEST_F(EmuFault, FaultsArmedOnAnAbsentLunApplyWhenItReturns) {
  ASSERT_TRUE(h.emu->remove_lun(kLun0));
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition(kMediumError)));
  ASSERT_TRUE(h.emu->insert_lun(kLun0));
  EXPECT_EQ(tur(kLun0).sense_code(), kMediumError);
}

// --- UNIT ATTENTION ---------------------------------------------------------------------------

TEST_F(EmuFault, UnitAttentionOnTheNextCommandOnly) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  const Reply r = read(kLun0);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kPowerOnReset);
  EXPECT_TRUE(read(kLun0).good());
}

TEST_F(EmuFault, UnitAttentionsAreReportedOldestFirst) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kReportedLunsChanged));
  EXPECT_EQ(tur(kLun0).sense_code(), scsi::kPowerOnReset);
  EXPECT_EQ(tur(kLun0).sense_code(), scsi::kReportedLunsChanged);
  EXPECT_TRUE(tur(kLun0).good());
}

TEST_F(EmuFault, InquiryAndReportLunsNeitherReportNorClearUnitAttention) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  EXPECT_TRUE(h.read(kLun0, scsi::inquiry(scsi::InquiryData::Standard, 0, 36), 36).good());
  EXPECT_TRUE(h.read(kLun0, scsi::report_luns(scsi::SelectReport::All, 64), 64).good());
  EXPECT_EQ(tur(kLun0).sense_code(), scsi::kPowerOnReset);
}

TEST_F(EmuFault, RequestSenseReturnsAndClearsUnitAttention) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  const Reply r = h.read(kLun0, scsi::request_sense(252), 252);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(Reply::decode_sense_code(r.data), scsi::kPowerOnReset);
  EXPECT_TRUE(tur(kLun0).good());
  const Reply after = h.read(kLun0, scsi::request_sense(252), 252);
  EXPECT_EQ(Reply::decode_sense_code(after.data), (SenseCode{0, 0, 0}));
}

TEST_F(EmuFault, ClearFaultsDropsPendingUnitAttention) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  ASSERT_TRUE(h.emu->clear_faults(kLun0));
  EXPECT_TRUE(tur(kLun0).good());
}

TEST_F(EmuFault, FaultTakesPrecedenceOverUnitAttention) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::check_condition(kMediumError)));
  EXPECT_EQ(tur(kLun0).sense_code(), kMediumError);
  EXPECT_EQ(tur(kLun0).sense_code(), scsi::kPowerOnReset);
}

// --- Selection timeout ------------------------------------------------------------------------

TEST_F(EmuFault, SelectionTimeoutOnATarget) {
  ASSERT_TRUE(h.emu->set_selection_timeout(0, 0, SelectionTimeout::On));
  EXPECT_EQ(tur(kLun0).status, CamStatus::SelTimeout);
  EXPECT_EQ(tur(kLun1).status, CamStatus::SelTimeout);
  EXPECT_TRUE(tur(kOtherTarget).good());
  ASSERT_TRUE(h.emu->set_selection_timeout(0, 0, SelectionTimeout::Off));
  EXPECT_TRUE(tur(kLun0).good());
}

// --- Delay ------------------------------------------------------------------------------------

TEST_F(EmuFault, DelayedCommandCompletesFromTheWorkerWithItsResult) {
  ASSERT_TRUE(h.write(kLun0, scsi::write10(3, 1), std::vector<std::uint8_t>(512, 0x3c)).good());
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::delayed(std::chrono::milliseconds(1))));
  std::atomic<std::thread::id> completer{};
  auto request =
      h.make(kLun0, scsi::read10(3, 1), cam::DataDir::In, std::vector<std::uint8_t>(512, 0));
  request->ccb.done = [](cam::Ccb&, void* arg) {
    static_cast<std::atomic<std::thread::id>*>(arg)->store(std::this_thread::get_id());
  };
  request->ccb.done_arg = &completer;
  h.xpt.forget(request->ccb);
  h.submit(0, *request);
  ASSERT_TRUE(h.xpt.wait_done(request->ccb));
  EXPECT_NE(completer.load(), std::this_thread::get_id());
  const Reply r = request->reply();
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, std::vector<std::uint8_t>(512, 0x3c));
  EXPECT_EQ(h.xpt.done_count(request->ccb), 1);
  EXPECT_EQ(h.emu->held_commands(), 0U);
}

TEST_F(EmuFault, DelayedCommandIsHeldUntilItsTime) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::delayed(kLong)));
  auto request = start(kLun0, scsi::test_unit_ready());
  EXPECT_EQ(h.xpt.done_count(request->ccb), 0);
  EXPECT_EQ(h.emu->held_commands(), 1U);
  EXPECT_TRUE(tur(kLun0).good());  // The fault had a count of one.
  EXPECT_TRUE(h.emu->sim(0)->abort(request->ccb));
  EXPECT_EQ(h.emu->held_commands(), 0U);
}

TEST_F(EmuFault, DelayedCommandStillReportsUnitAttention) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::delayed(std::chrono::microseconds(1))));
  auto request = start(kLun0, scsi::test_unit_ready());
  ASSERT_TRUE(h.xpt.wait_done(request->ccb));
  EXPECT_EQ(request->reply().sense_code(), scsi::kPowerOnReset);
}

TEST_F(EmuFault, DelaysAreCompletedInDeadlineOrder) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::delayed(kLong)));
  ASSERT_TRUE(h.emu->inject(kLun1, Fault::delayed(std::chrono::microseconds(1))));
  auto slow = start(kLun0, scsi::test_unit_ready());
  auto fast = start(kLun1, scsi::test_unit_ready());
  ASSERT_TRUE(h.xpt.wait_done(fast->ccb));
  EXPECT_EQ(h.xpt.done_count(slow->ccb), 0);
  EXPECT_TRUE(h.emu->sim(0)->abort(slow->ccb));
}

// --- Hang and the abort contract --------------------------------------------------------------

TEST_F(EmuFault, HungCommandIsHeldUntilAborted) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::hang()));
  auto request = start(kLun0, scsi::test_unit_ready());
  EXPECT_EQ(h.emu->held_commands(), 1U);
  EXPECT_EQ(h.xpt.done_count(request->ccb), 0);
  EXPECT_FALSE(h.emu->sim(1)->abort(request->ccb));  // Another bus does not hold it.
  EXPECT_TRUE(h.emu->sim(0)->abort(request->ccb));
  EXPECT_FALSE(h.emu->sim(0)->abort(request->ccb));  // Forgotten at once.
  EXPECT_EQ(h.emu->held_commands(), 0U);
  // After a successful abort the SIM never completes it, not even on removal or stop.
  ASSERT_TRUE(h.emu->remove_lun(kLun0));
  h.emu->stop();
  EXPECT_EQ(h.xpt.done_count(request->ccb), 0);
}

TEST_F(EmuFault, HungCommandIsNotExecuted) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::hang(1, static_cast<std::uint8_t>(0x2a))));
  auto write = start(kLun0, scsi::write10(9, 1), cam::DataDir::Out, 512);
  EXPECT_TRUE(h.emu->sim(0)->abort(write->ccb));
  EXPECT_EQ(h.read(kLun0, scsi::read10(9, 1), 512).data, std::vector<std::uint8_t>(512, 0));
}

TEST_F(EmuFault, AbortOfACompletedCommandIsFalse) {
  auto request = start(kLun0, scsi::test_unit_ready());
  ASSERT_TRUE(h.xpt.wait_done(request->ccb));
  EXPECT_FALSE(h.emu->sim(0)->abort(request->ccb));
  EXPECT_EQ(h.xpt.done_count(request->ccb), 1);
}

// The race between the worker completing a delayed command and abort(): exactly one of them
// wins, and a won abort means the CCB is never completed.
TEST_F(EmuFault, AbortRacingACompletionNeverCompletesTwice) {
  constexpr int kRounds = 300;
  std::vector<std::unique_ptr<Request>> requests;
  std::vector<bool> aborted;
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(h.emu->inject(kLun0, Fault::delayed(std::chrono::microseconds(i % 50))));
    auto request = start(kLun0, scsi::test_unit_ready());
    if (i % 7 == 0) {
      std::this_thread::yield();
    }
    aborted.push_back(h.emu->sim(0)->abort(request->ccb));
    requests.push_back(std::move(request));
  }
  h.emu->stop();  // Joins the worker: every completion that will ever happen has happened.
  int wins = 0;
  for (int i = 0; i < kRounds; ++i) {
    if (aborted[static_cast<std::size_t>(i)]) {
      ++wins;
      EXPECT_EQ(h.xpt.done_count(requests[static_cast<std::size_t>(i)]->ccb), 0) << i;
    } else {
      EXPECT_EQ(h.xpt.done_count(requests[static_cast<std::size_t>(i)]->ccb), 1) << i;
      EXPECT_EQ(requests[static_cast<std::size_t>(i)]->ccb.status, CamStatus::ReqCmp) << i;
    }
  }
  EXPECT_GT(wins, 0);  // Long delays are always aborted before they fire.
}

// --- Device gone mid-command ------------------------------------------------------------------

struct Removal {
  const char* name;
  Result<void> (*remove)(Emulator& emu);
  bool other_target_affected;
  bool other_bus_affected;
};

const Removal kRemovals[] = {
    {"lun", [](Emulator& e) { return e.remove_lun(kLun0); }, false, false},
    {"target", [](Emulator& e) { return e.remove_target(0, 0); }, false, false},
    {"bus deregistered", [](Emulator& e) { return e.remove_bus(0, BusRemoval::Deregister); }, true,
     false},
    {"bus link down", [](Emulator& e) { return e.remove_bus(0, BusRemoval::LinkDown); }, true,
     false},
};

class EmuRemoval : public EmuFault, public ::testing::WithParamInterface<Removal> {};

TEST_P(EmuRemoval, HeldCommandsCompleteWithDevNotThere) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::hang()));
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::delayed(kLong)));
  ASSERT_TRUE(h.emu->inject(kOtherTarget, Fault::hang()));
  ASSERT_TRUE(h.emu->inject(kOtherBus, Fault::hang()));
  auto hung = start(kLun0, scsi::test_unit_ready());
  auto delayed = start(kLun0, scsi::read10(0, 1), cam::DataDir::In, 512);
  auto other_target = start(kOtherTarget, scsi::test_unit_ready());
  auto other_bus = start(kOtherBus, scsi::test_unit_ready());
  ASSERT_EQ(h.emu->held_commands(), 4U);

  ASSERT_TRUE(GetParam().remove(*h.emu));

  ASSERT_TRUE(h.xpt.wait_done(hung->ccb));
  ASSERT_TRUE(h.xpt.wait_done(delayed->ccb));
  EXPECT_EQ(hung->ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(delayed->ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(delayed->ccb.resid, 512U);
  EXPECT_EQ(h.xpt.done_count(hung->ccb), 1);
  EXPECT_EQ(h.xpt.done_count(delayed->ccb), 1);
  EXPECT_EQ(h.xpt.done_count(other_target->ccb), GetParam().other_target_affected ? 1 : 0);
  EXPECT_EQ(h.xpt.done_count(other_bus->ccb), 0);
  EXPECT_FALSE(h.emu->sim(0)->abort(hung->ccb));
  EXPECT_TRUE(h.emu->sim(1)->abort(other_bus->ccb));
  if (!GetParam().other_target_affected) {
    EXPECT_TRUE(h.emu->sim(0)->abort(other_target->ccb));
  }
}

INSTANTIATE_TEST_SUITE_P(EmuFault, EmuRemoval, ::testing::ValuesIn(kRemovals),
                         [](const ::testing::TestParamInfo<Removal>& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), ' ', '_');
                           return name;
                         });

TEST_F(EmuFault, StopCompletesHeldCommandsWithDevNotThere) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::hang()));
  ASSERT_TRUE(h.emu->inject(kOtherBus, Fault::delayed(kLong)));
  auto hung = start(kLun0, scsi::test_unit_ready());
  auto delayed = start(kOtherBus, scsi::test_unit_ready());
  h.emu->stop();
  EXPECT_EQ(h.xpt.done_count(hung->ccb), 1);
  EXPECT_EQ(h.xpt.done_count(delayed->ccb), 1);
  EXPECT_EQ(hung->ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(delayed->ccb.status, CamStatus::DevNotThere);
}

TEST_F(EmuFault, DelayedCheckConditionLosesItsSenseWhenTheDeviceGoes) {
  ASSERT_TRUE(h.emu->set_unit_attention(kLun0, scsi::kPowerOnReset));
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::delayed(kLong)));
  auto request = start(kLun0, scsi::test_unit_ready());
  ASSERT_TRUE(h.emu->remove_lun(kLun0));
  ASSERT_TRUE(h.xpt.wait_done(request->ccb));
  EXPECT_EQ(request->ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(request->ccb.sense_len, 0);
  EXPECT_EQ(request->ccb.flags & cam::kCcbAutosenseValid, 0U);
}

TEST_F(EmuFault, DeviceResetCompletesHeldCommandsWithBdrSent) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::hang()));
  ASSERT_TRUE(h.emu->inject(kOtherTarget, Fault::hang()));
  auto hung = start(kLun0, scsi::test_unit_ready());
  auto other = start(kOtherTarget, scsi::test_unit_ready());
  Request reset(h.path(kLun0), scsi::Cdb{}, cam::DataDir::None, {});
  reset.ccb.func = cam::FuncCode::ResetDev;
  h.submit(0, reset);
  ASSERT_TRUE(h.xpt.wait_done(reset.ccb));
  ASSERT_TRUE(h.xpt.wait_done(hung->ccb));
  EXPECT_EQ(hung->ccb.status, CamStatus::BdrSent);
  EXPECT_EQ(h.xpt.done_count(other->ccb), 0);
  EXPECT_TRUE(h.emu->sim(0)->abort(other->ccb));
}

TEST_F(EmuFault, BusResetCompletesHeldCommandsWithScsiBusReset) {
  ASSERT_TRUE(h.emu->inject(kOtherTarget, Fault::hang()));
  auto hung = start(kOtherTarget, scsi::test_unit_ready());
  Request reset(h.path(kLun0), scsi::Cdb{}, cam::DataDir::None, {});
  reset.ccb.func = cam::FuncCode::ResetBus;
  h.submit(0, reset);
  ASSERT_TRUE(h.xpt.wait_done(hung->ccb));
  EXPECT_EQ(hung->ccb.status, CamStatus::ScsiBusReset);
}

TEST_F(EmuFault, HeldCommandsCountAcrossBuses) {
  ASSERT_TRUE(h.emu->inject(kLun0, Fault::hang(2)));
  ASSERT_TRUE(h.emu->inject(kOtherBus, Fault::hang()));
  auto a = start(kLun0, scsi::test_unit_ready());
  auto b = start(kLun0, scsi::test_unit_ready());
  auto c = start(kOtherBus, scsi::test_unit_ready());
  EXPECT_EQ(h.emu->held_commands(), 3U);
  EXPECT_TRUE(tur(kLun0).good());
  h.emu->stop();
  EXPECT_EQ(h.emu->held_commands(), 0U);
  EXPECT_EQ(h.xpt.done_count(a->ccb) + h.xpt.done_count(b->ccb) + h.xpt.done_count(c->ccb), 3);
}

}  // namespace
}  // namespace ucam::emu::testing
