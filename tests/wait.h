// Waiting on a condition with a deadline (tests never sleep to "wait a bit").
#pragma once

#include <chrono>
#include <thread>

namespace ucam::testing {

// Polls `condition` until it holds or `timeout` passes; returns its final value.
template <class F>
bool wait_until(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return condition();
    }
    std::this_thread::yield();
  }
  return true;
}

}  // namespace ucam::testing
