#include <gtest/gtest.h>

#include "periphs/enc/enc.h"

namespace ucam::enc {
namespace {

// The observed FreeBSD strings (freebsd-cam.md §2.5) come out byte for byte.
TEST(PhysicalPath, MatchesFreeBsdFormatWithDescriptor) {
  EXPECT_EQ(physical_path(0x3061686369656d30ULL, 0, 7, "Slot 06"),
            "id1,enc@n3061686369656d30/type@0/slot@7/elmdesc@Slot_06");
}

TEST(PhysicalPath, OmitsDescriptorWhenEmptyAndPrintsHexWithoutPadding) {
  EXPECT_EQ(physical_path(0x5003048001c1043dULL, 0x1a, 0x2b, ""),
            "id1,enc@n5003048001c1043d/type@1a/slot@2b");
  EXPECT_EQ(physical_path(0xabcULL, 0, 1, ""), "id1,enc@nabc/type@0/slot@1");
}

TEST(PhysicalPath, SanitizesWhitespaceSlashesAndNonPrintables) {
  EXPECT_EQ(physical_path(1, 2, 3, std::string("a/b c\td\x01") + "\x7f"),
            "id1,enc@n1/type@2/slot@3/elmdesc@a_b_c_d__");
  EXPECT_EQ(physical_path(1, 0, 2, "SLOT_01,8HKX1R0H            "),
            "id1,enc@n1/type@0/slot@2/elmdesc@SLOT_01,8HKX1R0H____________");
}

}  // namespace
}  // namespace ucam::enc
