// pt(4): the SCSI processor device driver, through `ptN` nodes.
//
// Attaches to processor devices (peripheral type 03h) that are not SAF-TE enclosures: a
// processor whose INQUIRY data carries the SAF-TE signature belongs to enc (EncDriver::matches,
// scsi::safte::is_safte_inquiry). A node moves messages: SEND (0Ah) hands one message to the
// device, RECEIVE (08h) takes one back (SPC-2 7.6, 7.7). Raw CDBs stay with the pass node of
// the same device.
//
// Single opener, as FreeBSD's pt (PT_FLAG_OPEN): while one open is outstanding a second open
// fails with EBUSY (the device is not touched and no reference is left behind); after its close
// the next open succeeds. The rest of the node lifecycle is periph::NodePeriphDriver's (see
// periphs/node/node_periph.h): each open holds one periph reference until its close, and when
// the device departs new opens fail with ENXIO, calls on an outstanding open fail with ENXIO,
// and that open is revoked (which also ends its exclusive claim).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "cam/cancel.h"
#include "periphs/node/node_periph.h"

namespace ucam::pt {

// SPC-2: the SEND / RECEIVE length field is 24 bits.
inline constexpr std::uint32_t kMaxTransfer = 0xffffff;  // 16,777,215 bytes.

// The largest message one command carries on this node: the smaller of kMaxTransfer and the
// bus's maxio (PathInquiry::maxio, FreeBSD's si_iosize_max). ENXIO once the device is gone.
struct PtGetLimits : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x5480;
  PtGetLimits() : Ioctl(kCode) {}
  std::uint32_t max_transfer = 0;
};

// write(2) / read(2) of FreeBSD's pt: one SEND or one RECEIVE.
//
// Send: `data` is the message (0 bytes allowed: a SEND with transfer length 0).
// Receive: `data` is the buffer, its size the allocation length (0 allowed); `transferred` says
// how many bytes the device returned (0 when it had no message; a longer message is cut to
// the buffer by the device).
//
// A message is never split: a FreeBSD physio would cut a large write(2) into several SENDs,
// which to a message device are several messages, so a buffer larger than max_transfer
// (PtGetLimits) is refused before anything is sent: EINVAL above the 24-bit field, E2BIG above
// the bus's maxio. Errors after sending: the sense (kind Sense) of a CHECK CONDITION; EBUSY when
// the device still answers BUSY after the retries (a processor does so when its message queue
// is full); ENXIO when the device is gone; else the CAM status. The command runs with the
// standard recovery and 4 retries (FreeBSD pt's), `timeout` each; with `cancel`, another thread
// may abort it (it fails with ReqAborted), as for PassCommand.
struct PtIo : devfs::Ioctl {
  static constexpr std::uint32_t kReceive = 0x5481;
  static constexpr std::uint32_t kSend = 0x5482;
  explicit PtIo(std::uint32_t code) : Ioctl(code) {}
  // In.
  std::span<std::uint8_t> data;
  std::chrono::milliseconds timeout{60'000};  // FreeBSD pt's default (PTIOCSETTIMEOUT: FIXME).
  cam::CancelToken* cancel = nullptr;         // Lets another thread abort the command (ucamd).
  // Out.
  std::uint32_t transferred = 0;
};

struct PtSoftc : periph::NodeSoftc {
  bool opened = false;  // An open is outstanding (PT_FLAG_OPEN). Guarded by lock.
};

class PtDriver final : public periph::NodePeriphDriver {
 public:
  // `devfs` must outlast the driver and every node it creates.
  explicit PtDriver(devfs::Devfs& devfs) : NodePeriphDriver(devfs) {}

  std::string_view name() const override { return "pt"; }
  // Peripheral type 03h without the SAF-TE signature.
  bool matches(const cam::DeviceInfo& device) const override;

  // NodePeriphDriver's open, then the exclusive claim: EBUSY (the open undone) when another
  // open is outstanding. Any thread.
  Result<void> open(devfs::Node& node, devfs::OpenFile& file) override;
  // Ends the claim, then NodePeriphDriver's close. Called once per successful open, also as the
  // Revoke close after departure.
  void close(devfs::Node& node, devfs::OpenFile& file, devfs::CloseReason reason) override;
  // PtGetLimits, PtIo. Blocks (runs the command); never from a completion callback.
  Result<void> ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) override;

 protected:
  std::unique_ptr<periph::NodeSoftc> make_softc(cam::Periph& periph) override;
};

}  // namespace ucam::pt
