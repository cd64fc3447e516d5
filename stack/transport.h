// Transports a Stack hosts. A transport is one SIM kind with the buses it registered on the
// XPT: the emulator (any number of scenario buses), Linux SG_IO (a bus per SCSI host), iSCSI
// (a bus per target). The Stack creates each from a SimSpec on its XPT, which must outlast it,
// and stops each before the XPT goes.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"
#include "cam/xpt_sim.h"
#include "sims/emu/scenario.h"
#include "sims/iscsi/iscsi_sim.h"
#include "sims/sg/sg_sim.h"

namespace ucam {

namespace emu {
class Emulator;
}

// The emulated SIM on a scenario (emu_spec() loads one).
struct EmuSpec {
  std::string source;  // The file path or "builtin:NAME" it came from.
  emu::Scenario scenario;
};

// The Linux SG_IO SIM (sims/sg): the sg devices options.filter selects (empty: all). The Stack
// sets options.initial_scan to None: it scans once every transport is up.
struct SgSpec {
  sg::SgOptions options;
};

// The iSCSI SIM (sims/iscsi) on one target. config.initial_scan is set to None as for SgSpec.
struct IscsiSpec {
  iscsi::Config config;
};

using SimSpec = std::variant<EmuSpec, SgSpec, IscsiSpec>;

// One transport as a configuration names it (ucamd's "sims" list, ucamctl's --emulate, --sg and
// --iscsi): plain data, cheap to parse and compare; make_spec() loads what it names.
struct SimConfig {
  enum class Kind : std::uint8_t { Emu, Sg, Iscsi };
  Kind kind = Kind::Emu;
  // emu: a scenario file or "builtin:NAME".
  std::string scenario = "builtin:default";
  // sg: which devices (sysfs.h selected(): "sg3", "0:0:1:0", "host2", "scsi_debug"); empty: all.
  std::vector<std::string> filter;
  std::string sysfs_root = "/sys";  // sg: where sysfs and /dev are (tests point them elsewhere).
  std::string dev_root = "/dev";
  // iscsi: iscsi://[user[%password]@]host[:port]/target-iqn and the login parameters.
  std::string url;
  std::string initiator_name;  // "" = iscsi::Config's default.
  std::string chap_user, chap_secret, target_chap_user, target_chap_secret;
  std::optional<std::chrono::milliseconds> login_timeout, loss_timeout;
  bool header_digest_crc32c = false;  // Offer CRC32C first ("CRC32C,None").

  bool operator==(const SimConfig&) const = default;
};

std::string_view kind_name(SimConfig::Kind kind);  // "emu", "sg", "iscsi"

// What the configuration names, loaded: a scenario is read and checked (EINVAL naming the file,
// the JSON path and the problem); sg and iscsi settings are only copied (their SIMs check them
// when created).
Result<SimSpec> make_spec(const SimConfig& config);
Result<std::vector<SimSpec>> make_specs(const std::vector<SimConfig>& configs);

// A one-line, secret-free description of `config` (logs, ucamd --check-config):
// "emu builtin:jbod-24", "sg sg3,host2", "sg (all)", "iscsi iscsi://127.0.0.1:3260/iqn...".
std::string describe(const SimConfig& config);

// What a transport says about itself (daemon.status, ucamctl status, metrics labels).
struct TransportInfo {
  std::string kind;  // "emu", "sg", "iscsi".
  std::string spec;  // What it was built from: the scenario, the sg filter, the portal URL
                     // (secrets removed).
  std::vector<std::pair<std::string, std::string>> details;  // State, counters, in order.
  bool up = true;  // Serving commands (an iSCSI session that is logged in).
  // What an operator must act on: sg devices that could not be opened, each with the reason.
  std::vector<std::string> problems;
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
