// The SPC-2 processor device model (SEND/RECEIVE message queue).
#include <gtest/gtest.h>

#include "scsi/cdb.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":8,"luns":[{"type":"processor","vendor":"ACME","product":"SAS PROCESSOR",
                   "serial":"PR0001","message_limit":2}]}]}]})";
constexpr LunAddress kProcessor{0, 8, 0};

scsi::Cdb send_cdb(std::uint32_t length) {
  return raw_cdb({0x0a, 0, static_cast<std::uint8_t>(length >> 16),
                  static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 0});
}
scsi::Cdb receive_cdb(std::uint32_t length) {
  return raw_cdb({0x08, 0, static_cast<std::uint8_t>(length >> 16),
                  static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 0});
}
std::vector<std::uint8_t> bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

class EmuProcessor : public ::testing::Test {
 protected:
  Harness h{kScenario};
};

TEST_F(EmuProcessor, InquiryReportsProcessorType) {
  const Reply r = h.read(kProcessor, scsi::inquiry(scsi::InquiryData::Standard, 0, 96), 96);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data[0], 0x03);
  EXPECT_EQ(ascii(r.data, 16, 16), "SAS PROCESSOR   ");
}

TEST_F(EmuProcessor, VpdPagesAreAvailable) {
  const Reply pages = h.read(kProcessor, scsi::inquiry(scsi::InquiryData::VpdPage, 0, 64), 64);
  ASSERT_TRUE(pages.good());
  EXPECT_EQ(pages.data, (std::vector<std::uint8_t>{0x03, 0x00, 0x00, 0x03, 0x00, 0x80, 0x83}));
  const Reply serial = h.read(kProcessor, scsi::inquiry(scsi::InquiryData::VpdPage, 0x80, 64), 64);
  ASSERT_TRUE(serial.good());
  EXPECT_EQ(serial.data[0], 0x03);
  EXPECT_EQ(ascii(serial.data, 4, 6), "PR0001");
  const Reply ids = h.read(kProcessor, scsi::inquiry(scsi::InquiryData::VpdPage, 0x83, 255), 255);
  ASSERT_TRUE(ids.good());
  EXPECT_EQ(ids.data[0], 0x03);
  EXPECT_EQ(ids.data[1], 0x83);
}

TEST_F(EmuProcessor, TestUnitReadyIsGood) {
  EXPECT_TRUE(h.run(kProcessor, scsi::test_unit_ready()).good());
}

TEST_F(EmuProcessor, ReceiveReturnsWhatWasSent) {
  ASSERT_TRUE(h.write(kProcessor, send_cdb(5), bytes("hello")).good());
  const Reply r = h.read(kProcessor, receive_cdb(64), 64);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, bytes("hello"));
  EXPECT_EQ(r.resid, 59U);
}

TEST_F(EmuProcessor, MessagesComeOutInOrder) {
  ASSERT_TRUE(h.write(kProcessor, send_cdb(3), bytes("one")).good());
  ASSERT_TRUE(h.write(kProcessor, send_cdb(3), bytes("two")).good());
  EXPECT_EQ(h.read(kProcessor, receive_cdb(64), 64).data, bytes("one"));
  EXPECT_EQ(h.read(kProcessor, receive_cdb(64), 64).data, bytes("two"));
}

TEST_F(EmuProcessor, ReceiveOnAnEmptyQueueIsGoodWithNoData) {
  const Reply r = h.read(kProcessor, receive_cdb(64), 64);
  ASSERT_TRUE(r.good());
  EXPECT_TRUE(r.data.empty());
  EXPECT_EQ(r.resid, 64U);
}

TEST_F(EmuProcessor, ReceiveCutsAMessageToTheAllocationLength) {
  ASSERT_TRUE(h.write(kProcessor, send_cdb(10), bytes("0123456789")).good());
  EXPECT_EQ(h.read(kProcessor, receive_cdb(4), 64).data, bytes("0123"));
  // The rest of the message is gone with it.
  EXPECT_TRUE(h.read(kProcessor, receive_cdb(64), 64).data.empty());
}

TEST_F(EmuProcessor, ReceiveHonoursDxferLen) {
  ASSERT_TRUE(h.write(kProcessor, send_cdb(10), bytes("0123456789")).good());
  const Reply r = h.read(kProcessor, receive_cdb(64), 3);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, bytes("012"));
  EXPECT_EQ(r.resid, 0U);
}

TEST_F(EmuProcessor, SendToAFullQueueIsBusy) {
  ASSERT_TRUE(h.write(kProcessor, send_cdb(1), bytes("a")).good());
  ASSERT_TRUE(h.write(kProcessor, send_cdb(1), bytes("b")).good());
  const Reply r = h.write(kProcessor, send_cdb(1), bytes("c"));
  EXPECT_EQ(r.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(r.scsi_status, cam::ScsiStatus::Busy);
  EXPECT_TRUE(r.sense.empty());
  EXPECT_EQ(h.read(kProcessor, receive_cdb(8), 8).data, bytes("a"));
  EXPECT_TRUE(h.write(kProcessor, send_cdb(1), bytes("c")).good());
}

TEST_F(EmuProcessor, SendWithLessDataThanTheCdbIsAnUnderrun) {
  EXPECT_EQ(h.write(kProcessor, send_cdb(10), bytes("short")).status, CamStatus::DataRunErr);
  EXPECT_TRUE(h.read(kProcessor, receive_cdb(64), 64).data.empty());
}

TEST_F(EmuProcessor, ZeroLengthSendQueuesAnEmptyMessage) {
  ASSERT_TRUE(h.write(kProcessor, send_cdb(0), {}).good());
  ASSERT_TRUE(h.write(kProcessor, send_cdb(1), bytes("x")).good());
  EXPECT_TRUE(h.read(kProcessor, receive_cdb(64), 64).data.empty());
  EXPECT_EQ(h.read(kProcessor, receive_cdb(64), 64).data, bytes("x"));
}

TEST_F(EmuProcessor, AsynchronousEventReportingIsInvalidField) {
  const Reply r = h.write(kProcessor, raw_cdb({0x0a, 0x01, 0, 0, 1, 0}), bytes("x"));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x24, 0x00}));
}

TEST_F(EmuProcessor, BlockCommandsAreInvalidOpcodes) {
  for (const auto& cdb : {scsi::read_capacity10(), scsi::read10(0, 1),
                          scsi::mode_sense6(scsi::BlockDescriptors::Return,
                                            scsi::PageControl::Current, 0x3f, 0, 255)}) {
    const Reply r = h.read(kProcessor, cdb, 512);
    ASSERT_TRUE(r.check_condition());
    EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x20, 0x00}));
  }
}

}  // namespace
}  // namespace ucam::emu::testing
