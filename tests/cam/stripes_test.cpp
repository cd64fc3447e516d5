#include "cam/stripes.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace ucam::cam {
namespace {

TEST(Stripes, AThreadKeepsItsStripeAndThreadsSpreadOverThem) {
  const std::size_t mine = this_thread_stripe();
  EXPECT_LT(mine, kStripes);
  EXPECT_EQ(this_thread_stripe(), mine);
  std::vector<std::size_t> taken(kStripes);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kStripes; ++i) {
    threads.emplace_back([&taken, i] { taken[i] = this_thread_stripe(); });
  }
  for (auto& t : threads) {
    t.join();
  }
  // Round-robin: kStripes threads in a row take every stripe once.
  const std::set<std::size_t> distinct(taken.begin(), taken.end());
  EXPECT_EQ(distinct.size(), kStripes);
}

TEST(Stripes, CounterSumsEveryThreadsAdds) {
  StripedCounter counter;
  EXPECT_EQ(counter.load(), 0U);
  constexpr int kThreads = 3 * static_cast<int>(kStripes) / 2;  // Some share a stripe.
  constexpr int kEach = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter, t] {
      for (int i = 0; i < kEach; ++i) {
        counter.add(static_cast<std::uint64_t>(t % 3));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::uint64_t expected = 0;
  for (int t = 0; t < kThreads; ++t) {
    expected += static_cast<std::uint64_t>(t % 3) * kEach;
  }
  EXPECT_EQ(counter.load(), expected);
}

TEST(Stripes, EachStripeHasACacheLineOfItsOwn) {
  Striped<std::uint64_t> striped;
  for (std::size_t i = 1; i < kStripes; ++i) {
    const auto a = reinterpret_cast<std::uintptr_t>(&striped.at(i - 1));
    const auto b = reinterpret_cast<std::uintptr_t>(&striped.at(i));
    EXPECT_GE(b - a, 64U);
    EXPECT_EQ(b % 64, 0U);
  }
}

}  // namespace
}  // namespace ucam::cam
