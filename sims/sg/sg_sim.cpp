#include "sims/sg/sg_sim.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/check.h"
#include "base/log.h"
#include "sims/sg/bus.h"
#include "sims/sg/device.h"

namespace ucam::sg {
namespace {

// sg v3 (sg_io_hdr) is version 3.x.y: SG_GET_VERSION_NUM answers 30000 and above.
constexpr int kMinimumSgVersion = 30000;
// When neither BLKSECTGET nor sysfs tells the host's limit.
constexpr std::uint32_t kFallbackMaxTransfer = 64 * 1024;
// While a detaching device still has commands in the kernel, it is read on this period rather
// than watched (its descriptor reports POLLHUP for good, which would make epoll_wait() spin).
constexpr int kGonePollMs = 10;

struct Opened {
  int fd = -1;
  std::uint32_t max_transfer = 0;
};

std::string who(const SgDeviceEntry& entry) {
  return entry.name + " (" + entry.address.text() + ")";
}

// Opens an sg node for the SIM. ENODEV/ENXIO errors mean "vanished" (not a problem).
Result<Opened> open_device(SgOps& ops, const SgDeviceEntry& entry) {
  // Never O_EXCL: other programs (smartd, sg_ses, the kernel's own users of sd) share devices
  // with us, as with sg3_utils.
  const int fd = ops.open(entry.dev_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int error = -fd;
    switch (error) {
      case EBUSY:
        return fail(Error::described(
            EBUSY, who(entry) + ": " + entry.dev_path +
                       " is held open exclusively (O_EXCL) by another program; ucam does not "
                       "take devices from other programs: close it there, or leave the device "
                       "out (filter)"));
      case EACCES:
      case EPERM:
        return fail(Error::described(
            error, who(entry) + ": " + entry.dev_path +
                       ": permission denied: run as root, or give this user read-write access "
                       "to /dev/sg* (e.g. the disk group; see docs/hardware.md)"));
      case ENOENT:
        return fail(Error::described(
            ENOENT, who(entry) + ": no device node " + entry.dev_path +
                        " although sysfs lists it (is /dev a devtmpfs, or the node removed?)"));
      default:
        return fail(Error::described(
            error, who(entry) + ": open " + entry.dev_path + ": " + std::strerror(error)));
    }
  }
  int version = 0;
  if (ops.ioctl_int(fd, SG_GET_VERSION_NUM, version) != 0 || version < kMinimumSgVersion) {
    ops.close(fd);
    return fail(Error::described(
        ENOTTY, who(entry) + ": " + entry.dev_path + " is not an sg device of version 3 or later"));
  }
  Opened opened;
  opened.fd = fd;
  int bytes = 0;
  if (ops.ioctl_int(fd, BLKSECTGET, bytes) == 0 && bytes > 0) {
    opened.max_transfer = static_cast<std::uint32_t>(bytes);  // sg answers in bytes.
  } else if (entry.block_max_bytes > 0) {
    opened.max_transfer = entry.block_max_bytes;
  } else {
    opened.max_transfer = kFallbackMaxTransfer;
  }
  // Indirect I/O goes through at most sg_tablesize kernel buffers of SG_SCATTER_SZ (the sg
  // module's default scatter_elem_sz).
  int table = 0;
  if (ops.ioctl_int(fd, SG_GET_SG_TABLESIZE, table) == 0 && table > 0) {
    const std::uint64_t limit = static_cast<std::uint64_t>(table) * SG_SCATTER_SZ;
    opened.max_transfer =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(opened.max_transfer, limit));
  }
  return opened;
}

// A uevent that changes what the SIM serves: an sg node comes or goes, or a SCSI host does
// (a host leaves after its devices; its bus is deregistered only once sysfs no longer lists it).
bool is_uevent_for_sg(const char* data, std::size_t size) {
  // "ACTION@DEVPATH" NUL, then "KEY=VALUE" NUL ...
  std::size_t start = 0;
  while (start < size) {
    const std::size_t len = strnlen(data + start, size - start);
    const std::string_view key(data + start, len);
    if (key == "SUBSYSTEM=scsi_generic" || key == "SUBSYSTEM=scsi_host") {
      return true;
    }
    start += len + 1;
  }
  return false;
}

}  // namespace

