// iSCSI URLs: iscsi://[user[%password]@]host[:port]/target-iqn[/lun]
//
// The form libiscsi and its tools use (RFC 4985-like, with CHAP credentials in the user part).
// `host` is a name, an IPv4 address or a bracketed IPv6 address; the port defaults to 3260.
// The target name is percent-decoded ("%3A" is ':'); the password is taken verbatim. A LUN in
// the URL is kept but does not restrict the SIM: it presents the whole target as one bus.
//
// Pure: no I/O. Error messages never contain the password.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace ucam::iscsi {

inline constexpr std::uint16_t kDefaultIscsiPort = 3260;

struct Url {
  std::string host;  // Without brackets for IPv6.
  std::uint16_t port = kDefaultIscsiPort;
  std::string target;  // The target's iSCSI name, decoded.
  std::optional<std::uint64_t> lun;
  std::string user;      // CHAP user name ("" when the URL has none).
  std::string password;  // CHAP secret ("" when the URL has none). Never log it.

  // "host:port" ("[v6]:port"), as libiscsi's connect calls want the portal.
  std::string portal() const;
  // The URL without its password, for logs and status: iscsi://user@host:port/target[/lun].
  std::string redacted() const;
};

Result<Url> parse_url(std::string_view text);

}  // namespace ucam::iscsi
