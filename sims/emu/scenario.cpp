#include "sims/emu/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sims/emu/json_reader.h"
#include "sims/emu/model.h"
#include "sims/emu/text_template.h"

namespace ucam::emu {

using nlohmann::json;

std::string_view transport_name(Transport transport) {
  switch (transport) {
    case Transport::Fc:
      return "FC";
    case Transport::Spi:
      return "SPI";
    case Transport::Iscsi:
      return "iSCSI";
    case Transport::Sas:
      return "SAS";
  }
  return "SAS";
}

std::string_view LunSpec::type() const {
  return model != nullptr ? model->type : "";
}

const LunSpec* TargetSpec::find_lun(std::uint64_t lun) const {
  const auto it =
      std::lower_bound(luns.begin(), luns.end(), lun,
                       [](const LunSpec& spec, std::uint64_t n) { return spec.lun < n; });
  return it != luns.end() && it->lun == lun ? &*it : nullptr;
}

const TargetSpec* BusSpec::find_target(std::uint32_t id) const {
  const auto it =
      std::lower_bound(targets.begin(), targets.end(), id,
                       [](const TargetSpec& spec, std::uint32_t n) { return spec.id < n; });
  return it != targets.end() && it->id == id ? &*it : nullptr;
}

std::size_t Scenario::lun_count() const {
  std::size_t count = 0;
  for (const auto& bus : buses) {
    for (const auto& target : bus.targets) {
      count += target.luns.size();
    }
  }
  return count;
}

namespace {

constexpr std::uint64_t kPrivateCompanyId = 0xACDE48;  // IEEE example/private CID.

std::uint64_t default_identifier(std::uint64_t kind, std::uint32_t bus, std::uint32_t target,
                                 std::uint64_t lun) {
  const std::uint64_t vendor_specific = (kind & 0x3) << 34 | (std::uint64_t{bus} & 0x3f) << 28 |
                                        (std::uint64_t{target} & 0x3fff) << 14 | (lun & 0x3fff);
  return std::uint64_t{5} << 60 | kPrivateCompanyId << 36 | vendor_specific;
}

}  // namespace

std::uint64_t default_lu_naa(std::uint32_t bus, std::uint32_t target, std::uint64_t lun) {
  return default_identifier(0, bus, target, lun);
}

std::uint64_t default_target_sas_address(std::uint32_t bus, std::uint32_t target) {
  return default_identifier(1, bus, target, 0);
}

std::string default_serial(std::uint32_t bus, std::uint32_t target, std::uint64_t lun) {
  return fmt::format("EMU{:02}{:05}{:05}", bus, target, lun);
}

namespace {

constexpr std::string_view kDefaultVendor = "UCAM";
constexpr std::string_view kDefaultRevision = "0001";
constexpr std::uint32_t kDefaultMaxTarget = 63;
constexpr std::uint64_t kDefaultMaxLun = 255;
constexpr std::size_t kMaxSerialLength = 64;

// The placeholders of scenario string fields (docs/scenarios.md "Placeholders"), in the order
// of Placeholders::values(). There is no default variable: "{}" is an error.
constexpr std::array<std::string_view, 4> kPlaceholderNames = {"bus", "target", "lun", "index"};

// Values the placeholders of a template string expand to.
struct Placeholders {
  std::uint32_t bus = 0;
  std::uint32_t target = 0;
  std::uint64_t lun = 0;
  std::uint64_t index = 0;

