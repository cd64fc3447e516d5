#include "scsi/buffer.h"

#include <string>

namespace ucam::scsi {

std::optional<std::uint64_t> BufferDescriptor::offset_alignment() const {
  if (offset_boundary == kOffsetBoundaryZeroOnly || offset_boundary > 63) {
    return std::nullopt;
  }
  return std::uint64_t{1} << offset_boundary;
}

// SPC-5 6.20.5 Descriptor mode (03h).
Result<BufferDescriptor> parse_buffer_descriptor(Bytes data) {
  if (data.size() < kBufferDescriptorLength) {
    return fail_invalid("READ BUFFER descriptor truncated: " + std::to_string(data.size()) +
                        " of 4 bytes");
  }
  return BufferDescriptor{data[0], load_be24(data, 1)};
}

Result<std::array<std::uint8_t, kBufferDescriptorLength>> encode_buffer_descriptor(
    const BufferDescriptor& d) {
  if (d.buffer_capacity > 0xffffff) {
    return fail_invalid("READ BUFFER descriptor: capacity exceeds 24 bits");
  }
  if (d.offset_boundary > 63 && d.offset_boundary != kOffsetBoundaryZeroOnly) {
    return fail_invalid("READ BUFFER descriptor: offset boundary " +
                        std::to_string(d.offset_boundary) + " is neither 0..63 nor 0xff");
  }
  std::array<std::uint8_t, kBufferDescriptorLength> out{};
  out[0] = d.offset_boundary;
  store_be24(MutableBytes(out), 1, d.buffer_capacity);
  return out;
}

// SPC-5 6.20.7 Echo buffer descriptor mode (0Bh).
Result<EchoBufferDescriptor> parse_echo_buffer_descriptor(Bytes data) {
  if (data.size() < kBufferDescriptorLength) {
    return fail_invalid("echo buffer descriptor truncated: " + std::to_string(data.size()) +
                        " of 4 bytes");
  }
  return EchoBufferDescriptor{bit(data[0], 0),
                              static_cast<std::uint16_t>(load_be16(data, 2) & 0x1fff)};
}

Result<std::array<std::uint8_t, kBufferDescriptorLength>> encode_echo_buffer_descriptor(
    const EchoBufferDescriptor& d) {
  if (d.buffer_capacity > 0x1fff) {
    return fail_invalid("echo buffer descriptor: capacity exceeds 13 bits");
  }
  std::array<std::uint8_t, kBufferDescriptorLength> out{};
  out[0] = d.ebos ? 0x01 : 0x00;
  store_be16(MutableBytes(out), 2, d.buffer_capacity);
  return out;
}

}  // namespace ucam::scsi
