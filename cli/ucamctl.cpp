// ucamctl: the ucam command-line tool. Talks to ucamd (the default), or runs the whole stack in
// this process on the emulated SIM (--emulate). Every command works the same either way: both
// answer through the service's JSON-RPC methods and the text is rendered from that JSON.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>

#include "base/allocator.h"
#include "base/hex.h"
#include "base/log.h"
#include "cli/ch_cli.h"
#include "cli/client.h"
#include "cli/render.h"
#include "scsi/opcodes.h"
#include "scsi/ses_json.h"
#include "stack/stack.h"

namespace ucam::cli {
namespace {

// Exit codes (documented in --help, the README and docs/ucamctl.md).
constexpr int kExitOk = 0;
constexpr int kExitDeviceError = 1;  // The device or transport said no; enc status not OK;
                                     // tur not ready; events --count not reached in time.
constexpr int kExitUsage = 2;        // Bad arguments, bad hex, bad scenario or page file.
constexpr int kExitNoDevice = 3;     // No such device, enclosure, slot or handle.
constexpr int kExitPermission = 4;   // ucamd refused: the admin right is needed.
constexpr int kExitNoDaemon = 5;     // ucamd unreachable, or the connection was lost.

constexpr const char* kExitCodesText =
    "EXIT STATUS\n"
    "  0  success\n"
    "  1  the command reached the device and failed (CHECK CONDITION, timeout, device gone);\n"
    "     tur: not ready; enc status: an enclosure is NONCRITICAL, CRITICAL, UNRECOV or INVOP;\n"
    "     events --count: fewer events than asked before --timeout\n"
    "  2  usage error: bad arguments, bad hex, a page file that cannot be read or decoded, any\n"
    "     scenario error (unreadable, malformed, too large, or found when the SIM starts)\n"
    "  3  no such device, enclosure, slot or handle\n"
    "  4  permission denied: changing things needs root or ucamd's admin group\n"
    "  5  ucamd is not reachable (see --socket, --emulate), or the connection was lost\n";

constexpr const char* kGlobalOptionsText =
    "\nGLOBAL OPTIONS\n"
    "  --socket PATH, --emulate FILE|builtin:NAME, --sg[=FILTER], --iscsi URL, --json and\n"
    "  --log-level LEVEL (ucamctl --help) may come before or after the command and its\n"
    "  arguments.\n";

// Every help of `command` and of its subcommands says where the global options go.
void note_globals(CLI::App& command) {
  command.footer(command.get_footer() + kGlobalOptionsText);
  for (CLI::App* sub : command.get_subcommands([](CLI::App*) { return true; })) {
    note_globals(*sub);
  }
}

// Runs `build` (adding `command`'s options, subcommands and footers) only when the command line
// names `command`: CLI11 calls a subcommand's preparse callback before it parses the
// subcommand's arguments. So a run builds the one command it runs (start time, issue 11), and
// the command's --help still shows everything.
void build_on_use(CLI::App* command, std::function<void()> build) {
  command->preparse_callback([command, build = std::move(build)](std::size_t) {
    build();
    note_globals(*command);
  });
}

// Whether the command line chose `command` (null: its parent was not built, so not chosen).
bool chosen(const CLI::App* command) {
  return command != nullptr && command->parsed();
}

struct Options {
  std::string emulate;             // "" = no emulated SIM.
  std::vector<std::string> sg;     // --sg [FILTER], repeatable ("" = every device).
  std::vector<std::string> iscsi;  // --iscsi URL, repeatable.
  // In-process (--emulate, --sg, --iscsi) or through ucamd.
  bool in_process() const { return !emulate.empty() || !sg.empty() || !iscsi.empty(); }
  std::string socket;
  bool json = false;
  std::string log_level = "warning";
};

int report_error(const std::string& message, int code) {
  std::fprintf(stderr, "ucamctl: %s\n", message.c_str());
  return code;
}

int exit_for(const service::RpcError& e) {
  using service::RpcCode;
  switch (static_cast<RpcCode>(e.code)) {
    case RpcCode::ParseError:
    case RpcCode::InvalidRequest:
    case RpcCode::MethodNotFound:
    case RpcCode::InvalidParams:
      return kExitUsage;
    case RpcCode::NoSuchDevice:
      return kExitNoDevice;
    case RpcCode::PermissionDenied:
      return kExitPermission;
    default:
      break;
  }
  if (e.data.is_object() && e.data.value("disconnected", false)) {
    return kExitNoDaemon;
  }
  if (e.data.is_object() && e.data.value("errno", 0) == EBADF) {
    return kExitNoDevice;
  }
  return kExitDeviceError;
}

// Runs one method and prints its result: JSON with --json, else `render(result)`.
struct Runner {
  Client& client;
  const Options& opt;
  int status = kExitOk;

