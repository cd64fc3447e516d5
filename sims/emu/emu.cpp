#include "sims/emu/emu.h"

#include <fmt/format.h>

#include <map>

#include "base/check.h"
#include "scsi/sense.h"
#include "sims/emu/bus.h"
#include "sims/emu/completer.h"
#include "sims/emu/models/changer.h"
#include "sims/emu/models/ses_registry.h"
#include "sims/emu/models/tape.h"

namespace ucam::emu {

Emulator::Emulator(Scenario scenario, cam::XptSim& xpt)
    : m_scenario(std::move(scenario)), m_xpt(xpt), m_completer(std::make_unique<Completer>(xpt)) {
  ModelPool models;
  m_buses.reserve(m_scenario.buses.size());
  for (std::size_t i = 0; i < m_scenario.buses.size(); ++i) {
    m_buses.push_back(std::make_unique<EmuBus>(static_cast<std::uint32_t>(i), m_scenario.buses[i],
                                               xpt, *m_completer, models));
  }
}

Result<std::unique_ptr<Emulator>> Emulator::create(const Scenario& scenario, cam::XptSim& xpt,
                                                   EmulatorOptions options) {
  std::unique_ptr<Emulator> emulator(new Emulator(scenario, xpt));
  emulator->m_completer->start();
  // Enclosures and changers link LUNs across the scenario; they exist before any command can
  // arrive.
  const auto model_of = [&emulator](const LunAddress& a) -> LunModel* {
    if (a.bus >= emulator->m_buses.size()) {
      return nullptr;
    }
    EmuTarget* target = emulator->m_buses[a.bus]->find_target(a.target);
    EmuLun* lun = target != nullptr ? target->find_lun(a.lun) : nullptr;
    return lun != nullptr ? &lun->model() : nullptr;
  };
  // A tape drive's UNIT ATTENTIONs (a changer loaded it) go to every path of its logical unit.
  std::map<TapeModel*, std::vector<EmuLun*>> tape_paths;
  for (auto& bus : emulator->m_buses) {
    for (const auto& target : bus->targets()) {
      for (const auto& lun : target->luns()) {
        if (auto* tape = dynamic_cast<TapeModel*>(&lun->model())) {
          tape_paths[tape].push_back(lun.get());
        }
      }
    }
  }
  for (auto& [tape, paths] : tape_paths) {
    tape->set_attention_sink([paths = paths](SenseCode sense) {
      for (EmuLun* path : paths) {
        path->queue_unit_attention(sense);
      }
    });
  }
  auto enclosures = EnclosureRegistry::create(emulator->m_scenario, model_of);
  if (!enclosures) {
    return fail(enclosures.error());
  }
  if (auto linked = link_changer_drives(emulator->m_scenario, model_of); !linked) {
    return fail(linked.error());
  }
  emulator->m_enclosures = std::move(*enclosures);
  for (auto& bus : emulator->m_buses) {
    // Present before registration: the XPT may send commands as soon as it knows the bus.
    bus->set_state(EmuBus::State::Present);
    auto id = xpt.register_bus(*bus);
    if (!id) {
      bus->set_state(EmuBus::State::Deregistered);
      emulator->stop();
      return fail(id.error().with_context(fmt::format("emu: registering bus {}", bus->number())));
    }
    bus->set_path_id(*id);
  }
  if (options.initial_scan == InitialScan::Request) {
    for (auto& bus : emulator->m_buses) {
      emulator->rescan(*bus, cam::Path::kWildcardTarget, cam::Path::kWildcardLun);
    }
  }
  return emulator;
}

Emulator::~Emulator() {
  stop();
}

void Emulator::stop() {
  assert_may_block("emu: Emulator::stop");
  std::lock_guard lock(m_topology_lock);
  if (m_stopped) {
    return;
  }
  m_stopped = true;
  for (auto& bus : m_buses) {
    const auto id = bus->path_id();
    bus->set_state(EmuBus::State::Deregistered);
    bus->bump_epochs();
    m_completer->flush(*bus, nullptr, nullptr, CamStatus::DevNotThere);
    if (id) {
      m_xpt.deregister_bus(*id);
      bus->set_path_id(std::nullopt);
    }
  }
  m_completer->stop();
}

std::optional<std::uint32_t> Emulator::path_id(std::uint32_t bus) const {
  if (bus >= m_buses.size()) {
    return std::nullopt;
  }
  return m_buses[bus]->path_id();
}

std::optional<std::uint32_t> Emulator::scenario_bus(std::uint32_t path_id) const {
  for (const auto& bus : m_buses) {
    if (bus->path_id() == path_id) {
      return bus->number();
    }
  }
  return std::nullopt;
}

cam::Sim* Emulator::sim(std::uint32_t bus) {
  return bus < m_buses.size() ? m_buses[bus].get() : nullptr;
}

std::size_t Emulator::held_commands() const {
  return m_completer->held();
}

Result<EmuBus*> Emulator::find_bus(std::uint32_t bus) const {
  if (bus >= m_buses.size()) {
    return fail(Error::from_errno(
        19 /* ENODEV */,
        fmt::format("emu: the scenario has no bus {} ({} buses)", bus, m_buses.size())));
  }
  return m_buses[bus].get();
}

namespace {

struct Located {
  EmuBus* bus;
  EmuTarget* target;
  EmuLun* lun;
};

Result<EmuTarget*> locate_target(EmuBus& bus, std::uint32_t target) {
  EmuTarget* t = bus.find_target(target);
  if (t == nullptr) {
    return fail(Error::from_errno(
        19 /* ENODEV */, fmt::format("emu: bus {} has no target {}", bus.number(), target)));
  }
  return t;
}

}  // namespace

void Emulator::rescan(EmuBus& bus, std::uint32_t target, std::uint64_t lun) {
  if (const auto id = bus.path_id()) {
    m_xpt.request_rescan(cam::Path{*id, target, lun});
  }
}

// --- Topology -------------------------------------------------------------------------------
//
// Each change follows the same order: make the device unreachable for new commands (presence
// flag), make commands already running unable to be held (epoch), complete the held ones
// (flush), then tell the XPT (rescan or deregistration).

namespace {

Result<Located> locate(const Result<EmuBus*>& bus, const LunAddress& address) {
  if (!bus) {
    return fail(bus.error());
  }
  auto target = locate_target(**bus, address.target);
  if (!target) {
    return fail(target.error());
  }
  EmuLun* lun = (*target)->find_lun(address.lun);
  if (lun == nullptr) {
    return fail(
        Error::from_errno(19 /* ENODEV */, fmt::format("emu: bus {} target {} has no LUN {}",
                                                       address.bus, address.target, address.lun)));
  }
  return Located{*bus, *target, lun};
}

}  // namespace

Result<void> Emulator::remove_lun(const LunAddress& address) {
  assert_may_block("emu: remove_lun");
  std::lock_guard lock(m_topology_lock);
  auto where = locate(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  if (!where->lun->present()) {
    return {};
  }
  where->lun->set_present(false);
  m_completer->flush(*where->bus, where->target, where->lun, CamStatus::DevNotThere);
  rescan(*where->bus, address.target, address.lun);
  return {};
}

Result<void> Emulator::insert_lun(const LunAddress& address, Insertion insertion) {
  assert_may_block("emu: insert_lun");
  std::lock_guard lock(m_topology_lock);
  auto where = locate(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  if (where->lun->present()) {
    return {};
  }
  if (insertion == Insertion::PowerOnAttention) {
    where->lun->queue_unit_attention(scsi::kPowerOnReset);
  }
  where->lun->set_present(true);
  rescan(*where->bus, address.target, address.lun);
  return {};
}

Result<void> Emulator::remove_target(std::uint32_t bus, std::uint32_t target) {
  assert_may_block("emu: remove_target");
  std::lock_guard lock(m_topology_lock);
  auto b = find_bus(bus);
  if (!b) {
    return fail(b.error());
  }
  auto t = locate_target(**b, target);
  if (!t) {
    return fail(t.error());
  }
  if (!(*t)->present()) {
    return {};
  }
  (*t)->set_present(false);
  (*b)->bump_epochs(*t);
  m_completer->flush(**b, *t, nullptr, CamStatus::DevNotThere);
  rescan(**b, target, cam::Path::kWildcardLun);
  return {};
}

Result<void> Emulator::insert_target(std::uint32_t bus, std::uint32_t target, Insertion insertion) {
  assert_may_block("emu: insert_target");
  std::lock_guard lock(m_topology_lock);
  auto b = find_bus(bus);
  if (!b) {
    return fail(b.error());
  }
  auto t = locate_target(**b, target);
  if (!t) {
    return fail(t.error());
  }
  if ((*t)->present()) {
    return {};
  }
  if (insertion == Insertion::PowerOnAttention) {
    for (const auto& lun : (*t)->luns()) {
      lun->queue_unit_attention(scsi::kPowerOnReset);
    }
  }
  (*t)->set_present(true);
  rescan(**b, target, cam::Path::kWildcardLun);
  return {};
}

Result<void> Emulator::remove_bus(std::uint32_t bus, BusRemoval removal) {
  assert_may_block("emu: remove_bus");
  std::lock_guard lock(m_topology_lock);
  auto b = find_bus(bus);
  if (!b) {
    return fail(b.error());
  }
  EmuBus& emu_bus = **b;
  const auto state = emu_bus.state();
  if (state == EmuBus::State::Deregistered ||
      (state == EmuBus::State::LinkDown && removal == BusRemoval::LinkDown)) {
    return {};
  }
  emu_bus.set_state(removal == BusRemoval::LinkDown ? EmuBus::State::LinkDown
                                                    : EmuBus::State::Deregistered);
  emu_bus.bump_epochs();
  m_completer->flush(emu_bus, nullptr, nullptr, CamStatus::DevNotThere);
  if (removal == BusRemoval::LinkDown) {
    rescan(emu_bus, cam::Path::kWildcardTarget, cam::Path::kWildcardLun);
    return {};
  }
  if (const auto id = emu_bus.path_id()) {
    m_xpt.deregister_bus(*id);
    emu_bus.set_path_id(std::nullopt);
  }
  return {};
}

Result<void> Emulator::insert_bus(std::uint32_t bus, Insertion insertion) {
  assert_may_block("emu: insert_bus");
  std::lock_guard lock(m_topology_lock);
  if (m_stopped) {
    return fail(Error::from_errno(19 /* ENODEV */, "emu: the emulator is stopped"));
  }
  auto b = find_bus(bus);
  if (!b) {
    return fail(b.error());
  }
  EmuBus& emu_bus = **b;
  const auto state = emu_bus.state();
  if (state == EmuBus::State::Present) {
    return {};
  }
  if (insertion == Insertion::PowerOnAttention) {
    for (const auto& target : emu_bus.targets()) {
      for (const auto& lun : target->luns()) {
        lun->queue_unit_attention(scsi::kPowerOnReset);
      }
    }
  }
  emu_bus.set_state(EmuBus::State::Present);
  if (state == EmuBus::State::Deregistered) {
    auto id = m_xpt.register_bus(emu_bus);
    if (!id) {
      emu_bus.set_state(EmuBus::State::Deregistered);
      return fail(id.error().with_context(fmt::format("emu: registering bus {}", bus)));
    }
    emu_bus.set_path_id(*id);
  }
  rescan(emu_bus, cam::Path::kWildcardTarget, cam::Path::kWildcardLun);
  return {};
}

// --- Faults ---------------------------------------------------------------------------------

Result<void> Emulator::inject(const LunAddress& address, const Fault& fault) {
  auto where = locate(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  if (fault.count == 0) {
    return fail_invalid("emu: a fault needs a count of at least 1");
  }
  if (fault.action == Fault::Action::CheckCondition && fault.sense.key > 0xf) {
    return fail_invalid(fmt::format("emu: sense key 0x{:x} does not fit 4 bits", fault.sense.key));
  }
  if (fault.action == Fault::Action::Delay && fault.delay.count() < 0) {
    return fail_invalid("emu: a delay cannot be negative");
  }
  where->lun->arm(fault);
  return {};
}

Result<void> Emulator::set_unit_attention(const LunAddress& address, SenseCode sense) {
  auto where = locate(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  if (sense.key > 0xf) {
    return fail_invalid(fmt::format("emu: sense key 0x{:x} does not fit 4 bits", sense.key));
  }
  where->lun->queue_unit_attention(sense);
  return {};
}

Result<void> Emulator::set_selection_timeout(std::uint32_t bus, std::uint32_t target,
                                             SelectionTimeout mode) {
  auto b = find_bus(bus);
  if (!b) {
    return fail(b.error());
  }
  auto t = locate_target(**b, target);
  if (!t) {
    return fail(t.error());
  }
  (*t)->set_selection_timeout(mode == SelectionTimeout::On);
  return {};
}

Result<void> Emulator::clear_faults(const LunAddress& address) {
  auto where = locate(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  where->lun->clear_faults();
  return {};
}

// --- Changers -------------------------------------------------------------------------------

namespace {

Result<std::pair<EmuLun*, ChangerModel*>> locate_changer(const Result<EmuBus*>& bus,
                                                         const LunAddress& address) {
  auto where = locate(bus, address);
  if (!where) {
    return fail(where.error());
  }
  auto* changer = dynamic_cast<ChangerModel*>(&where->lun->model());
  if (changer == nullptr) {
    return fail_invalid(fmt::format("emu: bus {} target {} LUN {} is not a changer", address.bus,
                                    address.target, address.lun));
  }
  return std::pair{where->lun, changer};
}

}  // namespace

Result<ChangerModel*> Emulator::changer(const LunAddress& address) const {
  auto where = locate_changer(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  return where->second;
}

Result<void> Emulator::set_changer_door(const LunAddress& address, ChangerDoor door) {
  auto where = locate_changer(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  where->second->set_door(door);
  if (door == ChangerDoor::Closed) {
    where->first->queue_unit_attention(scsi::kMediumMayHaveChanged);
  }
  return {};
}

Result<void> Emulator::import_medium(const LunAddress& address, std::uint16_t portal,
                                     const std::string& volume_tag) {
  auto where = locate_changer(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  auto done = where->second->import_medium(portal, volume_tag);
  if (!done) {
    return fail(done.error());
  }
  where->first->queue_unit_attention(scsi::kImportExportAccessed);
  return {};
}

Result<void> Emulator::export_medium(const LunAddress& address, std::uint16_t portal) {
  auto where = locate_changer(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  auto done = where->second->export_medium(portal);
  if (!done) {
    return fail(done.error());
  }
  where->first->queue_unit_attention(scsi::kImportExportAccessed);
  return {};
}

Result<void> Emulator::arm_picker_jam(const LunAddress& address) {
  auto where = locate_changer(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  where->second->arm_picker_jam();
  return {};
}

Result<void> Emulator::set_label_unreadable(const LunAddress& address,
                                            std::uint16_t element_address) {
  auto where = locate_changer(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  return where->second->set_label_unreadable(element_address);
}

Result<void> Emulator::clear_changer_faults(const LunAddress& address) {
  auto where = locate_changer(find_bus(address.bus), address);
  if (!where) {
    return fail(where.error());
  }
  where->second->clear_faults();
  return {};
}

// --- Enclosures -----------------------------------------------------------------------------
//
// The enclosure changes first, then the topology: a disk inserted into a slot already shows
// its SAS address when the XPT's rescan finds it (an enclosure driver maps it at once), and a
// pulled disk's slot is already empty when the XPT loses it.

namespace {

Error no_enclosure(const EnclosureRef& ref) {
  return Error::from_errno(19 /* ENODEV */,
                           fmt::format("emu: the scenario has no enclosure {}", ref.describe()));
}

}  // namespace

std::vector<std::string> Emulator::enclosure_names() const {
  return m_enclosures->names();
}

std::optional<EnclosureView> Emulator::enclosure(const EnclosureRef& ref) const {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return std::nullopt;
  }
  return entry->state->view();
}

Result<void> Emulator::set_element_status(const EnclosureRef& ref, EnclosureElement element,
                                          const scsi::ses::ElementBytes& status) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  return entry->state->set_element_status(element, status);
}

Result<void> Emulator::set_sensor(const EnclosureRef& ref, EnclosureElement element,
                                  std::int32_t value) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  return entry->state->set_sensor(element, value);
}

Result<std::optional<LunAddress>> Emulator::pull_disk(const EnclosureRef& ref, int slot) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  auto content = entry->state->pull(slot);
  if (!content) {
    return fail(content.error());
  }
  if (content->disk) {
    if (auto removed = remove_lun(*content->disk); !removed) {
      return fail(removed.error());
    }
  }
  return content->disk;
}

Result<void> Emulator::insert_disk(const EnclosureRef& ref, int slot, const SlotDevice& device,
                                   Insertion insertion) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  SlotContent content{device.sas_address, device.lun};
  if (device.lun) {
    auto address = scenario_sas_address(m_scenario, *device.lun);
    if (!address) {
      return fail(address.error());
    }
    content.sas_address = *address;
    if (const auto where = m_enclosures->slot_of(*device.lun)) {
      return fail(Error::from_errno(
          16 /* EBUSY */,
          fmt::format("emu: bus {} target {} lun {} is in slot {} of \"{}\"", device.lun->bus,
                      device.lun->target, device.lun->lun, where->second, where->first->name)));
    }
  }
  if (auto inserted = entry->state->insert(slot, content); !inserted) {
    return fail(inserted.error());
  }
  if (device.lun) {
    return insert_lun(*device.lun, insertion);
  }
  return {};
}

Result<void> Emulator::move_disk(const EnclosureRef& ref, int from, int to, Insertion insertion) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  const auto view = entry->state->view();
  if (view.slot(to) == nullptr) {
    return fail(Error::from_errno(
        19 /* ENODEV */, fmt::format("emu: enclosure \"{}\" has no slot {}", entry->name, to)));
  }
  if (view.slot(to)->sas_address != 0 || view.slot(to)->disk) {
    return fail(Error::from_errno(
        16 /* EBUSY */,
        fmt::format("emu: enclosure \"{}\": slot {} is not empty", entry->name, to)));
  }
  auto content = entry->state->pull(from);
  if (!content) {
    return fail(content.error());
  }
  if (content->disk) {
    if (auto removed = remove_lun(*content->disk); !removed) {
      return fail(removed.error());
    }
  }
  if (auto inserted = entry->state->insert(to, *content); !inserted) {
    return fail(inserted.error());
  }
  if (content->disk) {
    return insert_lun(*content->disk, insertion);
  }
  return {};
}

Result<std::uint32_t> Emulator::reconfigure_enclosure(const EnclosureRef& ref,
                                                      const EnclosureReconfiguration& change) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  auto removed = entry->state->reconfigure(change);
  if (!removed) {
    return fail(removed.error());
  }
  for (const auto& content : *removed) {
    if (content.disk) {
      if (auto ok = remove_lun(*content.disk); !ok) {
        return fail(ok.error());
      }
    }
  }
  return entry->state->view().generation;
}

Result<void> Emulator::remove_enclosure(const EnclosureRef& ref) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  for (const auto& lun : entry->luns) {
    if (auto ok = remove_lun(lun); !ok) {
      return fail(ok.error());
    }
  }
  return {};
}

Result<void> Emulator::insert_enclosure(const EnclosureRef& ref, Insertion insertion) {
  const auto* entry = m_enclosures->find(ref);
  if (entry == nullptr) {
    return fail(no_enclosure(ref));
  }
  for (const auto& lun : entry->luns) {
    if (auto ok = insert_lun(lun, insertion); !ok) {
      return fail(ok.error());
    }
  }
  return {};
}

}  // namespace ucam::emu
