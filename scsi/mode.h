// Mode parameters: MODE SENSE data and MODE SELECT parameter lists.
//
// SPC-5 7.5.5 Mode parameter list format: a mode parameter header (6-byte form for MODE
// SENSE(6)/SELECT(6), 8-byte form for the 10-byte commands, 7.5.5 Tables 448/449), zero or
// more block descriptors (7.5.6: short 8-byte, or long 16-byte when LONGLBA is set in the
// 10-byte header; SBC-4 6.4.2 defines the direct-access forms), then mode pages
// (7.5.7 Table 453 page_0 format and Table 454 sub_page format, selected by the SPF bit).
//
// Parsers check every length against the buffer. In MODE SENSE data the MODE DATA LENGTH says
// how much the device had: a buffer cut short by the allocation length sets `truncated` and
// drops the incomplete last page; a page running past the MODE DATA LENGTH is an error. In a
// MODE SELECT parameter list MODE DATA LENGTH is reserved, so the buffer size is the length.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi {

enum class ModeHeaderFormat : std::uint8_t { Six, Ten };

// SPC-5 7.5.6 / SBC-4 6.4.2 block descriptor. The short form holds either the direct-access
// layout (32-bit NUMBER OF LOGICAL BLOCKS) or the general layout (DENSITY CODE in byte 0,
// 24-bit NUMBER OF BLOCKS): `number_of_blocks` is the 32-bit value of bytes 0-3 and
// `density_code` is byte 0, so general-layout users take number_of_blocks & 0xffffff.
struct BlockDescriptor {
  std::uint64_t number_of_blocks = 0;
  std::uint8_t density_code = 0;   // short form only
  std::uint32_t block_length = 0;  // 24 bits in the short form
  friend bool operator==(const BlockDescriptor&, const BlockDescriptor&) = default;
};

// SPC-5 7.5.7 mode page. `data` is the page body after its 2-byte (page_0) or 4-byte
// (sub_page) header.
struct ModePage {
  std::uint8_t page_code = 0;     // 6 bits
  std::uint8_t subpage_code = 0;  // with spf
  bool spf = false;               // sub_page format
  bool ps = false;                // parameters savable (MODE SENSE only)
  std::vector<std::uint8_t> data;
  friend bool operator==(const ModePage&, const ModePage&) = default;
};

struct ModeParameters {
  ModeHeaderFormat format = ModeHeaderFormat::Ten;
  std::uint16_t mode_data_length = 0;  // parse of MODE SENSE: as received
  std::uint8_t medium_type = 0;
  std::uint8_t device_specific = 0;  // SBC-4: WP bit 7, DPOFUA bit 4
  bool longlba = false;              // 10-byte header only
  std::vector<BlockDescriptor> block_descriptors;
  std::vector<ModePage> pages;
  bool truncated = false;  // MODE SENSE data shorter than MODE DATA LENGTH says

  // SBC-4 6.4.1 DEVICE-SPECIFIC PARAMETER of direct-access devices.
  bool write_protected() const { return (device_specific & 0x80) != 0; }
  bool dpofua() const { return (device_specific & 0x10) != 0; }
  friend bool operator==(const ModeParameters&, const ModeParameters&) = default;
};

// MODE SENSE(6)/(10) parameter data.
Result<ModeParameters> parse_mode_sense_data(Bytes data, ModeHeaderFormat format);
// MODE SELECT(6)/(10) parameter list.
Result<ModeParameters> parse_mode_select_list(Bytes data, ModeHeaderFormat format);

// Builds MODE SENSE data: MODE DATA LENGTH and BLOCK DESCRIPTOR LENGTH are computed. Fails on
// lengths that do not fit the header (6-byte form: total 256 bytes, descriptors 255 bytes),
// a long descriptor in the 6-byte form, short-form values wider than their fields, a page
// code above 0x3f, or a page body longer than its PAGE LENGTH field allows.
Result<std::vector<std::uint8_t>> encode_mode_sense_data(const ModeParameters& parameters);
// Builds a MODE SELECT parameter list: as above with MODE DATA LENGTH and PS set to zero.
Result<std::vector<std::uint8_t>> encode_mode_select_list(const ModeParameters& parameters);

// The page with this code (and subpage, for sub_page format pages), or nullptr.
const ModePage* find_mode_page(const ModeParameters& parameters, std::uint8_t page_code,
                               std::uint8_t subpage_code = 0);

}  // namespace ucam::scsi