  std::optional<json> call(const std::string& method, json params) {
    auto r = client.call(method, std::move(params));
    if (!r) {
      status = report_error(r.error().message, exit_for(r.error()));
      return std::nullopt;
    }
    return std::move(*r);
  }
  template <class Render>
  int show(const std::string& method, json params, Render render) {
    auto r = call(method, std::move(params));
    if (!r) {
      return status;
    }
    if (opt.json) {
      std::cout << r->dump(2) << "\n";
    } else {
      std::cout << render(*r);
    }
    return kExitOk;
  }
  // show() for a result that is a long array, never held whole (Client::call_each): each
  // element is printed as it is parsed, as JSON with --json, else as `renderer.next(element)`.
  // `render` is show()'s, for a result that is not an array.
  template <class Renderer, class Render>
  int show_each(const std::string& method, json params, Renderer& renderer, Render render) {
    std::string out;  // Printed in pieces.
    PrettyArrayWriter pretty;
    auto r = client.call_each(method, std::move(params), [&](const json& element) {
      out += opt.json ? pretty.next(element) : renderer.next(element);
      if (out.size() >= kPrintChunk) {
        std::cout << out;
        out.clear();
      }
    });
    if (!r) {
      status = report_error(r.error().message, exit_for(r.error()));
      return status;
    }
    if (!r->is_array()) {
      std::cout << (opt.json ? r->dump(2) + "\n" : render(*r));
      return kExitOk;
    }
    std::cout << out << (opt.json ? pretty.finish() + "\n" : "");
    return kExitOk;
  }
  static constexpr std::size_t kPrintChunk = 1 << 16;
};

json lun_params(const std::string& address) {
  // "bus:target:lun" in scenario numbering.
  unsigned bus = 0, target = 0;
  unsigned long long lun = 0;
  char extra = 0;
  if (std::sscanf(address.c_str(), "%u:%u:%llu%c", &bus, &target, &lun, &extra) != 3) {
    return nullptr;
  }
  return {{"bus", bus}, {"target", target}, {"lun", lun}};
}

int cmd_enc_decode(const Options& opt, const std::string& file, bool raw) {
  std::ifstream f(file, std::ios::binary);
  if (!f) {
    return report_error(Error::from_errno(errno, file).message(), kExitUsage);
  }
  std::string text((std::istreambuf_iterator<char>(f)), {});
  std::vector<std::uint8_t> bytes;
  if (raw) {
    bytes.assign(text.begin(), text.end());
  } else {
    auto parsed = parse_hex(text);
    if (!parsed) {
      return report_error(parsed.error().with_context(file).message(), kExitUsage);
    }
    bytes = std::move(*parsed);
  }
  auto decoded = scsi::ses::decode_ses_pages(bytes);
  if (!decoded) {
    return report_error(decoded.error().with_context(file).message(), kExitUsage);
  }
  // Only the form printed is rendered.
  if (opt.json) {
    // Valid UTF-8 by construction (docs/ses-json.md); replace, never throw, if not.
    std::cout << scsi::ses::ses_to_json(*decoded).dump(2, ' ', false,
                                                       json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << scsi::ses::ses_to_text(*decoded);
  }
  return kExitOk;
}

struct CmdArgs {
  std::string cdb;
  std::uint32_t in = 0;
  std::string out_hex;
  std::string out_file;
  std::uint32_t timeout_ms = 60'000;
  bool recover = false;
};

// Checks the CDB and data here, so that mistakes get messages about the flags.
Result<json> command_params(const std::string& dev, const CmdArgs& a) {
  auto cdb = parse_hex(a.cdb, HexTokens::AllowRuns);
  if (!cdb) {
    return fail(cdb.error().with_context("--cdb"));
  }
  if (cdb->empty() || cdb->size() > 32) {
    return fail_invalid(fmt::format("--cdb: {} bytes; a CDB is 1 to 32 bytes", cdb->size()));
  }
  const auto expected = static_cast<std::size_t>(scsi::cdb_length((*cdb)[0]));
  if (expected != 0 && expected != cdb->size()) {
    std::fprintf(stderr, "ucamctl: warning: opcode 0x%02x (%s) takes a %zu-byte CDB, got %zu\n",
                 (*cdb)[0], std::string(scsi::opcode_name((*cdb)[0])).c_str(), expected,
                 cdb->size());
  }
  json params = {{"device", dev},
                 {"cdb", hex_string(*cdb)},
                 {"timeout_ms", a.timeout_ms},
                 {"recover", a.recover}};
  if (a.in > 0) {
    params["data_in_length"] = a.in;
  }
  if (!a.out_hex.empty()) {
    auto d = parse_hex(a.out_hex, HexTokens::AllowRuns);
    if (!d) {
      return fail(d.error().with_context("--out"));
    }
    params["data_out"] = hex_string(*d);
  } else if (!a.out_file.empty()) {
    std::ifstream f(a.out_file, std::ios::binary);
    if (!f) {
      return fail(Error::from_errno(errno, "--out-file " + a.out_file));
    }
    std::vector<std::uint8_t> d((std::istreambuf_iterator<char>(f)), {});
    params["data_out"] = hex_string(d);
  }
  if (a.in > 0 && params.contains("data_out")) {
    return fail_invalid("--in and --out/--out-file are exclusive (one data direction)");
  }
  return params;
}

}  // namespace

// What outlives the command in main(): the client, and whether tearing it down matters.
struct Connection {
  std::unique_ptr<Client> client;
  // False for a stack in this process on emulated SIMs only: its teardown (on 100,000 LUNs,
  // 0.5 s of joining, invalidating and freeing) changes nothing outside the process, so main()
  // exits without it once the output is flushed, as clang does with -disable-free. A stack
  // with real SIMs is torn down (iSCSI logs out, sg handles close in order).
  bool teardown_matters = true;
};

int main(int argc, char** argv, Connection& connection) {
  CLI::App app{
      "ucamctl - inspect and drive SCSI devices through ucam, a user-space CAM stack.\n\n"
      "By default it talks to ucamd over its Unix socket (--socket, $UCAM_SOCKET, or\n"
      "/run/ucam/ucamd.sock). With --emulate, --sg or --iscsi it builds the stack in this\n"
      "process instead, on the SIMs they name (combinable): the emulated SIM on a scenario\n"
      "(a file, or builtin:NAME; see docs/scenarios.md), this machine's SCSI devices through\n"
      "Linux SG_IO (/dev/sg*), or iSCSI targets through libiscsi.\n"
      "Commands and output are the same either way. Reading is open to every user who may\n"
      "connect; changing things (LEDs, raw CDBs, fault injection) needs ucamd's admin right.\n\n"
      "Devices are named passN, daN, ptN, sesN, /dev/passN, or bus:target:lun (XPT\n"
      "numbering).\n\n"
      "The options below are global: they may come before or after the command, as with git\n"
      "or camcontrol ('ucamctl devlist --json' is 'ucamctl --json devlist').\n",
      "ucamctl"};
  app.footer(
      std::string("\nEXAMPLES\n"
                  "  ucamctl devlist -v\n"
                  "  ucamctl --emulate builtin:jbod-24 enc show\n"
                  "  ucamctl --sg enc map              # this machine's enclosures\n"
                  "  ucamctl --sg=scsi_debug --sg=sg5 devlist\n"
                  "  ucamctl --iscsi iscsi://127.0.0.1:3260/iqn.2001-04.com.example:lib devlist\n"
                  "  ucamctl inquiry 0:1:0\n"
                  "  ucamctl cmd pass0 --cdb \"12 00 00 00 24 00\" --in 36\n"
                  "  ucamctl enc locate pass9 on\n"
                  "  ucamctl pt send pt0 \"48 65 6c 6c 6f\" && ucamctl pt receive pt0\n"
                  "  ucamctl enc map --json          # global options go anywhere\n"
                  "  ucamctl --json events --count 1 --timeout 30\n\n") +
      kExitCodesText + "\nSEE ALSO\n  ucamd(8), docs/ucamctl.md, docs/api.md\n");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ucamctl ") + UCAM_VERSION,
                       "Print the version and exit");
  // Global options go anywhere: a subcommand hands the options it does not know to its parent
  // (CLI11's fallthrough), up to this app. Subcommands inherit the setting when they are added,
  // so it is set before any is. An option's value is taken before this applies: in
  // `cmd pass0 --cdb "12 00" --json` the CDB is "12 00" and --json is global.
  app.fallthrough();
  Options opt;
  // Given twice (before and after the command), the last one counts.
  const auto last = CLI::MultiOptionPolicy::TakeLast;
  app.add_option("--emulate", opt.emulate,
                 "Run the stack in-process on this scenario (a file or builtin:NAME, see\n"
                 "docs/scenarios.md) instead of talking to ucamd")
      ->type_name("FILE|builtin:NAME")
      ->multi_option_policy(last);
  app.add_option("--sg", opt.sg,
                 "Run the stack in-process on this machine's SCSI devices (Linux SG_IO,\n"
                 "/dev/sg*; needs read-write access to them). FILTER selects devices: an sg\n"
                 "name (sg3), H:C:T:L, hostN or a host driver (mpt3sas, scsi_debug); repeat it\n"
                 "to select several; without FILTER every device. Write --sg=FILTER when a\n"
                 "device argument follows, or it is taken as the FILTER")
      ->type_name("[FILTER]")
      ->expected(0, 1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--iscsi", opt.iscsi,
                 "Run the stack in-process on an iSCSI target (libiscsi), repeatable:\n"
                 "iscsi://[USER[%SECRET]@]HOST[:PORT]/TARGET-IQN")
      ->type_name("URL")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--socket", opt.socket,
                 "ucamd's socket (default: $UCAM_SOCKET or /run/ucam/ucamd.sock)")
      ->type_name("PATH")
      ->multi_option_policy(last);
  app.add_flag("--json", opt.json, "Machine-readable JSON output")->multi_option_policy(last);
  app.add_option("--log-level", opt.log_level, "debug, info, warning (default) or error")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->multi_option_policy(last);

