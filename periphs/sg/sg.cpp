#include "periphs/sg/sg.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>

#include "scsi/report_luns.h"

namespace ucam::sgp {
namespace {

// Per-open settings (Linux keeps them per file descriptor). Atomics: one handle may be used by
// several threads at once; they never need to change together.
struct SgOpenState {
  std::atomic<int> timeout_ticks{kDefaultTimeoutTicks};
  std::atomic<int> reserved_size{kDefaultReservedSize};
};

SgOpenState& state_of(devfs::OpenFile& file) {
  return *static_cast<SgOpenState*>(file.driver_data);
}

// The bus's maxio as Linux's max_sectors_bytes() would cap an int: 0 means no limit.
int maxio_cap(const std::optional<cam::DeviceInfo>& info) {
  if (!info || info->maxio == 0 || info->maxio > static_cast<std::uint32_t>(INT_MAX)) {
    return INT_MAX;
  }
  return static_cast<int>(info->maxio);
}

// What SG_SET_RESERVED_SIZE makes of a request: the kernel allocates at least a page, in
// 512-byte units, and reports no more than the queue's largest transfer.
int reserved_size_for(int requested, int cap) {
  constexpr int kPage = 4096;
  constexpr int kUnit = 512;
  std::int64_t size = std::max(requested, kPage);
  size = (size + kUnit - 1) / kUnit * kUnit;
  return static_cast<int>(std::min<std::int64_t>(size, cap));
}

Result<cam::DataDir> data_dir_of(int direction, std::size_t length) {
  switch (direction) {
    case kDxferNone:
      if (length != 0) {
        return fail_errno(EINVAL, "SG_DXFER_NONE with a data buffer");
      }
      return cam::DataDir::None;
    case kDxferToDev:
      // Linux moves no data when dxfer_len is 0, whatever the direction: mtx sends MOVE MEDIUM
      // as SG_DXFER_TO_DEV with no buffer.
      return length == 0 ? cam::DataDir::None : cam::DataDir::Out;
    case kDxferToFromDev:
      if (length == 0) {
        return cam::DataDir::None;
      }
      // Linux copies the buffer into its kernel buffer, then reads into it: here the device
      // reads into the caller's buffer directly, which holds those bytes already.
      return cam::DataDir::In;
    case kDxferFromDev:
    case kDxferUnknown:
      return length == 0 ? cam::DataDir::None : cam::DataDir::In;
    default:
      return fail_errno(EINVAL,
                        fmt::format("dxfer_direction {} is not an SG_DXFER_* value", direction));
  }
}

}  // namespace

HostStatus host_status_of(CamStatus status) {
  switch (status) {
    case CamStatus::ReqCmp:
    case CamStatus::ScsiStatusError:
    case CamStatus::AutosenseFail:
      return HostStatus::Ok;
    case CamStatus::CmdTimeout:
      return HostStatus::TimeOut;
    case CamStatus::DevNotThere:
    case CamStatus::PathInvalid:
    case CamStatus::NoHba:
      return HostStatus::NoConnect;
    case CamStatus::SelTimeout:
      return HostStatus::BadTarget;
    case CamStatus::ReqAborted:
    case CamStatus::UaAbort:
    case CamStatus::ReqTerminated:
      return HostStatus::Abort;
    case CamStatus::ScsiBusReset:
    case CamStatus::BdrSent:
      return HostStatus::Reset;
    case CamStatus::ScsiBusy:
    case CamStatus::Busy:
    case CamStatus::ResrcUnavail:
      return HostStatus::BusBusy;
    case CamStatus::UncorParity:
      return HostStatus::Parity;
    case CamStatus::Requeue:
      return HostStatus::Requeue;
    default:
      return HostStatus::Error;
  }
}

SgIoReply make_reply(const cam::Ccb& ccb, std::uint8_t mx_sb_len,
                     std::chrono::milliseconds duration) {
  SgIoReply reply;
  reply.host_status = static_cast<std::uint16_t>(host_status_of(ccb.status));
  // The status byte means something only when the command reached the device.
  if (reply.host_status == static_cast<std::uint16_t>(HostStatus::Ok)) {
    reply.status = static_cast<std::uint8_t>(ccb.scsi_status);
  }
  reply.masked_status = static_cast<std::uint8_t>((reply.status >> 1) & 0x7f);
  reply.resid = static_cast<int>(std::min<std::uint32_t>(ccb.resid, ccb.dxfer_len));
  const auto ms = duration.count();
  reply.duration_ms =
      ms <= 0 ? 0 : static_cast<std::uint32_t>(std::min<std::int64_t>(ms, UINT32_MAX));
  const bool check = (reply.masked_status & kMaskedCheckCondition) != 0;
  if (check || (ccb.flags & cam::kCcbAutosenseValid) != 0) {
    // Linux copies from its fixed sense buffer: the additional length decides how much,
    // bounded by the caller's room and the buffer; bytes the device did not send are zero.
    std::array<std::uint8_t, kSenseBufferSize> buffer{};
    const auto have = std::min<std::size_t>(ccb.sense_len, buffer.size());
    std::copy_n(ccb.sense_data.begin(), have, buffer.begin());
    std::size_t len = 8 + static_cast<std::size_t>(buffer[7]);
    len = std::min({len, static_cast<std::size_t>(mx_sb_len), buffer.size()});
    reply.sense.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(len));
    reply.sb_len_wr = static_cast<std::uint8_t>(len);
    reply.driver_status = kDriverSense;
  }
  if (reply.masked_status != 0 || reply.host_status != 0 || reply.driver_status != 0) {
    reply.info |= kInfoCheck;
  }
  return reply;
}

