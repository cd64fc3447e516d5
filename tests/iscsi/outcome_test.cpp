// How libiscsi's outcomes become CCB results: status, residual, sense, data.
#include "sims/iscsi/outcome.h"

#include <gtest/gtest.h>
#include <iscsi/iscsi.h>

#include <vector>

namespace ucam::iscsi {
namespace {

struct Read {
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(16, 0xee);
  cam::Ccb ccb;
  Read() {
    ccb.dir = cam::DataDir::In;
    ccb.data = buffer.data();
    ccb.dxfer_len = 16;
  }
};

std::vector<std::uint8_t> received(std::size_t n) {
  std::vector<std::uint8_t> data(16);
  for (std::size_t i = 0; i < n; ++i) {
    data[i] = static_cast<std::uint8_t>(i + 1);
  }
  return data;
}

TEST(IscsiOutcome, GoodCopiesWhatArrivedAndKeepsTheUnderflowAsResid) {
  Read r;
  TaskOutcome o;
  o.status = SCSI_STATUS_GOOD;
  o.residual = Residual::Underflow;
  o.residual_bytes = 6;
  const auto data = received(10);
  complete_ccb(r.ccb, o, data);
  EXPECT_EQ(r.ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(r.ccb.scsi_status, cam::ScsiStatus::Good);
  EXPECT_EQ(r.ccb.resid, 6U);
  EXPECT_EQ(r.buffer[9], 10);
  EXPECT_EQ(r.buffer[10], 0xee);  // Not past what arrived.
}

TEST(IscsiOutcome, AnOverflowIsAFullTransfer) {
  Read r;
  TaskOutcome o;
  o.status = SCSI_STATUS_GOOD;
  o.residual = Residual::Overflow;
  o.residual_bytes = 100;
  complete_ccb(r.ccb, o, received(16));
  EXPECT_EQ(r.ccb.status, CamStatus::ReqCmp);
  EXPECT_EQ(r.ccb.resid, 0U);
  EXPECT_EQ(r.buffer[15], 16);
}

TEST(IscsiOutcome, CheckConditionTakesTheTargetsSenseBytes) {
  Read r;
  TaskOutcome o;
  o.status = SCSI_STATUS_CHECK_CONDITION;
  // SenseLength 18, then fixed sense: ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.
  std::vector<std::uint8_t> segment = {0, 18, 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0};
  segment.resize(20);
  o.response_data = segment;
  o.decoded_sense = {0x01, 0x02, 0x03};  // Ignored: the real bytes win.
  complete_ccb(r.ccb, o, received(0));
  EXPECT_EQ(r.ccb.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(r.ccb.scsi_status, cam::ScsiStatus::CheckCondition);
  EXPECT_NE(r.ccb.flags & cam::kCcbAutosenseValid, 0U);
  ASSERT_EQ(r.ccb.sense_len, 18U);
  EXPECT_EQ(r.ccb.sense_data[2], 0x05);
  EXPECT_EQ(r.ccb.sense_data[12], 0x20);
  EXPECT_EQ(r.ccb.resid, 16U);  // No underflow reported: nothing claimed.
  EXPECT_EQ(r.buffer[0], 0xee);
}

TEST(IscsiOutcome, CheckConditionWithoutSenseBytesUsesLibiscsisDecoding) {
  Read r;
  TaskOutcome o;
  o.status = SCSI_STATUS_CHECK_CONDITION;
  o.decoded_sense = {0x03, 0x11, 0x00};
  o.residual = Residual::Underflow;
  o.residual_bytes = 12;  // A read that got 4 bytes before its MEDIUM ERROR.
  complete_ccb(r.ccb, o, received(4));
  ASSERT_EQ(r.ccb.sense_len, 18U);
  EXPECT_EQ(r.ccb.sense_data[0], 0x70);
  EXPECT_EQ(r.ccb.sense_data[2], 0x03);
  EXPECT_EQ(r.ccb.sense_data[12], 0x11);
  EXPECT_EQ(r.ccb.sense_data[13], 0x00);
  EXPECT_EQ(r.ccb.resid, 12U);
  EXPECT_EQ(r.buffer[3], 4);
}

TEST(IscsiOutcome, StatusTable) {
  struct Row {
    int status;
    CamStatus cam;
    cam::ScsiStatus scsi;
  };
  const Row rows[] = {
      {SCSI_STATUS_BUSY, CamStatus::ScsiStatusError, cam::ScsiStatus::Busy},
      {SCSI_STATUS_TASK_SET_FULL, CamStatus::ScsiStatusError, cam::ScsiStatus::TaskSetFull},
      {SCSI_STATUS_RESERVATION_CONFLICT, CamStatus::ScsiStatusError,
       cam::ScsiStatus::ReservationConflict},
      {SCSI_STATUS_TASK_ABORTED, CamStatus::ScsiStatusError, cam::ScsiStatus::TaskAborted},
      {SCSI_STATUS_CONDITION_MET, CamStatus::ReqCmp, cam::ScsiStatus::ConditionMet},
      {SCSI_STATUS_CANCELLED, CamStatus::Requeue, cam::ScsiStatus::Good},
      {SCSI_STATUS_ERROR, CamStatus::Requeue, cam::ScsiStatus::Good},
      {SCSI_STATUS_REDIRECT, CamStatus::Requeue, cam::ScsiStatus::Good},
      {SCSI_STATUS_TIMEOUT, CamStatus::CmdTimeout, cam::ScsiStatus::Good},
      {0x7777, CamStatus::ReqCmpErr, cam::ScsiStatus::Good},
  };
  for (const auto& row : rows) {
    Read r;
    r.ccb.scsi_status = cam::ScsiStatus::CheckCondition;  // Left from an earlier use.
    TaskOutcome o;
    o.status = row.status;
    complete_ccb(r.ccb, o, received(16));
    EXPECT_EQ(r.ccb.status, row.cam) << row.status;
    EXPECT_EQ(r.ccb.scsi_status, row.scsi) << row.status;
    EXPECT_EQ(r.ccb.sense_len, 0U) << row.status;
  }
  Read stopped;
  TaskOutcome o;
  o.status = SCSI_STATUS_CANCELLED;
  o.cancelled = CamStatus::DevNotThere;
  complete_ccb(stopped.ccb, o, received(0));
  EXPECT_EQ(stopped.ccb.status, CamStatus::DevNotThere);
  EXPECT_EQ(stopped.ccb.resid, 16U);
}

}  // namespace
}  // namespace ucam::iscsi