  const std::string dev_help = "passN, sesN, /dev/passN or bus:target:lun";
  // Every command's options (and subcommands) are added when the command line names it, so a
  // run builds only the command it runs (build_on_use); --help of a command still sees them.
  bool verbose = false;
  auto* devlist = app.add_subcommand("devlist", "List devices, like camcontrol devlist");
  build_on_use(devlist, [&] {
    devlist->add_flag("-v,--verbose", verbose, "Also print a line per bus");
    devlist->footer(
        "\nOne line per device: <vendor product revision>, its path (scbus, target, lun in hex)\n"
        "and its periph names (pass for every device, da for disks, pt for processors, ses for\n"
        "enclosures).\n"
        "--json adds the SIM, inquiry fields, serial number and the physical path (enclosure\n"
        "slot) the enclosure daemon published.\n\nEXAMPLES\n  ucamctl devlist -v\n"
        "  ucamctl --json devlist | jq '.[] | select(.physical_path) | {periphs, "
        "physical_path}'\n");
  });

  std::string dev;
  auto* inquiry = app.add_subcommand(
      "inquiry", "Show standard INQUIRY data and VPD pages 0x00, 0x80 and 0x83, decoded");
  build_on_use(inquiry, [&] {
    inquiry->add_option("device", dev, dev_help)->required();
    inquiry->footer(
        "\nSends INQUIRY for the standard data and VPD pages 0x00, 0x80 and 0x83 and decodes\n"
        "every designator. --json includes the raw pages in hex (sg_inq --inhex, sg_vpd --inhex\n"
        "read them).\n\nEXAMPLES\n  ucamctl inquiry da0\n  ucamctl --json inquiry 1:4:0\n");
  });

