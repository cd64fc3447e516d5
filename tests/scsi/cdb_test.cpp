#include "scsi/cdb.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/hex.h"
#include "scsi/sense.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

std::string hex(const Cdb& c) {
  return hex_string(c.span());
}

TEST(CdbBuild, EncodesKnownVectors) {
  EXPECT_EQ(hex(test_unit_ready()), "00 00 00 00 00 00");
  EXPECT_EQ(hex(request_sense(252, SenseFormat::Descriptor)), "03 01 00 00 fc 00");
  EXPECT_EQ(hex(inquiry(InquiryData::VpdPage, 0x83, 0x1ff)), "12 01 83 01 ff 00");
  EXPECT_EQ(hex(inquiry(InquiryData::Standard, 0, 36)), "12 00 00 00 24 00");
  EXPECT_EQ(hex(report_luns(SelectReport::All, 0x1000)), "a0 00 02 00 00 00 00 00 10 00 00 00");
  EXPECT_EQ(hex(read_capacity10()), "25 00 00 00 00 00 00 00 00 00");
  EXPECT_EQ(hex(read_capacity16(32)), "9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00");
  EXPECT_EQ(hex(mode_sense6(BlockDescriptors::Disable, PageControl::Changeable, 0x3f, 0xff, 0xfc)),
            "1a 08 7f ff fc 00");
  EXPECT_EQ(hex(mode_sense10(BlockDescriptors::Return, PageControl::Saved, 0x08, 0, 0x1000,
                             LongLba::Accepted)),
            "5a 10 c8 00 00 00 00 10 00 00");
  EXPECT_EQ(hex(mode_select6(PageFormat::Standard, SavePages::Yes, 0x18)), "15 11 00 00 18 00");
  EXPECT_EQ(hex(mode_select10(PageFormat::Standard, SavePages::No, 0x118)),
            "55 10 00 00 00 00 00 01 18 00");
  EXPECT_EQ(hex(receive_diagnostic_results(PageCodeValid::Yes, 0x02, 0xfffc)), "1c 01 02 ff fc 00");
  EXPECT_EQ(hex(send_diagnostic(PageFormat::Standard, SelfTest::No, 0x40)), "1d 10 00 00 40 00");
  EXPECT_EQ(hex(send_diagnostic(PageFormat::VendorSpecific, SelfTest::Yes, 0)),
            "1d 04 00 00 00 00");
  EXPECT_EQ(hex(*read_buffer(buffer_mode::kDescriptor, 1, 0, 4)), "3c 03 01 00 00 00 00 00 04 00");
  EXPECT_EQ(hex(*write_buffer(buffer_mode::kData, 2, 0x123456, 0x10)),
            "3b 02 02 12 34 56 00 00 10 00");
  EXPECT_EQ(hex(read10(0x12345678, 8, Fua::Yes)), "28 08 12 34 56 78 00 00 08 00");
  EXPECT_EQ(hex(write16(0x0102030405060708ULL, 0x10000)),
            "8a 00 01 02 03 04 05 06 07 08 00 01 00 00 00 00");
  EXPECT_EQ(hex(read12(7, 9)), "a8 00 00 00 00 07 00 00 00 09 00 00");
  EXPECT_EQ(hex(*read6(0x1fffff, 256)), "08 1f ff ff 00 00");
}

TEST(CdbBuild, SendAndReceiveCarryA24BitLength) {
  EXPECT_EQ(hex(*send6(0x123456)), "0a 00 12 34 56 00");
  EXPECT_EQ(hex(*receive6(0xffffff)), "08 00 ff ff ff 00");
  EXPECT_EQ(hex(*send6(0)), "0a 00 00 00 00 00");  // No data: allowed.
  EXPECT_EQ(hex(*receive6(0)), "08 00 00 00 00 00");
  EXPECT_FALSE(send6(kMaxSendReceiveLength + 1).has_value());
  EXPECT_FALSE(receive6(0x1000000).has_value());
}

TEST(CdbBuild, RejectsValuesOutsideTheirFields) {
  EXPECT_FALSE(read6(0x200000, 1).has_value());
  EXPECT_FALSE(write6(0, 0).has_value());
  EXPECT_FALSE(write6(0, 257).has_value());
  EXPECT_FALSE(read_buffer(0x20, 0, 0, 0).has_value());
  EXPECT_FALSE(read_buffer(2, 0, 0x1000000, 0).has_value());
  EXPECT_FALSE(write_buffer(2, 0, 0, 0x1000000).has_value());
}

