// The emulated SIM: ucam's default transport, so that the whole stack runs with no hardware.
//
// An Emulator turns a Scenario into one `cam::Sim` per scenario bus (an "emu" HBA each),
// registers them with the XPT and executes every CDB itself with the device models of
// sims/emu/models. Commands run synchronously in the submitter's thread and complete inline
// through XptSim::done(); only commands held by a Delay or Hang fault complete later, from the
// emulator's worker thread (Delay) or never (Hang, until Sim::abort() or removal).
//
// Addressing: the fault and topology API takes scenario bus numbers (the index in "buses");
// path_id() maps them to XPT path ids, which change when a bus is deregistered and registered
// again.
//
// Topology changes behave as an HBA reports them: the emulator flips the device's presence,
// completes the commands it still holds for it with CamStatus::DevNotThere ("device gone
// mid-command"), and asks the XPT to rescan the smallest path that covers the change:
//   remove/insert_lun     -> request_rescan(path_id, target, lun)
//   remove/insert_target  -> request_rescan(path_id, target, wildcard LUN)
//   remove_bus(LinkDown) / insert_bus after it -> request_rescan(path_id, wildcard, wildcard)
//   remove_bus(Deregister) -> XptSim::deregister_bus; insert_bus after it registers the bus
//     again (new path id) and requests a rescan of the whole bus.
// While absent, a target (or every target of a link-down bus) answers CamStatus::SelTimeout and
// a LUN answers as a LUN that does not exist (INQUIRY peripheral qualifier 3, other commands
// ILLEGAL REQUEST 25h/00h). Device state (disk contents, message queues) survives removal:
// re-inserting a LUN is pulling and pushing back the same drive.
//
// Multipath: scenario LUNs with the same type and NAA are ports of one logical unit and share
// its model (one medium); presence, faults and UNIT ATTENTIONs stay per path.
//
// Threads: every public method is thread-safe. Topology methods and stop() serialize on one
// lock and may block (deregister_bus waits for the XPT); they must not be called from a
// completion callback. Fault methods never block for long.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "cam/sim.h"
#include "cam/xpt_sim.h"
#include "sims/emu/fault.h"
#include "sims/emu/models/changer.h"
#include "sims/emu/models/ses_view.h"
#include "sims/emu/scenario.h"

namespace ucam::emu {

class EmuBus;
class Completer;
class EnclosureRegistry;

enum class InitialScan : std::uint8_t {
  Request,  // After registering each bus, request_rescan() of the whole bus (an HBA's attach).
  None,     // Register only; the caller scans.
};

struct EmulatorOptions {
  InitialScan initial_scan = InitialScan::Request;
};

enum class BusRemoval : std::uint8_t {
  Deregister,  // The HBA disappears: XptSim::deregister_bus(); insert_bus() registers it again.
  LinkDown,    // The HBA stays registered but sees no target (every command: SelTimeout).
};

enum class Insertion : std::uint8_t {
  Quiet,             // The device comes back as it left.
  PowerOnAttention,  // Every re-inserted LUN reports UNIT ATTENTION 29h/00h once.
};

enum class SelectionTimeout : std::uint8_t { Off, On };

class Emulator {
 public:
  // Builds the buses and devices of `scenario` and registers one Sim per bus with `xpt`, which
  // must outlast the Emulator. Fails if the XPT refuses a bus (buses registered so far are
  // deregistered again).
  static Result<std::unique_ptr<Emulator>> create(const Scenario& scenario, cam::XptSim& xpt,
                                                  EmulatorOptions options = {});
  ~Emulator();  // stop().
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // Completes every held command with DevNotThere, deregisters every registered bus and stops
  // the worker. Idempotent. Afterwards action() answers DevNotThere.
  void stop();

  const Scenario& scenario() const { return m_scenario; }
  std::size_t bus_count() const { return m_buses.size(); }
  // The XPT path id of a scenario bus, or nullopt while it is deregistered (or out of range).
  std::optional<std::uint32_t> path_id(std::uint32_t bus) const;
  // The scenario bus registered under `path_id`.
  std::optional<std::uint32_t> scenario_bus(std::uint32_t path_id) const;
  // The Sim serving a scenario bus (nullptr when out of range); lives as long as the Emulator.
  cam::Sim* sim(std::uint32_t bus);

  // --- Topology (hot plug) ---
  Result<void> remove_lun(const LunAddress& address);
  Result<void> insert_lun(const LunAddress& address, Insertion insertion = Insertion::Quiet);
  Result<void> remove_target(std::uint32_t bus, std::uint32_t target);
  Result<void> insert_target(std::uint32_t bus, std::uint32_t target,
                             Insertion insertion = Insertion::Quiet);
  Result<void> remove_bus(std::uint32_t bus, BusRemoval removal = BusRemoval::Deregister);
  Result<void> insert_bus(std::uint32_t bus, Insertion insertion = Insertion::Quiet);

