// ch.*: medium changer operations on the ch driver's nodes (chio(1)'s, as JSON). ucamctl renders
// the text (cli/ch_cli.cpp).
#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <charconv>

#include "base/hex.h"
#include "periphs/ch/ch.h"
#include "scsi/smc.h"
#include "service/json_writer.h"
#include "service/service.h"

namespace ucam::service {
namespace {

namespace smc = scsi::smc;
using ch::ChElement;
using smc::ElementType;

// "picker", "storage", "portal", "drive".
std::string type_name(ElementType type) {
  return smc::element_type_name(type);
}

// "slot:12", "drive:0", "portal:3", "picker:0" (chio's type names and SMC's: storage, mt,
// ...), or an element address: 4108, "4108", "0x100c".
Result<ChElement> parse_element(const json& value, const char* name) {
  if (value.is_number_integer()) {
    const auto a = value.get<std::int64_t>();
    if (a < 0 || a > 0xFFFF) {
      return fail_invalid(fmt::format("params.{}: element address {} is not 0-65535", name, a));
    }
    return ChElement::address(static_cast<std::uint16_t>(a));
  }
  if (!value.is_string()) {
    return fail_invalid(
        fmt::format("params.{}: expected \"slot:N\", \"drive:N\", \"portal:N\", "
                    "\"picker:N\" or an element address",
                    name));
  }
  const std::string text = value.get<std::string>();
  auto number = [](std::string_view s) -> std::optional<std::uint32_t> {
    int base = 10;
    if (s.starts_with("0x") || s.starts_with("0X")) {
      s.remove_prefix(2);
      base = 16;
    }
    std::uint32_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v > 0xFFFF) {
      return std::nullopt;
    }
    return v;
  };
  const auto colon = text.find(':');
  if (colon == std::string::npos) {
    if (auto a = number(text)) {
      return ChElement::address(static_cast<std::uint16_t>(*a));
    }
  } else {
    std::string type_text = text.substr(0, colon);
    for (auto& c : type_text) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    auto type = smc::element_type_from_name(type_text);
    auto unit = number(std::string_view(text).substr(colon + 1));
    if (type && *type != ElementType::All && unit) {
      return ChElement::at(*type, static_cast<std::uint16_t>(*unit));
    }
  }
  return fail_invalid(fmt::format(
      "params.{}: '{}': expected TYPE:UNIT (slot:12, drive:0, portal:3, picker:0; units from 0) "
      "or an element address",
      name, text));
}

Result<ChElement> element_param(const json& params, const char* name) {
  if (!params.contains(name) || params[name].is_null()) {
    return fail_invalid(fmt::format("params.{}: required", name));
  }
  return parse_element(params[name], name);
}

std::string element_text(const ch::ChLocation& l) {
  return fmt::format("{}:{}", type_name(l.type), l.unit);
}

// Volume tags, identifiers and elements are written straight as JSON text (JsonWriter): a
// 1,000-slot library's status is 300 KB, and a json tree of it cost more than the SCSI side.
void write_tag(JsonWriter& w, const std::optional<smc::VolumeTag>& tag) {
  if (!tag || tag->blank()) {
    w.null();
  } else {
    w.string(tag->identifier);
  }
}

// ASCII and UTF-8 identifiers as text, binary ones in hex.
void write_identifier(JsonWriter& w, const std::optional<smc::DeviceIdentifier>& id) {
  if (!id || id->identifier.empty()) {
    w.null();
    return;
  }
  if (id->code_set == 2 || id->code_set == 3) {
    std::string s(id->identifier.begin(), id->identifier.end());
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
      s.pop_back();
    }
    w.string(s);
    return;
  }
  w.string(hex_string(id->identifier));
}

// One element, members in json's (alphabetical) order.
void write_element(JsonWriter& w, const ch::ChElementStatus& e) {
  w.begin_object();
  w.key("access").boolean(e.access);
  w.key("address").number(e.element.address);
  w.key("alternate_tag");
  write_tag(w, e.alternate_tag);
  w.key("asc").number(e.asc);
  w.key("ascq").number(e.ascq);
  w.key("device");
  if (e.devices.empty()) {
    w.null();
  } else {
    w.begin_array();
    for (const auto& d : e.devices) {
      w.string(d);
    }
    w.end_array();
  }
  w.key("except").boolean(e.except);
  w.key("exenab").boolean(e.exenab);
  w.key("full").boolean(e.full);
  w.key("identifier");
  write_identifier(w, e.identifier);
  w.key("impexp").boolean(e.impexp);
  w.key("inenab").boolean(e.inenab);
  w.key("invert").boolean(e.invert);
  w.key("medium_type").string(smc::medium_type_name(e.medium_type));
  w.key("source");
  if (e.source) {
    w.number(e.source->address);
  } else {
    w.null();
  }
  w.key("source_element");
  if (e.source) {
    w.string(element_text(*e.source));
  } else {
    w.null();
  }
  w.key("type").string(type_name(e.element.type));
  w.key("unit").number(e.element.unit);
  w.key("volume_tag");
  write_tag(w, e.primary_tag);
  w.end_object();
}

