// The Linux SG_IO SIM: real SCSI devices through the kernel's sg driver (/dev/sg*).
//
// Topology. One ucam bus (one cam::Sim, PathInquiry{sim_name "sg", unit = SCSI host number,
// bus = channel}) per SCSI host and channel that has sg devices, so "sg2 bus 0" is Linux's
// host2 channel 0. Targets keep their Linux target ids; LUNs are CAM's integer form of the same
// 8-byte LUN (cam_lun() in sysfs.h). What exists comes from sysfs (sysfs.h), not from probing:
// the bus lists sysfs's targets (Sim::list_targets), so a scan probes only those, and
// a command to a target that has no sg device ends in SelTimeout, to a missing LUN of a present
// target in DevNotThere. Only when a target has sg devices but none for LUN 0 (the kernel
// attaches no LUN 0 that reports "not present") does the SIM answer for LUN 0 itself: INQUIRY
// with peripheral qualifier 3 and REPORT LUNS listing the LUNs sysfs shows, so that the XPT's
// target scan still finds the others.
//
// Commands. The asynchronous half of the sg v3 interface: action() write()s the sg_io_hdr on
// the device's non-blocking descriptor, then tries one non-blocking read(): a device that
// answered during submission completes inside action(), with no thread hop. Otherwise one
// poller thread, waiting on an epoll set, read()s finished commands, matches them by usr_ptr
// (pack_id is the slot index, kept as a check) and completes them through XptSim::done().
// Devices are registered EPOLLONESHOT and re-armed on demand (device.h, "Watching"); with
// DeviceWatch::WhileBusy only while replies are due, so a reply read by its submitter wakes no
// other thread. Each open allows SG_MAX_QUEUE (16) commands in the kernel, which is also the
// queue depth the SIM reports. Data goes through a per-command buffer owned by the SIM (the
// kernel copies data-out during write() and data-in during read(); see abort below).
// The host's limit (BLKSECTGET on the sg node) is the bus's PathInquiry::maxio (the smallest
// of its devices'), so the XPT refuses longer transfers and da splits them; a longer CCB that
// still arrives is refused with CcbLenErr before it reaches the kernel.
//
// Abort (Sim::abort). sg cannot cancel a command it has started. abort() therefore abandons it:
// the slot forgets the CCB, abort() returns true and the XPT completes the CCB at once; the
// reply is dropped when the kernel returns it (at the latest after the command's own timeout,
// which is passed to the kernel, plus its error handling). The abandoned slot stays busy until
// then; when every slot of a device is busy, new commands complete with ResrcUnavail (the XPT
// retries them after a back-off). Because the data buffer belongs to the slot, a late reply
// never writes into memory the submitter has freed.
//
// Hot plug. rescan() re-reads sysfs: new devices are opened and the XPT is asked to rescan
// their path (FoundDevice), devices that left are retired and their path rescanned
// (LostDevice, so pass/da nodes go and their opens get ENXIO), buses of hosts that left are
// deregistered. A kept device is asked whether its descriptor reports POLLHUP (detaching while
// sysfs still lists it). A watched descriptor's POLLHUP, and a command that fails with
// ENODEV/ENXIO or DID_NO_CONNECT, request a rescan by themselves; so do the kernel's uevents for
// scsi_generic and scsi_host when the uevent watch is on (netlink, real /sys only).
//
// Opens. O_RDWR | O_NONBLOCK, never O_EXCL: the SIM shares devices with other programs as
// sg3_utils does. A device that another program holds with O_EXCL (EBUSY), or that this
// process may not open, is left out and reported by problems() with a message naming it;
// later rescans try it again.
//
// Threads: the poller (completions), the hot-plug worker (rescans requested asynchronously).
// Every public method is thread-safe. stop(), rescan() and the destructor block (they may
// deregister buses); never call them from a completion callback. Lock order: XPT device lock
// (held by the XPT around abort()) -> the SIM's device list -> a device's lock. No XPT function
// is called with a SIM lock held.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "cam/sim.h"
#include "cam/xpt_sim.h"
#include "sims/sg/sg_ops.h"
#include "sims/sg/sysfs.h"

