// SCSI Media Changer Commands (SMC-3, T10/1730-D): the pure wire formats.
//
// What lives here: element types and their names, the CDBs of the changer commands (builders
// for the initiator side, decoders for the emulated changer), READ ELEMENT STATUS data and the
// REQUEST VOLUME ELEMENT ADDRESS reply (decoder, encoder, paging helper), the SEND VOLUME TAG
// parameter list, and the three changer mode pages 1Dh, 1Eh and 1Fh (on top of mode.h's
// ModePage). The driver (periphs/ch) and the emulated changer both build on these types, so
// every decoder has an encoder and the two round-trip.
//
// Pure: no I/O, no JSON (rendering belongs to cli/). Decoders never read past the span they
// are given; bad or inconsistent data is an `Error` (EINVAL) whose message names the field,
// the element address or byte offset, and the values that disagree.
//
// Liberal decoding. Real changers are sloppy in known ways; these are accepted. The first three
// change how a report is read and are recorded in `ElementStatusData::warnings` (the byte
// count, the identifier cut, the short last descriptor); the others lose nothing and are not
// reported:
//   - A BYTE COUNT OF REPORT AVAILABLE that counts the 8-byte header too, or that was cut to
//     the allocation length: when every element of NUMBER OF ELEMENTS AVAILABLE was decoded the
//     report is complete whatever the byte count says; when fewer were decoded from a buffer
//     that holds the whole byte count, the report is treated as truncated (so paging goes on).
//   - An IDENTIFIER LENGTH that runs past the descriptor: the identifier is cut at the
//     descriptor's end.
//   - A transfer that stops short of the report's own byte count inside the descriptor of its
//     last element, after that descriptor's fixed fields and volume identifiers, when the
//     allocation length was not what cut it (DataEnd::EndedByDevice): the descriptor is taken,
//     its missing bytes (volume tag sequence numbers, vendor bytes) as zeros, a device
//     identifier not wholly received left out, and the report as complete. tgt 1.0.85 does this to
//     every report: its transfer length leaves out the 8-byte page header, so the last descriptor
//     arrives with 44 of its 52 bytes.
//   - A DVCID request the device ignored (descriptors too short for the identifier header):
//     no identifier, no error.
//   - Bytes of a descriptor past the fields (vendor data, padding, an identifier area padded to
//     a fixed size): kept in `vendor_specific`, trailing zero bytes dropped.
//   - Mode pages 1Dh/1Fh with a PAGE LENGTH shorter than SMC-3's 12h, as long as the fields
//     that carry information (through the last count or matrix byte) are there; longer pages
//     (vendor additions) have their extra bytes ignored.
//   - Volume tags padded with NULs instead of spaces; flag bits that SMC-3 reserves for the
//     element type (ACCESS of a medium transport element, ...) are decoded as they are.
// Strict (errors): data shorter than a header; an element type code other than 1-4 in a page
// header; a descriptor length of 0 with descriptor data, or smaller than the fixed 12 bytes
// plus the volume tags the page announces; a page byte count that is not a multiple of the
// descriptor length or runs past the report byte count; more descriptors than NUMBER OF
// ELEMENTS AVAILABLE; a page header cut inside a report whose byte count says it is complete.
//
// Addresses: element addresses are the device's 16-bit addresses throughout. Converting to
// chio's (type, 0-based unit) pairs goes through ElementAddressAssignment (mode page 1Dh).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/cdb.h"
#include "scsi/mode.h"

