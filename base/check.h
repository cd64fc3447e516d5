// Contract checks for concurrency rules that must never be broken silently.
//
// Two rules are enforced at run time:
//  * Completion callbacks never block (the seed's "no sleeping in the SWI thread"). Code that
//    runs completions enters a `NoBlockScope`; every primitive in ucam that can sleep calls
//    `assert_may_block()` first.
//  * Reference counts never underflow (checked by cam/periph).
//
// With UCAM_DEBUG_CHECKS=1 (default, asan and tsan presets) a violation aborts with a
// diagnostic. Without it (the release preset) the violation is logged and counted; the count is
// process-wide because it is a diagnostic of the program, not state of any one Xpt.
#pragma once

#include <cstdint>
#include <string_view>

namespace ucam {

// Marks the current thread as running completion callbacks for the scope's lifetime. Nests.
class NoBlockScope {
 public:
  NoBlockScope();
  ~NoBlockScope();
  NoBlockScope(const NoBlockScope&) = delete;
  NoBlockScope& operator=(const NoBlockScope&) = delete;
};

bool in_no_block_scope();

// Call before anything that may sleep. `what` names the operation for the diagnostic.
void assert_may_block(std::string_view what);

// Reports a contract violation: abort with `message` under UCAM_DEBUG_CHECKS, else log and
// count.
void report_violation(std::string_view message);

// Number of violations reported so far (only ever non-zero in release builds).
std::uint64_t violation_count();

}  // namespace ucam
