// SCSI Enclosure Services (SES-4, T10/BSR INCITS 555) diagnostic pages: the core model.
//
// What lives here: page and element type codes with their names, the Configuration page (0x01)
// and the element map derived from it, Enclosure Status/Control (0x02, and the Short Enclosure
// Status reply 0x08), Element Descriptor (0x07) and Additional Element Status (0x0A), each with
// a parser and an encoder (the encoders serve the emulator and the control path). The per-type
// status element decoders are in ses_element.h; the remaining pages, the page splitter and the
// multi-page decode are in ses_pages.h; JSON and text rendering in ses_json.h.
//
// Pure: no I/O. Every parser takes one page (`Bytes`, starting at the page code) and returns
// `Result<T>`. Real enclosures are quirky, so a parser fails only when nothing sensible can be
// decoded (wrong page code, no header, a Configuration page whose structure is cut). Otherwise
// it decodes what is there and says what is wrong in the struct's `warnings`: a page shorter or
// longer than the configuration implies, a page cut before its PAGE LENGTH, a generation code
// that differs from the configuration's, text that is not printable. Nothing reads past the end
// of the span it was given.
//
// Element indexing (SES-4 6.1.4, FreeBSD's element iterator, see ElementRef): for each type
// descriptor header in Configuration page order there is one OVERALL element followed by
// POSSIBLE ELEMENTS individual elements. The Enclosure Status, Threshold and Element Descriptor
// pages list all of them (the "global" index); the Additional Element Status page's ELEMENT
// INDEX counts either all of them or only the individual ones, as its EIIOE field says.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi::ses {

// ---- Codes and names --------------------------------------------------------------------------

// SES-4 6.1.1 Table 9: diagnostic page codes. Status (RECEIVE DIAGNOSTIC RESULTS) and control
// (SEND DIAGNOSTIC) pages share a code.
enum class PageCode : std::uint8_t {
  SupportedDiagnosticPages = 0x00,  // SPC-5 (diag.h)
  Configuration = 0x01,
  EnclosureStatus = 0x02,  // Enclosure Control when sent
  HelpText = 0x03,
  StringIn = 0x04,     // String Out when sent
  ThresholdIn = 0x05,  // Threshold Out when sent
  ArrayStatus = 0x06,  // obsolete (SES-1 Array Control/Status)
  ElementDescriptor = 0x07,
  ShortEnclosureStatus = 0x08,
  EnclosureBusy = 0x09,
  AdditionalElementStatus = 0x0a,
  SubenclosureHelpText = 0x0b,
  SubenclosureStringIn = 0x0c,  // Subenclosure String Out when sent
  SupportedSesPages = 0x0d,
  DownloadMicrocodeStatus = 0x0e,     // Download Microcode Control when sent
  SubenclosureNicknameStatus = 0x0f,  // Subenclosure Nickname Control when sent
};
inline constexpr std::uint8_t page_code_value(PageCode code) {
  return static_cast<std::uint8_t>(code);
}
// "Configuration", "Enclosure Status", ...; vendor-specific codes 0x10-0x1f and 0x80-0xff give
// "Vendor specific (0xNN)", everything else "<Page 0xNN>".
std::string page_name(std::uint8_t page_code);

// SES-4 7.1 Table 70: element type codes. 0x80-0xff are vendor specific; the rest reserved.
enum class ElementType : std::uint8_t {
  Unspecified = 0x00,
  DeviceSlot = 0x01,
  PowerSupply = 0x02,
  Cooling = 0x03,
  TemperatureSensor = 0x04,
  Door = 0x05,
  AudibleAlarm = 0x06,
  EscElectronics = 0x07,  // enclosure services controller electronics
  SccElectronics = 0x08,  // SCSI services controller electronics
  NonvolatileCache = 0x09,
  InvalidOperationReason = 0x0a,
  UninterruptiblePowerSupply = 0x0b,
  Display = 0x0c,
  KeyPadEntry = 0x0d,
  Enclosure = 0x0e,
  ScsiPortTransceiver = 0x0f,
  Language = 0x10,
  CommunicationPort = 0x11,
  VoltageSensor = 0x12,
  CurrentSensor = 0x13,
  ScsiTargetPort = 0x14,
  ScsiInitiatorPort = 0x15,
  SimpleSubenclosure = 0x16,
  ArrayDeviceSlot = 0x17,
  SasExpander = 0x18,
  SasConnector = 0x19,
};
inline constexpr std::uint8_t kLastElementType = 0x19;
inline constexpr std::uint8_t type_value(ElementType type) {
  return static_cast<std::uint8_t>(type);
}
inline constexpr bool is_slot_type(std::uint8_t type) {
  return type == type_value(ElementType::DeviceSlot) ||
         type == type_value(ElementType::ArrayDeviceSlot);
}
// FreeBSD's kernel names (ELM_TYPE_NAMES): "Device Slot", "Audible alarm", ...; codes above
// 0x19 give "<Type 0xNN>" (two lower-case hex digits).
std::string element_type_name(std::uint8_t type);
// sesutil(8)'s variant: "Door Lock", "Audible Alarm", and "<Type 0xN>" (no padding) for
// unknown codes.
std::string element_type_sesutil_name(std::uint8_t type);