namespace ucam::scsi::smc {

// ---- Element types ------------------------------------------------------------------------------

// SMC-3 READ ELEMENT STATUS, ELEMENT TYPE CODE. 0 (all types) is a request value only; pages carry
// 1-4.
enum class ElementType : std::uint8_t {
  All = 0,
  MediumTransport = 1,  // picker
  Storage = 2,          // slot
  ImportExport = 3,     // portal / mail slot
  DataTransfer = 4,     // drive
};
inline constexpr std::array<ElementType, 4> kElementTypes = {
    ElementType::MediumTransport, ElementType::Storage, ElementType::ImportExport,
    ElementType::DataTransfer};
inline constexpr std::uint8_t type_value(ElementType type) {
  return static_cast<std::uint8_t>(type);
}
// Codes 1-4 (a type an element can have).
inline constexpr bool is_element_type(std::uint8_t code) {
  return code >= 1 && code <= 4;
}
// 0-3 for MT, ST, IE, DT: FreeBSD's CHET_* values and the bit of a type in mode page 1Fh's
// matrices. Only meaningful for the four element types.
inline constexpr unsigned type_index(ElementType type) {
  return static_cast<unsigned>(type) - 1U;
}
// "picker", "storage", "portal", "drive", "all"; other codes give "<type 0xNN>".
std::string element_type_name(std::uint8_t code);
inline std::string element_type_name(ElementType type) {
  return element_type_name(type_value(type));
}
// SMC-3's terms: "medium transport", "storage", "import/export", "data transfer", "all";
// other codes give "<type 0xNN>".
std::string element_type_spec_name(std::uint8_t code);
// Accepts the names above and chio(1)'s ("picker", "slot", "portal", "drive") and the short
// forms "mt", "st", "ie", "dt" (lower case, exact). "all" gives ElementType::All.
std::optional<ElementType> element_type_from_name(std::string_view name);

// SMC-3 element descriptor byte 9 bits 2:0 MEDIUM TYPE.
enum class MediumType : std::uint8_t {
  Unspecified = 0,
  Data = 1,
  Cleaning = 2,
  Diagnostic = 3,
  Worm = 4,
  Microcode = 5,  // microcode image medium
};
// "unspecified", "data", "cleaning", "diagnostic", "WORM", "microcode"; 6-7 "<medium 0xN>".
std::string medium_type_name(std::uint8_t code);

// ---- CDBs ---------------------------------------------------------------------------------------
//
// One request struct per command, shared by the builder (initiator) and the decoder (emulated
// changer). Decoders fail like cdb.h's: ILLEGAL REQUEST / INVALID FIELD IN CDB with a context
// "<COMMAND> CDB byte N[ bit M]: ..." (see cdb_field_pointer), or INVALID COMMAND OPERATION
// CODE for another command. Reserved bits and the obsolete SCSI-2 LUN bits are not checked.

enum class VolumeTags : std::uint8_t { Exclude, Include };    // VOLTAG bit
enum class Dvcid : std::uint8_t { NotRequested, Requested };  // DVCID bit (device identifiers)
// CURDATA bit: NoMotion asks for the status the changer has without moving anything (SMC-3).
// FreeBSD's ch sends DVCID and CURDATA together and drops both if the changer rejects them.
enum class CurrentData : std::uint8_t { MotionAllowed, NoMotion };
enum class Invert : std::uint8_t { No, Yes };  // rotate the medium before placing it
// INITIALIZE ELEMENT STATUS WITH RANGE: FAST bit (only check for the presence of media, the
// quickest way) and RANGE bit (only the given addresses, otherwise all elements).
enum class ScanMode : std::uint8_t { Full, Fast };
enum class ElementRangeSelect : std::uint8_t { AllElements, Range };

// SMC-3 READ ELEMENT STATUS (0xB8, 12 bytes).
struct ReadElementStatusRequest {
  ElementType type = ElementType::All;  // byte 1 bits 3:0
  VolumeTags voltag = VolumeTags::Exclude;
  std::uint16_t starting_address = 0;
  std::uint16_t number_of_elements = 0;
  CurrentData curdata = CurrentData::MotionAllowed;
  Dvcid dvcid = Dvcid::NotRequested;
  std::uint32_t allocation_length = 0;  // 24 bits
  friend bool operator==(const ReadElementStatusRequest&,
                         const ReadElementStatusRequest&) = default;
};
// Fails: allocation length above 24 bits, an element type code above 4.
Result<Cdb> read_element_status(const ReadElementStatusRequest& request);
// Fails: element type codes 5-15 (byte 1).
Result<ReadElementStatusRequest> parse_read_element_status_cdb(Bytes cdb);

// SMC-3 MOVE MEDIUM (0xA5, 12 bytes).
struct MoveMediumRequest {
  std::uint16_t transport = 0;  // MEDIUM TRANSPORT ADDRESS (0: the device picks)
  std::uint16_t source = 0;
  std::uint16_t destination = 0;
  Invert invert = Invert::No;
  friend bool operator==(const MoveMediumRequest&, const MoveMediumRequest&) = default;
};
Cdb move_medium(const MoveMediumRequest& request);
Result<MoveMediumRequest> parse_move_medium_cdb(Bytes cdb);

// SMC-3 EXCHANGE MEDIUM (0xA6, 12 bytes): source -> first destination, and the medium of
// the first destination -> second destination (which may be the source).
struct ExchangeMediumRequest {
  std::uint16_t transport = 0;
  std::uint16_t source = 0;
  std::uint16_t first_destination = 0;
  std::uint16_t second_destination = 0;
  Invert invert1 = Invert::No;  // byte 10 bit 0
  Invert invert2 = Invert::No;  // byte 10 bit 1
  friend bool operator==(const ExchangeMediumRequest&, const ExchangeMediumRequest&) = default;
};
Cdb exchange_medium(const ExchangeMediumRequest& request);
Result<ExchangeMediumRequest> parse_exchange_medium_cdb(Bytes cdb);

// SMC-3 POSITION TO ELEMENT (0x2B, 10 bytes).
struct PositionToElementRequest {
  std::uint16_t transport = 0;
  std::uint16_t destination = 0;
  Invert invert = Invert::No;  // byte 8 bit 0
  friend bool operator==(const PositionToElementRequest&,
                         const PositionToElementRequest&) = default;
};
Cdb position_to_element(const PositionToElementRequest& request);
Result<PositionToElementRequest> parse_position_to_element_cdb(Bytes cdb);

// SMC-3 INITIALIZE ELEMENT STATUS (0x07, 6 bytes, no fields). FreeBSD gives it 500 s when
// the caller names no timeout: it may scan every slot.
Cdb initialize_element_status();
Result<void> parse_initialize_element_status_cdb(Bytes cdb);

// SMC-3 INITIALIZE ELEMENT STATUS WITH RANGE (0x37, 10 bytes).
struct InitializeElementStatusWithRangeRequest {
  ScanMode scan = ScanMode::Full;                              // byte 1 bit 1 FAST
  ElementRangeSelect range = ElementRangeSelect::AllElements;  // byte 1 bit 0 RANGE
  std::uint16_t starting_address = 0;                          // with Range only
  std::uint16_t number_of_elements = 0;                        // bytes 6-7
  friend bool operator==(const InitializeElementStatusWithRangeRequest&,
                         const InitializeElementStatusWithRangeRequest&) = default;
};
Cdb initialize_element_status_with_range(const InitializeElementStatusWithRangeRequest& request);
Result<InitializeElementStatusWithRangeRequest> parse_initialize_element_status_with_range_cdb(
    Bytes cdb);

// SMC-3 SEND VOLUME TAG, ACTION CODE (byte 5 bits 4:0). Other values are reserved.
enum class SendVolumeTagAction : std::uint8_t {
  TranslatePrimary = 0x05,    // search the primary tags with a template (REQUEST VOLUME
  TranslateAlternate = 0x06,  // ELEMENT ADDRESS reads the result)
  AssertPrimary = 0x08,       // set the tag of an element that has none
  AssertAlternate = 0x09,
  ReplacePrimary = 0x0a,  // set the tag, overwriting
  ReplaceAlternate = 0x0b,
  UndefinePrimary = 0x0c,  // clear the tag
  UndefineAlternate = 0x0d,
};
// Whether `code` is one of the values above.
bool is_send_volume_tag_action(std::uint8_t code);

inline constexpr std::size_t kSendVolumeTagParametersLength = 40;

// SMC-3 SEND VOLUME TAG (0xB6, 12 bytes).
struct SendVolumeTagRequest {
  ElementType type = ElementType::All;  // byte 1 bits 3:0
  std::uint16_t element_address = 0;    // the element (assert/replace/undefine) or the lowest
                                        // address searched (translate)
  SendVolumeTagAction action = SendVolumeTagAction::TranslatePrimary;
  std::uint16_t parameter_list_length = kSendVolumeTagParametersLength;
  friend bool operator==(const SendVolumeTagRequest&, const SendVolumeTagRequest&) = default;
};
// Fails: an element type code above 4.
Result<Cdb> send_volume_tag(const SendVolumeTagRequest& request);
// Fails: element type codes 5-15 (byte 1), a reserved action code (byte 5).
Result<SendVolumeTagRequest> parse_send_volume_tag_cdb(Bytes cdb);

// SMC-3 REQUEST VOLUME ELEMENT ADDRESS (0xB5, 12 bytes): the result of a translate.
struct RequestVolumeElementAddressRequest {
  ElementType type = ElementType::All;
  VolumeTags voltag = VolumeTags::Exclude;
  std::uint16_t element_address = 0;
  std::uint16_t number_of_elements = 0;
  Dvcid dvcid = Dvcid::NotRequested;
  std::uint32_t allocation_length = 0;  // 24 bits
  friend bool operator==(const RequestVolumeElementAddressRequest&,
                         const RequestVolumeElementAddressRequest&) = default;
};
// Fails: allocation length above 24 bits, an element type code above 4.
Result<Cdb> request_volume_element_address(const RequestVolumeElementAddressRequest& request);
Result<RequestVolumeElementAddressRequest> parse_request_volume_element_address_cdb(Bytes cdb);

// The SMC name of a changer command's operation code ("MOVE MEDIUM", "SEND VOLUME TAG", ...),
// resolving codes that other device types use for other commands (0x37 is also SBC's READ
// DEFECT DATA(10), 0xB5 SPC's SECURITY PROTOCOL OUT); other codes give opcode_name().
std::string_view smc_command_name(std::uint8_t opcode);

// ---- READ ELEMENT STATUS data (SMC-3 element status data) ---------------------------------------

inline constexpr std::size_t kElementStatusHeaderLength = 8;
inline constexpr std::size_t kElementStatusPageHeaderLength = 8;
inline constexpr std::size_t kElementDescriptorFixedLength = 12;  // bytes 0-11
inline constexpr std::size_t kVolumeTagLength = 36;               // 32 + 2 reserved + 2
inline constexpr std::size_t kVolumeIdentifierLength = 32;
inline constexpr std::size_t kDeviceIdentifierHeaderLength = 4;

// SMC-3 volume tag information: VOLUME IDENTIFIER (32 bytes, left aligned, space padded;
// all spaces means "no tag") and VOLUME SEQUENCE NUMBER.
struct VolumeTag {
  std::string identifier;  // trailing spaces and NULs removed; other bytes as they are
  std::uint16_t sequence = 0;
  bool blank() const { return identifier.empty(); }
  friend bool operator==(const VolumeTag&, const VolumeTag&) = default;
};

// The device identifier of an element descriptor (DVCID=1): an SPC designation descriptor
// header (SPC-5 7.7.6.1; vpd.h has the field values) and the identifier. Drives report their
// INQUIRY-style identity or serial number here; this is what ties a changer's drive to a tape
// device.
struct DeviceIdentifier {
  std::uint8_t protocol_identifier = 0;  // byte 0 bits 7:4
  std::uint8_t code_set = 0;             // byte 0 bits 3:0 (1 binary, 2 ASCII, 3 UTF-8)
  bool piv = false;                      // byte 1 bit 7
  std::uint8_t association = 0;          // byte 1 bits 5:4
  std::uint8_t identifier_type = 0;      // byte 1 bits 3:0 (designator type)
  std::vector<std::uint8_t> identifier;  // IDENTIFIER LENGTH bytes
  friend bool operator==(const DeviceIdentifier&, const DeviceIdentifier&) = default;
};

// One element descriptor. The layout is common to the four types; fields SMC-3 reserves for a
// type (IMPEXP outside import/export elements, the bus fields outside data transfer elements)
// are decoded as the device sent them and encoded as given.
struct ElementDescriptor {
  std::uint16_t address = 0;  // bytes 0-1
  // Byte 2.
  bool full = false;      // bit 0: holds a unit of medium
  bool impexp = false;    // bit 1 (IE): placed by the operator (import) rather than the picker
  bool except = false;    // bit 2: abnormal state, see asc/ascq
  bool access = false;    // bit 3: the picker can reach it
  bool exenab = false;    // bit 4 (IE): can export
  bool inenab = false;    // bit 5 (IE): can import
  bool cmc = false;       // bit 6 (IE): connected to another medium changer
  bool oir = false;       // bit 7 (IE): operator intervention required
  std::uint8_t asc = 0;   // byte 4
  std::uint8_t ascq = 0;  // byte 5
  // Bytes 6-8 (data transfer elements; SCSI-2 changers used them for every type).
  bool not_bus = false;          // byte 6 bit 7: the drive is on another bus
  bool id_valid = false;         // byte 6 bit 5: bus_address is valid
  bool lu_valid = false;         // byte 6 bit 4: lun is valid
  std::uint8_t lun = 0;          // byte 6 bits 2:0
  std::uint8_t bus_address = 0;  // byte 7 SCSI BUS ADDRESS
  // Byte 9.
  bool svalid = false;               // bit 7: source_address and invert are valid
  bool invert = false;               // bit 6
  bool ed = false;                   // bit 3: element disabled
  std::uint8_t medium_type = 0;      // bits 2:0, see MediumType
  std::uint16_t source_address = 0;  // bytes 10-11 SOURCE STORAGE ELEMENT ADDRESS
  // Present exactly when the page's PVOLTAG / AVOLTAG bit is set.
  std::optional<VolumeTag> primary_tag;
  std::optional<VolumeTag> alternate_tag;
  // Decoded only when the caller asked for DVCID (see parse_element_status_data).
  std::optional<DeviceIdentifier> device_identifier;
  // Bytes after the fields above, trailing zero bytes dropped.
  std::vector<std::uint8_t> vendor_specific;

