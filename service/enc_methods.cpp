// enc.*: sesutil-style enclosure operations on the enc driver's nodes. Every method answers
// JSON; ucamctl renders the text from it (cli/render_enc.cpp).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "base/hex.h"
#include "periphs/enc/enc.h"
#include "scsi/read_capacity.h"
#include "scsi/ses.h"
#include "scsi/ses_element.h"
#include "scsi/ses_json.h"
#include "service/json_writer.h"
#include "service/service.h"

namespace ucam::service {
namespace ses = scsi::ses;

namespace {

Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// How this SES device reads its enclosure: `path_error` (why its last status read failed) and
// `status_via` (the SES device whose status it shows meanwhile), both null when it reads fine.
void add_path_state(json& j, const enc::EncState& s) {
  j["path_error"] = s.path_error.empty() ? json() : json(s.path_error);
  j["status_via"] = s.status_via.empty() ? json() : json(s.status_via);
}

// An enclosure node for the duration of one call: opened here, or a session handle (held
// under its lock).
struct Enclosure {
  std::string name;  // "ses0"
  devfs::FileHandle own;
  std::shared_ptr<Session::OpenHandle> held;
  std::unique_lock<std::mutex> held_lock;
  std::shared_ptr<const enc::EncState> state;

  devfs::FileHandle& file() { return held ? held->file : own; }
};

Result<void> load_state(Enclosure& e) {
  enc::EncGetState get;
  if (auto r = e.file().ioctl(get); !r) {
    return fail(named(r.error(), e.name));
  }
  e.state = get.state;
  return {};
}

// The enclosures `params` names: params.handle, params.enclosure, or (neither) every one.
Result<std::vector<Enclosure>> open_enclosures(Stack& stack, Session& session, const json& params) {
  std::vector<Enclosure> out;
  auto handle_id = param_optional_int(params, "handle", 1, INT64_MAX);
  auto filter = param_optional_string(params, "enclosure");
  if (!handle_id) {
    return fail(handle_id.error());
  }
  if (!filter) {
    return fail(filter.error());
  }
  if (*handle_id && *filter) {
    return fail_invalid("params.enclosure: give \"handle\" or \"enclosure\", not both");
  }
  if (*handle_id) {
    auto h = session.find_handle(**handle_id);
    if (!h) {
      return fail(h.error());
    }
    Enclosure e;
    e.name = (*h)->node;
    e.held = *h;
    e.held_lock = std::unique_lock((*h)->lock);
    if (auto r = load_state(e); !r) {
      return fail(r.error());
    }
    out.push_back(std::move(e));
    return out;
  }
  std::string wanted = filter->value_or("");
  if (wanted.starts_with("/dev/")) {
    wanted = wanted.substr(5);
  }
  for (const auto& name : stack.devfs().names()) {
    if (!name.starts_with("ses") || (!wanted.empty() && name != wanted)) {
      continue;
    }
    auto h = stack.devfs().open(name);
    if (!h) {
      continue;  // Departed between listing and opening.
    }
    Enclosure e;
    e.name = name;
    e.own = std::move(*h);
    if (auto r = load_state(e); !r) {
      if (r.error().errno_value() == ENXIO) {
        continue;  // Departed after opening.
      }
      return fail(r.error());
    }
    out.push_back(std::move(e));
  }
  if (out.empty() && !wanted.empty()) {
    return fail(Error::described(ENOENT, wanted + ": no such enclosure (see 'ucamctl enc list')"));
  }
  return out;
}

enum class Need : std::uint8_t { Any, One };

// The preamble of every enc method (its parameters are checked by then): Need::One requires
// "enclosure" or "handle", then the enclosures are opened.
Result<std::vector<Enclosure>> enclosures_for(Stack& stack, Session& session, const json& params,
                                              Need need) {
  if (need == Need::One && !params.contains("enclosure") && !params.contains("handle")) {
    return fail_invalid("params: give \"enclosure\" or \"handle\"");
  }
  return open_enclosures(stack, session, params);
}

std::string devnames(Enclosure& e, int index) {
  enc::EncGetElementDevnames get;
  get.index = index;
  if (!e.file().ioctl(get)) {
    return "";
  }
  return get.names;
}

std::string overall_text(std::uint8_t flags) {
  if ((flags & ses::kEnclosureStatusMask) == 0) {
    return "OK";
  }
  std::string s;
  auto add = [&](std::uint8_t bit, const char* name) {
    if ((flags & bit) != 0) {
      s += (s.empty() ? "" : ", ") + std::string(name);
    }
  };
  add(ses::kEnclosureInvop, "INVOP");
  add(ses::kEnclosureInfo, "INFO");
  add(ses::kEnclosureNonCritical, "NONCRITICAL");
  add(ses::kEnclosureCritical, "CRITICAL");
  add(ses::kEnclosureUnrecoverable, "UNRECOV");
  return s;
}

// sesutil's "Extra status" items.
std::vector<std::string> extra_status(const enc::EncElement& e) {
  std::vector<std::string> out;
  if (ses::prdfail(e.status)) {
    out.emplace_back("Predicted Failure");
  }
  if (ses::disabled(e.status)) {
    out.emplace_back("Disabled");
  }
  if (ses::swap(e.status)) {
    out.emplace_back("Swapped");
  }
  switch (e.element_type) {
    case 0x01:
    case 0x17: {
      const auto slot = ses::decode_slot_status(e.element_type, e.status);
      if (slot.ident) {
        out.emplace_back("LED=locate");
      }
      if (slot.fault_requested || slot.fault_sensed) {
        out.emplace_back("LED=fault");
      }
      break;
    }
    case 0x03:
      out.push_back(
          fmt::format("Speed: {} rpm", ses::decode_cooling_status(e.status).actual_speed_rpm));
      break;
    case 0x04: {
      const auto t = ses::decode_temperature_status(e.status).temperature_c;
      out.push_back(t ? fmt::format("Temperature: {} C", *t)
                      : std::string("Temperature: -reserved-"));
      break;
    }
    case 0x12:
      out.push_back(fmt::format("Voltage: {:.2f} V",
                                ses::decode_voltage_status(e.status).millivolts / 1000.0));
      break;
    case 0x13:
      out.push_back(fmt::format("Current: {:.2f} A",
                                ses::decode_current_status(e.status).milliamps / 1000.0));
      break;
    default:
      break;
  }
  return out;
}

// One element as enc.map and enc.set_element show it, written as text: enc.map of a 102-slot
// enclosure was a json tree of ~2,000 std::map nodes built, dumped and freed per request. Members
// are written in json::dump()'s order (sorted by key) so the text is what a tree would give.
void write_element(JsonWriter& w, Enclosure& enc, const enc::EncElement& e) {
  w.begin_object();
  w.key("bytes").string(hex_string(e.status));
  w.key("descriptor").string(ses::descriptor_json(e.descriptor));
  w.key("descriptor_hex").string(hex_string(as_bytes(e.descriptor)));
  w.key("device_slot_number");
  if (e.device_slot_number) {
    w.number(*e.device_slot_number);
  } else {
    w.null();
  }
  const std::string devices = devnames(enc, e.index);
  w.key("devices").string(devices);
  w.key("element_type").number(e.element_type);
  w.key("extra").begin_array();
  for (const auto& x : extra_status(e)) {
    w.string(x);
  }
  w.end_array();
  // Absent when the element has no decoded fields; a name given twice keeps its last value.
  auto fields = ses::decode_element_fields(e.element_type, e.status);
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  if (!fields.empty()) {
    w.key("fields").begin_object();
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i + 1 < fields.size() && fields[i + 1].name == fields[i].name) {
        continue;
      }
      w.key(fields[i].name);
      std::visit(
          [&w](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              w.null();
            } else if constexpr (std::is_same_v<T, bool>) {
              w.boolean(v);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
              w.number(v);
            } else {
              w.string(v);
            }
          },
          fields[i].value);
    }
    w.end_object();
  }
  w.key("index").number(e.index);
  w.key("index_in_type").number(e.index_in_type);
  if (!e.physical_path.empty() && !e.devices.empty()) {
    w.key("physical_path").string(e.physical_path);
  }
  w.key("sas_addresses").begin_array();
  for (auto a : e.sas_addresses) {
    w.string(ses::hex64(a));
  }
  w.end_array();
  const auto code = ses::status_code(e.status);
  w.key("status").string(ses::element_status_name(code));
  w.key("status_code").number(code);
  w.key("type").string(ses::element_type_name(e.element_type));
  w.key("type_index").number(e.type_index);
  w.end_object();
}

