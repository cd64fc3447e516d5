#include "cli/render.h"

#include <fmt/format.h>

#include <ctime>
#include <optional>

#include "base/hex.h"
#include "scsi/vpd.h"

namespace ucam::cli {

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An element descriptor for people. JSON carries it byte for byte (docs/ses-json.md: every byte
// as the code point of the same value); here it is cut at the first NUL, anything outside
// printable ASCII is shown as '.', and trailing blanks are trimmed.
std::string descriptor_text(const json& j, const char* key) {
  const std::string s = str(j, key);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == 0) {
      break;
    }
    if (b >= 0x80) {  // A multi-byte UTF-8 sequence: one code point, one '.'.
      while (i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xc0) == 0x80) {
        ++i;
      }
      out += '.';
    } else {
      out += b < 0x20 || b == 0x7f ? '.' : static_cast<char>(b);
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

// "" when the SES device reads its enclosure fine; else what failed and whose status is shown.
std::string path_note(const json& e) {
  const auto error = str(e, "path_error");
  if (error.empty()) {
    return "";
  }
  const auto via = str(e, "status_via");
  return "failed (" + error + "); " +
         (via.empty() ? std::string("status as last read") : "status as read through " + via);
}

std::string join(const json& array, const char* sep) {
  std::string out;
  for (const auto& v : array) {
    out += (out.empty() ? "" : sep) + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

}  // namespace

std::string DevlistRenderer::next(const json& d) {
  std::string out;
  const auto bus = d["bus"].get<std::uint32_t>();
  if (m_verbose && m_last_bus != bus) {
    out += fmt::format("scbus{} on {} bus {}:\n", bus, str(d, "sim"), d.value("sim_bus", 0));
    m_last_bus = bus;
  }
  const auto id =
      fmt::format("<{} {} {}>", str(d, "vendor"), str(d, "product"), str(d, "revision"));
  out += fmt::format("{:<33s}  at scbus{} target {} lun {:x} ({})\n", id, bus,
                     d["target"].get<std::uint32_t>(), d["lun"].get<std::uint64_t>(),
                     join(d["periphs"], ","));
  return out;
}

std::string render_devlist(const json& devices, bool verbose) {
  std::string out;
  DevlistRenderer renderer(verbose);
  for (const auto& d : devices) {
    out += renderer.next(d);
  }
  return out;
}

std::string PrettyArrayWriter::next(const json& element) {
  // An element of an array is dumped two spaces further in: every line of its own dump(2)
  // indented by two (a newline is only ever between lines: strings have theirs escaped).
  const std::string text = element.dump(2);
  std::string out = m_empty ? "[\n  " : ",\n  ";
  m_empty = false;
  out.reserve(out.size() + text.size() + text.size() / 8);
  for (const char c : text) {
    out += c;
    if (c == '\n') {
      out += "  ";
    }
  }
  return out;
}

std::string PrettyArrayWriter::finish() {
  return m_empty ? "[]" : "\n]";
}

std::string render_inquiry(const json& q) {
  std::string out = fmt::format("{}: <{} {} {}>\n", str(q, "device"), str(q, "vendor"),
                                str(q, "product"), str(q, "revision"));
  out += fmt::format("  Peripheral qualifier: {}, device type: {} (0x{:02x})\n",
                     q["peripheral_qualifier"].get<int>(), str(q, "device_type_name"),
                     q["device_type"].get<int>());
  out += fmt::format(
      "  Version: 0x{:02x}  RMB={} HiSup={} TPGS={} Protect={} EncServ={} MultiP={} CmdQue={}\n",
      q["version"].get<int>(), int{q["rmb"].get<bool>()}, int{q["hisup"].get<bool>()},
      q["tpgs"].get<int>(), int{q["protect"].get<bool>()}, int{q["encserv"].get<bool>()},
      int{q["multip"].get<bool>()}, int{q["cmdque"].get<bool>()});
  if (!q["supported_vpd_pages"].empty()) {
    std::string list;
    for (const auto& p : q["supported_vpd_pages"]) {
      list += fmt::format("{}0x{:02x}", list.empty() ? "" : " ", p.get<int>());
    }
    out += "  Supported VPD pages: " + list + "\n";
  }
  if (!str(q, "serial").empty()) {
    out += "  Unit serial number: " + str(q, "serial") + "\n";
  }
  // The designators, decoded again from the raw page for the detailed text.
  if (const auto raw = str(q.value("raw", json::object()), "vpd_83"); !raw.empty()) {
    if (auto bytes = parse_hex(raw)) {
      if (auto d = scsi::parse_device_identification(*bytes); d && !d->empty()) {
        out += scsi::describe_device_identification(*d);
      }
    }
  }
  return out;
}

std::string render_command(const json& r) {
  std::string out =
      fmt::format("{}: {} (SCSI status {}), residual {}\n", str(r, "device"),
                  str(r, "cam_status_text"), str(r, "scsi_status_text"), r["resid"].get<int>());
  if (r["sense"].is_object()) {
    out += "  Sense: " + str(r["sense"], "description") + "\n";
  }
  if (const auto data = str(r, "data_in"); !data.empty()) {
    if (auto bytes = parse_hex(data)) {
      out += hex_dump(*bytes);
    }
  }
  return out;
}

std::string render_tur(const json& r) {
  if (r["ok"].get<bool>()) {
    return str(r, "device") + ": unit is ready\n";
  }
  return str(r, "device") + ": not ready: " +
         (r["sense"].is_object() ? str(r["sense"], "description") : str(r, "cam_status_text")) +
         "\n";
}

std::string render_pt_send(const json& r) {
  return fmt::format("{}: sent {} bytes\n", str(r, "device"), r["sent"].get<std::uint64_t>());
}

std::string render_pt_receive(const json& r) {
  const auto received = r["received"].get<std::uint64_t>();
  if (received == 0) {
    return str(r, "device") + ": no message\n";
  }
  std::string out = fmt::format("{}: received {} bytes\n", str(r, "device"), received);
  if (auto bytes = parse_hex(str(r, "data"))) {
    out += hex_dump(*bytes);
  }
  return out;
}

std::string render_enc_list(const json& list) {
  std::string out;
  for (const auto& e : list) {
    out += fmt::format("{}: <{}> id {} elements {} slots {} ({} occupied) status {}\n",
                       str(e, "enclosure"), str(e, "name"), str(e, "id"), e["elements"].get<int>(),
                       e["slots"].get<int>(), e["occupied_slots"].get<int>(), str(e, "status"));
    if (const auto note = path_note(e); !note.empty()) {
      out += "\tpath " + note + "\n";
    }
  }
  return out;
}

std::string render_enc_map(const json& map) {
  std::string out;
  for (const auto& e : map) {
    out += str(e, "enclosure") + ":\n";
    out += "\tEnclosure Name: " + str(e, "name") + "\n";
    out += "\tEnclosure ID: " + str(e, "id") + "\n";
    if (const auto note = path_note(e); !note.empty()) {
      out += "\tPath: " + note + "\n";
    }
    for (const auto& el : e["elements"]) {
      out += fmt::format("\tElement {}, Type: {}\n", el["index"].get<int>(), str(el, "type"));
      std::string bytes;
      if (auto b = parse_hex(str(el, "bytes"))) {
        for (auto x : *b) {
          bytes += fmt::format("{}0x{:02x}", bytes.empty() ? "" : " ", x);
        }
      }
      out += fmt::format("\t\tStatus: {} ({})\n", str(el, "status"), bytes);
      if (const auto desc = descriptor_text(el, "descriptor"); !desc.empty()) {
        out += "\t\tDescription: " + desc + "\n";
      }
      if (!str(el, "devices").empty()) {
        out += "\t\tDevice Names: " + str(el, "devices") + "\n";
      }
      if (!el["extra"].empty()) {
        out += "\t\tExtra status:\n";
        for (const auto& x : el["extra"]) {
          out += "\t\t- " + x.get<std::string>() + "\n";
        }
      }
    }
  }
  return out;
}

std::string render_enc_show(const json& show) {
  std::string out;
  for (const auto& e : show) {
    std::string text =
        fmt::format("{}: <{}>; ID: {}\n", str(e, "enclosure"), str(e, "name"), str(e, "id"));
    if (const auto note = path_note(e); !note.empty()) {
      text += "Path: " + note + "\n";
    }
    text += fmt::format("{:<15} {:<7} {:<25} {:<20} {}\n", "Desc", "Dev", "Model", "Ident",
                        "Size/Status");
    for (const auto& s : e["slots"]) {
      std::string last =
          s["ok"].get<bool>() && s["size"].is_string() ? str(s, "size") : str(s, "status");
      for (const auto& x : s["extra"]) {
        last += ", " + x.get<std::string>();
      }
      const auto dash = [](std::string v) { return v.empty() ? std::string("-") : v; };
      // The disk's name as sesutil shows it: "da8" rather than its pass node.
      std::string dev = str(s, "devices");
      for (std::size_t start = 0; start < dev.size();) {
        const auto comma = dev.find(',', start);
        const auto name = dev.substr(start, comma == std::string::npos ? comma : comma - start);
        if (!name.starts_with("pass")) {
          dev = name;
          break;
        }
        start = comma == std::string::npos ? dev.size() : comma + 1;
      }
      text += fmt::format("{:<15} {:<7} {:<25} {:<20} {}\n", dash(descriptor_text(s, "descriptor")),
                          dash(dev), dash(str(s, "model")), dash(str(s, "serial")), last);
    }
    std::string line;
    for (const auto& t : e["temperatures"]) {
      line +=
          fmt::format("{}{}: {}", line.empty() ? "" : ", ", descriptor_text(t, "descriptor"),
                      t["celsius"].is_null() ? "-" : fmt::format("{}C", t["celsius"].get<int>()));
    }
    if (!line.empty()) {
      text += "\nTemperatures: " + line;
    }
    line.clear();
    for (const auto& f : e["fans"]) {
      line += fmt::format("{}{}: {} rpm ({})", line.empty() ? "" : ", ",
                          descriptor_text(f, "descriptor"), f["rpm"].get<int>(), str(f, "status"));
    }
    if (!line.empty()) {
      text += "\nFans: " + line;
    }
    line.clear();
    for (const auto& p : e["power_supplies"]) {
      line += fmt::format("{}{}: {}", line.empty() ? "" : ", ", descriptor_text(p, "descriptor"),
                          str(p, "status"));
    }
    if (!line.empty()) {
      text += "\nPower supplies: " + line;
    }
    line.clear();
    for (const auto& v : e["voltages"]) {
      line += fmt::format("{}{}: {:.2f}V", line.empty() ? "" : ", ",
                          descriptor_text(v, "descriptor"), v["volts"].get<double>());
    }
    if (!line.empty()) {
      text += "\nVoltages: " + line;
    }
    out += text + "\n\n";
  }
  return out;
}

std::string render_enc_status(const json& status) {
  std::string out;
  for (const auto& e : status) {
    out += str(e, "enclosure") + ": " + str(e, "status") + "\n";
  }
  return out;
}

std::string render_enc_led(const json& leds, bool fault) {
  std::string out;
  for (const auto& l : leds) {
    const auto desc = descriptor_text(l, "descriptor");
    const auto devs = str(l, "devices");
    out += fmt::format("{}:{} {} {}: {} {}\n", str(l, "enclosure"), l["element"].get<int>(),
                       desc.empty() ? "-" : desc, devs.empty() ? "-" : devs,
                       fault ? "fault" : "locate",
                       l[fault ? "fault" : "locate"].get<bool>() ? "on" : "off");
  }
  return out;
}

std::string render_event(const json& n) {
  if (str(n, "method") == "events.lost") {
    return fmt::format("events lost: {} (the client read too slowly)\n",
                       n["params"].value("count", 0));
  }
  const json& e = n["params"];
  const double t = e.value("time", 0.0);
  const std::time_t secs = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
  std::string where;
  if (e.contains("bus")) {
    where = fmt::format("scbus{}", e["bus"].get<std::uint32_t>());
    if (e.contains("target")) {
      where += fmt::format(" target {}", e["target"].get<std::uint32_t>());
    }
    if (e.contains("lun")) {
      where += fmt::format(" lun {:x}", e["lun"].get<std::uint64_t>());
    }
  }
  std::string names = join(e.value("periphs", json::array()), ",");
  std::string line =
      fmt::format("{}.{:03d} {}", stamp, static_cast<int>((t - static_cast<double>(secs)) * 1000),
                  str(e, "event"));
  if (!where.empty()) {
    line += " " + where;
  }
  if (!names.empty()) {
    line += " (" + names + ")";
  }
  if (e.contains("element")) {
    line += fmt::format(" element {}", e["element"].get<int>());
  }
  if (e.contains("old_status")) {
    line += fmt::format(": {} -> {}", str(e, "old_status"), str(e, "new_status"));
  }
  if (e.contains("old_flags")) {
    line +=
        fmt::format(": 0x{:02x} -> 0x{:02x}", e["old_flags"].get<int>(), e["new_flags"].get<int>());
  }
  if (e.contains("text")) {
    line += ": " + str(e, "text");
  }
  if (e.contains("physical_path")) {
    line += ": physical path " +
            (e["physical_path"].is_string() ? str(e, "physical_path") : std::string("(none)"));
  }
  return line + "\n";
}

std::string render_status(const json& s) {
  std::string out;
  if (s.contains("daemon")) {
    const auto& d = s["daemon"];
    out += fmt::format("ucamd {} (pid {}) on {}\n", str(d, "version"), d.value("pid", 0),
                       str(d, "socket"));
    out += fmt::format("  clients {} (limit {}, refused {}), metrics {}\n", d.value("clients", 0),
                       d.value("max_clients", 0), d.value("clients_refused", 0),
                       d["metrics_listen"].is_string() ? str(d, "metrics_listen") : "off");
  }
  if (s.contains("transports")) {
    if (s["transports"].empty()) {
      out += "  no transport (SIM): no devices\n";
    }
    for (const auto& t : s["transports"]) {
      std::string details;
      for (const auto& [key, value] : t["details"].items()) {
        if (value.is_string() && !value.get<std::string>().empty()) {
          details +=
              fmt::format("{}{} {}", details.empty() ? "" : ", ", key, value.get<std::string>());
        }
      }
      out += fmt::format("  {} {}{}: {}\n", str(t, "kind"), str(t, "spec"),
                         t.value("up", true) ? "" : " (DOWN)", details);
      for (const auto& p : t["problems"]) {
        out += fmt::format("    problem: {}\n", p.get<std::string>());
      }
    }
  }
  out += fmt::format("  uptime {:.0f} s, requests {} ({} errors)\n",
                     s["uptime_seconds"].get<double>(), s["requests_total"].get<std::uint64_t>(),
                     s["request_errors_total"].get<std::uint64_t>());
  out += fmt::format(
      "  handles open {} (opened {}, closed {}); devfs opens {}\n",
      s["handles"].get<std::uint64_t>(), s["handles_opened_total"].get<std::uint64_t>(),
      s["handles_closed_total"].get<std::uint64_t>(), s["devfs"]["opens"].get<std::uint64_t>());
  out += fmt::format(
      "  periphs {} live; CCBs {} started, {} outstanding, {} retries, {} timeouts\n",
      s["periph_stats"]["live"].get<std::uint64_t>(), s["xpt"]["ccbs_started"].get<std::uint64_t>(),
      s["xpt"]["ccbs_outstanding"].get<std::uint64_t>(), s["xpt"]["retries"].get<std::uint64_t>(),
      s["xpt"]["timeouts"].get<std::uint64_t>());
  for (const auto& c : s["sessions"]) {
    out += fmt::format("  session {}: pid {} uid {}{}, {} handle(s){}\n", c["session"].get<int>(),
                       c["pid"].get<int>(), c["uid"].get<int>(),
                       c["admin"].get<bool>() ? " (admin)" : "", c["handles"].get<int>(),
                       c["subscribed"].get<bool>() ? ", subscribed to events" : "");
  }
  return out;
}

}  // namespace ucam::cli