  auto* tur = app.add_subcommand("tur", "TEST UNIT READY; exit status 0 when the unit is ready");
  build_on_use(tur, [&] {
    tur->add_option("device", dev, dev_help)->required();
    tur->footer(
        "\nTEST UNIT READY with ucam's recovery (UNIT ATTENTION and BUSY are retried). Prints\n"
        "'unit is ready' or the decoded sense; exit 0 when ready, 1 when not.\n\n"
        "EXAMPLES\n  ucamctl tur da3 && echo ready\n");
  });

  CmdArgs cargs;
  auto* cmd = app.add_subcommand(
      "cmd", "Send a raw CDB and show status, sense and data (needs the admin right)");
  build_on_use(cmd, [&] {
    cmd->add_option("device", dev, dev_help)->required();
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
    cmd->add_flag(
        "--recover", cargs.recover,
        "Let ucam retry UNIT ATTENTION, BUSY and transport errors (default: report them)");
    cmd->footer(
        "\nThe CDB goes to the device's pass node whatever name you give (da3 -> its passN).\n"
        "Prints the CAM status, the SCSI status, the residual, the sense decoded in one line,\n"
        "and a hex dump of the data in. Exit 0 when the command completed, 1 when it did not.\n\n"
        "EXAMPLES\n"
        "  ucamctl cmd pass0 --cdb \"12 00 00 00 24 00\" --in 36       # INQUIRY\n"
        "  ucamctl cmd da3 --cdb \"25 00 00 00 00 00 00 00 00 00\" --in 8   # READ CAPACITY(10)\n"
        "  ucamctl --json cmd 1:4:0 --cdb \"00 00 00 00 00 00\"        # TEST UNIT READY\n");
  });

  std::string pt_hex, pt_file;
  std::uint32_t pt_length = 4096;
  std::uint32_t pt_timeout_ms = 60'000;
  CLI::App *pt_send = nullptr, *pt_receive = nullptr;
  CLI::Option *pt_hex_opt = nullptr, *pt_file_opt = nullptr;
  auto* pt = app.add_subcommand(
      "pt", "SCSI processor devices (pt): send and receive messages (needs the admin right)");
  build_on_use(pt, [&] {
    pt->require_subcommand(1);
    const std::string pt_dev_help =
        "ptN, /dev/ptN, or any name of the processor device (passN, bus:target:lun)";
    pt_send = pt->add_subcommand("send", "Send one message to a processor device (SEND)");
    pt_send->add_option("device", dev, pt_dev_help)->required();
    pt_hex_opt = pt_send->add_option(
        "data", pt_hex,
        "The message in hex, e.g. \"48 65 6c 6c 6f\" or 48656c6c6f; \"\" sends none");
    pt_file_opt = pt_send->add_option("-f,--file", pt_file, "The message: a file's bytes")
                      ->check(CLI::ExistingFile);
    pt_hex_opt->excludes(pt_file_opt);
    pt_send->add_option("--timeout", pt_timeout_ms, "Timeout in milliseconds (default 60000)")
        ->check(CLI::Range(1U, 3'600'000U));
    pt_receive =
        pt->add_subcommand("receive", "Receive one message from a processor device (RECEIVE)");
    pt_receive->add_option("device", dev, pt_dev_help)->required();
    pt_receive
        ->add_option("-l,--length", pt_length,
                     "Receive at most N bytes (default 4096, 0 to 16777215); a longer message is\n"
                     "cut by the device")
        ->check(CLI::Range(0U, 16'777'215U));
    pt_receive->add_option("--timeout", pt_timeout_ms, "Timeout in milliseconds (default 60000)")
        ->check(CLI::Range(1U, 3'600'000U));
    const char* pt_notes =
        "\nA processor device (SCSI peripheral type 03h, not a SAF-TE enclosure) exchanges\n"
        "messages: SEND hands it one, RECEIVE takes back the oldest it holds. One message is one\n"
        "command, never split: at most 16777215 bytes (the 24-bit length of SPC-2), and at most\n"
        "what the device's bus carries per command (maxio; larger is refused, nothing sent).\n\n"
        "A pt node takes one opener at a time (as FreeBSD's pt): while another client holds it\n"
        "open (a handle from 'ucamctl call open'), send and receive fail with exit status 1 and\n"
        "say so. A device that answers BUSY to SEND (its message queue is full) fails the same\n"
        "way, after 4 retries: receive messages, then send again.\n\n"
        "EXIT STATUS (pt)\n"
        "  0  sent; received (also when the device had no message: 'no message')\n"
        "  1  the device refused or failed (CHECK CONDITION, BUSY, timeout), pt is held open, or\n"
        "     the message exceeds what the bus carries per command (maxio)\n"
        "  2  bad arguments: bad hex, an unreadable file, a message or length out of range\n"
        "  3  no such device, or it is not a processor device\n";
    pt_send->footer(std::string(pt_notes) +
                    "\nEXAMPLES\n"
                    "  ucamctl pt send pt0 \"48 65 6c 6c 6f\"\n"
                    "  ucamctl pt send 0:8:0 --file message.bin\n"
                    "  ucamctl pt send pt0 \"\"                 # an empty message\n");
    pt_receive->footer(std::string(pt_notes) +
                       "\nPrints the byte count and a hex dump, or 'no message'. --json gives\n"
                       "{device, length, received, data (hex)}.\n\n"
                       "EXAMPLES\n"
                       "  ucamctl pt receive pt0\n"
                       "  ucamctl pt receive pt0 --length 64 --json\n");
  });

