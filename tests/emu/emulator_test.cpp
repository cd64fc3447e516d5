// The Emulator as a set of SIMs: registration, path ids, missing devices, hot plug, resets.
#include <gtest/gtest.h>

#include "scsi/cdb.h"
#include "scsi/sense.h"
#include "sims/emu/emu.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

constexpr const char* kScenario = R"({"buses":[
  {"transport":"SAS","max_target":31,"max_lun":63,"initiator_id":40,"queue_depth":16,
   "targets":[
    {"id":0,"luns":[{"lun":0,"serial":"D0"},{"lun":3,"serial":"D3"}]},
    {"id":2,"luns":[{"lun":0,"type":"processor"}]}]},
  {"transport":"FC","targets":[{"id":1}]}
]})";

cam::Path whole_bus(std::uint32_t path_id) {
  return {path_id, cam::Path::kWildcardTarget, cam::Path::kWildcardLun};
}

class EmuTopology : public ::testing::Test {
 protected:
  Harness h{kScenario};

  Reply tur(const LunAddress& at) { return h.run(at, scsi::test_unit_ready()); }
  Reply inquiry(const LunAddress& at) {
    return h.read(at, scsi::inquiry(scsi::InquiryData::Standard, 0, 96), 96);
  }
  std::vector<std::uint64_t> report_luns(const LunAddress& at) {
    const Reply r = h.read(at, scsi::report_luns(scsi::SelectReport::All, 1024), 1024);
    std::vector<std::uint64_t> luns;
    EXPECT_TRUE(r.good());
    for (std::size_t i = 8; i + 8 <= r.data.size(); i += 8) {
      luns.push_back(r.data[i + 1]);
    }
    return luns;
  }
};

// --- Registration -----------------------------------------------------------------------------

TEST_F(EmuTopology, RegistersOneSimPerBusAndMapsPathIds) {
  EXPECT_EQ(h.xpt.registrations(), (std::vector<std::uint32_t>{7, 8}));
  EXPECT_EQ(h.emu->bus_count(), 2U);
  EXPECT_EQ(h.emu->path_id(0), 7U);
  EXPECT_EQ(h.emu->path_id(1), 8U);
  EXPECT_EQ(h.emu->path_id(2), std::nullopt);
  EXPECT_EQ(h.emu->scenario_bus(8), 1U);
  EXPECT_EQ(h.emu->scenario_bus(0), std::nullopt);
  EXPECT_EQ(h.xpt.bus(7), h.emu->sim(0));
  EXPECT_EQ(h.xpt.bus(8), h.emu->sim(1));
  EXPECT_EQ(h.emu->sim(2), nullptr);
}

TEST_F(EmuTopology, RequestsAnInitialScanOfEveryBus) {
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{whole_bus(7), whole_bus(8)}));
}

TEST(EmuRegistration, InitialScanNoneRequestsNothing) {
  Harness h(kScenario, EmulatorOptions{InitialScan::None});
  EXPECT_EQ(h.xpt.registrations().size(), 2U);
  EXPECT_TRUE(h.xpt.rescans().empty());
}

TEST_F(EmuTopology, PathInquiryDescribesTheBus) {
  const cam::PathInquiry sas = h.emu->sim(0)->path_inquiry();
  EXPECT_EQ(sas.sim_name, "emu");
  EXPECT_EQ(sas.unit, 0U);
  EXPECT_EQ(sas.bus, 0U);
  EXPECT_EQ(sas.max_target, 31U);
  EXPECT_EQ(sas.max_lun, 63U);
  EXPECT_EQ(sas.initiator_id, 40U);
  EXPECT_EQ(sas.hba_vendor, "ucam");
  EXPECT_EQ(sas.transport, "SAS");
  EXPECT_EQ(sas.device_queue_depth, 16U);
  const cam::PathInquiry fc = h.emu->sim(1)->path_inquiry();
  EXPECT_EQ(fc.unit, 1U);
  EXPECT_EQ(fc.transport, "FC");
}

TEST(EmuRegistration, DestructionDeregistersEveryBus) {
  FakeXpt xpt;
  {
    auto scenario = parse_scenario(kScenario, "t.json");
    ASSERT_TRUE(scenario);
    auto emu = Emulator::create(*scenario, xpt);
    ASSERT_TRUE(emu);
    EXPECT_EQ(xpt.registered_buses(), 2U);
  }
  EXPECT_EQ(xpt.registered_buses(), 0U);
  EXPECT_EQ(xpt.deregistrations(), (std::vector<std::uint32_t>{7, 8}));
}

