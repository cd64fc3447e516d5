// Big-endian load/store helpers for wire formats. Every multi-byte SCSI field goes through
// these; callers bounds-check the span first (see scsi/ parsers), these only assert.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ucam {

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;

inline std::uint16_t load_be16(Bytes b, std::size_t off) {
  assert(off + 2 <= b.size());
  return static_cast<std::uint16_t>((b[off] << 8) | b[off + 1]);
}
inline std::uint32_t load_be24(Bytes b, std::size_t off) {
  assert(off + 3 <= b.size());
  return (std::uint32_t{b[off]} << 16) | (std::uint32_t{b[off + 1]} << 8) | b[off + 2];
}
inline std::uint32_t load_be32(Bytes b, std::size_t off) {
  assert(off + 4 <= b.size());
  return (std::uint32_t{b[off]} << 24) | (std::uint32_t{b[off + 1]} << 16) |
         (std::uint32_t{b[off + 2]} << 8) | b[off + 3];
}
inline std::uint64_t load_be64(Bytes b, std::size_t off) {
  assert(off + 8 <= b.size());
  return (std::uint64_t{load_be32(b, off)} << 32) | load_be32(b, off + 4);
}
inline void store_be16(MutableBytes b, std::size_t off, std::uint16_t v) {
  assert(off + 2 <= b.size());
  b[off] = static_cast<std::uint8_t>(v >> 8);
  b[off + 1] = static_cast<std::uint8_t>(v);
}
inline void store_be24(MutableBytes b, std::size_t off, std::uint32_t v) {
  assert(off + 3 <= b.size());
  b[off] = static_cast<std::uint8_t>(v >> 16);
  b[off + 1] = static_cast<std::uint8_t>(v >> 8);
  b[off + 2] = static_cast<std::uint8_t>(v);
}
inline void store_be32(MutableBytes b, std::size_t off, std::uint32_t v) {
  assert(off + 4 <= b.size());
  for (std::size_t i = 0; i < 4; ++i) {
    b[off + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  }
}
inline void store_be64(MutableBytes b, std::size_t off, std::uint64_t v) {
  store_be32(b, off, static_cast<std::uint32_t>(v >> 32));
  store_be32(b, off + 4, static_cast<std::uint32_t>(v));
}

// Sub-byte field accessor: bits [lsb, lsb+width) of a byte.
constexpr std::uint8_t bits(std::uint8_t byte, unsigned lsb, unsigned width) {
  return static_cast<std::uint8_t>((byte >> lsb) & ((1U << width) - 1U));
}
constexpr bool bit(std::uint8_t byte, unsigned n) {
  return ((byte >> n) & 1U) != 0;
}

}  // namespace ucam
