// LUN structure and REPORT LUNS parameter data.
//
// SAM-5 4.7 Logical unit numbers: an 8-byte LUN of up to four 2-byte levels, each level
// starting with an ADDRESS METHOD (SAM-5 4.7.6 Table 16): peripheral device (00b), flat space
// (01b), logical unit (10b) or extended logical unit (11b, SAM-5 4.7.7, whose levels are 2, 4,
// 6 or 8 bytes and include the well known logical units of SPC-5 8.2).
// SPC-5 6.33.2 REPORT LUNS parameter data: 4-byte LUN LIST LENGTH, 4 reserved, 8-byte LUNs.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi {

// The 8-byte LUN held as a big-endian 64-bit value: byte 0 of the LUN is bits 63:56.
struct Lun {
  std::uint64_t raw_lun = 0;

  static Lun from_bytes(Bytes eight);  // caller ensures 8 bytes
  std::array<std::uint8_t, 8> bytes() const;
  friend bool operator==(const Lun&, const Lun&) = default;
};

enum class AddressMethod : std::uint8_t {
  PeripheralDevice = 0,
  FlatSpace = 1,
  LogicalUnit = 2,
  ExtendedLogicalUnit = 3,
};

// SAM-5 4.7.7 Table 21 extended ADDRESS METHOD values we name.
inline constexpr std::uint8_t kExtendedWellKnown = 0x1;     // with LENGTH 00b
inline constexpr std::uint8_t kExtendedFlatSpace = 0x2;     // with LENGTH 01b or 10b
inline constexpr std::uint8_t kExtendedNotSpecified = 0xf;  // LENGTH 11b: "LU not specified"

// SPC-5 8.2 Table 558 well known logical unit numbers (W-LUN field).
inline constexpr std::uint8_t kWellKnownReportLuns = 0x01;
inline constexpr std::uint8_t kWellKnownAccessControls = 0x02;
inline constexpr std::uint8_t kWellKnownTargetLogPages = 0x03;
inline constexpr std::uint8_t kWellKnownSecurityProtocol = 0x04;
inline constexpr std::uint8_t kWellKnownManagementProtocol = 0x05;

// One level of the hierarchy, decoded per its address method. Fields a method does not have
// stay zero.
struct LunLevel {
  AddressMethod method = AddressMethod::PeripheralDevice;
  std::uint8_t size = 2;             // bytes this level occupies (2, 4, 6 or 8)
  std::uint8_t bus = 0;              // peripheral: BUS IDENTIFIER (6 bits); LU: BUS NUMBER (3)
  std::uint8_t target = 0;           // logical unit method: TARGET (6 bits)
  std::uint64_t lun = 0;             // peripheral: TARGET OR LUN; flat: 14 bits; LU: 5 bits;
                                     // extended: the extended LUN value (8..56 bits)
  std::uint8_t extended_method = 0;  // extended: EXTENDED ADDRESS METHOD (4 bits)
  bool well_known = false;           // extended method 1, LENGTH 00b: `lun` is the W-LUN
  friend bool operator==(const LunLevel&, const LunLevel&) = default;
};

// Decodes the levels present: level 1 always, further levels while the bytes that follow are
// not all zero. Fails on an extended level longer than the bytes left. Reserved extended
// address method/length combinations are decoded as their fields say.
Result<std::vector<LunLevel>> decode_lun(Lun lun);
// Encodes levels (inverse of decode_lun); fails on values that do not fit their fields or
// more than 8 bytes in total.
Result<Lun> encode_lun(std::span<const LunLevel> levels);

// "5", "flat 300", "W-LUN REPORT LUNS", or the 16 hex digits for anything else
// ("0x0001000200000000").
std::string lun_text(Lun lun);

// CAM's integer LUN (lun_id_t) <-> the 8-byte LUN, as FreeBSD CAM maps them.
// LUN to integer: a single-level peripheral device LUN with bus identifier 0 gives its 8-bit
// LUN, a single-level flat space LUN its 14-bit LUN; any other LUN gives its 8 bytes with the
// four 2-byte levels reversed (CAM's "byte swizzle"), so the first level lands in bits 15:0.
// Integer to LUN: < 256 -> peripheral device method, < 16384 -> flat space, otherwise
// un-swizzled. Known ambiguity, shared with FreeBSD: flat space LUNs below 256 and LUNs whose
// swizzled value is below 16384 (e.g. peripheral method with a nonzero bus identifier) map to
// integers that convert back to a different 8-byte form.
std::uint64_t lun_to_u64(Lun lun);
Lun u64_to_lun(std::uint64_t cam_lun);

// SPC-5 6.33.2 REPORT LUNS parameter data.
struct ReportLuns {
  std::vector<Lun> luns;     // the LUNs present in the data (N)
  std::uint32_t listed = 0;  // LUN LIST LENGTH / 8: the LUNs the device has (M)
  bool truncated() const { return luns.size() < listed; }
  // "list truncated: N of M" (empty when complete).
  std::string truncation_text() const;
};
// Needs the 8-byte header; a LUN LIST LENGTH that is not a multiple of 8 is an error. A list
// cut by the allocation length is not an error: the whole LUNs present are returned and
// `truncated()` is set (a partial trailing LUN is dropped).
Result<ReportLuns> parse_report_luns(Bytes data);
std::vector<std::uint8_t> encode_report_luns(std::span<const std::uint64_t> raw_luns);

}  // namespace ucam::scsi
