// SG SIM internals: one Linux SCSI host and channel, the cam::Sim the XPT sees.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "cam/sim.h"
#include "cam/xpt_sim.h"
#include "sims/sg/device.h"
#include "sims/sg/sysfs.h"

namespace ucam::sg {

class SgSim;

class SgBus final : public cam::Sim {
 public:
  // `sim` and `xpt` must outlast the bus. `max_transfer`: the smallest limit of the devices the
  // bus is created for (they attach after registration, which reads PathInquiry::maxio).
  SgBus(SgSim& sim, cam::XptSim& xpt, SgHostEntry host, std::uint32_t channel,
        std::uint32_t max_target, std::uint64_t max_lun, std::uint32_t max_transfer);

  // --- cam::Sim (any thread) ---
  // maxio is the smallest max_transfer() of the attached devices (the host's limit as each
  // device's queue sees it), or the constructor's while none is attached. The XPT reads it
  // for every new device entry, so a device with a smaller limit that attaches later gets
  // its own limit enforced; devices found before keep a larger one, which is theirs.
  cam::PathInquiry path_inquiry() const override;
  // The targets of the attached devices: sysfs's targets of this host and channel.
  std::optional<std::vector<std::uint32_t>> list_targets() const override;
  // Writes the command to the device's sg node, or completes it at once (no such device,
  // refused by the kernel, the synthesized LUN 0 answers). Never blocks.
  void action(cam::Ccb& ccb) override;
  // Abandons the command if the kernel holds it (see sg_sim.h).
  bool abort(cam::Ccb& ccb) override;

  // --- Topology (SgSim's topology lock) ---
  std::uint32_t host() const { return m_host.host; }
  std::uint32_t channel() const { return m_channel; }
  void set_path_id(std::uint32_t id) { m_path_id = id; }
  std::uint32_t path_id() const { return m_path_id; }
  void attach(const std::shared_ptr<SgDevice>& device);
  void detach(const SgDevice& device);
  std::size_t device_count() const;

 private:
  using Key = std::pair<std::uint32_t, std::uint64_t>;  // (target, CAM LUN)

  // INQUIRY and REPORT LUNS for LUN 0 of a target whose other LUNs have sg nodes.
  void answer_for_absent_lun0(cam::Ccb& ccb, const std::vector<std::uint64_t>& luns);

  SgSim& m_sim;
  cam::XptSim& m_xpt;
  const SgHostEntry m_host;
  const std::uint32_t m_channel;
  const std::uint32_t m_max_target;
  const std::uint64_t m_max_lun;
  const std::uint32_t m_initial_max_transfer;
  std::uint32_t m_path_id = 0;  // Set once, before the bus is visible to other threads' XPT calls.

  mutable std::shared_mutex m_lock;
  std::map<Key, std::shared_ptr<SgDevice>> m_luns;  // Guarded by m_lock.
};

}  // namespace ucam::sg