// SES-4 7.2.2 Table 74: ELEMENT STATUS CODE (status byte 0 bits 3-0).
enum class ElementStatusCode : std::uint8_t {
  Unsupported = 0,
  Ok = 1,
  Critical = 2,
  Noncritical = 3,
  Unrecoverable = 4,
  NotInstalled = 5,
  Unknown = 6,
  NotAvailable = 7,
  NoAccessAllowed = 8,
};
// "Unsupported", "OK", "Critical", "Noncritical", "Unrecoverable", "Not installed", "Unknown",
// "Not available", "No access allowed"; 9-15 give "<Status 0xN>".
std::string element_status_name(std::uint8_t code);

// ---- Configuration (0x01) ---------------------------------------------------------------------

// SES-4 6.1.2 Table 11: one enclosure descriptor.
struct Subenclosure {
  std::uint8_t id = 0;                        // SUBENCLOSURE IDENTIFIER (0 = primary)
  std::uint8_t relative_es_process_id = 0;    // byte 0 bits 6-4 (0 = not reported)
  std::uint8_t es_process_count = 0;          // byte 0 bits 2-0 (0 = not reported)
  std::uint8_t type_header_count = 0;         // NUMBER OF TYPE DESCRIPTOR HEADERS
  std::uint64_t logical_id = 0;               // ENCLOSURE LOGICAL IDENTIFIER
  std::string vendor;                         // 8 bytes, trailing spaces trimmed
  std::string product;                        // 16 bytes, trailing spaces trimmed
  std::string revision;                       // 4 bytes, trailing spaces trimmed
  std::vector<std::uint8_t> vendor_specific;  // bytes 40.. of the descriptor
  friend bool operator==(const Subenclosure&, const Subenclosure&) = default;
};

// SES-4 6.1.2 Table 12: one type descriptor header plus its text.
struct TypeHeader {
  std::uint8_t element_type = 0;
  std::uint8_t possible_elements = 0;  // individual elements; one overall element comes on top
  std::uint8_t subenclosure = 0;       // SUBENCLOSURE IDENTIFIER
  std::string text;                    // TYPE DESCRIPTOR TEXT (raw, not trimmed)
  friend bool operator==(const TypeHeader&, const TypeHeader&) = default;
};

struct SesConfig {
  std::uint32_t generation = 0;
  // Primary first. Header byte 1 (NUMBER OF SECONDARY SUBENCLOSURES) is size() - 1.
  std::vector<Subenclosure> subenclosures;
  // In page order: the primary's headers first, then each secondary's.
  std::vector<TypeHeader> types;
  std::vector<std::string> warnings;

  // Overall plus individual elements of every type: the length of the status page's list.
  std::size_t element_count() const;
  // The subenclosure with this id, if any.
  const Subenclosure* find_subenclosure(std::uint8_t id) const;
};

// Fails on a wrong page code, a header shorter than 8 bytes, or an enclosure descriptor / type
// header list that runs past the page. Warns on a page cut before PAGE LENGTH (when the parts
// that matter are complete), on text cut short, on a descriptor shorter than the standard's
// 36 bytes, on a type-header count that disagrees with the enclosure descriptors, on duplicate
// subenclosure ids and on non-printable identification strings.
Result<SesConfig> parse_ses_config(Bytes page);
// Uses each Subenclosure's vendor_specific bytes and the types in order. The subenclosures'
// type_header_count values are used when they add up to types.size() (a decoded page encodes
// back byte for byte); otherwise they are recomputed from the headers' subenclosure ids, which
// must then come grouped in enclosure-descriptor order (fails otherwise). Strings are space
// padded; too long a string, more than 255 headers for one subenclosure or a page over 64 KiB
// fails.
Result<std::vector<std::uint8_t>> encode_ses_config(const SesConfig& config);