std::string humanize_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000.0 && u < 5) {
    v /= 1000.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f}{}", v, kUnits[u]) : fmt::format("{:.1f}{}", v, kUnits[u]);
}

json disk_json(Stack& stack, const enc::EncElement& e) {
  json d = {{"model", nullptr}, {"serial", nullptr}, {"size", nullptr}, {"bytes", nullptr}};
  if (e.devices.empty()) {
    return d;
  }
  auto info = stack.xpt().device(e.devices.front());
  if (!info) {
    return d;
  }
  d["model"] = info->vendor + " " + info->product;
  d["serial"] = info->serial.empty() ? json() : json(info->serial);
  auto cap = info->advinfo.find(cam::AdvinfoType::Rcaplong);
  if (cap != info->advinfo.end()) {
    if (auto rc = scsi::parse_read_capacity16(cap->second)) {
      d["bytes"] = rc->block_count() * rc->block_length;
      d["size"] = humanize_bytes(rc->block_count() * rc->block_length);
    }
  }
  return d;
}

// A slot named by its descriptor: `raw` (the element's page 0x07 bytes) in its text form, which
// `name` matches case-insensitively, with '_' and ' ' the same ("slot_00" finds "Slot 00", as
// physical paths spell descriptors).
bool same_descriptor(std::string_view raw, std::string_view name) {
  const std::string a = ses::element_descriptor_text(raw);
  const std::string_view b = name;
  if (a.size() != b.size() || a.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto norm = [](char c) {
      return c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    };
    if (norm(a[i]) != norm(b[i])) {
      return false;
    }
  }
  return true;
}

