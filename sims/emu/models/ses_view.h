// Emulated enclosures as tests and tools see them: how the Emulator's enclosure methods name an
// enclosure and an element, and the state snapshot they return. Audience: users of
// Emulator (sims/emu/emu.h); the models themselves live in ses_enclosure.h and safte.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "scsi/ses.h"
#include "sims/emu/fault.h"

namespace ucam::emu {

// An enclosure, by its scenario name ("enclosure" key, or the derived "<bus>:<target>:<lun>"
// of an unnamed one) or by the scenario address of any of its SES / SAF-TE LUNs.
class EnclosureRef {
 public:
  EnclosureRef(std::string_view name) : m_ref(std::string(name)) {}  // NOLINT: implicit
  EnclosureRef(const char* name) : m_ref(std::string(name)) {}       // NOLINT: implicit
  EnclosureRef(const std::string& name) : m_ref(name) {}             // NOLINT: implicit
  EnclosureRef(const LunAddress& lun) : m_ref(lun) {}                // NOLINT: implicit

  const std::string* name() const { return std::get_if<std::string>(&m_ref); }
  const LunAddress* lun() const { return std::get_if<LunAddress>(&m_ref); }
  std::string describe() const;  // "\"jbod0\"" or "bus 0 target 9 lun 0"

 private:
  std::variant<std::string, LunAddress> m_ref;
};

// An element, as sg_ses --index=TYPE,N names it: its SES element type code and its index among
// the individual elements of that type in Configuration page order (across type descriptor
// headers and subenclosures), or kOverall for the overall element of the first header of that
// type.
struct EnclosureElement {
  static constexpr int kOverall = -1;
  std::uint8_t type = 0;
  int index = 0;

  static EnclosureElement of(scsi::ses::ElementType type, int index) {
    return {scsi::ses::type_value(type), index};
  }
  friend bool operator==(const EnclosureElement&, const EnclosureElement&) = default;
};

// What a slot holds when a disk is inserted: an emulated LUN of the scenario (its target-port
// SAS address appears in the slot and the LUN is inserted into the topology) or a bare SAS
// address (a device the emulator does not model).
struct SlotDevice {
  std::optional<LunAddress> lun;
  std::uint64_t sas_address = 0;

  static SlotDevice disk(const LunAddress& address) { return {address, 0}; }
  static SlotDevice address(std::uint64_t sas) { return {std::nullopt, sas}; }
};

// A configuration change (Emulator::reconfigure_enclosure): the generation code goes up by one
// and each listed type descriptor header (by its index in the Configuration page) gets a new
// POSSIBLE ELEMENTS count. Elements added start as the group's first element did (slots empty);
// disks in slots that disappear are pulled.
struct EnclosureReconfiguration {
  std::vector<std::pair<int, std::uint8_t>> element_counts;
};

// A snapshot of an enclosure's state, as its first ES process would report it.
struct EnclosureView {
  enum class Kind : std::uint8_t { Ses, Safte };
  struct Element {
    int global_index = 0;  // index in the Enclosure Status page (overall elements included)
    int type_header = 0;   // index of its type descriptor header
    int index = EnclosureElement::kOverall;  // index among individual elements of its type
    std::uint8_t type = 0;
    std::uint8_t subenclosure = 0;
    scsi::ses::ElementBytes status{};
    std::string descriptor;
    // (Array) Device Slot elements: the slot number (device slot number of page 0x0A), and
    // what the slot holds.
    std::optional<int> slot;
    std::uint64_t sas_address = 0;  // 0: empty
    std::optional<LunAddress> disk;
  };

  Kind kind = Kind::Ses;
  std::string name;
  std::vector<LunAddress> luns;  // the enclosure's SES or SAF-TE LUNs, ES process order
  std::uint32_t generation = 0;
  std::uint64_t logical_id = 0;          // primary subenclosure (0 for SAF-TE)
  std::uint8_t status_flags = 0;         // Enclosure Status header byte 1 (INVOP..UNRECOV)
  std::vector<Element> elements;         // Enclosure Status page order
  std::vector<std::uint8_t> string_out;  // the last String Out data (SES page 0x04)

  const Element* find(EnclosureElement element) const;
  const Element* slot(int slot) const;  // by slot number
  std::size_t slot_count() const;
};

}  // namespace ucam::emu
