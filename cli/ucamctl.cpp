// ucamctl: the ucam command-line tool. In this release it runs the stack in-process on the
// emulated SIM (--emulate FILE, or the built-in default scenario).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/log.h"
#include "cli/common.h"
#include "periphs/pass/pass.h"
#include "scsi/inquiry.h"
#include "scsi/opcodes.h"
#include "scsi/sense.h"
#include "scsi/vpd.h"
#include "stack/stack.h"

namespace ucam::cli {
namespace {

using nlohmann::json;

constexpr const char* kExitCodesText =
    "EXIT STATUS\n"
    "  0  success\n"
    "  1  the command reached the device and failed (CHECK CONDITION, timeout, device gone);\n"
    "     enc status: an enclosure reports NONCRITICAL, CRITICAL, UNRECOV or INVOP\n"
    "  2  usage error: bad arguments, bad hex, unreadable or malformed scenario or page file\n"
    "  3  no such device or enclosure\n";

int exit_for_lookup(const Error& e) {
  return report(e, e.errno_value() == EINVAL ? kExitUsage : kExitNoDevice);
}

std::string sense_line(const std::vector<std::uint8_t>& sense) {
  if (sense.empty()) {
    return "";
  }
  auto parsed = scsi::parse_sense(sense);
  if (!parsed) {
    return "undecodable sense: " + parsed.error().message() + " (" + hex_string(sense) + ")";
  }
  return scsi::describe_sense(*parsed);
}

json sense_json(const std::vector<std::uint8_t>& sense) {
  if (sense.empty()) {
    return nullptr;
  }
  json j;
  j["hex"] = hex_string(sense);
  if (auto parsed = scsi::parse_sense(sense)) {
    j["key"] = parsed->sense_key;
    j["key_name"] = scsi::sense_key_name(parsed->sense_key);
    j["asc"] = parsed->asc;
    j["ascq"] = parsed->ascq;
    j["text"] = scsi::asc_ascq_text(parsed->asc, parsed->ascq);
    j["description"] = scsi::describe_sense(*parsed);
  }
  return j;
}

const char* scsi_status_name(cam::ScsiStatus s) {
  switch (s) {
    case cam::ScsiStatus::Good:
      return "GOOD";
    case cam::ScsiStatus::CheckCondition:
      return "CHECK CONDITION";
    case cam::ScsiStatus::ConditionMet:
      return "CONDITION MET";
    case cam::ScsiStatus::Busy:
      return "BUSY";
    case cam::ScsiStatus::ReservationConflict:
      return "RESERVATION CONFLICT";
    case cam::ScsiStatus::TaskSetFull:
      return "TASK SET FULL";
    case cam::ScsiStatus::AcaActive:
      return "ACA ACTIVE";
    case cam::ScsiStatus::TaskAborted:
      return "TASK ABORTED";
  }
  return "UNKNOWN";
}

// Opens a device by any name the user may type, runs one CDB.
struct Runner {
  Stack& stack;
  Result<pass::PassCommand> run(const std::string& node, std::vector<std::uint8_t> cdb,
                                cam::DataDir dir, std::span<std::uint8_t> data,
                                std::chrono::milliseconds timeout, cam::Recovery recovery) {
    auto handle = stack.devfs().open(node);
    if (!handle) {
      return fail(handle.error());
    }
    pass::PassCommand cmd;
    cmd.cdb = std::move(cdb);
    cmd.dir = dir;
    cmd.data = data;
    cmd.timeout = timeout;
    cmd.recovery = recovery;
    if (auto r = handle->ioctl(cmd); !r) {
      return fail(r.error());
    }
    return cmd;
  }
};

// ---------------------------------------------------------------------------------------------

int cmd_devlist(Stack& stack, const Options& opt, bool verbose) {
  auto devices = stack.xpt().devices();
  if (opt.json) {
    json out = json::array();
    for (const auto& d : devices) {
      out.push_back({{"bus", d.path.bus},
                     {"target", d.path.target},
                     {"lun", d.path.lun},
                     {"sim", fmt::format("{}{}", d.sim_name, d.sim_unit)},
                     {"vendor", d.vendor},
                     {"product", d.product},
                     {"revision", d.revision},
                     {"device_type", d.device_type},
                     {"device_type_name", scsi::peripheral_type_name(d.device_type)},
                     {"serial", d.serial},
                     {"periphs", stack.periphs().names_for(d.path)}});
      // The enclosure slot, when an enclosure has published one (FreeBSD's physical path).
      const auto phys = d.advinfo.find(cam::AdvinfoType::PhysPath);
      out.back()["physical_path"] =
          phys == d.advinfo.end() ? json()
                                  : json(std::string(phys->second.begin(), phys->second.end()));
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::optional<std::uint32_t> last_bus;
  for (const auto& d : devices) {
    if (verbose && last_bus != d.path.bus) {
      std::cout << fmt::format("scbus{} on {}{} bus {}:\n", d.path.bus, d.sim_name, d.sim_unit,
                               d.sim_bus);
      last_bus = d.path.bus;
    }
    std::string periphs;
    for (const auto& n : stack.periphs().names_for(d.path)) {
      periphs += (periphs.empty() ? "" : ",") + n;
    }
    const auto id = fmt::format("<{} {} {}>", d.vendor, d.product, d.revision);
    std::cout << fmt::format("{:<33s}  at scbus{} target {} lun {:x} ({})\n", id, d.path.bus,
                             d.path.target, d.path.lun, periphs);
  }
  return kExitOk;
}

Result<std::vector<std::uint8_t>> inquiry_page(Runner& runner, const std::string& node,
                                               scsi::InquiryData evpd, std::uint8_t page) {
  std::vector<std::uint8_t> buf(evpd == scsi::InquiryData::Standard ? 255 : 1024);
  const auto cdb = scsi::inquiry(evpd, page, static_cast<std::uint16_t>(buf.size()));
  auto r = runner.run(node, {cdb.bytes.begin(), cdb.bytes.begin() + cdb.len}, cam::DataDir::In, buf,
                      std::chrono::seconds(10), cam::Recovery::Standard);
  if (!r) {
    return fail(r.error());
  }
  if (r->status != CamStatus::ReqCmp) {
    std::string why(cam_status_name(r->status));
    if (!r->sense.empty()) {
      why = sense_line(r->sense);
    }
    return fail(Error::from_cam(r->status, fmt::format("INQUIRY page 0x{:02x}: {}", page, why)));
  }
  buf.resize(buf.size() - r->resid);
  return buf;
}

int cmd_inquiry(Stack& stack, const Options& opt, const std::string& dev) {
  auto node = stack.resolve(dev);
  if (!node) {
    return exit_for_lookup(node.error());
  }
  Runner runner{stack};
  auto std_data = inquiry_page(runner, *node, scsi::InquiryData::Standard, 0);
  if (!std_data) {
    return report(std_data.error(), kExitDeviceError);
  }
  auto inq = scsi::parse_standard_inquiry(*std_data);
  if (!inq) {
    return report(inq.error().with_context(*node + ": standard INQUIRY data"), kExitDeviceError);
  }
  std::vector<std::uint8_t> pages;
  std::string serial;
  std::vector<scsi::Designator> designators;
  if (auto vpd0 = inquiry_page(runner, *node, scsi::InquiryData::VpdPage, 0x00)) {
    if (auto p = scsi::parse_supported_vpd_pages(*vpd0)) {
      pages = *p;
    }
  }
  const auto has = [&](std::uint8_t p) {
    return std::find(pages.begin(), pages.end(), p) != pages.end();
  };
  if (has(0x80)) {
    if (auto v = inquiry_page(runner, *node, scsi::InquiryData::VpdPage, 0x80)) {
      if (auto s = scsi::parse_unit_serial_number(*v)) {
        serial = *s;
      }
    }
  }
  if (has(0x83)) {
    if (auto v = inquiry_page(runner, *node, scsi::InquiryData::VpdPage, 0x83)) {
      if (auto d = scsi::parse_device_identification(*v)) {
        designators = *d;
      }
    }
  }
  if (opt.json) {
    json ids = json::array();
    for (const auto& d : designators) {
      ids.push_back({{"association", scsi::association_name(d.association)},
                     {"type", scsi::designator_type_name(d.type)},
                     {"code_set", scsi::code_set_name(d.code_set)},
                     {"piv", d.piv},
                     {"protocol", d.piv ? json(scsi::protocol_id_name(d.protocol_id)) : json()},
                     {"value", scsi::designator_value_text(d)}});
    }
    json out = {{"device", *node},
                {"vendor", inq->vendor},
                {"product", inq->product},
                {"revision", inq->revision},
                {"peripheral_qualifier", inq->peripheral_qualifier},
                {"device_type", inq->device_type},
                {"device_type_name", scsi::peripheral_type_name(inq->device_type)},
                {"version", inq->version},
                {"rmb", inq->rmb},
                {"encserv", inq->encserv},
                {"multip", inq->multip},
                {"cmdque", inq->cmdque},
                {"hisup", inq->hisup},
                {"tpgs", inq->tpgs},
                {"protect", inq->protect},
                {"supported_vpd_pages", pages},
                {"serial", serial},
                {"designators", ids}};
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{}: <{} {} {}>\n", *node, inq->vendor, inq->product, inq->revision);
  std::cout << fmt::format("  Peripheral qualifier: {}, device type: {} (0x{:02x})\n",
                           inq->peripheral_qualifier, scsi::peripheral_type_name(inq->device_type),
                           inq->device_type);
  std::cout << fmt::format(
      "  Version: 0x{:02x}  RMB={} HiSup={} TPGS={} Protect={} EncServ={} MultiP={} CmdQue={}\n",
      inq->version, int{inq->rmb}, int{inq->hisup}, int{inq->tpgs}, int{inq->protect},
      int{inq->encserv}, int{inq->multip}, int{inq->cmdque});
  if (!pages.empty()) {
    std::string list;
    for (auto p : pages) {
      list += fmt::format("{}0x{:02x}", list.empty() ? "" : " ", p);
    }
    std::cout << "  Supported VPD pages: " << list << "\n";
  }
  if (!serial.empty()) {
    std::cout << "  Unit serial number: " << serial << "\n";
  }
  if (!designators.empty()) {
    std::cout << scsi::describe_device_identification(designators);
  }
  return kExitOk;
}

int print_command_result(const Options& opt, const std::string& node, const pass::PassCommand& cmd,
                         std::span<const std::uint8_t> data_in) {
  const bool ok = cmd.status == CamStatus::ReqCmp;
  if (opt.json) {
    json out = {{"device", node},
                {"cam_status", static_cast<int>(cmd.status)},
                {"cam_status_text", cam_status_name(cmd.status)},
                {"scsi_status", static_cast<int>(cmd.scsi_status)},
                {"scsi_status_text", scsi_status_name(cmd.scsi_status)},
                {"resid", cmd.resid},
                {"sense", sense_json(cmd.sense)}};
    if (!data_in.empty()) {
      out["data_in"] = hex_string(data_in);
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << fmt::format("{}: {} (SCSI status {}), residual {}\n", node,
                             cam_status_name(cmd.status), scsi_status_name(cmd.scsi_status),
                             cmd.resid);
    if (!cmd.sense.empty()) {
      std::cout << "  Sense: " << sense_line(cmd.sense) << "\n";
    }
    if (!data_in.empty()) {
      std::cout << hex_dump(data_in);
    }
  }
  return ok ? kExitOk : kExitDeviceError;
}

int cmd_tur(Stack& stack, const Options& opt, const std::string& dev) {
  auto node = stack.resolve(dev);
  if (!node) {
    return exit_for_lookup(node.error());
  }
  Runner runner{stack};
  auto r = runner.run(*node, {0, 0, 0, 0, 0, 0}, cam::DataDir::None, {}, std::chrono::seconds(10),
                      cam::Recovery::Standard);
  if (!r) {
    return report(r.error(), kExitDeviceError);
  }
  if (opt.json) {
    return print_command_result(opt, *node, *r, {});
  }
  if (r->status == CamStatus::ReqCmp) {
    std::cout << *node << ": unit is ready\n";
    return kExitOk;
  }
  std::cout << *node << ": not ready: "
            << (r->sense.empty() ? std::string(cam_status_name(r->status)) : sense_line(r->sense))
            << "\n";
  return kExitDeviceError;
}

struct CmdArgs {
  std::string cdb;
  std::uint32_t in = 0;
  std::string out_hex;
  std::string out_file;
  std::uint32_t timeout_ms = 60'000;
  bool recover = false;
};

int cmd_cmd(Stack& stack, const Options& opt, const std::string& dev, const CmdArgs& a) {
  auto cdb = parse_hex(a.cdb, HexTokens::AllowRuns);
  if (!cdb) {
    return report(cdb.error().with_context("--cdb"), kExitUsage);
  }
  if (cdb->empty() || cdb->size() > cam::Ccb::kMaxCdb) {
    return report(
        Error::invalid(fmt::format("--cdb: {} bytes; a CDB is 1 to 32 bytes", cdb->size())),
        kExitUsage);
  }
  const auto expected = static_cast<std::size_t>(scsi::cdb_length((*cdb)[0]));
  if (expected != 0 && expected != cdb->size()) {
    std::fprintf(stderr, "ucamctl: warning: opcode 0x%02x (%s) takes a %zu-byte CDB, got %zu\n",
                 (*cdb)[0], std::string(scsi::opcode_name((*cdb)[0])).c_str(), expected,
                 cdb->size());
  }
  std::vector<std::uint8_t> out_data;
  if (!a.out_hex.empty()) {
    auto d = parse_hex(a.out_hex, HexTokens::AllowRuns);
    if (!d) {
      return report(d.error().with_context("--out"), kExitUsage);
    }
    out_data = std::move(*d);
  } else if (!a.out_file.empty()) {
    std::ifstream f(a.out_file, std::ios::binary);
    if (!f) {
      return report(Error::from_errno(errno, "--out-file " + a.out_file), kExitUsage);
    }
    out_data.assign(std::istreambuf_iterator<char>(f), {});
  }
  if (a.in > 0 && !out_data.empty()) {
    return report(Error::invalid("--in and --out/--out-file are exclusive (one data direction)"),
                  kExitUsage);
  }
  auto node = stack.resolve(dev);
  if (!node) {
    return exit_for_lookup(node.error());
  }
  std::vector<std::uint8_t> in_data(a.in);
  const auto dir =
      a.in > 0 ? cam::DataDir::In : (out_data.empty() ? cam::DataDir::None : cam::DataDir::Out);
  std::span<std::uint8_t> data =
      a.in > 0 ? std::span<std::uint8_t>(in_data) : std::span<std::uint8_t>(out_data);
  Runner runner{stack};
  auto r = runner.run(*node, *cdb, dir, data, std::chrono::milliseconds(a.timeout_ms),
                      a.recover ? cam::Recovery::Standard : cam::Recovery::None);
  if (!r) {
    return report(r.error(), kExitDeviceError);
  }
  std::span<const std::uint8_t> shown;
  if (dir == cam::DataDir::In) {
    shown = std::span<const std::uint8_t>(in_data).first(
        in_data.size() - std::min<std::size_t>(r->resid, in_data.size()));
  }
  return print_command_result(opt, *node, *r, shown);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ucamctl - inspect and drive SCSI devices through ucam, a user-space CAM stack.\n\n"
      "Runs the whole stack in this process on the emulated SIM: the built-in default\n"
      "topology, or the scenario given with --emulate (see docs/scenarios.md).",
      "ucamctl"};
  app.footer(std::string("\nEXAMPLES\n"
                         "  ucamctl devlist\n"
                         "  ucamctl --emulate examples/default.json inquiry pass0\n"
                         "  ucamctl tur 0:1:0\n"
                         "  ucamctl cmd pass0 --cdb \"12 00 00 00 24 00\" --in 36\n\n") +
             kExitCodesText);
  app.require_subcommand(1);
  Options opt;
  app.add_option("--emulate", opt.emulate,
                 "Scenario to emulate: a JSON file, or builtin:NAME (default: builtin:default)");
  app.add_flag("--json", opt.json, "Machine-readable JSON output");
  app.add_option("--log-level", opt.log_level, "debug, info, warning (default) or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));

  bool verbose = false;
  auto* devlist = app.add_subcommand("devlist", "List devices, like camcontrol devlist");
  devlist->add_flag("-v,--verbose", verbose, "Also print a line per bus");

  std::string dev;
  auto* inquiry = app.add_subcommand(
      "inquiry", "Show standard INQUIRY data and VPD pages 0x00, 0x80 and 0x83, decoded");
  inquiry->add_option("device", dev, "passN, /dev/passN or bus:target:lun")->required();

  auto* tur = app.add_subcommand("tur", "TEST UNIT READY; exit status 0 when the unit is ready");
  tur->add_option("device", dev, "passN, /dev/passN or bus:target:lun")->required();

  CmdArgs cargs;
  auto* cmd = app.add_subcommand("cmd", "Send a raw CDB and show status, sense and data");
  cmd->add_option("device", dev, "passN, /dev/passN or bus:target:lun")->required();
  cmd->add_option("--cdb", cargs.cdb, "CDB bytes in hex, e.g. \"12 00 00 00 24 00\"")->required();
  auto* in_opt = cmd->add_option("--in", cargs.in, "Read N bytes of data in (hex dump printed)")
                     ->check(CLI::Range(1U, 16U * 1024 * 1024));
  auto* out_opt = cmd->add_option("--out", cargs.out_hex, "Data out, in hex");
  auto* out_file = cmd->add_option("--out-file", cargs.out_file, "Data out, from a file")
                       ->check(CLI::ExistingFile);
  in_opt->excludes(out_opt)->excludes(out_file);
  out_opt->excludes(out_file);
  cmd->add_option("--timeout", cargs.timeout_ms, "Timeout in milliseconds (default 60000)")
      ->check(CLI::Range(1U, 3'600'000U));
  cmd->add_flag("--recover", cargs.recover,
                "Let ucam retry UNIT ATTENTION, BUSY and transport errors (default: report them)");

  auto* enc = app.add_subcommand(
      "enc", "Enclosure services (SES): list, map, show, status, locate, fault, decode");
  enc->require_subcommand(1);
  EncArgs eargs;
  const std::string enc_help = "Enclosure node (sesN); default: every enclosure";
  auto* enc_list = enc->add_subcommand("list", "One line per enclosure: name, id, slots, status");
  auto* enc_map = enc->add_subcommand(
      "map", "Every element: type, status bytes, descriptor, device names, extra status");
  enc_map->add_option("enclosure", eargs.enclosure, enc_help);
  auto* enc_show = enc->add_subcommand(
      "show",
      "Slots with device, model, serial, size and status; temperatures, fans, PSUs, voltages");
  enc_show->add_option("enclosure", eargs.enclosure, enc_help);
  auto* enc_status = enc->add_subcommand(
      "status", "Overall enclosure status; exit status 1 unless every enclosure is OK");
  enc_status->add_option("enclosure", eargs.enclosure, enc_help);
  auto add_led = [&](const char* name, const char* help) {
    auto* c = enc->add_subcommand(name, help);
    c->add_option("target", eargs.target,
                  "A disk (passN or bus:target:lun), sesN:ELEMENT (element index), or all")
        ->required();
    c->add_option("state", eargs.state, "on or off; omit to read the LED state back")
        ->check(CLI::IsMember({"on", "off"}));
    c->add_option("-u,--enclosure", eargs.enclosure, enc_help);
    return c;
  };
  auto* enc_locate = add_led("locate", "Turn a slot's locate (ident) LED on or off, or read it");
  auto* enc_fault = add_led("fault", "Turn a slot's fault LED on or off, or read it");
  auto* enc_decode = enc->add_subcommand(
      "decode", "Decode SES diagnostic pages from a file offline (sg_ses --inhex format)");
  enc_decode
      ->add_option("file", eargs.file, "Hex text (or binary with --raw): whole pages back to back")
      ->required()
      ->check(CLI::ExistingFile);
  enc_decode->add_flag("--raw", eargs.raw, "The file is binary, not hex text");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  set_log_level(opt.log_level == "debug"   ? LogLevel::Debug
                : opt.log_level == "info"  ? LogLevel::Info
                : opt.log_level == "error" ? LogLevel::Error
                                           : LogLevel::Warning);
  if (enc_decode->parsed()) {
    return cmd_enc_decode(opt, eargs);  // Offline: no stack needed.
  }
  auto scenario = load_scenario(opt.emulate);
  if (!scenario) {
    return report(scenario.error(), kExitUsage);
  }
  auto stack = Stack::create_emulated(*scenario);
  if (!stack) {
    return report(stack.error(), kExitDeviceError);
  }
  if (devlist->parsed()) {
    return cmd_devlist(**stack, opt, verbose);
  }
  if (inquiry->parsed()) {
    return cmd_inquiry(**stack, opt, dev);
  }
  if (tur->parsed()) {
    return cmd_tur(**stack, opt, dev);
  }
  if (enc_list->parsed()) {
    return cmd_enc_list(**stack, opt);
  }
  if (enc_map->parsed()) {
    return cmd_enc_map(**stack, opt, eargs);
  }
  if (enc_show->parsed()) {
    return cmd_enc_show(**stack, opt, eargs);
  }
  if (enc_status->parsed()) {
    return cmd_enc_status(**stack, opt, eargs);
  }
  if (enc_locate->parsed() || enc_fault->parsed()) {
    return cmd_enc_led(**stack, opt, eargs, enc_fault->parsed());
  }
  return cmd_cmd(**stack, opt, dev, cargs);
}

}  // namespace ucam::cli

int main(int argc, char** argv) {
  return ucam::cli::main(argc, argv);
}
