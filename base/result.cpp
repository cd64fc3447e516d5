#include "base/result.h"

#include <cerrno>
#include <cstring>

namespace ucam {

std::string_view cam_status_name(CamStatus status) {
  switch (status) {
    case CamStatus::ReqInProg:
      return "request in progress";
    case CamStatus::ReqCmp:
      return "request completed";
    case CamStatus::ReqAborted:
      return "request aborted";
    case CamStatus::UaAbort:
      return "unable to abort request";
    case CamStatus::ReqCmpErr:
      return "request completed with error";
    case CamStatus::Busy:
      return "CAM busy";
    case CamStatus::ReqInvalid:
      return "invalid request";
    case CamStatus::PathInvalid:
      return "path invalid";
    case CamStatus::DevNotThere:
      return "device not there";
    case CamStatus::UaTerm:
      return "unable to terminate I/O";
    case CamStatus::SelTimeout:
      return "selection timeout";
    case CamStatus::CmdTimeout:
      return "command timeout";
    case CamStatus::ScsiStatusError:
      return "SCSI status error";
    case CamStatus::MsgRejectRec:
      return "message reject received";
    case CamStatus::ScsiBusReset:
      return "SCSI bus reset";
    case CamStatus::UncorParity:
      return "uncorrectable parity error";
    case CamStatus::AutosenseFail:
      return "autosense failed";
    case CamStatus::NoHba:
      return "no HBA detected";
    case CamStatus::DataRunErr:
      return "data overrun or underrun";
    case CamStatus::UnexpBusfree:
      return "unexpected bus free";
    case CamStatus::SequenceFail:
      return "protocol violation";
    case CamStatus::CcbLenErr:
      return "CCB length error";
    case CamStatus::ProvideFail:
      return "unable to provide capability";
    case CamStatus::BdrSent:
      return "bus device reset sent";
    case CamStatus::ReqTerminated:
      return "request terminated";
    case CamStatus::Unrecoverable:
      return "unrecoverable error";
    case CamStatus::ResrcUnavail:
      return "resource unavailable";
    case CamStatus::Requeue:
      return "requeue request";
    case CamStatus::ScsiBusy:
      return "SCSI bus busy";
    case CamStatus::ReqTooBig:
      return "request too large for the bus";
  }
  return "unknown CAM status";
}

int Error::errno_value() const {
  switch (m_kind) {
    case Kind::Errno:
      return m_errno;
    case Kind::Sense:
      return EIO;
    case Kind::Cam:
      switch (m_cam) {
        case CamStatus::DevNotThere:
        case CamStatus::SelTimeout:
        case CamStatus::PathInvalid:
        case CamStatus::NoHba:
          return ENXIO;
        case CamStatus::CmdTimeout:
          return ETIMEDOUT;
        case CamStatus::ReqInvalid:
          return EINVAL;
        case CamStatus::ReqTooBig:
          return E2BIG;
        case CamStatus::ReqAborted:
        case CamStatus::ReqTerminated:
          return EINTR;
        case CamStatus::Busy:
        case CamStatus::ScsiBusy:
        case CamStatus::ResrcUnavail:
          return EBUSY;
        default:
          return EIO;
      }
  }
  return EIO;
}

std::string Error::message() const {
  if (m_described) {
    return m_context;
  }
  std::string cause;
  switch (m_kind) {
    case Kind::Errno:
      cause = std::strerror(m_errno);
      break;
    case Kind::Cam:
      cause = std::string(cam_status_name(m_cam));
      break;
    case Kind::Sense: {
      static constexpr const char kHex[] = "0123456789abcdef";
      auto hex = [](std::uint8_t v) { return std::string{kHex[v >> 4], kHex[v & 15]}; };
      cause = "SCSI sense key 0x" + hex(m_sense.key) + " asc 0x" + hex(m_sense.asc) + " ascq 0x" +
              hex(m_sense.ascq);
      break;
    }
  }
  if (m_context.empty()) {
    return cause;
  }
  return m_context + ": " + cause;
}

}  // namespace ucam
