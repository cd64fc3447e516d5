// EncElementList: the elements of published enclosure states, shared between states and
// copied only when a writer changes one (copy on write).
#include <gtest/gtest.h>

#include <algorithm>

#include "periphs/enc/enc.h"

namespace ucam::enc {
namespace {

EncElementList three_elements() {
  EncElementList list;
  for (int i = 0; i < 3; ++i) {
    EncElement e;
    e.index = i;
    e.descriptor = "Slot " + std::to_string(i);
    list.push_back(std::move(e));
  }
  return list;
}

TEST(EncElementList, ReadsLikeAVector) {
  const EncElementList list = three_elements();
  ASSERT_EQ(list.size(), 3U);
  EXPECT_FALSE(list.empty());
  EXPECT_EQ(list[1].descriptor, "Slot 1");
  EXPECT_EQ(list.at(2).index, 2);
  EXPECT_THROW((void)list.at(3), std::out_of_range);
  int expected = 0;
  for (const auto& e : list) {
    EXPECT_EQ(e.index, expected++);
  }
  EXPECT_EQ(
      std::count_if(list.begin(), list.end(), [](const EncElement& e) { return e.index > 0; }), 2);
  EXPECT_EQ(list.end() - list.begin(), 3);
}

TEST(EncElementList, ACopySharesEveryElement) {
  const EncElementList list = three_elements();
  const EncElementList copy = list;  // NOLINT(performance-unnecessary-copy-initialization)
  for (std::size_t i = 0; i < list.size(); ++i) {
    EXPECT_TRUE(copy.same_element(list, i)) << i;
    EXPECT_EQ(&copy[i], &list[i]) << i;
  }
}

TEST(EncElementList, AChangeAfterACopyLeavesTheCopyAsItWasAndSharesTheRest) {
  EncElementList work = three_elements();
  const EncElementList published = work;
  work.mutate(1).status = {0x02, 0, 0, 0};
  EXPECT_EQ(work[1].status, (std::array<std::uint8_t, 4>{0x02, 0, 0, 0}));
  EXPECT_EQ(published[1].status, (std::array<std::uint8_t, 4>{}));  // Unchanged.
  EXPECT_FALSE(work.same_element(published, 1));
  EXPECT_TRUE(work.same_element(published, 0));
  EXPECT_TRUE(work.same_element(published, 2));
}

TEST(EncElementList, AnElementIsCopiedOnceBetweenTwoCopiesOfTheList) {
  EncElementList work = three_elements();
  const EncElementList first = work;
  EncElement* own = &work.mutate(0);
  EXPECT_EQ(&work.mutate(0), own);  // Already this list's own: changed in place.
  const EncElementList second = work;
  work.mutate(0).descriptor = "renamed";
  EXPECT_NE(&work[0], own);  // Shared with `second` again: copied first.
  EXPECT_EQ(second[0].descriptor, "Slot 0");
  EXPECT_EQ(first[0].descriptor, "Slot 0");
}

TEST(EncElementList, ElementsAddedAfterACopyAreTheWritersOwn) {
  EncElementList work;
  const EncElementList empty = work;
  EncElement e;
  e.index = 7;
  work.push_back(e);
  EncElement* own = &work.mutate(0);
  EXPECT_EQ(&work[0], own);
  EXPECT_TRUE(empty.empty());
  work.clear();
  EXPECT_TRUE(work.empty());
}

}  // namespace
}  // namespace ucam::enc
