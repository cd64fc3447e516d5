// Hex text <-> bytes, in the format sg3_utils documents for --inhex ("FORMAT OF FILES
// CONTAINING ASCII HEX"): one- or two-digit hex tokens separated by spaces, tabs, commas or
// newlines; '#' starts a comment to the end of the line. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam {

enum class HexTokens : std::uint8_t {
  ByteTokens,  // sg3_utils style: every token is one byte (1 or 2 digits).
  AllowRuns,   // also accept runs of pairs ("120000002400"); odd-length runs are an error.
};

// The value of one hex digit (either case), or -1. Inline: the preload library uses it
// without linking ucam_base.
constexpr int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Parses hex text. Errors name the line and column of the first bad token.
Result<std::vector<std::uint8_t>> parse_hex(std::string_view text,
                                            HexTokens tokens = HexTokens::ByteTokens);

// "12 00 00 00 24 00" (no trailing space).
std::string hex_string(Bytes bytes);

// Canonical dump: offset, 16 bytes in hex, printable ASCII.
//   00000000  00 00 05 02 5b 00 00 00  41 43 4d 45 20 20 20 20  |....[...ACME    |
std::string hex_dump(Bytes bytes);

}  // namespace ucam
