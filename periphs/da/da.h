// da(4): the direct-access (disk) driver, through `daN` nodes.
//
// Attaches to direct-access block devices (peripheral type 0x00) and RBC devices (0x0E), so a
// disk has the names FreeBSD gives it ("da3", beside "pass5"), and tools can say
// `ucamctl enc locate da3 on`. A node answers block I/O: its geometry (from the READ
// CAPACITY(16) data the XPT keeps for the device) and READ(16) / WRITE(16) of whole blocks.
// Raw CDBs stay with the pass node of the same device.
//
// The node lifecycle is periph::NodePeriphDriver's (see periphs/node/node_periph.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "cam/cancel.h"
#include "periphs/node/node_periph.h"

namespace ucam::da {

// DIOCGMEDIASIZE + DIOCGSECTORSIZE: the geometry, re-read from the device database.
struct DaGetGeometry : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6480;
  DaGetGeometry() : Ioctl(kCode) {}
  std::uint32_t block_length = 0;
  std::uint64_t block_count = 0;
  // The largest transfer one command carries on this disk's bus (PathInquiry::maxio, FreeBSD's
  // d_maxsize), in bytes; 0 = no limit. DaIo splits larger requests.
  std::uint32_t max_transfer = 0;
};

// Block I/O: `blocks` whole blocks from `lba` into (Read) or out of (Write) `data`, which must
// be exactly blocks * block_length bytes. A request larger than the bus's maxio is split into
// commands of at most maxio bytes (whole blocks), sent one after the other in LBA order; the
// first that fails ends the request, so on error a prefix of the range may have been
// transferred. A device error is an Error carrying the CAM status or the sense; ENXIO once
// the disk has departed; EINVAL if maxio is smaller than one block. With `cancel`, another
// thread may abort the request (the command in flight fails with ReqAborted, no further
// command is sent), as for PassCommand.
struct DaIo : devfs::Ioctl {
  static constexpr std::uint32_t kRead = 0x6481;
  static constexpr std::uint32_t kWrite = 0x6482;
  explicit DaIo(std::uint32_t code) : Ioctl(code) {}
  std::uint64_t lba = 0;
  std::uint32_t blocks = 0;
  std::span<std::uint8_t> data;
  std::chrono::milliseconds timeout{60'000};
  cam::CancelToken* cancel = nullptr;  // Lets another thread abort the request (ucamd).
};

class DaDriver final : public periph::NodePeriphDriver {
 public:
  // `devfs` must outlast the driver and every node it creates.
  explicit DaDriver(devfs::Devfs& devfs) : NodePeriphDriver(devfs) {}

  std::string_view name() const override { return "da"; }
  bool matches(const cam::DeviceInfo& device) const override;
  Result<void> ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) override;
};

}  // namespace ucam::da