// A target resolved to elements: (enclosure, element index) pairs. `pinned` when the target
// named the SES device (sesN:...): that path and no other is used.
struct Targets {
  std::vector<std::pair<std::size_t, int>> elements;
  bool pinned = false;
};

bool reads_fine(const Enclosure& e) {
  return e.state->path_error.empty();
}

// Whether element `index` of `a` and of `b` is one element seen through two SES devices: the same
// enclosure (logical id), configuration generation, element type and index in its type.
bool same_element(const Enclosure& a, const Enclosure& b, int index) {
  const auto& sa = *a.state;
  const auto& sb = *b.state;
  if (sa.logical_id == 0 || sa.logical_id != sb.logical_id || sa.generation != sb.generation ||
      index < 0 || static_cast<std::size_t>(index) >= sa.elements.size() ||
      static_cast<std::size_t>(index) >= sb.elements.size()) {
    return false;
  }
  const auto& ea = sa.elements[static_cast<std::size_t>(index)];
  const auto& eb = sb.elements[static_cast<std::size_t>(index)];
  return ea.element_type == eb.element_type && ea.index_in_type == eb.index_in_type;
}

// Every path to element `index` of encs[i], in the order to try them: those whose last status
// read succeeded first, encs[i] first among equals.
std::vector<std::size_t> paths_to(const std::vector<Enclosure>& encs, std::size_t i, int index) {
  std::vector<std::size_t> out{i};
  for (std::size_t j = 0; j < encs.size(); ++j) {
    if (j != i && same_element(encs[i], encs[j], index)) {
      out.push_back(j);
    }
  }
  std::stable_partition(out.begin(), out.end(), [&](std::size_t k) { return reads_fine(encs[k]); });
  return out;
}

// An element seen through several SES devices of one enclosure is addressed once, through the
// first of paths_to().
void one_path_per_element(const std::vector<Enclosure>& encs,
                          std::vector<std::pair<std::size_t, int>>& targets) {
  std::vector<std::pair<std::size_t, int>> out;
  for (auto [i, index] : targets) {
    const std::size_t best = paths_to(encs, i, index).front();
    const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& t) {
      return t.second == index &&
             (t.first == best || same_element(encs[t.first], encs[best], index));
    });
    if (!seen) {
      out.emplace_back(best, index);
    }
  }
  targets = std::move(out);
}

// Whether a control that failed through one path may succeed through another: the path or the
// device failed, not the request.
bool another_path_may_help(const Error& error) {
  switch (error.errno_value()) {
    case EINVAL:
    case ESTALE:
    case EBADF:
    case EPERM:
    case EACCES:
      return false;
    default:
      return true;
  }
}

