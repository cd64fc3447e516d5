// UCAM_TRY and UCAM_TRY_ASSIGN: a failure returns the same error, a success goes on (with the
// value), and the expression runs exactly once.
#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ucam {
namespace {

int g_calls = 0;

Result<int> number(bool ok) {
  ++g_calls;
  if (!ok) {
    return fail_errno(ENOENT, "no number");
  }
  return 42;
}

Result<void> check(bool ok) {
  ++g_calls;
  if (!ok) {
    return fail_invalid("bad");
  }
  return {};
}

Result<std::unique_ptr<std::string>> owned(bool ok) {
  if (!ok) {
    return fail_errno(EIO, "no string");
  }
  return std::make_unique<std::string>("moved");
}

Result<std::string> use_all(bool a, bool b, bool c) {
  UCAM_TRY(check(a));
  UCAM_TRY_ASSIGN(const int n, number(b));
  UCAM_TRY_ASSIGN(auto s, owned(c));  // Move-only values move out.
  return *s + " " + std::to_string(n);
}

TEST(ResultTry, SuccessGoesOnWithTheValues) {
  g_calls = 0;
  auto r = use_all(true, true, true);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "moved 42");
  EXPECT_EQ(g_calls, 2);  // Each expression ran once.
}

TEST(ResultTry, TheFirstFailureReturnsItsErrorUnchanged) {
  g_calls = 0;
  auto a = use_all(false, true, true);
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().errno_value(), EINVAL);
  EXPECT_EQ(g_calls, 1);  // Nothing after it ran.
  auto b = use_all(true, false, true);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().errno_value(), ENOENT);
  EXPECT_NE(b.error().message().find("no number"), std::string::npos);
  auto c = use_all(true, true, false);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().errno_value(), EIO);
}

}  // namespace
}  // namespace ucam