// ---- Element map ------------------------------------------------------------------------------

struct ElementRef {
  int global_index = 0;       // index into status/threshold/descriptor pages (overall included)
  int type_index = 0;         // index of the type descriptor header (config page order)
  int index_in_type = -1;     // -1 = the overall element, else 0..possible_elements-1
  int individual_index = -1;  // -1 for overall; counts individual elements only (page 0x0A with
                              // EIIOE = 0)
  std::uint8_t element_type = 0;
  std::uint8_t subenclosure = 0;

  bool overall() const { return index_in_type < 0; }
  friend bool operator==(const ElementRef&, const ElementRef&) = default;
};

// One ElementRef per element in page order: for each type header its overall element, then its
// individual elements. map[i].global_index == i.
std::vector<ElementRef> build_element_map(const SesConfig& config);
// FreeBSD's type_elm_idx, used as slot@ in physical paths: 0 for the overall element, 1..N for
// the individual ones (index_in_type + 1).
inline int type_element_index(const ElementRef& ref) {
  return ref.index_in_type + 1;
}
// The global index of individual element `individual_index`, or -1 when out of range.
int global_index_of_individual(const std::vector<ElementRef>& map, int individual_index);

// ---- Enclosure Status (0x02) / Short Enclosure Status (0x08) ----------------------------------

// SES-4 6.1.4 Table 17 header byte 1 (status). Control uses bits 3-0 only.
inline constexpr std::uint8_t kEnclosureInvop = 0x10;
inline constexpr std::uint8_t kEnclosureInfo = 0x08;
inline constexpr std::uint8_t kEnclosureNonCritical = 0x04;
inline constexpr std::uint8_t kEnclosureCritical = 0x02;
inline constexpr std::uint8_t kEnclosureUnrecoverable = 0x01;
inline constexpr std::uint8_t kEnclosureStatusMask = 0x1f;
inline constexpr std::uint8_t kEnclosureControlMask = 0x0f;

using ElementBytes = std::array<std::uint8_t, 4>;

// Common status byte 0 (SES-4 7.2.2 Table 73) and control byte 0 (7.2.3 Table 75).
inline constexpr std::uint8_t kSelect = 0x80;    // control only (reserved in status)
inline constexpr std::uint8_t kPrdfail = 0x40;   // PRDFAIL
inline constexpr std::uint8_t kDisabled = 0x20;  // DISABLED (status) / DISABLE (control)
inline constexpr std::uint8_t kSwap = 0x10;      // SWAP (status) / RST SWAP (control)
inline std::uint8_t status_code(const ElementBytes& e) {
  return bits(e[0], 0, 4);
}
inline bool prdfail(const ElementBytes& e) {
  return (e[0] & kPrdfail) != 0;
}
inline bool disabled(const ElementBytes& e) {
  return (e[0] & kDisabled) != 0;
}
inline bool swap(const ElementBytes& e) {
  return (e[0] & kSwap) != 0;
}

struct SesStatus {
  // 0x02, or 0x08 when the enclosure answered with a Short Enclosure Status page (SES-4 6.1.9:
  // a device that cannot give the full page). Then there is no generation code and no elements,
  // and short_status holds the vendor-specific byte 1.
  std::uint8_t page_code = 0x02;
  bool is_short = false;
  std::uint8_t short_status = 0;

  std::uint32_t generation = 0;
  std::uint8_t flags = 0;  // header byte 1 & 0x1f (kEnclosure*)
  bool invop() const { return (flags & kEnclosureInvop) != 0; }
  bool info() const { return (flags & kEnclosureInfo) != 0; }
  bool non_critical() const { return (flags & kEnclosureNonCritical) != 0; }
  bool critical() const { return (flags & kEnclosureCritical) != 0; }
  bool unrecoverable() const { return (flags & kEnclosureUnrecoverable) != 0; }

  // By global index. Fewer than the configuration implies when the page was short.
  std::vector<ElementBytes> elements;
  bool generation_mismatch = false;  // generation != the configuration's
  std::vector<std::string> warnings;
};

