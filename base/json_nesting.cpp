#include "base/json_nesting.h"

#include <algorithm>

namespace ucam {

JsonNesting json_nesting(std::string_view text, std::size_t limit) {
  JsonNesting out;
  std::size_t depth = 0;
  std::size_t line = 1;
  std::size_t line_start = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      // A raw newline cannot be inside a valid string, but count it anyway: the position is
      // for a person looking at the file.
      ++line;
      line_start = i + 1;
    }
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      out.deepest = std::max(out.deepest, ++depth);
      if (depth > limit && !out.beyond_limit) {
        out.beyond_limit = JsonNesting::Position{i, line, i - line_start + 1};
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return out;
}

}  // namespace ucam
