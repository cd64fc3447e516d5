// The sg -> CAM outcome mapping, one row per case.
#include "sims/sg/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace ucam::sg {
namespace {

using cam::ScsiStatus;

struct ReplyCase {
  const char* what;
  SgReply reply;
  SimOutcome expected;
};

constexpr std::uint32_t kLen = 4096;

SimOutcome ok(std::uint32_t resid, ScsiStatus s = ScsiStatus::Good) {
  return {CamStatus::ReqCmp, s, resid, false, false};
}
SimOutcome scsi(ScsiStatus s, std::uint32_t resid, bool autosense) {
  return {CamStatus::ScsiStatusError, s, resid, autosense, false};
}
SimOutcome failure(CamStatus status, bool rescan = false) {
  return {status, ScsiStatus::Good, kLen, false, rescan};
}
SgReply reply(std::uint8_t status, std::uint16_t host, std::uint16_t driver, std::int32_t resid,
              std::uint8_t sense) {
  return {status, host, driver, resid, sense};
}

const ReplyCase kReplyCases[] = {
    {"good, all transferred", reply(0x00, 0, 0, 0, 0), ok(0)},
    {"good, short transfer (underrun)", reply(0x00, 0, 0, 1024, 0), ok(1024)},
    {"good, residual beyond the length is clamped", reply(0x00, 0, 0, 9999, 0), ok(kLen)},
    {"condition met", reply(0x04, 0, 0, 0, 0), ok(0, ScsiStatus::ConditionMet)},
    {"check condition with sense (DRIVER_SENSE)", reply(0x02, 0, 0x08, kLen, 18),
     scsi(ScsiStatus::CheckCondition, kLen, true)},
    {"check condition with sense, partial data", reply(0x02, 0, 0x08, 512, 18),
     scsi(ScsiStatus::CheckCondition, 512, true)},
    {"check condition without sense", reply(0x02, 0, 0, kLen, 0),
     scsi(ScsiStatus::CheckCondition, kLen, false)},
    {"busy", reply(0x08, 0, 0, kLen, 0), scsi(ScsiStatus::Busy, kLen, false)},
    {"reservation conflict", reply(0x18, 0, 0, kLen, 0),
     scsi(ScsiStatus::ReservationConflict, kLen, false)},
    {"task set full", reply(0x28, 0, 0, kLen, 0), scsi(ScsiStatus::TaskSetFull, kLen, false)},
    {"ACA active", reply(0x30, 0, 0, kLen, 0), scsi(ScsiStatus::AcaActive, kLen, false)},
    {"task aborted", reply(0x40, 0, 0, kLen, 0), scsi(ScsiStatus::TaskAborted, kLen, false)},
    {"DID_NO_CONNECT: device gone", reply(0, 0x01, 0, 0, 0), failure(CamStatus::DevNotThere, true)},
    {"DID_BUS_BUSY", reply(0, 0x02, 0, 0, 0), failure(CamStatus::ScsiBusy)},
    {"DID_TIME_OUT", reply(0, 0x03, 0, 0, 0), failure(CamStatus::CmdTimeout)},
    {"DID_BAD_TARGET", reply(0, 0x04, 0, 0, 0), failure(CamStatus::SelTimeout, true)},
    {"DID_ABORT", reply(0, 0x05, 0, 0, 0), failure(CamStatus::ReqAborted)},
    {"DID_PARITY", reply(0, 0x06, 0, 0, 0), failure(CamStatus::UncorParity)},
    {"DID_ERROR", reply(0, 0x07, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DID_RESET", reply(0, 0x08, 0, 0, 0), failure(CamStatus::ScsiBusReset)},
    {"DID_BAD_INTR", reply(0, 0x09, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DID_PASSTHROUGH", reply(0, 0x0a, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DID_SOFT_ERROR", reply(0, 0x0b, 0, 0, 0), failure(CamStatus::Requeue)},
    {"DID_IMM_RETRY", reply(0, 0x0c, 0, 0, 0), failure(CamStatus::Requeue)},
    {"DID_REQUEUE", reply(0, 0x0d, 0, 0, 0), failure(CamStatus::Requeue)},
    {"DID_TRANSPORT_DISRUPTED", reply(0, 0x0e, 0, 0, 0), failure(CamStatus::Busy)},
    {"DID_TRANSPORT_FAILFAST", reply(0, 0x0f, 0, 0, 0), failure(CamStatus::SelTimeout, true)},
    {"DID_TARGET_FAILURE", reply(0, 0x10, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DID_NEXUS_FAILURE", reply(0, 0x11, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DID_ALLOC_FAILURE", reply(0, 0x12, 0, 0, 0), failure(CamStatus::ResrcUnavail)},
    {"DID_MEDIUM_ERROR", reply(0, 0x13, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DID_TRANSPORT_MARGINAL", reply(0, 0x14, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"unknown host status", reply(0, 0x7f, 0, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"host status wins over a check condition", reply(0x02, 0x03, 0x08, 0, 18),
     failure(CamStatus::CmdTimeout)},
    {"DRIVER_BUSY", reply(0, 0, 0x01, 0, 0), failure(CamStatus::Busy)},
    {"DRIVER_TIMEOUT", reply(0, 0, 0x06, 0, 0), failure(CamStatus::CmdTimeout)},
    {"DRIVER_TIMEOUT with a suggestion bit", reply(0, 0, 0x26, 0, 0),
     failure(CamStatus::CmdTimeout)},
    {"DRIVER_ERROR", reply(0, 0, 0x04, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DRIVER_INVALID", reply(0, 0, 0x05, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DRIVER_HARD", reply(0, 0, 0x07, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DRIVER_SOFT", reply(0, 0, 0x02, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DRIVER_MEDIA", reply(0, 0, 0x03, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"DRIVER_SENSE with good status (recovered, informational)", reply(0, 0, 0x08, 0, 18), ok(0)},
    {"reserved driver code", reply(0, 0, 0x0c, 0, 0), failure(CamStatus::ReqCmpErr)},
    {"negative residual: overrun",
     reply(0, 0, 0, -16, 0),
     {CamStatus::DataRunErr, ScsiStatus::Good, 0, false, false}},
};

TEST(SgStatus, EveryReplyMapsToItsCamOutcome) {
  for (const auto& c : kReplyCases) {
    EXPECT_EQ(map_reply(c.reply, kLen), c.expected) << c.what;
  }
}

TEST(SgStatus, ANoDataCommandHasNoResidual) {
  EXPECT_EQ(map_reply(reply(0, 0, 0, 0, 0), 0), ok(0));
  EXPECT_EQ(map_reply(reply(0, 0, 0, 12, 0), 0), ok(0));
  EXPECT_EQ(map_reply(reply(0, 0x01, 0, 0, 0), 0).resid, 0U);
}

struct ErrnoCase {
  int error;
  CamStatus status;
  bool rescan;
};

const ErrnoCase kErrnoCases[] = {
    {ENODEV, CamStatus::DevNotThere, true},    {ENXIO, CamStatus::DevNotThere, true},
    {EBUSY, CamStatus::Busy, false},           {EAGAIN, CamStatus::ResrcUnavail, false},
    {EDOM, CamStatus::ResrcUnavail, false},    {ENOMEM, CamStatus::ResrcUnavail, false},
    {ENOBUFS, CamStatus::ResrcUnavail, false}, {EINTR, CamStatus::Requeue, false},
    {EINVAL, CamStatus::ReqInvalid, false},    {EFAULT, CamStatus::ReqInvalid, false},
    {EOVERFLOW, CamStatus::ReqInvalid, false}, {EMSGSIZE, CamStatus::ReqInvalid, false},
    {EPERM, CamStatus::ReqInvalid, false},     {EACCES, CamStatus::ReqInvalid, false},
    {EIO, CamStatus::ReqCmpErr, false},        {ETIMEDOUT, CamStatus::ReqCmpErr, false},
};

TEST(SgStatus, EveryErrnoMapsToItsCamStatusWithNothingTransferred) {
  for (const auto& c : kErrnoCases) {
    const SimOutcome o = map_errno(c.error, kLen);
    EXPECT_EQ(o.status, c.status) << std::strerror(c.error);
    EXPECT_EQ(o.rescan, c.rescan) << std::strerror(c.error);
    EXPECT_EQ(o.resid, kLen) << std::strerror(c.error);
    EXPECT_FALSE(o.autosense_valid);
  }
}

}  // namespace
}  // namespace ucam::sg