// Recognises a 0x08 reply. Warns on: generation mismatch, fewer elements than the configuration
// implies (those present are kept), more (the extra ones are dropped), a page cut before PAGE
// LENGTH, a partial element, reserved header bits.
Result<SesStatus> parse_ses_status(Bytes page, const SesConfig& config);
// The status page as an enclosure returns it (emulator side): page code 0x02, header byte 1 =
// flags, every element as given.
Result<std::vector<std::uint8_t>> encode_ses_status(const SesStatus& status);
// SES-4 6.1.9 Short Enclosure Status: page code 0x08, byte 1 = status, PAGE LENGTH 0.
std::vector<std::uint8_t> encode_ses_short_status(std::uint8_t short_status);

// ---- Enclosure Control (0x02 out) -------------------------------------------------------------

// SES-4 7.3 (control elements): which status bits keep their meaning when sent back as control
// bits in the same position (request bits that mirror a reported state, e.g. IDENT -> RQST
// IDENT, FAULT REQSTD -> RQST FAULT). Byte 0 keeps PRDFAIL and DISABLE (0x60) for every type;
// SELECT and RST SWAP are never copied. Vendor-specific types (0x80-0xff), Unspecified and
// reserved codes keep bytes 1-3 as they are (their layout is unknown to us).
ElementBytes control_mask(std::uint8_t element_type);
// status & control_mask(type): the starting point of a read-modify-write (sesutil's
// ses_status_to_ctrl). SELECT is not set.
ElementBytes status_to_control(std::uint8_t element_type, ElementBytes status);

using ElementChange = std::pair<int /*global index*/, ElementBytes /*control bytes*/>;
// SES-4 6.1.3 Enclosure Control page: header byte 1 = enclosure_control_flags & 0x0f (INFO,
// NON-CRIT, CRIT, UNRECOV requests), the generation code given (the one the caller read; the
// enclosure rejects the page if its configuration changed), then one 4-byte control element per
// element of `current` (the status page whose element count sizes the page). Every element is
// zero except the changed ones, which carry the given bytes with SELECT set. Fails on an index
// outside `current.elements`, a duplicate index, or a short status page (nothing to size from).
Result<std::vector<std::uint8_t>> encode_ses_control(const SesStatus& current,
                                                     std::uint32_t generation,
                                                     std::uint8_t enclosure_control_flags,
                                                     std::span<const ElementChange> changes);

// (Array) Device Slot control requests (SES-4 7.3.2 / 7.3.3).
enum class SlotRequest : std::uint8_t {
  Ident,        // RQST IDENT, byte 2 bit 1 (locate LED)
  Fault,        // RQST FAULT, byte 3 bit 5 (fault LED)
  Remove,       // RQST REMOVE, byte 2 bit 2
  Insert,       // RQST INSERT, byte 2 bit 3
  DoNotRemove,  // DO NOT REMOVE, byte 2 bit 6
  DeviceOff,    // DEVICE OFF, byte 3 bit 4
};
enum class Turn : std::uint8_t { Off, On };
// status_to_control(type, status) with SELECT and the request bit set (or cleared). Fails for
// element types other than Device Slot and Array Device Slot.
Result<ElementBytes> slot_control(std::uint8_t element_type, ElementBytes status,
                                  SlotRequest request, Turn turn);

// ---- Element Descriptor (0x07) ----------------------------------------------------------------

struct SesElementDescriptors {
  std::uint32_t generation = 0;
  // By global index; "" when the element has no descriptor (length 0, or the page ended).
  // Sanitised: trailing spaces and NULs trimmed, other non-printable bytes replaced by '.'.
  std::vector<std::string> text;
  // The descriptor bytes exactly as received (for physical paths and byte-exact comparisons).
  std::vector<std::string> raw;
  bool generation_mismatch = false;
  std::vector<std::string> warnings;
};
// Warns on: generation mismatch, fewer or more descriptors than elements, a descriptor cut by
// the end of the page, NUL padding and non-printable bytes (naming the element).
Result<SesElementDescriptors> parse_ses_element_descriptors(Bytes page, const SesConfig& config);
// The text form of one descriptor's raw bytes, as `SesElementDescriptors::text` holds it: cut at
// the first NUL, bytes outside 0x20-0x7e as '.', trailing spaces trimmed. For people only:
// anything compared or published byte for byte (physical paths, JSON) uses the raw bytes.
std::string element_descriptor_text(std::string_view raw);
// One descriptor per string, in order (normally config.element_count() of them).
Result<std::vector<std::uint8_t>> encode_ses_element_descriptors(
    std::uint32_t generation, std::span<const std::string> descriptors);

// ---- Additional Element Status (0x0A) ---------------------------------------------------------