TEST(EmuRegistration, StopIsIdempotentAndLeavesBusesAnsweringDevNotThere) {
  Harness h(kScenario);
  h.emu->stop();
  h.emu->stop();
  EXPECT_EQ(h.xpt.deregistrations(), (std::vector<std::uint32_t>{7, 8}));
  EXPECT_EQ(h.emu->path_id(0), std::nullopt);
  Request request({7, 0, 0}, scsi::test_unit_ready(), cam::DataDir::None, {});
  h.emu->sim(0)->action(request.ccb);
  ASSERT_TRUE(h.xpt.wait_done(request.ccb));
  EXPECT_EQ(request.ccb.status, CamStatus::DevNotThere);
  EXPECT_FALSE(h.emu->insert_bus(0));
}

TEST(EmuRegistration, RefusedRegistrationFailsCreateAndUndoesTheOthers) {
  FakeXpt xpt;
  auto scenario = parse_scenario(kScenario, "t.json");
  ASSERT_TRUE(scenario);
  xpt.refuse_registration(true);
  auto emu = Emulator::create(*scenario, xpt);
  ASSERT_FALSE(emu);
  EXPECT_NE(emu.error().context().find("emu: registering bus 0"), std::string::npos)
      << emu.error().message();
  EXPECT_EQ(xpt.registered_buses(), 0U);
}

TEST(EmuRegistration, EmptyScenarioRegistersNothing) {
  Harness h(R"({"buses":[]})");
  EXPECT_TRUE(h.xpt.registrations().empty());
  EXPECT_EQ(h.emu->bus_count(), 0U);
}

// --- Addressing -------------------------------------------------------------------------------

TEST_F(EmuTopology, AbsentTargetIsASelectionTimeout) {
  for (const LunAddress at : {LunAddress{0, 1, 0}, LunAddress{0, 30, 0}, LunAddress{1, 0, 0}}) {
    const Reply r = tur(at);
    EXPECT_EQ(r.status, CamStatus::SelTimeout) << at.target;
  }
}

TEST_F(EmuTopology, InquiryToAMissingLunReportsQualifierThree) {
  const Reply r = inquiry({0, 0, 1});
  ASSERT_TRUE(r.good());
  ASSERT_GE(r.data.size(), 36U);
  EXPECT_EQ(r.data[0], 0x7f);
}

TEST_F(EmuTopology, VpdInquiryToAMissingLunIsLunNotSupported) {
  const Reply r = h.read({0, 0, 1}, scsi::inquiry(scsi::InquiryData::VpdPage, 0x80, 96), 96);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kLunNotSupported);
}

TEST_F(EmuTopology, OtherCommandsToAMissingLunAreLunNotSupported) {
  for (const auto& cdb : {scsi::test_unit_ready(), scsi::read10(0, 1), scsi::read_capacity10()}) {
    const Reply r = h.read({0, 0, 5}, cdb, 512);
    ASSERT_TRUE(r.check_condition());
    EXPECT_EQ(r.sense_code(), scsi::kLunNotSupported);
    EXPECT_EQ(r.resid, 512U);
  }
}

TEST_F(EmuTopology, RequestSenseToAMissingLunReturnsLunNotSupportedAsData) {
  const Reply r = h.read({0, 0, 5}, scsi::request_sense(252), 252);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(Reply::decode_sense_code(r.data), scsi::kLunNotSupported);
}

TEST_F(EmuTopology, EmptyCdbIsAnInvalidRequest) {
  Request request(h.path({0, 0, 0}), scsi::Cdb{}, cam::DataDir::None, {});
  h.submit(0, request);
  ASSERT_TRUE(h.xpt.wait_done(request.ccb));
  EXPECT_EQ(request.ccb.status, CamStatus::ReqInvalid);
}

TEST_F(EmuTopology, NoopCompletes) {
  Request request(h.path({0, 0, 0}), scsi::Cdb{}, cam::DataDir::None, {});
  request.ccb.func = cam::FuncCode::Noop;
  h.submit(0, request);
  ASSERT_TRUE(h.xpt.wait_done(request.ccb));
  EXPECT_EQ(request.ccb.status, CamStatus::ReqCmp);
}

