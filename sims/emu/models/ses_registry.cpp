#include "sims/emu/models/ses_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

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
  auto registry = std::unique_ptr<EnclosureRegistry>(new EnclosureRegistry());
  const std::string_view source = scenario.source;

  // SES LUNs by enclosure name, in bus, target, LUN order (the scenario is sorted).
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
        }
      }
    }
  }

  std::set<std::pair<std::uint32_t, std::pair<std::uint32_t, std::uint64_t>>> used_disks;
  const auto key = [](const LunAddress& a) { return std::pair{a.bus, std::pair{a.target, a.lun}}; };

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
    const auto take_disk = [&](const LunAddress& disk, const std::string& path,
                               bool automatic) -> Result<std::optional<SlotContent>> {
      const LunSpec* spec = find_lun(scenario, disk);
      if (spec == nullptr) {
        if (automatic) {
          return std::optional<SlotContent>();
        }
        return fail(Error::invalid(
            fmt::format("{}: {}: the scenario has no {}", source, path, describe(disk))));
      }
      if (spec->type() != "disk") {
        if (automatic) {
          return std::optional<SlotContent>();
        }
        return fail(Error::invalid(fmt::format("{}: {}: {} is a \"{}\", not a disk", source, path,
                                               describe(disk), spec->type())));
      }
      if (!used_disks.insert(key(disk)).second) {
        return fail(Error::invalid(
            fmt::format("{}: {}: {} is already in a slot", source, path, describe(disk))));
      }
      return std::optional<SlotContent>(SlotContent{spec->sas_address, disk});
    };
    for (const auto& sub : config.subenclosures) {
      for (const auto& group : sub.groups) {
        if (!scsi::ses::is_slot_type(group.type)) {
          continue;
        }
        const std::size_t first = slots.size();
        slots.resize(first + group.count);
        if (group.auto_disks) {
          const std::uint32_t bus = group.auto_disks->bus.value_or(home_bus);
          if (bus >= scenario.buses.size()) {
            return fail(Error::invalid(
                fmt::format("{}: {}.bus: the scenario has no bus {}", source, group.path, bus)));
          }
          std::vector<std::uint32_t> targets;
          if (group.auto_disks->targets) {
            targets = *group.auto_disks->targets;
          } else {
            for (const auto& t : scenario.buses[bus].targets) {
              targets.push_back(t.id);
            }
          }
          std::size_t next = first;
          for (const auto id : targets) {
            const TargetSpec* target = scenario.buses[bus].find_target(id);
            if (target == nullptr) {
              return fail(Error::invalid(fmt::format("{}: {}.targets: bus {} has no target {}",
                                                     source, group.path, bus, id)));
            }
            for (const auto& lun : target->luns) {
              if (next == slots.size()) {
                break;
              }
              auto content = take_disk(LunAddress{bus, id, lun.lun}, group.path, true);
              if (!content) {
                return fail(content.error());
              }
              if (*content) {
                slots[next++] = **content;
              }
            }
          }
          continue;
        }
        for (std::size_t i = 0; i < group.disks.size() && i < group.count; ++i) {
          const SlotDeviceSpec& device = group.disks[i];
          const std::string path = json_path_join(group.path, json_path_index("disks", i));
          switch (device.kind) {
            case SlotDeviceSpec::Kind::Empty:
              break;
            case SlotDeviceSpec::Kind::SasAddress:
              slots[first + i].sas_address = device.sas_address;
              break;
            case SlotDeviceSpec::Kind::Lun: {
              auto content =
                  take_disk(LunAddress{device.bus.value_or(home_bus), device.target, device.lun},
                            path, false);
              if (!content) {
                return fail(content.error());
              }
              slots[first + i] = **content;
              break;
            }
          }
        }
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
