#include "daemon/config.h"

#include <fmt/format.h>
#include <grp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "sims/iscsi/url.h"

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

constexpr std::size_t kMaxSims = 64;

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
      {"max_binary_bytes", {&c.max_binary_bytes, 4096, 1ULL << 30}},
      {"max_queued_events", {&c.max_queued_events}}};
  for (const auto& [name, count] : keys) {
    if (name == key) {
      return count;
    }
  }
  return std::nullopt;
}

// One entry of "sims": {"type": "emu"|"sg"|"iscsi", ...}; `where` is "sims[2]".
Result<SimConfig> parse_sim(const json& v, const std::string& where,
                            const std::function<Error(const std::string&, std::string_view)>& bad) {
  if (!v.is_object()) {
    return fail(bad(where, fmt::format("expected an object such as {{\"type\": \"sg\"}}, got {}",
                                       v.type_name())));
  }
  SimConfig c;
  const auto type = v.find("type");
  if (type == v.end() || !type->is_string()) {
    return fail(bad(where + ".type", "required: \"emu\", \"sg\" or \"iscsi\""));
  }
  const auto t = type->get<std::string>();
  std::vector<std::string_view> keys;
  if (t == "emu") {
    c.kind = SimConfig::Kind::Emu;
    keys = {"scenario"};
  } else if (t == "sg") {
    c.kind = SimConfig::Kind::Sg;
    keys = {"filter", "sysfs_root", "dev_root"};
  } else if (t == "iscsi") {
    c.kind = SimConfig::Kind::Iscsi;
    keys = {"url",
            "initiator_name",
            "chap_user",
            "chap_secret",
            "target_chap_user",
            "target_chap_secret",
            "login_timeout_ms",
            "loss_timeout_ms",
            "header_digest"};
  } else {
    return fail(
        bad(where + ".type", fmt::format("unknown SIM type '{}': expected emu, sg or iscsi", t)));
  }
  for (const auto& [key, value] : v.items()) {
    if (key == "type") {
      continue;
    }
    const std::string name = where + "." + key;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return fail(bad(
          name, fmt::format("not a key of a '{}' SIM (it takes: {})", t, fmt::join(keys, ", "))));
    }
    if (key == "filter") {
      // A string or a list of strings; each selects devices (sg name, H:C:T:L, hostN, driver).
      const json items = value.is_array() ? value : json::array({value});
      for (const auto& item : items) {
        if (!item.is_string() || item.get<std::string>().empty()) {
          return fail(bad(name,
                          "expected a non-empty string or a list of them (\"sg3\", "
                          "\"0:0:1:0\", \"host2\", \"scsi_debug\")"));
        }
        c.filter.push_back(item.get<std::string>());
      }
      continue;
    }
    if (key == "login_timeout_ms" || key == "loss_timeout_ms") {
      const std::uint64_t min = key == "login_timeout_ms" ? 100 : 0;
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() < min ||
          value.get<std::uint64_t>() > 86'400'000) {
        return fail(bad(name, fmt::format("expected an integer {}..86400000 (milliseconds)", min)));
      }
      (key == "login_timeout_ms" ? c.login_timeout : c.loss_timeout) =
          std::chrono::milliseconds(value.get<std::uint64_t>());
      continue;
    }
    if (!value.is_string()) {
      return fail(bad(name, fmt::format("expected a string, got {}", value.type_name())));
    }
    const auto s = value.get<std::string>();
    if (key == "header_digest") {
      if (s != "none" && s != "crc32c") {
        return fail(bad(name, "expected \"none\" or \"crc32c\""));
      }
      c.header_digest_crc32c = s == "crc32c";
    } else if (key == "scenario") {
      c.scenario = s;
    } else if (key == "sysfs_root") {
      c.sysfs_root = s;
    } else if (key == "dev_root") {
      c.dev_root = s;
    } else if (key == "url") {
      if (auto url = iscsi::parse_url(s); !url) {
        return fail(bad(name, url.error().message()));  // Never holds the password.
      }
      c.url = s;
    } else if (key == "initiator_name") {
      c.initiator_name = s;
    } else if (key == "chap_user") {
      c.chap_user = s;
    } else if (key == "chap_secret") {
      c.chap_secret = s;
    } else if (key == "target_chap_user") {
      c.target_chap_user = s;
    } else if (key == "target_chap_secret") {
      c.target_chap_secret = s;
    }
  }
  if (c.kind == SimConfig::Kind::Iscsi && c.url.empty()) {
    return fail(bad(where + ".url", "required for an iscsi SIM (iscsi://HOST[:PORT]/TARGET-IQN)"));
  }
  if (c.kind == SimConfig::Kind::Emu && c.scenario.empty()) {
    return fail(bad(where + ".scenario", "a file or builtin:NAME"));
  }
  return c;
}

