// emu.*: the emulated SIM's hot-plug and fault-injection API, for tests and demos. Present only
// when the stack runs on the emulator. Addresses are scenario bus numbers (the index in the
// scenario's "buses"), as in docs/scenarios.md.
#include <fmt/format.h>

#include <cerrno>

#include "base/hex.h"
#include "service/service.h"
#include "sims/emu/emu.h"

namespace ucam::service {
namespace {

Result<emu::LunAddress> lun_address(const json& params) {
  auto bus = param_int(params, "bus", 0, UINT32_MAX);
  auto target = param_int(params, "target", 0, UINT32_MAX);
  auto lun = param_optional_int(params, "lun", 0, INT64_MAX);
  if (!bus || !target || !lun) {
    return fail(!bus ? bus.error() : !target ? target.error() : lun.error());
  }
  return emu::LunAddress{static_cast<std::uint32_t>(*bus), static_cast<std::uint32_t>(*target),
                         static_cast<std::uint64_t>(lun->value_or(0))};
}

Result<emu::Insertion> insertion(const json& params) {
  auto ua = param_bool(params, "unit_attention", false);
  if (!ua) {
    return fail(ua.error());
  }
  return *ua ? emu::Insertion::PowerOnAttention : emu::Insertion::Quiet;
}

// "05/24/00", "5 24 0" or [5, 36, 0].
Result<SenseCode> sense_code(const json& params, const char* name) {
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) {
    return fail_invalid(fmt::format("params.{}: required, e.g. \"05/24/00\"", name));
  }
  std::vector<std::uint8_t> bytes;
  if (it->is_array()) {
    for (const auto& b : *it) {
      if (!b.is_number_unsigned() || b.get<std::uint64_t>() > 0xff) {
        return fail_invalid(fmt::format("params.{}: expected 3 bytes", name));
      }
      bytes.push_back(b.get<std::uint8_t>());
    }
  } else if (it->is_string()) {
    std::string text = it->get<std::string>();
    std::replace(text.begin(), text.end(), '/', ' ');
    auto parsed = parse_hex(text);
    if (!parsed) {
      return fail(Error::invalid(fmt::format("params.{}: {}", name, parsed.error().message())));
    }
    bytes = *parsed;
  }
  if (bytes.size() != 3 || bytes[0] > 0x0f) {
    return fail_invalid(fmt::format(
        "params.{}: expected sense key/ASC/ASCQ such as \"05/24/00\" (key 0..f)", name));
  }
  return SenseCode{bytes[0], bytes[1], bytes[2]};
}

Result<emu::EnclosureRef> enclosure_ref(const json& params) {
  auto name = param_string(params, "enclosure");
  if (!name) {
    return fail(name.error());
  }
  return emu::EnclosureRef(*name);
}

// An element as sg_ses names it: {"type": 3 | "Cooling", "index": N (-1 overall)}.
Result<emu::EnclosureElement> enclosure_element(const json& params) {
  auto index = param_int(params, "index", -1, 0xffff);
  if (!index) {
    return fail(index.error());
  }
  auto it = params.find("type");
  if (it == params.end() || !(it->is_number_unsigned() || it->is_string())) {
    return fail_invalid(
        "params.type: required: an SES element type code (3) or name (\"Cooling\")");
  }
  std::uint8_t type = 0;
  if (it->is_number_unsigned()) {
    if (it->get<std::uint64_t>() > 0xff) {
      return fail_invalid("params.type: 0..255");
    }
    type = it->get<std::uint8_t>();
  } else {
    bool found = false;
    for (int t = 0; t < 256 && !found; ++t) {
      if (scsi::ses::element_type_name(static_cast<std::uint8_t>(t)) == it->get<std::string>()) {
        type = static_cast<std::uint8_t>(t);
        found = true;
      }
    }
    if (!found) {
      return fail_invalid("params.type: unknown element type " + it->dump());
    }
  }
  return emu::EnclosureElement{type, static_cast<int>(*index)};
}

Result<emu::Fault> fault_from(const json& params) {
  auto action = param_string(params, "action");
  auto count = param_optional_int(params, "count", 1, UINT32_MAX);
  auto opcode = param_optional_int(params, "opcode", 0, 0xff);
  if (!action || !count || !opcode) {
    return fail(!action ? action.error() : !count ? count.error() : opcode.error());
  }
  emu::Fault f;
  f.count = static_cast<std::uint32_t>(count->value_or(1));
  if (*opcode) {
    f.opcode = static_cast<std::uint8_t>(**opcode);
  }
  if (*action == "check_condition") {
    auto s = sense_code(params, "sense");
    if (!s) {
      return fail(s.error());
    }
    f.action = emu::Fault::Action::CheckCondition;
    f.sense = *s;
  } else if (*action == "busy" || *action == "task_set_full" || *action == "reservation_conflict") {
    f.action = emu::Fault::Action::ScsiStatus;
    f.scsi_status = *action == "busy"            ? cam::ScsiStatus::Busy
                    : *action == "task_set_full" ? cam::ScsiStatus::TaskSetFull
                                                 : cam::ScsiStatus::ReservationConflict;
  } else if (*action == "timeout" || *action == "bus_free" || *action == "requeue") {
    f.action = emu::Fault::Action::TransportError;
    f.cam_status = *action == "timeout"    ? CamStatus::CmdTimeout
                   : *action == "bus_free" ? CamStatus::UnexpBusfree
                                           : CamStatus::Requeue;
  } else if (*action == "delay") {
    auto us = param_int(params, "delay_us", 0, 3'600'000'000LL);
    if (!us) {
      return fail(us.error());
    }
    f.action = emu::Fault::Action::Delay;
    f.delay = std::chrono::microseconds(*us);
  } else if (*action == "hang") {
    f.action = emu::Fault::Action::Hang;
  } else {
    return fail_invalid(
        "params.action: one of check_condition, busy, task_set_full, reservation_conflict, "
        "timeout, bus_free, requeue, delay, hang");
  }
  // Each action takes only its own parameters: a sense with "busy" is a mistake to report, not
  // something to drop.
  for (const auto& [name, owner] :
       {std::pair<const char*, const char*>{"sense", "check_condition"}, {"delay_us", "delay"}}) {
    if (params.contains(name) && !params[name].is_null() && *action != owner) {
      return fail_invalid(fmt::format("params.{}: action \"{}\" does not take it (only {} does)",
                                      name, *action, owner));
    }
  }
  return f;
}

json view_json(const emu::EnclosureView& v) {
  json elements = json::array();
  for (const auto& e : v.elements) {
    json j = {{"element", e.global_index},
              {"type", e.type},
              {"type_name", scsi::ses::element_type_name(e.type)},
              {"index", e.index},
              {"status", hex_string(e.status)},
              {"descriptor", e.descriptor}};
    if (e.slot) {
      j["slot"] = *e.slot;
      j["sas_address"] = scsi::ses::hex64(e.sas_address);
      if (e.disk) {
        j["disk"] = {{"bus", e.disk->bus}, {"target", e.disk->target}, {"lun", e.disk->lun}};
      }
    }
    elements.push_back(std::move(j));
  }
  return {{"name", v.name},
          {"kind", v.kind == emu::EnclosureView::Kind::Ses ? "ses" : "safte"},
          {"generation", v.generation},
          {"logical_id", scsi::ses::hex64(v.logical_id)},
          {"elements", elements}};
}

}  // namespace

void register_emu_methods(Service& service) {
  emu::Emulator* emu = service.stack().emulator();
  if (emu == nullptr) {
    return;
  }
  const auto done = [](Result<void> r) -> Result<json> {
    if (!r) {
      return fail(r.error());
    }
    return json::object();
  };
  using Handler = Service::Handler;
  // Each takes bus and target; `lun` and `unit_attention` only where the method uses them.
  enum Takes : std::uint8_t { kLun = 1, kUnitAttention = 2 };
  auto lun_method = [&](const char* name, const char* summary, int takes, auto fn) {
    ParamSpecs specs = {{"bus", ParamType::Integer}, {"target", ParamType::Integer}};
    if ((takes & kLun) != 0) {
      specs.push_back({"lun", ParamType::Integer});
    }
    if ((takes & kUnitAttention) != 0) {
      specs.push_back({"unit_attention", ParamType::Boolean});
    }
    service.add_method(name, Right::Admin, summary, std::move(specs),
                       Handler([emu, fn, done](Session&, const json& params) -> Result<json> {
                         auto a = lun_address(params);
                         auto ins = insertion(params);
                         if (!a || !ins) {
                           return fail(!a ? a.error() : ins.error());
                         }
                         return done(fn(*emu, *a, *ins));
                       }));
  };
  lun_method(
      "emu.remove_lun", "Hot-removes LUN bus:target:lun (scenario numbering).", kLun,
      [](emu::Emulator& e, const emu::LunAddress& a, emu::Insertion) { return e.remove_lun(a); });
  lun_method("emu.insert_lun", "Re-inserts a removed LUN (`unit_attention`: report POWER ON once).",
             kLun | kUnitAttention,
             [](emu::Emulator& e, const emu::LunAddress& a, emu::Insertion i) {
               return e.insert_lun(a, i);
             });
  lun_method("emu.remove_target", "Hot-removes every LUN of bus:target.", 0,
             [](emu::Emulator& e, const emu::LunAddress& a, emu::Insertion) {
               return e.remove_target(a.bus, a.target);
             });
  lun_method("emu.insert_target", "Re-inserts target bus:target.", kUnitAttention,
             [](emu::Emulator& e, const emu::LunAddress& a, emu::Insertion i) {
               return e.insert_target(a.bus, a.target, i);
             });
  lun_method(
      "emu.clear_faults", "Disarms every fault and pending UNIT ATTENTION of a LUN.", kLun,
      [](emu::Emulator& e, const emu::LunAddress& a, emu::Insertion) { return e.clear_faults(a); });
  // The changer operator's actions (docs/scenarios.md, "changer"): the door, and media put
  // into or taken out of an import/export portal (0-based portal index).
  const ParamSpecs changer_lun = {
      {"bus", ParamType::Integer}, {"target", ParamType::Integer}, {"lun", ParamType::Integer}};
  auto with_params = [](ParamSpecs specs, std::initializer_list<ParamSpec> more) {
    specs.insert(specs.end(), more);
    return specs;
  };
  service.add_method("emu.changer_door", Right::Admin,
                     "Opens or closes the door of the changer LUN {`bus`, `target`, `lun`} "
                     "(`open`: true/false); media moves get NOT READY while it is open.",
                     with_params(changer_lun, {{"open", ParamType::Boolean}}),
                     [emu, done](Session&, const json& params) -> Result<json> {
                       auto a = lun_address(params);
                       auto open = param_bool(params, "open", true);
                       if (!a || !open) {
                         return fail(!a ? a.error() : open.error());
                       }
                       return done(emu->set_changer_door(
                           *a, *open ? emu::ChangerDoor::Open : emu::ChangerDoor::Closed));
                     });
  service.add_method(
      "emu.changer_import", Right::Admin,
      "Puts a medium with volume tag `volume_tag` into import/export `portal` of "
      "the changer LUN {`bus`, `target`, `lun`}.",
      with_params(changer_lun, {{"portal", ParamType::Integer}, {"volume_tag", ParamType::String}}),
      [emu, done](Session&, const json& params) -> Result<json> {
        auto a = lun_address(params);
        auto portal = param_int(params, "portal", 0, UINT16_MAX);
        auto tag = param_string(params, "volume_tag");
        if (!a || !portal || !tag) {
          return fail(!a ? a.error() : !portal ? portal.error() : tag.error());
        }
        return done(emu->import_medium(*a, static_cast<std::uint16_t>(*portal), *tag));
      });
  service.add_method("emu.changer_export", Right::Admin,
                     "Takes the medium out of import/export `portal` of the changer LUN {`bus`, "
                     "`target`, `lun`}.",
                     with_params(changer_lun, {{"portal", ParamType::Integer}}),
                     [emu, done](Session&, const json& params) -> Result<json> {
                       auto a = lun_address(params);
                       auto portal = param_int(params, "portal", 0, UINT16_MAX);
                       if (!a || !portal) {
                         return fail(!a ? a.error() : portal.error());
                       }
                       return done(emu->export_medium(*a, static_cast<std::uint16_t>(*portal)));
                     });
  service.add_method(
      "emu.changer_fault", Right::Admin,
      "Injects a fault into the changer LUN {`bus`, `target`, `lun`}: `fault` picker_jam (the "
      "next move jams, the medium stays in the picker: HARDWARE ERROR 3Bh/16h), "
      "unreadable_label (the medium at element address `element` loses its primary volume tag) "
      "or clear (disarms the jam, clears EXCEPT, makes labels readable).",
      with_params(changer_lun, {{"fault", ParamType::String}, {"element", ParamType::Integer}}),
      [emu, done](Session&, const json& params) -> Result<json> {
        auto a = lun_address(params);
        auto fault = param_string(params, "fault");
        if (!a || !fault) {
          return fail(!a ? a.error() : fault.error());
        }
        if (*fault == "picker_jam") {
          return done(emu->arm_picker_jam(*a));
        }
        if (*fault == "clear") {
          return done(emu->clear_changer_faults(*a));
        }
        if (*fault == "unreadable_label") {
          auto element = param_int(params, "element", 0, UINT16_MAX);
          if (!element) {
            return fail(element.error());
          }
          return done(emu->set_label_unreadable(*a, static_cast<std::uint16_t>(*element)));
        }
        return fail_invalid("params.fault: \"picker_jam\", \"unreadable_label\" or \"clear\"");
      });
  service.add_method("emu.remove_bus", Right::Admin,
                     "Removes scenario bus `bus`: `mode` deregister (the HBA goes) or link_down.",
                     {{"bus", ParamType::Integer}, {"mode", ParamType::String}},
                     [emu, done](Session&, const json& params) -> Result<json> {
                       auto bus = param_int(params, "bus", 0, UINT32_MAX);
                       auto mode = param_optional_string(params, "mode");
                       if (!bus || !mode) {
                         return fail(!bus ? bus.error() : mode.error());
                       }
                       const std::string m = mode->value_or("deregister");
                       if (m != "deregister" && m != "link_down") {
                         return fail_invalid("params.mode: \"deregister\" or \"link_down\"");
                       }
                       return done(emu->remove_bus(static_cast<std::uint32_t>(*bus),
                                                   m == "deregister" ? emu::BusRemoval::Deregister
                                                                     : emu::BusRemoval::LinkDown));
                     });
  service.add_method("emu.insert_bus", Right::Admin, "Brings scenario bus `bus` back.",
                     {{"bus", ParamType::Integer}, {"unit_attention", ParamType::Boolean}},
                     [emu, done](Session&, const json& params) -> Result<json> {
                       auto bus = param_int(params, "bus", 0, UINT32_MAX);
                       auto ins = insertion(params);
                       if (!bus || !ins) {
                         return fail(!bus ? bus.error() : ins.error());
                       }
                       return done(emu->insert_bus(static_cast<std::uint32_t>(*bus), *ins));
                     });
  service.add_method(
      "emu.inject", Right::Admin,
      "Arms a fault on a LUN: `action` check_condition (`sense`), busy, task_set_full, "
      "reservation_conflict, timeout, bus_free, requeue, delay (`delay_us`), hang; `count`, "
      "`opcode`.",
      {{"bus", ParamType::Integer},
       {"target", ParamType::Integer},
       {"lun", ParamType::Integer},
       {"action", ParamType::String},
       {"count", ParamType::Integer},
       {"opcode", ParamType::Integer},
       {"sense", ParamType::StringOrArray},
       {"delay_us", ParamType::Integer}},
      [emu, done](Session&, const json& params) -> Result<json> {
        auto a = lun_address(params);
        if (!a) {
          return fail(a.error());
        }
        auto f = fault_from(params);
        if (!f) {
          return fail(f.error());
        }
        return done(emu->inject(*a, *f));
      });
  service.add_method("emu.unit_attention", Right::Admin,
                     "Queues a UNIT ATTENTION (`sense`, e.g. \"06/29/00\") on a LUN.",
                     {{"bus", ParamType::Integer},
                      {"target", ParamType::Integer},
                      {"lun", ParamType::Integer},
                      {"sense", ParamType::StringOrArray}},
                     [emu, done](Session&, const json& params) -> Result<json> {
                       auto a = lun_address(params);
                       auto s = sense_code(params, "sense");
                       if (!a || !s) {
                         return fail(!a ? a.error() : s.error());
                       }
                       return done(emu->set_unit_attention(*a, *s));
                     });
  service.add_method("emu.enclosures", Right::Read,
                     "The emulated enclosures as their ES processes see them.", {},
                     [emu](Session&, const json& /*params*/) -> Result<json> {
                       json out = json::array();
                       for (const auto& name : emu->enclosure_names()) {
                         if (auto v = emu->enclosure(name)) {
                           out.push_back(view_json(*v));
                         }
                       }
                       return out;
                     });
  service.add_method(
      "emu.set_element_status", Right::Admin,
      "Sets the 4 status bytes (`status`, hex) the enclosure reports for element "
      "{`type`, `index`}.",
      {{"enclosure", ParamType::String},
       {"type", ParamType::StringOrInteger},
       {"index", ParamType::Integer},
       {"status", ParamType::String}},
      [emu, done](Session&, const json& params) -> Result<json> {
        auto ref = enclosure_ref(params);
        auto element = enclosure_element(params);
        auto status = param_string(params, "status");
        if (!ref || !element || !status) {
          return fail(!ref ? ref.error() : !element ? element.error() : status.error());
        }
        auto bytes = parse_hex(*status, HexTokens::AllowRuns);
        if (!bytes || bytes->size() != 4) {
          return fail_invalid(
              "params.status: expected 4 bytes of hex, e.g. \"02 00 00 00\" or \"02000000\"");
        }
        scsi::ses::ElementBytes b{};
        std::copy(bytes->begin(), bytes->end(), b.begin());
        return done(emu->set_element_status(*ref, *element, b));
      });
  service.add_method(
      "emu.set_sensor", Right::Admin,
      "Sets a sensor reading of element {`type`, `index`}: rpm, degrees C, mV or mA (`value`).",
      {{"enclosure", ParamType::String},
       {"type", ParamType::StringOrInteger},
       {"index", ParamType::Integer},
       {"value", ParamType::Integer}},
      [emu, done](Session&, const json& params) -> Result<json> {
        auto ref = enclosure_ref(params);
        auto element = enclosure_element(params);
        auto value = param_int(params, "value", INT32_MIN, INT32_MAX);
        if (!ref || !element || !value) {
          return fail(!ref ? ref.error() : !element ? element.error() : value.error());
        }
        return done(emu->set_sensor(*ref, *element, static_cast<std::int32_t>(*value)));
      });
  service.add_method(
      "emu.pull_disk", Right::Admin, "Pulls the disk out of `slot` of `enclosure`.",
      {{"enclosure", ParamType::String}, {"slot", ParamType::Integer}},
      [emu](Session&, const json& params) -> Result<json> {
        auto ref = enclosure_ref(params);
        auto slot = param_int(params, "slot", 0, 0xffff);
        if (!ref || !slot) {
          return fail(!ref ? ref.error() : slot.error());
        }
        auto lun = emu->pull_disk(*ref, static_cast<int>(*slot));
        if (!lun) {
          return fail(lun.error());
        }
        if (!*lun) {
          return json{{"disk", nullptr}};
        }
        return json{
            {"disk", {{"bus", (*lun)->bus}, {"target", (*lun)->target}, {"lun", (*lun)->lun}}}};
      });
  service.add_method(
      "emu.insert_disk", Right::Admin,
      "Inserts scenario LUN {`bus`, `target`, `lun`} (or a bare `sas_address`) into `slot`.",
      {{"enclosure", ParamType::String},
       {"slot", ParamType::Integer},
       {"bus", ParamType::Integer},
       {"target", ParamType::Integer},
       {"lun", ParamType::Integer},
       {"sas_address", ParamType::String},
       {"unit_attention", ParamType::Boolean}},
      [emu, done](Session&, const json& params) -> Result<json> {
        auto ref = enclosure_ref(params);
        auto slot = param_int(params, "slot", 0, 0xffff);
        auto ins = insertion(params);
        if (!ref || !slot || !ins) {
          return fail(!ref ? ref.error() : !slot ? slot.error() : ins.error());
        }
        emu::SlotDevice device;
        if (params.contains("sas_address") && !params["sas_address"].is_null()) {
          for (const char* name : {"bus", "target", "lun"}) {
            if (params.contains(name) && !params[name].is_null()) {
              return fail_invalid(fmt::format(
                  "params.{}: give a scenario LUN (bus, target, lun) or a sas_address, not both",
                  name));
            }
          }
          auto sas = param_string(params, "sas_address");
          if (!sas) {
            return fail(sas.error());
          }
          std::size_t used = 0;
          std::uint64_t value = 0;
          try {
            value = std::stoull(*sas, &used, 16);
          } catch (const std::exception&) {
            used = 0;
          }
          if (used == 0 || used != sas->size()) {
            return fail_invalid("params.sas_address: expected hex, e.g. \"5000c50000000001\"");
          }
          device = emu::SlotDevice::address(value);
        } else {
          auto a = lun_address(params);
          if (!a) {
            return fail(a.error());
          }
          device = emu::SlotDevice::disk(*a);
        }
        return done(emu->insert_disk(*ref, static_cast<int>(*slot), device, *ins));
      });
  service.add_method("emu.remove_enclosure", Right::Admin,
                     "Removes every LUN of `enclosure` (state kept).",
                     {{"enclosure", ParamType::String}},
                     [emu, done](Session&, const json& params) -> Result<json> {
                       auto ref = enclosure_ref(params);
                       if (!ref) {
                         return fail(ref.error());
                       }
                       return done(emu->remove_enclosure(*ref));
                     });
  service.add_method("emu.insert_enclosure", Right::Admin, "Re-inserts every LUN of `enclosure`.",
                     {{"enclosure", ParamType::String}, {"unit_attention", ParamType::Boolean}},
                     [emu, done](Session&, const json& params) -> Result<json> {
                       auto ref = enclosure_ref(params);
                       auto ins = insertion(params);
                       if (!ref || !ins) {
                         return fail(!ref ? ref.error() : ins.error());
                       }
                       return done(emu->insert_enclosure(*ref, *ins));
                     });
}

}  // namespace ucam::service