TEST(CdbName, ResolvesReadCapacity16ServiceAction) {
  EXPECT_EQ(cdb_name(read_capacity16(32).span()), "READ CAPACITY(16)");
  EXPECT_EQ(cdb_name(inquiry(InquiryData::Standard, 0, 36).span()), "INQUIRY");
  EXPECT_EQ(cdb_name(Bytes()), "EMPTY CDB");
}

TEST(InquiryCdbParse, DecodesBuilderOutput) {
  auto r = parse_inquiry_cdb(inquiry(InquiryData::VpdPage, 0x80, 0x2000).span());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->evpd, InquiryData::VpdPage);
  EXPECT_EQ(r->page_code, 0x80);
  EXPECT_EQ(r->allocation_length, 0x2000);
}

TEST(InquiryCdbParse, RejectsPageCodeWithoutEvpdPointingAtByteTwo) {
  const std::vector<std::uint8_t> cdb{0x12, 0x00, 0x83, 0x00, 0xff, 0x00};
  auto r = parse_inquiry_cdb(cdb);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind(), Error::Kind::Sense);
  EXPECT_EQ(r.error().sense(), kInvalidFieldInCdb);
  auto fp = cdb_field_pointer(r.error());
  ASSERT_TRUE(fp.has_value());
  EXPECT_EQ(fp->byte, 2);
  EXPECT_FALSE(fp->bit.has_value());
}

TEST(InquiryCdbParse, RejectsCmddtWithBitPointer) {
  const std::vector<std::uint8_t> cdb{0x12, 0x02, 0x00, 0x00, 0xff, 0x00};
  auto r = parse_inquiry_cdb(cdb);
  ASSERT_FALSE(r.has_value());
  auto fp = cdb_field_pointer(r.error());
  ASSERT_TRUE(fp.has_value());
  EXPECT_EQ(fp->byte, 1);
  EXPECT_EQ(fp->bit, 1);
}

TEST(InquiryCdbParse, RejectsOtherOpcodeAsInvalidOperationCode) {
  auto r = parse_inquiry_cdb(test_unit_ready().span());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().sense(), kInvalidOpcode);
}

TEST(InquiryCdbParse, RejectsShortCdb) {
  const std::vector<std::uint8_t> cdb{0x12, 0x01, 0x83};
  auto r = parse_inquiry_cdb(cdb);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().sense(), kInvalidFieldInCdb);
}

TEST(RwCdbParse, DecodesAllSizes) {
  struct Case {
    Cdb cdb;
    Direction dir;
    std::uint64_t lba;
    std::uint32_t blocks;
    Fua fua;
  };
  const std::vector<Case> cases{
      {*read6(0x12345, 256), Direction::Read, 0x12345, 256, Fua::No},
      {*write6(7, 1), Direction::Write, 7, 1, Fua::No},
      {read10(0xfffffffe, 0xffff, Fua::Yes), Direction::Read, 0xfffffffe, 0xffff, Fua::Yes},
      {write10(1, 0), Direction::Write, 1, 0, Fua::No},
      {read12(5, 0x123456, Fua::Yes), Direction::Read, 5, 0x123456, Fua::Yes},
      {write12(6, 7), Direction::Write, 6, 7, Fua::No},
      {read16(0xffffffffffffULL, 9), Direction::Read, 0xffffffffffffULL, 9, Fua::No},
      {write16(1ULL << 40, 0xffffffff, Fua::Yes), Direction::Write, 1ULL << 40, 0xffffffff,
       Fua::Yes},
  };
  for (const auto& c : cases) {
    auto r = parse_rw_cdb(c.cdb.span());
    ASSERT_TRUE(r.has_value()) << hex(c.cdb) << ": " << r.error().message();
    EXPECT_EQ(r->direction, c.dir) << hex(c.cdb);
    EXPECT_EQ(r->lba, c.lba) << hex(c.cdb);
    EXPECT_EQ(r->blocks, c.blocks) << hex(c.cdb);
    EXPECT_EQ(r->fua, c.fua) << hex(c.cdb);
    EXPECT_EQ(static_cast<std::uint8_t>(r->opcode), c.cdb.opcode());
  }
}

