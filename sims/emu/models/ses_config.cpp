// Parsing of the "ses" scenario keys (docs/scenarios.md, "Enclosures").
#include "sims/emu/models/ses_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "base/hex.h"

namespace ucam::emu {

using nlohmann::json;
namespace ses = scsi::ses;

namespace {

struct GroupKind {
  std::string_view name;
  std::uint8_t type;
};
// Ascending type codes: the object form of "elements" lists its groups in this order.
constexpr std::array kGroupKinds = {
    GroupKind{"unspecified", 0x00},
    GroupKind{"slots", 0x01},
    GroupKind{"power_supplies", 0x02},
    GroupKind{"fans", 0x03},
    GroupKind{"temperature_sensors", 0x04},
    GroupKind{"doors", 0x05},
    GroupKind{"alarms", 0x06},
    GroupKind{"esc_electronics", 0x07},
    GroupKind{"scc_electronics", 0x08},
    GroupKind{"nonvolatile_caches", 0x09},
    GroupKind{"invalid_operation_reasons", 0x0a},
    GroupKind{"ups", 0x0b},
    GroupKind{"displays", 0x0c},
    GroupKind{"keypads", 0x0d},
    GroupKind{"enclosures", 0x0e},
    GroupKind{"transceivers", 0x0f},
    GroupKind{"languages", 0x10},
    GroupKind{"communication_ports", 0x11},
    GroupKind{"voltage_sensors", 0x12},
    GroupKind{"current_sensors", 0x13},
    GroupKind{"target_ports", 0x14},
    GroupKind{"initiator_ports", 0x15},
    GroupKind{"simple_subenclosures", 0x16},
    GroupKind{"array_slots", 0x17},
    GroupKind{"sas_expanders", 0x18},
    GroupKind{"sas_connectors", 0x19},
};

constexpr std::array<std::string_view, 9> kStatusNames = {
    "unsupported",   "ok",      "critical",      "noncritical", "unrecoverable",
    "not_installed", "unknown", "not_available", "no_access"};

constexpr std::size_t kMaxDescriptorLength = 128;
constexpr std::int64_t kMaxSigned16Tenths = std::int64_t{32767} * 10;  // bytes 2-3, units of 10
constexpr std::int64_t kMaxFanRpm = std::int64_t{2047} * 10;           // 11 bits in units of 10 rpm

constexpr std::uint8_t type_code(ses::ElementType type) {
  return ses::type_value(type);
}

bool printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::optional<std::uint64_t> parse_hex_string(std::string_view digits) {
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    digits.remove_prefix(2);
  }
  if (digits.size() != 16) {
    return std::nullopt;
  }
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number, 16);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return number;
}

// The JSON readers below report errors through the reader of the object that holds the key;
// `key` may be an indexed path ("rpm[2]").
Result<std::int64_t> signed_value(const json& value, const ObjectReader& reader,
                                  std::string_view key, std::int64_t min, std::int64_t max) {
  std::int64_t number = 0;
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    number = value.get<std::int64_t>();
  } else if (value.is_number_unsigned() &&
             value.get<std::uint64_t>() <= static_cast<std::uint64_t>(max)) {
    number = static_cast<std::int64_t>(value.get<std::uint64_t>());
  } else {
    return fail(reader.error(key, fmt::format("expected an integer in {}..{}, got {}", min, max,
                                              describe_json_value(value))));
  }
  if (number < min || number > max) {
    return fail(
        reader.error(key, fmt::format("expected an integer in {}..{}, got {}", min, max, number)));
  }
  return number;
}

Result<std::string> text_value(const json& value, const ObjectReader& reader, std::string_view key,
                               std::size_t max_length) {
  if (!value.is_string()) {
    return fail(
        reader.error(key, fmt::format("expected a string, got {}", describe_json_value(value))));
  }
  std::string text = value.get<std::string>();
  if (text.size() > max_length) {
    return fail(
        reader.error(key, fmt::format("\"{}\" is longer than {} characters", text, max_length)));
  }
  if (!printable(text)) {
    return fail(reader.error(key, "only printable ASCII characters are allowed"));
  }
  return text;
}

