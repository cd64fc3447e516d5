// How a finished libiscsi task becomes a CCB's result: CAM status, SCSI status, residual, sense
// and the data a read brought in. Pure (no I/O, no libiscsi calls), so the mapping is tested
// on its own; iscsi_sim.cpp fills a TaskOutcome from the task and its callback status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/result.h"
#include "cam/ccb.h"

namespace ucam::iscsi {

// The residual the target reported in its SCSI Response (RFC 7143 11.4.5: the U and O bits).
enum class Residual : std::uint8_t {
  None,       // Everything expected was transferred.
  Underflow,  // `residual_bytes` of the expected length were not transferred.
  Overflow,   // The target had `residual_bytes` more than the initiator expected.
};

struct TaskOutcome {
  // The status libiscsi passed to the command callback: a SAM status byte (GOOD, CHECK
  // CONDITION, BUSY...) or one of libiscsi's own (SCSI_STATUS_CANCELLED, _ERROR, _TIMEOUT,
  // _REDIRECT).
  int status = 0;
  Residual residual = Residual::None;
  std::size_t residual_bytes = 0;
  // The data segment of the SCSI Response (libiscsi's task->datain when the data-in buffer was
  // our own): for CHECK CONDITION, a 2-byte SenseLength followed by the sense data.
  std::span<const std::uint8_t> response_data;
  // libiscsi's decoding of the sense, used only when response_data carries no sense bytes.
  SenseCode decoded_sense;
  // What a command libiscsi cancelled (SCSI_STATUS_CANCELLED) completes with: Requeue when the
  // session dropped, DevNotThere when the SIM stops.
  CamStatus cancelled = CamStatus::Requeue;
};

// Sets `ccb`'s status, scsi_status, resid and sense from `outcome` and copies what a read
// brought in from `data_in` (the task's data-in buffer, dxfer_len bytes) into ccb.data:
//  - GOOD / CONDITION MET: ReqCmp; resid from an underflow (an overflow leaves resid 0);
//  - CHECK CONDITION: ScsiStatusError with autosense (the target's sense bytes, or fixed-format
//    sense built from libiscsi's decoding); data a read received before it, as the residual says;
//  - BUSY, TASK SET FULL, RESERVATION CONFLICT, ACA ACTIVE, TASK ABORTED: ScsiStatusError with
//    that SCSI status (the XPT's recovery retries BUSY and TASK SET FULL later);
//  - CANCELLED: `outcome.cancelled`; ERROR (the connection failed under the command): Requeue;
//    TIMEOUT: CmdTimeout; REDIRECT (the target moved): Requeue; anything else: ReqCmpErr.
void complete_ccb(cam::Ccb& ccb, const TaskOutcome& outcome, std::span<const std::uint8_t> data_in);

}  // namespace ucam::iscsi