  std::string enclosure, target, state, file;
  bool raw = false;
  CLI::App *enc_list = nullptr, *enc_map = nullptr, *enc_show = nullptr, *enc_status = nullptr,
           *enc_locate = nullptr, *enc_fault = nullptr, *enc_decode = nullptr;
  auto* enc = app.add_subcommand(
      "enc", "Enclosure services (SES, SAF-TE): list, map, show, status, locate, fault, decode");
  build_on_use(enc, [&] {
    enc->require_subcommand(1);
    const std::string enc_help = "Enclosure node (sesN); default: every enclosure";
    enc_list = enc->add_subcommand("list", "One line per enclosure: name, id, slots, status");
    enc_map = enc->add_subcommand(
        "map", "Every element: type, status bytes, descriptor, device names, extra status");
    enc_map->add_option("enclosure", enclosure, enc_help);
    enc_show = enc->add_subcommand(
        "show",
        "Slots with device, model, serial, size and status; temperatures, fans, PSUs, voltages");
    enc_show->add_option("enclosure", enclosure, enc_help);
    enc_status = enc->add_subcommand(
        "status", "Overall enclosure status; exit status 1 unless every enclosure is OK");
    enc_status->add_option("enclosure", enclosure, enc_help);
    auto add_led = [&](const char* name, const char* help) {
      auto* c = enc->add_subcommand(name, help);
      c->add_option("target", target,
                    "A disk (passN, /dev/passN, bus:target:lun), a slot name (\"Slot 03\" or "
                    "slot_03), sesN:ELEMENT (element index), sesN:SLOTNAME, or all")
          ->required();
      c->add_option("state", state,
                    "on or off (needs the admin right); omit to read the LED state back")
          ->check(CLI::IsMember({"on", "off"}));
      c->add_option("-u,--enclosure", enclosure, enc_help);
      c->footer(
          std::string("\nReads the LED back from the enclosure after setting it. Exit 3 when the\n"
                      "target is in no slot, 2 for a bad element, 4 without the admin right.\n\n"
                      "EXAMPLES\n  ucamctl enc ") +
          name + " da3 on\n  ucamctl enc " + name + " \"Slot 07\" on\n  ucamctl enc " + name +
          " ses0:3 off\n  ucamctl enc " + name + " all off\n  ucamctl enc " + name + " pass9\n");
      return c;
    };
    enc_locate = add_led("locate", "Turn a slot's locate (ident) LED on or off, or read it");
    enc_fault = add_led("fault", "Turn a slot's fault LED on or off, or read it");
    enc_decode = enc->add_subcommand(
        "decode", "Decode SES diagnostic pages from a file offline (sg_ses --inhex format)");
    enc_decode
        ->add_option("file", file, "Hex text (or binary with --raw): whole pages back to back")
        ->required()
        ->check(CLI::ExistingFile);
    enc_decode->add_flag("--raw", raw, "The file is binary, not hex text");
    enc_list->footer("\nEXAMPLES\n  ucamctl enc list\n  ucamctl --json enc list\n");
    enc_map->footer(
        "\nEvery element of each enclosure, as sesutil map shows them: type, status and its four\n"
        "bytes, descriptor, devices in the slot, and extra status (LEDs, speeds, temperatures,\n"
        "voltages). --json adds every decoded field, SAS addresses and physical paths.\n\n"
        "EXAMPLES\n  ucamctl enc map ses0\n");
    enc_show->footer(
        "\nThe bays: descriptor, disk name, model, serial, size or status with LEDs; then\n"
        "temperatures, fans, power supplies and voltages. Comes from the enclosure daemon's\n"
        "cache: no command is sent to the enclosure.\n\nEXAMPLES\n  ucamctl enc show\n"
        "  ucamctl --json enc show | jq '.[].slots[] | {descriptor, devices, physical_path}'\n");
    enc_status->footer(
        "\nOK, or the overall status bits set (INFO, NONCRITICAL, CRITICAL, UNRECOV, INVOP).\n"
        "Exit 1 unless every enclosure is OK; INFO alone counts as OK. For monitoring scripts.\n");
    enc_decode->footer(
        "\nDecodes whole SES diagnostic pages (configuration, status, element descriptors,\n"
        "additional element status...) from a capture, with no device. Input is sg_ses --inhex\n"
        "text (hex bytes, '#' comments) or binary with --raw. --json follows docs/ses-json.md.\n\n"
        "EXAMPLES\n  ucamctl enc decode examples/ses-testjbod4.hex\n");
  });