TEST_F(EmuTopology, AReusedCcbCarriesNoStaleSense) {
  Request request(h.path({0, 0, 5}), scsi::test_unit_ready(), cam::DataDir::None, {});
  h.submit(0, request);
  ASSERT_TRUE(h.xpt.wait_done(request.ccb));
  ASSERT_EQ(request.ccb.status, CamStatus::ScsiStatusError);
  ASSERT_GT(request.ccb.sense_len, 0);
  h.xpt.forget(request.ccb);
  request.ccb.path = h.path({0, 0, 0});
  h.submit(0, request);
  ASSERT_TRUE(h.xpt.wait_done(request.ccb));
  EXPECT_EQ(request.ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(request.ccb.sense_len, 0);
  EXPECT_EQ(request.ccb.flags & cam::kCcbAutosenseValid, 0U);
}

TEST(EmuAddressing, LunsAbove255AreReportedWithFlatSpaceAddressing) {
  Harness h(R"({"buses":[{"targets":[{"luns":[{"lun":0},{"lun":300,"serial":"FLAT300"}]}]}]})");
  const Reply r = h.read({0, 0, 0}, scsi::report_luns(scsi::SelectReport::All, 64), 64);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 24U);
  EXPECT_EQ(load_be64(r.data, 16), 0x412c000000000000ULL);  // Flat space (01b), LUN 300.
  const Reply serial = h.read({0, 0, 300}, scsi::inquiry(scsi::InquiryData::VpdPage, 0x80, 64), 64);
  ASSERT_TRUE(serial.good());
  EXPECT_EQ(ascii(serial.data, 4, 7), "FLAT300");
}

// --- Hot plug ---------------------------------------------------------------------------------

TEST_F(EmuTopology, RemovedLunAnswersAsMissingAndIsRescanned) {
  h.xpt.clear_rescans();
  ASSERT_TRUE(h.emu->remove_lun({0, 0, 3}));
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{{7, 0, 3}}));
  EXPECT_EQ(inquiry({0, 0, 3}).data.at(0), 0x7f);
  EXPECT_EQ(tur({0, 0, 3}).sense_code(), scsi::kLunNotSupported);
  EXPECT_EQ(report_luns({0, 0, 0}), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(tur({0, 0, 0}).good());
}

TEST_F(EmuTopology, RemovingAnAbsentLunAgainChangesNothing) {
  ASSERT_TRUE(h.emu->remove_lun({0, 0, 3}));
  h.xpt.clear_rescans();
  ASSERT_TRUE(h.emu->remove_lun({0, 0, 3}));
  EXPECT_TRUE(h.xpt.rescans().empty());
}

TEST_F(EmuTopology, ReinsertedLunComesBackWithItsData) {
  const std::vector<std::uint8_t> data(512, 0x5a);
  ASSERT_TRUE(h.write({0, 0, 3}, scsi::write10(7, 1), data).good());
  ASSERT_TRUE(h.emu->remove_lun({0, 0, 3}));
  h.xpt.clear_rescans();
  ASSERT_TRUE(h.emu->insert_lun({0, 0, 3}));
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{{7, 0, 3}}));
  EXPECT_EQ(h.read({0, 0, 3}, scsi::read10(7, 1), 512).data, data);
  EXPECT_EQ(report_luns({0, 0, 0}), (std::vector<std::uint64_t>{0, 3}));
}

TEST_F(EmuTopology, InsertionWithPowerOnAttentionReportsItOnce) {
  ASSERT_TRUE(h.emu->remove_lun({0, 0, 0}));
  ASSERT_TRUE(h.emu->insert_lun({0, 0, 0}, Insertion::PowerOnAttention));
  EXPECT_TRUE(inquiry({0, 0, 0}).good());  // INQUIRY neither reports nor clears it.
  const Reply first = tur({0, 0, 0});
  ASSERT_TRUE(first.check_condition());
  EXPECT_EQ(first.sense_code(), scsi::kPowerOnReset);
  EXPECT_TRUE(tur({0, 0, 0}).good());
}

TEST_F(EmuTopology, RemovedTargetTimesOutAndIsRescanned) {
  h.xpt.clear_rescans();
  ASSERT_TRUE(h.emu->remove_target(0, 0));
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{{7, 0, cam::Path::kWildcardLun}}));
  EXPECT_EQ(tur({0, 0, 0}).status, CamStatus::SelTimeout);
  EXPECT_EQ(inquiry({0, 0, 3}).status, CamStatus::SelTimeout);
  EXPECT_TRUE(tur({0, 2, 0}).good());
  ASSERT_TRUE(h.emu->insert_target(0, 0));
  EXPECT_EQ(h.xpt.rescans().size(), 2U);
  EXPECT_EQ(h.xpt.rescans().back(), (cam::Path{7, 0, cam::Path::kWildcardLun}));
  EXPECT_TRUE(tur({0, 0, 0}).good());
  EXPECT_TRUE(tur({0, 0, 3}).good());
}

