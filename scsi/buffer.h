// READ BUFFER descriptors.
//
// SPC-5 6.20.5 READ BUFFER descriptor mode (03h): OFFSET BOUNDARY (byte 0), BUFFER CAPACITY
// (bytes 1-3). SPC-5 6.20.7 echo buffer descriptor mode (0Bh): EBOS (byte 0 bit 0), BUFFER
// CAPACITY (bytes 2-3, 13 bits).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi {

inline constexpr std::size_t kBufferDescriptorLength = 4;
// OFFSET BOUNDARY FFh: the BUFFER OFFSET field shall be zero (SPC-5 Table 248).
inline constexpr std::uint8_t kOffsetBoundaryZeroOnly = 0xff;

struct BufferDescriptor {
  std::uint8_t offset_boundary = 0;   // offsets are multiples of 2^offset_boundary
  std::uint32_t buffer_capacity = 0;  // 24 bits

  // Alignment in bytes of the BUFFER OFFSET, or nullopt when only offset 0 is allowed.
  std::optional<std::uint64_t> offset_alignment() const;
  friend bool operator==(const BufferDescriptor&, const BufferDescriptor&) = default;
};
Result<BufferDescriptor> parse_buffer_descriptor(Bytes data);
// Fails when the capacity exceeds 24 bits or the boundary is above 63 and not FFh.
Result<std::array<std::uint8_t, kBufferDescriptorLength>> encode_buffer_descriptor(
    const BufferDescriptor& descriptor);

struct EchoBufferDescriptor {
  bool ebos = false;                  // echo buffer overwritten supported
  std::uint16_t buffer_capacity = 0;  // 13 bits
  friend bool operator==(const EchoBufferDescriptor&, const EchoBufferDescriptor&) = default;
};
Result<EchoBufferDescriptor> parse_echo_buffer_descriptor(Bytes data);
Result<std::array<std::uint8_t, kBufferDescriptorLength>> encode_echo_buffer_descriptor(
    const EchoBufferDescriptor& descriptor);

}  // namespace ucam::scsi
