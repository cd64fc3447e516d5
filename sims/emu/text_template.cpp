#include "sims/emu/text_template.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "base/check.h"

namespace ucam::emu {

namespace {

// Digits of the longest value: 2^64 - 1 in decimal.
constexpr std::size_t kMaxDigits = 20;
// Messages quote at most this much of the offending text, so a huge string makes a short error.
constexpr std::size_t kMaxQuoted = 40;

std::string quoted(std::string_view text) {
  if (text.size() > kMaxQuoted) {
    return fmt::format("\"{}...\"", text.substr(0, kMaxQuoted));
  }
  return fmt::format("\"{}\"", text);
}

// "{bus}, {target}, {lun} or {index}"; the default variable reads "{}".
std::string allowed_placeholders(std::span<const std::string_view> names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      out += i + 1 == names.size() ? " or " : ", ";
    }
    out += fmt::format("{{{}}}", names[i]);
  }
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

Result<TextTemplate> TextTemplate::parse(std::string_view text,
                                         std::span<const std::string_view> names) {
  TextTemplate result;
  result.m_variables = names.size();
  // Closes the literal run that starts at `literal_start` in m_literals, if it is not empty.
  std::size_t literal_start = 0;
  const auto close_literal = [&] {
    if (result.m_literals.size() > literal_start) {
      Segment segment;
      segment.literal_offset = literal_start;
      segment.literal_length = result.m_literals.size() - literal_start;
      result.m_segments.push_back(segment);
      literal_start = result.m_literals.size();
    }
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        result.m_literals += '}';
        ++i;
        continue;
      }
      return fail_invalid(
          fmt::format("unmatched '}}' in {} (write '}}}}' for a literal brace)", quoted(text)));
    }
    if (c != '{') {
      result.m_literals += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      result.m_literals += '{';
      ++i;
      continue;
    }
    const auto close = text.find('}', i);
    if (close == std::string_view::npos) {
      return fail_invalid(
          fmt::format("unterminated placeholder {} (write '{{{{' for a literal brace)",
                      quoted(text.substr(i))));
    }
    const std::string_view whole = text.substr(i, close - i + 1);
    const std::string_view body = text.substr(i + 1, close - i - 1);
    const auto bad = [&] {
      return fail_invalid(
          fmt::format("bad placeholder {}: expected {} with an optional format like :04 or :x",
                      quoted(whole), allowed_placeholders(names)));
    };
    const auto colon = body.find(':');
    const std::string_view name = body.substr(0, colon);
    const auto found = std::find(names.begin(), names.end(), name);
    if (found == names.end()) {
      return bad();
    }
    Segment segment;
    segment.placeholder = true;
    segment.variable = static_cast<std::size_t>(found - names.begin());
    if (colon != std::string_view::npos) {
      const std::string_view format = body.substr(colon + 1);
      std::size_t pos = 0;
      if (pos < format.size() && format[pos] == '0') {
        segment.zero_pad = true;
        ++pos;
      }
      for (; pos < format.size() && is_digit(format[pos]); ++pos) {
        // Saturates just above the bound, so a long run of digits cannot overflow.
        segment.width = std::min(segment.width * 10 + static_cast<std::size_t>(format[pos] - '0'),
                                 kMaxTemplateWidth + 1);
      }
      if (pos < format.size() && (format[pos] == 'x' || format[pos] == 'X')) {
        segment.radix = format[pos] == 'x' ? Radix::LowerHex : Radix::UpperHex;
        ++pos;
      }
      if (pos != format.size()) {
        return bad();
      }
      if (segment.width > kMaxTemplateWidth) {
        return fail_invalid(fmt::format("bad placeholder {}: the width is at most {}",
                                        quoted(whole), kMaxTemplateWidth));
      }
    }
    close_literal();
    result.m_segments.push_back(segment);
    result.m_max_expanded += std::max(segment.width, kMaxDigits);
    i = close;
  }
  close_literal();
  result.m_max_expanded += result.m_literals.size();
  return result;
}

std::string TextTemplate::expand(std::span<const std::uint64_t> values) const {
  if (values.size() < m_variables) {
    report_violation("TextTemplate::expand: fewer values than names");
  }
  std::string out;
  out.reserve(m_max_expanded);
  for (const auto& segment : m_segments) {
    if (!segment.placeholder) {
      out.append(m_literals, segment.literal_offset, segment.literal_length);
      continue;
    }
    const std::uint64_t value = segment.variable < values.size() ? values[segment.variable] : 0;
    std::array<char, kMaxDigits> digits{};
    char* const end = std::to_chars(digits.data(), digits.data() + digits.size(), value,
                                    segment.radix == Radix::Decimal ? 10 : 16)
                          .ptr;
    const auto length = static_cast<std::size_t>(end - digits.data());
    if (segment.radix == Radix::UpperHex) {
      std::transform(digits.data(), end, digits.data(), [](char c) {
        return c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c;
      });
    }
    if (length < segment.width) {
      out.append(segment.width - length, segment.zero_pad ? '0' : ' ');
    }
    out.append(digits.data(), length);
  }
  return out;
}

}  // namespace ucam::emu