  [[nodiscard]] std::array<std::uint64_t, kPlaceholderNames.size()> values() const {
    return {bus, target, lun, index};
  }
};

// A LUN description before placeholders and identifier offsets are applied: one per explicit
// LUN object, one per generator template.
struct LunTemplate {
  std::string path;  // JSON path of the object, for errors after expansion.
  const ModelDescriptor* model = nullptr;
  std::optional<TextTemplate> vendor, product, revision, serial;
  std::optional<std::uint64_t> naa, sas_address;
  std::optional<std::uint16_t> relative_target_port;
  scsi::SenseFormat sense_format = scsi::SenseFormat::Fixed;
  std::shared_ptr<const ModelConfig> config;
};

struct StringField {
  std::string_view key;
  std::size_t max_length;
  std::optional<TextTemplate> LunTemplate::*member;
};
constexpr std::array kStringFields = {
    StringField{"vendor", 8, &LunTemplate::vendor},
    StringField{"product", 16, &LunTemplate::product},
    StringField{"revision", 4, &LunTemplate::revision},
    StringField{"serial", kMaxSerialLength, &LunTemplate::serial},
};

bool printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

Result<std::uint64_t> checked_naa(const ObjectReader& reader, std::string_view key,
                                  std::uint64_t value) {
  const auto naa = value >> 60;
  if (naa != 2 && naa != 3 && naa != 5) {
    return fail(reader.error(
        key,
        fmt::format("NAA type {} cannot be used here: expected 2, 3 or 5 (first hex digit)", naa)));
  }
  return value;
}

Result<std::uint64_t> checked_sas_address(const ObjectReader& reader, std::string_view key,
                                          std::uint64_t value) {
  if (value >> 60 != 5) {
    return fail(reader.error(key, "a SAS address is NAA type 5: expected a first hex digit of 5"));
  }
  return value;
}

class Parser {
 public:
  explicit Parser(std::string_view source) : m_source(source) {}

