#include "base/hex.h"

#include <fmt/format.h>

namespace ucam {
namespace {

bool is_separator(char c) {
  return c == ' ' || c == '\t' || c == ',' || c == '\r';
}

}  // namespace

Result<std::vector<std::uint8_t>> parse_hex(std::string_view text, HexTokens tokens) {
  std::vector<std::uint8_t> out;
  std::size_t line = 1;
  std::size_t line_start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      line_start = i;
      continue;
    }
    if (is_separator(c)) {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && !is_separator(text[i]) && text[i] != '\n' && text[i] != '#') {
      ++i;
    }
    const std::string_view token = text.substr(start, i - start);
    const std::size_t column = start - line_start + 1;
    for (char d : token) {
      if (hex_digit(d) < 0) {
        return fail_invalid(
            fmt::format("line {} column {}: '{}' is not a hex byte", line, column, token));
      }
    }
    if (token.size() <= 2) {
      int value = 0;
      for (char d : token) {
        value = value * 16 + hex_digit(d);
      }
      out.push_back(static_cast<std::uint8_t>(value));
      continue;
    }
    if (tokens == HexTokens::ByteTokens || token.size() % 2 != 0) {
      return fail_invalid(fmt::format(
          "line {} column {}: '{}' is not a hex byte (tokens are one or two hex digits)", line,
          column, token));
    }
    for (std::size_t k = 0; k < token.size(); k += 2) {
      out.push_back(static_cast<std::uint8_t>(hex_digit(token[k]) * 16 + hex_digit(token[k + 1])));
    }
  }
  return out;
}

std::string hex_string(Bytes bytes) {
  std::string s;
  s.reserve(bytes.size() * 3);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) {
      s += ' ';
    }
    s += fmt::format("{:02x}", bytes[i]);
  }
  return s;
}

std::string hex_dump(Bytes bytes) {
  std::string out;
  for (std::size_t off = 0; off < bytes.size(); off += 16) {
    out += fmt::format("{:08x} ", off);
    std::string ascii;
    for (std::size_t k = 0; k < 16; ++k) {
      if (k == 8) {
        out += ' ';
      }
      if (off + k < bytes.size()) {
        const std::uint8_t b = bytes[off + k];
        out += fmt::format(" {:02x}", b);
        ascii += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
      } else {
        out += "   ";
      }
    }
    out += "  |" + ascii + "|\n";
  }
  return out;
}

}  // namespace ucam
