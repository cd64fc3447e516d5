// Shared by the libFuzzer targets: a property that must hold for every input.
#pragma once

#include <cstdlib>

namespace ucam::fuzz {

// Aborts when a property (a round trip, an invariant) fails: libFuzzer reports the input.
inline void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace ucam::fuzz