json sim_json(const SimConfig& c) {
  json j = {{"type", kind_name(c.kind)}};
  const auto secret = [](const std::string& s) { return s.empty() ? json() : json("********"); };
  switch (c.kind) {
    case SimConfig::Kind::Emu:
      j["scenario"] = c.scenario;
      break;
    case SimConfig::Kind::Sg:
      j["filter"] = c.filter;
      j["sysfs_root"] = c.sysfs_root;
      j["dev_root"] = c.dev_root;
      break;
    case SimConfig::Kind::Iscsi: {
      auto url = iscsi::parse_url(c.url);
      j["url"] = url ? url->redacted() : std::string();
      if (!c.initiator_name.empty()) {
        j["initiator_name"] = c.initiator_name;
      }
      for (const auto& [key, value] :
           {std::pair<const char*, const std::string*>{"chap_user", &c.chap_user},
            {"target_chap_user", &c.target_chap_user}}) {
        if (!value->empty()) {
          j[key] = *value;
        }
      }
      for (const auto& [key, value] :
           {std::pair<const char*, const std::string*>{"chap_secret", &c.chap_secret},
            {"target_chap_secret", &c.target_chap_secret}}) {
        if (!value->empty()) {
          j[key] = secret(*value);
        }
      }
      if (c.login_timeout) {
        j["login_timeout_ms"] = c.login_timeout->count();
      }
      if (c.loss_timeout) {
        j["loss_timeout_ms"] = c.loss_timeout->count();
      }
      j["header_digest"] = c.header_digest_crc32c ? "crc32c" : "none";
      break;
    }
  }
  return j;
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
      UCAM_TRY_ASSIGN(auto s, get_string(v, key));
      if (s.empty() || s.size() >= 108) {
        return fail(bad(key, "a socket path is 1 to 107 bytes"));
      }
      c.socket = s;
    } else if (key == "socket_mode") {
      UCAM_TRY_ASSIGN(auto s, get_string(v, key));
      unsigned mode = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), mode, 8);
      if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || mode > 0777) {
        return fail(bad(key, "expected an octal mode such as \"0660\""));
      }
      c.socket_mode = static_cast<mode_t>(mode);
    } else if (key == "sims") {
      if (j.contains("scenario")) {
        return fail(bad(key, "give \"sims\" or the older \"scenario\", not both"));
      }
      if (!v.is_array()) {
        return fail(bad(key, fmt::format("expected a list of SIMs, got {}", v.type_name())));
      }
      if (v.size() > kMaxSims) {
        return fail(bad(key, fmt::format("at most {} SIMs", kMaxSims)));
      }
      std::vector<SimConfig> sims;
      for (std::size_t i = 0; i < v.size(); ++i) {
        UCAM_TRY_ASSIGN(auto sim, parse_sim(v[i], fmt::format("sims[{}]", i), bad));
        sims.push_back(std::move(sim));
      }
      if (std::count_if(sims.begin(), sims.end(),
                        [](const SimConfig& s) { return s.kind == SimConfig::Kind::Emu; }) > 1) {
        return fail(bad(key, "at most one emulated SIM (type emu)"));
      }
      c.sims = std::move(sims);
    } else if (key == "scenario") {
      // The older form of {"sims": [{"type": "emu", "scenario": ...}]}.
      UCAM_TRY_ASSIGN(auto s, get_string(v, key));
      if (s.empty()) {
        return fail(bad(key, "a file or builtin:NAME"));
      }
      SimConfig sim;
      sim.scenario = s;
      c.sims = {std::move(sim)};
    } else if (key == "socket_group" || key == "admin_group" || key == "metrics_listen") {
      std::string& field = key == "socket_group"  ? c.socket_group
                           : key == "admin_group" ? c.admin_group
                                                  : c.metrics_listen;
      if (v.is_null()) {
        field.clear();  // null: off / the default group.
        continue;
      }
      UCAM_TRY_ASSIGN(auto s, get_string(v, key));
      if (key == "metrics_listen" && !s.empty()) {
        if (auto l = parse_listen(s); !l) {
          return fail(bad(key, l.error().message()));
        }
      }
      field = s;
    } else if (key == "log_level") {
      UCAM_TRY_ASSIGN(auto s, get_string(v, key));
      if (s == "debug") {
        c.log_level = LogLevel::Debug;
      } else if (s == "info") {
        c.log_level = LogLevel::Info;
      } else if (s == "warning") {
        c.log_level = LogLevel::Warning;
      } else if (s == "error") {
        c.log_level = LogLevel::Error;
      } else {
        return fail(bad(key, "expected debug, info, warning or error"));
      }
    } else if (const auto count = count_key(c, key)) {
      UCAM_TRY_ASSIGN(auto n, get_count(v, key, count->min, count->max));
      *count->field = n;
    } else if (key == "enc_poll_interval_ms" || key == "shutdown_grace_ms") {
      UCAM_TRY_ASSIGN(auto n,
                      get_count(v, key, key == "enc_poll_interval_ms" ? 100 : 0, 86'400'000));
      (key == "enc_poll_interval_ms" ? c.enc_poll_interval : c.shutdown_grace) =
          std::chrono::milliseconds(n);
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
  json sims = json::array();
  for (const auto& sim : c.sims) {
    sims.push_back(sim_json(sim));
  }
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
            {"max_binary_bytes", c.max_binary_bytes},
            {"max_queued_events", c.max_queued_events},
            {"metrics_listen", c.metrics_listen.empty() ? json() : json(c.metrics_listen)},
            {"sims", sims},
            {"enc_poll_interval_ms", c.enc_poll_interval.count()},
            {"shutdown_grace_ms", c.shutdown_grace.count()}};
  return j.dump(2);
}

}  // namespace ucam::daemon
