// A CAM path: (bus, target, LUN). `bus` is the XPT path id assigned at bus registration.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <string>

namespace ucam::cam {

struct Path {
  static constexpr std::uint32_t kWildcardBus = 0xffffffffU;
  static constexpr std::uint32_t kWildcardTarget = 0xffffffffU;
  static constexpr std::uint64_t kWildcardLun = 0xffffffffffffffffULL;

  std::uint32_t bus = 0;
  std::uint32_t target = 0;
  std::uint64_t lun = 0;

  static constexpr Path wildcard() { return {kWildcardBus, kWildcardTarget, kWildcardLun}; }

  // True if `other` is covered by this (possibly wildcarded) path.
  constexpr bool matches(const Path& other) const {
    return (bus == kWildcardBus || bus == other.bus) &&
           (target == kWildcardTarget || target == other.target) &&
           (lun == kWildcardLun || lun == other.lun);
  }

  friend auto operator<=>(const Path&, const Path&) = default;
};

// "scbus0 target 1 lun 0" in camcontrol's wording (LUN in hex as camcontrol prints it).
inline std::string to_string(const Path& p) {
  return fmt::format("scbus{} target {} lun {:x}", p.bus, p.target, p.lun);
}

}  // namespace ucam::cam

// Formats a Path as to_string() does, so that a log line builds the text only when it is
// written (log_info("{}", path)); to_string(path) as an argument is built even when it is not.
template <>
struct fmt::formatter<ucam::cam::Path> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class FormatContext>
  auto format(const ucam::cam::Path& p, FormatContext& ctx) const {
    return fmt::format_to(ctx.out(), "scbus{} target {} lun {:x}", p.bus, p.target, p.lun);
  }
};
