// pass(4): raw SCSI passthrough to every device, through `passN` nodes.
//
// Any number of opens (track-close: each open holds one periph reference, each close drops it).
// The node itself holds one reference from attach until devfs says it is gone. When the device
// departs, the periph is invalidated: the node is scheduled for destruction (new opens and
// calls fail with ENXIO at once), threads inside a command finish, outstanding opens are
// revoked, and the periph is freed at its last release.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "cam/cancel.h"
#include "cam/ccb.h"
#include "cam/device_info.h"
#include "cam/periph.h"
#include "devfs/devfs.h"
#include "periphs/node/node_periph.h"

namespace ucam::pass {

// CAMIOCOMMAND: run one CDB synchronously. A data buffer larger than the bus's maxio
// (DeviceInfo::maxio, in PassGetDevice) is refused with E2BIG, the command not sent.
struct PassCommand : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x1902;
  PassCommand() : Ioctl(kCode) {}

  // In.
  std::vector<std::uint8_t> cdb;
  cam::DataDir dir = cam::DataDir::None;
  std::span<std::uint8_t> data;  // Data-in buffer to fill, or data-out bytes to send.
  std::chrono::milliseconds timeout{60'000};
  cam::Recovery recovery = cam::Recovery::None;  // CAM_PASS_ERR_RECOVER when Standard.
  std::uint8_t retry_count = 4;
  cam::CancelToken* cancel = nullptr;  // Lets another thread abort the command (ucamd).

  // Out.
  CamStatus status = CamStatus::ReqInProg;
  cam::ScsiStatus scsi_status = cam::ScsiStatus::Good;
  std::uint32_t resid = 0;
  std::vector<std::uint8_t> sense;
};

// XPT_GDEV_TYPE for the node's device (plus the periph name).
struct PassGetDevice : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x1903;
  PassGetDevice() : Ioctl(kCode) {}
  std::string periph_name;
  cam::DeviceInfo device;
};

// The node lifecycle (references, invalidation, track-close) is periph::NodePeriphDriver's.
class PassDriver final : public periph::NodePeriphDriver {
 public:
  // `devfs` must outlast the driver and every node it creates.
  explicit PassDriver(devfs::Devfs& devfs) : NodePeriphDriver(devfs) {}

  std::string_view name() const override { return "pass"; }
  bool matches(const cam::DeviceInfo& device) const override;
  Result<void> ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) override;
};

}  // namespace ucam::pass
