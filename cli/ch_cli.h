// ucamctl ch: medium changers, chio(1)'s commands and mtx's verbs on top of the ch.* methods.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/client.h"

namespace ucam::cli {

class ChCommand {
 public:
  // Adds the `ch` command to `app`; build() adds its options and subcommands (ucamctl does so
  // only when the command line names `ch`). `app` must outlast this object.
  explicit ChCommand(CLI::App& app);
  CLI::App* command() const { return m_ch; }
  void build();
  // Whether `ch` was given on the command line (after app.parse()).
  bool parsed() const;
  // Runs the parsed subcommand. `exit_for` maps an RPC error to ucamctl's exit status; returns
  // the exit status.
  int run(Client& client, bool json_output,
          const std::function<int(const service::RpcError&)>& exit_for);

 private:
  CLI::App* m_ch = nullptr;
  CLI::App *m_status = nullptr, *m_move = nullptr, *m_exchange = nullptr, *m_position = nullptr,
           *m_params = nullptr, *m_init = nullptr, *m_inventory = nullptr, *m_load = nullptr,
           *m_unload = nullptr, *m_transfer = nullptr, *m_picker = nullptr, *m_setvoltag = nullptr,
           *m_find = nullptr;
  std::string m_device;
  bool m_verbose = false;
  bool m_alternate = false, m_force = false, m_clear = false;
  std::optional<int> m_sequence;
  std::string m_type;
  std::vector<std::string> m_args;
  std::vector<int> m_numbers;
};

}  // namespace ucam::cli
