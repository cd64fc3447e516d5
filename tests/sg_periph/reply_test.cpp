// The CAM completion -> sg_io_hdr reply mapping (make_reply): one case per row of the table
// in periphs/sg/sg.h, and Linux's rules for sense length, masked status and info.
#include <gtest/gtest.h>

#include <cctype>

#include "periphs/sg/sg.h"

namespace ucam::sgp {
namespace {

cam::Ccb completed(CamStatus status, std::uint32_t dxfer_len = 0, std::uint32_t resid = 0) {
  cam::Ccb ccb;
  ccb.dxfer_len = dxfer_len;
  ccb.status = status;
  ccb.resid = resid;
  return ccb;
}

TEST(SgpReply, GoodCompletionIsAllZeroWithResid) {
  auto ccb = completed(CamStatus::ReqCmp, 512, 100);
  const auto r = make_reply(ccb, 32, std::chrono::milliseconds(7));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.masked_status, 0);
  EXPECT_EQ(r.msg_status, 0);
  EXPECT_EQ(r.host_status, 0);
  EXPECT_EQ(r.driver_status, kDriverOk);
  EXPECT_EQ(r.info, kInfoOk);
  EXPECT_EQ(r.resid, 100);
  EXPECT_EQ(r.duration_ms, 7U);
  EXPECT_EQ(r.sb_len_wr, 0);
  EXPECT_TRUE(r.sense.empty());
}

TEST(SgpReply, CheckConditionCarriesSenseAndDriverSense) {
  cam::Ccb ccb;
  ccb.dxfer_len = 64;
  const std::uint8_t sense[18] = {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00};
  ccb.complete_check_condition(sense);
  const auto r = make_reply(ccb, 32, {});
  EXPECT_EQ(r.status, 0x02);
  EXPECT_EQ(r.masked_status, kMaskedCheckCondition);
  EXPECT_EQ(r.host_status, 0);
  EXPECT_EQ(r.driver_status, kDriverSense);
  EXPECT_EQ(r.info & kInfoCheck, kInfoCheck);
  EXPECT_EQ(r.sb_len_wr, 18);  // 8 + ADDITIONAL SENSE LENGTH.
  ASSERT_EQ(r.sense.size(), 18U);
  EXPECT_EQ(r.sense[2], 0x05);
  EXPECT_EQ(r.sense[12], 0x24);
  EXPECT_EQ(r.resid, 64);
}

TEST(SgpReply, SenseIsCutToTheCallersRoomAndToLinuxsBuffer) {
  cam::Ccb ccb;
  std::vector<std::uint8_t> sense(200, 0xab);
  sense[0] = 0x70;
  sense[7] = 192;  // 200 bytes in all: more than Linux's 96-byte buffer.
  ccb.complete_check_condition(sense);
  EXPECT_EQ(make_reply(ccb, 8, {}).sb_len_wr, 8);
  EXPECT_EQ(make_reply(ccb, 255, {}).sb_len_wr, kSenseBufferSize);
  // No room at all: nothing written, but Linux still says DRIVER_SENSE.
  const auto none = make_reply(ccb, 0, {});
  EXPECT_EQ(none.sb_len_wr, 0);
  EXPECT_TRUE(none.sense.empty());
  EXPECT_EQ(none.driver_status, kDriverSense);
}

TEST(SgpReply, CheckConditionWithoutSenseWritesLinuxsEmptyHeader) {
  auto ccb = completed(CamStatus::AutosenseFail);
  ccb.scsi_status = cam::ScsiStatus::CheckCondition;
  const auto r = make_reply(ccb, 32, {});
  EXPECT_EQ(r.status, 0x02);
  EXPECT_EQ(r.host_status, 0);
  EXPECT_EQ(r.driver_status, kDriverSense);
  EXPECT_EQ(r.sb_len_wr, 8);  // A zeroed buffer: 8 + 0.
  EXPECT_EQ(r.sense, std::vector<std::uint8_t>(8, 0));
}

TEST(SgpReply, OtherScsiStatusesAreMaskedWithoutSense) {
  struct Row {
    cam::ScsiStatus status;
    std::uint8_t masked;
  };
  for (const auto& row : {Row{cam::ScsiStatus::Busy, 0x04}, Row{cam::ScsiStatus::ReservationConflict, 0x0c},
                          Row{cam::ScsiStatus::TaskSetFull, 0x14},
                          Row{cam::ScsiStatus::TaskAborted, 0x20}}) {
    auto ccb = completed(CamStatus::ScsiStatusError);
    ccb.scsi_status = row.status;
    const auto r = make_reply(ccb, 32, {});
    EXPECT_EQ(r.status, static_cast<std::uint8_t>(row.status));
    EXPECT_EQ(r.masked_status, row.masked);
    EXPECT_EQ(r.host_status, 0);
    EXPECT_EQ(r.driver_status, kDriverOk);
    EXPECT_EQ(r.info, kInfoCheck);
    EXPECT_EQ(r.sb_len_wr, 0);
  }
  // CONDITION MET completes the command, yet Linux flags it (masked_status 2).
  auto met = completed(CamStatus::ReqCmp);
  met.scsi_status = cam::ScsiStatus::ConditionMet;
  const auto r = make_reply(met, 32, {});
  EXPECT_EQ(r.masked_status, 0x02);
  EXPECT_EQ(r.info, kInfoCheck);
}

struct TransportRow {
  CamStatus cam;
  HostStatus host;
};

class SgpTransportReply : public ::testing::TestWithParam<TransportRow> {};

TEST_P(SgpTransportReply, MapsToHostStatusWithNoScsiStatus) {
  auto ccb = completed(GetParam().cam, 4096, 4096);
  ccb.scsi_status = cam::ScsiStatus::Good;
  const auto r = make_reply(ccb, 32, {});
  EXPECT_EQ(r.host_status, static_cast<std::uint16_t>(GetParam().host))
      << cam_status_name(GetParam().cam);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.masked_status, 0);
  EXPECT_EQ(r.driver_status, kDriverOk);  // No DRIVER_TIMEOUT either (modern kernels).
  EXPECT_EQ(r.info, kInfoCheck);
  EXPECT_EQ(r.resid, 4096);
  EXPECT_TRUE(r.sense.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, SgpTransportReply,
    ::testing::Values(TransportRow{CamStatus::CmdTimeout, HostStatus::TimeOut},
                      TransportRow{CamStatus::SelTimeout, HostStatus::BadTarget},
                      TransportRow{CamStatus::DevNotThere, HostStatus::NoConnect},
                      TransportRow{CamStatus::PathInvalid, HostStatus::NoConnect},
                      TransportRow{CamStatus::NoHba, HostStatus::NoConnect},
                      TransportRow{CamStatus::ReqAborted, HostStatus::Abort},
                      TransportRow{CamStatus::UaAbort, HostStatus::Abort},
                      TransportRow{CamStatus::ReqTerminated, HostStatus::Abort},
                      TransportRow{CamStatus::ScsiBusReset, HostStatus::Reset},
                      TransportRow{CamStatus::BdrSent, HostStatus::Reset},
                      TransportRow{CamStatus::ScsiBusy, HostStatus::BusBusy},
                      TransportRow{CamStatus::Busy, HostStatus::BusBusy},
                      TransportRow{CamStatus::ResrcUnavail, HostStatus::BusBusy},
                      TransportRow{CamStatus::UncorParity, HostStatus::Parity},
                      TransportRow{CamStatus::Requeue, HostStatus::Requeue},
                      TransportRow{CamStatus::ReqCmpErr, HostStatus::Error},
                      TransportRow{CamStatus::UnexpBusfree, HostStatus::Error},
                      TransportRow{CamStatus::DataRunErr, HostStatus::Error},
                      TransportRow{CamStatus::ReqInvalid, HostStatus::Error},
                      TransportRow{CamStatus::SequenceFail, HostStatus::Error}),
    [](const auto& info) {
      std::string name(cam_status_name(info.param.cam));
      for (auto& c : name) {
        c = std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
      }
      return name;
    });

TEST(SgpReply, StatusByteOfATransportFailureIsNotReported) {
  // A SIM may leave a stale status byte behind a transport error; Linux reports none.
  auto ccb = completed(CamStatus::CmdTimeout);
  ccb.scsi_status = cam::ScsiStatus::CheckCondition;
  ccb.flags = 0;
  const auto r = make_reply(ccb, 32, {});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.driver_status, kDriverOk);
}

TEST(SgpLinuxLun, FirstLevelInTheLowBits) {
  EXPECT_EQ(linux_lun(0), 0U);
  EXPECT_EQ(linux_lun(5), 5U);
  EXPECT_EQ(linux_lun(300), 0x412cU);  // Flat space 300: Linux shows the level as it is.
}

}  // namespace
}  // namespace ucam::sgp
