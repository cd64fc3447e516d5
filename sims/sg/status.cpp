#include "sims/sg/status.h"

#include <cerrno>

namespace ucam::sg {
namespace {

SimOutcome failed(CamStatus status, std::uint32_t dxfer_len, bool rescan = false) {
  SimOutcome o;
  o.status = status;
  o.resid = dxfer_len;
  o.rescan = rescan;
  return o;
}

SimOutcome from_host_status(std::uint16_t host_status, std::uint32_t dxfer_len) {
  switch (static_cast<HostStatus>(host_status)) {
    case HostStatus::Ok:
      break;
    case HostStatus::NoConnect:
      // What the midlayer answers for a device that is being deleted or is offline, and what
      // adapters answer for a selection timeout: either way the device may have left.
      return failed(CamStatus::DevNotThere, dxfer_len, true);
    case HostStatus::BadTarget:
    case HostStatus::TransportFailfast:
      return failed(CamStatus::SelTimeout, dxfer_len, true);
    case HostStatus::BusBusy:
      return failed(CamStatus::ScsiBusy, dxfer_len);
    case HostStatus::TimeOut:
      return failed(CamStatus::CmdTimeout, dxfer_len);
    case HostStatus::Abort:
      return failed(CamStatus::ReqAborted, dxfer_len);
    case HostStatus::Parity:
      return failed(CamStatus::UncorParity, dxfer_len);
    case HostStatus::Reset:
      return failed(CamStatus::ScsiBusReset, dxfer_len);
    case HostStatus::SoftError:
    case HostStatus::ImmRetry:
    case HostStatus::Requeue:
      return failed(CamStatus::Requeue, dxfer_len);
    case HostStatus::TransportDisrupted:
      // Retrying at once would spin while the transport recovers: retry after a back-off.
      return failed(CamStatus::Busy, dxfer_len);
    case HostStatus::AllocFailure:
      return failed(CamStatus::ResrcUnavail, dxfer_len);
    case HostStatus::Error:
    case HostStatus::BadIntr:
    case HostStatus::Passthrough:
    case HostStatus::TargetFailure:
    case HostStatus::NexusFailure:
    case HostStatus::MediumError:
    case HostStatus::TransportMarginal:
      return failed(CamStatus::ReqCmpErr, dxfer_len);
  }
  return failed(CamStatus::ReqCmpErr, dxfer_len);  // A code this table does not know.
}

}  // namespace

SimOutcome map_reply(const SgReply& reply, std::uint32_t dxfer_len) {
  if (reply.host_status != 0) {
    return from_host_status(reply.host_status, dxfer_len);
  }
  if (reply.resid < 0) {
    return failed(CamStatus::DataRunErr, 0);
  }
  SimOutcome o;
  o.resid = static_cast<std::uint32_t>(reply.resid) < dxfer_len
                ? static_cast<std::uint32_t>(reply.resid)
                : dxfer_len;
  o.scsi_status = static_cast<cam::ScsiStatus>(reply.status);
  const auto scsi = static_cast<cam::ScsiStatus>(reply.status);
  if (scsi != cam::ScsiStatus::Good && scsi != cam::ScsiStatus::ConditionMet) {
    o.status = CamStatus::ScsiStatusError;
    o.autosense_valid = scsi == cam::ScsiStatus::CheckCondition && reply.sense_len > 0;
    return o;
  }
  switch (static_cast<DriverStatus>(reply.driver_status & 0x0fU)) {
    case DriverStatus::Ok:
    case DriverStatus::Sense:
      o.status = CamStatus::ReqCmp;
      return o;
    case DriverStatus::Busy:
      return failed(CamStatus::Busy, dxfer_len);
    case DriverStatus::Timeout:
      return failed(CamStatus::CmdTimeout, dxfer_len);
    case DriverStatus::Soft:
    case DriverStatus::Media:
    case DriverStatus::Error:
    case DriverStatus::Invalid:
    case DriverStatus::Hard:
      return failed(CamStatus::ReqCmpErr, dxfer_len);
  }
  return failed(CamStatus::ReqCmpErr, dxfer_len);  // Reserved driver codes.
}

SimOutcome map_errno(int error, std::uint32_t dxfer_len) {
  switch (error) {
    case ENODEV:
    case ENXIO:
      return failed(CamStatus::DevNotThere, dxfer_len, true);
    case EBUSY:
      return failed(CamStatus::Busy, dxfer_len);
    case EAGAIN:
    case EDOM:
    case ENOMEM:
    case ENOBUFS:
      return failed(CamStatus::ResrcUnavail, dxfer_len);
    case EINTR:
      return failed(CamStatus::Requeue, dxfer_len);
    case EINVAL:
    case EFAULT:
    case EOVERFLOW:
    case EMSGSIZE:
    case EPERM:
    case EACCES:
      return failed(CamStatus::ReqInvalid, dxfer_len);
    default:
      return failed(CamStatus::ReqCmpErr, dxfer_len);
  }
}

}  // namespace ucam::sg