  Result<Scenario> parse(const json& root) {
    ObjectReader reader(root, m_source, "");
    if (!root.is_object()) {
      return fail(reader.error("", fmt::format("expected an object with a \"buses\" array, got {}",
                                               describe_json_value(root))));
    }
    Scenario scenario;
    scenario.source = std::string(m_source);
    auto name = reader.string("name");
    if (!name) {
      return fail(name.error());
    }
    scenario.name = name->value_or(std::filesystem::path(std::string(m_source)).stem().string());
    auto description = reader.string("description");
    if (!description) {
      return fail(description.error());
    }
    scenario.description = description->value_or("");
    const json* buses = reader.find("buses");
    if (buses == nullptr) {
      return fail(reader.error("buses", "missing required field"));
    }
    if (!buses->is_array()) {
      return fail(reader.error(
          "buses", fmt::format("expected an array of buses, got {}", describe_json_value(*buses))));
    }
    if (buses->size() > kMaxScenarioBuses) {
      return fail(reader.error(
          "buses", fmt::format("{} buses; the limit is {}", buses->size(), kMaxScenarioBuses)));
    }
    for (std::size_t i = 0; i < buses->size(); ++i) {
      auto bus = parse_bus((*buses)[i], json_path_index("buses", i), static_cast<std::uint32_t>(i));
      if (!bus) {
        return fail(bus.error());
      }
      scenario.buses.push_back(std::move(*bus));
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    return scenario;
  }

 private:
  // A target as parsed, with the path of its "id" for duplicate and range errors.
  struct ParsedTarget {
    TargetSpec spec;
    std::string id_path;
  };

  [[nodiscard]] Error error_at(std::string_view path, std::string_view problem) const {
    return Error::invalid(fmt::format("{}: {}: {}", m_source, path, problem));
  }

  Result<BusSpec> parse_bus(const json& object, const std::string& path, std::uint32_t bus_number) {
    ObjectReader reader(object, m_source, path);
    if (!object.is_object()) {
      return fail(
          reader.error("", fmt::format("expected an object, got {}", describe_json_value(object))));
    }
    BusSpec bus;
    static constexpr std::array<std::string_view, 4> kTransports = {"SAS", "SPI", "FC", "iSCSI"};
    auto transport = reader.choice("transport", kTransports);
    if (!transport) {
      return fail(transport.error());
    }
    if (*transport) {
      const auto& t = **transport;
      bus.transport = t == "SPI"     ? Transport::Spi
                      : t == "FC"    ? Transport::Fc
                      : t == "iSCSI" ? Transport::Iscsi
                                     : Transport::Sas;
    }
    auto max_target = reader.unsigned_integer("max_target", 0, kMaxTargetId);
    auto max_lun = reader.unsigned_integer("max_lun", 0, kMaxLunNumber);
    auto initiator_id = reader.unsigned_integer("initiator_id", 0, kMaxTargetId + 1);
    auto queue_depth = reader.unsigned_integer("queue_depth", 1, 65535);
    for (const auto* field : {&max_target, &max_lun, &initiator_id, &queue_depth}) {
      if (!*field) {
        return fail(field->error());
      }
    }
    bus.queue_depth = static_cast<std::uint32_t>(queue_depth->value_or(bus.queue_depth));

    std::vector<ParsedTarget> targets;
    if (const json* list = reader.find("targets"); list != nullptr) {
      const std::string list_path = reader.path_of("targets");
      if (list->is_array()) {
        std::optional<std::uint32_t> previous;
        for (std::size_t i = 0; i < list->size(); ++i) {
          auto target = parse_target((*list)[i], json_path_index(list_path, i), bus_number,
                                     previous ? *previous + 1 : 0);
          if (!target) {
            return fail(target.error());
          }
          previous = target->spec.id;
          targets.push_back(std::move(*target));
        }
      } else if (list->is_object()) {
        auto generated = generate_targets(*list, list_path, bus_number);
        if (!generated) {
          return fail(generated.error());
        }
        targets = std::move(*generated);
      } else {
        return fail(reader.error(
            "targets", fmt::format("expected an array of targets or a generator object, got {}",
                                   describe_json_value(*list))));
      }
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }

    // Duplicates: report the later occurrence, naming the earlier one.
    std::vector<std::size_t> order(targets.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return targets[a].spec.id < targets[b].spec.id;
    });
    for (std::size_t i = 1; i < order.size(); ++i) {
      const auto& first = targets[order[i - 1]];
      const auto& second = targets[order[i]];
      if (first.spec.id == second.spec.id) {
        return fail(error_at(second.id_path, fmt::format("duplicate target id {} (also at {})",
                                                         second.spec.id, first.id_path)));
      }
    }

    std::uint32_t highest_target = 0;
    std::uint64_t highest_lun = 0;
    for (const auto& t : targets) {
      highest_target = std::max(highest_target, t.spec.id);
      for (const auto& l : t.spec.luns) {
        highest_lun = std::max(highest_lun, l.lun);
      }
    }
    if (*max_target) {
      bus.max_target = static_cast<std::uint32_t>(**max_target);
      for (const auto& t : targets) {
        if (t.spec.id > bus.max_target) {
          return fail(
              error_at(t.id_path, fmt::format("target id {} is above the bus's max_target {}",
                                              t.spec.id, bus.max_target)));
        }
      }
    } else {
      bus.max_target = std::max(kDefaultMaxTarget, highest_target);
    }
    if (*max_lun) {
      bus.max_lun = **max_lun;
      if (highest_lun > bus.max_lun) {
        return fail(reader.error("max_lun", fmt::format("{} is below the highest LUN {} on the bus",
                                                        bus.max_lun, highest_lun)));
      }
    } else {
      bus.max_lun = std::max(kDefaultMaxLun, highest_lun);
    }
    bus.initiator_id = static_cast<std::uint32_t>(initiator_id->value_or(bus.max_target + 1));
    for (const auto& t : targets) {
      if (t.spec.id == bus.initiator_id) {
        return fail(
            error_at(t.id_path, fmt::format("target id {} is the initiator's id", t.spec.id)));
      }
    }

    for (auto i : order) {
      bus.targets.push_back(std::move(targets[i].spec));
    }
    return bus;
  }