SgSim::SgSim(cam::XptSim& xpt, SgOptions options)
    : m_xpt(xpt),
      m_options(std::move(options)),
      m_ops(m_options.ops),
      m_counters(std::make_unique<SgCounters>()) {
  if (!m_ops) {
    m_ops = linux_sg_ops();
  }
}

Result<std::unique_ptr<SgSim>> SgSim::create(cam::XptSim& xpt, SgOptions options) {
  std::unique_ptr<SgSim> sim(new SgSim(xpt, std::move(options)));
  sim->m_wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sim->m_wake_fd < 0) {
    return fail_errno(errno, "sg: eventfd");
  }
  sim->m_epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (sim->m_epoll_fd < 0) {
    return fail_errno(errno, "sg: epoll_create1");
  }
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.ptr = &sim->m_wake_fd;
  if (::epoll_ctl(sim->m_epoll_fd, EPOLL_CTL_ADD, sim->m_wake_fd, &wake) != 0) {
    return fail_errno(errno, "sg: epoll_ctl");
  }
  if (sim->m_options.uevents == UeventWatch::On && sim->m_options.roots.sysfs == "/sys") {
    const int fd =
        ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = 1;  // The kernel's uevent multicast group.
    epoll_event uevent{};
    uevent.events = EPOLLIN;
    uevent.data.ptr = &sim->m_uevent_fd;
    if (fd >= 0 &&
        ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&  // NOLINT
        ::epoll_ctl(sim->m_epoll_fd, EPOLL_CTL_ADD, fd, &uevent) == 0) {
      sim->m_uevent_fd = fd;
    } else {
      log_info("sg: no kernel uevents ({}); devices that appear need a rescan",
               std::strerror(errno));
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
  // Without uevents, only an armed registration notices that an idle device is detaching.
  sim->m_device_watch = sim->m_options.device_watch.value_or(
      sim->m_uevent_fd >= 0 ? DeviceWatch::WhileBusy : DeviceWatch::Always);
  sim->m_poller = std::thread([s = sim.get()] { s->poller_main(); });
  Result<void> applied;
  {
    std::lock_guard lock(sim->m_topology_lock);
    applied = sim->apply_topology(true);
  }
  if (!applied) {
    sim->stop();
    return fail(applied.error());
  }
  sim->m_hotplug = std::thread([s = sim.get()] { s->hotplug_main(); });
  return sim;
}

SgSim::~SgSim() {
  stop();
  if (m_wake_fd >= 0) {
    ::close(m_wake_fd);
  }
  if (m_uevent_fd >= 0) {
    ::close(m_uevent_fd);
  }
  if (m_epoll_fd >= 0) {
    ::close(m_epoll_fd);
  }
}

void SgSim::stop() {
  {
    std::lock_guard lock(m_hotplug_lock);
    m_hotplug_stop = true;
  }
  m_hotplug_cv.notify_all();
  if (m_hotplug.joinable()) {
    m_hotplug.join();
  }
  std::lock_guard topology(m_topology_lock);
  if (m_stopped) {
    return;
  }
  m_stopped = true;
  // Deregistering makes the XPT abort (abandon) every command the SIM holds and wait until no
  // XPT call is inside the SIM; the poller keeps completing meanwhile.
  std::vector<std::uint32_t> ids;
  {
    std::shared_lock lock(m_buses_lock);
    for (const auto& [key, bus] : m_buses) {
      ids.push_back(bus->path_id());
    }
  }
  for (auto id : ids) {
    m_xpt.deregister_bus(id);
  }
  m_poller_stop.store(true);
  wake_poller();
  if (m_poller.joinable()) {
    m_poller.join();
  }
  std::vector<std::shared_ptr<SgDevice>> devices;
  {
    std::unique_lock lock(m_devices_lock);
    devices.swap(m_devices);
  }
  for (auto& device : devices) {
    device->force_close();
  }
  std::unique_lock lock(m_buses_lock);
  m_buses.clear();
}

Result<void> SgSim::rescan() {
  assert_may_block("SgSim::rescan");
  std::lock_guard lock(m_topology_lock);
  if (m_stopped) {
    return fail_errno(ESHUTDOWN, "sg: rescan after stop");
  }
  return apply_topology(false);
}

void SgSim::request_rescan() {
  {
    std::lock_guard lock(m_hotplug_lock);
    m_rescan_requested = true;
  }
  m_hotplug_cv.notify_one();
}

void SgSim::note_rescan_needed() {
  request_rescan();
}

void SgSim::wake_poller() {
  m_poll_set_dirty.store(true);
  const std::uint64_t one = 1;
  if (m_wake_fd >= 0) {
    [[maybe_unused]] const auto n = ::write(m_wake_fd, &one, sizeof one);
  }
}

// Runs under m_topology_lock. XPT calls made here (register, deregister, request_rescan) never
// call back into anything that takes m_topology_lock.
Result<void> SgSim::apply_topology(bool initial) {
  auto topology = discover(m_options.roots);
  if (!topology) {
    return fail(topology.error());
  }
  for (const auto& skipped : topology->skipped) {
    log_debug("sg: skipped {}", skipped);
  }
  std::map<std::uint32_t, const SgHostEntry*> hosts;
  for (const auto& host : topology->hosts) {
    hosts[host.host] = &host;
  }
  std::vector<const SgDeviceEntry*> wanted;
  for (const auto& entry : topology->devices) {
    const auto host = hosts.find(entry.address.host);
    if (selected(m_options.filter, entry, host == hosts.end() ? nullptr : host->second)) {
      wanted.push_back(&entry);
    }
  }

  std::vector<std::shared_ptr<SgDevice>> served;
  {
    std::shared_lock lock(m_devices_lock);
    for (const auto& device : m_devices) {
      if (!device->retired()) {
        served.push_back(device);
      }
    }
  }
  std::vector<cam::Path> rescans;
  std::set<const SgDeviceEntry*> kept;
  bool changed = false;
  // Devices that left (or went bad, or were replaced by another device under the same name).
  for (const auto& device : served) {
    const auto match = std::find_if(wanted.begin(), wanted.end(), [&](const SgDeviceEntry* e) {
      return e->name == device->entry().name && e->address == device->entry().address;
    });
    // A kept device is asked whether it is detaching: with DeviceWatch::WhileBusy nobody
    // watches an idle one, and the uevent that brought us here may precede sysfs's update.
    if (match != wanted.end() && !device->gone() && !device->check_hangup()) {
      kept.insert(*match);
      continue;
    }
    device->retire();
    changed = true;
    {
      std::shared_lock lock(m_buses_lock);
      const auto bus =
          m_buses.find({device->entry().address.host, device->entry().address.channel});
      if (bus != m_buses.end()) {
        bus->second->detach(*device);
      }
    }
    rescans.push_back(device->path());
    log_info("sg: {} left ({})", who(device->entry()), cam::to_string(device->path()));
  }

  // Devices that arrived. All are opened first: a new bus reports the smallest limit of its
  // devices when it registers (PathInquiry::maxio), before any of them is attached.
  std::vector<SgProblem> problems;
  std::vector<std::pair<const SgDeviceEntry*, Opened>> arrived;
  for (const SgDeviceEntry* entry : wanted) {
    if (kept.count(entry) != 0) {
      continue;
    }
    auto opened = open_device(*m_ops, *entry);
    if (!opened) {
      const int error = opened.error().errno_value();
      if (error != ENODEV && error != ENXIO) {
        log_warning("sg: {}", opened.error().message());
        problems.push_back({entry->name, entry->address, opened.error()});
      }
      continue;
    }
    arrived.emplace_back(entry, *opened);
  }
  std::set<std::uint32_t> new_buses;
  for (std::size_t i = 0; i < arrived.size(); ++i) {
    const SgDeviceEntry* const entry = arrived[i].first;
    const Opened* const opened = &arrived[i].second;
    const std::pair key{entry->address.host, entry->address.channel};
    SgBus* bus = nullptr;
    {
      std::shared_lock lock(m_buses_lock);
      const auto it = m_buses.find(key);
      bus = it == m_buses.end() ? nullptr : it->second.get();
    }
    if (bus == nullptr) {
      std::uint32_t max_transfer = opened->max_transfer;
      for (const auto& [e, o] : arrived) {
        if (e->address.host == key.first && e->address.channel == key.second) {
          max_transfer = std::min(max_transfer, o.max_transfer);
        }
      }
      std::uint32_t max_target = 0;
      std::uint64_t max_lun = 0;
      for (const SgDeviceEntry* e : wanted) {
        if (e->address.host == key.first && e->address.channel == key.second) {
          max_target = std::max(max_target, e->address.target);
          max_lun = std::max(max_lun, cam_lun(e->address.lun));
        }
      }
      const auto host = hosts.find(key.first);
      SgHostEntry host_entry;
      host_entry.host = key.first;
      host_entry.transport = "other";
      if (host != hosts.end()) {
        host_entry = *host->second;
      }
      auto created = std::make_unique<SgBus>(*this, m_xpt, host_entry, key.second, max_target,
                                             max_lun, max_transfer);
      auto id = m_xpt.register_bus(*created);
      if (!id) {
        for (std::size_t j = i; j < arrived.size(); ++j) {
          m_ops->close(arrived[j].second.fd);  // Not attached yet: nobody else closes them.
        }
        return fail(id.error().with_context("sg: registering host" + std::to_string(key.first)));
      }
      created->set_path_id(*id);
      bus = created.get();
      new_buses.insert(*id);
      std::unique_lock lock(m_buses_lock);
      m_buses.emplace(key, std::move(created));
    }
    const cam::Path path{bus->path_id(), entry->address.target, cam_lun(entry->address.lun)};
    auto device = std::make_shared<SgDevice>(*entry, path, opened->fd, opened->max_transfer, *m_ops,
                                             *m_counters, m_epoll_fd, m_device_watch);
    {
      std::unique_lock lock(m_devices_lock);
      m_devices.push_back(device);
    }
    if (const int error = device->start_watch(); error != 0) {
      log_warning("sg: {}: epoll_ctl: {}", who(*entry), std::strerror(error));
    }
    bus->attach(device);
    changed = true;
    if (new_buses.count(path.bus) == 0) {
      rescans.push_back(path);
    }
    log_info("sg: {} {} '{}' '{}' at {}", who(*entry), entry->dev_path, entry->vendor, entry->model,
             cam::to_string(path));
  }

  // Buses whose host left and that serve nothing any more.
  std::vector<std::uint32_t> gone_buses;
  {
    std::shared_lock lock(m_buses_lock);
    for (const auto& [key, bus] : m_buses) {
      if (hosts.count(key.first) == 0 && bus->device_count() == 0) {
        gone_buses.push_back(bus->path_id());
      }
    }
  }
  for (auto id : gone_buses) {
    m_xpt.deregister_bus(id);  // Blocks until the XPT no longer calls into the bus.
    std::unique_lock lock(m_buses_lock);
    for (auto it = m_buses.begin(); it != m_buses.end(); ++it) {
      if (it->second->path_id() == id) {
        log_info("sg: host{} channel {} left (scbus{})", it->first.first, it->first.second, id);
        m_buses.erase(it);
        break;
      }
    }
  }
  {
    std::unique_lock lock(m_buses_lock);
    m_problems = std::move(problems);
  }
  if (changed) {
    wake_poller();
  }
  const bool scan = !initial || m_options.initial_scan == InitialScan::Request;
  if (scan) {
    for (auto id : new_buses) {
      m_xpt.request_rescan({id, cam::Path::kWildcardTarget, cam::Path::kWildcardLun});
    }
    for (const auto& path : rescans) {
      if (std::find(gone_buses.begin(), gone_buses.end(), path.bus) == gone_buses.end()) {
        m_xpt.request_rescan(path);
      }
    }
  }
  m_rescans.fetch_add(1, std::memory_order_relaxed);
  return {};
}

bool SgSim::abandon(const cam::Ccb& ccb) {
  std::shared_lock lock(m_devices_lock);
  for (const auto& device : m_devices) {
    if (device->path() == ccb.path && device->abandon(ccb)) {
      return true;
    }
  }
  return false;
}

void SgSim::poller_main() {
  std::array<epoll_event, 64> events{};
  std::vector<std::shared_ptr<SgDevice>> draining;  // Gone or retired, replies still due.
  std::vector<cam::Ccb*> done;
  while (!m_poller_stop.load()) {
    if (m_poll_set_dirty.exchange(false)) {
      draining.clear();
      std::unique_lock lock(m_devices_lock);
      for (auto it = m_devices.begin(); it != m_devices.end();) {
        SgDevice& device = **it;
        if (device.close_if_idle()) {
          it = m_devices.erase(it);  // Closed: nothing of it is left in the kernel.
          continue;
        }
        if ((device.gone() || device.retired()) && device.due() > 0) {
          draining.push_back(*it);
        }
        ++it;
      }
    }
    const int n = ::epoll_wait(m_epoll_fd, events.data(), static_cast<int>(events.size()),
                               draining.empty() ? -1 : kGonePollMs);
    if (n < 0 && errno != EINTR) {
      log_error("sg: epoll_wait: {}", std::strerror(errno));
    }
    done.clear();
    bool rescan = false;
    for (int i = 0; i < n; ++i) {
      void* const tag = events[static_cast<std::size_t>(i)].data.ptr;
      if (tag == &m_wake_fd) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto r = ::read(m_wake_fd, &count, sizeof count);
        continue;
      }
      if (tag == &m_uevent_fd) {
        read_uevents();
        continue;
      }
      // A device: only this thread erases devices, after removing them from the epoll set, so
      // the pointer is alive.
      SgDevice& device = *static_cast<SgDevice*>(tag);
      m_device_events.fetch_add(1, std::memory_order_relaxed);
      device.fired();
      const bool open = device.collect(done, rescan);
      const auto what = events[static_cast<std::size_t>(i)].events;
      if (!open || (what & (EPOLLHUP | EPOLLERR)) != 0) {
        // Detaching: new commands fail at once, it is not re-armed (its POLLHUP would fire
        // for good); replies still due are read by period.
        device.mark_gone();
        m_poll_set_dirty.store(true);
        rescan = true;
      } else if (device.retired() && device.due() == 0) {
        m_poll_set_dirty.store(true);
      }
    }
    for (const auto& device : draining) {
      device->collect(done, rescan);
      if (device->due() == 0) {
        m_poll_set_dirty.store(true);
      }
    }
    for (cam::Ccb* ccb : done) {
      m_xpt.done(*ccb);
    }
    if (rescan) {
      note_rescan_needed();
    }
  }
}

