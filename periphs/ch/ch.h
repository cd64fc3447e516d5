// ch(4): the SCSI medium changer driver, through `chN` nodes.
//
// Attaches to medium changers (peripheral device type 08h, SMC-3). Like FreeBSD's ch it reads
// mode page 1Dh (element address assignment: first address and count of pickers, slots,
// portals and drives) and 1Fh (device capabilities: which moves and exchanges the changer
// allows) at attach and again at every open, and fails the attach or the open when it cannot.
// Elements are named chio-style by type and 0-based unit ("slot 12" = the 13th storage
// element), or by their raw 16-bit element address; the driver translates with page 1Dh.
//
// Opens: any number at once (FreeBSD's ch allows multiple opens). A read-only open may use
// ChGetParams, ChGetPicker, ChGetElementStatus and ChFindVolume; everything else needs a write open
// (EBADF otherwise, as CHIO's FWRITE check). The rest of the node lifecycle is
// periph::NodePeriphDriver's: each open holds one periph reference until its close; when the
// device departs, new opens fail with ENXIO, calls on an outstanding open fail with ENXIO and
// the open is revoked.
//
// Errors (all requests):
//   - ENODEV: a unit outside its type's count, or a raw address no element has (chio/FreeBSD).
//   - EINVAL: a request the changer's capabilities (page 1Fh) forbid, e.g. moving into a
//     picker, a bad element type, a picker unit out of range in ChSetPicker.
//   - EBADF: a changing request on a read-only open.
//   - Kind Sense (errno_value() EIO): the changer answered CHECK CONDITION; the message is the
//     decoded sense, so a move from an empty slot reads "... Medium source element empty" and one
//     into a full slot "... Medium destination element full"; error.sense() has key/ASC/ASCQ. We
//     keep the sense rather than collapse ILLEGAL REQUEST into EINVAL (FreeBSD's
//     cam_periph_error does): a caller can tell a bad argument (EINVAL above, nothing sent) from
//     a refusal by the changer.
//   - ENXIO once the device is gone; ReqAborted (EINTR) when `cancel` aborted the command; else
//     the CAM status.
// Every request that sends a command takes a `cancel` token another thread may use to abort
// it (ucamd does when its client goes away) and a `timeout` (0: the driver's default, FreeBSD's
// values: 15 minutes for motion, 5 minutes per READ ELEMENT STATUS, 500 s for INITIALIZE).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cam/cancel.h"
#include "periphs/node/node_periph.h"
#include "scsi/smc.h"

namespace ucam::ch {

using scsi::smc::ElementType;

// An element: chio's (type, unit), or a raw element address when type is ElementType::All.
struct ChElement {
  ElementType type = ElementType::All;
  std::uint16_t unit = 0;  // With ElementType::All: the element address.

  static ChElement at(ElementType type, std::uint16_t unit) { return {type, unit}; }
  static ChElement address(std::uint16_t address) { return {ElementType::All, address}; }
  friend bool operator==(const ChElement&, const ChElement&) = default;
};

// Where an element address lies, from page 1Dh.
struct ChLocation {
  ElementType type = ElementType::Storage;
  std::uint16_t unit = 0;
  std::uint16_t address = 0;
  friend bool operator==(const ChLocation&, const ChLocation&) = default;
};

// CHIOMOVE: MOVE MEDIUM from -> to with the current picker.
struct ChMove : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6301;
  ChMove() : Ioctl(kCode) {}
  ChElement from, to;
  scsi::smc::Invert invert = scsi::smc::Invert::No;
  std::chrono::milliseconds timeout{0};
  cam::CancelToken* cancel = nullptr;
};

// CHIOEXCHANGE: EXCHANGE MEDIUM: source -> first, first's medium -> second (default: source).
struct ChExchange : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6302;
  ChExchange() : Ioctl(kCode) {}
  ChElement source, first;
  std::optional<ChElement> second;
  scsi::smc::Invert invert1 = scsi::smc::Invert::No;
  scsi::smc::Invert invert2 = scsi::smc::Invert::No;
  std::chrono::milliseconds timeout{0};
  cam::CancelToken* cancel = nullptr;
};

