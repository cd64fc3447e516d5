#include "sims/emu/json_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/json_nesting.h"

namespace ucam::emu {

using nlohmann::json;

std::string json_path_join(std::string_view parent, std::string_view key) {
  if (parent.empty()) {
    return std::string(key);
  }
  if (key.empty()) {
    return std::string(parent);
  }
  return fmt::format("{}.{}", parent, key);
}

std::string json_path_index(std::string_view parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

namespace {

// Builds the DOM from SAX events so that duplicate keys can be rejected (nlohmann's own DOM
// parser silently keeps the last one, which hides copy-paste mistakes in hand-written
// scenarios) and so that syntax errors arrive as values, not exceptions.
class DomBuilder {
 public:
  explicit DomBuilder(json& root) : m_root(root) {}

  bool null() { return add(json(nullptr)); }
  bool boolean(bool value) { return add(json(value)); }
  bool number_integer(json::number_integer_t value) { return add(json(value)); }
  bool number_unsigned(json::number_unsigned_t value) { return add(json(value)); }
  bool number_float(json::number_float_t value, const json::string_t& /*text*/) {
    return add(json(value));
  }
  bool string(json::string_t& value) { return add(json(std::move(value))); }
  bool binary(json::binary_t& value) { return add(json(std::move(value))); }
  bool start_object(std::size_t /*elements*/) { return open(json::object()); }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(json::array()); }
  bool end_array() { return close(); }

  bool key(json::string_t& key) {
    Frame& top = m_stack.back();
    if (top.value->contains(key)) {
      m_error = fmt::format("{}: duplicate key \"{}\"", display_path(top.path), key);
      return false;
    }
    top.key = std::move(key);
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    // nlohmann's message is "[json.exception.parse_error.101] parse error at line 3, column
    // 5: syntax error while parsing ..."; keep what a user needs.
    std::string_view what = ex.what();
    constexpr std::string_view kMarker = "parse error at ";
    if (const auto at = what.find(kMarker); at != std::string_view::npos) {
      what.remove_prefix(at + kMarker.size());
    }
    m_error = std::string(what);
    return false;
  }

  [[nodiscard]] const std::string& error() const { return m_error; }

 private:
  struct Frame {
    json* value;
    std::string path;
    std::string key;             // Pending key (objects).
    std::size_t next_index = 0;  // Arrays.
  };

  static std::string display_path(const std::string& path) {
    return path.empty() ? "(root)" : path;
  }

  // Inserts `value` into the innermost container and returns it (and its path).
  std::pair<json*, std::string> insert(json value) {
    if (m_stack.empty()) {
      m_root = std::move(value);
      return {&m_root, ""};
    }
    Frame& top = m_stack.back();
    if (top.value->is_array()) {
      top.value->push_back(std::move(value));
      return {&top.value->back(), json_path_index(top.path, top.next_index++)};
    }
    json& slot = (*top.value)[top.key];
    slot = std::move(value);
    return {&slot, json_path_join(top.path, top.key)};
  }

  bool add(json value) {
    insert(std::move(value));
    return true;
  }

  bool open(json container) {
    auto [slot, path] = insert(std::move(container));
    // `slot` stays valid while it is open: its parent gets no other element until it closes.
    m_stack.push_back(Frame{slot, std::move(path), {}, 0});
    return true;
  }

  bool close() {
    m_stack.pop_back();
    return true;
  }

  json& m_root;
  std::vector<Frame> m_stack;
  std::string m_error;
};

constexpr std::size_t kMaxShownValue = 40;

}  // namespace

Result<json> parse_json_document(std::string_view text, std::string_view source_name) {
  // Refused before parsing: the DOM builder keeps a path string per open level, so time and
  // memory would grow with the square of the depth (also inside an ignored "comment").
  if (const auto nesting = json_nesting(text); nesting.beyond_limit) {
    const auto& at = *nesting.beyond_limit;
    return fail_invalid(
        fmt::format("{}: line {}, column {} (byte {}): arrays and objects nested more than {} "
                    "deep (the limit)",
                    source_name, at.line, at.column, at.offset, kMaxJsonNesting));
  }
  json root;
  DomBuilder builder(root);
  const bool ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                                  /*strict=*/true);
  if (!ok) {
    return fail_invalid(fmt::format("{}: {}", source_name, builder.error()));
  }
  return root;
}