TEST_F(EmuTopology, TargetInsertionWithPowerOnAttentionReachesEveryLun) {
  ASSERT_TRUE(h.emu->remove_target(0, 0));
  ASSERT_TRUE(h.emu->insert_target(0, 0, Insertion::PowerOnAttention));
  EXPECT_EQ(tur({0, 0, 0}).sense_code(), scsi::kPowerOnReset);
  EXPECT_EQ(tur({0, 0, 3}).sense_code(), scsi::kPowerOnReset);
  EXPECT_TRUE(tur({0, 0, 3}).good());
}

TEST_F(EmuTopology, RemovedBusIsDeregisteredAndComesBackUnderANewPathId) {
  ASSERT_TRUE(h.emu->remove_bus(0));
  EXPECT_EQ(h.xpt.deregistrations(), (std::vector<std::uint32_t>{7}));
  EXPECT_EQ(h.emu->path_id(0), std::nullopt);
  EXPECT_EQ(h.xpt.registered_buses(), 1U);
  h.xpt.clear_rescans();
  ASSERT_TRUE(h.emu->insert_bus(0));
  EXPECT_EQ(h.xpt.registrations(), (std::vector<std::uint32_t>{7, 8, 9}));
  EXPECT_EQ(h.emu->path_id(0), 9U);
  EXPECT_EQ(h.emu->scenario_bus(9), 0U);
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{whole_bus(9)}));
  EXPECT_TRUE(tur({0, 0, 0}).good());
}

TEST_F(EmuTopology, FailedReregistrationLeavesTheBusRemoved) {
  ASSERT_TRUE(h.emu->remove_bus(0));
  h.xpt.refuse_registration(true);
  EXPECT_FALSE(h.emu->insert_bus(0));
  EXPECT_EQ(h.emu->path_id(0), std::nullopt);
  h.xpt.refuse_registration(false);
  EXPECT_TRUE(h.emu->insert_bus(0));
  EXPECT_TRUE(h.emu->path_id(0).has_value());
}

TEST_F(EmuTopology, LinkDownBusTimesOutEveryTargetAndIsRescanned) {
  h.xpt.clear_rescans();
  ASSERT_TRUE(h.emu->remove_bus(0, BusRemoval::LinkDown));
  EXPECT_TRUE(h.xpt.deregistrations().empty());
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{whole_bus(7)}));
  EXPECT_EQ(tur({0, 0, 0}).status, CamStatus::SelTimeout);
  EXPECT_EQ(tur({0, 2, 0}).status, CamStatus::SelTimeout);
  EXPECT_TRUE(tur({1, 1, 0}).good());
  ASSERT_TRUE(h.emu->insert_bus(0));
  EXPECT_EQ(h.emu->path_id(0), 7U);
  EXPECT_EQ(h.xpt.rescans().back(), whole_bus(7));
  EXPECT_TRUE(tur({0, 0, 0}).good());
}

TEST_F(EmuTopology, LinkDownThenDeregisterStillDeregisters) {
  ASSERT_TRUE(h.emu->remove_bus(0, BusRemoval::LinkDown));
  ASSERT_TRUE(h.emu->remove_bus(0, BusRemoval::Deregister));
  EXPECT_EQ(h.xpt.deregistrations(), (std::vector<std::uint32_t>{7}));
}

TEST_F(EmuTopology, UnknownAddressesAreErrors) {
  struct Case {
    const char* name;
    Result<void> result;
    const char* message;
  };
  const Case cases[] = {
      {"lun", h.emu->remove_lun({0, 0, 1}), "emu: bus 0 target 0 has no LUN 1"},
      {"target", h.emu->remove_target(0, 5), "emu: bus 0 has no target 5"},
      {"bus", h.emu->remove_bus(4), "emu: the scenario has no bus 4 (2 buses)"},
      {"insert lun", h.emu->insert_lun({1, 1, 9}), "emu: bus 1 target 1 has no LUN 9"},
      {"insert target", h.emu->insert_target(1, 0), "emu: bus 1 has no target 0"},
      {"insert bus", h.emu->insert_bus(2), "emu: the scenario has no bus 2 (2 buses)"},
      {"fault", h.emu->inject({0, 3, 0}, Fault::hang()), "emu: bus 0 has no target 3"},
      {"unit attention", h.emu->set_unit_attention({0, 0, 2}, scsi::kPowerOnReset),
       "emu: bus 0 target 0 has no LUN 2"},
      {"selection timeout", h.emu->set_selection_timeout(0, 9, SelectionTimeout::On),
       "emu: bus 0 has no target 9"},
      {"clear", h.emu->clear_faults({3, 0, 0}), "emu: the scenario has no bus 3 (2 buses)"},
  };
  for (const auto& c : cases) {
    ASSERT_FALSE(c.result) << c.name;
    EXPECT_EQ(c.result.error().context(), c.message) << c.name;
  }
}

