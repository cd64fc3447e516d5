#include "cli/ch_cli.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

namespace ucam::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitDeviceError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoDevice = 3;

int report(const std::string& message, int code) {
  std::fprintf(stderr, "ucamctl: %s\n", message.c_str());
  return code;
}

// chio's words for the element types; the service says "storage" for slots.
std::string chio_type(const std::string& type) {
  return type == "storage" ? "slot" : type;
}

bool is_type_word(std::string s) {
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s == "picker" || s == "slot" || s == "storage" || s == "portal" || s == "drive";
}

std::optional<long> number(const std::string& s) {
  if (s.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 0);
  if (*end != '\0' || v < 0 || v > 0xFFFF) {
    return std::nullopt;
  }
  return v;
}

// An element as the ch.* methods take it: "slot:3" / an address number; nullopt (with the
// token) when it is neither, i.e. possibly a volume tag.
struct Parsed {
  json element;          // null: not an element; see `word`
  std::string word;      // the token that was not an element
  std::size_t used = 0;  // tokens consumed
};

Parsed parse_element(const std::vector<std::string>& t, std::size_t i) {
  Parsed p;
  const std::string& a = t[i];
  if (is_type_word(a) && i + 1 < t.size() && number(t[i + 1])) {
    p.element = a + ":" + t[i + 1];
    p.used = 2;
    return p;
  }
  if (auto colon = a.find(':'); colon != std::string::npos && is_type_word(a.substr(0, colon)) &&
                                number(a.substr(colon + 1))) {
    p.element = a;
    p.used = 1;
    return p;
  }
  if (auto n = number(a)) {
    p.element = *n;
    p.used = 1;
    return p;
  }
  p.word = a;
  p.used = 1;
  return p;
}

std::string flags_text(const json& e) {
  std::string out;
  for (const char* f : {"full", "impexp", "except", "access", "exenab", "inenab"}) {
    if (e.value(f, false)) {
      std::string up = f;
      for (auto& c : up) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      out += (out.empty() ? "" : ",") + up;
    }
  }
  return "<" + out + ">";
}

std::string element_name(const std::string& service_text) {
  // "storage:12" -> "slot 12".
  const auto colon = service_text.find(':');
  return chio_type(service_text.substr(0, colon)) + " " + service_text.substr(colon + 1);
}

std::string render_status(const json& r, bool verbose) {
  std::string out;
  for (const auto& e : r["elements"]) {
    out += fmt::format("{} {}: {}", chio_type(e["type"].get<std::string>()), e["unit"].get<int>(),
                       flags_text(e));
    if (!e["volume_tag"].is_null()) {
      out += fmt::format(" voltag: <{}>", e["volume_tag"].get<std::string>());
    }
    if (verbose && !e["alternate_tag"].is_null()) {
      out += fmt::format(" avoltag: <{}>", e["alternate_tag"].get<std::string>());
    }
    if (!e["source_element"].is_null()) {
      out += fmt::format(" source: <{}>", element_name(e["source_element"].get<std::string>()));
    }
    if (verbose) {
      out += fmt::format(" sense: <0x{:02x}/0x{:02x}> intaddr: <{}>", e["asc"].get<int>(),
                         e["ascq"].get<int>(), e["address"].get<int>());
    }
    if (!e["identifier"].is_null()) {
      out += fmt::format(" serial number: <{}>", e["identifier"].get<std::string>());
    }
    if (!e["device"].is_null()) {
      std::string names;
      for (const auto& n : e["device"]) {
        names += (names.empty() ? "" : ",") + n.get<std::string>();
      }
      out += " device: <" + names + ">";
    }
    out += "\n";
  }
  return out;
}

std::string plural(int n, const char* word) {
  return fmt::format("{} {}{}", n, word, n > 1 ? "s" : "");
}

std::string render_params(const json& r) {
  const auto& c = r["counts"];
  const std::string dev = r["device"].get<std::string>();
  std::string out =
      fmt::format("{}: {}, {}, {}", dev, plural(c["storage"].get<int>(), "slot"),
                  plural(c["drive"].get<int>(), "drive"), plural(c["picker"].get<int>(), "picker"));
  if (c["portal"].get<int>() > 0) {
    out += ", " + plural(c["portal"].get<int>(), "portal");
  }
  out += fmt::format("\n{}: current picker: {}\n", dev, r["picker"].get<int>());
  return out;
}

}  // namespace

ChCommand::ChCommand(CLI::App& app) {
  m_ch = app.add_subcommand(
      "ch", "Medium changers (ch): element status, move, exchange, load/unload (chio, mtx)");
}