  std::optional<std::uint16_t> source() const {
    return svalid ? std::optional<std::uint16_t>(source_address) : std::nullopt;
  }
  friend bool operator==(const ElementDescriptor&, const ElementDescriptor&) = default;
};

// SMC-3 element status page: a header and descriptors of one element type.
struct ElementStatusPage {
  ElementType type = ElementType::Storage;  // byte 0
  bool pvoltag = false;                     // byte 1 bit 7
  bool avoltag = false;                     // byte 1 bit 6
  // Bytes 2-3. Decode: as received. Encode: 0 computes the smallest length that holds every
  // descriptor; a larger value pads each descriptor with zeros.
  std::uint16_t descriptor_length = 0;
  // Bytes 5-7 BYTE COUNT OF DESCRIPTOR DATA AVAILABLE as received (it is not cut to the
  // allocation length, so it may exceed the descriptors decoded). Recomputed by the encoder.
  std::uint32_t byte_count_available = 0;
  std::vector<ElementDescriptor> descriptors;
  friend bool operator==(const ElementStatusPage&, const ElementStatusPage&) = default;
};

// SMC-3 element status data: the 8-byte header and the pages. Also the body of the
// REQUEST VOLUME ELEMENT ADDRESS reply (see VolumeElementAddressData).
struct ElementStatusData {
  std::uint16_t first_element_address = 0;         // bytes 0-1
  std::uint16_t number_of_elements_available = 0;  // bytes 2-3 (not cut to the allocation)
  std::uint32_t byte_count_available = 0;          // bytes 5-7, excluding this header
  std::vector<ElementStatusPage> pages;
  // Decode only: the report holds fewer elements than the device has for the request (the
  // allocation length cut it); see next_element_status_request().
  bool truncated = false;
  // Decode only: bytes of page data (headers and descriptors) decoded, for paging estimates.
  std::uint32_t bytes_decoded = 0;
  // Decode only: the sloppy-device allowances taken (see the top of this file).
  std::vector<std::string> warnings;

