// The errno of a Result, or 0 when it holds a value: lets a test assert an expected failure
// without reading error() of a success (undefined behaviour) when the code under test is wrong.
#pragma once

#include "base/result.h"

namespace ucam::testing {

template <class T>
int errno_of(const Result<T>& r) {
  return r ? 0 : r.error().errno_value();
}

}  // namespace ucam::testing
