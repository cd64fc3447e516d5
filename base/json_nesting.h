// How deeply a JSON text nests, found by one linear scan before anything parses it. Building a
// DOM (and, in the scenario reader, naming each value's path) costs more per level, so text from
// outside (requests, scenario files) is refused above a small depth before it is parsed. Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ucam {

// The depth that ucamd's requests and the emulator's scenario files may reach. Real documents
// nest a few levels; a scenario nests about ten.
inline constexpr std::size_t kMaxJsonNesting = 64;

struct JsonNesting {
  std::size_t deepest = 0;  // Deepest nesting of arrays and objects; 0 for a scalar.
  // Where the text first goes deeper than the limit asked for: the byte offset of the '[' or
  // '{' that opens level limit + 1, and its line and column (from 1, in bytes).
  struct Position {
    std::size_t offset = 0;
    std::size_t line = 0;
    std::size_t column = 0;
  };
  std::optional<Position> beyond_limit;
};

// Scans `text` once: brackets inside strings (escapes included) do not count; a stray closing
// bracket does not make the depth negative (the parser reports it). Does not validate JSON.
JsonNesting json_nesting(std::string_view text, std::size_t limit = kMaxJsonNesting);

}  // namespace ucam
