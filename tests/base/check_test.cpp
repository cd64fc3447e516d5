#include "base/check.h"

#include <gtest/gtest.h>

namespace ucam {
namespace {

TEST(NoBlockScope, NestsAndUnwinds) {
  EXPECT_FALSE(in_no_block_scope());
  {
    NoBlockScope outer;
    {
      NoBlockScope inner;
      EXPECT_TRUE(in_no_block_scope());
    }
    EXPECT_TRUE(in_no_block_scope());
  }
  EXPECT_FALSE(in_no_block_scope());
}

TEST(AssertMayBlock, IsSilentOutsideCompletionContext) {
  const auto before = violation_count();
  assert_may_block("test");
  EXPECT_EQ(violation_count(), before);
}

#if UCAM_DEBUG_CHECKS
TEST(AssertMayBlockDeathTest, AbortsInsideCompletionContext) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        NoBlockScope scope;
        assert_may_block("sleep");
      },
      "blocking call in completion context: sleep");
}
#else
TEST(AssertMayBlock, CountsInsideCompletionContextInRelease) {
  const auto before = violation_count();
  {
    NoBlockScope scope;
    assert_may_block("sleep");
  }
  EXPECT_EQ(violation_count(), before + 1);
}
#endif

}  // namespace
}  // namespace ucam
