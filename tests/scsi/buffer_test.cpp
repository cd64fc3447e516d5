#include "scsi/buffer.h"

#include <gtest/gtest.h>

#include <random>

#include "base/hex.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

TEST(BufferDescriptorParse, DecodesKnownVector) {
  auto d = parse_buffer_descriptor(*parse_hex("02 00 00 40"));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->offset_boundary, 2);
  EXPECT_EQ(d->buffer_capacity, 64u);
  EXPECT_EQ(d->offset_alignment(), 4u);
  EXPECT_FALSE(parse_buffer_descriptor(*parse_hex("02 00 00")).has_value());
  EXPECT_FALSE((BufferDescriptor{0xff, 0}.offset_alignment().has_value()));
}

TEST(BufferDescriptorEncode, RoundTripsAndRejectsWideFields) {
  const BufferDescriptor d{9, 0xabcdef};
  auto bytes = encode_buffer_descriptor(d);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(hex_string(*bytes), "09 ab cd ef");
  EXPECT_EQ(*parse_buffer_descriptor(*bytes), d);
  EXPECT_FALSE(encode_buffer_descriptor(BufferDescriptor{0, 0x1000000}).has_value());
  EXPECT_FALSE(encode_buffer_descriptor(BufferDescriptor{64, 0}).has_value());
  EXPECT_TRUE(encode_buffer_descriptor(BufferDescriptor{0xff, 0}).has_value());
}

TEST(EchoBufferDescriptor, RoundTripsThirteenBitCapacity) {
  const EchoBufferDescriptor d{true, 0x1fff};
  auto bytes = encode_echo_buffer_descriptor(d);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(hex_string(*bytes), "01 00 1f ff");
  EXPECT_EQ(*parse_echo_buffer_descriptor(*bytes), d);
  EXPECT_EQ(parse_echo_buffer_descriptor(*parse_hex("00 00 ff ff"))->buffer_capacity, 0x1fff);
  EXPECT_FALSE(encode_echo_buffer_descriptor(EchoBufferDescriptor{false, 0x2000}).has_value());
}

TEST(BufferDescriptorParse, EveryPrefixIsSafe) {
  const std::vector<std::uint8_t> v{2, 0, 0, 0x40};
  test::for_each_prefix(v, [](Bytes b) {
    EXPECT_EQ(parse_buffer_descriptor(b).has_value(), b.size() == 4);
    EXPECT_EQ(parse_echo_buffer_descriptor(b).has_value(), b.size() == 4);
  });
}

// Oracle: sg_read_buffer --mode=desc decodes descriptors from our encoder.
TEST(BufferDescriptorOracle, SgReadBufferDecodesRandomEncodedDescriptors) {
  ASSERT_TRUE(test::have_tool("sg_read_buffer")) << test::missing_tool_message("sg_read_buffer");
  std::mt19937 rng(33);
  for (int i = 0; i < 20; ++i) {
    const BufferDescriptor d{static_cast<std::uint8_t>(rng() % 32),
                             static_cast<std::uint32_t>(rng() % 0x1000000)};
    auto bytes = encode_buffer_descriptor(d);
    ASSERT_TRUE(bytes.has_value());
    test::TempHexFile file(*bytes);
    const auto r = test::run({"sg_read_buffer", "--inhex=" + file.path(), "--mode=desc"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(test::number_after(r.output, "OFFSET BOUNDARY:"), d.offset_boundary) << r.output;
    EXPECT_EQ(test::number_after(r.output, "BUFFER CAPACITY:"), d.buffer_capacity) << r.output;
    EXPECT_NE(r.output.find(std::to_string(*d.offset_alignment()) + "-byte"), std::string::npos)
        << r.output;
  }
}

}  // namespace
}  // namespace ucam::scsi
