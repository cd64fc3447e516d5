// sg(4): Linux's SCSI generic v3 contract on every device, through `sgN` nodes.
//
// The requests and replies are plain data that mirror `struct sg_io_hdr`, `struct sg_scsi_id`
// and the SG_* ioctls of /usr/include/scsi/sg.h field for field (names, widths, units,
// constants), so that an LD_PRELOAD shim can translate a Linux program's ioctl() 1:1. The
// ioctl codes are Linux's request numbers.
//
// The semantics are Linux's, not FreeBSD's sg emulation (docs/design.md, "The sg driver"):
//  * A command that reaches the device returns success, whatever the device said. A CHECK
//    CONDITION is a successful call with status 0x02, masked_status 0x01, driver_status
//    DRIVER_SENSE, the sense bytes (sb_len_wr of them) and info SG_INFO_CHECK. Transport
//    failures are successful calls too, with host_status set (make_reply() has the table).
//    FreeBSD's sg instead runs its error recovery and fails the ioctl with an errno.
//  * Commands go through the XPT without error recovery (Recovery::None): no retries of UNIT
//    ATTENTION or BUSY, the caller sees them.
//  * The call fails (an errno, nothing returned) only when the request itself is refused and
//    not sent, with Linux's errno for it (SgIo below), or when the node is gone (ENXIO).
//
// Lifecycle (periph::NodePeriphDriver): attaches to every device, like pass, so sgN and passN
// name the same device (the stack lists it last in its driver table: "pass0,da0,sg0"). Any number
// of opens, in any mode (Linux's sg is not exclusive and does not need write access to open; O_EXCL
// is not implemented). Each open holds a periph reference and has its own settings (timeout,
// reserved size), as Linux's per-fd state. When the device departs, new opens and calls through old
// handles fail with ENXIO (Linux answers ENODEV for a detaching device); commands in flight
// complete (host_status DID_NO_CONNECT when the device is gone).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "cam/cancel.h"
#include "cam/ccb.h"
#include "cam/device_info.h"
#include "cam/periph.h"
#include "devfs/devfs.h"
#include "periphs/node/node_periph.h"