bool addressable_slot(const enc::EncElement& e) {
  return ses::is_slot_type(e.element_type) && e.index_in_type >= 0 &&
         ses::status_code(e.status) != 8 /* No Access Allowed */;
}

// Resolves a target to (enclosure, element) pairs:
//   all                every addressable slot
//   sesN:ELEMENT       element index;   sesN:DESCRIPTOR   a slot by its descriptor
//   a disk             passN, daN, /dev/..., bus:target:lun: the slot holding it
//   DESCRIPTOR         a slot by its descriptor ("Slot 03", "slot_03"), in one enclosure
Result<std::vector<std::pair<std::size_t, int>>> find_targets(Stack& stack,
                                                              std::vector<Enclosure>& encs,
                                                              const std::string& target) {
  std::vector<std::pair<std::size_t, int>> out;
  if (target == "all") {
    for (std::size_t i = 0; i < encs.size(); ++i) {
      for (const auto& e : encs[i].state->elements) {
        if (addressable_slot(e)) {
          out.emplace_back(i, e.index);
        }
      }
    }
    return out;
  }
  if (const auto colon = target.find(':');
      colon != std::string::npos && target.starts_with("ses")) {
    const std::string enc = target.substr(0, colon);
    const std::string what = target.substr(colon + 1);
    for (std::size_t i = 0; i < encs.size(); ++i) {
      if (encs[i].name != enc) {
        continue;
      }
      const auto& elements = encs[i].state->elements;
      const bool numeric = !what.empty() && std::all_of(what.begin(), what.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      });
      if (numeric) {
        const auto index = what.size() > 6 ? -1 : std::stoi(what);
        if (index < 0 || static_cast<std::size_t>(index) >= elements.size()) {
          return fail_invalid(
              fmt::format("{}: element must be 0..{}", target, elements.size() - 1));
        }
        out.emplace_back(i, index);
        return out;
      }
      for (const auto& e : elements) {
        if (same_descriptor(e.descriptor, what)) {
          out.emplace_back(i, e.index);
          return out;
        }
      }
      return fail(Error::described(
          ENOENT, fmt::format("{}: no element with descriptor '{}' in {}", target, what, enc)));
    }
    return fail(Error::described(ENOENT, enc + ": no such enclosure"));
  }
  // A disk: match against each slot's device names, exactly (sesutil's substring match lets
  // "da1" hit "ada1"; we compare whole names), or by its device path.
  auto node = stack.resolve(target);
  const std::string wanted = node ? *node : target;
  for (std::size_t i = 0; i < encs.size(); ++i) {
    for (const auto& e : encs[i].state->elements) {
      for (const auto& p : e.devices) {
        const auto names = stack.periphs().names_for(p);
        if (std::find(names.begin(), names.end(), wanted) != names.end()) {
          out.emplace_back(i, e.index);
        }
      }
    }
  }
  if (!out.empty()) {
    return out;
  }
  if (node) {
    return fail(
        Error::described(ENOENT, "could not find the enclosure slot of device '" + target + "'"));
  }
  // A slot descriptor. Two SES devices of one enclosure (same logical id) count once.
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < encs.size(); ++i) {
    for (const auto& e : encs[i].state->elements) {
      if (ses::is_slot_type(e.element_type) && same_descriptor(e.descriptor, target)) {
        if (std::find(ids.begin(), ids.end(), encs[i].state->logical_id) == ids.end()) {
          ids.push_back(encs[i].state->logical_id);
          out.emplace_back(i, e.index);
        }
      }
    }
  }
  if (out.size() > 1) {
    std::string where;
    for (auto [i, index] : out) {
      where += (where.empty() ? "" : ", ") + fmt::format("{}:{}", encs[i].name, index);
    }
    return fail_invalid(fmt::format("'{}' names a slot in {} enclosures ({}): say which, e.g. {}",
                                    target, out.size(), where,
                                    fmt::format("{}:{}", encs[out[0].first].name, target)));
  }
  if (out.empty()) {
    return fail(Error::described(
        ENOENT, "'" + target + "' is neither a device nor a slot name (see 'ucamctl enc show')"));
  }
  return out;
}