json counts_json(const smc::ElementAddressAssignment& a) {
  json j = json::object();
  for (auto type : smc::kElementTypes) {
    j[type_name(type)] = a.range(type).count;
  }
  return j;
}

// params.type: an element type name, or every type when absent.
Result<ElementType> element_type_param(const std::optional<std::string>& text) {
  if (!text) {
    return ElementType::All;
  }
  auto t = smc::element_type_from_name(*text);
  if (!t) {
    return fail_invalid("params.type: '" + *text +
                        "': expected picker, storage (slot), portal, drive or all");
  }
  return *t;
}

Result<ch::ChGetParams> get_params(devfs::FileHandle& file) {
  ch::ChGetParams p;
  if (auto r = file.ioctl(p); !r) {
    return fail(r.error());
  }
  return p;
}

// Runs one changing request and answers {device, ok: true}.
template <class Request>
Result<json> run_change(devfs::FileHandle& file, const std::string& node, Request& request) {
  if (auto r = file.ioctl(request); !r) {
    return fail(named(r.error(), node));
  }
  return json{{"device", node}, {"ok", true}};
}

const ParamSpecs kNode = {{"device", ParamType::String}, {"handle", ParamType::Integer}};

ParamSpecs with(ParamSpecs specs, std::initializer_list<ParamSpec> more) {
  specs.insert(specs.end(), more.begin(), more.end());
  return specs;
}

}  // namespace