namespace ucam::sgp {

// --- Constants of the sg v3 interface (Linux <scsi/sg.h>) -------------------------------------

// sg_io_hdr.dxfer_direction.
inline constexpr int kDxferNone = -1;       // SG_DXFER_NONE: no data.
inline constexpr int kDxferToDev = -2;      // SG_DXFER_TO_DEV: data-out.
inline constexpr int kDxferFromDev = -3;    // SG_DXFER_FROM_DEV: data-in.
inline constexpr int kDxferToFromDev = -4;  // SG_DXFER_TO_FROM_DEV: data-in into a buffer that
                                            //   is also sent to the kernel first (indirect IO).
inline constexpr int kDxferUnknown = -5;    // SG_DXFER_UNKNOWN (kernel header): data-in, or
                                            //   none when the buffer is empty.

// sg_io_hdr.flags (carried, mostly meaningless here: ucam has no kernel buffers).
inline constexpr std::uint32_t kFlagDirectIo = 0x1;     // SG_FLAG_DIRECT_IO
inline constexpr std::uint32_t kFlagLunInhibit = 0x2;   // SG_FLAG_LUN_INHIBIT
inline constexpr std::uint32_t kFlagMmapIo = 0x4;       // SG_FLAG_MMAP_IO
inline constexpr std::uint32_t kFlagQAtTail = 0x10;     // SG_FLAG_Q_AT_TAIL
inline constexpr std::uint32_t kFlagQAtHead = 0x20;     // SG_FLAG_Q_AT_HEAD
inline constexpr std::uint32_t kFlagNoDxfer = 0x10000;  // SG_FLAG_NO_DXFER

// sg_io_hdr.info bits.
inline constexpr std::uint32_t kInfoOk = 0x0;     // SG_INFO_OK: no sense, host or driver noise.
inline constexpr std::uint32_t kInfoCheck = 0x1;  // SG_INFO_CHECK: something to look at.
inline constexpr std::uint32_t kInfoIndirectIo = 0x0;  // SG_INFO_INDIRECT_IO (always here).

// sg_io_hdr.host_status: the kernel's DID_* codes.
enum class HostStatus : std::uint16_t {
  Ok = 0x00,         // DID_OK
  NoConnect = 0x01,  // DID_NO_CONNECT: the device is gone or unreachable.
  BusBusy = 0x02,    // DID_BUS_BUSY
  TimeOut = 0x03,    // DID_TIME_OUT: the command timed out.
  BadTarget = 0x04,  // DID_BAD_TARGET: nothing answered selection.
  Abort = 0x05,      // DID_ABORT
  Parity = 0x06,     // DID_PARITY
  Error = 0x07,      // DID_ERROR: any other transport or adapter failure.
  Reset = 0x08,      // DID_RESET
  Requeue = 0x0d,    // DID_REQUEUE
};

// sg_io_hdr.driver_status: the kernel's DRIVER_* codes (only DRIVER_SENSE is produced; modern
// kernels dropped the others, DRIVER_TIMEOUT included).
inline constexpr std::uint16_t kDriverOk = 0x00;       // DRIVER_OK
inline constexpr std::uint16_t kDriverTimeout = 0x06;  // DRIVER_TIMEOUT (never set; named only)
inline constexpr std::uint16_t kDriverSense = 0x08;    // DRIVER_SENSE: sense bytes were written.

// masked_status of a CHECK CONDITION (the kernel's CHECK_CONDITION in <scsi/scsi.h>).
inline constexpr std::uint8_t kMaskedCheckCondition = 0x01;

// Limits and defaults.
inline constexpr std::size_t kMinCdb = 6;                  // Linux refuses shorter CDBs (EMSGSIZE).
inline constexpr std::size_t kMaxCdb = cam::Ccb::kMaxCdb;  // Linux takes up to 252 (variable-
                                                           //   length CDBs); a ucam CCB carries 32.
inline constexpr std::size_t kSenseBufferSize = 96;  // SCSI_SENSE_BUFFERSIZE: sense kept per cmd.
inline constexpr std::chrono::milliseconds kDefaultTimeout{
    30'000};                                               // timeout 0: the SCSI
                                                           //   midlayer's default request timeout.
inline constexpr int kUserHz = 100;                        // USER_HZ: SG_GET/SET_TIMEOUT's unit.
inline constexpr int kDefaultTimeoutTicks = 60 * kUserHz;  // SG_DEFAULT_TIMEOUT, in USER_HZ.
inline constexpr int kDefaultReservedSize = 32 * 1024;     // SG_DEF_RESERVED_SIZE.
inline constexpr int kVersionNum = 30536;                  // sg 3.5.36, every kernel since 4.x.

// --- SG_IO ------------------------------------------------------------------------------------

// The input half of struct sg_io_hdr. `cdb` is cmdp/cmd_len; `data` is dxferp/dxfer_len (a
// data-in buffer to fill, or the bytes to send); iovec_count and usr_ptr are the shim's
// business (it flattens an iovec into one buffer).
struct SgIoRequest {
  int interface_id = 'S';            // Must be 'S'.
  int dxfer_direction = kDxferNone;  // kDxfer*.
  std::vector<std::uint8_t> cdb;     // 6 to kMaxCdb bytes.
  std::uint8_t mx_sb_len = 0;        // Room for sense bytes (sbp).
  std::span<std::uint8_t> data;
  std::uint32_t timeout_ms = 0;  // 0: kDefaultTimeout. UINT32_MAX: ~49 days.
  std::uint32_t flags = 0;       // kFlag*.
  int pack_id = 0;               // Returned unchanged in the reply.
};

// The output half of struct sg_io_hdr.
struct SgIoReply {
  std::uint8_t status = 0;          // SCSI status byte.
  std::uint8_t masked_status = 0;   // (status >> 1) & 0x7f, the kernel's status_byte().
  std::uint8_t msg_status = 0;      // Always 0 (COMMAND_COMPLETE).
  std::uint8_t sb_len_wr = 0;       // == sense.size().
  std::uint16_t host_status = 0;    // HostStatus.
  std::uint16_t driver_status = 0;  // kDriverOk or kDriverSense.
  int resid = 0;                    // dxfer_len - bytes actually transferred.
  std::uint32_t duration_ms = 0;    // Time the command took.
  std::uint32_t info = 0;           // kInfoCheck when masked_status, host or driver status set.
  int pack_id = 0;                  // The request's.
  std::vector<std::uint8_t> sense;  // What Linux copies to sbp: min(8 + sense[7], mx_sb_len, 96)
                                    //   bytes of the command's sense.
};

// SG_IO: runs one command and waits for it. Fails, without sending anything, with:
//   ENOSYS    interface_id is not 'S';
//   EMSGSIZE  the CDB is shorter than 6 or longer than kMaxCdb bytes (Linux: 252);
//   EINVAL    dxfer_direction is not a kDxfer* value, or disagrees with the buffer: NONE with
//             data, TO_DEV or TO_FROM_DEV without (FROM_DEV and UNKNOWN may have none);
//   ENOMEM    the buffer is larger than the bus carries per command (DeviceInfo::maxio: Linux
//             cannot build a request that large), or kFlagMmapIo with a buffer larger than
//             the open's reserved size;
//   ENXIO     the node is gone (devfs).
// Everything else, the device's and the transport's answers included, is a successful call
// with `reply` filled in.
struct SgIo : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2285;  // SG_IO
  SgIo() : Ioctl(kCode) {}
  SgIoRequest request;
  SgIoReply reply;
  // Cancelled (a client that went away), the command is aborted: host_status DID_ABORT.
  cam::CancelToken* cancel = nullptr;
};

// --- Other ioctls (each: `value` in or out, as the int* argument on Linux) -------------------

// SG_GET_VERSION_NUM: kVersionNum (>= 30000 tells callers the v3 interface is there).
struct SgGetVersionNum : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2282;
  SgGetVersionNum() : Ioctl(kCode) {}
  int value = 0;
};

