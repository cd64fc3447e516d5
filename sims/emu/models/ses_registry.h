// The emulated enclosures of a scenario (SES and SAF-TE), by name: built once with the
// Emulator, after its devices exist and before its buses are registered.
//
// Building an enclosure links it to the rest of the scenario, which a LUN's parser cannot see:
// the LUNs naming one SES enclosure become its enclosure service processes (LUNs that share a
// model, i.e. the ports of one logical unit, are one process), and slots referring to
// emulated disks get each disk's target-port SAS address, the one it reports in VPD 0x83.
//
// Threads: immutable once built; the enclosures it holds are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "sims/emu/model.h"
#include "sims/emu/models/ses_enclosure.h"
#include "sims/emu/models/ses_view.h"
#include "sims/emu/scenario.h"

namespace ucam::emu {

class EnclosureRegistry {
 public:
  struct Entry {
    std::string name;
    EnclosureView::Kind kind = EnclosureView::Kind::Ses;
    std::vector<LunAddress> luns;  // bus, target, LUN order
    std::shared_ptr<EnclosureState> state;
  };

  // The model of a scenario LUN (the emulator's), or nullptr.
  using ModelLookup = std::function<LunModel*(const LunAddress&)>;

  // Fails (EINVAL, naming the enclosure and the JSON path) on: an enclosure no LUN describes, or
  // that two LUNs describe differently; a slot naming a LUN that is not in the scenario or is
  // not a disk; a disk in two slots; two enclosures with one name.
  static Result<std::unique_ptr<EnclosureRegistry>> create(const Scenario& scenario,
                                                           const ModelLookup& model_of);

  const Entry* find(const EnclosureRef& ref) const;
  std::vector<std::string> names() const;
  // The enclosure and slot holding `disk`, if any.
  std::optional<std::pair<const Entry*, int>> slot_of(const LunAddress& disk) const;

 private:
  std::vector<Entry> m_entries;  // sorted by name
};

// The target-port SAS address a scenario LUN reports in VPD 0x83 (ENODEV if there is none).
Result<std::uint64_t> scenario_sas_address(const Scenario& scenario, const LunAddress& lun);

}  // namespace ucam::emu
