// Leveled logging to stderr. The level is per process (set by the CLI or daemon at start-up);
// the library itself only writes through these functions.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string_view>

namespace ucam {

enum class LogLevel : std::uint8_t { Debug, Info, Warning, Error, Off };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_write(LogLevel level, std::string_view message);

template <class... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::Debug) {
    log_write(LogLevel::Debug, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <class... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::Info) {
    log_write(LogLevel::Info, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <class... Args>
void log_warning(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::Warning) {
    log_write(LogLevel::Warning, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <class... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::Error) {
    log_write(LogLevel::Error, fmt::format(f, std::forward<Args>(args)...));
  }
}

}  // namespace ucam
