// Transports a Stack hosts. A transport is one SIM kind with the buses it registered on the
// XPT: the emulator (any number of scenario buses), Linux SG_IO (a bus per SCSI host), iSCSI
// (a bus per target). The Stack creates each from a SimSpec on its XPT, which must outlast it,
// and stops each before the XPT goes.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"
#include "cam/xpt_sim.h"
#include "sims/emu/scenario.h"

namespace ucam {

namespace emu {
class Emulator;
}

// The emulated SIM on a scenario (emu_spec() loads one).
struct EmuSpec {
  std::string source;  // The file path or "builtin:NAME" it came from.
  emu::Scenario scenario;
};

using SimSpec = std::variant<EmuSpec>;

// What a transport says about itself (daemon.status, ucamctl status, metrics labels).
struct TransportInfo {
  std::string kind;  // "emu", "sg", "iscsi".
  std::string spec;  // What it was built from: the scenario, the sg filter, the portal URL
                     // (secrets removed).
  std::vector<std::pair<std::string, std::string>> details;  // State, counters, in order.
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual TransportInfo describe() const = 0;

  // Completes every command the SIM holds with DevNotThere and deregisters its buses, so their
  // devices are lost and their periphs invalidated. Idempotent; blocks; never from a completion.
  virtual void stop() = 0;

  // The emulator behind an emu transport (for the emu.* methods), nullptr for the others.
  virtual emu::Emulator* emulator() { return nullptr; }
};

// Builds the transport `spec` describes on `xpt` and registers its buses. The buses are not
// scanned yet: the Stack scans once every transport is up.
Result<std::unique_ptr<Transport>> create_transport(const SimSpec& spec, cam::XptSim& xpt);

// Loads a scenario: a file path, or "builtin:NAME" for one compiled in from examples/. Errors
// are EINVAL with the file, the JSON path and the problem.
Result<EmuSpec> emu_spec(std::string_view source);

// "emu", "sg" or "iscsi".
std::string kind_of(const SimSpec& spec);

}  // namespace ucam