std::uint64_t linux_lun(std::uint64_t cam_lun) {
  const std::uint64_t raw = scsi::u64_to_lun(cam_lun).raw_lun;
  std::uint64_t value = 0;
  for (int level = 0; level < 4; ++level) {
    // Level `level` is bytes 2*level and 2*level+1 of the LUN: bits 63-16*level down.
    value |= ((raw >> (48 - 16 * level)) & 0xffffU) << (16 * level);
  }
  return value;
}

bool SgDriver::matches(const cam::DeviceInfo& /*device*/) const {
  return true;
}

Result<void> SgDriver::check_open_mode(const cam::Periph& /*periph*/,
                                       const devfs::OpenFile& /*file*/) {
  return {};  // Linux's sg opens read-only, write-only or read-write alike.
}

Result<void> SgDriver::open(devfs::Node& node, devfs::OpenFile& file) {
  if (auto r = NodePeriphDriver::open(node, file); !r) {
    return r;
  }
  auto state = std::make_unique<SgOpenState>();
  const auto info = periph_of(node).xpt().device(periph_of(node).path());
  state->reserved_size = std::min(kDefaultReservedSize, maxio_cap(info));
  file.driver_data = state.release();  // Freed by close(), which every successful open gets.
  return {};
}

void SgDriver::close(devfs::Node& node, devfs::OpenFile& file, devfs::CloseReason reason) {
  // Track-close: no thread is inside a call on this open any more (a handle's owner closes it
  // after its calls return; a revoke runs after every thread left the node).
  delete static_cast<SgOpenState*>(file.driver_data);
  file.driver_data = nullptr;
  NodePeriphDriver::close(node, file, reason);
}

