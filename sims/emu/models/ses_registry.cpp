#include "sims/emu/models/ses_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "sims/emu/models/safte.h"
#include "sims/emu/models/ses.h"

namespace ucam::emu {

namespace {

struct Member {
  LunAddress address;
  const LunSpec* spec = nullptr;
  const SesModelConfig* config = nullptr;
};

std::string describe(const LunAddress& a) {
  return fmt::format("bus {} target {} lun {}", a.bus, a.target, a.lun);
}

std::string derived_name(const LunAddress& a) {
  return fmt::format("{}:{}:{}", a.bus, a.target, a.lun);
}

const LunSpec* find_lun(const Scenario& scenario, const LunAddress& a) {
  if (a.bus >= scenario.buses.size()) {
    return nullptr;
  }
  const TargetSpec* target = scenario.buses[a.bus].find_target(a.target);
  return target != nullptr ? target->find_lun(a.lun) : nullptr;
}

using UsedDisks = std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>>;

// What `count` slots hold: the explicit list, or with `automatic` the disk LUNs of the listed
// targets in order. Each disk may sit in one slot only (`used`, across enclosures).
Result<std::vector<SlotContent>> resolve_slots(const Scenario& scenario, std::uint32_t home_bus,
                                               const std::vector<SlotDeviceSpec>& disks,
                                               const std::optional<AutoDisksSpec>& automatic,
                                               std::size_t count, const std::string& path,
                                               UsedDisks& used) {
  const std::string_view source = scenario.source;
  std::vector<SlotContent> slots(count);
  // A disk LUN for a slot; with `skip`, LUNs that are missing or not disks are passed over.
  const auto take = [&](const LunAddress& disk, const std::string& where,
                        bool skip) -> Result<std::optional<SlotContent>> {
    const LunSpec* spec = find_lun(scenario, disk);
    if (spec == nullptr || spec->type() != "disk") {
      if (skip) {
        return std::optional<SlotContent>();
      }
      if (spec == nullptr) {
        return fail(Error::invalid(
            fmt::format("{}: {}: the scenario has no {}", source, where, describe(disk))));
      }
      return fail(Error::invalid(fmt::format("{}: {}: {} is a \"{}\", not a disk", source, where,
                                             describe(disk), spec->type())));
    }
    if (!used.insert({disk.bus, disk.target, disk.lun}).second) {
      return fail(Error::invalid(
          fmt::format("{}: {}: {} is already in a slot", source, where, describe(disk))));
    }
    return std::optional<SlotContent>(SlotContent{spec->sas_address, disk});
  };

  if (automatic) {
    const std::uint32_t bus = automatic->bus.value_or(home_bus);
    if (bus >= scenario.buses.size()) {
      return fail(
          Error::invalid(fmt::format("{}: {}.bus: the scenario has no bus {}", source, path, bus)));
    }
    std::vector<std::uint32_t> targets;
    if (automatic->targets) {
      targets = *automatic->targets;
    } else {
      for (const auto& t : scenario.buses[bus].targets) {
        targets.push_back(t.id);
      }
    }
    std::size_t next = 0;
    for (const auto id : targets) {
      const TargetSpec* target = scenario.buses[bus].find_target(id);
      if (target == nullptr) {
        return fail(Error::invalid(
            fmt::format("{}: {}.targets: bus {} has no target {}", source, path, bus, id)));
      }
      for (const auto& lun : target->luns) {
        if (next == slots.size()) {
          break;
        }
        auto content = take(LunAddress{bus, id, lun.lun}, path, true);
        if (!content) {
          return fail(content.error());
        }
        if (*content) {
          slots[next++] = **content;
        }
      }
    }
    return slots;
  }
  for (std::size_t i = 0; i < disks.size() && i < count; ++i) {
    const SlotDeviceSpec& device = disks[i];
    switch (device.kind) {
      case SlotDeviceSpec::Kind::Empty:
        break;
      case SlotDeviceSpec::Kind::SasAddress:
        slots[i].sas_address = device.sas_address;
        break;
      case SlotDeviceSpec::Kind::Lun: {
        auto content = take(LunAddress{device.bus.value_or(home_bus), device.target, device.lun},
                            json_path_join(path, json_path_index("disks", i)), false);
        if (!content) {
          return fail(content.error());
        }
        slots[i] = **content;
        break;
      }
    }
  }
  return slots;
}

}  // namespace

Result<std::uint64_t> scenario_sas_address(const Scenario& scenario, const LunAddress& lun) {
  const LunSpec* spec = find_lun(scenario, lun);
  if (spec == nullptr) {
    return fail(Error::from_errno(19 /* ENODEV */,
                                  fmt::format("emu: the scenario has no {}", describe(lun))));
  }
  return spec->sas_address;
}

Result<std::unique_ptr<EnclosureRegistry>> EnclosureRegistry::create(const Scenario& scenario,
                                                                     const ModelLookup& model_of) {
  auto registry = std::make_unique<EnclosureRegistry>();
  const std::string_view source = scenario.source;

  UsedDisks used_disks;
  // SES LUNs by enclosure name, in bus, target, LUN order (the scenario is sorted); each SAF-TE
  // LUN is an enclosure of its own.
  std::map<std::string, std::vector<Member>> ses_groups;
  std::vector<std::string> ses_order;
  for (std::uint32_t b = 0; b < scenario.buses.size(); ++b) {
    for (const auto& target : scenario.buses[b].targets) {
      for (const auto& lun : target.luns) {
        const LunAddress address{b, target.id, lun.lun};
        if (const auto* config = lun.config_as<SesModelConfig>()) {
          const std::string name = config->name.value_or(derived_name(address));
          auto& members = ses_groups[name];
          if (members.empty()) {
            ses_order.push_back(name);
          }
          members.push_back(Member{address, &lun, config});
        } else if (const auto* safte = lun.config_as<SafteModelConfig>()) {
          auto* model = dynamic_cast<SafteModel*>(model_of(address));
          if (model == nullptr) {
            return fail(Error::invalid(fmt::format("{}: {}: no SAF-TE model for {}", source,
                                                   safte->path, describe(address))));
          }
          auto slots = resolve_slots(scenario, b, safte->slots.disks, safte->slots.auto_disks,
                                     safte->config.device_slots, safte->slots_path, used_disks);
          if (!slots) {
            return fail(slots.error());
          }
          model->enclosure()->attach({address}, std::move(*slots));
          Entry entry;
          entry.name = safte->name.value_or(derived_name(address));
          entry.kind = EnclosureView::Kind::Safte;
          entry.luns = {address};
          entry.state = model->enclosure();
          registry->m_entries.push_back(std::move(entry));
        }
      }
    }
  }

  for (const auto& name : ses_order) {
    const auto& members = ses_groups[name];
    const Member* describing = nullptr;
    for (const auto& m : members) {
      if (!m.config->describes_enclosure()) {
        continue;
      }
      if (describing != nullptr && describing->config != m.config) {
        return fail(Error::invalid(fmt::format(
            "{}: {}: enclosure \"{}\" is already described at {} ({}); its other LUNs name it "
            "with \"enclosure\" only",
            source, m.config->path, name, describing->config->path,
            describe(describing->address))));
      }
      if (describing == nullptr) {
        describing = &m;
      }
    }
    if (describing == nullptr) {
      return fail(Error::invalid(fmt::format(
          "{}: {}: no LUN describes enclosure \"{}\" (give \"elements\" or \"subenclosures\" on "
          "one of its LUNs)",
          source, members.front().config->path, name)));
    }
    const SesModelConfig& config = *describing->config;
    const std::uint32_t home_bus = describing->address.bus;

    // The content of every slot, in slot order.
    std::vector<SlotContent> slots;
    for (const auto& sub : config.subenclosures) {
      for (const auto& group : sub.groups) {
        if (!scsi::ses::is_slot_type(group.type)) {
          continue;
        }
        auto contents = resolve_slots(scenario, home_bus, group.disks, group.auto_disks,
                                      group.count, group.path, used_disks);
        if (!contents) {
          return fail(contents.error());
        }
        slots.insert(slots.end(), contents->begin(), contents->end());
      }
    }

    const LunSpec& spec = *describing->spec;
    auto enclosure = SesEnclosure::create(
        name, config, SesEnclosure::Identity{spec.vendor, spec.product, spec.revision, spec.naa},
        slots);
    if (!enclosure) {
      return fail(Error::invalid(
          fmt::format("{}: {}: {}", source, config.path, enclosure.error().message())));
    }

    // One enclosure service process per distinct model (LUNs sharing a model are the ports of
    // one logical unit).
    std::vector<LunModel*> processes;
    std::vector<std::uint64_t> process_addresses;
    Entry entry;
    entry.name = name;
    entry.kind = EnclosureView::Kind::Ses;
    for (const auto& m : members) {
      auto* model = dynamic_cast<SesModel*>(model_of(m.address));
      if (model == nullptr) {
        return fail(Error::invalid(fmt::format("{}: {}: no SES model for {}", source,
                                               m.config->path, describe(m.address))));
      }
      const auto it = std::find(processes.begin(), processes.end(), model);
      const auto process = static_cast<std::size_t>(it - processes.begin());
      if (it == processes.end()) {
        processes.push_back(model);
        process_addresses.push_back(m.spec->sas_address);
      }
      model->attach(*enclosure, process);
      entry.luns.push_back(m.address);
    }
    (*enclosure)->attach_processes(entry.luns, std::move(process_addresses));
    entry.state = std::move(*enclosure);
    registry->m_entries.push_back(std::move(entry));
  }

  std::sort(registry->m_entries.begin(), registry->m_entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < registry->m_entries.size(); ++i) {
    if (registry->m_entries[i].name == registry->m_entries[i - 1].name) {
      return fail(Error::invalid(fmt::format("{}: two enclosures are named \"{}\" ({} and {})",
                                             source, registry->m_entries[i].name,
                                             describe(registry->m_entries[i - 1].luns.front()),
                                             describe(registry->m_entries[i].luns.front()))));
    }
  }
  return registry;
}

const EnclosureRegistry::Entry* EnclosureRegistry::find(const EnclosureRef& ref) const {
  for (const auto& entry : m_entries) {
    if (const auto* name = ref.name(); name != nullptr && entry.name == *name) {
      return &entry;
    }
    if (const auto* lun = ref.lun();
        lun != nullptr &&
        std::find(entry.luns.begin(), entry.luns.end(), *lun) != entry.luns.end()) {
      return &entry;
    }
  }
  return nullptr;
}

std::vector<std::string> EnclosureRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& entry : m_entries) {
    names.push_back(entry.name);
  }
  return names;
}

std::optional<std::pair<const EnclosureRegistry::Entry*, int>> EnclosureRegistry::slot_of(
    const LunAddress& disk) const {
  for (const auto& entry : m_entries) {
    if (const auto slot = entry.state->slot_of(disk)) {
      return std::pair{&entry, *slot};
    }
  }
  return std::nullopt;
}

}  // namespace ucam::emu
