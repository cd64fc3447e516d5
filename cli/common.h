// Shared pieces of ucamctl's commands.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"
#include "stack/stack.h"

namespace ucam::cli {

// Exit codes (documented in --help and the README).
constexpr int kExitOk = 0;
constexpr int kExitDeviceError = 1;  // The command ran and the device or transport said no,
                                     // or (enc status) an enclosure is not OK.
constexpr int kExitUsage = 2;        // Bad arguments, bad hex, bad scenario file.
constexpr int kExitNoDevice = 3;     // No such device.

struct Options {
  std::string emulate = "builtin:default";
  bool json = false;
  std::string log_level = "warning";
};

inline int report(const Error& e, int code) {
  std::fprintf(stderr, "ucamctl: %s\n", e.message().c_str());
  return code;
}

// Arguments of the enc subcommands.
struct EncArgs {
  std::string enclosure;  // "" = every enclosure
  std::string target;     // locate/fault: disk name, sesN:ELEMENT, or "all"
  std::string state;      // on | off | "" (read back)
  std::string file;       // decode
  bool raw = false;       // decode: binary input
};

int cmd_enc_list(Stack& stack, const Options& opt);
int cmd_enc_map(Stack& stack, const Options& opt, const EncArgs& args);
int cmd_enc_show(Stack& stack, const Options& opt, const EncArgs& args);
int cmd_enc_status(Stack& stack, const Options& opt, const EncArgs& args);
int cmd_enc_led(Stack& stack, const Options& opt, const EncArgs& args, bool fault);
int cmd_enc_decode(const Options& opt, const EncArgs& args);

}  // namespace ucam::cli