// CHIOPOSITION: POSITION TO ELEMENT with the current picker.
struct ChPosition : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6303;
  ChPosition() : Ioctl(kCode) {}
  ChElement to;
  scsi::smc::Invert invert = scsi::smc::Invert::No;
  std::chrono::milliseconds timeout{0};
  cam::CancelToken* cancel = nullptr;
};

// CHIOGPICKER / CHIOSPICKER: the picker (0-based unit) moves use. SetPicker: EINVAL for a unit
// at or above the picker count (FreeBSD does not reject negative values; a u16 cannot be).
struct ChGetPicker : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6304;
  ChGetPicker() : Ioctl(kCode) {}
  std::uint16_t unit = 0;  // Out.
};
struct ChSetPicker : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6305;
  ChSetPicker() : Ioctl(kCode) {}
  std::uint16_t unit = 0;  // In.
};

// CHIOGPARAMS, from the pages read at the last open (no command is sent).
struct ChGetParams : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6306;
  ChGetParams() : Ioctl(kCode) {}
  scsi::smc::ElementAddressAssignment assignment;  // Counts and first addresses.
  scsi::smc::DeviceCapabilities capabilities;
  std::uint16_t picker = 0;  // Current picker unit.
  std::uint16_t count(ElementType type) const { return assignment.range(type).count; }
};

// CHIOIELEM: INITIALIZE ELEMENT STATUS; with `range`, INITIALIZE ELEMENT STATUS WITH RANGE of
// `count` elements from `range` (which must be an element).
struct ChInitElementStatus : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6307;
  ChInitElementStatus() : Ioctl(kCode) {}
  std::optional<ChElement> range;
  std::uint16_t count = 1;
  scsi::smc::ScanMode scan = scsi::smc::ScanMode::Full;
  std::chrono::milliseconds timeout{0};
  cam::CancelToken* cancel = nullptr;
};

// One element as ChGetElementStatus reports it.
struct ChElementStatus {
  ChLocation element;  // unit 0xFFFF: the address is in no range of page 1Dh.
  bool full = false, impexp = false, except = false, access = false, exenab = false, inenab = false;
  std::uint8_t asc = 0, ascq = 0;    // Why EXCEPT is set.
  std::optional<ChLocation> source;  // SVALID: where the medium came from.
  bool invert = false;
  std::uint8_t medium_type = 0;                                    // scsi::smc::MediumType.
  std::optional<scsi::smc::VolumeTag> primary_tag, alternate_tag;  // With voltags.
  std::optional<scsi::smc::DeviceIdentifier> identifier;           // Drives, with dvcid.
  // The periph names ("pass3", "sa0", ...) of the device whose VPD page 83h holds `identifier`
  // (FreeBSD's scsi_devid_match rule: same designator type and bytes). Empty when none does.
  std::vector<std::string> devices;
};

// CHIOGSTATUS: READ ELEMENT STATUS of one type (or every type, in picker, slot, portal, drive
// order), paged: each READ ELEMENT STATUS has an allocation length of at most `allocation`
// (default kStatusAllocation) bytes and the next one continues after the last element decoded
// (scsi::smc::next_element_status_request), so a library of any size is read with bounded
// buffers. `first`/`count` select units of a single type (count 0: to the end); ENODEV when
// `first` is past the type's count. DVCID is sent with CURDATA as FreeBSD does; a changer that
// rejects it (ILLEGAL REQUEST) is asked again without, and not asked again until the next attach.
inline constexpr std::uint32_t kStatusAllocation = 64 * 1024;
struct ChGetElementStatus : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6308;
  ChGetElementStatus() : Ioctl(kCode) {}
  // In.
  ElementType type = ElementType::All;
  std::uint16_t first = 0;
  std::uint16_t count = 0;
  bool voltags = true;
  bool dvcid = true;
  // The allocation length of each READ ELEMENT STATUS, clamped to [1 KiB, 24 bits].
  std::uint32_t allocation = kStatusAllocation;
  std::chrono::milliseconds timeout{0};
  cam::CancelToken* cancel = nullptr;
  // Out.
  std::vector<ChElementStatus> elements;
  std::uint32_t reads = 0;  // READ ELEMENT STATUS commands sent (paging).
};

