// A snapshot of one device's entry in the XPT device database (FreeBSD's cam_ed plus the
// XPT_GDEV_TYPE / XPT_DEV_ADVINFO answers). Plain data: safe to copy and keep.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cam/async.h"
#include "cam/path.h"

namespace ucam::cam {

struct DeviceInfo {
  Path path;
  std::string sim_name;  // "emu"
  std::uint32_t sim_unit = 0;
  std::uint32_t sim_bus = 0;
  std::uint32_t maxio = 0;        // The bus's largest transfer per CCB in bytes; 0 = no limit.
  std::uint32_t queue_depth = 0;  // Openings per device (PathInquiry::device_queue_depth).
  std::uint8_t peripheral_qualifier = 0;
  std::uint8_t device_type = 0x1f;          // Peripheral device type (inquiry byte 0 & 0x1f).
  bool encserv = false;                     // Inquiry EncServ bit.
  std::string vendor, product, revision;    // Trimmed.
  std::vector<std::uint8_t> inquiry_data;   // Raw standard INQUIRY data.
  std::vector<std::uint8_t> supported_vpd;  // Page codes from VPD 0x00.
  std::string serial;                       // VPD 0x80, trimmed ("" if none).
  std::vector<std::uint8_t> devid;          // Raw VPD 0x83 page ("" if none).
  std::map<AdvinfoType, std::vector<std::uint8_t>> advinfo;  // Physical path and friends.
  std::uint64_t generation = 0;  // Bumped on every change to this entry.
};

}  // namespace ucam::cam