// --- Multipath --------------------------------------------------------------------------------

TEST(EmuMultipath, LunsWithOneNameShareTheirMedium) {
  Harness h(R"({"buses":[
    {"targets":[{"id":0,"luns":[{"naa":"5acde48000000d01"},{"lun":1}]}]},
    {"targets":[{"id":3,"luns":[{"naa":"5acde48000000d01"}]}]}]})");
  const std::vector<std::uint8_t> data(512, 0x77);
  ASSERT_TRUE(h.write({0, 0, 0}, scsi::write10(5, 1), data).good());
  EXPECT_EQ(h.read({1, 3, 0}, scsi::read10(5, 1), 512).data, data);
  EXPECT_EQ(h.read({0, 0, 1}, scsi::read10(5, 1), 512).data, std::vector<std::uint8_t>(512, 0));
  // Presence and faults stay per path.
  ASSERT_TRUE(h.emu->remove_lun({0, 0, 0}));
  EXPECT_TRUE(h.run({1, 3, 0}, scsi::test_unit_ready()).good());
  ASSERT_TRUE(h.emu->set_unit_attention({1, 3, 0}, scsi::kPowerOnReset));
  ASSERT_TRUE(h.emu->insert_lun({0, 0, 0}));
  EXPECT_TRUE(h.run({0, 0, 0}, scsi::test_unit_ready()).good());
  EXPECT_EQ(h.run({1, 3, 0}, scsi::test_unit_ready()).sense_code(), scsi::kPowerOnReset);
}

// --- Resets -----------------------------------------------------------------------------------

TEST_F(EmuTopology, BusResetAnnouncesAndRaisesUnitAttentionEverywhere) {
  Request reset(h.path({0, 0, 0}), scsi::Cdb{}, cam::DataDir::None, {});
  reset.ccb.func = cam::FuncCode::ResetBus;
  h.submit(0, reset);
  ASSERT_TRUE(h.xpt.wait_done(reset.ccb));
  EXPECT_EQ(reset.ccb.status, CamStatus::ReqCmp);
  ASSERT_EQ(h.xpt.announcements().size(), 1U);
  EXPECT_EQ(h.xpt.announcements()[0].code, cam::AsyncCode::BusReset);
  EXPECT_EQ(h.xpt.announcements()[0].path, whole_bus(7));
  EXPECT_EQ(tur({0, 0, 3}).sense_code(), scsi::kBusResetOccurred);
  EXPECT_EQ(tur({0, 2, 0}).sense_code(), scsi::kBusResetOccurred);
  EXPECT_TRUE(tur({1, 1, 0}).good());  // The other bus saw nothing.
}

TEST_F(EmuTopology, DeviceResetAnnouncesAndRaisesUnitAttentionOnItsLuns) {
  Request reset(h.path({0, 0, 0}), scsi::Cdb{}, cam::DataDir::None, {});
  reset.ccb.func = cam::FuncCode::ResetDev;
  h.submit(0, reset);
  ASSERT_TRUE(h.xpt.wait_done(reset.ccb));
  EXPECT_EQ(reset.ccb.status, CamStatus::ReqCmp);
  ASSERT_EQ(h.xpt.announcements().size(), 1U);
  EXPECT_EQ(h.xpt.announcements()[0].code, cam::AsyncCode::SentBdr);
  EXPECT_EQ(h.xpt.announcements()[0].path, (cam::Path{7, 0, cam::Path::kWildcardLun}));
  EXPECT_EQ(tur({0, 0, 0}).sense_code(), scsi::kBdrOccurred);
  EXPECT_EQ(tur({0, 0, 3}).sense_code(), scsi::kBdrOccurred);
  EXPECT_TRUE(tur({0, 2, 0}).good());
}

TEST_F(EmuTopology, DeviceResetOfAnAbsentTargetTimesOut) {
  Request reset(h.path({0, 5, 0}), scsi::Cdb{}, cam::DataDir::None, {});
  reset.ccb.func = cam::FuncCode::ResetDev;
  h.submit(0, reset);
  ASSERT_TRUE(h.xpt.wait_done(reset.ccb));
  EXPECT_EQ(reset.ccb.status, CamStatus::SelTimeout);
  EXPECT_TRUE(h.xpt.announcements().empty());
}

}  // namespace
}  // namespace ucam::emu::testing
