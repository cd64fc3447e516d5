#include "base/check.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/log.h"

namespace ucam {
namespace {

thread_local int t_no_block_depth = 0;
std::atomic<std::uint64_t> g_violations{0};

}  // namespace

NoBlockScope::NoBlockScope() {
  ++t_no_block_depth;
}
NoBlockScope::~NoBlockScope() {
  --t_no_block_depth;
}

bool in_no_block_scope() {
  return t_no_block_depth > 0;
}

void assert_may_block(std::string_view what) {
  if (t_no_block_depth > 0) {
    report_violation(std::string("blocking call in completion context: ") + std::string(what));
  }
}

void report_violation(std::string_view message) {
  g_violations.fetch_add(1, std::memory_order_relaxed);
#if UCAM_DEBUG_CHECKS
  std::fprintf(stderr, "ucam: contract violation: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  std::abort();
#else
  log_error("contract violation: {}", message);
#endif
}

std::uint64_t violation_count() {
  return g_violations.load(std::memory_order_relaxed);
}

}  // namespace ucam