void register_ch_methods(Service& service) {
  service.add_method(
      "ch.status", Right::Read,
      "Element status of medium changer `device` (chN, or any name of the changer) or `handle`: "
      "every element, or those of `type` (picker, storage/slot, portal, drive), with volume tags "
      "(`voltags`, default true) and the devices linked to each drive.",
      with(kNode, {{"type", ParamType::String}, {"voltags", ParamType::Boolean}}),
      [&service](Session& session, const json& params) -> Result<json> {
        auto type_text = param_optional_string(params, "type");
        auto voltags = param_bool(params, "voltags", true);
        if (!type_text || !voltags) {
          return fail(!type_text ? type_text.error() : voltags.error());
        }
        UCAM_TRY_ASSIGN(const ElementType type, element_type_param(*type_text));
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              ch::ChGetElementStatus g;
              g.type = type;
              g.voltags = *voltags;
              g.cancel = &session.cancel_token();
              if (auto r = file.ioctl(g); !r) {
                return fail(named(r.error(), node));
              }
              auto p = get_params(file);
              if (!p) {
                return fail(named(p.error(), node));
              }
              JsonWriter w;
              w.begin_object();
              w.key("counts").raw(counts_json(p->assignment).dump());
              w.key("device").string(node);
              w.key("elements").begin_array();
              for (const auto& e : g.elements) {
                write_element(w, e);
              }
              w.end_array();
              w.key("reads").number(g.reads);
              w.end_object();
              session.set_result_text(w.take());
              return json();
            },
            Resolve::Ch);
      });
  service.add_method(
      "ch.params", Right::Read,
      "Element counts and first addresses (mode page 1Dh), the current picker and the moves and "
      "exchanges the changer allows (page 1Fh) of `device` or `handle`.",
      kNode, [&service](Session& session, const json& params) -> Result<json> {
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              auto p = get_params(file);
              if (!p) {
                return fail(named(p.error(), node));
              }
              json first = json::object(), moves = json::object(), exchanges = json::object();
              json stores = json::array();
              for (auto from : smc::kElementTypes) {
                first[type_name(from)] = p->assignment.range(from).first;
                if (p->capabilities.can_store(from)) {
                  stores.push_back(type_name(from));
                }
                json m = json::array(), x = json::array();
                for (auto to : smc::kElementTypes) {
                  if (p->capabilities.can_move(from, to)) {
                    m.push_back(type_name(to));
                  }
                  if (p->capabilities.can_exchange(from, to)) {
                    x.push_back(type_name(to));
                  }
                }
                moves[type_name(from)] = std::move(m);
                exchanges[type_name(from)] = std::move(x);
              }
              return json{{"device", node},
                          {"counts", counts_json(p->assignment)},
                          {"first", std::move(first)},
                          {"picker", p->picker},
                          {"stores", std::move(stores)},
                          {"moves", std::move(moves)},
                          {"exchanges", std::move(exchanges)}};
            },
            Resolve::Ch);
      });
  service.add_method(
      "ch.move", Right::Admin,
      "MOVE MEDIUM from `from` to `to` (\"slot:12\", \"drive:0\", \"portal:3\", \"picker:0\" with "
      "units from 0, or an element address) on `device` or `handle`; `invert` flips the medium.",
      with(kNode, {{"from", ParamType::StringOrInteger},
                   {"to", ParamType::StringOrInteger},
                   {"invert", ParamType::Boolean}}),
      [&service](Session& session, const json& params) -> Result<json> {
        auto from = element_param(params, "from");
        auto to = element_param(params, "to");
        auto invert = param_bool(params, "invert", false);
        if (!from || !to || !invert) {
          return fail(!from ? from.error() : !to ? to.error() : invert.error());
        }
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              ch::ChMove m;
              m.from = *from;
              m.to = *to;
              m.invert = *invert ? smc::Invert::Yes : smc::Invert::No;
              m.cancel = &session.cancel_token();
              return run_change(file, node, m);
            },
            Resolve::Ch);
      });
  service.add_method(
      "ch.exchange", Right::Admin,
      "EXCHANGE MEDIUM: `from` -> `to`, and the medium of `to` -> `to2` (default: `from`).",
      with(kNode, {{"from", ParamType::StringOrInteger},
                   {"to", ParamType::StringOrInteger},
                   {"to2", ParamType::StringOrInteger}}),
      [&service](Session& session, const json& params) -> Result<json> {
        auto from = element_param(params, "from");
        auto to = element_param(params, "to");
        if (!from || !to) {
          return fail(!from ? from.error() : to.error());
        }
        std::optional<ChElement> to2;
        if (params.contains("to2") && !params["to2"].is_null()) {
          auto e = parse_element(params["to2"], "to2");
          if (!e) {
            return fail(e.error());
          }
          to2 = *e;
        }
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              ch::ChExchange x;
              x.source = *from;
              x.first = *to;
              x.second = to2;
              x.cancel = &session.cancel_token();
              return run_change(file, node, x);
            },
            Resolve::Ch);
      });
  service.add_method("ch.position", Right::Admin,
                     "POSITION TO ELEMENT `to` with the current picker.",
                     with(kNode, {{"to", ParamType::StringOrInteger}}),
                     [&service](Session& session, const json& params) -> Result<json> {
                       auto to = element_param(params, "to");
                       if (!to) {
                         return fail(to.error());
                       }
                       return with_node(
                           service, session, params, "device",
                           [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
                             ch::ChPosition p;
                             p.to = *to;
                             p.cancel = &session.cancel_token();
                             return run_change(file, node, p);
                           },
                           Resolve::Ch);
                     });
  service.add_method(
      "ch.init", Right::Admin,
      "INITIALIZE ELEMENT STATUS (an inventory), or WITH RANGE: `count` elements from `from`; "
      "`fast` only checks for media.",
      with(kNode, {{"from", ParamType::StringOrInteger},
                   {"count", ParamType::Integer},
                   {"fast", ParamType::Boolean}}),
      [&service](Session& session, const json& params) -> Result<json> {
        auto count = param_optional_int(params, "count", 1, 0xFFFF);
        auto fast = param_bool(params, "fast", false);
        if (!count || !fast) {
          return fail(!count ? count.error() : fast.error());
        }
        std::optional<ChElement> from;
        if (params.contains("from") && !params["from"].is_null()) {
          auto e = parse_element(params["from"], "from");
          if (!e) {
            return fail(e.error());
          }
          from = *e;
        } else if (*count) {
          return fail_invalid("params.count: goes with params.from");
        }
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              ch::ChInitElementStatus i;
              i.range = from;
              i.count = static_cast<std::uint16_t>(count->value_or(1));
              i.scan = *fast ? smc::ScanMode::Fast : smc::ScanMode::Full;
              i.cancel = &session.cancel_token();
              return run_change(file, node, i);
            },
            Resolve::Ch);
      });
  service.add_method(
      "ch.set_voltag", Right::Admin,
      "SEND VOLUME TAG on the medium in `element` of `device` or `handle` (chio setvoltag): "
      "`mode` assert (default: only when the element has no tag), replace or clear; `tag` (1-32 "
      "printable characters, no '*' or '?'; not with clear), `alternate` for the alternate tag, "
      "`sequence` its volume sequence number.",
      with(kNode, {{"element", ParamType::StringOrInteger},
                   {"tag", ParamType::String},
                   {"mode", ParamType::String},
                   {"alternate", ParamType::Boolean},
                   {"sequence", ParamType::Integer}}),
      [&service](Session& session, const json& params) -> Result<json> {
        auto element = element_param(params, "element");
        auto tag = param_optional_string(params, "tag");
        auto mode = param_optional_string(params, "mode");
        auto alternate = param_bool(params, "alternate", false);
        auto sequence = param_optional_int(params, "sequence", 0, 0xFFFF);
        if (!element || !tag || !mode || !alternate || !sequence) {
          return fail(!element     ? element.error()
                      : !tag       ? tag.error()
                      : !mode      ? mode.error()
                      : !alternate ? alternate.error()
                                   : sequence.error());
        }
        ch::ChVolTagAction action = ch::ChVolTagAction::Assert;
        const std::string m = mode->value_or("assert");
        if (m == "replace") {
          action = ch::ChVolTagAction::Replace;
        } else if (m == "clear") {
          action = ch::ChVolTagAction::Clear;
        } else if (m != "assert") {
          return fail_invalid("params.mode: '" + m + "': expected assert, replace or clear");
        }
        if (action == ch::ChVolTagAction::Clear && *tag) {
          return fail_invalid("params.tag: not with mode clear");
        }
        if (action != ch::ChVolTagAction::Clear && !*tag) {
          return fail_invalid("params.tag: required with mode " + m);
        }
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              ch::ChSetVolTag v;
              v.element = *element;
              v.which = *alternate ? ch::ChVolTag::Alternate : ch::ChVolTag::Primary;
              v.action = action;
              v.tag = tag->value_or("");
              v.sequence = static_cast<std::uint16_t>(sequence->value_or(0));
              v.cancel = &session.cancel_token();
              return run_change(file, node, v);
            },
            Resolve::Ch);
      });
  service.add_method(
      "ch.find", Right::Read,
      "Volume search on `device` or `handle`: SEND VOLUME TAG translate with `template` ('?' one "
      "character, '*' any rest) over the primary tags (or the alternate ones with `alternate`) of "
      "every element or those of `type`, then REQUEST VOLUME ELEMENT ADDRESS: the matching "
      "elements, as ch.status reports them.",
      with(kNode, {{"template", ParamType::String},
                   {"alternate", ParamType::Boolean},
                   {"type", ParamType::String}}),
      [&service](Session& session, const json& params) -> Result<json> {
        auto pattern = param_string(params, "template");
        auto alternate = param_bool(params, "alternate", false);
        auto type_text = param_optional_string(params, "type");
        if (!pattern || !alternate || !type_text) {
          return fail(!pattern     ? pattern.error()
                      : !alternate ? alternate.error()
                                   : type_text.error());
        }
        UCAM_TRY_ASSIGN(const ElementType type, element_type_param(*type_text));
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              ch::ChFindVolume f;
              f.pattern = *pattern;
              f.which = *alternate ? ch::ChVolTag::Alternate : ch::ChVolTag::Primary;
              f.type = type;
              f.cancel = &session.cancel_token();
              if (auto r = file.ioctl(f); !r) {
                return fail(named(r.error(), node));
              }
              JsonWriter w;
              w.begin_object();
              w.key("alternate").boolean(*alternate);
              w.key("device").string(node);
              w.key("elements").begin_array();
              for (const auto& e : f.elements) {
                write_element(w, e);
              }
              w.end_array();
              w.key("reads").number(f.reads);
              w.key("template").string(*pattern);
              w.end_object();
              session.set_result_text(w.take());
              return json();
            },
            Resolve::Ch);
      });
  service.add_method("ch.set_picker", Right::Admin,
                     "Selects the picker (`picker`, from 0) later moves use.",
                     with(kNode, {{"picker", ParamType::Integer}}),
                     [&service](Session& session, const json& params) -> Result<json> {
                       auto unit = param_int(params, "picker", 0, 0xFFFF);
                       if (!unit) {
                         return fail(unit.error());
                       }
                       return with_node(
                           service, session, params, "device",
                           [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
                             ch::ChSetPicker s;
                             s.unit = static_cast<std::uint16_t>(*unit);
                             return run_change(file, node, s);
                           },
                           Resolve::Ch);
                     });
}

}  // namespace ucam::service