  int count = 0;
  double timeout_s = 0;
  std::vector<std::string> codes;
  auto* events = app.add_subcommand(
      "events",
      "Stream async events as they happen (devices found and lost, UNIT ATTENTIONs, physical\n"
      "paths, enclosure element and status changes): one line each, or JSON lines with --json");
  build_on_use(events, [&] {
    events->add_option("-n,--count", count, "Exit after N events")->check(CLI::PositiveNumber);
    events->add_option("-t,--timeout", timeout_s, "Exit after this many seconds")
        ->check(CLI::PositiveNumber);
    events->add_option("--codes", codes,
                       "Only these events, e.g. FoundDevice LostDevice ElementStatusChanged");
    events->footer(
        "\nEvents: FoundDevice, LostDevice, InquiryChanged, AdvinfoChanged (a physical path was\n"
        "published), UnitAttention, PathRegistered, PathDeregistered, BusReset, SentBdr,\n"
        "ElementStatusChanged, EnclosureStatusChanged, SlotDeviceChanged, ScsiAen (a command\n"
        "sent through a pass or sg node may have changed the device's state). Runs until --count\n"
        "events or --timeout seconds (exit 1 if --count was not reached), or until interrupted.\n"
        "With --json each event is one JSON object per line (docs/api.md, \"Events\").\n\n"
        "EXAMPLES\n  ucamctl events\n"
        "  ucamctl --json events --codes LostDevice FoundDevice | jq .\n");
  });

  auto* status = app.add_subcommand(
      "status", "ucamd's state: clients, handles, periph references, CCB counters");
  build_on_use(status, [&] {
    status->footer(
        "\nucamd's version, socket, clients and limits, handles opened and closed, live periphs,\n"
        "CCB counters, and each session's pid, uid, rights and handles. Every handle a client\n"
        "held is back when its session is gone.\n");
  });

  std::string method, params_text;
  auto* call = app.add_subcommand(
      "call", "Call any JSON-RPC method (docs/api.md) and print its result as JSON");
  build_on_use(call, [&] {
    call->add_option("method", method, "Method name, e.g. enc.map (ucamctl call rpc.methods)")
        ->required();
    call->add_option("params", params_text,
                     "Parameters as a JSON object, e.g. '{\"node\":\"pass0\"}'");
  });

  ChCommand ch_command(app);
  build_on_use(ch_command.command(), [&] { ch_command.build(); });

  std::string address, enc_name;
  int slot = 0;
  CLI::App *emu_remove = nullptr, *emu_insert = nullptr, *emu_pull = nullptr, *emu_put = nullptr;
  auto* emu = app.add_subcommand(
      "emu", "Drive the emulated hardware (hot-plug, disks in slots); needs the admin right");
  build_on_use(emu, [&] {
    emu->require_subcommand(1);
    emu_remove = emu->add_subcommand("remove-lun", "Hot-remove a LUN (scenario bus:target:lun)");
    emu_remove->add_option("lun", address, "bus:target:lun, scenario numbering")->required();
    emu_insert = emu->add_subcommand("insert-lun", "Re-insert a removed LUN");
    emu_insert->add_option("lun", address, "bus:target:lun, scenario numbering")->required();
    emu_pull = emu->add_subcommand("pull-disk", "Pull the disk out of an enclosure slot");
    emu_pull
        ->add_option("enclosure", enc_name, "Scenario enclosure name (see 'call emu.enclosures')")
        ->required();
    emu_pull->add_option("slot", slot, "Slot number, from 0")->required();
    emu_put = emu->add_subcommand("insert-disk", "Insert a scenario LUN into an empty slot");
    emu_put->add_option("enclosure", enc_name, "Scenario enclosure name")->required();
    emu_put->add_option("slot", slot, "Slot number, from 0")->required();
    emu_put->add_option("lun", address, "bus:target:lun, scenario numbering")->required();
    emu->footer(
        "\nOnly when the stack runs on the emulated SIM. Addresses use the scenario's numbering\n"
        "(bus index in the scenario file), enclosures their scenario names (ucamctl call\n"
        "emu.enclosures). Faults, sensors and whole buses: ucamctl call emu.* (docs/api.md).\n\n"
        "EXAMPLES\n  ucamctl emu pull-disk jbod4 0\n  ucamctl emu insert-disk jbod4 0 1:4:0\n"
        "  ucamctl emu remove-lun 0:3:0\n");
  });

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
  if (chosen(enc_decode)) {
    return cmd_enc_decode(opt, file, raw);  // Offline: no stack needed.
  }
  json cmd_params;
  if (cmd->parsed()) {
    auto p = command_params(dev, cargs);
    if (!p) {
      return report_error(p.error().message(), kExitUsage);
    }
    cmd_params = std::move(*p);
  }
  json call_params = json::object();
  if (call->parsed() && !params_text.empty()) {
    try {
      call_params = json::parse(params_text);
    } catch (const json::exception& e) {
      return report_error(fmt::format("params: not valid JSON: {}", e.what()), kExitUsage);
    }
  }
  json lun;
  if (chosen(emu_remove) || chosen(emu_insert) || chosen(emu_put)) {
    lun = lun_params(address);
    if (lun.is_null()) {
      return report_error("'" + address + "': expected bus:target:lun, e.g. 1:4:0", kExitUsage);
    }
  }

