#include "daemon/config.h"

#include <fmt/format.h>
#include <grp.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace ucam::daemon {

using nlohmann::json;

namespace {

std::string_view level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Error:
      return "error";
    case LogLevel::Off:
      return "off";
  }
  return "info";
}

// An integer limit key: its field and range.
struct CountKey {
  std::size_t* field = nullptr;
  std::uint64_t min = 1;
  std::uint64_t max = 1'000'000;
};

std::optional<CountKey> count_key(DaemonConfig& c, std::string_view key) {
  const std::pair<std::string_view, CountKey> keys[] = {
      {"max_clients", {&c.max_clients}},
      {"max_clients_per_uid", {&c.max_clients_per_uid}},
      {"reserved_admin_clients", {&c.reserved_admin_clients, 0}},
      {"max_handles_per_client", {&c.max_handles_per_client}},
      {"max_request_bytes", {&c.max_request_bytes, 256, 64ULL << 20}},
      {"max_batch_requests", {&c.max_batch_requests, 1, 100'000}},
      {"max_reply_bytes", {&c.max_reply_bytes, 4096, 1ULL << 30}},
      {"max_queued_events", {&c.max_queued_events}}};
  for (const auto& [name, count] : keys) {
    if (name == key) {
      return count;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::pair<std::string, int>> parse_listen(std::string_view listen) {
  std::string_view host, port;
  if (listen.starts_with('[')) {
    const auto close = listen.find("]:");
    if (close == std::string_view::npos) {
      return fail_invalid(fmt::format("'{}': expected [ADDRESS]:PORT", listen));
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return fail_invalid(fmt::format("'{}': expected ADDRESS:PORT, e.g. 127.0.0.1:9477", listen));
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  int p = -1;
  auto r = std::from_chars(port.data(), port.data() + port.size(), p);
  if (host.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() || p < 0 ||
      p > 65535) {
    return fail_invalid(fmt::format("'{}': expected ADDRESS:PORT with a port 0..65535", listen));
  }
  return std::pair<std::string, int>(std::string(host), p);
}

Result<gid_t> group_id(const std::string& group) {
  gid_t gid = 0;
  auto r = std::from_chars(group.data(), group.data() + group.size(), gid);
  if (r.ec == std::errc() && r.ptr == group.data() + group.size()) {
    return gid;
  }
  struct group grp {};
  struct group* found = nullptr;
  std::vector<char> buf(16384);
  const int e = getgrnam_r(group.c_str(), &grp, buf.data(), buf.size(), &found);
  if (e != 0 || found == nullptr) {
    return fail(Error::described(e != 0 ? e : ENOENT, fmt::format("no such group '{}'", group)));
  }
  return found->gr_gid;
}

Result<DaemonConfig> parse_config(std::string_view text, std::string_view origin,
                                  DaemonConfig base) {
  DaemonConfig c = std::move(base);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return fail_invalid(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  if (!j.is_object()) {
    return fail_invalid(fmt::format("{}: expected a JSON object at the top", origin));
  }
  auto bad = [&](const std::string& key, std::string_view what) {
    return Error::invalid(fmt::format("{}: {}: {}", origin, key, what));
  };
  auto get_string = [&](const json& v, const std::string& key) -> Result<std::string> {
    if (!v.is_string()) {
      return fail(bad(key, fmt::format("expected a string, got {}", v.type_name())));
    }
    return v.get<std::string>();
  };
  auto get_count = [&](const json& v, const std::string& key, std::uint64_t min,
                       std::uint64_t max) -> Result<std::uint64_t> {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() < min || v.get<std::uint64_t>() > max) {
      return fail(bad(key, fmt::format("expected an integer {}..{}, got {}", min, max, v.dump())));
    }
    return v.get<std::uint64_t>();
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "socket") {
      auto s = get_string(v, key);
      if (!s) {
        return fail(s.error());
      }
      if (s->empty() || s->size() >= 108) {
        return fail(bad(key, "a socket path is 1 to 107 bytes"));
      }
      c.socket = *s;
    } else if (key == "socket_mode") {
      auto s = get_string(v, key);
      if (!s) {
        return fail(s.error());
      }
      unsigned mode = 0;
      auto r = std::from_chars(s->data(), s->data() + s->size(), mode, 8);
      if (s->empty() || r.ec != std::errc() || r.ptr != s->data() + s->size() || mode > 0777) {
        return fail(bad(key, "expected an octal mode such as \"0660\""));
      }
      c.socket_mode = static_cast<mode_t>(mode);
    } else if (key == "socket_group" || key == "admin_group" || key == "metrics_listen" ||
               key == "scenario") {
      std::string& field = key == "socket_group"     ? c.socket_group
                           : key == "admin_group"    ? c.admin_group
                           : key == "metrics_listen" ? c.metrics_listen
                                                     : c.scenario;
      if (v.is_null()) {
        if (key != "scenario") {
          field.clear();  // null: off / the default group. A scenario has no "off".
        }
        continue;
      }
      auto s = get_string(v, key);
      if (!s) {
        return fail(s.error());
      }
      if (key == "metrics_listen" && !s->empty()) {
        if (auto l = parse_listen(*s); !l) {
          return fail(bad(key, l.error().message()));
        }
      }
      field = *s;
    } else if (key == "log_level") {
      auto s = get_string(v, key);
      if (!s) {
        return fail(s.error());
      }
      if (*s == "debug") {
        c.log_level = LogLevel::Debug;
      } else if (*s == "info") {
        c.log_level = LogLevel::Info;
      } else if (*s == "warning") {
        c.log_level = LogLevel::Warning;
      } else if (*s == "error") {
        c.log_level = LogLevel::Error;
      } else {
        return fail(bad(key, "expected debug, info, warning or error"));
      }
    } else if (const auto count = count_key(c, key)) {
      auto n = get_count(v, key, count->min, count->max);
      if (!n) {
        return fail(n.error());
      }
      *count->field = *n;
    } else if (key == "enc_poll_interval_ms" || key == "shutdown_grace_ms") {
      auto n = get_count(v, key, key == "enc_poll_interval_ms" ? 100 : 0, 86'400'000);
      if (!n) {
        return fail(n.error());
      }
      (key == "enc_poll_interval_ms" ? c.enc_poll_interval : c.shutdown_grace) =
          std::chrono::milliseconds(*n);
    } else {
      return fail(bad(key, "unknown key (see docs/ucamd.md)"));
    }
  }
  if (c.reserved_admin_clients >= c.max_clients) {
    return fail(bad("reserved_admin_clients",
                    fmt::format("{} must be below max_clients ({}), or users without the admin "
                                "right could never connect",
                                c.reserved_admin_clients, c.max_clients)));
  }
  return c;
}

Result<DaemonConfig> load_config(const std::string& path, DaemonConfig base) {
  std::ifstream f(path);
  if (!f) {
    return fail(Error::from_errno(errno, path));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config(ss.str(), path, std::move(base));
}

std::string config_json(const DaemonConfig& c) {
  json j = {{"socket", c.socket},
            {"socket_mode", fmt::format("{:04o}", c.socket_mode)},
            {"socket_group", c.socket_group.empty() ? json() : json(c.socket_group)},
            {"admin_group", c.admin_group.empty() ? json() : json(c.admin_group)},
            {"log_level", level_name(c.log_level)},
            {"max_clients", c.max_clients},
            {"max_clients_per_uid", c.max_clients_per_uid},
            {"reserved_admin_clients", c.reserved_admin_clients},
            {"max_handles_per_client", c.max_handles_per_client},
            {"max_request_bytes", c.max_request_bytes},
            {"max_batch_requests", c.max_batch_requests},
            {"max_reply_bytes", c.max_reply_bytes},
            {"max_queued_events", c.max_queued_events},
            {"metrics_listen", c.metrics_listen.empty() ? json() : json(c.metrics_listen)},
            {"scenario", c.scenario},
            {"enc_poll_interval_ms", c.enc_poll_interval.count()},
            {"shutdown_grace_ms", c.shutdown_grace.count()}};
  return j.dump(2);
}

}  // namespace ucam::daemon