  Result<ParsedTarget> parse_target(const json& object, const std::string& path,
                                    std::uint32_t bus_number, std::uint32_t default_id) {
    ObjectReader reader(object, m_source, path);
    if (!object.is_object()) {
      return fail(
          reader.error("", fmt::format("expected an object, got {}", describe_json_value(object))));
    }
    ParsedTarget target;
    auto id = reader.unsigned_integer("id", 0, kMaxTargetId);
    if (!id) {
      return fail(id.error());
    }
    if (!*id && default_id > kMaxTargetId) {
      return fail(reader.error("id", "the previous target has the highest id: give an id"));
    }
    target.spec.id = static_cast<std::uint32_t>(id->value_or(default_id));
    target.id_path = *id ? reader.path_of("id") : path;
    auto sas = reader.hex64("sas_address");
    if (!sas) {
      return fail(sas.error());
    }
    if (*sas) {
      auto checked = checked_sas_address(reader, "sas_address", **sas);
      if (!checked) {
        return fail(checked.error());
      }
    }
    target.spec.sas_address = sas->value_or(default_target_sas_address(bus_number, target.spec.id));
    auto rtp = reader.unsigned_integer("relative_target_port", 1, 65535);
    if (!rtp) {
      return fail(rtp.error());
    }
    target.spec.relative_target_port = static_cast<std::uint16_t>(rtp->value_or(1));

    const json* luns = reader.find("luns");
    const std::string luns_path = reader.path_of("luns");
    if (luns == nullptr) {
      // A target without "luns" is one default LUN 0.
      if (auto budget = reserve_luns(1, reader, ""); !budget) {
        return fail(budget.error());
      }
      auto lun = parse_lun(json::object(), luns_path, bus_number, target.spec, 0, 0);
      if (!lun) {
        return fail(lun.error());
      }
      target.spec.luns.push_back(std::move(*lun));
    } else if (luns->is_array()) {
      if (auto budget = reserve_luns(luns->size(), reader, "luns"); !budget) {
        return fail(budget.error());
      }
      std::vector<std::string> lun_paths;
      std::uint64_t next = 0;
      for (std::size_t i = 0; i < luns->size(); ++i) {
        const std::string lun_path = json_path_index(luns_path, i);
        auto lun = parse_lun((*luns)[i], lun_path, bus_number, target.spec, next, i);
        if (!lun) {
          return fail(lun.error());
        }
        next = lun->lun + 1;
        target.spec.luns.push_back(std::move(*lun));
        const bool explicit_lun = (*luns)[i].is_object() && (*luns)[i].contains("lun");
        lun_paths.push_back(explicit_lun ? json_path_join(lun_path, "lun") : lun_path);
      }
      // Duplicates, then sort.
      std::vector<std::size_t> order(lun_paths.size());
      for (std::size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
      }
      auto& specs = target.spec.luns;
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return specs[a].lun < specs[b].lun; });
      for (std::size_t i = 1; i < order.size(); ++i) {
        if (specs[order[i - 1]].lun == specs[order[i]].lun) {
          return fail(error_at(lun_paths[order[i]],
                               fmt::format("duplicate LUN {} (also at {})", specs[order[i]].lun,
                                           lun_paths[order[i - 1]])));
        }
      }
      std::vector<LunSpec> sorted;
      sorted.reserve(specs.size());
      for (auto i : order) {
        sorted.push_back(std::move(specs[i]));
      }
      specs = std::move(sorted);
    } else if (luns->is_object()) {
      auto generated = generate_luns(*luns, luns_path, bus_number, target.spec);
      if (!generated) {
        return fail(generated.error());
      }
      target.spec.luns = std::move(*generated);
    } else {
      return fail(reader.error(
          "luns", fmt::format("expected an array of LUNs or a generator object, got {}",
                              describe_json_value(*luns))));
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    return target;
  }

