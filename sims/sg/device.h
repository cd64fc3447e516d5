// SG SIM internals: one open sg node and the commands the kernel holds for it.
//
// A device has SG_MAX_QUEUE slots, one per command the kernel may hold on this open. A slot
// moves through these states, each change under m_lock:
//
//   Free -> Preparing      submit() took it for a CCB (the submitter owns the slot's memory)
//   Preparing -> InKernel  the CDB and data-out bytes are copied in; write() follows
//   Preparing -> Free      abort() asked for the CCB meanwhile: it completes ReqAborted, unsent
//   InKernel -> Abandoned  abort(): the CCB is forgotten (abort() returns true)
//   InKernel -> Completing the poller read the reply (the poller owns the slot's memory)
//   Completing -> Free     the CCB's outcome is set; the poller then calls XptSim::done()
//   Abandoned -> Free      the poller read the reply of an abandoned command and dropped it
//   InKernel/Abandoned -> Free  write() failed: the kernel never had it
//
// Outside the lock, only the owner named above touches a slot's CDB, header, sense and data
// buffer; the kernel itself touches them only inside write() (CDB, data-out) and read() (data
// in, sense), i.e. inside the owner's own system calls. That is why an abandoned command is
// safe: the CCB is not referenced by the slot any more, and the slot's memory lives until the
// reply has been read or the descriptor closed.
//
// The descriptor is closed by the poller (close_if_idle) once the device is retired (by a
// rescan, which also tells the XPT), every slot is free and no thread is in collect(), so no
// thread can write to or read from a closed (or reused) descriptor: a submitter holds a slot
// for as long as it uses the descriptor, and a reader is counted in m_readers.
//
// Watching. The poller waits on an epoll set in which each descriptor is registered with
// EPOLLONESHOT: an event disarms it, and it is re-armed (EPOLL_CTL_MOD) at the end of collect()
// by whichever thread finds it should be and wins `m_armed`. With DeviceWatch::WhileBusy it is
// armed only while replies are due (m_due > 0): a disarmed registration wakes nobody, so a
// command whose reply the submitter reads inline costs no poller wake-up at all. No reply is
// lost: a submitter makes its command due before write(), and whoever reads last re-checks
// m_due after clearing or seeing `m_armed` (the poller clears it before reading).
#pragma once

#include <scsi/sg.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "cam/ccb.h"
#include "sims/sg/sg_ops.h"
#include "sims/sg/sg_sim.h"
#include "sims/sg/sysfs.h"

namespace ucam::sg {

// Counters shared by every device of one SgSim.
struct SgCounters {
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> completed_inline{0};
  std::atomic<std::uint64_t> abandoned{0};
  std::atomic<std::uint64_t> replies_dropped{0};
  std::atomic<std::uint64_t> in_kernel{0};
};

class SgDevice {
 public:
  static constexpr std::uint32_t kSlots = SG_MAX_QUEUE;
  // Slot buffers larger than this are freed after each command instead of kept for the next.
  static constexpr std::uint32_t kRetainedBuffer = 1U << 20;

  // Takes ownership of `fd`. `ops` and `counters` must outlast the device; so must `epoll_fd`
  // (the poller's set) if not -1.
  SgDevice(SgDeviceEntry entry, cam::Path path, int fd, std::uint32_t max_transfer, SgOps& ops,
           SgCounters& counters, int epoll_fd = -1, DeviceWatch watch = DeviceWatch::Always);
  ~SgDevice();  // Closes the descriptor if still open.
  SgDevice(const SgDevice&) = delete;
  SgDevice& operator=(const SgDevice&) = delete;

  const SgDeviceEntry& entry() const { return m_entry; }
  const cam::Path& path() const { return m_path; }
  std::uint32_t max_transfer() const { return m_max_transfer; }

  enum class Submitted : std::uint8_t {
    InKernel,   // The poller will complete the CCB.
    Failed,     // Not sent; the CCB's outcome is set: the caller calls XptSim::done().
    Abandoned,  // abort() took the CCB while write() failed: nobody completes it here.
  };
  // Sim::action() for a SCSI I/O CCB. Never blocks (write() on a non-blocking sg node queues the
  // command). Sets `rescan` when the failure says the device may be gone.
  Submitted submit(cam::Ccb& ccb, bool& rescan);

