// SMC-3 medium changer ("changer", peripheral type 08h): a tape library with pickers (medium
// transport elements), storage slots, import/export portals and drives (data transfer
// elements). Wire formats come from scsi/smc.h; this model keeps the inventory.
//
// Commands: TEST UNIT READY, MODE SENSE(6/10) pages 1Dh/1Eh/1Fh and 0Ah, READ ELEMENT STATUS
// (type filter, starting address, count, VOLTAG, DVCID, cut to the allocation length with the
// full byte count kept), MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT
// STATUS (and WITH RANGE), SEND VOLUME TAG, REQUEST VOLUME ELEMENT ADDRESS. Scenario keys:
// docs/scenarios.md, "changer".
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
//   - Volume tags: each medium carries a primary tag (its barcode label) and, when the scenario
//     sets "alternate_tags", an alternate tag (none at first), with sequence numbers; READ
//     ELEMENT STATUS with VOLTAG then reports both (PVOLTAG and AVOLTAG set), blank when
//     undefined. Without "alternate_tags" pages carry PVOLTAG only and the alternate actions of
//     SEND VOLUME TAG are 24h/00h INVALID FIELD IN CDB (byte 5), as on libraries without them.
//     The tags travel with the medium.
//   - SEND VOLUME TAG (SMC-3 action codes): 05h/06h translate the primary/alternate tags of
//     the elements of the CDB's type at or above ELEMENT ADDRESS against the template ('?' one
//     character, '*' any rest; the template's characters after '*' are ignored; sequence
//     numbers are ignored, as SMC-3's two translate codes say), keeping the matches for REQUEST
//     VOLUME ELEMENT ADDRESS (one result per LU, not per I_T nexus); 08h/09h assert a tag on a
//     full element that has none, 0Ah/0Bh replace it, 0Ch/0Dh undefine it (the parameter list
//     may then be empty). Assert/replace store MINIMUM VOLUME SEQUENCE NUMBER as the tag's
//     sequence number. Errors: an element address that is no element 21h/01h; an empty
//     element 3Bh/0Eh MEDIUM SOURCE ELEMENT EMPTY; assert on a defined tag 2Ch/00h COMMAND
//     SEQUENCE ERROR (undefine or replace it); a template with '*' or '?', or empty, for
//     assert/replace 26h/00h INVALID FIELD IN PARAMETER LIST; a parameter list shorter than 40
//     bytes 1Ah/00h PARAMETER LIST LENGTH ERROR. The door does not matter (no motion).
//   - REQUEST VOLUME ELEMENT ADDRESS reports the last translate's matches whose address is >=
//     ELEMENT ADDRESS and whose type matches the CDB, at most NUMBER OF ELEMENTS, in the element
//     status format with the translate's action code in the header; before any translate it is
//     2Ch/00h COMMAND SEQUENCE ERROR.
//   - Drives linked to an emulated tape LUN (sims/emu/models/tape.h) share its medium: a move
//     into the drive loads the tape LUN, a move out empties it, and the move is refused with
//     53h/03h while the tape LUN has PREVENT set. A tape LUN with a cartridge at power on makes
//     its drive element full with that volume tag.
//   - Faults (operator hooks below): a picker jam makes the next MOVE or EXCHANGE fail with
//     HARDWARE ERROR 3Bh/16h MECHANICAL POSITIONING OR CHANGER ERROR, leaving the source's medium
//     in the picker, which READ ELEMENT STATUS shows full with EXCEPT set and that ASC/ASCQ.
//     Until it is cleared every MOVE, EXCHANGE and POSITION TO ELEMENT fails the same way.
//     INITIALIZE ELEMENT STATUS (either form) or clear_faults() clears EXCEPT; the medium stays
//     in the picker (a MOVE from the picker puts it away). An unreadable label makes the
//     medium's primary tag unknown: READ ELEMENT STATUS reports the element full with a blank
//     (all spaces = undefined, SMC-3) primary volume tag, translates do not find it and an
//     assert may define it (which also makes it known). clear_faults() makes labels readable.
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
  bool alternate_tags = false;  // Alternate volume tags supported (AVOLTAG).
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

