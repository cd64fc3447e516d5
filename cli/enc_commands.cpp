// ucamctl enc ...: sesutil-style enclosure commands on top of the enc driver's nodes.
#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <iterator>

#include "base/hex.h"
#include "cli/common.h"
#include "periphs/enc/enc.h"
#include "scsi/read_capacity.h"
#include "scsi/ses.h"
#include "scsi/ses_element.h"
#include "scsi/ses_json.h"

namespace ucam::cli {
namespace ses = scsi::ses;
using nlohmann::json;

namespace {

struct Enclosure {
  std::string name;  // "ses0"
  devfs::FileHandle handle;
  std::shared_ptr<const enc::EncState> state;
};

// Opens the enclosures named by `filter` ("" = all), each with its published state.
Result<std::vector<Enclosure>> open_enclosures(Stack& stack, const std::string& filter) {
  std::vector<Enclosure> out;
  for (const auto& name : stack.devfs().names()) {
    if (!name.starts_with("ses") || (!filter.empty() && name != filter)) {
      continue;
    }
    auto h = stack.devfs().open(name);
    if (!h) {
      continue;  // Departed between listing and opening.
    }
    enc::EncGetState get;
    if (auto r = h->ioctl(get); !r) {
      return fail(r.error());
    }
    out.push_back({name, std::move(*h), get.state});
  }
  if (out.empty() && !filter.empty()) {
    return fail(Error::described(ENOENT, filter + ": no such enclosure (see 'ucamctl enc list')"));
  }
  return out;
}

std::string devnames(Enclosure& e, int index) {
  enc::EncGetElementDevnames get;
  get.index = index;
  if (!e.handle.ioctl(get)) {
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

json element_json(Enclosure& enc, const enc::EncElement& e) {
  json j = {{"index", e.index},
            {"type_index", e.type_index},
            {"index_in_type", e.index_in_type},
            {"element_type", e.element_type},
            {"type", ses::element_type_name(e.element_type)},
            {"status_code", ses::status_code(e.status)},
            {"status", ses::element_status_name(ses::status_code(e.status))},
            {"bytes", hex_string(e.status)},
            {"descriptor", e.descriptor},
            {"extra", extra_status(e)}};
  const auto names = devnames(enc, e.index);
  j["devices"] = names;
  if (!e.physical_path.empty() && !e.devices.empty()) {
    j["physical_path"] = e.physical_path;
  }
  json sas = json::array();
  for (auto a : e.sas_addresses) {
    sas.push_back(ses::hex64(a));
  }
  j["sas_addresses"] = sas;
  j["device_slot_number"] = e.device_slot_number ? json(*e.device_slot_number) : json();
  for (const auto& f : ses::decode_element_fields(e.element_type, e.status)) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            j["fields"][std::string(f.name)] = nullptr;
          } else {
            j["fields"][std::string(f.name)] = v;
          }
        },
        f.value);
  }
  return j;
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

struct DiskInfo {
  std::string model = "-", serial = "-", size;
};

DiskInfo disk_info(Stack& stack, const enc::EncElement& e) {
  DiskInfo d;
  if (e.devices.empty()) {
    return d;
  }
  auto info = stack.xpt().device(e.devices.front());
  if (!info) {
    return d;
  }
  d.model = info->vendor + " " + info->product;
  d.serial = info->serial.empty() ? "-" : info->serial;
  auto cap = info->advinfo.find(cam::AdvinfoType::Rcaplong);
  if (cap != info->advinfo.end()) {
    if (auto rc = scsi::parse_read_capacity16(cap->second)) {
      d.size = humanize_bytes(rc->block_count() * rc->block_length);
    }
  }
  return d;
}

// Resolves "sesN:ELEMENT", "all", or a disk name ("pass3", "da3", or a device path B:T:L) to
// (enclosure, element) pairs.
Result<std::vector<std::pair<std::size_t, int>>> resolve_targets(Stack& stack,
                                                                 std::vector<Enclosure>& encs,
                                                                 const std::string& target) {
  std::vector<std::pair<std::size_t, int>> out;
  if (target == "all") {
    for (std::size_t i = 0; i < encs.size(); ++i) {
      for (const auto& e : encs[i].state->elements) {
        if (ses::is_slot_type(e.element_type) && e.index_in_type >= 0 &&
            ses::status_code(e.status) != 8 /* No Access Allowed */) {
          out.emplace_back(i, e.index);
        }
      }
    }
    return out;
  }
  if (const auto colon = target.find(':');
      colon != std::string::npos && target.starts_with("ses")) {
    const std::string enc = target.substr(0, colon);
    int index = -1;
    try {
      std::size_t used = 0;
      index = std::stoi(target.substr(colon + 1), &used);
      if (used != target.size() - colon - 1) {
        index = -1;
      }
    } catch (const std::exception&) {
      index = -1;
    }
    for (std::size_t i = 0; i < encs.size(); ++i) {
      if (encs[i].name == enc) {
        if (index < 0 || static_cast<std::size_t>(index) >= encs[i].state->elements.size()) {
          return fail_invalid(
              fmt::format("{}: element must be 0..{}", target, encs[i].state->elements.size() - 1));
        }
        out.emplace_back(i, index);
        return out;
      }
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
  if (out.empty()) {
    return fail(
        Error::described(ENOENT, "could not find the enclosure slot of device '" + target + "'"));
  }
  return out;
}

}  // namespace

int cmd_enc_list(Stack& stack, const Options& opt) {
  auto encs = open_enclosures(stack, "");
  if (!encs) {
    return report(encs.error(), kExitDeviceError);
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
    if (opt.json) {
      out.push_back({{"enclosure", e.name},
                     {"name", s.name},
                     {"id", ses::hex64(s.logical_id)},
                     {"elements", s.elements.size()},
                     {"slots", slots},
                     {"occupied_slots", occupied},
                     {"status", overall_text(s.enclosure_status)},
                     {"generation", s.generation}});
    } else {
      std::cout << fmt::format("{}: <{}> id {} elements {} slots {} ({} occupied) status {}\n",
                               e.name, s.name, ses::hex64(s.logical_id), s.elements.size(), slots,
                               occupied, overall_text(s.enclosure_status));
    }
  }
  if (opt.json) {
    std::cout << out.dump(2) << "\n";
  }
  return kExitOk;
}

int cmd_enc_map(Stack& stack, const Options& opt, const EncArgs& args) {
  auto encs = open_enclosures(stack, args.enclosure);
  if (!encs) {
    return report(encs.error(), kExitNoDevice);
  }
  json out = json::array();
  for (auto& e : *encs) {
    const auto& s = *e.state;
    if (opt.json) {
      json elements = json::array();
      for (const auto& el : s.elements) {
        elements.push_back(element_json(e, el));
      }
      out.push_back({{"enclosure", e.name},
                     {"name", s.name},
                     {"id", ses::hex64(s.logical_id)},
                     {"generation", s.generation},
                     {"elements", elements}});
      continue;
    }
    std::cout << e.name << ":\n";
    std::cout << "\tEnclosure Name: " << s.name << "\n";
    std::cout << "\tEnclosure ID: " << ses::hex64(s.logical_id) << "\n";
    for (const auto& el : s.elements) {
      std::cout << fmt::format("\tElement {}, Type: {}\n", el.index,
                               ses::element_type_name(el.element_type));
      std::cout << fmt::format("\t\tStatus: {} (0x{:02x} 0x{:02x} 0x{:02x} 0x{:02x})\n",
                               ses::element_status_name(ses::status_code(el.status)), el.status[0],
                               el.status[1], el.status[2], el.status[3]);
      if (!el.descriptor.empty()) {
        std::cout << "\t\tDescription: " << el.descriptor << "\n";
      }
      if (const auto names = devnames(e, el.index); !names.empty()) {
        std::cout << "\t\tDevice Names: " << names << "\n";
      }
      if (const auto extra = extra_status(el); !extra.empty()) {
        std::cout << "\t\tExtra status:\n";
        for (const auto& x : extra) {
          std::cout << "\t\t- " << x << "\n";
        }
      }
    }
  }
  if (opt.json) {
    std::cout << out.dump(2) << "\n";
  }
  return kExitOk;
}

int cmd_enc_show(Stack& stack, const Options& opt, const EncArgs& args) {
  auto encs = open_enclosures(stack, args.enclosure);
  if (!encs) {
    return report(encs.error(), kExitNoDevice);
  }
  json out = json::array();
  for (auto& e : *encs) {
    const auto& s = *e.state;
    json slots = json::array(), temps = json::array(), fans = json::array(), psus = json::array(),
         volts = json::array();
    std::string text = fmt::format("{}: <{}>; ID: {}\n", e.name, s.name, ses::hex64(s.logical_id));
    text += fmt::format("{:<15} {:<7} {:<25} {:<20} {}\n", "Desc", "Dev", "Model", "Ident",
                        "Size/Status");
    std::string temp_line, volt_line, fan_line, psu_line;
    for (const auto& el : s.elements) {
      if (el.index_in_type < 0 || ses::status_code(el.status) == 0) {
        continue;
      }
      const auto status = ses::element_status_name(ses::status_code(el.status));
      const auto extra = extra_status(el);
      const auto label =
          el.descriptor.empty()
              ? fmt::format("{} {}", ses::element_type_name(el.element_type), el.index_in_type)
              : el.descriptor;
      switch (el.element_type) {
        case 0x01:
        case 0x17: {
          const auto disk = disk_info(stack, el);
          std::string names = devnames(e, el.index);
          const bool ok = ses::status_code(el.status) == 1;
          std::string last = ok && !disk.size.empty() ? disk.size : std::string(status);
          for (const auto& x : extra) {
            last += ", " + x;
          }
          text += fmt::format("{:<15} {:<7} {:<25} {:<20} {}\n",
                              el.descriptor.empty() ? "-" : el.descriptor,
                              names.empty() ? "-" : names, disk.model, disk.serial, last);
          slots.push_back(
              {{"element", el.index},
               {"slot", el.index_in_type},
               {"descriptor", el.descriptor},
               {"devices", names},
               {"model", disk.model == "-" ? json() : json(disk.model)},
               {"serial", disk.serial == "-" ? json() : json(disk.serial)},
               {"size", disk.size.empty() ? json() : json(disk.size)},
               {"status", status},
               {"extra", extra},
               {"physical_path", el.devices.empty() ? json() : json(el.physical_path)}});
          break;
        }
        case 0x04: {
          const auto t = ses::decode_temperature_status(el.status).temperature_c;
          temps.push_back({{"element", el.index},
                           {"descriptor", label},
                           {"celsius", t ? json(*t) : json()},
                           {"status", status}});
          temp_line += fmt::format("{}{}: {}", temp_line.empty() ? "" : ", ", label,
                                   t ? fmt::format("{}C", *t) : "-");
          break;
        }
        case 0x03: {
          const auto c = ses::decode_cooling_status(el.status);
          fans.push_back({{"element", el.index},
                          {"descriptor", label},
                          {"rpm", c.actual_speed_rpm},
                          {"status", status}});
          fan_line += fmt::format("{}{}: {} rpm ({})", fan_line.empty() ? "" : ", ", label,
                                  c.actual_speed_rpm, status);
          break;
        }
        case 0x02: {
          psus.push_back({{"element", el.index}, {"descriptor", label}, {"status", status}});
          psu_line += fmt::format("{}{}: {}", psu_line.empty() ? "" : ", ", label, status);
          break;
        }
        case 0x12: {
          const auto v = ses::decode_voltage_status(el.status);
          volts.push_back({{"element", el.index},
                           {"descriptor", label},
                           {"volts", v.millivolts / 1000.0},
                           {"status", status}});
          volt_line += fmt::format("{}{}: {:.2f}V", volt_line.empty() ? "" : ", ", label,
                                   v.millivolts / 1000.0);
          break;
        }
        default:
          break;
      }
    }
    if (!temp_line.empty()) {
      text += "\nTemperatures: " + temp_line;
    }
    if (!fan_line.empty()) {
      text += "\nFans: " + fan_line;
    }
    if (!psu_line.empty()) {
      text += "\nPower supplies: " + psu_line;
    }
    if (!volt_line.empty()) {
      text += "\nVoltages: " + volt_line;
    }
    if (opt.json) {
      out.push_back({{"enclosure", e.name},
                     {"name", s.name},
                     {"id", ses::hex64(s.logical_id)},
                     {"status", overall_text(s.enclosure_status)},
                     {"slots", slots},
                     {"temperatures", temps},
                     {"fans", fans},
                     {"power_supplies", psus},
                     {"voltages", volts}});
    } else {
      std::cout << text << "\n\n";
    }
  }
  if (opt.json) {
    std::cout << out.dump(2) << "\n";
  }
  return kExitOk;
}

int cmd_enc_status(Stack& stack, const Options& opt, const EncArgs& args) {
  auto encs = open_enclosures(stack, args.enclosure);
  if (!encs) {
    return report(encs.error(), kExitNoDevice);
  }
  // Exit 0 when every enclosure is OK; INFO alone counts as OK (it is informational: sesutil's
  // rule that an all-INFO system fails is a known quirk we do not copy).
  bool all_ok = !encs->empty();
  json out = json::array();
  for (auto& e : *encs) {
    const auto flags = e.state->enclosure_status;
    const bool ok = (flags & (ses::kEnclosureNonCritical | ses::kEnclosureCritical |
                              ses::kEnclosureUnrecoverable | ses::kEnclosureInvop)) == 0;
    all_ok &= ok;
    if (opt.json) {
      out.push_back(
          {{"enclosure", e.name}, {"status", overall_text(flags)}, {"ok", ok}, {"flags", flags}});
    } else {
      std::cout << e.name << ": " << overall_text(flags) << "\n";
    }
  }
  if (opt.json) {
    std::cout << out.dump(2) << "\n";
  }
  return all_ok ? kExitOk : kExitDeviceError;
}

int cmd_enc_led(Stack& stack, const Options& opt, const EncArgs& args, bool fault) {
  auto encs = open_enclosures(stack, args.enclosure);
  if (!encs) {
    return report(encs.error(), kExitNoDevice);
  }
  auto targets = resolve_targets(stack, *encs, args.target);
  if (!targets) {
    return report(targets.error(),
                  targets.error().errno_value() == EINVAL ? kExitUsage : kExitNoDevice);
  }
  const auto request = fault ? ses::SlotRequest::Fault : ses::SlotRequest::Ident;
  if (!args.state.empty()) {
    const auto turn = args.state == "on" ? ses::Turn::On : ses::Turn::Off;
    for (auto [i, index] : *targets) {
      auto& e = (*encs)[i];
      const auto& el = e.state->elements[index];
      auto control = ses::slot_control(el.element_type, el.status, request, turn);
      if (!control) {
        return report(control.error().with_context(fmt::format("{}:{}", e.name, index)),
                      kExitUsage);
      }
      enc::EncSetElementStatus set;
      set.index = index;
      set.control = *control;
      set.generation = e.state->generation;
      if (auto r = e.handle.ioctl(set); !r) {
        return report(r.error(), kExitDeviceError);
      }
    }
  }
  // Read back: refresh each touched enclosure and report the LED as the enclosure sees it.
  json out = json::array();
  for (auto [i, index] : *targets) {
    auto& e = (*encs)[i];
    enc::EncRefresh refresh;
    (void)e.handle.ioctl(refresh);
    enc::EncGetState get;
    if (auto r = e.handle.ioctl(get); !r) {
      return report(r.error(), kExitDeviceError);
    }
    e.state = get.state;
    const auto& el = e.state->elements.at(index);
    const auto slot = ses::decode_slot_status(el.element_type, el.status);
    const bool on = fault ? (slot.fault_requested || slot.fault_sensed) : slot.ident;
    const auto names = devnames(e, index);
    if (opt.json) {
      out.push_back({{"enclosure", e.name},
                     {"element", index},
                     {"descriptor", el.descriptor},
                     {"devices", names},
                     {fault ? "fault" : "locate", on}});
    } else {
      std::cout << fmt::format(
          "{}:{} {} {}: {} {}\n", e.name, index, el.descriptor.empty() ? "-" : el.descriptor,
          names.empty() ? "-" : names, fault ? "fault" : "locate", on ? "on" : "off");
    }
  }
  if (opt.json) {
    std::cout << out.dump(2) << "\n";
  }
  return kExitOk;
}

int cmd_enc_decode(const Options& opt, const EncArgs& args) {
  std::ifstream f(args.file, std::ios::binary);
  if (!f) {
    return report(Error::from_errno(errno, args.file), kExitUsage);
  }
  std::string text((std::istreambuf_iterator<char>(f)), {});
  std::vector<std::uint8_t> bytes;
  if (args.raw) {
    bytes.assign(text.begin(), text.end());
  } else {
    auto parsed = parse_hex(text);
    if (!parsed) {
      return report(parsed.error().with_context(args.file), kExitUsage);
    }
    bytes = std::move(*parsed);
  }
  auto decoded = ses::render_ses_pages(bytes);
  if (!decoded) {
    return report(decoded.error().with_context(args.file), kExitUsage);
  }
  if (opt.json) {
    std::cout << decoded->json.dump(2) << "\n";
  } else {
    std::cout << decoded->text;
  }
  return kExitOk;
}

}  // namespace ucam::cli
