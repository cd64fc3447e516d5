// Standard INQUIRY data.
//
// SPC-5 6.7.2 Standard INQUIRY data (Table 148) and 6.7.2 Table 149 peripheral device types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi {

// SPC-5 6.7.2 Table 150: PERIPHERAL DEVICE TYPE field.
enum class PeripheralType : std::uint8_t {
  DirectAccessBlock = 0x00,
  SequentialAccess = 0x01,
  Printer = 0x02,
  Processor = 0x03,
  WriteOnce = 0x04,
  CdDvd = 0x05,
  Scanner = 0x06,  // obsolete
  OpticalMemory = 0x07,
  MediumChanger = 0x08,
  Communications = 0x09,  // obsolete
  StorageArrayController = 0x0c,
  EnclosureServices = 0x0d,
  SimplifiedDirectAccess = 0x0e,
  OpticalCardReaderWriter = 0x0f,
  BridgeControllerCommands = 0x10,
  ObjectBasedStorage = 0x11,
  AutomationDriveInterface = 0x12,
  SecurityManager = 0x13,  // obsolete
  HostManagedZonedBlock = 0x14,
  WellKnownLogicalUnit = 0x1e,
  Unknown = 0x1f,  // unknown or no device type
};

// Lower-case description of a 5-bit PERIPHERAL DEVICE TYPE ("enclosure services device");
// reserved values give "reserved [0x15]" style text. Same wording as sg_inq.
std::string peripheral_type_name(std::uint8_t type);
inline std::string peripheral_type_name(PeripheralType type) {
  return peripheral_type_name(static_cast<std::uint8_t>(type));
}

// SPC-5 6.7.2 Table 149: PERIPHERAL QUALIFIER field.
inline constexpr std::uint8_t kQualifierConnected = 0x0;     // LU present (or maybe)
inline constexpr std::uint8_t kQualifierNotConnected = 0x1;  // capable, not connected now
inline constexpr std::uint8_t kQualifierNotSupported = 0x3;  // no LU at this LUN

inline constexpr std::size_t kStandardInquiryMinLength = 36;
inline constexpr std::size_t kVersionDescriptorOffset = 58;
inline constexpr std::size_t kMaxVersionDescriptors = 8;

struct StandardInquiry {
  std::uint8_t peripheral_qualifier = 0;           // byte 0 bits 7:5
  std::uint8_t device_type = 0;                    // byte 0 bits 4:0 (PeripheralType)
  bool rmb = false;                                // byte 1 bit 7
  bool lu_cong = false;                            // byte 1 bit 6
  std::uint8_t version = 0x07;                     // byte 2 (0x07 = SPC-5)
  bool normaca = false;                            // byte 3 bit 5
  bool hisup = false;                              // byte 3 bit 4
  std::uint8_t response_data_format = 2;           // byte 3 bits 3:0 (shall be 2)
  std::uint8_t additional_length = 0;              // byte 4 (parse: as received; encode: computed)
  bool sccs = false;                               // byte 5 bit 7
  bool acc = false;                                // byte 5 bit 6
  std::uint8_t tpgs = 0;                           // byte 5 bits 5:4
  bool third_party_copy = false;                   // byte 5 bit 3
  bool protect = false;                            // byte 5 bit 0
  bool encserv = false;                            // byte 6 bit 6
  bool multip = false;                             // byte 6 bit 4
  bool cmdque = false;                             // byte 7 bit 1
  std::string vendor;                              // bytes 8-15, trailing spaces trimmed
  std::string product;                             // bytes 16-31
  std::string revision;                            // bytes 32-35
  std::vector<std::uint16_t> version_descriptors;  // bytes 58-73, zero entries dropped
  // Parse only: the data is shorter than 5 + ADDITIONAL LENGTH (cut by the allocation length).
  bool truncated = false;

  PeripheralType peripheral_type() const { return static_cast<PeripheralType>(device_type); }
  friend bool operator==(const StandardInquiry&, const StandardInquiry&) = default;
};

// Needs the first 36 bytes (vendor, product and revision). Bytes beyond 5 + ADDITIONAL LENGTH
// are ignored; fewer bytes than that set `truncated`. An ADDITIONAL LENGTH below 31 is
// inconsistent with the fields present and is an error.
Result<StandardInquiry> parse_standard_inquiry(Bytes data);

// 36 bytes, or 58 + 2 * descriptors when version descriptors are present; ADDITIONAL LENGTH is
// computed. Vendor (8), product (16) and revision (4) are space padded; fails if a string is
// longer than its field or holds bytes outside printable ASCII 0x20..0x7e (SPC-5 4.3.1), if
// there are more than 8 version descriptors, or if a sub-byte field overflows.
Result<std::vector<std::uint8_t>> encode_standard_inquiry(const StandardInquiry& inquiry);

// Printable-ASCII field as a string with trailing spaces (and NULs) trimmed. Shared by VPD.
std::string trimmed_ascii(Bytes field);

}  // namespace ucam::scsi