void SgSim::read_uevents() {
  std::array<char, 8192> buffer{};
  bool relevant = false;
  for (;;) {
    const ssize_t n = ::recv(m_uevent_fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n <= 0) {
      break;
    }
    relevant = relevant || is_uevent_for_sg(buffer.data(), static_cast<std::size_t>(n));
  }
  if (relevant) {
    note_rescan_needed();
  }
}

void SgSim::hotplug_main() {
  std::unique_lock lock(m_hotplug_lock);
  for (;;) {
    m_hotplug_cv.wait(lock, [&] { return m_hotplug_stop || m_rescan_requested; });
    if (m_hotplug_stop) {
      return;
    }
    m_rescan_requested = false;
    lock.unlock();
    if (auto r = rescan(); !r) {
      log_warning("sg: rescan: {}", r.error().message());
    }
    lock.lock();
  }
}

std::vector<SgDeviceView> SgSim::devices() const {
  std::vector<SgDeviceView> out;
  {
    std::shared_lock lock(m_devices_lock);
    for (const auto& device : m_devices) {
      if (!device->retired()) {
        out.push_back({device->entry(), device->path(), device->max_transfer(), device->gone()});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const SgDeviceView& a, const SgDeviceView& b) {
    return a.entry.address < b.entry.address;
  });
  return out;
}

std::vector<SgProblem> SgSim::problems() const {
  std::shared_lock lock(m_buses_lock);
  return m_problems;
}

std::optional<LinuxAddress> SgSim::linux_address(const cam::Path& path) const {
  std::shared_lock lock(m_devices_lock);
  for (const auto& device : m_devices) {
    if (!device->retired() && device->path() == path) {
      return device->entry().address;
    }
  }
  return std::nullopt;
}

std::optional<cam::Path> SgSim::path_of(const LinuxAddress& address) const {
  std::shared_lock lock(m_devices_lock);
  for (const auto& device : m_devices) {
    if (!device->retired() && device->entry().address == address) {
      return device->path();
    }
  }
  return std::nullopt;
}

SgStats SgSim::stats() const {
  SgStats s;
  s.submitted = m_counters->submitted.load();
  s.completed = m_counters->completed.load();
  s.completed_inline = m_counters->completed_inline.load();
  s.abandoned = m_counters->abandoned.load();
  s.replies_dropped = m_counters->replies_dropped.load();
  s.in_kernel = m_counters->in_kernel.load();
  s.rescans = m_rescans.load();
  s.device_events = m_device_events.load();
  {
    std::shared_lock lock(m_devices_lock);
    for (const auto& device : m_devices) {
      s.open_devices += device->fd() >= 0 ? 1 : 0;
    }
  }
  std::shared_lock lock(m_buses_lock);
  s.buses = m_buses.size();
  return s;
}

}  // namespace ucam::sg
