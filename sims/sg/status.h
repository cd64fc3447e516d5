// How a Linux sg v3 outcome becomes a CAM outcome. Pure functions: no I/O, no state.
//
// An sg command ends in one of two ways:
//  * write(2) or read(2) on the sg node fails with an errno (the command never ran, or the
//    device is detaching): map_errno();
//  * read(2) returns the sg_io_hdr with the SCSI status byte, the host (adapter/transport)
//    status, the driver status, the residual count and the sense length: map_reply().
// In a reply, a non-zero host status wins over everything else (the SCSI status is meaningless
// when the command did not complete on the target), then a SCSI status other than GOOD and
// CONDITION MET, then the driver status (its low nibble; DRIVER_SENSE only says that sense is
// present). A negative residual (the device sent more than asked) is a data overrun.
//
// The host and driver status codes are the kernel's DID_* and DRIVER_* values, which
// /usr/include/scsi/sg.h does not define (they are documented in the sg v3 HOWTO, "host_status"
// and "driver_status"); they are named here.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "cam/ccb.h"

namespace ucam::sg {

// sg_io_hdr.host_status (the kernel's DID_* codes).
enum class HostStatus : std::uint16_t {
  Ok = 0x00,
  NoConnect = 0x01,  // Could not connect: selection timeout, or the device is gone/offline.
  BusBusy = 0x02,
  TimeOut = 0x03,  // The command timed out (the kernel's error handler took it back).
  BadTarget = 0x04,
  Abort = 0x05,
  Parity = 0x06,
  Error = 0x07,  // Internal error in the adapter.
  Reset = 0x08,  // The bus or device was reset.
  BadIntr = 0x09,
  Passthrough = 0x0a,
  SoftError = 0x0b,  // The adapter driver wants a retry.
  ImmRetry = 0x0c,
  Requeue = 0x0d,
  TransportDisrupted = 0x0e,  // Transport trouble; retry once it is back.
  TransportFailfast = 0x0f,   // The transport gave up on the remote port.
  TargetFailure = 0x10,
  NexusFailure = 0x11,
  AllocFailure = 0x12,
  MediumError = 0x13,
  TransportMarginal = 0x14,
};

// sg_io_hdr.driver_status low nibble (the kernel's DRIVER_* codes); the high nibble carries
// "suggestions" that the mapping ignores.
enum class DriverStatus : std::uint8_t {
  Ok = 0x0,
  Busy = 0x1,
  Soft = 0x2,
  Media = 0x3,
  Error = 0x4,
  Invalid = 0x5,
  Timeout = 0x6,
  Hard = 0x7,
  Sense = 0x8,  // Sense data was written (the SCSI status says why).
};

// The fields of a completed sg_io_hdr that decide the outcome.
struct SgReply {
  std::uint8_t status = 0;          // SCSI status byte (sg_io_hdr.status).
  std::uint16_t host_status = 0;    // HostStatus.
  std::uint16_t driver_status = 0;  // DriverStatus | suggestion bits.
  std::int32_t resid = 0;           // dxfer_len - bytes actually transferred.
  std::uint8_t sense_len = 0;       // sb_len_wr.
};

struct SimOutcome {
  CamStatus status = CamStatus::ReqCmp;
  cam::ScsiStatus scsi_status = cam::ScsiStatus::Good;
  std::uint32_t resid = 0;
  bool autosense_valid = false;  // Sense bytes were returned with a CHECK CONDITION.
  // The device is gone or unreachable: the SIM re-reads sysfs so that the XPT learns it.
  bool rescan = false;
  friend bool operator==(const SimOutcome&, const SimOutcome&) = default;
};

SimOutcome map_reply(const SgReply& reply, std::uint32_t dxfer_len);

// An errno from write(2) (submission) or read(2) (collection) on the sg node:
//   ENODEV, ENXIO   -> DevNotThere (+ rescan): the device is detaching or gone.
//   EBUSY           -> Busy: retried later by the XPT.
//   EAGAIN, EDOM    -> ResrcUnavail: sg's per-open queue is full (SG_MAX_QUEUE); retried later.
//   ENOMEM, ENOBUFS -> ResrcUnavail: the kernel could not allocate the request or its buffer.
//   EINTR           -> Requeue.
//   EINVAL, EFAULT, EOVERFLOW, EMSGSIZE -> ReqInvalid: the kernel refused the request itself
//                      (CDB length, transfer too large for the host, bad buffer).
//   EPERM, EACCES   -> ReqInvalid: the command is not allowed on this open (Linux's SCSI
//                      command filter: a read-only open may not send it without
//                      CAP_SYS_RAWIO).
//   EIO and anything else -> ReqCmpErr.
SimOutcome map_errno(int error, std::uint32_t dxfer_len);

}  // namespace ucam::sg