  std::size_t descriptor_count() const;
  // The descriptor of element `address`, or nullptr.
  const ElementDescriptor* find(std::uint16_t address) const;
  friend bool operator==(const ElementStatusData&, const ElementStatusData&) = default;
};

// How the data of a report ended, as the caller who set the allocation length knows it.
enum class DataEnd {
  // The data filled the allocation length, or it is not known: the allocation may have cut it.
  MayBeCut,
  // The device returned fewer bytes than the allocation length allowed: whatever is missing it
  // never sent, and asking again will not bring it.
  EndedByDevice,
};

// Decodes READ ELEMENT STATUS data: `data` is what the device returned (the allocation length
// minus the residual). `dvcid` must say whether the CDB had DVCID set: the bytes after the
// volume tags are a device identifier only then (vendor bytes otherwise). A descriptor cut by
// the end of `data` ends the decode (truncated); the complete ones before it are kept. With
// `end` EndedByDevice, a cut last descriptor is taken (see the top of this file).
Result<ElementStatusData> parse_element_status_data(Bytes data, Dvcid dvcid,
                                                    DataEnd end = DataEnd::MayBeCut);

// Builds element status data for an emulated changer. The header fields (first address,
// number of elements available, byte counts) are computed from the pages and descriptors; the
// input's values of those fields and of the decode-only fields are ignored. An emulator builds
// the whole report for the request and cuts it to the allocation length itself. Fails: a page
// type other than 1-4, a descriptor carrying a volume tag its page's PVOLTAG/AVOLTAG does not
// announce (a missing tag is written blank), a descriptor_length too small for a descriptor,
// an identifier longer than 255 bytes, more than 65535 descriptors or 24-bit byte counts
// overflowing. Descriptors without an identifier on a page where others have one get an
// all-zero identifier header (they decode with an empty identifier).
Result<std::vector<std::uint8_t>> encode_element_status_data(const ElementStatusData& data);

// The request that continues a truncated report.
struct ElementStatusContinuation {
  std::uint16_t starting_address = 0;    // after the last element decoded
  std::uint16_t number_of_elements = 0;  // the elements still missing
  // Enough for the rest when the device's byte counts are right (header, one page header per
  // element type that may follow, the missing descriptor bytes), at most 24 bits.
  std::uint32_t allocation_length = 0;
  friend bool operator==(const ElementStatusContinuation&,
                         const ElementStatusContinuation&) = default;
};
// nullopt when `data` is complete. Otherwise the next READ ELEMENT STATUS starts after the last
// element decoded (SMC-3 reports elements in ascending address order, and a request reports
// the elements whose address is >= STARTING ELEMENT ADDRESS). When nothing could be decoded it
// restarts at FIRST ELEMENT ADDRESS REPORTED with the whole count: the caller must then raise
// the allocation length (the suggested one does), or it would loop. nullopt also when the last
// element decoded is at 0xFFFF (no address can follow).
std::optional<ElementStatusContinuation> next_element_status_request(const ElementStatusData& data);

// The allocation length for `count` descriptors of `descriptor_length` bytes spread over
// `pages` pages, at most 24 bits (FreeBSD's ch reads one element first to learn the
// descriptor length, then sizes the real read this way).
std::uint32_t element_status_allocation_length(std::uint16_t descriptor_length, std::uint32_t count,
                                               std::uint32_t pages = 1);

// SMC-3 REQUEST VOLUME ELEMENT ADDRESS data: the element status data layout with the
// SEND ACTION CODE of the translate in header byte 4 bits 4:0, and NUMBER OF ELEMENTS
// REPORTED in bytes 2-3 (ElementStatusData::number_of_elements_available).
struct VolumeElementAddressData {
  std::uint8_t send_action_code = 0;  // raw; see SendVolumeTagAction
  ElementStatusData status;
  friend bool operator==(const VolumeElementAddressData&,
                         const VolumeElementAddressData&) = default;
};
Result<VolumeElementAddressData> parse_volume_element_address_data(Bytes data, Dvcid dvcid);
// As encode_element_status_data; fails on an action code above 5 bits.
Result<std::vector<std::uint8_t>> encode_volume_element_address_data(
    const VolumeElementAddressData& data);

// ---- SEND VOLUME TAG parameter list (SMC-3) -----------------------------------------------------

struct SendVolumeTagParameters {
  // VOLUME IDENTIFICATION TEMPLATE, 32 bytes. Translate actions may use the wildcards '*' and
  // '?'. Decoded up to the first NUL, trailing spaces removed; encoded space padded.
  std::string volume_identification_template;
  std::uint16_t minimum_sequence_number = 0;  // bytes 34-35
  std::uint16_t maximum_sequence_number = 0;  // bytes 38-39
  friend bool operator==(const SendVolumeTagParameters&, const SendVolumeTagParameters&) = default;
};
// Fails: a template longer than 32 bytes, or holding bytes outside printable ASCII.
Result<std::array<std::uint8_t, kSendVolumeTagParametersLength>> encode_send_volume_tag_parameters(
    const SendVolumeTagParameters& parameters);
// Fails on fewer than 40 bytes; bytes past 40 are ignored.
Result<SendVolumeTagParameters> parse_send_volume_tag_parameters(Bytes data);

// ---- Mode pages (SMC-3 mode parameters) ---------------------------------------------------------
//
// Decoders take a page from parse_mode_sense_data() and check its code (and that it is not in
// sub_page format); encoders return a ModePage for encode_mode_sense_data() (PS clear: set it
// when the page is savable).

inline constexpr std::uint8_t kElementAddressAssignmentPage = 0x1d;
inline constexpr std::uint8_t kTransportGeometryPage = 0x1e;
inline constexpr std::uint8_t kDeviceCapabilitiesPage = 0x1f;

struct ElementRange {
  std::uint16_t first = 0;  // first element address
  std::uint16_t count = 0;  // number of elements
  // No wrap: a range whose end passes 0xFFFF holds the addresses up to 0xFFFF.
  bool contains(std::uint16_t address) const {
    return address >= first && std::uint32_t{address} < std::uint32_t{first} + count;
  }
  friend bool operator==(const ElementRange&, const ElementRange&) = default;
};

// Where an element address falls: its type and 0-based index in that type (chio's unit).
struct ElementLocation {
  ElementType type = ElementType::Storage;
  std::uint16_t index = 0;
  friend bool operator==(const ElementLocation&, const ElementLocation&) = default;
};

// SMC-3 Element Address Assignment page (1Dh): bytes 2-17 of the page are first address
// and count of MT, ST, IE, DT. FreeBSD's ch reads it at attach and on every open.
struct ElementAddressAssignment {
  ElementRange medium_transport;
  ElementRange storage;
  ElementRange import_export;
  ElementRange data_transfer;