// Which volume tag of a medium a request names (SMC-3 primary = the barcode label).
enum class ChVolTag : std::uint8_t { Primary, Alternate };
// CHIOSETVOLTAG's operations: SEND VOLUME TAG assert (only when the element's tag is
// undefined: FreeBSD's default), replace (chio -f) or undefine (chio -c).
enum class ChVolTagAction : std::uint8_t { Assert, Replace, Clear };

// CHIOSETVOLTAG: SEND VOLUME TAG on one full element. `tag`: 1-32 printable ASCII characters
// without the wildcards '*' and '?' (EINVAL, nothing sent), ignored by Clear; `sequence` is the
// VOLUME SEQUENCE NUMBER stored with it. The changer's refusals come back as Sense errors (an
// assert on a tagged element, an empty element...). Needs a write open.
struct ChSetVolTag : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x6309;
  ChSetVolTag() : Ioctl(kCode) {}
  ChElement element;
  ChVolTag which = ChVolTag::Primary;
  ChVolTagAction action = ChVolTagAction::Assert;
  std::string tag;
  std::uint16_t sequence = 0;
  std::chrono::milliseconds timeout{0};
  cam::CancelToken* cancel = nullptr;
};

// A volume search: SEND VOLUME TAG translate (primary or alternate tags) with `pattern` ('?'
// matches one character, '*' any rest; 1-32 printable ASCII characters, EINVAL otherwise) over
// the elements of `type` (All: every element), then REQUEST VOLUME ELEMENT ADDRESS, paged like
// ChGetElementStatus (DVCID too, so matching drives carry their identifier and devices), for
// the matching elements with their volume tags. A read-only open may
// search: the translate changes no medium (its result is the changer's scratch state, which
// another initiator's translate may replace between the two commands).
struct ChFindVolume : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x630a;
  ChFindVolume() : Ioctl(kCode) {}
  // In.
  std::string pattern;
  ChVolTag which = ChVolTag::Primary;
  ElementType type = ElementType::All;
  std::uint32_t allocation = kStatusAllocation;  // Per REQUEST VOLUME ELEMENT ADDRESS.
  std::chrono::milliseconds timeout{0};
  cam::CancelToken* cancel = nullptr;
  // Out: ascending addresses.
  std::vector<ChElementStatus> elements;
  std::uint32_t reads = 0;  // REQUEST VOLUME ELEMENT ADDRESS commands sent.
};

struct ChSoftc : periph::NodeSoftc {
  // Guarded by lock.
  scsi::smc::ElementAddressAssignment assignment;
  scsi::smc::DeviceCapabilities capabilities;
  std::uint16_t picker = 0;  // Unit.
  bool no_dbd = false;       // MODE SENSE with DBD refused once (FreeBSD's CH_Q_NO_DBD).
  bool no_dvcid = false;     // READ ELEMENT STATUS with DVCID refused once (CH_Q_NO_DVCID).
};

class ChDriver final : public periph::NodePeriphDriver {
 public:
  // `devfs` must outlast the driver and every node it creates.
  explicit ChDriver(devfs::Devfs& devfs) : NodePeriphDriver(devfs) {}

  std::string_view name() const override { return "ch"; }
  // Peripheral device type 08h.
  bool matches(const cam::DeviceInfo& device) const override;
  // Reads pages 1Dh and 1Fh, then creates the node. Fails (no node) when they cannot be read.
  Result<void> attach(cam::Periph& periph) override;
  // NodePeriphDriver's open, then re-reads pages 1Dh and 1Fh (chgetparams); a failure undoes
  // the open. Blocks.
  Result<void> open(devfs::Node& node, devfs::OpenFile& file) override;
  // The requests above. Blocks (runs commands); never from a completion callback. Any thread;
  // concurrent requests are allowed (the changer serializes motion).
  Result<void> ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) override;

 protected:
  std::unique_ptr<periph::NodeSoftc> make_softc(cam::Periph& periph) override;
  // Read-only opens are allowed (see the top of this file).
  Result<void> check_open_mode(const cam::Periph& periph, const devfs::OpenFile& file) override;
};

}  // namespace ucam::ch