// struct sg_scsi_id.
struct SgScsiId {
  int host_no = 0;          // The XPT path id (scbusN): unique per bus, as Linux's host numbers.
  int channel = 0;          // The SIM-local bus number.
  int scsi_id = 0;          // Target id.
  int lun = 0;              // The LUN as Linux numbers it (scsilun_to_int), truncated to int.
  int scsi_type = 0;        // Peripheral device type (INQUIRY byte 0 & 0x1f).
  short h_cmd_per_lun = 0;  // The bus's openings per device.
  short d_queue_depth = 0;  // Same.
};

// SG_GET_SCSI_ID.
struct SgGetScsiId : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2276;
  SgGetScsiId() : Ioctl(kCode) {}
  SgScsiId id;
};

// SG_GET_TIMEOUT: the open's timeout in USER_HZ ticks (Linux returns it as the ioctl's value).
// Only Linux's v2 write()/read() interface uses it; SG_IO takes its timeout from the request.
struct SgGetTimeout : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2202;
  SgGetTimeout() : Ioctl(kCode) {}
  int value = 0;
};

// SG_SET_TIMEOUT: EIO for a negative value (Linux's errno).
struct SgSetTimeout : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2201;
  SgSetTimeout() : Ioctl(kCode) {}
  int value = 0;
};

// SG_GET_RESERVED_SIZE: the open's reserved buffer size, at most the bus's maxio.
struct SgGetReservedSize : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2272;
  SgGetReservedSize() : Ioctl(kCode) {}
  int value = 0;
};

// SG_SET_RESERVED_SIZE: EINVAL for a negative value. As Linux: at least 4096, rounded up to a
// multiple of 512, then capped at the bus's maxio. Bounds kFlagMmapIo transfers only.
struct SgSetReservedSize : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2275;
  SgSetReservedSize() : Ioctl(kCode) {}
  int value = 0;
};