TEST(RwCdbParse, DecodesProtectDpoAndGroup) {
  const std::vector<std::uint8_t> cdb{0x28, 0xb8, 0, 0, 0, 1, 0x3f, 0, 1, 0};
  auto r = parse_rw_cdb(cdb);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->protect, 5);
  EXPECT_TRUE(r->dpo);
  EXPECT_EQ(r->fua, Fua::Yes);
  EXPECT_EQ(r->group_number, 0x3f);
}

TEST(RwCdbParse, RejectsNonReadWriteOpcode) {
  auto r = parse_rw_cdb(inquiry(InquiryData::Standard, 0, 36).span());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().sense(), kInvalidOpcode);
}

TEST(ReportLunsCdbParse, DecodesAndChecksAllocationLength) {
  auto r = parse_report_luns_cdb(report_luns(SelectReport::WellKnown, 16).span());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->select_report, 0x01);
  EXPECT_EQ(r->allocation_length, 16u);
  auto small = parse_report_luns_cdb(report_luns(SelectReport::All, 3).span());
  ASSERT_FALSE(small.has_value());
  EXPECT_EQ(small.error().sense(), kInvalidFieldInCdb);
  EXPECT_EQ(cdb_field_pointer(small.error())->byte, 6);
}

TEST(ReportLunsCdbParse, RejectsReservedSelectReport) {
  auto cdb = report_luns(SelectReport::All, 64);
  cdb.bytes[2] = 0x03;
  auto r = parse_report_luns_cdb(cdb.span());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(cdb_field_pointer(r.error())->byte, 2);
  cdb.bytes[2] = 0xf8;  // vendor specific
  EXPECT_TRUE(parse_report_luns_cdb(cdb.span()).has_value());
}

TEST(ModeSenseCdbParse, DecodesSixAndTen) {
  auto six = parse_mode_sense_cdb(
      mode_sense6(BlockDescriptors::Disable, PageControl::Default, 0x1c, 0x01, 200).span());
  ASSERT_TRUE(six.has_value());
  EXPECT_FALSE(six->ten_byte);
  EXPECT_EQ(six->dbd, BlockDescriptors::Disable);
  EXPECT_EQ(six->pc, PageControl::Default);
  EXPECT_EQ(six->page_code, 0x1c);
  EXPECT_EQ(six->subpage_code, 0x01);
  EXPECT_EQ(six->allocation_length, 200);
  auto ten = parse_mode_sense_cdb(mode_sense10(BlockDescriptors::Return, PageControl::Current, 0x3f,
                                               0xff, 0x4000, LongLba::Accepted)
                                      .span());
  ASSERT_TRUE(ten.has_value());
  EXPECT_TRUE(ten->ten_byte);
  EXPECT_EQ(ten->llbaa, LongLba::Accepted);
  EXPECT_EQ(ten->page_code, 0x3f);
  EXPECT_EQ(ten->subpage_code, 0xff);
  EXPECT_EQ(ten->allocation_length, 0x4000);
}

TEST(ModeSelectCdbParse, DecodesSixAndTen) {
  auto six = parse_mode_select_cdb(mode_select6(PageFormat::Standard, SavePages::Yes, 24).span());
  ASSERT_TRUE(six.has_value());
  EXPECT_EQ(six->pf, PageFormat::Standard);
  EXPECT_EQ(six->sp, SavePages::Yes);
  EXPECT_EQ(six->parameter_list_length, 24);
  auto ten =
      parse_mode_select_cdb(mode_select10(PageFormat::VendorSpecific, SavePages::No, 300).span());
  ASSERT_TRUE(ten.has_value());
  EXPECT_TRUE(ten->ten_byte);
  EXPECT_EQ(ten->parameter_list_length, 300);
}

TEST(ReceiveDiagCdbParse, DecodesBuilderOutput) {
  auto r =
      parse_receive_diag_cdb(receive_diagnostic_results(PageCodeValid::Yes, 0x0a, 0x1234).span());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->pcv, PageCodeValid::Yes);
  EXPECT_EQ(r->page_code, 0x0a);
  EXPECT_EQ(r->allocation_length, 0x1234);
}