  // The range of a type; {0, 0} for ElementType::All.
  ElementRange range(ElementType type) const;
  // The type whose range holds `address` (MT, ST, IE, DT order if ranges overlap) and the
  // index in it; nullopt when no range holds it.
  std::optional<ElementLocation> locate(std::uint16_t address) const;
  // first + index for an index below the type's count, else nullopt.
  std::optional<std::uint16_t> address_of(ElementType type, std::uint16_t index) const;
  friend bool operator==(const ElementAddressAssignment&,
                         const ElementAddressAssignment&) = default;
};
// Fails: another page code, sub_page format, a body shorter than 16 bytes (the DT count).
Result<ElementAddressAssignment> parse_element_address_assignment(const ModePage& page);
// PAGE LENGTH 12h, reserved bytes 18-19 zero.
ModePage encode_element_address_assignment(const ElementAddressAssignment& assignment);

// SMC-3 Transport Geometry Parameters page (1Eh): one 2-byte descriptor per medium
// transport element.
struct TransportGeometryDescriptor {
  bool rotate = false;             // byte 0 bit 0: can invert media
  std::uint8_t member_number = 0;  // MEMBER NUMBER IN TRANSPORT ELEMENT SET
  friend bool operator==(const TransportGeometryDescriptor&,
                         const TransportGeometryDescriptor&) = default;
};
struct TransportGeometry {
  std::vector<TransportGeometryDescriptor> transports;
  friend bool operator==(const TransportGeometry&, const TransportGeometry&) = default;
};
// Fails: another page code, sub_page format, an odd page length.
Result<TransportGeometry> parse_transport_geometry(const ModePage& page);
// Fails: more than 127 descriptors (the PAGE LENGTH byte).
Result<ModePage> encode_transport_geometry(const TransportGeometry& geometry);

// SMC-3 Device Capabilities page (1Fh). Bit `type_index(t)` of each mask stands for the
// element type t (bit 0 MT, 1 ST, 2 IE, 3 DT). Masks are kept whole (reserved bits 7:4
// included) so a page round-trips.
struct DeviceCapabilities {
  std::uint8_t storage = 0;                     // byte 2: StorMT .. StorDT
  std::array<std::uint8_t, 4> move_from{};      // bytes 4-7: destinations of a move from a type
  std::array<std::uint8_t, 4> exchange_from{};  // bytes 12-15: the same for exchanges

  // ElementType::All (or any non-element type) gives false / is ignored.
  bool can_store(ElementType type) const;
  bool can_move(ElementType from, ElementType to) const;
  bool can_exchange(ElementType from, ElementType to) const;
  void set_store(ElementType type, bool value);
  void set_move(ElementType from, ElementType to, bool value);
  void set_exchange(ElementType from, ElementType to, bool value);
  friend bool operator==(const DeviceCapabilities&, const DeviceCapabilities&) = default;
};
// Fails: another page code, sub_page format, a body shorter than 14 bytes (the DT exchange
// byte, page byte 15).
Result<DeviceCapabilities> parse_device_capabilities(const ModePage& page);
// PAGE LENGTH 12h, reserved bytes zero.
ModePage encode_device_capabilities(const DeviceCapabilities& capabilities);

}  // namespace ucam::scsi::smc