void ChCommand::build() {
  m_ch->require_subcommand(1);
  const char* env = std::getenv("CHANGER");
  m_device = env != nullptr && *env != '\0' ? env : "ch0";
  m_ch->add_option("-f,--device", m_device,
                   "The changer: chN, passN or bus:target:lun (default $CHANGER, else ch0)");
  const std::string elements =
      "\nELEMENTS\n"
      "  An element is TYPE UNIT or TYPE:UNIT with TYPE picker, slot, portal or drive and UNIT\n"
      "  from 0 (chio's numbering: 'slot 0' is the first slot), or a raw element address\n"
      "  (decimal or 0x hex, as 'ch status -v' shows it as intaddr). Where a source is expected,\n"
      "  a volume tag (barcode) names the element that holds that medium.\n"
      "  mtx's verbs (load, unload, transfer) number slots from 1 and drives from 0, as mtx.\n";
  const std::string exit_codes =
      "\nEXIT STATUS (ch)\n"
      "  0 done; 1 the changer refused or failed (the decoded sense says why: Medium source\n"
      "  element empty, Medium destination element full, ...); 2 usage, or a move the changer's\n"
      "  capabilities (mode page 1Fh) forbid; 3 no such changer, element or volume tag;\n"
      "  4 the admin right is needed (every command but status, params and find).\n";

  m_status = m_ch->add_subcommand("status", "Element status, one line per element (chio status)");
  m_status->add_flag("-v,--verbose", m_verbose,
                     "Also the alternate tag, the sense (ASC/ASCQ) and the element address");
  m_status->add_option("type", m_args, "picker, slot, portal or drive (default: every type)")
      ->expected(0, 1);
  m_status->footer(
      "\nOne line per element, in picker, slot, portal, drive order:\n"
      "  slot 12: <FULL,ACCESS> voltag: <UCAM013L6> source: <drive 0>\n"
      "FLAGS are those set of FULL, IMPEXP, EXCEPT, ACCESS, EXENAB, INENAB. A drive that reports\n"
      "its identity (DVCID) shows it as 'serial number', and the devices whose VPD page 83h\n"
      "holds that identifier as 'device'. The whole library is read in bounded pages.\n"
      "--json gives every element with address, type, flags, volume tags, source, identifier\n"
      "and devices (docs/api.md, ch.status).\n" +
      elements + exit_codes +
      "\nEXAMPLES\n  ucamctl ch status drive\n  ucamctl --json ch status | jq '.elements[] | "
      "select(.full)'\n");

  m_move = m_ch->add_subcommand("move", "Move a medium (MOVE MEDIUM): ch move SRC DST");
  m_move->add_option("elements", m_args, "SRC DST")->required();
  m_move->footer(elements + exit_codes +
                 "\nEXAMPLES\n  ucamctl ch move slot 12 drive 0\n  ucamctl ch move slot:3 "
                 "portal:0\n  ucamctl ch move UCAM013L6 drive:0\n  ucamctl ch move 4108 256\n");
  m_exchange = m_ch->add_subcommand(
      "exchange", "Exchange media (EXCHANGE MEDIUM): SRC -> DST1, DST1's medium -> DST2 (or SRC)");
  m_exchange->add_option("elements", m_args, "SRC DST1 [DST2]")->required();
  m_exchange->footer(elements + exit_codes + "\nEXAMPLES\n  ucamctl ch exchange slot 0 drive 0\n");
  m_position =
      m_ch->add_subcommand("position", "Move the picker to an element (POSITION TO ELEMENT)");
  m_position->add_option("element", m_args, "ELEMENT")->required();
  m_position->footer(elements + exit_codes + "\nEXAMPLES\n  ucamctl ch position portal 3\n");
  m_params = m_ch->add_subcommand("params", "Element counts and the current picker (chio params)");
  m_params->footer(
      "\n<dev>: N slots, N drives, N picker[s][, N portals]\n<dev>: current picker: N\n"
      "--json adds the first address of each type and the moves and exchanges the\n"
      "changer allows (mode pages 1Dh and 1Fh).\n" +
      exit_codes);
  m_init = m_ch->add_subcommand("init", "Re-read the inventory (INITIALIZE ELEMENT STATUS)");
  m_init->footer(exit_codes);
  m_inventory = m_ch->add_subcommand("inventory", "mtx inventory: the same as 'ch init'");
  m_inventory->footer(exit_codes);
  m_load =
      m_ch->add_subcommand("load", "mtx load: slot SLOT (from 1) into drive DRIVE (default 0)");
  m_load->add_option("numbers", m_numbers, "SLOT [DRIVE]")->required()->expected(1, 2);
  m_load->footer(exit_codes + "\nEXAMPLES\n  ucamctl ch load 13        # UCAM013L6 into drive 0\n");
  m_unload = m_ch->add_subcommand(
      "unload", "mtx unload: drive DRIVE (default 0) back to SLOT (default: where it came from)");
  m_unload->add_option("numbers", m_numbers, "[SLOT] [DRIVE]")->expected(0, 2);
  m_unload->footer(exit_codes + "\nEXAMPLES\n  ucamctl ch unload\n  ucamctl ch unload 20 1\n");
  m_transfer = m_ch->add_subcommand("transfer", "mtx transfer: slot to slot, numbered from 1");
  m_transfer->add_option("numbers", m_numbers, "SLOT SLOT")->required()->expected(2, 2);
  m_transfer->footer(exit_codes);
  m_setvoltag = m_ch->add_subcommand(
      "setvoltag", "Set or clear a medium's volume tag (SEND VOLUME TAG; chio setvoltag)");
  m_setvoltag->add_option("args", m_args, "ELEMENT [TAG]")->required()->expected(1, 3);
  m_setvoltag->add_flag("-a,--alternate", m_alternate, "The alternate tag, not the primary one");
  auto* force = m_setvoltag->add_flag(
      "-f,--force", m_force, "Replace the tag (default: assert, refused when the medium has one)");
  m_setvoltag->add_flag("-c,--clear", m_clear, "Undefine the tag (no TAG)")->excludes(force);
  m_setvoltag->add_option("--sequence", m_sequence, "The volume sequence number (0-65535)")
      ->check(CLI::Range(0, 0xFFFF));
  m_setvoltag->footer(
      "\nSends SEND VOLUME TAG for the medium in ELEMENT: without a flag it asserts TAG, which\n"
      "the changer refuses when the medium already has a tag (ILLEGAL REQUEST, exit 1); --force\n"
      "replaces it; --clear undefines it. TAG is 1-32 printable characters without the\n"
      "wildcards '*' and '?'.\n" +
      elements + exit_codes +
      "\nEXAMPLES\n  ucamctl ch setvoltag slot 12 NEW001L6\n  ucamctl ch setvoltag slot:12 "
      "NEW001L6 --force\n  ucamctl ch setvoltag drive 0 --alternate --clear\n");
  m_find = m_ch->add_subcommand(
      "find",
      "Find media by volume tag template (SEND VOLUME TAG translate + REQUEST VOLUME ELEMENT "
      "ADDRESS)");
  m_find->add_option("template", m_args, "TEMPLATE")->required()->expected(1, 1);
  m_find->add_flag("-a,--alternate", m_alternate, "Search the alternate tags");
  m_find->add_option("-t,--type", m_type,
                     "Only elements of this type: picker, slot, portal, drive");
  m_find->footer(
      "\nThe changer searches its volume tags for TEMPLATE ('?' matches one character, '*' any\n"
      "rest; quote it for the shell) and ucamctl prints the matching elements as 'ch status'\n"
      "does, in address order. Exit status 3 when nothing matches (--json still prints the\n"
      "empty list).\n" +
      exit_codes +
      "\nEXAMPLES\n  ucamctl ch find 'UCAM01?L6'\n  ucamctl ch find 'CLN*' --type slot\n"
      "  ucamctl --json ch find '*' --alternate\n");
  m_picker = m_ch->add_subcommand("picker", "Show the current picker, or select picker N");
  m_picker->add_option("numbers", m_numbers, "[N]")->expected(0, 1);
  m_picker->footer(exit_codes);
}