TEST(SendDiagCdbParse, DecodesAndRejectsSelfTestConflicts) {
  auto r = parse_send_diag_cdb(send_diagnostic(PageFormat::Standard, SelfTest::No, 0x24).span());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->pf, PageFormat::Standard);
  EXPECT_EQ(r->selftest, SelfTest::No);
  EXPECT_EQ(r->parameter_list_length, 0x24);

  const std::vector<std::uint8_t> both{0x1d, 0x24, 0, 0, 0, 0};  // code 001b and SELFTEST
  auto bad = parse_send_diag_cdb(both);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(cdb_field_pointer(bad.error())->byte, 1);
  EXPECT_EQ(cdb_field_pointer(bad.error())->bit, 7);

  const std::vector<std::uint8_t> with_list{0x1d, 0x20, 0, 0, 8, 0};  // code 001b + list
  auto bad2 = parse_send_diag_cdb(with_list);
  ASSERT_FALSE(bad2.has_value());
  EXPECT_EQ(cdb_field_pointer(bad2.error())->byte, 3);
}

TEST(BufferCdbParse, DecodesReadAndWriteBuffer) {
  auto rb = parse_read_buffer_cdb(read_buffer(buffer_mode::kData, 3, 0x10, 0x200)->span());
  ASSERT_TRUE(rb.has_value());
  EXPECT_EQ(rb->mode, buffer_mode::kData);
  EXPECT_EQ(rb->buffer_id, 3);
  EXPECT_EQ(rb->buffer_offset, 0x10u);
  EXPECT_EQ(rb->length, 0x200u);
  auto wb = parse_write_buffer_cdb(
      write_buffer(buffer_mode::kDownloadMicrocodeSaveActivate, 0, 0, 0xfff)->span());
  ASSERT_TRUE(wb.has_value());
  EXPECT_EQ(wb->mode, buffer_mode::kDownloadMicrocodeSaveActivate);
  EXPECT_EQ(wb->length, 0xfffu);
  EXPECT_FALSE(parse_write_buffer_cdb(read_buffer(2, 0, 0, 0)->span()).has_value());
}

TEST(RequestSenseCdbParse, DecodesDescBit) {
  auto r = parse_request_sense_cdb(request_sense(96, SenseFormat::Descriptor).span());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->format, SenseFormat::Descriptor);
  EXPECT_EQ(r->allocation_length, 96);
}

TEST(ReadCapacity16CdbParse, RejectsOtherServiceAction) {
  auto r = parse_read_capacity16_cdb(read_capacity16(32).span());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->allocation_length, 32u);
  auto cdb = read_capacity16(32);
  cdb.bytes[1] = 0x12;  // GET LBA STATUS
  auto bad = parse_read_capacity16_cdb(cdb.span());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().sense(), kInvalidFieldInCdb);
  EXPECT_EQ(cdb_field_pointer(bad.error())->byte, 1);
}

TEST(CdbFieldPointer, AbsentForErrorsWithoutOne) {
  EXPECT_FALSE(cdb_field_pointer(Error::invalid("x")).has_value());
  EXPECT_FALSE(cdb_field_pointer(Error::from_sense({5, 0x24, 0}, "no pointer")).has_value());
  // Survives outer context added by callers.
  auto r = parse_inquiry_cdb(std::vector<std::uint8_t>{0x12, 0, 1, 0, 0, 0});
  ASSERT_FALSE(r.has_value());
  auto fp = cdb_field_pointer(r.error().with_context("emu lun 0"));
  ASSERT_TRUE(fp.has_value());
  EXPECT_EQ(fp->byte, 2);
}

