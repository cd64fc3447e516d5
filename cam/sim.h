// The SIM (SCSI Interface Module) interface: what a transport implements. Deliberately tiny:
// queue a CCB, abort one, poll, describe the bus. Scanning, INQUIRY, REPORT LUNS, retries and
// timeouts live once in the XPT on top of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cam/ccb.h"

namespace ucam::cam {

// XPT_PATH_INQ's answer: what the bus looks like.
struct PathInquiry {
  std::string sim_name;          // "emu", "iscsi", "sg".
  std::uint32_t unit = 0;        // SIM unit number ("emu0").
  std::uint32_t bus = 0;         // SIM-local bus number.
  std::uint32_t max_target = 0;  // Highest target id to probe when scanning.
  std::uint64_t max_lun = 0;     // Highest LUN to probe when REPORT LUNS is not supported.
  std::uint32_t initiator_id = 0;
  std::string hba_vendor;                 // "ucam", "libiscsi".
  std::string transport;                  // "SAS", "iSCSI", "SPI".
  std::uint32_t device_queue_depth = 64;  // Openings per device.
  // Largest data transfer of one CCB, in bytes (FreeBSD's cpi.maxio); 0 = no limit. The XPT
  // completes a SCSI I/O CCB whose dxfer_len exceeds it with ReqTooBig, without sending it.
  // Unlike the fields above (read once, at registration), the XPT reads it again whenever it
  // creates a device entry (a path's first probe) and keeps that value for the entry's life:
  // a SIM whose limit shrinks (a new device with a smaller one) reports the smaller limit and
  // devices found from then on get it; entries created before keep theirs, so the SIM must go
  // on carrying transfers of that size to them.
  std::uint32_t maxio = 0;
};

class Sim {
 public:
  virtual ~Sim() = default;

  // At registration, and (for maxio) each time the XPT creates a device entry: then with the
  // XPT's topology lock held (shared: several threads may call it at once), so it must not
  // block for long and must not call the XPT.
  virtual PathInquiry path_inquiry() const = 0;

  // Starts `ccb`. The SIM completes it exactly once through `XptSim::done()`, from any thread,
  // possibly before action() returns. Must not block.
  virtual void action(Ccb& ccb) = 0;

  // Forgets `ccb` (XPT timeout, device loss, bus removal). Returns true if the SIM still held
  // it: then the SIM has dropped it and will never touch it again, and the XPT completes it.
  // Returns false if the SIM no longer holds it because it is completing it: then the SIM must
  // call XptSim::done() for it soon. The XPT calls abort() with its device lock held, so a SIM
  // must never call XptSim::done() (or anything else on the XPT) while holding the lock its
  // abort() takes. Must not block for long.
  virtual bool abort(Ccb& ccb) = 0;

  // Polls for completions (polled mode; most SIMs complete asynchronously and do nothing).
  virtual void poll() {}

  // The target ids present on this bus, when the transport knows them (an iSCSI session, an
  // HBA's device table). A wildcard scan then probes exactly these targets, and devices on any
  // other target are lost without a probe. std::nullopt (the default): the XPT probes every id
  // from 0 to PathInquiry::max_target. Called from the XPT's scanning thread with the XPT's
  // topology lock held: thread-safe, must not block for long, must not call the XPT.
  virtual std::optional<std::vector<std::uint32_t>> list_targets() const { return std::nullopt; }
};

}  // namespace ucam::cam
