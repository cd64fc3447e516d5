// Discovery of the Linux SCSI devices that have an sg node, from sysfs.
//
// Linux lists every SCSI device the sg driver has attached under /sys/class/scsi_generic/sgN.
// Its `device` link leads to the SCSI device's directory, named H:C:T:L (host, channel,
// target, LUN), which holds `type`, `vendor`, `model`, `rev`, `state`, `queue_depth` and the
// upper-level device beside it: `block/sdX` (sd), `scsi_tape/stN...` (st) or
// `scsi_changer/schN` (ch). Hosts are /sys/class/scsi_host/hostH (`proc_name`, `can_queue`);
// the transport shows as a sas_host, fc_host or iscsi_host class entry of the same name.
//
// The roots are parameters so that tests point them at a fake tree built in a temp dir. A
// device that vanishes while it is being read (its sysfs directory removed half-way) is
// skipped, not an error: hot-plug makes that an ordinary event.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace ucam::sg {

// A Linux SCSI address. `lun` is Linux's integer LUN (scsilun_to_int: the 2-byte levels of the
// 8-byte LUN packed first level lowest), not CAM's; see cam_lun().
struct LinuxAddress {
  std::uint32_t host = 0;
  std::uint32_t channel = 0;
  std::uint32_t target = 0;
  std::uint64_t lun = 0;

  // "H:C:T:L", as sysfs and lsscsi write it.
  std::string text() const;
  static std::optional<LinuxAddress> parse(std::string_view text);
  friend auto operator<=>(const LinuxAddress&, const LinuxAddress&) = default;
};

// CAM's integer LUN (scsi::lun_to_u64 of the 8-byte LUN) for a Linux integer LUN, and back.
std::uint64_t cam_lun(std::uint64_t linux_lun);
std::uint64_t linux_lun(std::uint64_t cam_lun);

struct DiscoveryRoots {
  std::string sysfs = "/sys";
  std::string dev = "/dev";
};

// One /sys/class/scsi_generic entry.
struct SgDeviceEntry {
  std::string name;      // "sg3"
  std::string dev_path;  // "<dev root>/sg3"
  LinuxAddress address;
  std::uint8_t type = 0x1f;  // Peripheral device type (`type`).
  std::string vendor;        // Trailing blanks trimmed.
  std::string model;
  std::string revision;
  std::string state;              // "running", "offline", "blocked", ... (empty if unknown)
  std::uint32_t queue_depth = 0;  // 0: not reported.
  std::string block;              // "sda" when sd attached, else empty.
  std::string tape;               // "st0" when st attached.
  std::string changer;            // "sch0" when ch attached.
  // The block device's max_sectors_kb * 1024 (0 when there is no block device).
  std::uint32_t block_max_bytes = 0;
};

struct SgHostEntry {
  std::uint32_t host = 0;
  std::string proc_name;  // The low-level driver: "scsi_debug", "mpt3sas", "iscsi_tcp"...
  std::string transport;  // "SAS", "FC", "iSCSI", or "other".
  std::uint32_t can_queue = 0;
};

struct SgTopology {
  std::vector<SgHostEntry> hosts;      // Sorted by host number.
  std::vector<SgDeviceEntry> devices;  // Sorted by address.
  std::vector<std::string> skipped;    // Entries that vanished or made no sense, with why.
};

// Reads the tree. Fails (ENOENT, with a message naming the sg driver) only when
// <sysfs>/class/scsi_generic itself is missing.
Result<SgTopology> discover(const DiscoveryRoots& roots);

// Whether `entry` on `host` is selected by `filter`: an empty filter selects everything; an
// item selects a device when it equals its sg name ("sg3"), its address ("0:0:1:0"), its host
// ("host2") or its host's driver ("scsi_debug").
bool selected(const std::vector<std::string>& filter, const SgDeviceEntry& entry,
              const SgHostEntry* host);

}  // namespace ucam::sg
