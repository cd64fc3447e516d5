// Emulator internals: one emulated HBA bus, the cam::Sim the XPT sees.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cam/sim.h"
#include "cam/xpt_sim.h"
#include "sims/emu/completer.h"
#include "sims/emu/lun.h"
#include "sims/emu/scenario.h"

namespace ucam::emu {

class EmuBus final : public cam::Sim {
 public:
  enum class State : std::uint8_t {
    Present,       // Registered and answering.
    LinkDown,      // Registered; every target times out on selection.
    Deregistered,  // Not registered with the XPT (removed, stopped, or not yet registered).
  };

  // `spec`, `xpt` and `completer` must outlast the bus; `models` is only used here.
  EmuBus(std::uint32_t number, const BusSpec& spec, cam::XptSim& xpt, Completer& completer,
         ModelPool& models);

  // --- cam::Sim (any thread) ---
  cam::PathInquiry path_inquiry() const override;
  // Runs the command to completion in the caller's thread (or holds it for a Delay/Hang fault)
  // and calls XptSim::done() before returning. Takes no lock on the way for a LUN with nothing
  // armed.
  void action(cam::Ccb& ccb) override;
  bool abort(cam::Ccb& ccb) override;
  // The targets present now (none while the link is down), so a scan of a 128-target bus
  // probes the few that exist.
  std::optional<std::vector<std::uint32_t>> list_targets() const override;

  std::uint32_t number() const { return m_number; }
  EmuTarget* find_target(std::uint32_t id) const;
  std::span<const std::unique_ptr<EmuTarget>> targets() const { return m_targets; }

  State state() const { return m_state.load(std::memory_order_acquire); }
  void set_state(State state) { m_state.store(state, std::memory_order_release); }
  std::optional<std::uint32_t> path_id() const;
  void set_path_id(std::optional<std::uint32_t> path_id);

  // Makes every command in flight on this bus (or one target of it) unable to be held from
  // now on: see EmuLun::epoch().
  void bump_epochs(const EmuTarget* target = nullptr);

 private:
  static constexpr std::uint64_t kNoPathId = ~std::uint64_t{0};

  void scsi_io(cam::Ccb& ccb);
  void reset_device(cam::Ccb& ccb);
  void reset_bus(cam::Ccb& ccb);

  std::uint32_t m_number;
  const BusSpec& m_spec;
  cam::XptSim& m_xpt;
  Completer& m_completer;
  std::vector<std::unique_ptr<EmuTarget>> m_targets;  // Sorted by id; immutable.
  std::atomic<State> m_state{State::Deregistered};
  std::atomic<std::uint64_t> m_path_id{kNoPathId};
};

}  // namespace ucam::emu
