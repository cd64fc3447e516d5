#include "base/log.h"

#include <atomic>
#include <cstdio>

namespace ucam {
namespace {
std::atomic<LogLevel> g_level{LogLevel::Warning};
}

void set_log_level(LogLevel level) {
  g_level.store(level, std::memory_order_relaxed);
}
LogLevel log_level() {
  return g_level.load(std::memory_order_relaxed);
}

void log_write(LogLevel level, std::string_view message) {
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error", "off"};
  // One fprintf per line so concurrent lines do not interleave mid-line.
  std::fprintf(stderr, "ucam: %s: %.*s\n", kNames[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
}

}  // namespace ucam