// SG_EMULATED_HOST: 0 (not an ATAPI emulation).
struct SgEmulatedHost : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2203;
  SgEmulatedHost() : Ioctl(kCode) {}
  int value = 0;
};

// SG_GET_SG_TABLESIZE: 0, "cannot scatter-gather": the data of a request is one buffer.
struct SgGetSgTablesize : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x227f;
  SgGetSgTablesize() : Ioctl(kCode) {}
  int value = 0;
};

// SG_GET_ACCESS_COUNT: opens of the node (all handles).
struct SgGetAccessCount : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x2289;
  SgGetAccessCount() : Ioctl(kCode) {}
  int value = 0;
};

// SCSI_IOCTL_GET_IDLUN (the midlayer's, answered by sg nodes): dev_id packs
// target | lun << 8 | channel << 16 | host_no << 24, 8 bits each; host_unique_id = host_no.
struct ScsiGetIdlun : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x5382;
  ScsiGetIdlun() : Ioctl(kCode) {}
  std::uint32_t dev_id = 0;
  std::uint32_t host_unique_id = 0;
};

// SCSI_IOCTL_GET_BUS_NUMBER: host_no.
struct ScsiGetBusNumber : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x5386;
  ScsiGetBusNumber() : Ioctl(kCode) {}
  int value = 0;
};

// Any other code: ENOTTY.

// --- The mapping, exposed for tests ------------------------------------------------------------

// The reply Linux would give for a completed CCB (docs/design.md has the table):
//   ReqCmp                         -> DID_OK, status (GOOD or CONDITION MET)
//   ScsiStatusError, AutosenseFail -> DID_OK, status; on CHECK CONDITION DRIVER_SENSE + sense
//   CmdTimeout                     -> DID_TIME_OUT (no DRIVER_TIMEOUT, as kernels since 5.14)
//   DevNotThere, PathInvalid, NoHba-> DID_NO_CONNECT (the device or its bus is gone)
//   SelTimeout                     -> DID_BAD_TARGET
//   ReqAborted, UaAbort, ReqTerminated -> DID_ABORT
//   ScsiBusReset, BdrSent          -> DID_RESET
//   ScsiBusy, Busy, ResrcUnavail   -> DID_BUS_BUSY
//   UncorParity                    -> DID_PARITY
//   Requeue                        -> DID_REQUEUE
//   anything else                  -> DID_ERROR
// The sense bytes are Linux's: min(8 + additional length, mx_sb_len, 96) bytes of a 96-byte
// buffer holding the command's sense (zeros past what the device returned).
SgIoReply make_reply(const cam::Ccb& ccb, std::uint8_t mx_sb_len,
                     std::chrono::milliseconds duration);
HostStatus host_status_of(CamStatus status);

// The LUN as Linux's scsilun_to_int() numbers it: the first 2-byte level of the 8-byte LUN in
// bits 15:0, the second in 31:16, and so on.
std::uint64_t linux_lun(std::uint64_t cam_lun);

// --- The driver -------------------------------------------------------------------------------

class SgDriver final : public periph::NodePeriphDriver {
 public:
  // `devfs` must outlast the driver and every node it creates.
  explicit SgDriver(devfs::Devfs& devfs) : NodePeriphDriver(devfs) {}

  std::string_view name() const override { return "sg"; }
  bool matches(const cam::DeviceInfo& device) const override;

  // Opens in any mode; each open gets its own settings (freed at its close, revokes included).
  Result<void> open(devfs::Node& node, devfs::OpenFile& file) override;
  void close(devfs::Node& node, devfs::OpenFile& file, devfs::CloseReason reason) override;
  // Runs on the caller's thread; SgIo blocks until the command completes. Concurrent calls on
  // one node (or one handle) are fine.
  Result<void> ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) override;

 protected:
  Result<void> check_open_mode(const cam::Periph& periph, const devfs::OpenFile& file) override;

 private:
  static Result<void> sg_io(cam::Periph& periph, devfs::OpenFile& file, SgIo& io);
};

}  // namespace ucam::sgp
