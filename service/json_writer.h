// JsonWriter: JSON text written member by member, for replies too large to build as a json tree
// first (ch.status of a 1,000-slot library: the tree, its dump and its destruction were most of
// the reply's cost). The text is what json::dump() would give for the same values in the same
// order, including replacing invalid UTF-8 with U+FFFD (dump's error_handler_t::replace).
//
// Contract: calls must nest properly (key() before each member value in an object, matching
// begin/end); a misuse is a programming error (report_violation), not a runtime condition. Commas
// are written by the writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ucam::service {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view text);
  JsonWriter& number(std::int64_t value);
  JsonWriter& unsigned_number(std::uint64_t value);  // Values above INT64_MAX, e.g. LUNs.
  JsonWriter& boolean(bool value);
  JsonWriter& null();
  // A value already rendered as JSON text (e.g. json::dump() of a small part).
  JsonWriter& raw(std::string_view json_text);

  // Room for `bytes` of text in all, so that a long text is not copied as it grows (memory
  // reserved and never written is not touched, so costs no RSS).
  JsonWriter& reserve(std::size_t bytes);

  // The text so far; the writer is empty afterwards.
  std::string take();

 private:
  void before_value();
  void append_escaped(std::string_view text);

  std::string m_out;
  // One entry per open object or array: whether it has a member yet, and whether the next
  // value is a member's (after key()).
  struct Level {
    bool object = false;
    bool has_member = false;
    bool key_written = false;
  };
  std::vector<Level> m_levels;
};

}  // namespace ucam::service