namespace ucam::sg {

class SgBus;
class SgDevice;
struct SgCounters;

enum class InitialScan : std::uint8_t {
  Request,  // After registering each bus, request_rescan() of the whole bus (an HBA's attach).
  None,     // Register only; the caller scans.
};

enum class UeventWatch : std::uint8_t {
  On,   // Listen to the kernel's uevents (only when sysfs_root is "/sys"); rescan on sg events.
  Off,  // Rescan only on request and on errors.
};

// How the poller watches idle devices (see sims/sg/device.h, "Watching").
enum class DeviceWatch : std::uint8_t {
  Always,     // Every device armed: an idle device's POLLHUP is seen (without uevents).
  WhileBusy,  // Armed only while replies are due: a reply the submitter read itself wakes no
              // thread. Idle devices that leave are seen by uevents and rescans.
};

struct SgOptions {
  DiscoveryRoots roots;
  // Which devices to use (see selected() in sysfs.h): empty for all.
  std::vector<std::string> filter;
  InitialScan initial_scan = InitialScan::Request;
  UeventWatch uevents = UeventWatch::On;
  std::shared_ptr<SgOps> ops;  // Null: the real system calls.
  // Null: WhileBusy when the uevent watch is on, else Always.
  std::optional<DeviceWatch> device_watch;
};

// A device the SIM serves.
struct SgDeviceView {
  SgDeviceEntry entry;         // What sysfs said when it was opened.
  cam::Path path;              // Its XPT path (bus = path id).
  std::uint32_t max_transfer;  // Bytes per command (the host's limit).
  bool gone = false;           // Detaching: commands fail with DevNotThere.
};

// A device sysfs lists that the SIM could not open.
struct SgProblem {
  std::string name;  // "sg3"
  LinuxAddress address;
  Error error;  // Names the device and says what to do.
};

struct SgStats {
  std::uint64_t submitted = 0;         // Commands written to the kernel.
  std::uint64_t completed = 0;         // Replies read and completed to the XPT.
  std::uint64_t completed_inline = 0;  // ... of which by the submitter, within action().
  std::uint64_t abandoned = 0;         // Commands aborted while the kernel held them.
  std::uint64_t replies_dropped = 0;   // Replies of abandoned commands read since.
  std::uint64_t in_kernel = 0;         // Written, not yet read.
  std::uint64_t open_devices = 0;      // Open sg descriptors.
  std::uint64_t rescans = 0;           // sysfs re-reads completed.
  std::uint64_t device_events = 0;     // Device events the poller woke up for.
  std::size_t buses = 0;
};

class SgSim {
 public:
  // Reads sysfs, opens the selected devices, registers one bus per host and channel with
  // `xpt` (which must outlast the SIM) and starts the threads. Fails only if sysfs has no
  // scsi_generic class (no sg driver), the uevent-independent threads cannot start, or the XPT
  // refuses a bus; a device that cannot be opened is a problem(), not a failure.
  static Result<std::unique_ptr<SgSim>> create(cam::XptSim& xpt, SgOptions options = {});
  ~SgSim();  // stop()
  SgSim(const SgSim&) = delete;
  SgSim& operator=(const SgSim&) = delete;

  // Deregisters every bus (the XPT aborts what the SIM holds: abandoned commands), stops the
  // threads and closes every descriptor (the kernel drops replies nobody reads any more).
  // Idempotent. Blocks.
  void stop();

  // Re-reads sysfs now and applies the differences (see the header comment). Blocks: may
  // deregister buses. Serialized with other rescans. Fails only if sysfs cannot be read.
  Result<void> rescan();
  // The same, on the hot-plug worker. Never blocks; coalesced.
  void request_rescan();

  std::vector<SgDeviceView> devices() const;  // Sorted by Linux address.
  std::vector<SgProblem> problems() const;
  // Linux's address of an XPT path, and back.
  std::optional<LinuxAddress> linux_address(const cam::Path& path) const;
  std::optional<cam::Path> path_of(const LinuxAddress& address) const;
  SgStats stats() const;

 private:
  friend class SgBus;
  SgSim(cam::XptSim& xpt, SgOptions options);

  // Finds a live (not closed) device for `path` holding `ccb` and abandons it (Sim::abort).
  bool abandon(const cam::Ccb& ccb);
  void poller_main();
  void hotplug_main();
  void wake_poller();
  void note_rescan_needed();
  Result<void> apply_topology(bool initial);
  void read_uevents();

  cam::XptSim& m_xpt;
  const SgOptions m_options;
  std::shared_ptr<SgOps> m_ops;

  // Serializes rescans and stop() (topology changes).
  std::mutex m_topology_lock;
  bool m_stopped = false;  // Guarded by m_topology_lock.
  // Buses by (host, channel). Changed only under m_topology_lock; read under m_buses_lock.
  mutable std::shared_mutex m_buses_lock;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::unique_ptr<SgBus>> m_buses;
  std::vector<SgProblem> m_problems;  // Guarded by m_buses_lock.

  // Every device with an open descriptor, served or retired (retired ones stay until the
  // poller has read their last reply and closed them). Guarded by m_devices_lock.
  mutable std::shared_mutex m_devices_lock;
  std::vector<std::shared_ptr<SgDevice>> m_devices;

  // Poller.
  int m_wake_fd = -1;    // eventfd: the device list changed, or stop.
  int m_uevent_fd = -1;  // netlink kobject uevents, or -1.
  int m_epoll_fd = -1;   // The poller's set: the two above and every device (EPOLLONESHOT).
  DeviceWatch m_device_watch = DeviceWatch::Always;  // Set in create(), then immutable.
  std::atomic<bool> m_poller_stop{false};
  std::atomic<bool> m_poll_set_dirty{true};
  std::thread m_poller;

  // Hot-plug worker. Guarded by m_hotplug_lock.
  std::mutex m_hotplug_lock;
  std::condition_variable m_hotplug_cv;
  bool m_rescan_requested = false;
  bool m_hotplug_stop = false;
  std::thread m_hotplug;

  std::unique_ptr<SgCounters> m_counters;  // Shared by the devices; never null.
  std::atomic<std::uint64_t> m_rescans{0};
  std::atomic<std::uint64_t> m_device_events{0};
};

}  // namespace ucam::sg