bool ChCommand::parsed() const {
  return m_ch->parsed();
}

int ChCommand::run(Client& client, bool json_output,
                   const std::function<int(const service::RpcError&)>& exit_for) {
  const std::string& dev = m_device;
  auto call_status = [&](const std::string& method, json params, int& code) {
    params["device"] = dev;
    auto r = client.call(method, std::move(params));
    if (!r) {
      code = report(r.error().message, exit_for(r.error()));
      return std::optional<json>();
    }
    code = kExitOk;
    return std::optional<json>(std::move(*r));
  };
  // A change: prints `done` (or the JSON) on success.
  auto change = [&](const std::string& method, json params, const std::string& done) {
    int code = kExitOk;
    auto r = call_status(method, std::move(params), code);
    if (r) {
      std::cout << (json_output ? r->dump(2) + "\n" : done + (done.empty() ? "" : "\n"));
    }
    return code;
  };
  // SRC that is a volume tag: the element holding that medium.
  auto by_tag = [&](const std::string& tag, json& element) -> int {
    int code = kExitOk;
    auto r = call_status("ch.status", {{"voltags", true}}, code);
    if (!r) {
      return code;
    }
    for (const auto& e : (*r)["elements"]) {
      if (e.value("full", false) && e["volume_tag"].is_string() &&
          e["volume_tag"].get<std::string>() == tag) {
        element = e["type"].get<std::string>() + ":" + std::to_string(e["unit"].get<int>());
        return kExitOk;
      }
    }
    return report(fmt::format("{}: no element holds a medium with volume tag '{}'", dev, tag),
                  kExitNoDevice);
  };
  // Parses m_args into elements; the first may be a volume tag when `tag_source`.
  auto elements = [&](std::size_t min, std::size_t max, bool tag_source,
                      std::vector<json>& out) -> int {
    for (std::size_t i = 0; i < m_args.size();) {
      auto p = parse_element(m_args, i);
      if (p.element.is_null()) {
        if (!(tag_source && out.empty())) {
          return report(fmt::format("'{}': expected an element: TYPE UNIT, TYPE:UNIT (picker, "
                                    "slot, portal, drive; units from 0) or an element address",
                                    p.word),
                        kExitUsage);
        }
        json e;
        if (int code = by_tag(p.word, e); code != kExitOk) {
          return code;
        }
        out.push_back(e);
      } else {
        out.push_back(p.element);
      }
      i += p.used;
    }
    if (out.size() < min || out.size() > max) {
      return report(
          fmt::format("expected {} element{}, got {}",
                      min == max ? std::to_string(min) : fmt::format("{} to {}", min, max),
                      max == 1 ? "" : "s", out.size()),
          kExitUsage);
    }
    return kExitOk;
  };
  auto text = [](const json& e) {
    return e.is_string() ? element_name(e.get<std::string>())
                         : "element " + std::to_string(e.get<int>());
  };

  if (m_status->parsed()) {
    json params = {{"voltags", true}};
    if (!m_args.empty()) {
      params["type"] = m_args[0];
    }
    int code = kExitOk;
    auto r = call_status("ch.status", params, code);
    if (!r) {
      return code;
    }
    std::cout << (json_output ? r->dump(2) + "\n" : render_status(*r, m_verbose));
    return kExitOk;
  }
  if (m_params->parsed()) {
    int code = kExitOk;
    auto r = call_status("ch.params", json::object(), code);
    if (r) {
      std::cout << (json_output ? r->dump(2) + "\n" : render_params(*r));
    }
    return code;
  }
  if (m_move->parsed() || m_exchange->parsed() || m_position->parsed()) {
    std::vector<json> e;
    const bool moving = m_move->parsed(), exchanging = m_exchange->parsed();
    if (int code = moving       ? elements(2, 2, true, e)
                   : exchanging ? elements(2, 3, true, e)
                                : elements(1, 1, false, e);
        code != kExitOk) {
      return code;
    }
    if (moving) {
      return change("ch.move", {{"from", e[0]}, {"to", e[1]}},
                    fmt::format("moved {} to {}", text(e[0]), text(e[1])));
    }
    if (exchanging) {
      json params = {{"from", e[0]}, {"to", e[1]}};
      if (e.size() == 3) {
        params["to2"] = e[2];
      }
      return change("ch.exchange", params,
                    fmt::format("exchanged {} and {}", text(e[0]), text(e[1])));
    }
    return change("ch.position", {{"to", e[0]}}, fmt::format("positioned at {}", text(e[0])));
  }
  if (m_init->parsed() || m_inventory->parsed()) {
    return change("ch.init", json::object(), "");
  }
  if (m_load->parsed()) {
    const int slot = m_numbers[0];
    const int drive = m_numbers.size() > 1 ? m_numbers[1] : 0;
    if (slot < 1 || drive < 0) {
      return report("load: slots are numbered from 1 and drives from 0 (as mtx)", kExitUsage);
    }
    return change(
        "ch.move",
        {{"from", fmt::format("slot:{}", slot - 1)}, {"to", fmt::format("drive:{}", drive)}},
        fmt::format("Loading media from Storage Element {} into drive {}...Done", slot, drive));
  }
  if (m_unload->parsed()) {
    // mtx unload [SLOT] [DRIVE]: with one number it is the slot.
    std::optional<int> slot;
    int drive = 0;
    if (!m_numbers.empty()) {
      slot = m_numbers[0];
    }
    if (m_numbers.size() > 1) {
      drive = m_numbers[1];
    }
    if ((slot && *slot < 1) || drive < 0) {
      return report("unload: slots are numbered from 1 and drives from 0 (as mtx)", kExitUsage);
    }
    json to;
    if (slot) {
      to = fmt::format("slot:{}", *slot - 1);
    } else {
      int code = kExitOk;
      auto r = call_status("ch.status", {{"type", "drive"}, {"voltags", false}}, code);
      if (!r) {
        return code;
      }
      const json* found = nullptr;
      for (const auto& e : (*r)["elements"]) {
        if (e["unit"].get<int>() == drive) {
          found = &e;
        }
      }
      if (found == nullptr) {
        return report(fmt::format("{}: no drive {}", dev, drive), kExitNoDevice);
      }
      if (!(*found)["full"].get<bool>()) {
        return report(fmt::format("{}: drive {} is empty", dev, drive), kExitDeviceError);
      }
      if ((*found)["source"].is_null()) {
        return report(fmt::format("{}: drive {} does not know where its medium came from; name "
                                  "the slot: ucamctl ch unload SLOT {}",
                                  dev, drive, drive),
                      kExitDeviceError);
      }
      to = (*found)["source"];
    }
    const std::string where =
        slot ? fmt::format("Storage Element {}", *slot) : "its source element";
    return change("ch.move", {{"from", fmt::format("drive:{}", drive)}, {"to", to}},
                  fmt::format("Unloading drive {} into {}...Done", drive, where));
  }
  if (m_transfer->parsed()) {
    if (m_numbers[0] < 1 || m_numbers[1] < 1) {
      return report("transfer: slots are numbered from 1 (as mtx)", kExitUsage);
    }
    return change("ch.move",
                  {{"from", fmt::format("slot:{}", m_numbers[0] - 1)},
                   {"to", fmt::format("slot:{}", m_numbers[1] - 1)}},
                  fmt::format("Transferred Storage Element {} to Storage Element {}", m_numbers[0],
                              m_numbers[1]));
  }
  if (m_setvoltag->parsed()) {
    auto p = parse_element(m_args, 0);
    if (p.element.is_null()) {
      return report(fmt::format("'{}': expected an element: TYPE UNIT, TYPE:UNIT (picker, slot, "
                                "portal, drive; units from 0) or an element address",
                                p.word),
                    kExitUsage);
    }
    const std::size_t rest = m_args.size() - p.used;
    if (m_clear ? rest != 0 : rest != 1) {
      return report(m_clear ? "setvoltag --clear takes no TAG" : "setvoltag: expected ELEMENT TAG",
                    kExitUsage);
    }
    json params = {{"element", p.element},
                   {"mode", m_clear ? "clear" : (m_force ? "replace" : "assert")},
                   {"alternate", m_alternate}};
    if (!m_clear) {
      params["tag"] = m_args.back();
    }
    if (m_sequence) {
      params["sequence"] = *m_sequence;
    }
    const std::string which = m_alternate ? "alternate" : "primary";
    return change("ch.set_voltag", params,
                  m_clear ? fmt::format("cleared the {} volume tag of {}", which, text(p.element))
                          : fmt::format("set the {} volume tag of {} to <{}>", which,
                                        text(p.element), m_args.back()));
  }
  if (m_find->parsed()) {
    json params = {{"template", m_args[0]}, {"alternate", m_alternate}};
    if (!m_type.empty()) {
      if (!is_type_word(m_type)) {
        return report(fmt::format("--type '{}': expected picker, slot, portal or drive", m_type),
                      kExitUsage);
      }
      params["type"] = m_type;
    }
    int code = kExitOk;
    auto r = call_status("ch.find", params, code);
    if (!r) {
      return code;
    }
    std::cout << (json_output ? r->dump(2) + "\n" : render_status(*r, m_verbose));
    if ((*r)["elements"].empty()) {
      return report(fmt::format("{}: no medium has a {} volume tag matching '{}'", dev,
                                m_alternate ? "alternate" : "primary", m_args[0]),
                    kExitNoDevice);
    }
    return kExitOk;
  }
  if (m_picker->parsed()) {
    if (!m_numbers.empty()) {
      return change("ch.set_picker", {{"picker", m_numbers[0]}},
                    fmt::format("{}: current picker: {}", dev, m_numbers[0]));
    }
    int code = kExitOk;
    auto r = call_status("ch.params", json::object(), code);
    if (r) {
      std::cout << (json_output
                        ? r->dump(2) + "\n"
                        : fmt::format("{}: current picker: {}\n", dev, (*r)["picker"].get<int>()));
    }
    return code;
  }
  return kExitUsage;
}

}  // namespace ucam::cli