std::string describe_json_value(const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::null:
      return "null";
    default:
      break;
  }
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxShownValue) {
    text.resize(kMaxShownValue);
    text += "...";
  }
  return text;
}

ObjectReader::ObjectReader(const json& object, std::string_view source_name, std::string path)
    : m_object(object), m_source(source_name), m_path(std::move(path)) {
}

std::string ObjectReader::path_of(std::string_view key) const {
  return json_path_join(m_path, key);
}

Error ObjectReader::error(std::string_view key, std::string_view problem) const {
  std::string path = path_of(key);
  if (path.empty()) {
    return Error::invalid(fmt::format("{}: {}", m_source, problem));
  }
  return Error::invalid(fmt::format("{}: {}: {}", m_source, path, problem));
}

bool ObjectReader::has(std::string_view key) const {
  return m_object.is_object() && m_object.contains(key);
}

const json* ObjectReader::find(std::string_view key) {
  if (std::find(m_known.begin(), m_known.end(), key) == m_known.end()) {
    m_known.emplace_back(key);
  }
  if (!m_object.is_object()) {
    return nullptr;
  }
  const auto it = m_object.find(key);
  return it == m_object.end() ? nullptr : &*it;
}

Result<std::optional<std::uint64_t>> ObjectReader::unsigned_integer(std::string_view key,
                                                                    std::uint64_t min,
                                                                    std::uint64_t max) {
  const json* value = find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  const auto expectation = [&]() -> std::string {
    if (min == 1 && max == std::numeric_limits<std::uint64_t>::max()) {
      return "a positive integer";
    }
    if (min == 0 && max == std::numeric_limits<std::uint64_t>::max()) {
      return "a non-negative integer";
    }
    return fmt::format("an integer in {}..{}", min, max);
  };
  std::uint64_t number = 0;
  if (value->is_number_unsigned()) {
    number = value->get<std::uint64_t>();
  } else if (value->is_number_integer() && value->get<std::int64_t>() >= 0) {
    number = static_cast<std::uint64_t>(value->get<std::int64_t>());
  } else {
    return fail(
        error(key, fmt::format("expected {}, got {}", expectation(), describe_json_value(*value))));
  }
  if (number < min || number > max) {
    return fail(error(key, fmt::format("expected {}, got {}", expectation(), number)));
  }
  return number;
}

Result<std::optional<std::string>> ObjectReader::string(std::string_view key) {
  const json* value = find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    return fail(error(key, fmt::format("expected a string, got {}", describe_json_value(*value))));
  }
  return value->get<std::string>();
}

Result<std::optional<bool>> ObjectReader::boolean(std::string_view key) {
  const json* value = find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_boolean()) {
    return fail(
        error(key, fmt::format("expected true or false, got {}", describe_json_value(*value))));
  }
  return value->get<bool>();
}

Result<std::optional<std::string>> ObjectReader::choice(std::string_view key,
                                                        std::span<const std::string_view> allowed) {
  auto text = string(key);
  if (!text || !*text) {
    return text;
  }
  if (std::find(allowed.begin(), allowed.end(), **text) != allowed.end()) {
    return text;
  }
  std::string list;
  for (const auto& name : allowed) {
    list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", name);
  }
  return fail(error(key, fmt::format("expected one of {}, got \"{}\"", list, **text)));
}

Result<std::optional<std::uint64_t>> ObjectReader::hex64(std::string_view key) {
  const json* value = find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  const auto bad = [&] {
    return fail(error(key, fmt::format("expected a string of 16 hex digits, got {}",
                                       describe_json_value(*value))));
  };
  if (!value->is_string()) {
    return bad();
  }
  std::string_view digits = value->get_ref<const std::string&>();
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    digits.remove_prefix(2);
  }
  if (digits.size() != 16) {
    return bad();
  }
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number, 16);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return bad();
  }
  return number;
}

Result<void> ObjectReader::finish() const {
  if (!m_object.is_object()) {
    return {};
  }
  for (const auto& [key, value] : m_object.items()) {
    if (key == "comment") {
      continue;
    }
    if (std::find(m_known.begin(), m_known.end(), key) == m_known.end()) {
      return fail(error(key, "unknown key"));
    }
  }
  return {};
}

}  // namespace ucam::emu
