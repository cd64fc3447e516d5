#include "sims/sg/device.h"

#include <poll.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "sims/sg/status.h"

namespace ucam::sg {

SgDevice::SgDevice(SgDeviceEntry entry, cam::Path path, int fd, std::uint32_t max_transfer,
                   SgOps& ops, SgCounters& counters, int epoll_fd, DeviceWatch watch)
    : m_entry(std::move(entry)),
      m_path(path),
      m_max_transfer(max_transfer),
      m_ops(ops),
      m_counters(counters),
      m_epoll_fd(epoll_fd),
      m_watch(watch),
      m_fd(fd) {
  m_free.reserve(kSlots);
  for (std::uint32_t i = kSlots; i > 0; --i) {
    m_free.push_back(i - 1);  // Slot 0 is taken first.
  }
}

SgDevice::~SgDevice() {
  force_close();
}

void SgDevice::ensure_capacity(Slot& slot, std::uint32_t bytes) {
  if (slot.capacity >= bytes) {
    return;
  }
  // Default-initialized: the kernel or the CCB fills what is used.
  slot.buffer.reset(new std::uint8_t[bytes]);  // NOLINT(modernize-avoid-c-arrays)
  slot.capacity = bytes;
}

void SgDevice::release(Slot& slot, std::uint32_t index) {
  if (slot.state == SlotState::InKernel || slot.state == SlotState::Abandoned ||
      slot.state == SlotState::Completing) {
    m_counters.in_kernel.fetch_sub(1, std::memory_order_relaxed);
    m_due.fetch_sub(1);
  }
  slot.state = SlotState::Free;
  slot.ccb = nullptr;
  slot.abort_requested = false;
  m_free.push_back(index);
}

SgDevice::Submitted SgDevice::submit(cam::Ccb& ccb, bool& rescan) {
  rescan = false;
  if (ccb.dxfer_len > m_max_transfer) {
    // The last guard: the bus reports the limit as PathInquiry::maxio and the XPT refuses
    // longer CCBs first, but an XPT entry created before this device attached (a path whose
    // old device was replaced within one rescan) may carry a larger one.
    ccb.complete_status(CamStatus::CcbLenErr);
    return Submitted::Failed;
  }
  if (ccb.cdb_len == 0 || (ccb.dxfer_len > 0 && ccb.data == nullptr)) {
    ccb.complete_status(CamStatus::ReqInvalid);
    return Submitted::Failed;
  }
  std::uint32_t index = 0;
  int fd = -1;
  {
    std::lock_guard lock(m_lock);
    if (m_gone || m_retired || m_fd < 0) {
      ccb.complete_status(CamStatus::DevNotThere);
      return Submitted::Failed;
    }
    if (m_free.empty()) {
      // Every slot holds a command the kernel has not returned (abandoned ones included).
      ccb.complete_status(CamStatus::ResrcUnavail);
      return Submitted::Failed;
    }
    index = m_free.back();
    m_free.pop_back();
    Slot& slot = m_slots[index];
    slot.state = SlotState::Preparing;
    slot.ccb = &ccb;
    fd = m_fd;
  }

  // Preparing: this thread owns the slot's memory.
  Slot& slot = m_slots[index];
  std::copy_n(ccb.cdb.begin(), ccb.cdb_len, slot.cdb.begin());
  const bool has_data = ccb.dir != cam::DataDir::None && ccb.dxfer_len > 0;
  if (has_data) {
    ensure_capacity(slot, ccb.dxfer_len);
    if (ccb.dir == cam::DataDir::Out) {
      std::memcpy(slot.buffer.get(), ccb.data, ccb.dxfer_len);
    }
  }
  sg_io_hdr_t& hdr = slot.hdr;
  hdr = sg_io_hdr_t{};
  hdr.interface_id = 'S';
  hdr.dxfer_direction = !has_data                      ? SG_DXFER_NONE
                        : ccb.dir == cam::DataDir::Out ? SG_DXFER_TO_DEV
                                                       : SG_DXFER_FROM_DEV;
  hdr.cmd_len = ccb.cdb_len;
  hdr.cmdp = slot.cdb.data();
  hdr.mx_sb_len = static_cast<unsigned char>(slot.sense.size());
  hdr.sbp = slot.sense.data();
  hdr.dxfer_len = has_data ? ccb.dxfer_len : 0;
  hdr.dxferp = has_data ? slot.buffer.get() : nullptr;
  // The kernel's own timeout, so that a command the device never answers comes back (as
  // DID_TIME_OUT after the error handler) and frees its slot even if the XPT abandoned it.
  const auto ms = ccb.timeout.count();
  hdr.timeout = static_cast<unsigned>(std::clamp<long long>(ms, 1, 0x7fffffffLL));
  hdr.flags = 0;  // Indirect I/O: the kernel copies through its own buffers.
  hdr.pack_id = static_cast<int>(index);
  hdr.usr_ptr = &slot;

  {
    std::lock_guard lock(m_lock);
    if (slot.abort_requested) {
      // abort() came while the command was being prepared: never send it.
      release(slot, index);
      ccb.complete_status(CamStatus::ReqAborted);
      return Submitted::Failed;
    }
    slot.state = SlotState::InKernel;
    m_counters.in_kernel.fetch_add(1, std::memory_order_relaxed);
    m_due.fetch_add(1);  // Before write(): see "Watching".
  }
  // From here the slot may be abandoned (abort) or, once write() has queued the command,
  // completed and reused by the poller: only `fd` and locals are used after write().
  const int error = m_ops.submit(fd, hdr);
  if (error == 0) {
    m_counters.submitted.fetch_add(1, std::memory_order_relaxed);
    return Submitted::InKernel;
  }
  bool abandoned = false;
  {
    std::lock_guard lock(m_lock);
    abandoned = slot.state == SlotState::Abandoned;
    release(slot, index);
    if (error == ENODEV || error == ENXIO) {
      m_gone = true;
      m_gone_hint.store(true);
    }
  }
  if (abandoned) {
    return Submitted::Abandoned;  // The XPT completed the CCB when abort() returned true.
  }
  const SimOutcome outcome = map_errno(error, ccb.dxfer_len);
  ccb.complete_status(outcome.status);
  rescan = outcome.rescan;
  log_debug("{} ({}): write: {}", m_entry.name, m_entry.address.text(), std::strerror(error));
  return Submitted::Failed;
}

bool SgDevice::abandon(const cam::Ccb& ccb) {
  std::lock_guard lock(m_lock);
  for (Slot& slot : m_slots) {
    if (slot.ccb != &ccb) {
      continue;
    }
    if (slot.state == SlotState::InKernel) {
      slot.state = SlotState::Abandoned;
      slot.ccb = nullptr;
      m_counters.abandoned.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    if (slot.state == SlotState::Preparing) {
      slot.abort_requested = true;
    }
    return false;
  }
  return false;
}

void SgDevice::finish(Slot& slot, cam::Ccb& ccb, const sg_io_hdr_t& reply, bool& rescan) {
  SgReply r;
  r.status = reply.status;
  r.host_status = reply.host_status;
  r.driver_status = reply.driver_status;
  r.resid = reply.resid;
  r.sense_len = reply.sb_len_wr;
  const SimOutcome outcome = map_reply(r, ccb.dxfer_len);
  ccb.status = outcome.status;
  ccb.scsi_status = outcome.scsi_status;
  ccb.resid = outcome.resid;
  rescan = rescan || outcome.rescan;
  const bool transferred =
      outcome.status == CamStatus::ReqCmp || outcome.status == CamStatus::ScsiStatusError;
  if (transferred && ccb.dir == cam::DataDir::In && ccb.dxfer_len > outcome.resid) {
    std::memcpy(ccb.data, slot.buffer.get(), ccb.dxfer_len - outcome.resid);
  }
  if (outcome.status == CamStatus::ScsiStatusError && reply.sb_len_wr > 0) {
    const std::size_t n = std::min<std::size_t>(reply.sb_len_wr, cam::Ccb::kMaxSense);
    std::copy_n(slot.sense.begin(), n, ccb.sense_data.begin());
    ccb.sense_len = static_cast<std::uint8_t>(n);
    if (outcome.autosense_valid) {
      ccb.flags |= cam::kCcbAutosenseValid;
    }
  }
  if (slot.capacity > kRetainedBuffer) {
    slot.buffer.reset();
    slot.capacity = 0;
  }
}

bool SgDevice::collect(std::vector<cam::Ccb*>& done, bool& rescan, std::size_t max_replies) {
  int fd = -1;
  {
    // A reader, like a submitter holding a slot, keeps the descriptor open (close_if_idle).
    std::lock_guard lock(m_lock);
    if (m_fd < 0) {
      return true;
    }
    fd = m_fd;
    ++m_readers;
  }
  const bool open = read_replies(fd, done, rescan, max_replies);
  rearm(fd);
  std::lock_guard lock(m_lock);
  --m_readers;
  return open;
}

int SgDevice::start_watch() {
  if (m_epoll_fd < 0) {
    return 0;
  }
  const int fd = this->fd();
  epoll_event event{};
  event.events = EPOLLONESHOT;
  event.data.ptr = this;
  if (m_watch == DeviceWatch::Always) {
    event.events |= EPOLLIN;
    m_armed.store(true);
  }
  return ::epoll_ctl(m_epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : errno;
}

// The caller keeps `fd` open (it holds a slot or is counted in m_readers).
void SgDevice::rearm(int fd) {
  if (m_epoll_fd < 0 || m_gone_hint.load()) {
    return;
  }
  if (m_watch == DeviceWatch::WhileBusy && m_due.load() == 0) {
    return;
  }
  if (m_armed.exchange(true)) {
    return;  // Armed, or being armed by another thread.
  }
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.ptr = this;
  if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, fd, &event) != 0) {
    log_warning("{}: epoll_ctl: {}", m_entry.name, std::strerror(errno));
  }
}

void SgDevice::stop_watch(int fd) {
  if (m_epoll_fd >= 0) {
    ::epoll_ctl(m_epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
  }
}

bool SgDevice::check_hangup() {
  int fd = -1;
  {
    std::lock_guard lock(m_lock);
    if (m_fd < 0 || m_gone) {
      return m_gone;
    }
    fd = m_fd;
    ++m_readers;
  }
  pollfd p{fd, POLLIN, 0};
  const bool hangup = ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
  std::lock_guard lock(m_lock);
  --m_readers;
  if (hangup) {
    m_gone = true;
    m_gone_hint.store(true);
  }
  return m_gone;
}

bool SgDevice::read_replies(int fd, std::vector<cam::Ccb*>& done, bool& rescan,
                            std::size_t max_replies) {
  for (std::size_t n = 0; n < max_replies; ++n) {
    sg_io_hdr_t reply{};
    const int error = m_ops.receive(fd, reply);
    if (error == EAGAIN) {
      return true;
    }
    if (error == ENODEV || error == ENXIO) {
      mark_gone();
      return false;
    }
    if (error != 0) {
      log_warning("{} ({}): read: {}", m_entry.name, m_entry.address.text(), std::strerror(error));
      return true;
    }
    const auto index = static_cast<std::uint32_t>(reply.pack_id);
    if (index >= kSlots || reply.usr_ptr != &m_slots[index]) {
      log_warning("{}: reply with an unknown request id {} ignored", m_entry.name, reply.pack_id);
      continue;
    }
    Slot& slot = m_slots[index];
    cam::Ccb* ccb = nullptr;
    {
      std::lock_guard lock(m_lock);
      if (slot.state == SlotState::InKernel) {
        ccb = slot.ccb;
        slot.ccb = nullptr;
        slot.state = SlotState::Completing;
      } else if (slot.state == SlotState::Abandoned) {
        release(slot, index);
        m_counters.replies_dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      } else {
        log_warning("{}: reply for request id {} that is not in the kernel ignored", m_entry.name,
                    reply.pack_id);
        continue;
      }
    }
    finish(slot, *ccb, reply, rescan);
    {
      std::lock_guard lock(m_lock);
      release(slot, index);
    }
    m_counters.completed.fetch_add(1, std::memory_order_relaxed);
    done.push_back(ccb);
  }
  return true;
}

void SgDevice::mark_gone() {
  std::lock_guard lock(m_lock);
  m_gone = true;
  m_gone_hint.store(true);
}

void SgDevice::retire() {
  std::lock_guard lock(m_lock);
  m_retired = true;
}

bool SgDevice::gone() const {
  std::lock_guard lock(m_lock);
  return m_gone;
}

bool SgDevice::retired() const {
  std::lock_guard lock(m_lock);
  return m_retired;
}

int SgDevice::fd() const {
  std::lock_guard lock(m_lock);
  return m_fd;
}

std::uint32_t SgDevice::slots_in_use() const {
  std::lock_guard lock(m_lock);
  return kSlots - static_cast<std::uint32_t>(m_free.size());
}

bool SgDevice::close_if_idle() {
  int fd = -1;
  {
    std::lock_guard lock(m_lock);
    if (m_fd < 0) {
      return true;
    }
    if (!m_retired || m_free.size() != kSlots || m_readers > 0) {
      return false;
    }
    fd = m_fd;
    m_fd = -1;
  }
  stop_watch(fd);
  m_ops.close(fd);
  return true;
}

void SgDevice::force_close() {
  int fd = -1;
  {
    std::lock_guard lock(m_lock);
    fd = m_fd;
    m_fd = -1;
    m_retired = true;
    for (std::uint32_t i = 0; i < kSlots; ++i) {
      if (m_slots[i].state == SlotState::InKernel || m_slots[i].state == SlotState::Abandoned) {
        // The kernel drops the reply once the descriptor is closed. An InKernel CCB here would
        // be a bug of the caller (the XPT aborts everything before stop() gets here).
        release(m_slots[i], i);
      }
    }
  }
  if (fd >= 0) {
    stop_watch(fd);
    m_ops.close(fd);
  }
}

}  // namespace ucam::sg