// An element descriptor: printable text, or {"hex": "..."} for any bytes (NUL padding,
// non-printable or non-ASCII bytes: what a real enclosure may send in page 0x07).
Result<std::string> descriptor_value(const json& value, const ObjectReader& reader,
                                     std::string_view key) {
  if (!value.is_object()) {
    return text_value(value, reader, key, kMaxDescriptorLength);
  }
  ObjectReader object(value, reader.source_name(), json_path_join(reader.path(), key));
  auto hex = object.string("hex");
  if (!hex) {
    return fail(hex.error());
  }
  if (!*hex) {
    return fail(reader.error(key, "expected a string or {\"hex\": \"...\"}"));
  }
  if (auto r = object.finish(); !r) {
    return fail(r.error());
  }
  auto bytes = parse_hex(**hex);
  if (!bytes) {
    return fail(object.error("hex", bytes.error().message()));
  }
  if (bytes->size() > kMaxDescriptorLength) {
    return fail(object.error(
        "hex", fmt::format("{} bytes, longer than {}", bytes->size(), kMaxDescriptorLength)));
  }
  return std::string(bytes->begin(), bytes->end());
}

Result<std::optional<std::string>> optional_text(ObjectReader& reader, std::string_view key,
                                                 std::size_t max_length) {
  const json* value = reader.find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  auto text = text_value(*value, reader, key, max_length);
  if (!text) {
    return fail(text.error());
  }
  return std::move(*text);
}

Result<std::optional<std::uint64_t>> sas_address(ObjectReader& reader, std::string_view key) {
  auto value = reader.hex64(key);
  if (!value || !*value) {
    return value;
  }
  if (**value >> 60 != 5) {
    return fail(reader.error(key, "a SAS address is NAA type 5: expected a first hex digit of 5"));
  }
  return value;
}

Result<std::uint8_t> status_code_value(const json& value, const ObjectReader& reader,
                                       std::string_view key) {
  if (value.is_string()) {
    if (const auto code = element_status_code(value.get<std::string>())) {
      return *code;
    }
  }
  if (value.is_number_unsigned() && value.get<std::uint64_t>() <= 15) {
    return static_cast<std::uint8_t>(value.get<std::uint64_t>());
  }
  std::string names;
  for (const auto name : kStatusNames) {
    names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", name);
  }
  return fail(reader.error(key, fmt::format("expected a status ({}) or a code 0..15, got {}", names,
                                            describe_json_value(value))));
}

// A key that holds one value for every element, or an array of `count` values.
template <class T>
Result<std::optional<std::vector<T>>> per_element(
    ObjectReader& reader, std::string_view key, std::size_t count,
    const std::function<Result<T>(const json&, std::string_view)>& read_one) {
  const json* value = reader.find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  std::vector<T> out;
  if (value->is_array()) {
    if (value->size() != count) {
      return fail(reader.error(
          key, fmt::format("expected one value per element ({}), got {}", count, value->size())));
    }
    for (std::size_t i = 0; i < value->size(); ++i) {
      auto one = read_one((*value)[i], json_path_index(key, i));
      if (!one) {
        return fail(one.error());
      }
      out.push_back(std::move(*one));
    }
    return out;
  }
  auto one = read_one(*value, key);
  if (!one) {
    return fail(one.error());
  }
  out.assign(count, *one);
  return out;
}

class GroupParser {
 public:
  explicit GroupParser(std::string_view source) : m_source(source) {}
  Result<void> parse_disks(ObjectReader& reader, const json& disks, std::size_t count,
                           SlotDisksSpec& out) {
    return parse_slot_list(reader, disks, count, out);
  }

  // "elements": an array of group objects (each with "type"), or an object whose keys are
  // group names and whose values are group objects or counts.
  Result<std::vector<ElementGroupSpec>> parse_groups(const json& elements,
                                                     const std::string& path) {
    std::vector<ElementGroupSpec> groups;
    if (elements.is_array()) {
      for (std::size_t i = 0; i < elements.size(); ++i) {
        auto group = parse_group(elements[i], json_path_index(path, i), std::nullopt);
        if (!group) {
          return fail(group.error());
        }
        groups.push_back(std::move(*group));
      }
      return groups;
    }
    if (!elements.is_object()) {
      ObjectReader reader(elements, m_source, path);
      return fail(reader.error(
          "", fmt::format("expected an array of element groups or an object of groups by name, "
                          "got {}",
                          describe_json_value(elements))));
    }
    ObjectReader reader(elements, m_source, path);
    for (const auto& kind : kGroupKinds) {
      const json* value = reader.find(kind.name);
      if (value == nullptr) {
        continue;
      }
      auto group = parse_group(*value, reader.path_of(kind.name), kind.type);
      if (!group) {
        return fail(group.error());
      }
      groups.push_back(std::move(*group));
    }
    if (auto done = reader.finish(); !done) {
      return fail(Error::invalid(done.error().message() +
                                 " (expected a group name: \"slots\", \"power_supplies\", "
                                 "\"fans\", \"temperature_sensors\", ...)"));
    }
    return groups;
  }

