// ucamd: the ucam system daemon. Hosts the stack (SIMs, XPT, periph drivers, device nodes) and
// serves it to processes over JSON-RPC on a Unix socket (docs/api.md); see docs/ucamd.md.
#include <fmt/format.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "base/log.h"
#include "daemon/config.h"
#include "daemon/metrics_http.h"
#include "daemon/server.h"
#include "service/service.h"
#include "stack/stack.h"

namespace ucam::daemon {
namespace {

constexpr const char* kDefaultConfig = "/etc/ucam/ucamd.json";
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // Could not start: socket, SIM, metrics port.
constexpr int kExitUsage = 2;    // Bad flags or configuration.

struct Flags {
  std::string config;
  std::optional<std::string> socket, scenario, metrics_listen, log_level, socket_group, admin_group;
  // --sg [FILTER] (repeatable: "" = every device) and --iscsi URL (repeatable).
  std::vector<std::string> sg, iscsi;
  bool check_config = false;
  bool version = false;
};

Result<DaemonConfig> effective_config(const Flags& flags) {
  DaemonConfig config;
  if (!flags.config.empty()) {
    auto c = load_config(flags.config);
    if (!c) {
      return fail(c.error());
    }
    config = std::move(*c);
  } else if (std::filesystem::exists(kDefaultConfig)) {
    auto c = load_config(kDefaultConfig);
    if (!c) {
      return fail(c.error());
    }
    config = std::move(*c);
  }
  // Flags win over the file; they are given to parse_config as a file of their own so that
  // they get the same checks.
  nlohmann::json overrides = nlohmann::json::object();
  auto put = [&](const char* key, const std::optional<std::string>& v) {
    if (v) {
      overrides[key] = *v;
    }
  };
  put("socket", flags.socket);
  // --emulate, --sg and --iscsi together replace the file's SIMs.
  if (flags.scenario || !flags.sg.empty() || !flags.iscsi.empty()) {
    nlohmann::json sims = nlohmann::json::array();
    if (flags.scenario) {
      sims.push_back({{"type", "emu"}, {"scenario", *flags.scenario}});
    }
    if (!flags.sg.empty()) {
      nlohmann::json filter = nlohmann::json::array();
      const bool all = std::find(flags.sg.begin(), flags.sg.end(), "") != flags.sg.end();
      for (const auto& f : flags.sg) {
        if (!all) {
          filter.push_back(f);
        }
      }
      sims.push_back({{"type", "sg"}, {"filter", filter}});
    }
    for (const auto& url : flags.iscsi) {
      sims.push_back({{"type", "iscsi"}, {"url", url}});
    }
    overrides["sims"] = sims;
  }
  put("metrics_listen", flags.metrics_listen);
  put("log_level", flags.log_level);
  put("socket_group", flags.socket_group);
  put("admin_group", flags.admin_group);
  return parse_config(overrides.dump(), "command line", std::move(config));
}

struct Access {
  std::optional<gid_t> socket_gid;
  service::AccessPolicy policy;
};

Result<Access> resolve_access(const DaemonConfig& c) {
  Access a;
  if (!c.socket_group.empty()) {
    auto g = group_id(c.socket_group);
    if (!g) {
      return fail(g.error().with_context("socket_group"));
    }
    a.socket_gid = *g;
  }
  a.policy.owner_uid = ::geteuid();
  if (!c.admin_group.empty()) {
    auto g = group_id(c.admin_group);
    if (!g) {
      return fail(g.error().with_context("admin_group"));
    }
    a.policy.admin_gids.push_back(*g);
    a.policy.admin_group_names = c.admin_group;
  }
  return a;
}

ServerLimits server_limits(const DaemonConfig& c) {
  ServerLimits l;
  l.max_clients = c.max_clients;
  l.max_clients_per_uid = c.max_clients_per_uid;
  l.reserved_admin_clients = c.reserved_admin_clients;
  l.max_request_bytes = c.max_request_bytes;
  l.max_queued_events = c.max_queued_events;
  return l;
}

service::ServiceLimits service_limits(const DaemonConfig& c) {
  service::ServiceLimits l;
  l.max_handles_per_session = c.max_handles_per_client;
  l.max_batch_requests = c.max_batch_requests;
  l.max_reply_bytes = c.max_reply_bytes;
  l.max_binary_bytes = c.max_binary_bytes;
  return l;
}

std::vector<std::string> sim_lines(const std::vector<SimConfig>& sims) {
  std::vector<std::string> out;
  out.reserve(sims.size());
  for (const auto& s : sims) {
    out.push_back(describe(s));
  }
  return out;
}

void notify(const std::string& state) {
  // A no-op unless started by systemd (or a test) with NOTIFY_SOCKET set.
  (void)sd_notify(0, state.c_str());
}

int run(const Flags& flags) {
  auto config = effective_config(flags);
  if (!config) {
    std::fprintf(stderr, "ucamd: %s\n", config.error().message().c_str());
    return kExitUsage;
  }
  auto access = resolve_access(*config);
  if (!access) {
    std::fprintf(stderr, "ucamd: %s\n", access.error().message().c_str());
    return kExitUsage;
  }
  if (flags.check_config) {
    std::cout << config_json(*config) << "\n";
    return kExitOk;
  }
  set_log_level(config->log_level);
  auto specs = make_specs(config->sims);
  if (!specs) {
    log_error("{}", specs.error().message());
    return kExitUsage;
  }
  StackOptions options;
  options.enc.poll_interval = config->enc_poll_interval;
  auto stack = Stack::create(std::move(*specs), options);
  if (!stack) {
    log_error("starting the SIMs: {}", stack.error().message());
    // EINVAL: a scenario is inconsistent (found when the SIM starts), or an iSCSI setting is
    // wrong: a configuration error. Anything else (no sg driver, a target that does not
    // answer) is a failure to start.
    return stack.error().errno_value() == EINVAL ? kExitUsage : kExitFailure;
  }
  service::Service service(**stack, access->policy, service_limits(*config));
  // Make the socket's directory (/run/ucam) if it is missing; systemd makes it for the unit.
  const auto dir = std::filesystem::path(config->socket).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      log_error("creating {}: {}", dir.string(), ec.message());
      return kExitFailure;
    }
    ::chmod(dir.c_str(), 0755);
  }
  auto server = Server::create(service, {config->socket, config->socket_mode, access->socket_gid},
                               server_limits(*config));
  if (!server) {
    log_error("{}", server.error().message());
    return kExitFailure;
  }
  std::unique_ptr<MetricsHttp> metrics;
  if (!config->metrics_listen.empty()) {
    auto m = MetricsHttp::create(service, config->metrics_listen);
    if (!m) {
      log_error("{}", m.error().message());
      return kExitFailure;
    }
    metrics = std::move(*m);
  }
  std::mutex state_lock;  // Guards config, metrics address, reloads (read by the status hook).
  std::uint64_t reloads = 0;
  const auto started = std::chrono::system_clock::now();
  service.set_status_hook([&](nlohmann::json& out) {
    std::lock_guard lock(state_lock);
    out["daemon"] = {
        {"version", UCAM_VERSION},
        {"pid", ::getpid()},
        {"socket", (*server)->path()},
        {"config_file", flags.config},
        {"reloads", reloads},
        {"clients", (*server)->clients()},
        {"clients_refused", (*server)->clients_refused()},
        {"clients_backlogged", (*server)->clients_backlogged()},
        {"workers", (*server)->workers()},
        {"max_clients", config->max_clients},
        {"max_clients_per_uid", config->max_clients_per_uid},
        {"reserved_admin_clients", config->reserved_admin_clients},
        {"max_handles_per_client", config->max_handles_per_client},
        {"max_request_bytes", config->max_request_bytes},
        {"max_batch_requests", config->max_batch_requests},
        {"max_reply_bytes", config->max_reply_bytes},
        {"max_binary_bytes", config->max_binary_bytes},
        {"metrics_listen", metrics ? nlohmann::json(metrics->address()) : nlohmann::json()},
        {"sims", sim_lines(config->sims)},
        {"started", std::chrono::duration<double>(started.time_since_epoch()).count()}};
  });
  const auto devices = (*stack)->xpt().devices().size();
  log_info("ucamd {}: {} devices on {}; serving {}", UCAM_VERSION, devices,
           config->sims.empty() ? std::string("no SIM")
                                : fmt::format("{}", fmt::join(sim_lines(config->sims), "; ")),
           config->socket);
  notify(fmt::format("READY=1\nSTATUS=serving {} devices on {}", devices, config->socket));

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  while (true) {
    const int sig = sigwaitinfo(&set, nullptr);
    if (sig == SIGHUP) {
      notify("RELOADING=1");
      auto fresh = effective_config(flags);
      auto fresh_access = fresh ? resolve_access(*fresh) : Result<Access>(fail(fresh.error()));
      if (!fresh || !fresh_access) {
        log_error("reload: {}; keeping the running configuration",
                  (!fresh ? fresh.error() : fresh_access.error()).message());
        notify("READY=1");
        continue;
      }
      set_log_level(fresh->log_level);
      service.set_policy(fresh_access->policy);
      service.set_limits(service_limits(*fresh));
      (*server)->set_limits(server_limits(*fresh));
      if (auto r = (*server)->set_socket_access(fresh->socket_mode, fresh_access->socket_gid); !r) {
        log_error("reload: {}", r.error().message());
      }
      std::unique_ptr<MetricsHttp> old_metrics;
      std::unique_ptr<MetricsHttp> new_metrics;
      if (fresh->metrics_listen != config->metrics_listen && !fresh->metrics_listen.empty()) {
        // Free the old port first when the new address may be the same one.
        {
          std::lock_guard lock(state_lock);
          old_metrics = std::move(metrics);
        }
        old_metrics.reset();
        auto m = MetricsHttp::create(service, fresh->metrics_listen);
        if (!m) {
          log_error("reload: {}", m.error().message());
        } else {
          new_metrics = std::move(*m);
        }
      }
      for (const auto& [name, changed] :
           {std::pair<const char*, bool>{"socket", fresh->socket != config->socket},
            {"sims", fresh->sims != config->sims},
            {"enc_poll_interval_ms", fresh->enc_poll_interval != config->enc_poll_interval}}) {
        if (changed) {
          log_warning("reload: '{}' changed; it takes effect when ucamd restarts", name);
        }
      }
      {
        // What a reload cannot change stays as it is (warned about above).
        DaemonConfig applied = *fresh;
        applied.socket = config->socket;
        applied.sims = config->sims;
        applied.enc_poll_interval = config->enc_poll_interval;
        std::lock_guard lock(state_lock);
        if (applied.metrics_listen.empty()) {
          old_metrics = std::move(metrics);
        } else if (new_metrics) {
          metrics = std::move(new_metrics);
        }
        *config = std::move(applied);
        ++reloads;
      }
      old_metrics.reset();
      log_info("reloaded the configuration{}",
               flags.config.empty() ? "" : fmt::format(" from {}", flags.config));
      notify("READY=1");
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      log_info("{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
  }
  notify("STOPPING=1");
  (*server)->stop();  // No new clients; each finishes the request it is running.
  std::size_t running = (*server)->wait(config->shutdown_grace);
  if (running > 0) {
    log_warning("{} client(s) still inside a command after {} ms: aborting their commands", running,
                config->shutdown_grace.count());
    (*stack)->stop_sims();  // Held commands complete with DevNotThere; node calls return.
    running = (*server)->wait(std::chrono::seconds(5));
  }
  (*server)->disconnect_all();
  running = (*server)->wait(std::chrono::seconds(5));
  if (running > 0) {
    log_error("{} client session(s) did not finish", running);
  }
  {
    // The metrics thread reads `metrics` in the status hook, under state_lock.
    std::unique_ptr<MetricsHttp> stopping;
    {
      std::lock_guard lock(state_lock);
      stopping = std::move(metrics);
    }
  }
  server->reset();
  service.set_status_hook(nullptr);
  const auto st = service.status();
  log_info("stopped: {} handle(s) opened and {} closed by clients; {} devfs opens remain",
           st["handles_opened_total"].get<std::uint64_t>(),
           st["handles_closed_total"].get<std::uint64_t>(),
           st["devfs"]["opens"].get<std::uint64_t>());
  return kExitOk;
}

}  // namespace
}  // namespace ucam::daemon