// find_targets(), then an element an enclosure shows through several SES devices counts once
// (one_path_per_element) unless the target names the SES device.
Result<Targets> resolve_targets(Stack& stack, std::vector<Enclosure>& encs,
                                const std::string& target) {
  auto found = find_targets(stack, encs, target);
  if (!found) {
    return fail(found.error());
  }
  Targets out;
  out.pinned = target.starts_with("ses") && target.find(':') != std::string::npos;
  out.elements = std::move(*found);
  if (!out.pinned) {
    one_path_per_element(encs, out.elements);
  }
  return out;
}

json led_readback(std::vector<Enclosure>& encs,
                  const std::vector<std::pair<std::size_t, int>>& targets, bool fault,
                  cam::CancelToken* cancel) {
  // Refresh each touched enclosure once and report the LED as the enclosure sees it.
  std::vector<bool> refreshed(encs.size(), false);
  json out = json::array();
  for (auto [i, index] : targets) {
    auto& e = encs[i];
    if (!refreshed[i]) {
      enc::EncRefresh refresh;
      refresh.cancel = cancel;
      (void)e.file().ioctl(refresh);
      (void)load_state(e);
      refreshed[i] = true;
    }
    const auto& el = e.state->elements.at(index);
    const auto slot = ses::decode_slot_status(el.element_type, el.status);
    const bool on = fault ? (slot.fault_requested || slot.fault_sensed) : slot.ident;
    out.push_back({{"enclosure", e.name},
                   {"element", index},
                   {"descriptor", ses::descriptor_json(el.descriptor)},
                   {"descriptor_hex", hex_string(as_bytes(el.descriptor))},
                   {"devices", devnames(e, index)},
                   {fault ? "fault" : "locate", on}});
  }
  return out;
}

Result<bool> led_kind(const json& params) {
  auto kind = param_string(params, "kind");
  if (!kind) {
    return fail(kind.error());
  }
  if (*kind != "locate" && *kind != "fault") {
    return fail_invalid("params.kind: expected \"locate\" or \"fault\", got \"" + *kind + "\"");
  }
  return *kind == "fault";
}

}  // namespace