 private:
  Result<ElementGroupSpec> parse_group(const json& object, const std::string& path,
                                       std::optional<std::uint8_t> kind) {
    ElementGroupSpec group;
    group.path = path;
    ObjectReader reader(object, m_source, path);
    if (kind && object.is_number_unsigned()) {
      // "fans": 4
      if (object.get<std::uint64_t>() > 255) {
        return fail(reader.error("", "expected a count in 0..255"));
      }
      group.type = *kind;
      group.count = static_cast<std::uint8_t>(object.get<std::uint64_t>());
      return finish_defaults(std::move(group));
    }
    if (!object.is_object()) {
      return fail(
          reader.error("", fmt::format("expected an element group object{}, got {}",
                                       kind ? " or a count" : "", describe_json_value(object))));
    }
    if (kind) {
      group.type = *kind;
    } else {
      const json* type = reader.find("type");
      if (type == nullptr) {
        return fail(reader.error("type",
                                 "missing required field (a group name such as "
                                 "\"slots\", or an element type code 0..255)"));
      }
      if (type->is_string()) {
        const auto* const it =
            std::find_if(kGroupKinds.begin(), kGroupKinds.end(),
                         [&](const GroupKind& k) { return k.name == type->get<std::string>(); });
        if (it == kGroupKinds.end()) {
          return fail(reader.error(
              "type", fmt::format("unknown element group \"{}\"", type->get<std::string>())));
        }
        group.type = it->type;
      } else if (type->is_number_unsigned() && type->get<std::uint64_t>() <= 255) {
        group.type = static_cast<std::uint8_t>(type->get<std::uint64_t>());
      } else {
        return fail(reader.error("type", fmt::format("expected a group name or a code 0..255, "
                                                     "got {}",
                                                     describe_json_value(*type))));
      }
    }

    // The element count: "count", or the length of a per-element list.
    auto count = reader.unsigned_integer("count", 0, 255);
    if (!count) {
      return fail(count.error());
    }
    const json* descriptor = reader.find("descriptor");
    const json* disks = reader.find("disks");
    std::optional<std::size_t> implied;
    std::string implied_by;
    if (descriptor != nullptr && descriptor->is_array()) {
      implied = descriptor->size();
      implied_by = "descriptor";
    } else if (disks != nullptr && disks->is_array() && !*count) {
      implied = disks->size();
      implied_by = "disks";
    }
    if (*count && implied && *implied != **count && implied_by == "descriptor") {
      return fail(reader.error("descriptor",
                               fmt::format("{} descriptors for {} elements", *implied, **count)));
    }
    if (!*count && implied && *implied > 255) {
      return fail(reader.error(implied_by, "more than 255 elements in one group"));
    }
    group.count = static_cast<std::uint8_t>(count->value_or(implied.value_or(1)));
    const std::size_t n = group.count;

    auto text = optional_text(reader, "text", 255);
    if (!text) {
      return fail(text.error());
    }
    if (*text) {
      group.text = **text;
    }
    auto first = reader.unsigned_integer("first", 0, 1'000'000);
    if (!first) {
      return fail(first.error());
    }
    group.first = first->value_or(0);
    if (descriptor != nullptr) {
      if (descriptor->is_array()) {
        for (std::size_t i = 0; i < descriptor->size(); ++i) {
          auto text = descriptor_value((*descriptor)[i], reader, json_path_index("descriptor", i));
          if (!text) {
            return fail(text.error());
          }
          group.descriptors.push_back(std::move(*text));
        }
      } else {
        auto text = text_value(*descriptor, reader, "descriptor", kMaxDescriptorLength);
        if (!text) {
          return fail(text.error());
        }
        auto pattern = parse_descriptor_pattern(*text);
        if (!pattern) {
          return fail(reader.error("descriptor", pattern.error().message()));
        }
        if (auto fits = check_descriptor_pattern_fits(*pattern, group.first + (n > 0 ? n - 1 : 0));
            !fits) {
          return fail(reader.error("descriptor", fits.error().message()));
        }
        group.pattern = std::move(*pattern);
      }
    }
    if (const json* overall = reader.find("overall_descriptor"); overall != nullptr) {
      auto text = descriptor_value(*overall, reader, "overall_descriptor");
      if (!text) {
        return fail(text.error());
      }
      group.overall_descriptor = std::move(*text);
    }
    if (const json* overall = reader.find("overall_status"); overall != nullptr) {
      auto code = status_code_value(*overall, reader, "overall_status");
      if (!code) {
        return fail(code.error());
      }
      group.overall_status = *code;
    }
    auto codes = per_element<std::optional<std::uint8_t>>(
        reader, "status", n,
        [&](const json& v, std::string_view key) -> Result<std::optional<std::uint8_t>> {
          auto code = status_code_value(v, reader, key);
          if (!code) {
            return fail(code.error());
          }
          return std::optional<std::uint8_t>(*code);
        });
    if (!codes) {
      return fail(codes.error());
    }
    group.status_codes = codes->value_or(std::vector<std::optional<std::uint8_t>>(n));

    if (auto typed = parse_type_keys(reader, group); !typed) {
      return fail(typed.error());
    }
    if (disks != nullptr) {
      if (!ses::is_slot_type(group.type)) {
        return fail(reader.error("disks", "only slots and array_slots hold disks"));
      }
      SlotDisksSpec slots;
      if (auto parsed = parse_disks(reader, *disks, group.count, slots); !parsed) {
        return fail(parsed.error());
      }
      group.disks = std::move(slots.disks);
      group.auto_disks = std::move(slots.auto_disks);
    } else if (ses::is_slot_type(group.type)) {
      // Without "disks" the slots are empty; "targets" and "bus" belong to "disks": "auto".
      for (const auto* const key : {"targets", "bus"}) {
        if (reader.has(key)) {
          return fail(reader.error(key, R"(only used with "disks": "auto")"));
        }
      }
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    return finish_defaults(std::move(group));
  }

  static Result<ElementGroupSpec> finish_defaults(ElementGroupSpec group) {
    const std::size_t n = group.count;
    group.status_codes.resize(n);
    if (group.values.empty()) {
      std::int32_t value = 0;
      switch (group.type) {
        case type_code(ses::ElementType::Cooling):
          value = 5000;  // rpm
          break;
        case type_code(ses::ElementType::TemperatureSensor):
          value = 25;  // degrees C
          break;
        case type_code(ses::ElementType::VoltageSensor):
          value = 12000;  // mV
          break;
        case type_code(ses::ElementType::CurrentSensor):
          value = 1000;  // mA
          break;
        default:
          break;
      }
      group.values.assign(n, value);
    }
    if (ses::is_slot_type(group.type) && !group.auto_disks) {
      group.disks.resize(n);
    }
    return group;
  }

  // Keys that only some element types have.
  Result<void> parse_type_keys(ObjectReader& reader, ElementGroupSpec& group) {
    const std::size_t n = group.count;
    const auto read_values = [&](std::string_view key, std::int64_t min,
                                 std::int64_t max) -> Result<void> {
      auto values = per_element<std::int32_t>(
          reader, key, n, [&](const json& v, std::string_view k) -> Result<std::int32_t> {
            auto number = signed_value(v, reader, k, min, max);
            if (!number) {
              return fail(number.error());
            }
            return static_cast<std::int32_t>(*number);
          });
      if (!values) {
        return fail(values.error());
      }
      if (*values) {
        group.values = std::move(**values);
      }
      return {};
    };
    switch (group.type) {
      case type_code(ses::ElementType::Cooling): {
        if (auto ok = read_values("rpm", 0, kMaxFanRpm); !ok) {
          return ok;
        }
        auto code = reader.unsigned_integer("speed_code", 1, 7);
        if (!code) {
          return fail(code.error());
        }
        group.speed_code = static_cast<std::uint8_t>(code->value_or(group.speed_code));
        return {};
      }
      case type_code(ses::ElementType::TemperatureSensor):
        if (auto ok = read_values("celsius", -19, 235); !ok) {
          return ok;
        }
        return parse_thresholds(reader, group, -19, 235, 20);
      case type_code(ses::ElementType::VoltageSensor):
        if (auto ok = read_values("millivolts", -kMaxSigned16Tenths, kMaxSigned16Tenths); !ok) {
          return ok;
        }
        return parse_thresholds(reader, group, 0, 127, 0);
      case type_code(ses::ElementType::CurrentSensor):
        if (auto ok = read_values("milliamps", -kMaxSigned16Tenths, kMaxSigned16Tenths); !ok) {
          return ok;
        }
        return parse_thresholds(reader, group, 0, 127, 0);
      case type_code(ses::ElementType::SasConnector): {
        auto type = reader.unsigned_integer("connector_type", 0, 127);
        auto link = reader.unsigned_integer("physical_link", 0, 255);
        for (const auto* field : {&type, &link}) {
          if (!*field) {
            return fail(field->error());
          }
        }
        group.connector_type = static_cast<std::uint8_t>(type->value_or(group.connector_type));
        group.connector_physical_link =
            static_cast<std::uint8_t>(link->value_or(group.connector_physical_link));
        return {};
      }
      case type_code(ses::ElementType::SasExpander): {
        auto address = sas_address(reader, "sas_address");
        if (!address) {
          return fail(address.error());
        }
        group.sas_address = *address;
        return {};
      }
      default:
        return {};
    }
  }

  // {"high_critical": .., "high_warning": .., "low_warning": .., "low_critical": ..}: degrees C
  // for temperatures (coded + 20), percent of the nominal value for voltage and current (coded
  // in 0.5 % steps).
  Result<void> parse_thresholds(ObjectReader& reader, ElementGroupSpec& group, std::int64_t min,
                                std::int64_t max, std::int64_t offset) {
    const json* object = reader.find("thresholds");
    if (object == nullptr) {
      return {};
    }
    ObjectReader thresholds(*object, m_source, reader.path_of("thresholds"));
    if (!object->is_object()) {
      return fail(thresholds.error(
          "", fmt::format("expected an object, got {}", describe_json_value(*object))));
    }
    ses::Threshold t;
    const std::array<std::pair<std::string_view, std::uint8_t*>, 4> fields = {{
        {"high_critical", &t.high_critical},
        {"high_warning", &t.high_warning},
        {"low_warning", &t.low_warning},
        {"low_critical", &t.low_critical},
    }};
    for (const auto& [key, slot] : fields) {
      const json* value = thresholds.find(key);
      if (value == nullptr) {
        continue;
      }
      auto number = signed_value(*value, thresholds, key, min, max);
      if (!number) {
        return fail(number.error());
      }
      *slot = static_cast<std::uint8_t>(offset != 0 ? *number + offset : *number * 2);
    }
    if (auto done = thresholds.finish(); !done) {
      return fail(done.error());
    }
    group.thresholds = t;
    return {};
  }

  // "disks": "auto" (with "bus" and "targets") or one entry per slot.
  Result<void> parse_slot_list(ObjectReader& reader, const json& disks, std::size_t count,
                               SlotDisksSpec& out) {
    if (disks.is_string()) {
      if (disks.get<std::string>() != "auto") {
        return fail(reader.error("disks", "expected \"auto\" or an array with one entry per slot"));
      }
      AutoDisksSpec spec;
      auto bus = reader.unsigned_integer("bus", 0, 1'000'000);
      if (!bus) {
        return fail(bus.error());
      }
      if (*bus) {
        spec.bus = static_cast<std::uint32_t>(**bus);
      }
      if (const json* targets = reader.find("targets"); targets != nullptr) {
        auto list = parse_targets(reader, *targets);
        if (!list) {
          return fail(list.error());
        }
        spec.targets = std::move(*list);
      }
      out.auto_disks = std::move(spec);
      return {};
    }
    if (!disks.is_array()) {
      return fail(reader.error(
          "disks", fmt::format("expected \"auto\" or an array with one entry per slot, got {}",
                               describe_json_value(disks))));
    }
    if (disks.size() > count) {
      return fail(
          reader.error("disks", fmt::format("{} entries for {} slots", disks.size(), count)));
    }
    for (const auto* const key : {"targets", "bus"}) {
      if (reader.has(key)) {
        return fail(reader.error(key, R"(only used with "disks": "auto")"));
      }
    }
    for (std::size_t i = 0; i < disks.size(); ++i) {
      auto device = parse_slot_device(disks[i], reader.path_of(json_path_index("disks", i)));
      if (!device) {
        return fail(device.error());
      }
      out.disks.push_back(*device);
    }
    out.disks.resize(count);
    return {};
  }

  // "targets": [0, 1, 5] or {"first": 0, "count": 20}.
  Result<std::vector<std::uint32_t>> parse_targets(ObjectReader& reader, const json& targets) {
    std::vector<std::uint32_t> ids;
    if (targets.is_array()) {
      std::set<std::uint32_t> seen;
      for (std::size_t i = 0; i < targets.size(); ++i) {
        const json& id = targets[i];
        if (!id.is_number_unsigned() || id.get<std::uint64_t>() > kMaxTargetId) {
          return fail(reader.error(json_path_index("targets", i),
                                   fmt::format("expected a target id in 0..{}, got {}",
                                               kMaxTargetId, describe_json_value(id))));
        }
        const auto value = static_cast<std::uint32_t>(id.get<std::uint64_t>());
        if (!seen.insert(value).second) {
          return fail(reader.error(json_path_index("targets", i),
                                   fmt::format("target {} is listed twice", value)));
        }
        ids.push_back(value);
      }
      return ids;
    }
    ObjectReader range(targets, m_source, reader.path_of("targets"));
    if (!targets.is_object()) {
      return fail(range.error(
          "", fmt::format("expected an array of target ids or {{\"first\": F, \"count\": N}}, "
                          "got {}",
                          describe_json_value(targets))));
    }
    auto first = range.unsigned_integer("first", 0, kMaxTargetId);
    auto count = range.unsigned_integer("count", 1, kMaxTargetId + 1);
    for (const auto* field : {&first, &count}) {
      if (!*field) {
        return fail(field->error());
      }
    }
    if (!*count) {
      return fail(range.error("count", "missing required field"));
    }
    if (auto done = range.finish(); !done) {
      return fail(done.error());
    }
    const std::uint64_t base = first->value_or(0);
    if (base + **count - 1 > kMaxTargetId) {
      return fail(range.error("count", fmt::format("targets {}..{} go beyond the highest id {}",
                                                   base, base + **count - 1, kMaxTargetId)));
    }
    for (std::uint64_t i = 0; i < **count; ++i) {
      ids.push_back(static_cast<std::uint32_t>(base + i));
    }
    return ids;
  }

  // null, "5000c500...", {"sas_address": "..."} or {"bus": B, "target": T, "lun": L}.
  Result<SlotDeviceSpec> parse_slot_device(const json& entry, const std::string& path) {
    SlotDeviceSpec device;
    ObjectReader reader(entry, m_source, path);
    if (entry.is_null()) {
      return device;
    }
    if (entry.is_string()) {
      const auto address = parse_hex_string(entry.get<std::string>());
      if (!address || *address >> 60 != 5) {
        return fail(reader.error("", fmt::format("expected a NAA 5 SAS address of 16 hex digits, "
                                                 "got {}",
                                                 describe_json_value(entry))));
      }
      device.kind = SlotDeviceSpec::Kind::SasAddress;
      device.sas_address = *address;
      return device;
    }
    if (!entry.is_object()) {
      return fail(reader.error("", fmt::format("expected null, a SAS address, {{\"target\": T}} or "
                                               "{{\"sas_address\": \"...\"}}, got {}",
                                               describe_json_value(entry))));
    }
    auto address = sas_address(reader, "sas_address");
    if (!address) {
      return fail(address.error());
    }
    auto bus = reader.unsigned_integer("bus", 0, 1'000'000);
    auto target = reader.unsigned_integer("target", 0, kMaxTargetId);
    auto lun = reader.unsigned_integer("lun", 0, kMaxLunNumber);
    for (const auto* field : {&bus, &target, &lun}) {
      if (!*field) {
        return fail(field->error());
      }
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    if (*address) {
      if (*bus || *target || *lun) {
        return fail(reader.error("sas_address", "give either a SAS address or a target, not both"));
      }
      device.kind = SlotDeviceSpec::Kind::SasAddress;
      device.sas_address = **address;
      return device;
    }
    if (!*target) {
      return fail(reader.error("target", "missing required field (or give \"sas_address\")"));
    }
    device.kind = SlotDeviceSpec::Kind::Lun;
    if (*bus) {
      device.bus = static_cast<std::uint32_t>(**bus);
    }
    device.target = static_cast<std::uint32_t>(**target);
    device.lun = lun->value_or(0);
    return device;
  }

  std::string_view m_source;
};

Result<SubenclosureSpec> parse_subenclosure(const json& object, const std::string& path,
                                            std::size_t index, std::string_view source) {
  ObjectReader reader(object, source, path);
  if (!object.is_object()) {
    return fail(reader.error(
        "", fmt::format("expected a subenclosure object, got {}", describe_json_value(object))));
  }
  SubenclosureSpec sub;
  sub.path = path;
  auto id = reader.unsigned_integer("id", 0, 255);
  if (!id) {
    return fail(id.error());
  }
  sub.id = static_cast<std::uint8_t>(id->value_or(index));
  auto logical_id = sas_address(reader, "logical_id");
  if (!logical_id) {
    return fail(logical_id.error());
  }
  sub.logical_id = *logical_id;
  for (const auto& [key, length, member] :
       {std::tuple{"vendor", 8U, &SubenclosureSpec::vendor},
        std::tuple{"product", 16U, &SubenclosureSpec::product},
        std::tuple{"revision", 4U, &SubenclosureSpec::revision}}) {
    auto text = optional_text(reader, key, length);
    if (!text) {
      return fail(text.error());
    }
    sub.*member = std::move(*text);
  }
  auto text = optional_text(reader, "help_text", 1024);
  if (!text) {
    return fail(text.error());
  }
  if (*text) {
    sub.help_text = **text;
  }
  auto nickname = optional_text(reader, "nickname", 32);
  if (!nickname) {
    return fail(nickname.error());
  }
  if (*nickname) {
    sub.nickname = **nickname;
  }
  const json* elements = reader.find("elements");
  if (elements != nullptr) {
    auto groups = GroupParser(source).parse_groups(*elements, reader.path_of("elements"));
    if (!groups) {
      return fail(groups.error());
    }
    sub.groups = std::move(*groups);
  }
  if (auto done = reader.finish(); !done) {
    return fail(done.error());
  }
  return sub;
}

// A bare enclosure LUN: four empty slots, a power supply, a fan and a temperature sensor.
Result<std::vector<ElementGroupSpec>> default_groups(std::string_view source,
                                                     const std::string& path) {
  static const json defaults = json::parse(
      R"({"slots": {"count": 4, "descriptor": "Slot {:02}"}, "power_supplies": 1, "fans": 1,
          "temperature_sensors": 1})");
  return GroupParser(source).parse_groups(defaults, path);
}

}  // namespace

