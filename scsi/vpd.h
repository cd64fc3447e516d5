// Vital product data pages.
//
// SPC-5 7.7.1 VPD page format (4-byte header), 7.7.16 Supported VPD Pages (0x00),
// 7.7.19 Unit Serial Number (0x80) and 7.7.6 Device Identification (0x83).
//
// Parsers check the page code and need the whole page (4 + PAGE LENGTH bytes): a page cut by
// the allocation length is an error naming the length to ask for, so a caller never acts on a
// partial designator list or serial number.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi {

inline constexpr std::uint8_t kVpdSupportedPages = 0x00;
inline constexpr std::uint8_t kVpdUnitSerialNumber = 0x80;
inline constexpr std::uint8_t kVpdDeviceIdentification = 0x83;

// SPC-5 7.7.1 Table 506 VPD page header.
struct VpdHeader {
  std::uint8_t peripheral_qualifier = 0;  // byte 0 bits 7:5
  std::uint8_t device_type = 0;           // byte 0 bits 4:0
  std::uint8_t page_code = 0;             // byte 1
  std::uint16_t page_length = 0;          // bytes 2-3 (bytes after the header)
};
// Needs 4 bytes; does not require the page body.
Result<VpdHeader> parse_vpd_header(Bytes data);

// ---- 0x00 Supported VPD pages -----------------------------------------------------------------
Result<std::vector<std::uint8_t>> parse_supported_vpd_pages(Bytes data);
// `peripheral` is byte 0 (qualifier << 5 | device type). Pages should be ascending (SPC-5).
Result<std::vector<std::uint8_t>> encode_supported_vpd_pages(std::span<const std::uint8_t> pages,
                                                             std::uint8_t peripheral = 0);

// ---- 0x80 Unit serial number ------------------------------------------------------------------
// The PRODUCT SERIAL NUMBER with leading and trailing spaces (and trailing NULs) removed: SPC-5
// lets it be right aligned with leading spaces.
Result<std::string> parse_unit_serial_number(Bytes data);
// Fails on bytes outside printable ASCII or a serial longer than 65535 bytes.
Result<std::vector<std::uint8_t>> encode_unit_serial_number(std::string_view serial,
                                                            std::uint8_t peripheral = 0);

// ---- 0x83 Device identification ---------------------------------------------------------------

// SPC-5 7.7.6.1 Table 512 CODE SET.
enum class CodeSet : std::uint8_t { Binary = 1, Ascii = 2, Utf8 = 3 };  // others reserved
// SPC-5 7.6.1 Table 480 PROTOCOL IDENTIFIER.
enum class ProtocolId : std::uint8_t {
  FibreChannel = 0x0,
  ParallelScsi = 0x1,  // obsolete
  Ssa = 0x2,           // obsolete
  Ieee1394 = 0x3,
  Srp = 0x4,
  Iscsi = 0x5,
  Sas = 0x6,
  Adt = 0x7,
  Ata = 0x8,
  Uas = 0x9,
  Sop = 0xa,
  Pcie = 0xb,
  None = 0xf,  // no specific protocol
};
// SPC-5 7.7.6.1 Table 513 ASSOCIATION.
enum class Association : std::uint8_t {
  LogicalUnit = 0,   // the addressed logical unit
  TargetPort = 1,    // the target port that received the command
  TargetDevice = 2,  // the SCSI target device containing the logical unit
  Reserved = 3,
};
// SPC-5 7.7.6.1 Table 514 DESIGNATOR TYPE.
enum class DesignatorType : std::uint8_t {
  VendorSpecific = 0x0,
  T10VendorId = 0x1,
  Eui64 = 0x2,
  Naa = 0x3,
  RelativeTargetPort = 0x4,
  TargetPortGroup = 0x5,
  LogicalUnitGroup = 0x6,
  Md5LogicalUnitId = 0x7,
  ScsiNameString = 0x8,
  ProtocolSpecificPortId = 0x9,
  Uuid = 0xa,
};

// Names, with "reserved [0xN]" for values the standard does not define.
std::string code_set_name(CodeSet code_set);
std::string protocol_id_name(ProtocolId protocol);
std::string association_name(Association association);
std::string designator_type_name(DesignatorType type);

// SPC-5 7.7.6.1 Table 511 designation descriptor. Enum fields may hold reserved values.
struct Designator {
  CodeSet code_set = CodeSet::Binary;
  ProtocolId protocol_id = ProtocolId::FibreChannel;  // meaningful only when piv is set
  bool piv = false;
  Association association = Association::LogicalUnit;
  DesignatorType type = DesignatorType::VendorSpecific;
  std::vector<std::uint8_t> identifier;
  friend bool operator==(const Designator&, const Designator&) = default;
};