TEST(CdbParse, EveryPrefixOfEveryCdbFailsCleanlyOrDecodes) {
  const std::vector<Cdb> cdbs{inquiry(InquiryData::VpdPage, 0x83, 255),
                              read16(1, 2),
                              read6(1, 2).value(),
                              read12(1, 2),
                              report_luns(SelectReport::All, 64),
                              mode_sense10(BlockDescriptors::Return, PageControl::Current, 0, 0, 8),
                              receive_diagnostic_results(PageCodeValid::Yes, 2, 100),
                              send_diagnostic(PageFormat::Standard, SelfTest::No, 8),
                              read_buffer(3, 0, 0, 4).value(),
                              write_buffer(2, 0, 0, 4).value(),
                              request_sense(18),
                              read_capacity16(32),
                              mode_select10(PageFormat::Standard, SavePages::No, 8)};
  for (const Cdb& c : cdbs) {
    test::for_each_prefix(c.span(), [&](Bytes prefix) {
      const bool whole = prefix.size() == c.len;
      // Every decoder on every prefix: a full CDB of its own kind decodes, anything else fails.
      EXPECT_EQ(parse_inquiry_cdb(prefix).has_value(), whole && c.opcode() == 0x12);
      EXPECT_EQ(parse_report_luns_cdb(prefix).has_value(), whole && c.opcode() == 0xa0);
      EXPECT_EQ(parse_read_capacity16_cdb(prefix).has_value(), whole && c.opcode() == 0x9e);
      EXPECT_EQ(parse_request_sense_cdb(prefix).has_value(), whole && c.opcode() == 0x03);
      EXPECT_EQ(parse_rw_cdb(prefix).has_value(),
                whole && (c.opcode() == 0x88 || c.opcode() == 0x08 || c.opcode() == 0xa8));
      (void)parse_mode_sense_cdb(prefix);
      (void)parse_mode_select_cdb(prefix);
      (void)parse_receive_diag_cdb(prefix);
      (void)parse_send_diag_cdb(prefix);
      (void)parse_read_buffer_cdb(prefix);
      (void)parse_write_buffer_cdb(prefix);
    });
  }
}

TEST(CdbParse, RandomBytesNeverCrash) {
  std::size_t decoded = 0;
  test::for_random_buffers(20000, 20, [&](Bytes b) {
    decoded += parse_inquiry_cdb(b).has_value() + parse_rw_cdb(b).has_value() +
               parse_report_luns_cdb(b).has_value() + parse_mode_sense_cdb(b).has_value() +
               parse_receive_diag_cdb(b).has_value() + parse_send_diag_cdb(b).has_value() +
               parse_read_buffer_cdb(b).has_value() + parse_write_buffer_cdb(b).has_value() +
               parse_request_sense_cdb(b).has_value() + parse_read_capacity16_cdb(b).has_value();
  });
  EXPECT_GT(decoded, 0u);  // some random CDBs do hit a valid opcode
}

// Oracle: sg_decode_sense --cdb names the command of each CDB we build.
TEST(CdbOracle, Sg3UtilsNamesTheCommandsWeBuild) {
  ASSERT_TRUE(test::have_tool("sg_decode_sense")) << test::missing_tool_message("sg_decode_sense");
  const std::vector<Cdb> cdbs{
      test_unit_ready(),
      request_sense(18),
      inquiry(InquiryData::VpdPage, 0x83, 255),
      report_luns(SelectReport::All, 64),
      read_capacity10(),
      read_capacity16(32),
      mode_sense6(BlockDescriptors::Disable, PageControl::Current, 8, 0, 64),
      mode_sense10(BlockDescriptors::Disable, PageControl::Current, 8, 0, 64),
      mode_select6(PageFormat::Standard, SavePages::No, 8),
      mode_select10(PageFormat::Standard, SavePages::No, 8),
      receive_diagnostic_results(PageCodeValid::Yes, 2, 100),
      send_diagnostic(PageFormat::Standard, SelfTest::No, 8),
      read_buffer(3, 0, 0, 4).value(),
      write_buffer(2, 0, 0, 4).value(),
      read10(1, 1),
      write10(1, 1),
      read12(1, 1),
      write12(1, 1),
      read16(1, 1),
      write16(1, 1)};
  for (const Cdb& c : cdbs) {
    std::vector<std::string> argv{"sg_decode_sense", "--cdb"};
    for (std::uint8_t b : c.span()) {
      argv.push_back(hex_string(Bytes(&b, 1)));
    }
    const auto r = test::run(argv);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(test::normalize(r.output).rfind(test::normalize(std::string(cdb_name(c.span()))), 0),
              0u)
        << "sg3_utils: " << r.output << " ours: " << cdb_name(c.span());
  }
}

}  // namespace
}  // namespace ucam::scsi