Result<SlotDisksSpec> parse_slot_disks(ObjectReader& group, std::size_t count) {
  SlotDisksSpec spec;
  const json* disks = group.find("disks");
  if (disks == nullptr) {
    for (const auto* const key : {"targets", "bus"}) {
      if (group.has(key)) {
        return fail(group.error(key, R"(only used with "disks": "auto")"));
      }
    }
    spec.disks.resize(count);
    return spec;
  }
  if (auto ok = GroupParser(group.source_name()).parse_disks(group, *disks, count, spec); !ok) {
    return fail(ok.error());
  }
  return spec;
}

namespace {
// The only placeholder of a descriptor pattern is the default one, the element's number.
constexpr std::array<std::string_view, 1> kDescriptorPatternNames = {""};
}  // namespace

Result<TextTemplate> parse_descriptor_pattern(std::string_view text) {
  return TextTemplate::parse(text, kDescriptorPatternNames);
}

std::string expand_descriptor_pattern(const TextTemplate& pattern, std::uint64_t number) {
  const std::array<std::uint64_t, 1> values = {number};
  return pattern.expand(values);
}

Result<void> check_descriptor_pattern_fits(const TextTemplate& pattern, std::uint64_t last) {
  const std::size_t length = expand_descriptor_pattern(pattern, last).size();
  if (length > kMaxDescriptorLength) {
    return fail(Error::described(
        EINVAL, fmt::format("the pattern expands to {} bytes for element number {}, longer than "
                            "the {} bytes of a descriptor",
                            length, last, kMaxDescriptorLength)));
  }
  return {};
}