  std::unique_ptr<Client>& client = connection.client;
  if (!opt.in_process()) {
    auto connected = connect_daemon(opt.socket.empty() ? default_socket() : opt.socket);
    if (!connected) {
      return report_error(connected.error().message(),
                          connected.error().errno_value() == EINVAL ? kExitUsage : kExitNoDaemon);
    }
    client = std::move(*connected);
  } else {
    // A scenario that cannot be read or is wrong is bad input (2), whether the parser finds
    // the mistake or the SIM does when it starts, and so is a bad iSCSI URL; anything else
    // failing (no sg driver, a target that does not answer) is the stack's (1).
    std::vector<SimConfig> sims;
    if (!opt.emulate.empty()) {
      SimConfig emu;
      emu.scenario = opt.emulate;
      sims.push_back(std::move(emu));
    }
    if (!opt.sg.empty()) {
      SimConfig sg;
      sg.kind = SimConfig::Kind::Sg;
      if (std::find(opt.sg.begin(), opt.sg.end(), "") == opt.sg.end()) {
        sg.filter = opt.sg;
      }
      sims.push_back(std::move(sg));
    }
    for (const auto& url : opt.iscsi) {
      SimConfig iscsi;
      iscsi.kind = SimConfig::Kind::Iscsi;
      iscsi.url = url;
      sims.push_back(std::move(iscsi));
    }
    auto specs = make_specs(sims);
    if (!specs) {
      return report_error(specs.error().message(), kExitUsage);
    }
    std::string what;
    for (const auto& sim : sims) {
      what += (what.empty() ? "" : "; ") + describe(sim);
    }
    auto started = start_in_process(std::move(*specs), what);
    if (!started) {
      return report_error(started.error().message(),
                          started.error().errno_value() == EINVAL ? kExitUsage : kExitDeviceError);
    }
    client = std::move(*started);
    connection.teardown_matters = std::any_of(sims.begin(), sims.end(), [](const SimConfig& s) {
      return s.kind != SimConfig::Kind::Emu;
    });
  }
  Runner run{*client, opt};
  const json none = json::object();
  const json which = enclosure.empty() ? none : json{{"enclosure", enclosure}};