// SES-4 7.6.5 Table 171 (SAS phy descriptor, 28 bytes).
struct SasPhy {
  std::uint8_t device_type = 0;            // byte 0 bits 6-4: 0 none, 1 end device, 2 expander, ...
  bool ssp_initiator = false;              // byte 2 bit 3
  bool stp_initiator = false;              // byte 2 bit 2
  bool smp_initiator = false;              // byte 2 bit 1
  bool sata_port_selector = false;         // byte 3 bit 7
  bool ssp_target = false;                 // byte 3 bit 3
  bool stp_target = false;                 // byte 3 bit 2
  bool smp_target = false;                 // byte 3 bit 1
  bool sata_device = false;                // byte 3 bit 0
  std::uint64_t attached_sas_address = 0;  // bytes 4-11 (the expander/initiator it is wired to)
  std::uint64_t sas_address = 0;           // bytes 12-19 (the device's own port)
  std::uint8_t phy_id = 0;                 // byte 20
  friend bool operator==(const SasPhy&, const SasPhy&) = default;
};
// Expander phy descriptor (SES-4 7.6.5 Table 173, 2 bytes).
struct SasExpanderPhy {
  std::uint8_t connector_element_index = 0xff;  // 0xff = no connector
  std::uint8_t other_element_index = 0xff;      // 0xff = no other element
  friend bool operator==(const SasExpanderPhy&, const SasExpanderPhy&) = default;
};
// ESC / SCSI initiator port / SCSI target port phy descriptor (Table 175, 12 bytes).
struct SasPortPhy {
  std::uint8_t phy_id = 0;
  std::uint8_t connector_element_index = 0xff;
  std::uint8_t other_element_index = 0xff;
  std::uint64_t sas_address = 0;
  friend bool operator==(const SasPortPhy&, const SasPortPhy&) = default;
};
struct SasInfo {
  // byte 1 bits 7-6: 0 = (Array) Device Slot layout (phys), 1 = expander / port layout.
  std::uint8_t descriptor_type = 0;
  bool not_all_phys = false;                       // type 0 only: byte 1 bit 0
  std::optional<std::uint8_t> device_slot_number;  // type 0 with EIP=1 (0xff = none)
  std::vector<SasPhy> phys;                        // type 0
  std::uint64_t expander_sas_address = 0;          // type 1 on a SAS Expander element
  std::vector<SasExpanderPhy> expander_phys;       // type 1 on a SAS Expander element
  std::vector<SasPortPhy> port_phys;               // type 1 on other elements
  friend bool operator==(const SasInfo&, const SasInfo&) = default;
};
// SES-4 7.6.3 Fibre Channel (Table 165/166).
struct FcPort {
  std::uint8_t loop_position = 0;
  std::uint8_t bypass_reason = 0;
  std::uint8_t requested_hard_address = 0;
  std::uint32_t n_port_id = 0;  // 24 bits
  std::uint64_t n_port_name = 0;
  friend bool operator==(const FcPort&, const FcPort&) = default;
};
struct FcInfo {
  std::optional<std::uint8_t> device_slot_number;  // EIP=1 only (BAY NUMBER)
  std::uint64_t node_name = 0;
  std::vector<FcPort> ports;
  friend bool operator==(const FcInfo&, const FcInfo&) = default;
};
// SES-4 7.6.7 PCI Express (NVMe). FIXME: laid out as sg_ses 1.46 decodes it (vendor id,
// controller id and physical slot number little endian, as NVMe reports them); check against
// the SES-4 text when a real capture turns up.
struct PciePort {
  bool cid_valid = false;  // byte 0 bit 0
  bool bdf_valid = false;  // byte 0 bit 1
  bool psn_valid = false;  // byte 0 bit 2
  std::uint16_t controller_id = 0;
  std::uint8_t bus = 0;
  std::uint8_t device = 0;                 // bits 7-3 of byte 5
  std::uint8_t function = 0;               // bits 2-0 of byte 5
  std::uint16_t physical_slot_number = 0;  // 13 bits
  friend bool operator==(const PciePort&, const PciePort&) = default;
};
struct PcieInfo {
  std::uint8_t pcie_protocol_type = 0;  // byte 1 bits 7-5: 1 = NVMe
  bool not_all_ports = false;
  std::optional<std::uint8_t> device_slot_number;  // EIP=1 only
  std::uint16_t vendor_id = 0;
  std::string serial_number;  // 20 bytes, trailing spaces trimmed
  std::string model_number;   // 40 bytes, trailing spaces trimmed
  std::vector<PciePort> ports;
  friend bool operator==(const PcieInfo&, const PcieInfo&) = default;
};
// FreeBSD-private protocol 8 (its AHCI enclosure emulation): big-endian bus and target.
struct AtaInfo {
  std::uint32_t bus = 0;
  std::uint32_t target = 0;
  friend bool operator==(const AtaInfo&, const AtaInfo&) = default;
};

