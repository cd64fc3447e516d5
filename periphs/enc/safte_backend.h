// The SAF-TE backend of the enclosure driver (FreeBSD scsi_enc_safte.c): a processor device
// whose INQUIRY says SAF-TE, read through READ BUFFER and controlled through WRITE BUFFER.
// Internal to periphs/enc.
//
// Its buffers are shown as SES elements (scsi::safte::ses_view), so the core, the ioctls and
// the events are the same as for SES. SAF-TE has no generation code: the backend counts
// configuration changes instead. No descriptors, additional status, physical paths or peers.
#pragma once

#include <cstdint>
#include <optional>

#include "periphs/enc/backend.h"
#include "scsi/safte.h"

namespace ucam::enc {

// A processor device whose INQUIRY carries the SAF-TE signature.
bool safte_matches(const cam::DeviceInfo& device);

class SafteBackend final : public Backend {
 public:
  std::uint32_t first_actions() const override { return kConfig; }
  std::uint32_t poll_actions() const override { return kStatus; }
  void run(EncSoftc& sc, std::uint32_t action) override;

 private:
  void step_config(EncSoftc& sc);
  void step_status(EncSoftc& sc);
  void step_control(EncSoftc& sc);

  // The buffers last read, and what SAF-TE cannot report back (identify state, fan speeds,
  // flags). Daemon-only.
  std::optional<scsi::safte::Snapshot> m_snapshot;
};

}  // namespace ucam::enc
