// FreeBSD's physical paths, byte for byte: the format (unit), and what the enc driver publishes
// for emulated slots whose page 0x07 descriptors are padded, slashed, NUL-padded, unprintable
// or empty (over the stack).
#include <gtest/gtest.h>

#include "periphs/enc/enc.h"
#include "stack/stack.h"

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

// Every byte of the descriptor's length counts: blanks on either side and '/' become '_', and
// trailing blanks are kept (the NDS-4600 pads its slot names so).
TEST(PhysicalPath, KeepsLeadingAndTrailingBlanksAsUnderscores) {
  EXPECT_EQ(physical_path(1, 0, 1, "SLOT  1 00  "),
            "id1,enc@n1/type@0/slot@1/elmdesc@SLOT__1_00__");
  EXPECT_EQ(physical_path(1, 0, 2, "SLOT_01,8HKX1R0H            "),
            "id1,enc@n1/type@0/slot@2/elmdesc@SLOT_01,8HKX1R0H____________");
  EXPECT_EQ(physical_path(1, 2, 3, "  a/b c  "), "id1,enc@n1/type@2/slot@3/elmdesc@__a_b_c__");
}

// NUL padding is part of the descriptor: each NUL becomes '_'. Bytes after the first NUL are
// not checked by page 7 sanitising, so a non-printable byte there is just one more '_'.
TEST(PhysicalPath, TurnsNulPaddingAndWhatFollowsIntoUnderscores) {
  EXPECT_EQ(physical_path(1, 0, 1, std::string("SLOT 01\0", 8)),
            "id1,enc@n1/type@0/slot@1/elmdesc@SLOT_01_");
  EXPECT_EQ(physical_path(1, 0, 1, std::string("Bay\0\xff\x07", 6)),
            "id1,enc@n1/type@0/slot@1/elmdesc@Bay___");
  EXPECT_EQ(physical_path(1, 0, 1, std::string("\0\0", 2)), "id1,enc@n1/type@0/slot@1/elmdesc@__");
}

// freebsd-cam.md §2.5: a byte outside 0x20-0x7e before the first NUL makes the whole
// descriptor "<invalid>" (tabs and bytes >= 0x80 included).
TEST(PhysicalPath, ADescriptorWithAnUnprintableByteIsInvalid) {
  EXPECT_EQ(physical_path(1, 2, 3, std::string("a/b c\td\x01") + "\x7f"),
            "id1,enc@n1/type@2/slot@3/elmdesc@<invalid>");
  EXPECT_EQ(physical_path(1, 0, 1,
                          "Slot\x01"
                          "5"),
            "id1,enc@n1/type@0/slot@1/elmdesc@<invalid>");
  EXPECT_EQ(physical_path(1, 0, 1, "Caf\xc3\xa9"), "id1,enc@n1/type@0/slot@1/elmdesc@<invalid>");
}

// An emulated enclosure whose slots carry every kind of descriptor; each slot holds a disk, so
// the driver publishes each path into the disk's device database entry.
constexpr const char* kScenario = R"({
  "name": "physpath",
  "buses": [{
    "max_target": 15,
    "targets": [
      {"id": 0, "luns": [{"serial": "D0"}]}, {"id": 1, "luns": [{"serial": "D1"}]},
      {"id": 2, "luns": [{"serial": "D2"}]}, {"id": 3, "luns": [{"serial": "D3"}]},
      {"id": 4, "luns": [{"serial": "D4"}]}, {"id": 5, "luns": [{"serial": "D5"}]},
      {"id": 6, "luns": [{"serial": "D6"}]}, {"id": 7, "luns": [{"serial": "D7"}]},
      {"id": 9,
       "luns": [{"type": "ses", "naa": "5000c50012345678", "enclosure": "names",
                 "elements": [{"type": "slots", "disks": "auto", "descriptor": [
                   "SLOT  1 00  ",
                   "  Bay 2 ",
                   "Front/3",
                   {"hex": "53 4c 4f 54 20 34 00 00"},
                   {"hex": "53 6c 6f 74 01 35"},
                   "",
                   {"hex": "42 61 79 00 ff 07"},
                   {"hex": "42 61 79 c3 a9"}]}]}]}
    ]
  }]
})";

TEST(PhysicalPathOfEmulatedSlots, IsBuiltFromTheDescriptorBytesAsFreeBsdDoes) {
  auto scenario = emu::parse_scenario(kScenario, "physpath");
  ASSERT_TRUE(scenario) << scenario.error().message();
  auto stack = Stack::create_emulated(*scenario);
  ASSERT_TRUE(stack) << stack.error().message();
  const std::string prefix = "id1,enc@n5000c50012345678/type@0/slot@";
  const std::vector<std::string> expected = {
      prefix + "1/elmdesc@SLOT__1_00__",  // trailing blanks kept
      prefix + "2/elmdesc@__Bay_2_",      // leading ones too
      prefix + "3/elmdesc@Front_3",       // '/'
      prefix + "4/elmdesc@SLOT_4__",      // NUL padding
      prefix + "5/elmdesc@<invalid>",     // an unprintable byte before any NUL
      prefix + "6",                       // empty: no elmdesc
      prefix + "7/elmdesc@Bay___",        // unprintable bytes after the NUL
      prefix + "8/elmdesc@<invalid>",     // bytes >= 0x80
  };
  for (std::uint32_t target = 0; target < expected.size(); ++target) {
    auto info = (*stack)->xpt().device({0, target, 0});
    ASSERT_TRUE(info) << target;
    const auto it = info->advinfo.find(cam::AdvinfoType::PhysPath);
    ASSERT_NE(it, info->advinfo.end()) << target;
    EXPECT_EQ(std::string(it->second.begin(), it->second.end()), expected[target])
        << "disk in slot " << target;
  }
  // The driver's cache holds the descriptors as the page does.
  auto h = (*stack)->devfs().open("ses0");
  ASSERT_TRUE(h);
  EncGetState get;
  ASSERT_TRUE(h->ioctl(get));
  EXPECT_EQ(get.state->elements[1].descriptor, "SLOT  1 00  ");
  EXPECT_EQ(get.state->elements[4].descriptor, std::string("SLOT 4\0\0", 8));
  EXPECT_EQ(get.state->elements[6].descriptor, "");
}

}  // namespace
}  // namespace ucam::enc
