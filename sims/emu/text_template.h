// The placeholder grammar of the emulator's configurable strings, in one place: scenario string
// fields (vendor, product, revision, serial) and SES element descriptor patterns. A template is
// parsed once and expanded many times (a generator may expand one per LUN, 100,000 times).
//
//   template    := { literal-char | "{{" | "}}" | placeholder }
//   placeholder := "{" NAME [ ":" [ "0" ] [ WIDTH ] [ "x" | "X" ] ] "}"
//
// * "{{" and "}}" are literal braces; any other "}" is an error.
// * NAME is one of the names the caller allows. The empty name ("{}", "{:02}") is the caller's
//   default variable, allowed only when the caller lists "" among its names.
// * The value, an unsigned integer, prints in decimal, or in hexadecimal with "x" (lower case)
//   or "X" (upper case), right-aligned in WIDTH characters (decimal, at most kMaxTemplateWidth):
//   padded with zeros after the "0" flag, with spaces without it. A value longer than WIDTH
//   prints in full. ":" alone is the plain format.
//
// Examples (names {"bus", "target", "lun", "index"}; lun = 10): "{lun:03}" gives "010",
// "{lun:4}" "  10", "{lun:x}" "a", "{lun:04X}" "000A", "L{{{lun}}}" "L{10}".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace ucam::emu {

// The widest WIDTH a placeholder may ask for, so hostile input cannot ask for unbounded output.
inline constexpr std::size_t kMaxTemplateWidth = 64;

class TextTemplate {
 public:
  // `names[i]` is written "{names[i]}" and takes `values[i]` at expand(). Fails (EINVAL) on an
  // unmatched "}", an unterminated "{", an unknown name, a malformed format or a width above
  // kMaxTemplateWidth; the message quotes the offending text and, for a bad placeholder, lists
  // the allowed ones. The message has no field name: callers prefix their own.
  static Result<TextTemplate> parse(std::string_view text, std::span<const std::string_view> names);

  // The text with every placeholder replaced. `values` holds one value per name given to
  // parse(); a missing one is a contract violation (reported, then read as 0). Allocates once.
  [[nodiscard]] std::string expand(std::span<const std::uint64_t> values) const;

  // Whether the template produces no text at all (parsed from "").
  [[nodiscard]] bool empty() const { return m_segments.empty(); }

 private:
  enum class Radix : std::uint8_t { Decimal, LowerHex, UpperHex };
  // A run of literal text (`literal_length` bytes of m_literals from `literal_offset`) or a
  // placeholder (`variable` < the number of names).
  struct Segment {
    bool placeholder = false;
    std::size_t literal_offset = 0;
    std::size_t literal_length = 0;
    std::size_t variable = 0;
    std::size_t width = 0;
    bool zero_pad = false;
    Radix radix = Radix::Decimal;
  };

  std::string m_literals;  // every literal run, concatenated
  std::vector<Segment> m_segments;
  std::size_t m_variables = 0;     // the number of names given to parse()
  std::size_t m_max_expanded = 0;  // an upper bound of expand()'s length, to reserve once
};

}  // namespace ucam::emu
