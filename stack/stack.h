// The assembled ucam stack: XPT, devfs, the peripheral drivers and the SIMs, built and torn down
// in the one order that is safe. Used by ucamctl (in-process mode) and, later, ucamd.
//
// Construction order: Xpt -> Devfs -> PeriphManager (driver table) -> SIMs (register + scan).
// Destruction is the reverse: SIMs deregister (devices are lost, periphs invalidated, nodes
// scheduled for destruction), the periph manager waits for every periph to be freed, devfs
// finishes node destruction, the XPT stops its threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "periphs/enc/enc.h"
#include "sims/emu/emu.h"
#include "sims/emu/scenario.h"

namespace ucam {

struct StackOptions {
  cam::XptConfig xpt;
  enc::EncOptions enc;
};

class Stack {
 public:
  // Builds the stack on the emulated SIM and waits until the initial scan has settled (every
  // device found, every periph attached, every node created).
  static Result<std::unique_ptr<Stack>> create_emulated(const emu::Scenario& scenario,
                                                        StackOptions options = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  cam::Xpt& xpt() { return *m_xpt; }
  devfs::Devfs& devfs() { return *m_devfs; }
  cam::PeriphManager& periphs() { return *m_periphs; }
  emu::Emulator* emulator() { return m_emulator.get(); }

  // Waits until scans, events and node destruction are all idle.
  void settle();

  // Stops every SIM (a shutdown's abort step): commands the SIMs hold complete with
  // DevNotThere, buses deregister, devices are lost and periphs invalidated, so threads inside
  // node calls return. Opens stay valid (calls on them fail with ENXIO) until closed.
  // Idempotent; the destructor does it too. Blocks.
  void stop_sims();

  // Resolves what a user typed to a node name: "pass0", "/dev/pass0", or a path
  // "B:T:L" (bus:target:lun, the XPT bus number) naming the device's pass node.
  Result<std::string> resolve(std::string_view name);
  // The same, then the pass node of that device (FreeBSD's CAMGETPASSTHRU): "da3" -> "pass5".
  // Raw commands go to pass nodes.
  Result<std::string> resolve_pass(std::string_view name);

 private:
  Stack() = default;
  std::unique_ptr<cam::Xpt> m_xpt;
  std::unique_ptr<devfs::Devfs> m_devfs;
  std::unique_ptr<cam::PeriphManager> m_periphs;
  std::unique_ptr<emu::Emulator> m_emulator;
};

// Loads a scenario: a file path, or "builtin:NAME" for a scenario compiled in from examples/.
Result<emu::Scenario> load_scenario(std::string_view spec);

}  // namespace ucam