void register_enc_methods(Service& service) {
  Stack& stack = service.stack();
  service.add_method("enc.list", Right::Read,
                     "One entry per enclosure node: name, id, slots, overall status.", {},
                     [&stack](Session& session, const json& params) -> Result<json> {
                       auto encs = enclosures_for(stack, session, params, Need::Any);
                       if (!encs) {
                         return fail(encs.error());
                       }
                       json out = json::array();
                       for (auto& e : *encs) {
                         const auto& s = *e.state;
                         std::size_t slots = 0, occupied = 0;
                         for (const auto& el : s.elements) {
                           if (ses::is_slot_type(el.element_type) && el.index_in_type >= 0) {
                             ++slots;
                             occupied += el.devices.empty() ? 0 : 1;
                           }
                         }
                         out.push_back({{"enclosure", e.name},
                                        {"name", s.name},
                                        {"id", ses::hex64(s.logical_id)},
                                        {"elements", s.elements.size()},
                                        {"slots", slots},
                                        {"occupied_slots", occupied},
                                        {"status", overall_text(s.enclosure_status)},
                                        {"generation", s.generation}});
                         add_path_state(out.back(), s);
                       }
                       return out;
                     });
  service.add_method(
      "enc.map", Right::Read,
      "Every element of `enclosure` (or `handle`, or every enclosure): type, status, descriptor, "
      "devices, decoded fields.",
      {{"enclosure", ParamType::String}, {"handle", ParamType::Integer}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto encs = enclosures_for(stack, session, params, Need::Any);
        if (!encs) {
          return fail(encs.error());
        }
        JsonWriter w;
        w.begin_array();
        for (auto& e : *encs) {
          const auto& s = *e.state;
          w.begin_object();  // Members in json::dump()'s (sorted) order.
          w.key("elements").begin_array();
          for (const auto& el : s.elements) {
            write_element(w, e, el);
          }
          w.end_array();
          w.key("enclosure").string(e.name);
          w.key("generation").unsigned_number(s.generation);
          w.key("id").string(ses::hex64(s.logical_id));
          w.key("name").string(s.name);
          w.key("path_error");
          s.path_error.empty() ? w.null() : w.string(s.path_error);
          w.key("status_via");
          s.status_via.empty() ? w.null() : w.string(s.status_via);
          w.end_object();
        }
        w.end_array();
        session.set_result_text(w.take());
        return json();
      });
  service.add_method(
      "enc.show", Right::Read,
      "Slots (device, model, serial, size, status, physical path) and sensors: temperatures, "
      "fans, PSUs, voltages.",
      {{"enclosure", ParamType::String}, {"handle", ParamType::Integer}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto encs = enclosures_for(stack, session, params, Need::Any);
        if (!encs) {
          return fail(encs.error());
        }
        json out = json::array();
        for (auto& e : *encs) {
          const auto& s = *e.state;
          json slots = json::array(), temps = json::array(), fans = json::array(),
               psus = json::array(), volts = json::array();
          for (const auto& el : s.elements) {
            if (el.index_in_type < 0 || ses::status_code(el.status) == 0) {
              continue;
            }
            const auto status = ses::element_status_name(ses::status_code(el.status));
            const auto label = el.descriptor.empty()
                                   ? fmt::format("{} {}", ses::element_type_name(el.element_type),
                                                 el.index_in_type)
                                   : ses::descriptor_json(el.descriptor);
            switch (el.element_type) {
              case 0x01:
              case 0x17: {
                json slot = {
                    {"element", el.index},
                    {"slot", el.index_in_type},
                    {"descriptor", ses::descriptor_json(el.descriptor)},
                    {"descriptor_hex", hex_string(as_bytes(el.descriptor))},
                    {"devices", devnames(e, el.index)},
                    {"status", status},
                    {"ok", ses::status_code(el.status) == 1},
                    {"extra", extra_status(el)},
                    {"physical_path", el.devices.empty() ? json() : json(el.physical_path)}};
                slot.update(disk_json(stack, el));
                slots.push_back(std::move(slot));
                break;
              }
              case 0x04: {
                const auto t = ses::decode_temperature_status(el.status).temperature_c;
                temps.push_back({{"element", el.index},
                                 {"descriptor", label},
                                 {"celsius", t ? json(*t) : json()},
                                 {"status", status}});
                break;
              }
              case 0x03:
                fans.push_back({{"element", el.index},
                                {"descriptor", label},
                                {"rpm", ses::decode_cooling_status(el.status).actual_speed_rpm},
                                {"status", status}});
                break;
              case 0x02:
                psus.push_back({{"element", el.index}, {"descriptor", label}, {"status", status}});
                break;
              case 0x12:
                volts.push_back(
                    {{"element", el.index},
                     {"descriptor", label},
                     {"volts", ses::decode_voltage_status(el.status).millivolts / 1000.0},
                     {"status", status}});
                break;
              default:
                break;
            }
          }
          out.push_back({{"enclosure", e.name},
                         {"name", s.name},
                         {"id", ses::hex64(s.logical_id)},
                         {"status", overall_text(s.enclosure_status)},
                         {"slots", slots},
                         {"temperatures", temps},
                         {"fans", fans},
                         {"power_supplies", psus},
                         {"voltages", volts}});
          add_path_state(out.back(), s);
        }
        return out;
      });
  service.add_method(
      "enc.status", Right::Read,
      "Overall status per enclosure; `ok` is false for NONCRITICAL, CRITICAL, UNRECOV, INVOP.",
      {{"enclosure", ParamType::String}, {"handle", ParamType::Integer}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto encs = enclosures_for(stack, session, params, Need::Any);
        if (!encs) {
          return fail(encs.error());
        }
        json out = json::array();
        for (auto& e : *encs) {
          const auto flags = e.state->enclosure_status;
          // INFO alone counts as OK (informational; sesutil's all-INFO failure is a quirk).
          const bool ok = (flags & (ses::kEnclosureNonCritical | ses::kEnclosureCritical |
                                    ses::kEnclosureUnrecoverable | ses::kEnclosureInvop)) == 0;
          out.push_back({{"enclosure", e.name},
                         {"status", overall_text(flags)},
                         {"ok", ok},
                         {"flags", flags}});
        }
        return out;
      });
  service.add_method(
      "enc.get_led", Right::Read,
      "Reads the `kind` (locate|fault) LED of `target`: a disk, sesN:ELEMENT, a slot name, or "
      "all.",
      {{"target", ParamType::String},
       {"kind", ParamType::String},
       {"enclosure", ParamType::String}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto fault = led_kind(params);
        auto target = param_string(params, "target");
        if (!fault || !target) {
          return fail(!fault ? fault.error() : target.error());
        }
        auto encs = enclosures_for(stack, session, params, Need::Any);
        if (!encs) {
          return fail(encs.error());
        }
        auto targets = resolve_targets(stack, *encs, *target);
        if (!targets) {
          return fail(targets.error());
        }
        return led_readback(*encs, targets->elements, *fault, &session.cancel_token());
      });
  service.add_method(
      "enc.set_led", Right::Admin,
      "Turns the `kind` (locate|fault) LED of `target` `state` (on|off), then reads it back.",
      {{"target", ParamType::String},
       {"kind", ParamType::String},
       {"state", ParamType::String},
       {"enclosure", ParamType::String}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto fault = led_kind(params);
        auto target = param_string(params, "target");
        auto state = param_string(params, "state");
        if (!fault || !target || !state) {
          return fail(!fault ? fault.error() : !target ? target.error() : state.error());
        }
        if (*state != "on" && *state != "off") {
          return fail_invalid("params.state: expected \"on\" or \"off\", got \"" + *state + "\"");
        }
        auto encs = enclosures_for(stack, session, params, Need::Any);
        if (!encs) {
          return fail(encs.error());
        }
        auto targets = resolve_targets(stack, *encs, *target);
        if (!targets) {
          return fail(targets.error());
        }
        const auto request = *fault ? ses::SlotRequest::Fault : ses::SlotRequest::Ident;
        const auto turn = *state == "on" ? ses::Turn::On : ses::Turn::Off;
        auto set_through = [&](Enclosure& e, int index) -> Result<void> {
          const auto& el = e.state->elements[static_cast<std::size_t>(index)];
          auto control = ses::slot_control(el.element_type, el.status, request, turn);
          if (!control) {
            return fail(control.error().with_context(fmt::format("{}:{}", e.name, index)));
          }
          enc::EncSetElementStatus set;
          set.index = index;
          set.control = *control;
          set.generation = e.state->generation;
          set.cancel = &session.cancel_token();
          if (auto r = e.file().ioctl(set); !r) {
            return fail(r.error().with_context(fmt::format("{}:{}", e.name, index)));
          }
          return {};
        };
        for (auto& [i, index] : targets->elements) {
          // Through the first path to the element that takes it; the next one only when the
          // path or its device failed (not for a bad request). A pinned target has one path.
          const auto paths =
              targets->pinned ? std::vector<std::size_t>{i} : paths_to(*encs, i, index);
          Result<void> r;
          for (const std::size_t j : paths) {
            r = set_through((*encs)[j], index);
            if (r || !another_path_may_help(r.error())) {
              i = j;
              break;
            }
          }
          if (!r) {
            return fail(r.error());
          }
        }
        return led_readback(*encs, targets->elements, *fault, &session.cancel_token());
      });
  service.add_method(
      "enc.set_element", Right::Admin,
      "Sends 4 control bytes (`control`, hex) for `element` of `enclosure` or `handle` "
      "(SETELMSTAT); `generation` guards against a changed configuration.",
      {{"enclosure", ParamType::String},
       {"handle", ParamType::Integer},
       {"element", ParamType::Integer},
       {"control", ParamType::String},
       {"generation", ParamType::Integer}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto element = param_int(params, "element", 0, 0xffff);
        auto control = param_string(params, "control");
        auto generation = param_optional_int(params, "generation", 0, UINT32_MAX);
        if (!element || !control || !generation) {
          return fail(!element ? element.error() : !control ? control.error() : generation.error());
        }
        auto bytes = parse_hex(*control, HexTokens::AllowRuns);
        if (!bytes || bytes->size() != 4) {
          return fail_invalid(
              "params.control: expected 4 bytes of hex, e.g. \"80 00 02 00\" or \"80000200\"");
        }
        auto encs = enclosures_for(stack, session, params, Need::One);
        if (!encs) {
          return fail(encs.error());
        }
        auto& e = encs->front();
        if (static_cast<std::size_t>(*element) >= e.state->elements.size()) {
          return fail_invalid(fmt::format("params.element: {} has elements 0..{}", e.name,
                                          e.state->elements.size() - 1));
        }
        enc::EncSetElementStatus set;
        set.index = static_cast<int>(*element);
        std::copy(bytes->begin(), bytes->end(), set.control.begin());
        if (*generation) {
          set.generation = static_cast<std::uint32_t>(**generation);
        }
        set.cancel = &session.cancel_token();
        if (auto r = e.file().ioctl(set); !r) {
          return fail(r.error().with_context(fmt::format("{}:{}", e.name, *element)));
        }
        enc::EncRefresh refresh;
        refresh.cancel = &session.cancel_token();
        (void)e.file().ioctl(refresh);
        if (auto r = load_state(e); !r) {
          return fail(r.error());
        }
        JsonWriter w;
        write_element(w, e, e.state->elements.at(static_cast<std::size_t>(*element)));
        session.set_result_text(w.take());
        return json();
      });
  service.add_method(
      "enc.set_enclosure_status", Right::Admin,
      "Requests the enclosure's INFO/NON-CRIT/CRIT/UNRECOV indicators (`flags`, 0..15).",
      {{"enclosure", ParamType::String},
       {"handle", ParamType::Integer},
       {"flags", ParamType::Integer},
       {"generation", ParamType::Integer}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto flags = param_int(params, "flags", 0, 15);
        auto generation = param_optional_int(params, "generation", 0, UINT32_MAX);
        if (!flags || !generation) {
          return fail(!flags ? flags.error() : generation.error());
        }
        auto encs = enclosures_for(stack, session, params, Need::One);
        if (!encs) {
          return fail(encs.error());
        }
        enc::EncSetEnclosureStatus set;
        set.flags = static_cast<std::uint8_t>(*flags);
        if (*generation) {
          set.generation = static_cast<std::uint32_t>(**generation);
        }
        set.cancel = &session.cancel_token();
        if (auto r = encs->front().file().ioctl(set); !r) {
          return fail(named(r.error(), encs->front().name));
        }
        return json::object();
      });
  service.add_method("enc.get_string", Right::Read, "Reads the String In page (0x04), raw, as hex.",
                     {{"enclosure", ParamType::String}, {"handle", ParamType::Integer}},
                     [&stack](Session& session, const json& params) -> Result<json> {
                       auto encs = enclosures_for(stack, session, params, Need::One);
                       if (!encs) {
                         return fail(encs.error());
                       }
                       enc::EncString get(enc::EncString::kGet);
                       get.cancel = &session.cancel_token();
                       if (auto r = encs->front().file().ioctl(get); !r) {
                         return fail(named(r.error(), encs->front().name));
                       }
                       return json{{"data", hex_string(get.data)}};
                     });
  service.add_method("enc.set_string", Right::Admin,
                     "Writes the String Out page (0x04): `data`, hex.",
                     {{"enclosure", ParamType::String},
                      {"handle", ParamType::Integer},
                      {"data", ParamType::String}},
                     [&stack](Session& session, const json& params) -> Result<json> {
                       auto data = param_string(params, "data");
                       if (!data) {
                         return fail(data.error());
                       }
                       auto bytes = parse_hex(*data, HexTokens::AllowRuns);
                       if (!bytes) {
                         return fail(Error::invalid("params.data: " + bytes.error().message()));
                       }
                       auto encs = enclosures_for(stack, session, params, Need::One);
                       if (!encs) {
                         return fail(encs.error());
                       }
                       enc::EncString set(enc::EncString::kSet);
                       set.data = std::move(*bytes);
                       set.cancel = &session.cancel_token();
                       if (auto r = encs->front().file().ioctl(set); !r) {
                         return fail(named(r.error(), encs->front().name));
                       }
                       return json::object();
                     });
  service.add_method(
      "enc.refresh", Right::Read,
      "Re-reads `enclosure` (or every enclosure) from the device now and waits for the result.",
      {{"enclosure", ParamType::String}, {"handle", ParamType::Integer}},
      [&stack](Session& session, const json& params) -> Result<json> {
        auto encs = enclosures_for(stack, session, params, Need::Any);
        if (!encs) {
          return fail(encs.error());
        }
        json out = json::array();
        for (auto& e : *encs) {
          enc::EncRefresh refresh;
          refresh.cancel = &session.cancel_token();
          if (auto r = e.file().ioctl(refresh); !r) {
            return fail(named(r.error(), e.name));
          }
          if (auto r = load_state(e); !r) {
            return fail(r.error());
          }
          out.push_back({{"enclosure", e.name},
                         {"generation", e.state->generation},
                         {"refresh", e.state->refresh},
                         {"warnings", e.state->warnings}});
        }
        return out;
      });
}

}  // namespace ucam::service
