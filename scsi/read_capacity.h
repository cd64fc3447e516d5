// READ CAPACITY parameter data.
//
// SBC-4 5.20.2 READ CAPACITY (10) parameter data (8 bytes) and SBC-4 5.21.2 READ CAPACITY (16)
// parameter data (32 bytes).
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi {

inline constexpr std::size_t kReadCapacity10Length = 8;
inline constexpr std::size_t kReadCapacity16Length = 32;

// SBC-4 5.20.2: a RETURNED LOGICAL BLOCK ADDRESS of 0xffffffff means "use READ CAPACITY(16)".
inline constexpr std::uint32_t kReadCapacity10Overflow = 0xffffffff;

struct ReadCapacity10Data {
  std::uint32_t last_lba = 0;      // bytes 0-3 RETURNED LOGICAL BLOCK ADDRESS
  std::uint32_t block_length = 0;  // bytes 4-7 BLOCK LENGTH IN BYTES
  friend bool operator==(const ReadCapacity10Data&, const ReadCapacity10Data&) = default;
};
Result<ReadCapacity10Data> parse_read_capacity10(Bytes data);
std::vector<std::uint8_t> encode_read_capacity10(const ReadCapacity10Data& data);
// The (10) data for a device of `block_count` blocks: last LBA, or 0xffffffff when it
// does not fit (SBC-4 5.20.2).
ReadCapacity10Data read_capacity10_for(std::uint64_t block_count, std::uint32_t block_length);

struct ReadCapacity16Data {
  std::uint64_t last_lba = 0;      // bytes 0-7 RETURNED LOGICAL BLOCK ADDRESS
  std::uint32_t block_length = 0;  // bytes 8-11 LOGICAL BLOCK LENGTH IN BYTES
  std::uint8_t rc_basis = 0;       // byte 12 bits 5:4
  std::uint8_t p_type = 0;         // byte 12 bits 3:1 (protection type - 1 when prot_en)
  bool prot_en = false;            // byte 12 bit 0
  std::uint8_t p_i_exponent = 0;   // byte 13 bits 7:4
  std::uint8_t logical_per_physical_exponent = 0;  // byte 13 bits 3:0
  bool lbpme = false;                              // byte 14 bit 7
  bool lbprz = false;                              // byte 14 bit 6
  std::uint16_t lowest_aligned_lba = 0;            // byte 14 bits 5:0, byte 15 (14 bits)
  // Parse only: fewer than 16 bytes were returned, the fields from byte 12 on are zero.
  bool truncated = false;

  std::uint64_t block_count() const { return last_lba + 1; }
  friend bool operator==(const ReadCapacity16Data&, const ReadCapacity16Data&) = default;
};
// Needs at least 12 bytes (the allocation length may cut the rest; `truncated` then says the
// protection and provisioning fields were not returned).
Result<ReadCapacity16Data> parse_read_capacity16(Bytes data);
// Fails when a sub-byte field overflows its width.
Result<std::vector<std::uint8_t>> encode_read_capacity16(const ReadCapacity16Data& data);

}  // namespace ucam::scsi
