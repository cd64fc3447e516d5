// Typed, path-aware reading of scenario JSON. Audience: the scenario parser and device model
// authors (a model reads its own LUN keys through an `ObjectReader`).
//
// Every error names the scenario source, the JSON path of the offending field and the problem:
//   examples/x.json: buses[0].targets[2].luns[0].capacity: expected a positive integer, got "ten"
// Readers only read; they never throw (nlohmann's throwing accessors are not used).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace ucam::emu {

// Parses JSON text strictly (no comments, no trailing commas). Syntax errors name the line and
// column; a key that appears twice in one object is an error naming its path. Text nested more
// than kMaxJsonNesting (64) arrays and objects deep is refused, before parsing, naming the line,
// column and byte where it goes too deep.
Result<nlohmann::json> parse_json_document(std::string_view text, std::string_view source_name);

// "a string", "an integer"..., and a short rendering of `value` for messages.
std::string describe_json_value(const nlohmann::json& value);

// Reads the keys of one JSON object. Each accessor marks its key as known; `finish()` then
// reports the first key nobody asked for, which catches typos ("capactiy").
class ObjectReader {
 public:
  // `object` must outlast the reader. `path` is the JSON path of `object` ("" for the root).
  ObjectReader(const nlohmann::json& object, std::string_view source_name, std::string path);

  const std::string& path() const { return m_path; }
  std::string_view source_name() const { return m_source; }
  // "buses[0].targets" for key "targets".
  std::string path_of(std::string_view key) const;
  // An Error "<source>: <path>.<key>: <problem>" (or "<source>: <path>: <problem>" with an empty
  // key).
  Error error(std::string_view key, std::string_view problem) const;

  bool has(std::string_view key) const;
  // The raw value of `key`, or nullptr when absent. Marks the key as known.
  const nlohmann::json* find(std::string_view key);

  // Integer in [min, max]. JSON floats with an integral value are not accepted: a scenario
  // states counts, not measurements.
  Result<std::optional<std::uint64_t>> unsigned_integer(std::string_view key, std::uint64_t min,
                                                        std::uint64_t max);
  Result<std::optional<std::string>> string(std::string_view key);
  Result<std::optional<bool>> boolean(std::string_view key);
  // One of `allowed`; the error lists them.
  Result<std::optional<std::string>> choice(std::string_view key,
                                            std::span<const std::string_view> allowed);
  // A 64-bit identifier written as a string of exactly 16 hex digits (an optional "0x" prefix is
  // accepted): NAA designators and SAS addresses.
  Result<std::optional<std::uint64_t>> hex64(std::string_view key);

  // Fails on the first key that no accessor asked for. "comment" keys are always allowed.
  Result<void> finish() const;

 private:
  const nlohmann::json& m_object;
  std::string_view m_source;
  std::string m_path;
  std::vector<std::string> m_known;
};

// JSON path helpers: join("buses[0]", "targets") == "buses[0].targets", index("luns", 2) ==
// "luns[2]".
std::string json_path_join(std::string_view parent, std::string_view key);
std::string json_path_index(std::string_view parent, std::size_t index);

}  // namespace ucam::emu