  // Sim::abort(): true if `ccb` was in the kernel (now abandoned; the caller completes it).
  // A CCB still being prepared is marked so that submit() completes it with ReqAborted; that
  // and a CCB being completed give false.
  bool abandon(const cam::Ccb& ccb);

  // Reads up to `max_replies` finished commands (stops early when none is ready). Completed
  // CCBs (outcome set) are appended to `done`; the caller calls XptSim::done() for each, with no
  // lock held. Returns false when the device reported that it is gone (ENODEV), true
  // otherwise. Sets `rescan` on outcomes that suggest the device left. Any thread: the poller
  // reads everything; a submitter reads one reply right after write() (see SgBus::action).
  bool collect(std::vector<cam::Ccb*>& done, bool& rescan,
               std::size_t max_replies = static_cast<std::size_t>(-1));

  // Registers the descriptor in the poller's epoll set (armed per the DeviceWatch). The event's
  // data is this device. Returns an errno, or 0.
  int start_watch();
  // Poller: an event fired for this device (its registration is now disarmed).
  void fired() { m_armed.store(false); }
  // Replies the kernel still owes (commands written and not yet read, abandoned ones included).
  std::uint32_t due() const { return m_due.load(); }
  // Whether the descriptor reports POLLHUP now (a rescan asks this of the devices it keeps:
  // with DeviceWatch::WhileBusy an idle device's POLLHUP wakes nobody). Marks it gone if so.
  bool check_hangup();

  // The device is detaching (POLLHUP, ENODEV): new commands fail with DevNotThere.
  void mark_gone();
  // The device is no longer served (sysfs no longer lists it, or the SIM stops).
  void retire();
  bool gone() const;
  bool retired() const;
  // Poller: closes the descriptor when the device is retired and no slot is in use.
  // Returns true if the descriptor is closed (now or before).
  bool close_if_idle();
  // Closes the descriptor whatever the kernel still holds (SgSim::stop, after the poller has
  // stopped): the kernel drops those replies and never writes into the slots again.
  void force_close();
  // Descriptor to poll; -1 once closed. Only the poller and stop() use it.
  int fd() const;
  std::uint32_t slots_in_use() const;

 private:
  enum class SlotState : std::uint8_t { Free, Preparing, InKernel, Abandoned, Completing };
  struct Slot {
    SlotState state = SlotState::Free;  // Guarded by m_lock.
    cam::Ccb* ccb = nullptr;            // Guarded by m_lock.
    bool abort_requested = false;       // Guarded by m_lock.
    // Owned as described in the file comment.
    sg_io_hdr_t hdr{};
    std::array<std::uint8_t, cam::Ccb::kMaxCdb> cdb{};
    std::array<std::uint8_t, cam::Ccb::kMaxSense> sense{};
    std::unique_ptr<std::uint8_t[]> buffer;  // NOLINT(modernize-avoid-c-arrays)
    std::uint32_t capacity = 0;
  };

  void release(Slot& slot, std::uint32_t index);  // -> Free; caller holds m_lock.
  bool read_replies(int fd, std::vector<cam::Ccb*>& done, bool& rescan, std::size_t max_replies);
  // Re-arms the epoll registration of `fd` if it should be armed and nobody else has.
  void rearm(int fd);
  void stop_watch(int fd);
  void finish(Slot& slot, cam::Ccb& ccb, const sg_io_hdr_t& reply, bool& rescan);
  static void ensure_capacity(Slot& slot, std::uint32_t bytes);

  const SgDeviceEntry m_entry;
  const cam::Path m_path;
  const std::uint32_t m_max_transfer;
  SgOps& m_ops;
  SgCounters& m_counters;
  const int m_epoll_fd;
  const DeviceWatch m_watch;
  std::atomic<bool> m_armed{false};      // The registration may report an event.
  std::atomic<std::uint32_t> m_due{0};   // Written under m_lock; read anywhere.
  std::atomic<bool> m_gone_hint{false};  // m_gone, readable without the lock.

  mutable std::mutex m_lock;
  int m_fd;                           // Guarded by m_lock (read freely by the poller).
  std::array<Slot, kSlots> m_slots;   // States guarded by m_lock.
  std::vector<std::uint32_t> m_free;  // Free slot indexes (LIFO). Guarded by m_lock.
  bool m_gone = false;                // Guarded by m_lock.
  bool m_retired = false;             // Guarded by m_lock.
  std::uint32_t m_readers = 0;        // Threads in collect(). Guarded by m_lock.
};

}  // namespace ucam::sg