Result<void> SgDriver::ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  auto& state = state_of(file);
  const auto device = [&]() -> Result<cam::DeviceInfo> {
    auto info = periph.xpt().device(periph.path());
    if (!info) {
      return fail_errno(ENXIO, periph.name() + ": device is gone");
    }
    return std::move(*info);
  };
  switch (request.code()) {
    case SgIo::kCode:
      return sg_io(periph, file, static_cast<SgIo&>(request));
    case SgGetVersionNum::kCode:
      static_cast<SgGetVersionNum&>(request).value = kVersionNum;
      return {};
    case SgGetScsiId::kCode: {
      auto info = device();
      if (!info) {
        return fail(info.error());
      }
      auto& id = static_cast<SgGetScsiId&>(request).id;
      id = {};
      id.host_no = static_cast<int>(info->path.bus);
      id.channel = static_cast<int>(info->sim_bus);
      id.scsi_id = static_cast<int>(info->path.target);
      id.lun = static_cast<int>(static_cast<std::uint32_t>(linux_lun(info->path.lun)));
      id.scsi_type = info->device_type & 0x1f;
      const auto depth = static_cast<short>(std::min<std::uint32_t>(info->queue_depth, SHRT_MAX));
      id.h_cmd_per_lun = depth;
      id.d_queue_depth = depth;
      return {};
    }
    case SgGetTimeout::kCode:
      static_cast<SgGetTimeout&>(request).value = state.timeout_ticks.load();
      return {};
    case SgSetTimeout::kCode: {
      const int value = static_cast<SgSetTimeout&>(request).value;
      if (value < 0) {
        return fail_errno(EIO, periph.name() + ": SG_SET_TIMEOUT: negative timeout");
      }
      state.timeout_ticks = value;
      return {};
    }
    case SgGetReservedSize::kCode: {
      auto info = periph.xpt().device(periph.path());
      static_cast<SgGetReservedSize&>(request).value =
          std::min(state.reserved_size.load(), maxio_cap(info));
      return {};
    }
    case SgSetReservedSize::kCode: {
      const int value = static_cast<SgSetReservedSize&>(request).value;
      if (value < 0) {
        return fail_errno(EINVAL, periph.name() + ": SG_SET_RESERVED_SIZE: negative size");
      }
      state.reserved_size = reserved_size_for(value, maxio_cap(periph.xpt().device(periph.path())));
      return {};
    }
    case SgEmulatedHost::kCode:
      static_cast<SgEmulatedHost&>(request).value = 0;
      return {};
    case SgGetSgTablesize::kCode:
      static_cast<SgGetSgTablesize&>(request).value = 0;
      return {};
    case SgGetAccessCount::kCode:
      static_cast<SgGetAccessCount&>(request).value = static_cast<int>(node.open_count());
      return {};
    case ScsiGetIdlun::kCode: {
      auto info = device();
      if (!info) {
        return fail(info.error());
      }
      auto& idlun = static_cast<ScsiGetIdlun&>(request);
      idlun.dev_id = (info->path.target & 0xffU) |
                     ((static_cast<std::uint32_t>(linux_lun(info->path.lun)) & 0xffU) << 8) |
                     ((info->sim_bus & 0xffU) << 16) | ((info->path.bus & 0xffU) << 24);
      idlun.host_unique_id = info->path.bus;
      return {};
    }
    case ScsiGetBusNumber::kCode:
      static_cast<ScsiGetBusNumber&>(request).value = static_cast<int>(periph.path().bus);
      return {};
    default:
      return fail_errno(ENOTTY, periph.name() + ": unknown ioctl");
  }
}

Result<void> SgDriver::sg_io(cam::Periph& periph, devfs::OpenFile& file, SgIo& io) {
  const SgIoRequest& req = io.request;
  if (req.interface_id != 'S') {
    return fail(Error::described(ENOSYS, fmt::format("{}: SG_IO: interface_id {} is not 'S'",
                                                     periph.name(), req.interface_id)));
  }
  if (req.cdb.size() < kMinCdb || req.cdb.size() > kMaxCdb) {
    return fail(
        Error::described(EMSGSIZE, fmt::format("{}: SG_IO: a {}-byte CDB (must be {} to {} bytes)",
                                               periph.name(), req.cdb.size(), kMinCdb, kMaxCdb)));
  }
  auto dir = data_dir_of(req.dxfer_direction, req.data.size());
  if (!dir) {
    return fail(Error::described(EINVAL, periph.name() + ": SG_IO: " + dir.error().context()));
  }
  if ((req.flags & kFlagMmapIo) != 0 &&
      req.data.size() > static_cast<std::size_t>(state_of(file).reserved_size.load())) {
    return fail(Error::described(
        ENOMEM, fmt::format("{}: SG_IO: a {}-byte mmap-ed transfer exceeds the reserved "
                            "buffer ({} bytes)",
                            periph.name(), req.data.size(), state_of(file).reserved_size.load())));
  }
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb(req.cdb);
  ccb.dir = *dir;
  if (*dir != cam::DataDir::None) {
    ccb.data = req.data.data();
    ccb.dxfer_len = static_cast<std::uint32_t>(req.data.size());
  }
  ccb.timeout = req.timeout_ms == 0 ? kDefaultTimeout : std::chrono::milliseconds(req.timeout_ms);
  ccb.recovery = cam::Recovery::None;  // Linux passes errors to the caller, unretried.
  ccb.retry_count = 0;
  const auto started = std::chrono::steady_clock::now();
  periph.xpt().run_sync(ccb, io.cancel);
  periph::note_passthrough(periph, ccb);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (ccb.status == CamStatus::ReqTooBig) {
    // Refused by the XPT, never sent. Linux's sg cannot build a request that large: ENOMEM.
    const auto info = periph.xpt().device(periph.path());
    return fail(Error::described(
        ENOMEM, fmt::format("{}: SG_IO: a {}-byte transfer exceeds the {} bytes its bus carries "
                            "per command (maxio)",
                            periph.name(), req.data.size(), info ? info->maxio : 0)));
  }
  io.reply = make_reply(ccb, req.mx_sb_len, elapsed);
  io.reply.pack_id = req.pack_id;
  return {};
}

}  // namespace ucam::sgp