  Result<LunSpec> parse_lun(const json& object, const std::string& path, std::uint32_t bus_number,
                            const TargetSpec& target, std::uint64_t default_lun,
                            std::size_t index) {
    ObjectReader reader(object, m_source, path);
    if (!object.is_object()) {
      return fail(
          reader.error("", fmt::format("expected an object, got {}", describe_json_value(object))));
    }
    auto number = reader.unsigned_integer("lun", 0, kMaxLunNumber);
    if (!number) {
      return fail(number.error());
    }
    if (!*number && default_lun > kMaxLunNumber) {
      return fail(reader.error("lun", "the previous LUN is the highest: give a lun"));
    }
    auto tmpl = read_lun_template(reader);
    if (!tmpl) {
      return fail(tmpl.error());
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    const std::uint64_t lun = number->value_or(default_lun);
    return instantiate(*tmpl, Placeholders{bus_number, target.id, lun, index}, target,
                       /*target_ordinal=*/0, /*lun_ordinal=*/0);
  }

  // Reads every LUN key except "lun".
  static Result<LunTemplate> read_lun_template(ObjectReader& reader) {
    LunTemplate tmpl;
    tmpl.path = reader.path();
    std::vector<std::string_view> names;
    for (const auto& model : model_table()) {
      names.push_back(model.type);
    }
    auto type = reader.choice("type", names);
    if (!type) {
      return fail(type.error());
    }
    tmpl.model = find_model(type->value_or("disk"));
    for (const auto& field : kStringFields) {
      auto text = reader.string(field.key);
      if (!text) {
        return fail(text.error());
      }
      if (*text) {
        auto parsed = TextTemplate::parse(**text, kPlaceholderNames);
        if (!parsed) {
          return fail(reader.error(field.key, parsed.error().message()));
        }
        tmpl.*field.member = std::move(*parsed);
      }
    }
    auto naa = reader.hex64("naa");
    if (!naa) {
      return fail(naa.error());
    }
    if (*naa) {
      auto checked = checked_naa(reader, "naa", **naa);
      if (!checked) {
        return fail(checked.error());
      }
      tmpl.naa = *checked;
    }
    auto sas = reader.hex64("sas_address");
    if (!sas) {
      return fail(sas.error());
    }
    if (*sas) {
      auto checked = checked_sas_address(reader, "sas_address", **sas);
      if (!checked) {
        return fail(checked.error());
      }
      tmpl.sas_address = *checked;
    }
    auto rtp = reader.unsigned_integer("relative_target_port", 1, 65535);
    if (!rtp) {
      return fail(rtp.error());
    }
    if (*rtp) {
      tmpl.relative_target_port = static_cast<std::uint16_t>(**rtp);
    }
    static constexpr std::array<std::string_view, 2> kFormats = {"fixed", "descriptor"};
    auto format = reader.choice("sense_format", kFormats);
    if (!format) {
      return fail(format.error());
    }
    if (*format && **format == "descriptor") {
      tmpl.sense_format = scsi::SenseFormat::Descriptor;
    }
    auto config = tmpl.model->parse_config(reader);
    if (!config) {
      return fail(config.error());
    }
    tmpl.config = std::move(*config);
    return tmpl;
  }

  // Applies placeholders and identifier offsets: naa + lun_ordinal, sas_address +
  // target_ordinal.
  Result<LunSpec> instantiate(const LunTemplate& tmpl, const Placeholders& values,
                              const TargetSpec& target, std::uint64_t target_ordinal,
                              std::uint64_t lun_ordinal) {
    LunSpec spec;
    spec.lun = values.lun;
    spec.model = tmpl.model;
    spec.sense_format = tmpl.sense_format;
    spec.config = tmpl.config;
    const auto where = [&](std::string_view key) { return json_path_join(tmpl.path, key); };
    const auto generated_suffix = [&]() -> std::string {
      if (target_ordinal == 0 && lun_ordinal == 0) {
        return "";
      }
      return fmt::format(" (target {} lun {})", values.target, values.lun);
    };
    for (const auto& field : kStringFields) {
      std::string text;
      const auto& source = tmpl.*field.member;
      if (source) {
        text = source->expand(values.values());
      } else if (field.key == "vendor") {
        text = kDefaultVendor;
      } else if (field.key == "product") {
        text = tmpl.model->default_product;
      } else if (field.key == "revision") {
        text = kDefaultRevision;
      } else {
        text = default_serial(values.bus, values.target, values.lun);
      }
      if (text.size() > field.max_length) {
        return fail(
            error_at(where(field.key), fmt::format("\"{}\" is longer than {} characters{}", text,
                                                   field.max_length, generated_suffix())));
      }
      if (!printable_ascii(text)) {
        return fail(error_at(
            where(field.key),
            fmt::format("only printable ASCII characters are allowed{}", generated_suffix())));
      }
      if (field.key == "vendor") {
        spec.vendor = std::move(text);
      } else if (field.key == "product") {
        spec.product = std::move(text);
      } else if (field.key == "revision") {
        spec.revision = std::move(text);
      } else {
        spec.serial = std::move(text);
      }
    }
    if (tmpl.naa) {
      spec.naa = *tmpl.naa + lun_ordinal;
      if (spec.naa >> 60 != *tmpl.naa >> 60 || spec.naa < *tmpl.naa) {
        return fail(error_at(where("naa"), fmt::format("base + {} overflows the NAA field{}",
                                                       lun_ordinal, generated_suffix())));
      }
    } else {
      spec.naa = default_lu_naa(values.bus, values.target, values.lun);
    }
    if (tmpl.sas_address) {
      spec.sas_address = *tmpl.sas_address + target_ordinal;
      if (spec.sas_address >> 60 != 5 || spec.sas_address < *tmpl.sas_address) {
        return fail(
            error_at(where("sas_address"), fmt::format("base + {} is no longer a NAA 5 address{}",
                                                       target_ordinal, generated_suffix())));
      }
    } else {
      spec.sas_address = target.sas_address;
    }
    spec.relative_target_port = tmpl.relative_target_port.value_or(target.relative_target_port);
    return spec;
  }

  // {"count": N, "first_lun": 0, "template": {...}} inside a target.
  Result<std::vector<LunSpec>> generate_luns(const json& object, const std::string& path,
                                             std::uint32_t bus_number, const TargetSpec& target) {
    ObjectReader reader(object, m_source, path);
    auto count = reader.unsigned_integer("count", 1, kMaxLunNumber + 1);
    auto first = reader.unsigned_integer("first_lun", 0, kMaxLunNumber);
    for (const auto* field : {&count, &first}) {
      if (!*field) {
        return fail(field->error());
      }
    }
    if (!*count) {
      return fail(reader.error("count", "missing required field"));
    }
    const std::uint64_t first_lun = first->value_or(0);
    if (first_lun + **count - 1 > kMaxLunNumber) {
      return fail(
          reader.error("count", fmt::format("LUNs {}..{} go beyond the highest LUN {}", first_lun,
                                            first_lun + **count - 1, kMaxLunNumber)));
    }
    if (auto budget = reserve_luns(**count, reader, "count"); !budget) {
      return fail(budget.error());
    }
    auto tmpl = read_template(reader);
    if (!tmpl) {
      return fail(tmpl.error());
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    std::vector<LunSpec> luns;
    luns.reserve(**count);
    for (std::uint64_t i = 0; i < **count; ++i) {
      auto lun =
          instantiate(*tmpl, Placeholders{bus_number, target.id, first_lun + i, i}, target, 0, i);
      if (!lun) {
        return fail(lun.error());
      }
      luns.push_back(std::move(*lun));
    }
    return luns;
  }

  // {"count": N, "first_id": 0, "luns_per_target": M, "first_lun": 0, "template": {...}}.
  Result<std::vector<ParsedTarget>> generate_targets(const json& object, const std::string& path,
                                                     std::uint32_t bus_number) {
    ObjectReader reader(object, m_source, path);
    auto count = reader.unsigned_integer("count", 1, kMaxTargetId + 1);
    auto first_id = reader.unsigned_integer("first_id", 0, kMaxTargetId);
    auto per_target = reader.unsigned_integer("luns_per_target", 1, kMaxLunNumber + 1);
    auto first_lun = reader.unsigned_integer("first_lun", 0, kMaxLunNumber);
    for (const auto* field : {&count, &first_id, &per_target, &first_lun}) {
      if (!*field) {
        return fail(field->error());
      }
    }
    if (!*count) {
      return fail(reader.error("count", "missing required field"));
    }
    const std::uint64_t first = first_id->value_or(0);
    if (first + **count - 1 > kMaxTargetId) {
      return fail(reader.error("count", fmt::format("target ids {}..{} go beyond the highest id {}",
                                                    first, first + **count - 1, kMaxTargetId)));
    }
    const std::uint64_t luns = per_target->value_or(1);
    const std::uint64_t lun_base = first_lun->value_or(0);
    if (lun_base + luns - 1 > kMaxLunNumber) {
      return fail(reader.error("luns_per_target",
                               fmt::format("LUNs {}..{} go beyond the highest LUN {}", lun_base,
                                           lun_base + luns - 1, kMaxLunNumber)));
    }
    if (auto budget = reserve_luns(**count * luns, reader, "count"); !budget) {
      return fail(budget.error());
    }
    auto tmpl = read_template(reader);
    if (!tmpl) {
      return fail(tmpl.error());
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    std::vector<ParsedTarget> targets;
    targets.reserve(**count);
    std::uint64_t index = 0;
    for (std::uint64_t t = 0; t < **count; ++t) {
      ParsedTarget target;
      target.spec.id = static_cast<std::uint32_t>(first + t);
      target.id_path = path;
      target.spec.sas_address = default_target_sas_address(bus_number, target.spec.id);
      target.spec.luns.reserve(luns);
      for (std::uint64_t l = 0; l < luns; ++l, ++index) {
        auto lun = instantiate(*tmpl, Placeholders{bus_number, target.spec.id, lun_base + l, index},
                               target.spec, t, index);
        if (!lun) {
          return fail(lun.error());
        }
        target.spec.luns.push_back(std::move(*lun));
      }
      // The target's own port is the one its LUNs report.
      if (!target.spec.luns.empty()) {
        target.spec.sas_address = target.spec.luns.front().sas_address;
        target.spec.relative_target_port = target.spec.luns.front().relative_target_port;
      }
      targets.push_back(std::move(target));
    }
    return targets;
  }

  Result<LunTemplate> read_template(ObjectReader& generator) {
    const json* object = generator.find("template");
    const std::string path = generator.path_of("template");
    static const json empty = json::object();
    if (object != nullptr && !object->is_object()) {
      return fail(generator.error(
          "template", fmt::format("expected an object, got {}", describe_json_value(*object))));
    }
    ObjectReader reader(object != nullptr ? *object : empty, m_source, path);
    if (reader.has("lun")) {
      return fail(reader.error("lun", "a template cannot fix the LUN (use first_lun)"));
    }
    auto tmpl = read_lun_template(reader);
    if (!tmpl) {
      return fail(tmpl.error());
    }
    if (auto done = reader.finish(); !done) {
      return fail(done.error());
    }
    return tmpl;
  }

  // Counts LUNs before they are built (a generator's product, an array's length), so that a
  // scenario over the limit is refused without doing the work.
  Result<void> reserve_luns(std::uint64_t count, const ObjectReader& reader, std::string_view key) {
    if (count > kMaxScenarioLuns - m_luns) {
      return fail(
          reader.error(key, fmt::format("the scenario would have more than {} LUNs (the limit, see "
                                        "docs/scenarios.md)",
                                        kMaxScenarioLuns)));
    }
    m_luns += count;
    return {};
  }

  std::string_view m_source;
  std::uint64_t m_luns = 0;  // LUNs reserved so far.
};

}  // namespace

Result<Scenario> parse_scenario(std::string_view json_text, std::string_view source_name) {
  auto document = parse_json_document(json_text, source_name);
  if (!document) {
    return fail(document.error());
  }
  return Parser(source_name).parse(*document);
}

Result<Scenario> load_scenario_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail_errno(errno != 0 ? errno : 2 /* ENOENT */,
                      fmt::format("{}: cannot open scenario", path.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return fail_errno(5 /* EIO */, fmt::format("{}: cannot read scenario", path.string()));
  }
  return parse_scenario(text.str(), path.string());
}

}  // namespace ucam::emu