int main(int argc, char** argv) {
  using ucam::daemon::Flags;
  // Signals are taken synchronously by the main thread: block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "ucamd - the ucam daemon: serves SCSI device nodes, enclosure services, events and\n"
      "metrics to processes over JSON-RPC 2.0 on a Unix socket (newline-delimited JSON).\n\n"
      "Configuration comes from --config FILE (default /etc/ucam/ucamd.json when it exists),\n"
      "then from the flags below. The SIMs (transports) it hosts are the file's \"sims\" list;\n"
      "--emulate, --sg and --iscsi, when given, replace that list. SIGHUP re-reads it (access, "
      "limits, log level, metrics);\n"
      "SIGTERM shuts down cleanly: no new clients, in-flight commands finish within\n"
      "shutdown_grace_ms or are aborted, every handle is closed. With NOTIFY_SOCKET set\n"
      "(systemd Type=notify) it reports READY=1, RELOADING=1 and STOPPING=1.\n\n"
      "Rights: any user who can connect (socket mode 0660, socket_group) may read: devices,\n"
      "status, enclosure maps, events. Changing anything (LEDs, element control, raw CDBs,\n"
      "rescans, fault injection) needs root, the daemon's own user, or admin_group.",
      "ucamd"};
  app.footer(
      "\nEXAMPLES\n"
      "  ucamd --socket /tmp/ucamd.sock --emulate builtin:jbod-24\n"
      "  ucamd --sg                 # every SCSI device of this machine\n"
      "  ucamd --sg=mpt3sas --iscsi iscsi://192.0.2.7/iqn.2004-04.com.example:lib0\n"
      "  ucamd --config /etc/ucam/ucamd.json --metrics-listen 127.0.0.1:9477\n"
      "  ucamd --check-config --config /etc/ucam/ucamd.json\n\n"
      "EXIT STATUS\n"
      "  0  clean shutdown (or --check-config / --version)\n"
      "  1  could not start: the socket, the SIM or the metrics port failed\n"
      "  2  bad flags or configuration\n\n"
      "SEE ALSO\n  ucamctl(8), docs/ucamd.md, docs/api.md, dist/ucamd.service\n");
  Flags flags;
  app.add_option("-c,--config", flags.config, "Configuration file (JSON; see docs/ucamd.md)")
      ->check(CLI::ExistingFile);
  app.add_option("--socket", flags.socket, "Unix socket path (default /run/ucam/ucamd.sock)");
  app.add_option("--emulate", flags.scenario,
                 "Host the emulated SIM on this scenario: a JSON file or builtin:NAME "
                 "(default, when no SIM is configured: builtin:default)");
  app.add_option("--sg", flags.sg,
                 "Host the Linux SG_IO SIM (real devices through /dev/sg*). FILTER selects\n"
                 "devices: an sg name (sg3), H:C:T:L, hostN or a host driver (mpt3sas);\n"
                 "repeat it to select several; without FILTER every device. Write --sg=FILTER\n"
                 "when a positional argument follows")
      ->expected(0, 1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--iscsi", flags.iscsi,
                 "Host the iSCSI SIM on a target: iscsi://[USER[%SECRET]@]HOST[:PORT]/IQN\n"
                 "(repeatable). Put secrets in the configuration file, not on the command line")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "Serve Prometheus metrics on ADDRESS:PORT, e.g. 127.0.0.1:9477 (default: off)");
  app.add_option("--log-level", flags.log_level, "debug, info (default), warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  app.add_option("--socket-group", flags.socket_group, "Group owning the socket (read access)");
  app.add_option("--admin-group", flags.admin_group,
                 "Group whose members may change things (besides root)");
  app.add_flag("--check-config", flags.check_config,
               "Print the effective configuration as JSON and exit");
  app.add_flag("--version", flags.version, "Print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (flags.version) {
    std::cout << "ucamd " << UCAM_VERSION << "\n";
    return 0;
  }
  return ucam::daemon::run(flags);
}
