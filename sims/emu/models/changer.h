// SMC-3 medium changer ("changer", peripheral type 08h): a tape library with pickers (medium
// transport elements), storage slots, import/export portals and drives (data transfer
// elements). Wire formats come from scsi/smc.h; this model keeps the inventory.
//
// Commands: TEST UNIT READY, MODE SENSE(6/10) pages 1Dh/1Eh/1Fh and 0Ah, READ ELEMENT STATUS
// (type filter, starting address, count, VOLTAG, DVCID, cut to the allocation length with the
// full byte count kept), MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT
// STATUS (and WITH RANGE). Scenario keys: docs/scenarios.md, "changer".
//
// Choices where SMC-3 leaves room:
//   - READ ELEMENT STATUS reports the elements of the type whose address is >= STARTING ELEMENT
//     ADDRESS, even when that address is not itself an element (paging continues at "last + 1");
//     21h/01h INVALID ELEMENT ADDRESS only when no element qualifies. NUMBER OF ELEMENTS 0
//     reports the header alone.
//   - Element addresses are checked first (21h/01h), then media: an empty source, or an empty
//     first destination of an EXCHANGE, is 3Bh/0Eh; a full destination is 3Bh/0Dh.
//   - SOURCE STORAGE ELEMENT ADDRESS: a medium leaving a storage element remembers that slot;
//     leaving any other element it keeps what it remembered (or, knowing nothing, that element).
//   - Door open (operator hook): TEST UNIT READY and every command that moves media end in
//     NOT READY, 04h/03h LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED; READ ELEMENT
//     STATUS still answers from the inventory. The UNIT ATTENTIONs that go with operator
//     actions are queued by the Emulator's hooks (emu.h, "Changers"), which own the LUN.
//
// Threads: execute() and the operator hooks from any thread; the inventory is guarded by m_lock.
// link_changer_drives() runs once while the emulator is built, before any command.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "scsi/smc.h"
#include "sims/emu/fault.h"
#include "sims/emu/model.h"
#include "sims/emu/models/mode_sense.h"

namespace ucam::emu {

enum class ChangerDoor : std::uint8_t { Closed, Open };

struct ChangerDriveConfig {
  // The emulated LUN this drive is (its NAA becomes the DVCID identifier), if any.
  std::optional<LunAddress> lun;
  // ASCII DVCID identifier (vendor specific designator) when no LUN is linked.
  std::string identifier;
};

struct ChangerConfig final : ModelConfig {
  std::uint16_t pickers = 1;
  std::uint16_t slots = 10;
  std::uint16_t portals = 0;
  std::vector<ChangerDriveConfig> drives;
  // First element address of each type.
  std::uint16_t picker_address = 0x0000;
  std::uint16_t portal_address = 0x0010;
  std::uint16_t drive_address = 0x0100;
  std::uint16_t slot_address = 0x1000;
  // Volume tags of the initially full slots and portals, by 0-based index.
  std::map<std::uint16_t, std::string> slot_media;
  std::map<std::uint16_t, std::string> portal_media;
};

Result<std::shared_ptr<const ModelConfig>> parse_changer_config(ObjectReader& lun);
std::unique_ptr<LunModel> create_changer(const LunSpec& spec);

// Generated volume tag of `full_slots` slot `index` (0-based): "UCAM001L6", "UCAM002L6"...
std::string generated_volume_tag(std::uint32_t index);

// Resolves the drives that name an emulated LUN (their DVCID identifier becomes that LUN's NAA
// designator, and the drive descriptor's bus fields its target and LUN). Fails (EINVAL) naming
// the changer when a drive names a LUN the scenario does not have.
Result<void> link_changer_drives(const Scenario& scenario,
                                 const std::function<LunModel*(const LunAddress&)>& model_of);

class ChangerModel final : public LunModel {
 public:
  struct Element {
    scsi::smc::ElementType type = scsi::smc::ElementType::Storage;
    std::uint16_t address = 0;
    bool full = false;
    bool impexp = false;  // Import/export: placed by the operator.
    bool invert = false;
    std::optional<std::uint16_t> source;
    std::string tag;                                        // Empty when no medium.
    std::optional<scsi::smc::DeviceIdentifier> identifier;  // Drives.
    std::optional<LunAddress> lun;                          // Drives linked to a LUN.
  };

  ChangerModel(const LunSpec& spec, const ChangerConfig& config);

  Dispatch execute(Command& command) override;
  void adjust_inquiry(scsi::StandardInquiry& inquiry) const override;

  // Operator hooks (any thread). import_medium places a medium in an empty portal (IMPEXP set);
  // export_medium takes the medium out of a portal. Both fail (EINVAL/EBUSY) on a bad index or
  // a full/empty portal. set_door: see the top of this file.
  Result<void> import_medium(std::uint16_t portal_index, const std::string& tag);
  Result<void> export_medium(std::uint16_t portal_index);
  void set_door(ChangerDoor door);

  // A copy of the inventory, ascending addresses.
  std::vector<Element> elements() const;
  std::size_t media_count() const;

  // Build time only (link_changer_drives): drive `drive_index` reports `naa` as its DVCID.
  void set_drive_identity(std::size_t drive_index, std::uint64_t naa);
  std::vector<ChangerDriveConfig> drive_configs() const { return m_drive_configs; }

 private:
  void read_element_status(Command& command) const;
  void move_medium(Command& command);
  void exchange_medium(Command& command);
  void position_to_element(Command& command);
  void initialize_element_status_with_range(Command& command);
  // Index in m_elements, or nullopt. Called with m_lock held or on immutable addresses.
  std::optional<std::size_t> find(std::uint16_t address) const;
  bool valid_transport(std::uint16_t address) const;
  // Moves the medium of `from` into empty `to`. Called with m_lock held.
  void transfer(Element& from, Element& to);

  scsi::smc::ElementAddressAssignment m_assignment;
  std::vector<ChangerDriveConfig> m_drive_configs;
  std::vector<std::uint8_t> m_address_page;
  std::vector<std::uint8_t> m_geometry_page;
  std::vector<std::uint8_t> m_capabilities_page;
  std::array<std::uint8_t, 12> m_control_page{};
  std::vector<std::uint8_t> m_address_changeable;
  std::vector<std::uint8_t> m_geometry_changeable;
  std::vector<std::uint8_t> m_capabilities_changeable;
  std::array<std::uint8_t, 12> m_control_changeable{};
  std::array<ModePageValues, 4> m_pages{};

  mutable std::mutex m_lock;
  // Sorted by address; the shape never changes, the contents do. Guarded by m_lock.
  std::vector<Element> m_elements;
  ChangerDoor m_door = ChangerDoor::Closed;  // Guarded by m_lock.
};

}  // namespace ucam::emu
