#include "sims/iscsi/url.h"

#include <fmt/format.h>

#include <charconv>

#include "base/hex.h"

namespace ucam::iscsi {
namespace {

constexpr std::string_view kScheme = "iscsi://";

// The URL as a user may see it in an error: credentials replaced, so a secret never reaches a
// log or a terminal.
std::string echo(std::string_view text) {
  if (!text.starts_with(kScheme)) {
    return "the URL";  // Not ours to guess where a secret could be.
  }
  const std::string_view rest = text.substr(kScheme.size());
  const std::string_view authority = rest.substr(0, rest.find('/'));
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(text);
  }
  return fmt::format("{}<credentials>@{}", kScheme, rest.substr(at + 1));
}

Error bad(std::string_view text, std::string_view why) {
  return Error::invalid(
      fmt::format("bad iSCSI URL '{}': {} (expected "
                  "iscsi://[user[%password]@]host[:port]/target-iqn[/lun])",
                  echo(text), why));
}

// "%XX" escapes decoded; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) {
      return std::nullopt;
    }
    const int hi = hex_digit(in[i + 1]);
    const int lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

template <class T>
std::optional<T> parse_decimal(std::string_view s) {
  T value{};
  if (s.empty()) {
    return std::nullopt;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::string Url::portal() const {
  if (host.find(':') != std::string::npos) {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

std::string Url::redacted() const {
  std::string out(kScheme);
  if (!user.empty()) {
    out += user + "@";
  }
  out += portal() + "/" + target;
  if (lun) {
    out += fmt::format("/{}", *lun);
  }
  return out;
}

Result<Url> parse_url(std::string_view text) {
  if (!text.starts_with(kScheme)) {
    return fail(bad(text, "it must start with iscsi://"));
  }
  const std::string_view rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return fail(bad(text, "no target name"));
  }
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = rest.substr(slash + 1);
  Url url;

  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto percent = userinfo.find('%');
    url.user = std::string(userinfo.substr(0, percent));
    if (percent != std::string_view::npos) {
      url.password = std::string(userinfo.substr(percent + 1));
    }
    if (url.user.empty()) {
      return fail(bad(text, "credentials without a user name"));
    }
  }

  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(bad(text, "unterminated '[' in the host"));
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        return fail(bad(text, "unexpected text after ']'"));
      }
      port = after.substr(1);
      if (port.empty()) {
        return fail(bad(text, "empty port"));
      }
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.find(':') != std::string_view::npos) {
        return fail(bad(text, "an IPv6 address must be in brackets"));
      }
      if (port.empty()) {
        return fail(bad(text, "empty port"));
      }
    }
  }
  if (url.host.empty()) {
    return fail(bad(text, "no host"));
  }
  if (!port.empty()) {
    const auto p = parse_decimal<std::uint32_t>(port);
    if (!p || *p == 0 || *p > 65535) {
      return fail(bad(text, fmt::format("port '{}' is not 1..65535", port)));
    }
    url.port = static_cast<std::uint16_t>(*p);
  }

  const auto target_end = path.find('/');
  const auto target = percent_decode(path.substr(0, target_end));
  if (!target) {
    return fail(bad(text, "malformed %XX escape in the target name"));
  }
  if (target->empty()) {
    return fail(bad(text, "no target name"));
  }
  url.target = *target;
  if (target_end != std::string_view::npos) {
    std::string_view lun = path.substr(target_end + 1);
    if (lun.ends_with('/')) {
      lun.remove_suffix(1);
    }
    if (!lun.empty()) {
      const auto value = parse_decimal<std::uint64_t>(lun);
      if (!value) {
        return fail(bad(text, fmt::format("LUN '{}' is not a number", lun)));
      }
      url.lun = *value;
    }
  }
  return url;
}

}  // namespace ucam::iscsi