// Walks the designation descriptors of a complete page 0x83. Fails on a wrong page code, a
// page shorter than its PAGE LENGTH, or a descriptor running past the end of the page.
Result<std::vector<Designator>> parse_device_identification(Bytes data);
// Fails on an identifier longer than 255 bytes, a page longer than 65535 bytes, or enum
// values that do not fit their fields.
Result<std::vector<std::uint8_t>> encode_device_identification(
    std::span<const Designator> designators, std::uint8_t peripheral = 0);

// SPC-5 7.7.6.6 NAA designator, every format. Fields not in a format are zero.
struct NaaId {
  std::uint8_t naa = 0;                         // 2, 3, 5 or 6
  std::uint32_t ieee_company_id = 0;            // NAA 2, 5, 6 (24 bits)
  std::uint16_t vendor_specific_a = 0;          // NAA 2: VENDOR SPECIFIC IDENTIFIER A (12 bits)
  std::uint64_t vendor_specific_id = 0;         // NAA 2: identifier B (24 bits); NAA 5, 6: 36 bits
  std::uint64_t locally_administered = 0;       // NAA 3 (60 bits)
  std::uint64_t vendor_specific_extension = 0;  // NAA 6 (64 bits)
};
// Fails if the designator is not NAA, or the NAA value and designator length disagree
// (2, 3, 5: 8 bytes; 6: 16 bytes).
Result<NaaId> parse_naa(const Designator& designator);
// The 64-bit value of an 8-byte NAA designator (NAA 2, 3 or 5), as sg_vpd prints it.
Result<std::uint64_t> naa_u64(const Designator& designator);

// SPC-5 7.7.6.5 EUI-64 based designator: 8, 12 or 16 bytes.
struct Eui64Id {
  std::uint32_t ieee_company_id = 0;                  // 24 bits
  std::uint64_t vendor_specific_extension = 0;        // 40 bits
  std::optional<std::uint32_t> directory_id;          // 12-byte format
  std::optional<std::uint64_t> identifier_extension;  // 16-byte format (first 8 bytes)
};
Result<Eui64Id> parse_eui64(const Designator& designator);

// SPC-5 7.7.6.7/8/9: the 16-bit value in bytes 2-3 of a 4-byte designator.
Result<std::uint16_t> relative_target_port(const Designator& designator);
Result<std::uint16_t> target_port_group(const Designator& designator);
Result<std::uint16_t> logical_unit_group(const Designator& designator);

// SPC-5 7.7.6.4 T10 vendor ID based: 8-byte T10 VENDOR IDENTIFICATION + vendor specific.
struct T10VendorIdDesignator {
  std::string vendor;           // trailing spaces trimmed
  std::string vendor_specific;  // bytes after the vendor id, as text
};
Result<T10VendorIdDesignator> parse_t10_vendor_id(const Designator& designator);

// SPC-5 7.7.6.11 SCSI name string: UTF-8, NUL terminated, padded to a multiple of 4.
Result<std::string> scsi_name_string(const Designator& designator);

// SPC-5 7.7.6.13 UUID designator (18 bytes: UUID TYPE 1h, C bit, 16-byte RFC 4122 UUID).
struct UuidDesignator {
  bool locally_assigned = false;  // byte 0 bit 0 (C)
  std::array<std::uint8_t, 16> uuid{};
};
Result<UuidDesignator> parse_uuid_designator(const Designator& designator);

// Builders for the common designators (emulated devices).
Designator make_naa_designator(std::uint64_t naa, Association association,
                               std::optional<ProtocolId> protocol = std::nullopt);
Designator make_relative_target_port(std::uint16_t port, std::optional<ProtocolId> protocol);
Designator make_target_port_group(std::uint16_t group);
Designator make_t10_vendor_id(std::string_view vendor, std::string_view vendor_specific);
// Pads with NULs to a multiple of 4 (at least one NUL).
Designator make_scsi_name_string(std::string_view name, Association association);

// Text of one designator's value: "0x5000cca000000010" for 8-byte NAA, "0x1" for port
// numbers, the string for ASCII/UTF-8 types, otherwise hex bytes without spaces
// ("0x0011223344..."), UUIDs as 8-4-4-4-12.
std::string designator_value_text(const Designator& designator);

// Multi-line rendering grouped by association, the facts sg_vpd prints:
//   Device identification VPD page:
//     Addressed logical unit:
//       designator type: NAA, code set: Binary
//         0x5000cca000000010
//     Target port:
//       designator type: Relative target port, code set: Binary
//         transport: Serial Attached SCSI (SPL)
//         0x1
std::string describe_device_identification(std::span<const Designator> designators);

}  // namespace ucam::scsi
