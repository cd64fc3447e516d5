#include "service/json_writer.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/check.h"

namespace ucam::service {
namespace {

// Misuse of the writer is a programming error: abort under UCAM_DEBUG_CHECKS, else count it.
void require(bool ok, std::string_view what) {
  if (!ok) {
    report_violation(what);
  }
}

}  // namespace

void JsonWriter::before_value() {
  if (m_levels.empty()) {
    return;
  }
  Level& level = m_levels.back();
  if (level.object) {
    require(level.key_written, "JsonWriter: an object member without key()");
    level.key_written = false;
    return;
  }
  if (level.has_member) {
    m_out += ',';
  }
  level.has_member = true;
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  m_out += '{';
  m_levels.push_back({true, false, false});
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  require(!m_levels.empty() && m_levels.back().object && !m_levels.back().key_written,
          "JsonWriter: end_object() outside an object or after a bare key");
  if (!m_levels.empty()) {
    m_levels.pop_back();
  }
  m_out += '}';
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  m_out += '[';
  m_levels.push_back({false, false, false});
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  require(!m_levels.empty() && !m_levels.back().object, "JsonWriter: end_array() outside an array");
  if (!m_levels.empty()) {
    m_levels.pop_back();
  }
  m_out += ']';
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  require(!m_levels.empty() && m_levels.back().object && !m_levels.back().key_written,
          "JsonWriter: key() outside an object or twice");
  if (m_levels.empty()) {
    m_levels.push_back({true, false, false});
  }
  Level& level = m_levels.back();
  if (level.has_member) {
    m_out += ',';
  }
  level.has_member = true;
  append_escaped(name);
  m_out += ':';
  level.key_written = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
  before_value();
  append_escaped(text);
  return *this;
}

JsonWriter& JsonWriter::number(std::int64_t value) {
  before_value();
  fmt::format_to(std::back_inserter(m_out), "{}", value);
  return *this;
}

JsonWriter& JsonWriter::unsigned_number(std::uint64_t value) {
  before_value();
  fmt::format_to(std::back_inserter(m_out), "{}", value);
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  before_value();
  m_out += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  m_out += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json_text) {
  before_value();
  m_out += json_text;
  return *this;
}

JsonWriter& JsonWriter::reserve(std::size_t bytes) {
  m_out.reserve(bytes);
  return *this;
}

std::string JsonWriter::take() {
  std::string out = std::move(m_out);
  m_out.clear();
  m_levels.clear();
  return out;
}

void JsonWriter::append_escaped(std::string_view text) {
  // Printable ASCII other than '"' and '\\' goes as it is; anything else (control characters,
  // non-ASCII, which may be invalid UTF-8) is left to json's own serializer, so the text is
  // exactly what dump() gives.
  bool plain = true;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    m_out += '"';
    m_out += text;
    m_out += '"';
    return;
  }
  m_out += nlohmann::json(std::string(text))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ucam::service
