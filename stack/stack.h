// The assembled ucam stack: XPT, devfs, the peripheral drivers and the transports (SIMs), built
// and torn down in the one order that is safe. Used by ucamd and by ucamctl's in-process mode.
//
// Construction order: Xpt -> Devfs -> PeriphManager (driver table) -> transports (register their
// buses) -> one scan of everything. Destruction is the reverse: transports stop (devices are
// lost, periphs invalidated, nodes scheduled for destruction), the periph manager waits for
// every periph to be freed, devfs finishes node destruction, the XPT stops its threads.
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
#include "stack/transport.h"

namespace ucam {

struct StackOptions {
  cam::XptConfig xpt;
  enc::EncOptions enc;
};

class Stack {
 public:
  // Builds the stack on the transports `sims` describes (at most one emulator: the emu.*
  // methods address its scenario buses) and waits until the initial scan has settled (every
  // device found, every periph attached, every node created). Fails if a transport cannot be
  // created; the ones already created are stopped again.
  static Result<std::unique_ptr<Stack>> create(std::vector<SimSpec> sims,
                                               StackOptions options = {});
  // create() on one emulator.
  static Result<std::unique_ptr<Stack>> create_emulated(const emu::Scenario& scenario,
                                                        StackOptions options = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  cam::Xpt& xpt() { return *m_xpt; }
  devfs::Devfs& devfs() { return *m_devfs; }
  cam::PeriphManager& periphs() { return *m_periphs; }
  // The hosted emulator, nullptr when none is.
  emu::Emulator* emulator() { return m_emulator; }
  // Every transport, in the order they were described.
  std::vector<TransportInfo> transports() const;

  // Waits until scans, events and node destruction are all idle.
  void settle();

  // Stops every transport (a shutdown's abort step): commands the SIMs hold complete with
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
  // The same for the processor driver: the pt node of that device ("pass4" or "0:8:0" -> "pt0").
  // ENXIO when the device has none (not a processor, or a SAF-TE enclosure).
  Result<std::string> resolve_pt(std::string_view name);
  // The same for the changer driver: the ch node of that device ("pass0" or "0:0:0" -> "ch0").
  // ENXIO when the device is not a medium changer.
  Result<std::string> resolve_ch(std::string_view name);

 private:
  Stack() = default;
  // resolve(), then the node of the same device whose driver is `driver` ("pass", "pt", "ch").
  Result<std::string> resolve_driver(std::string_view name, std::string_view driver);
  std::unique_ptr<cam::Xpt> m_xpt;
  std::unique_ptr<devfs::Devfs> m_devfs;
  std::unique_ptr<cam::PeriphManager> m_periphs;
  std::vector<std::unique_ptr<Transport>> m_transports;
  emu::Emulator* m_emulator = nullptr;  // Owned by one of m_transports.
};

// Loads a scenario: a file path, or "builtin:NAME" for a scenario compiled in from examples/.
Result<emu::Scenario> load_scenario(std::string_view spec);

}  // namespace ucam