class TapeModel;

class ChangerModel final : public LunModel {
 public:
  struct Element {
    scsi::smc::ElementType type = scsi::smc::ElementType::Storage;
    std::uint16_t address = 0;
    bool full = false;
    bool impexp = false;  // Import/export: placed by the operator.
    bool invert = false;
    std::optional<std::uint16_t> source;
    std::string tag;  // Primary volume tag (barcode); empty when no medium or undefined.
    std::uint16_t tag_sequence = 0;
    std::string alternate_tag;  // Empty when undefined.
    std::uint16_t alternate_sequence = 0;
    bool label_unreadable = false;  // The medium's label cannot be read (fault).
    bool except = false;            // Abnormal state (a jammed picker), see asc/ascq.
    std::uint8_t asc = 0;
    std::uint8_t ascq = 0;
    TapeModel* tape = nullptr;  // The emulated tape LUN of a linked drive (outlives this).
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
  // Faults: arm_picker_jam() makes the next MOVE/EXCHANGE jam (see the top of this file).
  // set_label_unreadable() on a full element (EINVAL on no element or an empty one).
  // clear_faults() disarms a pending jam, clears EXCEPT on the pickers and makes every label
  // readable again.
  void arm_picker_jam();
  Result<void> set_label_unreadable(std::uint16_t address);
  void clear_faults();

  // A copy of the inventory, ascending addresses.
  std::vector<Element> elements() const;
  std::size_t media_count() const;

  // Build time only (link_changer_drives): drive `drive_index` reports `naa` as its DVCID.
  void set_drive_identity(std::size_t drive_index, std::uint64_t naa);
  // Build time only (link_changer_drives): drive `drive_index` is the emulated tape `tape`,
  // which must outlive the changer; a cartridge already in it shows in the drive element.
  void link_drive_tape(std::size_t drive_index, TapeModel& tape);
  std::vector<ChangerDriveConfig> drive_configs() const { return m_drive_configs; }

 private:
  void read_element_status(Command& command) const;
  void move_medium(Command& command);
  void exchange_medium(Command& command);
  void position_to_element(Command& command);
  void initialize_element_status_with_range(Command& command);
  void send_volume_tag(Command& command);
  void request_volume_element_address(Command& command);
  // The descriptor READ ELEMENT STATUS / REQUEST VOLUME ELEMENT ADDRESS report for `e`.
  static scsi::smc::ElementDescriptor describe(const Element& e, bool voltag, bool alternate,
                                               bool dvcid);
  // Builds element status data of the elements at `indexes`. Called with m_lock held.
  scsi::smc::ElementStatusData report(const std::vector<std::size_t>& indexes, bool voltag,
                                      bool dvcid) const;
  // With m_lock held: the sense refusing a move now (a jammed picker), or nullopt.
  std::optional<SenseCode> jammed() const;
  // With m_lock held: the medium of `e` may leave (its linked tape does not prevent removal).
  std::optional<SenseCode> removal_refused(const Element& e) const;
  // With m_lock held: the armed jam strikes; the medium of `from` ends in the picker.
  void jam(Element& from, std::uint16_t transport);
  // With m_lock held: a linked tape follows its drive element's new contents.
  static void sync_tape(Element& e);
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
  bool m_alternate_tags = false;             // Immutable.
  ChangerDoor m_door = ChangerDoor::Closed;  // Guarded by m_lock.
  bool m_jam_armed = false;                  // Guarded by m_lock.
  struct Translation {
    std::uint8_t action = 0;
    std::vector<std::uint16_t> addresses;  // Ascending.
  };
  std::optional<Translation> m_translation;  // Guarded by m_lock.
};

}  // namespace ucam::emu