  if (devlist->parsed()) {
    // Streamed: on 100,000 LUNs the whole result as a tree was 100 MiB more.
    DevlistRenderer renderer(verbose);
    return run.show_each("devices.list", none, renderer,
                         [&](const json& r) { return render_devlist(r, verbose); });
  }
  if (inquiry->parsed()) {
    return run.show("device.inquiry", {{"device", dev}}, render_inquiry);
  }
  if (tur->parsed()) {
    auto r = run.call("device.tur", {{"device", dev}});
    if (!r) {
      return run.status;
    }
    std::cout << (opt.json ? r->dump(2) + "\n" : render_tur(*r));
    return (*r)["ok"].get<bool>() ? kExitOk : kExitDeviceError;
  }
  if (cmd->parsed()) {
    auto r = run.call("pass.command", cmd_params);
    if (!r) {
      return run.status;
    }
    std::cout << (opt.json ? r->dump(2) + "\n" : render_command(*r));
    return (*r)["ok"].get<bool>() ? kExitOk : kExitDeviceError;
  }
  if (chosen(pt_send) || chosen(pt_receive)) {
    const bool sending = chosen(pt_send);
    json params = {{"device", dev}, {"timeout_ms", pt_timeout_ms}};
    if (sending) {
      std::vector<std::uint8_t> bytes;
      if (pt_file_opt->count() > 0) {
        std::ifstream f(pt_file, std::ios::binary);
        if (!f) {
          return report_error(Error::from_errno(errno, "--file " + pt_file).message(), kExitUsage);
        }
        bytes.assign(std::istreambuf_iterator<char>(f), {});
      } else if (pt_hex_opt->count() > 0) {
        auto parsed = parse_hex(pt_hex, HexTokens::AllowRuns);
        if (!parsed) {
          return report_error(parsed.error().with_context("data").message(), kExitUsage);
        }
        bytes = std::move(*parsed);
      } else {
        return report_error("pt send: give the message in hex, or --file FILE (see --help)",
                            kExitUsage);
      }
      if (bytes.size() > 16'777'215U) {
        return report_error(fmt::format("pt send: a {}-byte message; SEND carries at most "
                                        "16777215 bytes (24-bit transfer length)",
                                        bytes.size()),
                            kExitUsage);
      }
      params["data"] = hex_string(bytes);
    } else {
      params["length"] = pt_length;
    }
    auto r = client->call(sending ? "pt.send" : "pt.receive", params);
    if (!r) {
      const int code = exit_for(r.error());
      report_error(r.error().message, code);
      if (static_cast<service::RpcCode>(r.error().code) == service::RpcCode::Busy &&
          r.error().message.find("already open") != std::string::npos) {
        std::fprintf(stderr,
                     "ucamctl: another client holds the pt node open (pt takes one opener at a\n"
                     "ucamctl: time); 'ucamctl status' lists the sessions and their handles\n");
      }
      return code;
    }
    std::cout << (opt.json ? r->dump(2) + "\n"
                           : (sending ? render_pt_send(*r) : render_pt_receive(*r)));
    return kExitOk;
  }
  if (ch_command.parsed()) {
    return ch_command.run(*client, opt.json, exit_for);
  }
  if (chosen(enc_list)) {
    return run.show("enc.list", none, render_enc_list);
  }
  if (chosen(enc_map)) {
    return run.show("enc.map", which, render_enc_map);
  }
  if (chosen(enc_show)) {
    return run.show("enc.show", which, render_enc_show);
  }
  if (chosen(enc_status)) {
    auto r = run.call("enc.status", which);
    if (!r) {
      return run.status;
    }
    std::cout << (opt.json ? r->dump(2) + "\n" : render_enc_status(*r));
    bool all_ok = !r->empty();
    for (const auto& e : *r) {
      all_ok = all_ok && e["ok"].get<bool>();
    }
    return all_ok ? kExitOk : kExitDeviceError;
  }
  if (chosen(enc_locate) || chosen(enc_fault)) {
    const bool fault = chosen(enc_fault);
    json params = {{"target", target}, {"kind", fault ? "fault" : "locate"}};
    if (!enclosure.empty()) {
      params["enclosure"] = enclosure;
    }
    if (!state.empty()) {
      params["state"] = state;
    }
    return run.show(state.empty() ? "enc.get_led" : "enc.set_led", params,
                    [&](const json& r) { return render_enc_led(r, fault); });
  }
  if (events->parsed()) {
    json params = json::object();
    if (!codes.empty()) {
      params["codes"] = codes;
    }
    if (!run.call("events.subscribe", params)) {
      return run.status;
    }
    const auto deadline =
        timeout_s > 0 ? std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000))
                      : std::chrono::steady_clock::time_point::max();
    int seen = 0;
    while (count == 0 || seen < count) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        break;
      }
      const auto wait = deadline == std::chrono::steady_clock::time_point::max()
                            ? std::chrono::milliseconds(3'600'000)
                            : std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      auto n = client->next_notification(wait);
      if (!n) {
        return report_error("lost the connection to ucamd", kExitNoDaemon);
      }
      if (!*n) {
        continue;
      }
      const json& message = **n;
      if (opt.json) {
        std::cout << (message.value("method", "") == "event" ? message["params"] : message).dump()
                  << "\n";
      } else {
        std::cout << render_event(message);
      }
      std::cout.flush();
      seen += message.value("method", "") == "event" ? 1 : 0;
    }
    return count > 0 && seen < count ? kExitDeviceError : kExitOk;
  }
  if (status->parsed()) {
    return run.show("daemon.status", none, render_status);
  }
  if (call->parsed()) {
    auto r = run.call(method, call_params);
    if (!r) {
      return run.status;
    }
    std::cout << r->dump(2) << "\n";
    return kExitOk;
  }
  auto done = [&](const char* what) {
    return [what](const json&) { return std::string(what) + "\n"; };
  };
  if (chosen(emu_remove)) {
    return run.show("emu.remove_lun", lun, done("removed"));
  }
  if (chosen(emu_insert)) {
    return run.show("emu.insert_lun", lun, done("inserted"));
  }
  if (chosen(emu_pull)) {
    return run.show("emu.pull_disk", {{"enclosure", enc_name}, {"slot", slot}}, done("pulled"));
  }
  if (chosen(emu_put)) {
    json p = lun;
    p["enclosure"] = enc_name;
    p["slot"] = slot;
    return run.show("emu.insert_disk", p, done("inserted"));
  }
  return kExitUsage;
}

}  // namespace ucam::cli

int main(int argc, char** argv) {
  ucam::tune_allocator();
  std::signal(SIGPIPE, SIG_IGN);
  ucam::cli::Connection connection;
  const int status = ucam::cli::main(argc, argv, connection);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // Sanitizer builds always tear down, so that the teardown stays checked (leaks, races).
  if (connection.client && !connection.teardown_matters) {
    std::cout.flush();
    std::fflush(nullptr);
    std::_Exit(status);
  }
#endif
  connection.client.reset();
  return status;
}