struct AesDescriptor {
  bool invalid = false;            // byte 0 bit 7: the descriptor's contents are not valid
  bool eip = false;                // byte 0 bit 4: ELEMENT INDEX present
  std::uint8_t eiioe = 0;          // byte 2 bits 1-0 (EIP=1 only)
  std::uint8_t protocol = 0;       // byte 0 bits 3-0 (scsi::ProtocolId values)
  std::uint8_t element_index = 0;  // byte 3 as received (EIP=1 only)
  // The element this descriptor describes (by global index), -1 when it could not be mapped.
  int global_index = -1;
  // Protocol-specific bytes exactly as received (after the 2- or 4-byte header).
  std::vector<std::uint8_t> protocol_data;
  std::optional<SasInfo> sas;
  std::optional<FcInfo> fc;
  std::optional<PcieInfo> pcie;
  std::optional<AtaInfo> ata;
};

// How to read ELEMENT INDEX. SES-4 6.1.13 Table 33 (EIIOE):
//   00b  ELEMENT INDEX counts individual elements only (the SES-2 reading);
//   01b  ELEMENT INDEX counts overall elements too (the global index);
//   10b  ELEMENT INDEX counts overall elements; the expander and port phy descriptors'
//        CONNECTOR/OTHER ELEMENT INDEX fields count individual elements only;
//   11b  reserved: read as 01b, with a warning.
// FreeBSD reads only 01b as global and every other value as individual; we follow the table
// above, and when an index so read lands on an element that cannot carry additional status (an
// overall element, or a type other than the six below) but the other reading does not, the
// other reading is used with a warning (sg_ses's --eiioe=auto, generalised).
enum class EiioePolicy : std::uint8_t {
  AsReported,   // the table above, with the fallback
  ForceGlobal,  // every EIP=1 index is global (sg_ses --eiioe=force; HP JBODs that send 00b)
};
// Element types that may carry an Additional Element Status descriptor (SES-4 6.1.13): Device
// Slot, Array Device Slot, SAS Expander (mandatory with SAS), ESC electronics, SCSI Initiator
// Port, SCSI Target Port.
bool may_have_additional_status(std::uint8_t element_type);
// Whether ELEMENT INDEX counts overall elements for this EIIOE value.
inline bool eiioe_element_index_is_global(std::uint8_t eiioe) {
  return eiioe != 0;
}

struct SesAdditionalStatus {
  std::uint32_t generation = 0;
  std::vector<AesDescriptor> descriptors;  // in page order
  bool generation_mismatch = false;
  std::vector<std::string> warnings;

  // The first valid descriptor mapped to this global index, or nullptr.
  const AesDescriptor* find(int global_index) const;
};
// EIP=0 descriptors are assigned in order to the individual elements of the types above (SES-2
// behaviour) with a warning when that runs out. Warns on: generation mismatch, a descriptor cut
// by the end of the page, an index that does not name an element or names one that cannot have
// additional status, two descriptors for one element, a protocol layout that does not fit the
// element type, phy lists longer than the descriptor.
Result<SesAdditionalStatus> parse_ses_additional_status(
    Bytes page, const SesConfig& config, EiioePolicy policy = EiioePolicy::AsReported);
// Builds the page from descriptors whose global_index is set. With eip, ELEMENT INDEX is
// written from global_index according to each descriptor's eiioe (01b/10b/11b global, 00b
// individual); without, the descriptors are written in the order given. Each descriptor's
// protocol-specific bytes come from its typed part (sas, fc, pcie, ata) when present, else from
// protocol_data. Fails on an index that does not name an element of `config`, or one EIIOE
// cannot express (an overall element with 00b).
Result<std::vector<std::uint8_t>> encode_ses_additional_status(
    const SesConfig& config, std::uint32_t generation, std::span<const AesDescriptor> descriptors);

// Lower-case 16-digit hex ("5000c50012345678"), the JSON contract's form of SAS addresses and
// logical identifiers.
std::string hex64(std::uint64_t value);

}  // namespace ucam::scsi::ses