std::string_view element_group_name(std::uint8_t type) {
  for (const auto& kind : kGroupKinds) {
    if (kind.type == type) {
      return kind.name;
    }
  }
  return "";
}

std::optional<std::uint8_t> element_status_code(std::string_view name) {
  for (std::size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == name) {
      return static_cast<std::uint8_t>(i);
    }
  }
  return std::nullopt;
}

Result<std::shared_ptr<const ModelConfig>> parse_ses_model_config(ObjectReader& lun) {
  auto config = std::make_shared<SesModelConfig>();
  config->path = lun.path();
  const std::string_view source = lun.source_name();

  // FreeBSD builds the "enc@n<id>" of physical paths from the first NAA 3 or 5 logical-unit
  // designator of the SES device; the core emits "naa" as that designator. Insist on type 5
  // (the derived default already is).
  auto naa = lun.hex64("naa");
  if (!naa) {
    return fail(naa.error());
  }
  if (*naa && **naa >> 60 != 5) {
    return fail(lun.error("naa",
                          "an enclosure's logical unit name is NAA type 5: expected a "
                          "first hex digit of 5"));
  }
  auto name = optional_text(lun, "enclosure", 64);
  if (!name) {
    return fail(name.error());
  }
  if (*name) {
    if ((*name)->empty()) {
      return fail(lun.error("enclosure", "the enclosure name is empty"));
    }
    config->name = **name;
  }
  auto eiioe = lun.unsigned_integer("eiioe", 0, 1);
  if (!eiioe) {
    return fail(eiioe.error());
  }
  config->eiioe = static_cast<std::uint8_t>(eiioe->value_or(config->eiioe));
  auto expander = sas_address(lun, "expander_sas_address");
  if (!expander) {
    return fail(expander.error());
  }
  config->expander_sas_address = *expander;
  auto text = optional_text(lun, "help_text", 1024);
  if (!text) {
    return fail(text.error());
  }
  if (*text) {
    config->help_text = **text;
  }

  const json* subenclosures = lun.find("subenclosures");
  const json* elements = lun.find("elements");
  if (subenclosures != nullptr && elements != nullptr) {
    return fail(lun.error("elements",
                          "give either \"elements\" (one subenclosure) or "
                          "\"subenclosures\", not both"));
  }
  if (subenclosures != nullptr) {
    if (!subenclosures->is_array() || subenclosures->empty()) {
      return fail(lun.error("subenclosures",
                            fmt::format("expected a non-empty array of subenclosures, got {}",
                                        describe_json_value(*subenclosures))));
    }
    if (subenclosures->size() > 256) {
      return fail(lun.error("subenclosures", "more than 256 subenclosures"));
    }
    std::set<std::uint8_t> ids;
    for (std::size_t i = 0; i < subenclosures->size(); ++i) {
      const std::string path = json_path_index(lun.path_of("subenclosures"), i);
      auto sub = parse_subenclosure((*subenclosures)[i], path, i, source);
      if (!sub) {
        return fail(sub.error());
      }
      if (i == 0 && sub->id != 0) {
        return fail(Error::invalid(fmt::format(
            "{}: {}.id: the first subenclosure is the primary, whose id is 0", source, path)));
      }
      if (!ids.insert(sub->id).second) {
        return fail(Error::invalid(
            fmt::format("{}: {}.id: duplicate subenclosure id {}", source, path, sub->id)));
      }
      config->subenclosures.push_back(std::move(*sub));
    }
  } else {
    SubenclosureSpec primary;
    primary.path = lun.path();
    auto logical_id = sas_address(lun, "logical_id");
    if (!logical_id) {
      return fail(logical_id.error());
    }
    primary.logical_id = *logical_id;
    if (elements != nullptr) {
      auto groups = GroupParser(source).parse_groups(*elements, lun.path_of("elements"));
      if (!groups) {
        return fail(groups.error());
      }
      primary.groups = std::move(*groups);
      config->subenclosures.push_back(std::move(primary));
    } else if (!config->name) {
      auto groups = default_groups(source, lun.path_of("elements"));
      if (!groups) {
        return fail(groups.error());
      }
      primary.groups = std::move(*groups);
      config->subenclosures.push_back(std::move(primary));
    } else if (primary.logical_id) {
      return fail(lun.error("logical_id", "describes the enclosure: give \"elements\" too"));
    }
  }
  return std::shared_ptr<const ModelConfig>(std::move(config));
}

}  // namespace ucam::emu