  // --- Faults ---
  // Arms `fault` on a LUN of the scenario (present or not).
  Result<void> inject(const LunAddress& address, const Fault& fault);
  // Queues a UNIT ATTENTION condition: the next command other than INQUIRY, REPORT LUNS and
  // REQUEST SENSE gets CHECK CONDITION with `sense`; REQUEST SENSE returns and clears it.
  Result<void> set_unit_attention(const LunAddress& address, SenseCode sense);
  // With On, the target stays in the topology but every command to it ends in SelTimeout.
  Result<void> set_selection_timeout(std::uint32_t bus, std::uint32_t target,
                                     SelectionTimeout mode);
  // Disarms every fault and pending UNIT ATTENTION of a LUN (held commands stay held).
  Result<void> clear_faults(const LunAddress& address);

  // Commands currently held by Delay and Hang faults.
  std::size_t held_commands() const;

  // --- Changers (SMC-3 LUNs; docs/scenarios.md, "changer") ---
  // Operator actions on the changer LUN at `address` (EINVAL if it is not a changer). Closing
  // the door queues UNIT ATTENTION 28h/00h (NOT READY TO READY CHANGE, MEDIUM MAY HAVE
  // CHANGED); putting a medium into an empty portal or taking one out queues 28h/01h (IMPORT
  // OR EXPORT ELEMENT ACCESSED). Portal indexes are 0-based. A changer drive linked to a
  // `tape` LUN shares its cartridge; the tape's UNIT ATTENTIONs (28h/00h when a move loads it)
  // are queued on every path of that LUN by a sink create() installs.
  Result<void> set_changer_door(const LunAddress& address, ChangerDoor door);
  Result<void> import_medium(const LunAddress& address, std::uint16_t portal,
                             const std::string& volume_tag);
  Result<void> export_medium(const LunAddress& address, std::uint16_t portal);
  // Changer faults (ChangerModel, "Faults"): the next MOVE/EXCHANGE jams with the medium in
  // the picker; the medium at element `element_address` gets an unreadable label (EINVAL if
  // the element is empty or none); clear_changer_faults disarms the jam, clears EXCEPT and
  // makes every label readable. None queues a UNIT ATTENTION.
  Result<void> arm_picker_jam(const LunAddress& address);
  Result<void> set_label_unreadable(const LunAddress& address, std::uint16_t element_address);
  Result<void> clear_changer_faults(const LunAddress& address);
  // The changer model itself (its inventory); it lives as long as the Emulator.
  Result<ChangerModel*> changer(const LunAddress& address) const;

  // --- Enclosures (SES and SAF-TE LUNs; docs/scenarios.md, "Enclosures") ---
  // An enclosure is named by its scenario name or by any of its LUNs; an unknown one is an
  // ENODEV error. State changes show in the next page or buffer read; none raises a UNIT
  // ATTENTION. Slots are numbered from 0 in Configuration page order.
  std::vector<std::string> enclosure_names() const;  // sorted
  std::optional<EnclosureView> enclosure(const EnclosureRef& ref) const;
  // An element's 4 status bytes as the enclosure will report them.
  Result<void> set_element_status(const EnclosureRef& ref, EnclosureElement element,
                                  const scsi::ses::ElementBytes& status);
  // A sensor reading: fan rpm, temperature degrees C, voltage mV, current mA. The status code
  // and warning/failure bits follow the element's thresholds, if it has any.
  Result<void> set_sensor(const EnclosureRef& ref, EnclosureElement element, std::int32_t value);
  // Pulls the device out of a slot (status Not Installed, no SAS address) and, when it is an
  // emulated LUN, removes that LUN (remove_lun). Returns the LUN pulled.
  Result<std::optional<LunAddress>> pull_disk(const EnclosureRef& ref, int slot);
  // Puts a device into an empty slot (status OK, its SAS address) and, when it is an emulated
  // LUN, inserts that LUN (insert_lun). EBUSY if the slot is full or the LUN sits in a slot.
  Result<void> insert_disk(const EnclosureRef& ref, int slot, const SlotDevice& device,
                           Insertion insertion = Insertion::Quiet);
  // pull_disk(from) then insert_disk(to): the LUN leaves the topology and comes back.
  Result<void> move_disk(const EnclosureRef& ref, int from, int to,
                         Insertion insertion = Insertion::Quiet);
  // Bumps the generation code and applies new element counts (SES only); returns the new
  // generation code.
  Result<std::uint32_t> reconfigure_enclosure(const EnclosureRef& ref,
                                              const EnclosureReconfiguration& change);
  // remove_lun / insert_lun of every LUN of the enclosure; its state is kept.
  Result<void> remove_enclosure(const EnclosureRef& ref);
  Result<void> insert_enclosure(const EnclosureRef& ref, Insertion insertion = Insertion::Quiet);

 private:
  Emulator(Scenario scenario, cam::XptSim& xpt);

  Result<EmuBus*> find_bus(std::uint32_t bus) const;
  void rescan(EmuBus& bus, std::uint32_t target, std::uint64_t lun);

  Scenario m_scenario;  // Immutable; the devices keep references into it.
  cam::XptSim& m_xpt;
  std::unique_ptr<Completer> m_completer;
  std::vector<std::unique_ptr<EmuBus>> m_buses;  // Index: scenario bus number.
  std::mutex m_topology_lock;                    // Serializes topology changes and stop().
  bool m_stopped = false;                        // Guarded by m_topology_lock.

  std::unique_ptr<EnclosureRegistry> m_enclosures;  // Built in create(), then immutable.
};

}  // namespace ucam::emu
