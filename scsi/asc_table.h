// Internal: the T10 ASC/ASCQ description table (see asc_table.cpp). Not part of the API;
// use asc_ascq_text() from scsi/sense.h.
#pragma once

#include <array>
#include <cstdint>

namespace ucam::scsi::detail {

struct AscEntry {
  std::uint16_t code;  // ASC << 8 | ASCQ
  const char* text;    // T10 description, upper case as published
};

inline constexpr std::size_t kAscTableSize = 744;
// Sorted by code.
extern const std::array<AscEntry, kAscTableSize> kAscTable;

}  // namespace ucam::scsi::detail
