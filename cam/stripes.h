// Counters that every CCB bumps, split in per-thread stripes. XPT internals (xpt.h includes it
// for its own private members); nothing outside cam/ uses it.
//
// One shared atomic bumped by every CCB makes every thread that issues CCBs write the same
// cache line: with several threads the line moves between CPUs on every CCB, and the XPT path
// stops growing with threads even on separate devices. Here each thread bumps its own stripe
// (one cache line) and a reader sums the stripes. Threads take stripes round-robin on their
// first bump, so up to kStripes threads write lines no other thread writes; beyond that they
// share, which stays correct (the adds are atomic) and only costs some contention.
//
// A sum is not a snapshot: stripes are read one after another while others bump them, so a
// reader sees each count at some moment during its read, as with the single atomic before.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ucam::cam {

inline constexpr std::size_t kStripes = 16;

// This thread's stripe, in [0, kStripes).
inline std::size_t this_thread_stripe() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return stripe;
}

// One T per stripe, each on its own cache line.
template <class T>
class Striped {
 public:
  T& mine() { return m_stripes[this_thread_stripe()].value; }
  T& at(std::size_t i) { return m_stripes[i].value; }
  const T& at(std::size_t i) const { return m_stripes[i].value; }

 private:
  struct alignas(64) Line {
    T value{};
  };
  std::array<Line, kStripes> m_stripes{};
};

// A relaxed event counter (what the XPT counted with one std::atomic before).
class StripedCounter {
 public:
  void add(std::uint64_t n = 1) { m_counts.mine().fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t load() const {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kStripes; ++i) {
      sum += m_counts.at(i).load(std::memory_order_relaxed);
    }
    return sum;
  }

 private:
  Striped<std::atomic<std::uint64_t>> m_counts;
};

}  // namespace ucam::cam
