// ucamd's configuration: a JSON file (default /etc/ucam/ucamd.json; docs/ucamd.md lists every
// key), then command-line flags on top. Parsing is pure and strict: an unknown key, a wrong
// type or a value out of range is an error naming the file and the key.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "stack/transport.h"

namespace ucam::daemon {

struct DaemonConfig {
  std::string socket = "/run/ucam/ucamd.sock";
  mode_t socket_mode = 0660;
  std::string socket_group;  // "" = the daemon's own group.
  std::string admin_group;   // "" = only root and the daemon's own user may change things.
  LogLevel log_level = LogLevel::Info;
  std::size_t max_clients = 1024;
  std::size_t max_clients_per_uid = 32;    // Per user without the admin right.
  std::size_t reserved_admin_clients = 8;  // Of max_clients, kept for admin sessions.
  std::size_t max_handles_per_client = 1024;
  std::size_t max_request_bytes = 1024 * 1024;
  std::size_t max_batch_requests = 64;              // Requests in one batch (one line).
  std::size_t max_reply_bytes = 64 * 1024 * 1024;   // Of one reply line (a request or batch).
  std::size_t max_binary_bytes = 64 * 1024 * 1024;  // Binary data of one request or reply.
  std::size_t max_queued_events = 10'000;  // Per subscriber; beyond that, events are dropped
                                           // and counted in an "events.lost" notification.
  std::string metrics_listen;              // "" = off; "127.0.0.1:9477", "[::1]:9477".
  // The transports ucamd hosts ("sims"; the older "scenario" key is one emulated SIM).
  std::vector<SimConfig> sims{SimConfig{}};
  std::chrono::milliseconds enc_poll_interval{60'000};
  std::chrono::milliseconds shutdown_grace{10'000};  // In-flight commands get this long.
};

// Parses a config file's text; `origin` names it in errors. Keys not given keep the defaults.
Result<DaemonConfig> parse_config(std::string_view text, std::string_view origin,
                                  DaemonConfig base = {});
Result<DaemonConfig> load_config(const std::string& path, DaemonConfig base = {});

// The effective configuration, as JSON in the file's format (ucamd --check-config). CHAP
// secrets are shown as "********".
std::string config_json(const DaemonConfig& config);

// "127.0.0.1:9477" / "[::1]:9477" / "localhost:9477" -> host and port.
Result<std::pair<std::string, int>> parse_listen(std::string_view listen);

// A group name or number -> gid.
Result<gid_t> group_id(const std::string& group);

}  // namespace ucam::daemon
