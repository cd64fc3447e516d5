#include "sims/iscsi/outcome.h"

#include <iscsi/iscsi.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "base/bytes.h"

namespace ucam::iscsi {
namespace {

// Bytes of dxfer_len not transferred, per the residual the target reported.
std::uint32_t resid_of(const cam::Ccb& ccb, const TaskOutcome& outcome) {
  if (outcome.residual != Residual::Underflow) {
    return 0;
  }
  return static_cast<std::uint32_t>(std::min<std::size_t>(outcome.residual_bytes, ccb.dxfer_len));
}

void copy_in(cam::Ccb& ccb, std::span<const std::uint8_t> data_in) {
  if (ccb.dir != cam::DataDir::In || ccb.data == nullptr) {
    return;
  }
  const std::size_t n = std::min<std::size_t>(ccb.dxfer_len - ccb.resid, data_in.size());
  if (n > 0) {
    std::memcpy(ccb.data, data_in.data(), n);
  }
}

// The sense bytes of a CHECK CONDITION: the SCSI Response's data segment is SenseLength (2
// bytes, RFC 7143 11.4.7.1) then the sense data. Falls back to fixed-format sense (SPC-5
// 4.4.3) from libiscsi's decoding when the segment holds none.
void set_sense(cam::Ccb& ccb, const TaskOutcome& outcome) {
  const auto& data = outcome.response_data;
  if (data.size() >= 2) {
    const std::size_t len = std::min<std::size_t>(load_be16(data, 0), data.size() - 2);
    if (len > 0) {
      ccb.complete_check_condition(data.subspan(2, len));
      return;
    }
  }
  std::array<std::uint8_t, 18> fixed{};
  fixed[0] = 0x70;  // Current error, fixed format.
  fixed[2] = static_cast<std::uint8_t>(outcome.decoded_sense.key & 0x0f);
  fixed[7] = 10;  // Additional sense length.
  fixed[12] = outcome.decoded_sense.asc;
  fixed[13] = outcome.decoded_sense.ascq;
  ccb.complete_check_condition(fixed);
}

}  // namespace

void complete_ccb(cam::Ccb& ccb, const TaskOutcome& outcome,
                  std::span<const std::uint8_t> data_in) {
  ccb.scsi_status = cam::ScsiStatus::Good;
  ccb.sense_len = 0;
  ccb.flags &= ~static_cast<std::uint32_t>(cam::kCcbAutosenseValid);
  switch (outcome.status) {
    case SCSI_STATUS_GOOD:
    case SCSI_STATUS_CONDITION_MET:
      ccb.complete_good(ccb.dxfer_len - resid_of(ccb, outcome));
      ccb.scsi_status = static_cast<cam::ScsiStatus>(outcome.status);
      copy_in(ccb, data_in);
      return;
    case SCSI_STATUS_CHECK_CONDITION:
      set_sense(ccb, outcome);
      // A read may have brought data in before the condition (a short tape block, a recovered
      // error): only what an underflow residual accounts for is claimed.
      ccb.resid = outcome.residual == Residual::Underflow ? resid_of(ccb, outcome) : ccb.dxfer_len;
      copy_in(ccb, data_in);
      return;
    case SCSI_STATUS_BUSY:
    case SCSI_STATUS_RESERVATION_CONFLICT:
    case SCSI_STATUS_TASK_SET_FULL:
    case SCSI_STATUS_ACA_ACTIVE:
    case SCSI_STATUS_TASK_ABORTED:
      ccb.complete_status(CamStatus::ScsiStatusError);
      ccb.scsi_status = static_cast<cam::ScsiStatus>(outcome.status);
      return;
    case SCSI_STATUS_CANCELLED:
      ccb.complete_status(outcome.cancelled);
      return;
    case SCSI_STATUS_ERROR:
    case SCSI_STATUS_REDIRECT:
      ccb.complete_status(CamStatus::Requeue);
      return;
    case SCSI_STATUS_TIMEOUT:
      ccb.complete_status(CamStatus::CmdTimeout);
      return;
    default:
      ccb.complete_status(CamStatus::ReqCmpErr);
      return;
  }
}

}  // namespace ucam::iscsi
