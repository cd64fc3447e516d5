#include "periphs/pt/pt.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "scsi/cdb.h"
#include "scsi/safte.h"
#include "scsi/sense.h"

namespace ucam::pt {
namespace {

constexpr std::uint8_t kProcessorType = 0x03;
constexpr std::uint8_t kRetries = 4;  // FreeBSD pt: 4 retries.

static_assert(kMaxTransfer == scsi::kMaxSendReceiveLength);

Result<std::uint32_t> max_transfer(cam::Periph& periph) {
  auto info = periph.xpt().device(periph.path());
  if (!info) {
    return fail_errno(ENXIO, periph.name() + ": device is gone");
  }
  return info->maxio == 0 ? kMaxTransfer : std::min(info->maxio, kMaxTransfer);
}

Result<void> transfer(cam::Periph& periph, PtIo& io) {
  const bool send = io.code() == PtIo::kSend;
  const char* what = send ? "SEND" : "RECEIVE";
  if (io.data.size() > kMaxTransfer) {
    return fail(Error::described(
        EINVAL, fmt::format("{}: a {}-byte {} exceeds the {} bytes of its 24-bit length field "
                            "(SPC-2); a message is never split",
                            periph.name(), io.data.size(), what, kMaxTransfer)));
  }
  auto limit = max_transfer(periph);
  if (!limit) {
    return fail(limit.error());
  }
  const auto length = static_cast<std::uint32_t>(io.data.size());
  if (length > *limit) {
    return fail(Error::described(
        E2BIG, fmt::format("{}: a {}-byte {} exceeds the {} bytes its bus carries per command "
                           "(maxio); a message is never split",
                           periph.name(), length, what, *limit)));
  }
  auto cdb = send ? scsi::send6(length) : scsi::receive6(length);
  if (!cdb) {
    return fail(cdb.error());  // Unreachable: the length was checked above.
  }
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb(cdb->span());
  ccb.dir = length == 0 ? cam::DataDir::None : (send ? cam::DataDir::Out : cam::DataDir::In);
  ccb.data = length == 0 ? nullptr : io.data.data();
  ccb.dxfer_len = length;
  ccb.timeout = io.timeout;
  ccb.recovery = cam::Recovery::Standard;
  ccb.retry_count = kRetries;
  periph.xpt().run_sync(ccb, io.cancel);
  if (ccb.status == CamStatus::ReqCmp) {
    io.transferred = length - std::min(ccb.resid, length);
    return {};
  }
  const std::string context = fmt::format("{}: {} of {} bytes", periph.name(), what, length);
  if (ccb.sense_len > 0) {
    if (auto s = scsi::parse_sense({ccb.sense_data.data(), ccb.sense_len})) {
      return fail(Error::from_sense({s->sense_key, s->asc, s->ascq},
                                    context + ": " + scsi::describe_sense(*s)));
    }
  }
  if (ccb.status == CamStatus::ScsiStatusError && ccb.scsi_status == cam::ScsiStatus::Busy) {
    return fail(Error::described(
        EBUSY, context + ": the device is busy (BUSY status after " + std::to_string(kRetries) +
                   " retries); " +
                   (send ? "its message queue is probably full: RECEIVE messages, then retry"
                         : "retry later")));
  }
  if (ccb.status == CamStatus::DevNotThere || ccb.status == CamStatus::SelTimeout) {
    return fail_errno(ENXIO, context + ": device is gone");
  }
  if (ccb.status == CamStatus::ReqTooBig) {
    // The XPT refused it (maxio changed under us); nothing was sent.
    return fail(Error::described(E2BIG, context + ": exceeds what its bus carries (maxio)"));
  }
  return fail(Error::from_cam(ccb.status, context));
}

}  // namespace

bool PtDriver::matches(const cam::DeviceInfo& device) const {
  return device.device_type == kProcessorType &&
         !scsi::safte::is_safte_inquiry(device.inquiry_data);
}

std::unique_ptr<periph::NodeSoftc> PtDriver::make_softc(cam::Periph& /*periph*/) {
  return std::make_unique<PtSoftc>();
}

// FreeBSD's ptopen takes the reference and checks INVALID before PT_FLAG_OPEN, so a departed
// device says ENXIO, not EBUSY; the base open does the first two. The claim is a flag, not
// open_count > 1, so that of two racing opens exactly one wins (with a count, both could see
// the other's increment and both fail). The losing open is undone through the base close: it
// drops the reference this open took; the node's own reference is still held (devfs does not
// call gone() while a thread is inside open), so the periph cannot be freed here.
Result<void> PtDriver::open(devfs::Node& node, devfs::OpenFile& file) {
  if (auto r = NodePeriphDriver::open(node, file); !r) {
    return r;
  }
  cam::Periph& periph = periph_of(node);
  {
    auto& sc = periph.softc<PtSoftc>();
    std::lock_guard lock(sc.lock);
    if (!sc.opened) {
      sc.opened = true;
      return {};
    }
  }
  auto busy =
      Error::described(EBUSY, periph.name() +
                                  ": already open; pt allows one opener at a time (close the other "
                                  "first)");
  NodePeriphDriver::close(node, file, devfs::CloseReason::Normal);
  return fail(std::move(busy));
}

// Only the one successful open reaches here (a refused open never does: devfs closes only
// successful opens), so clearing the claim is exact.
void PtDriver::close(devfs::Node& node, devfs::OpenFile& file, devfs::CloseReason reason) {
  {
    auto& sc = periph_of(node).softc<PtSoftc>();
    std::lock_guard lock(sc.lock);
    sc.opened = false;
  }
  NodePeriphDriver::close(node, file, reason);
}

Result<void> PtDriver::ioctl(devfs::Node& node, devfs::OpenFile& /*file*/, devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  switch (request.code()) {
    case PtGetLimits::kCode: {
      auto limit = max_transfer(periph);
      if (!limit) {
        return fail(limit.error());
      }
      static_cast<PtGetLimits&>(request).max_transfer = *limit;
      return {};
    }
    case PtIo::kSend:
    case PtIo::kReceive: {
      auto& io = static_cast<PtIo&>(request);
      io.transferred = 0;
      return transfer(periph, io);
    }
    default:
      return fail_errno(ENOTTY, periph.name() + ": unknown ioctl (raw CDBs go to the pass node)");
  }
}

}  // namespace ucam::pt
