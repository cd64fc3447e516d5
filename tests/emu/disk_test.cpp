// The SBC disk model and the SPC core, command by command, through the emulated SIM.
#include <gtest/gtest.h>

#include <numeric>

#include "scsi/cdb.h"
#include "scsi/opcodes.h"
#include "scsi/sense.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

using cam::DataDir;

constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":0,"sas_address":"5acde48100000000","relative_target_port":2,"luns":[
    {"lun":0,"vendor":"ACME","product":"AX4000S","revision":"A110","serial":"AX4S0001",
     "naa":"5acde48000000a01","capacity":1000},
    {"lun":1,"capacity":5000000000,"block_size":4096,"sense_format":"descriptor",
     "write_cache":false}]},
  {"id":1,"luns":[{"lun":1},{"lun":2}]}
]}]})";

constexpr LunAddress kDisk{0, 0, 0};
constexpr LunAddress kBigDisk{0, 0, 1};

std::vector<std::uint8_t> pattern(std::size_t length, std::uint8_t seed) {
  std::vector<std::uint8_t> data(length);
  for (std::size_t i = 0; i < length; ++i) {
    data[i] = static_cast<std::uint8_t>(seed + i * 7 + (i >> 8));
  }
  return data;
}

class EmuDisk : public ::testing::Test {
 protected:
  Harness h{kScenario};
};

// --- INQUIRY and VPD --------------------------------------------------------------------------

TEST_F(EmuDisk, InquiryReportsIdentityAndType) {
  const Reply r = h.read(kDisk, scsi::inquiry(scsi::InquiryData::Standard, 0, 255), 255);
  ASSERT_TRUE(r.good());
  ASSERT_GE(r.data.size(), 36U);
  EXPECT_EQ(r.data[0], 0x00);      // Qualifier 0, direct access block device.
  EXPECT_EQ(r.data[1] & 0x80, 0);  // Not removable.
  EXPECT_EQ(r.data[3] & 0x0f, 2);  // Response data format 2.
  EXPECT_EQ(r.data[4] + 5U, r.data.size());
  EXPECT_EQ(ascii(r.data, 8, 8), "ACME    ");
  EXPECT_EQ(ascii(r.data, 16, 16), "AX4000S         ");
  EXPECT_EQ(ascii(r.data, 32, 4), "A110");
  EXPECT_EQ(r.resid, 255U - r.data.size());
}

TEST_F(EmuDisk, InquiryHonoursAllocationLength) {
  const Reply r = h.read(kDisk, scsi::inquiry(scsi::InquiryData::Standard, 0, 5), 64);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 5U);
  EXPECT_EQ(r.resid, 59U);
}

TEST_F(EmuDisk, InquiryHonoursDxferLen) {
  const Reply r = h.read(kDisk, scsi::inquiry(scsi::InquiryData::Standard, 0, 255), 10);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 10U);
  EXPECT_EQ(r.resid, 0U);
}

TEST_F(EmuDisk, InquiryPageCodeWithoutEvpdIsInvalidField) {
  const Reply r = h.read(kDisk, raw_cdb({0x12, 0x00, 0x80, 0x00, 0xff, 0x00}), 255);
  ASSERT_TRUE(r.check_condition());
  EXPECT_TRUE(r.autosense_valid);
  EXPECT_EQ(r.sense_code(), scsi::kInvalidFieldInCdb);
  ASSERT_TRUE(r.field_pointer());
  EXPECT_EQ(r.field_pointer()->byte, 2);
}

TEST_F(EmuDisk, SupportedVpdPagesListsTheCorePages) {
  const Reply r = h.read(kDisk, scsi::inquiry(scsi::InquiryData::VpdPage, 0x00, 255), 255);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, (std::vector<std::uint8_t>{0x00, 0x00, 0x00, 0x03, 0x00, 0x80, 0x83}));
}

TEST_F(EmuDisk, UnitSerialNumberPage) {
  const Reply r = h.read(kDisk, scsi::inquiry(scsi::InquiryData::VpdPage, 0x80, 255), 255);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 4U + 8U);
  EXPECT_EQ(r.data[1], 0x80);
  EXPECT_EQ(r.data[3], 8);
  EXPECT_EQ(ascii(r.data, 4, 8), "AX4S0001");
}

// SPC-5 7.7.6: LU NAA; target port NAA (PIV=1, SAS, association 1); relative target port.
TEST_F(EmuDisk, DeviceIdentificationNamesTheLuAndTheSasTargetPort) {
  const Reply r = h.read(kDisk, scsi::inquiry(scsi::InquiryData::VpdPage, 0x83, 255), 255);
  ASSERT_TRUE(r.good());
  ASSERT_GE(r.data.size(), 4U);
  EXPECT_EQ(r.data[1], 0x83);
  EXPECT_EQ(std::size_t{r.data[2]} << 8 | r.data[3], r.data.size() - 4);
  const std::vector<std::uint8_t> expected = {
      // LU: binary, association 0, NAA, 8 bytes.
      0x01, 0x03, 0x00, 0x08, 0x5a, 0xcd, 0xe4, 0x80, 0x00, 0x00, 0x0a, 0x01,
      // Target port: SAS (6), binary; PIV, association 1, NAA; 8 bytes.
      0x61, 0x93, 0x00, 0x08, 0x5a, 0xcd, 0xe4, 0x81, 0x00, 0x00, 0x00, 0x00,
      // Relative target port 2: SAS, binary; PIV, association 1, type 4; 4 bytes.
      0x61, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02};
  EXPECT_EQ(std::vector<std::uint8_t>(r.data.begin() + 4, r.data.end()), expected);
}

TEST_F(EmuDisk, UnsupportedVpdPageIsInvalidField) {
  const Reply r = h.read(kDisk, scsi::inquiry(scsi::InquiryData::VpdPage, 0xb0, 255), 255);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidFieldInCdb);
  ASSERT_TRUE(r.field_pointer());
  EXPECT_EQ(r.field_pointer()->byte, 2);
}

// --- READ CAPACITY ----------------------------------------------------------------------------

TEST_F(EmuDisk, ReadCapacity10ReportsLastLbaAndBlockLength) {
  const Reply r = h.read(kDisk, scsi::read_capacity10(), 8);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, (std::vector<std::uint8_t>{0, 0, 0x03, 0xe7, 0, 0, 0x02, 0x00}));
}

TEST_F(EmuDisk, ReadCapacity10SaturatesAboveFourGigablocks) {
  const Reply r = h.read(kBigDisk, scsi::read_capacity10(), 8);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, (std::vector<std::uint8_t>{0xff, 0xff, 0xff, 0xff, 0, 0, 0x10, 0x00}));
}

TEST_F(EmuDisk, ReadCapacity10WithLbaAndNoPmiIsInvalidField) {
  const Reply r = h.read(kDisk, raw_cdb({0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0}), 8);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidFieldInCdb);
}

TEST_F(EmuDisk, ReadCapacity16ReportsTheFullCapacity) {
  const Reply r = h.read(kBigDisk, scsi::read_capacity16(32), 32);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 32U);
  EXPECT_EQ(load_be64(r.data, 0), 5000000000ULL - 1);
  EXPECT_EQ(load_be32(r.data, 8), 4096U);
}

TEST_F(EmuDisk, ReadCapacity16HonoursAllocationLength) {
  const Reply r = h.read(kDisk, scsi::read_capacity16(12), 32);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 12U);
  EXPECT_EQ(r.resid, 20U);
  EXPECT_EQ(load_be64(r.data, 0), 999U);
}

TEST_F(EmuDisk, OtherServiceActionInIsInvalidField) {
  const Reply r =
      h.read(kDisk, raw_cdb({0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}), 32);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code().key, 0x05);
}

// --- Simple commands --------------------------------------------------------------------------

TEST_F(EmuDisk, TestUnitReadyIsGood) {
  const Reply r = h.run(kDisk, scsi::test_unit_ready());
  EXPECT_TRUE(r.good());
  EXPECT_EQ(r.resid, 0U);
  EXPECT_TRUE(r.sense.empty());
}

TEST_F(EmuDisk, SynchronizeCacheAndStartStopUnitAreGood) {
  EXPECT_TRUE(h.run(kDisk, raw_cdb({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0})).good());
  EXPECT_TRUE(h.run(kDisk, raw_cdb({0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})).good());
  EXPECT_TRUE(h.run(kDisk, raw_cdb({0x1b, 0, 0, 0, 1, 0})).good());
}

TEST_F(EmuDisk, UnsupportedOpcodeIsInvalidCommandOperationCode) {
  for (const std::uint8_t opcode : {0x04, 0xc0, 0x1c, 0x15}) {
    const Reply r = h.read(kDisk, raw_cdb({opcode, 0, 0, 0, 0, 0}), 16);
    ASSERT_TRUE(r.check_condition()) << int{opcode};
    EXPECT_EQ(r.sense_code(), scsi::kInvalidOpcode) << int{opcode};
    EXPECT_EQ(r.resid, 16U);
  }
}

TEST_F(EmuDisk, RequestSenseWithNothingPendingIsNoSense) {
  const Reply fixed = h.read(kDisk, scsi::request_sense(252), 252);
  ASSERT_TRUE(fixed.good());
  ASSERT_EQ(fixed.data.size(), 18U);
  EXPECT_EQ(fixed.data[0], 0x70);
  EXPECT_EQ(Reply::decode_sense_code(fixed.data), (SenseCode{0, 0, 0}));
  const Reply descriptor =
      h.read(kDisk, scsi::request_sense(252, scsi::SenseFormat::Descriptor), 252);
  ASSERT_TRUE(descriptor.good());
  ASSERT_EQ(descriptor.data.size(), 8U);
  EXPECT_EQ(descriptor.data[0], 0x72);
}

TEST_F(EmuDisk, RequestSenseHonoursAllocationLength) {
  const Reply r = h.read(kDisk, scsi::request_sense(8), 252);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 8U);
}

TEST_F(EmuDisk, DescriptorSenseLunReportsDescriptorAutosense) {
  const Reply fixed = h.read(kDisk, raw_cdb({0xc0, 0, 0, 0, 0, 0}), 0);
  EXPECT_FALSE(fixed.descriptor_sense());
  EXPECT_EQ(fixed.sense.size(), 18U);
  const Reply r = h.read(kBigDisk, raw_cdb({0xc0, 0, 0, 0, 0, 0}), 0);
  ASSERT_TRUE(r.check_condition());
  EXPECT_TRUE(r.descriptor_sense());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidOpcode);
}

TEST_F(EmuDisk, DescriptorSenseCarriesTheFieldPointer) {
  const Reply r = h.read(kBigDisk, raw_cdb({0x12, 0x00, 0x80, 0x00, 0xff, 0x00}), 255);
  ASSERT_TRUE(r.check_condition());
  ASSERT_TRUE(r.descriptor_sense());
  ASSERT_TRUE(r.field_pointer());
  EXPECT_EQ(r.field_pointer()->byte, 2);
}

// --- REPORT LUNS ------------------------------------------------------------------------------

std::vector<std::uint64_t> reported_luns(const Reply& r) {
  std::vector<std::uint64_t> luns;
  if (r.data.size() < 8) {
    return luns;
  }
  const std::uint32_t length = load_be32(r.data, 0);
  for (std::size_t at = 8; at + 8 <= r.data.size() && at < 8 + length; at += 8) {
    luns.push_back(load_be64(r.data, at));
  }
  return luns;
}

TEST_F(EmuDisk, ReportLunsListsTheTargetsLuns) {
  const Reply r = h.read(kDisk, scsi::report_luns(scsi::SelectReport::LogicalUnits, 4096), 4096);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(load_be32(r.data, 0), 16U);
  // Peripheral device addressing: LUN n is 00 nn 00 00 00 00 00 00.
  EXPECT_EQ(reported_luns(r), (std::vector<std::uint64_t>{0, 0x0001000000000000ULL}));
}

TEST_F(EmuDisk, ReportLunsWellKnownSelectionIsEmpty) {
  const Reply r = h.read(kDisk, scsi::report_luns(scsi::SelectReport::WellKnown, 4096), 4096);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(load_be32(r.data, 0), 0U);
}

TEST_F(EmuDisk, ReportLunsHonoursAllocationLength) {
  const Reply r = h.read(kDisk, scsi::report_luns(scsi::SelectReport::All, 16), 4096);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 16U);
  EXPECT_EQ(load_be32(r.data, 0), 16U);  // The list length still counts both LUNs.
}

TEST_F(EmuDisk, ReportLunsIsAnsweredByAnAbsentLunZero) {
  const Reply r =
      h.read({0, 1, 0}, scsi::report_luns(scsi::SelectReport::LogicalUnits, 4096), 4096);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(reported_luns(r),
            (std::vector<std::uint64_t>{0x0001000000000000ULL, 0x0002000000000000ULL}));
}

TEST_F(EmuDisk, ReportLunsToAnAbsentNonZeroLunIsLunNotSupported) {
  const Reply r =
      h.read({0, 1, 9}, scsi::report_luns(scsi::SelectReport::LogicalUnits, 4096), 4096);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x25, 0x00}));
}

// --- READ / WRITE -----------------------------------------------------------------------------

TEST_F(EmuDisk, ReadsBackWhatWasWritten) {
  const auto data = pattern(3 * 512, 0x11);
  ASSERT_TRUE(h.write(kDisk, scsi::write10(17, 3), data).good());
  const Reply r = h.read(kDisk, scsi::read10(17, 3), 3 * 512);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, data);
  EXPECT_EQ(r.resid, 0U);
}

TEST_F(EmuDisk, UnwrittenBlocksReadAsZeros) {
  ASSERT_TRUE(h.write(kDisk, scsi::write10(10, 1), pattern(512, 1)).good());
  const Reply r = h.read(kDisk, scsi::read10(11, 2), 1024);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, std::vector<std::uint8_t>(1024, 0));
}

struct RwForm {
  const char* name;
  scsi::Cdb (*write)(std::uint32_t lba, std::uint16_t blocks);
  scsi::Cdb (*read)(std::uint32_t lba, std::uint16_t blocks);
};

const RwForm kForms[] = {
    {"6", [](std::uint32_t lba, std::uint16_t n) { return *scsi::write6(lba, n); },
     [](std::uint32_t lba, std::uint16_t n) { return *scsi::read6(lba, n); }},
    {"10", [](std::uint32_t lba, std::uint16_t n) { return scsi::write10(lba, n); },
     [](std::uint32_t lba, std::uint16_t n) { return scsi::read10(lba, n); }},
    {"12", [](std::uint32_t lba, std::uint16_t n) { return scsi::write12(lba, n); },
     [](std::uint32_t lba, std::uint16_t n) { return scsi::read12(lba, n); }},
    {"16", [](std::uint32_t lba, std::uint16_t n) { return scsi::write16(lba, n); },
     [](std::uint32_t lba, std::uint16_t n) { return scsi::read16(lba, n); }},
};

TEST_F(EmuDisk, EveryReadWriteFormAddressesTheSameBlocks) {
  std::uint8_t seed = 1;
  for (const auto& write : kForms) {
    const std::uint32_t lba = 100 + seed * 4;
    const auto data = pattern(2 * 512, seed);
    ASSERT_TRUE(h.write(kDisk, write.write(lba, 2), data).good()) << write.name;
    for (const auto& read : kForms) {
      const Reply r = h.read(kDisk, read.read(lba, 2), 1024);
      ASSERT_TRUE(r.good()) << write.name << "/" << read.name;
      EXPECT_EQ(r.data, data) << "WRITE(" << write.name << ") READ(" << read.name << ")";
    }
    ++seed;
  }
}

TEST_F(EmuDisk, Read6LengthZeroMeansTwoHundredFiftySixBlocks) {
  const Reply r = h.read(kDisk, raw_cdb({0x08, 0, 0, 0, 0, 0}), 256 * 512);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 256U * 512U);
  EXPECT_EQ(r.resid, 0U);
}

TEST_F(EmuDisk, LastBlockIsAddressable) {
  const auto data = pattern(512, 9);
  ASSERT_TRUE(h.write(kDisk, scsi::write16(999, 1), data).good());
  const Reply r = h.read(kDisk, scsi::read16(999, 1), 512);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, data);
}

TEST_F(EmuDisk, AccessBeyondCapacityIsLbaOutOfRange) {
  struct Case {
    const char* name;
    scsi::Cdb cdb;
    DataDir dir;
  };
  const Case cases[] = {
      {"read past end", scsi::read10(999, 2), DataDir::In},
      {"read at capacity", scsi::read10(1000, 1), DataDir::In},
      {"write past end", scsi::write16(998, 3), DataDir::Out},
      {"huge lba", scsi::read16(~0ULL, 1), DataDir::In},
      {"lba + length wraps", scsi::read16(~0ULL - 1, 0xffffffffU), DataDir::In},
  };
  for (const auto& c : cases) {
    const Reply r = h.run(kDisk, c.cdb, c.dir, std::vector<std::uint8_t>(4 * 512, 0));
    ASSERT_TRUE(r.check_condition()) << c.name;
    EXPECT_EQ(r.sense_code(), scsi::kLbaOutOfRange) << c.name;
    EXPECT_EQ(r.resid, 4U * 512U) << c.name;
  }
}

TEST_F(EmuDisk, OutOfRangeWriteLeavesTheMediumAlone) {
  ASSERT_TRUE(h.write(kDisk, scsi::write10(998, 3), pattern(3 * 512, 5)).check_condition());
  const Reply r = h.read(kDisk, scsi::read10(998, 2), 1024);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, std::vector<std::uint8_t>(1024, 0));
}

TEST_F(EmuDisk, ZeroLengthTransfersAreGood) {
  EXPECT_TRUE(h.read(kDisk, scsi::read10(5, 0), 0).good());
  EXPECT_TRUE(h.write(kDisk, scsi::write10(1000, 0), {}).good());
}

TEST_F(EmuDisk, ReadHonoursDxferLen) {
  const auto data = pattern(4 * 512, 3);
  ASSERT_TRUE(h.write(kDisk, scsi::write10(0, 4), data).good());
  const Reply r = h.read(kDisk, scsi::read10(0, 4), 1000);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, std::vector<std::uint8_t>(data.begin(), data.begin() + 1000));
  EXPECT_EQ(r.resid, 0U);
}

TEST_F(EmuDisk, ShortDataOutIsAnUnderrunAndWritesNothing) {
  const Reply r = h.write(kDisk, scsi::write10(50, 2), pattern(700, 1));
  EXPECT_EQ(r.status, CamStatus::DataRunErr);
  const Reply back = h.read(kDisk, scsi::read10(50, 2), 1024);
  EXPECT_EQ(back.data, std::vector<std::uint8_t>(1024, 0));
}

TEST_F(EmuDisk, ProtectionFieldIsInvalidField) {
  const Reply r = h.read(kDisk, raw_cdb({0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0}), 512);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidFieldInCdb);
  ASSERT_TRUE(r.field_pointer());
  EXPECT_EQ(r.field_pointer()->byte, 1);
  EXPECT_EQ(r.field_pointer()->bit, 7);
}

TEST_F(EmuDisk, LargeBlockDiskStoresWholeBlocks) {
  const auto data = pattern(2 * 4096, 0x40);
  ASSERT_TRUE(h.write(kBigDisk, scsi::write16(4'999'999'998ULL, 2), data).good());
  const Reply r = h.read(kBigDisk, scsi::read16(4'999'999'998ULL, 2), 2 * 4096);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data, data);
}

// --- MODE SENSE -------------------------------------------------------------------------------

TEST_F(EmuDisk, ModeSense6CachingPageWithBlockDescriptor) {
  const Reply r = h.read(
      kDisk,
      scsi::mode_sense6(scsi::BlockDescriptors::Return, scsi::PageControl::Current, 0x08, 0, 255),
      255);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 4U + 8U + 20U);
  EXPECT_EQ(r.data[0], r.data.size() - 1);
  EXPECT_EQ(r.data[3], 8);                 // Block descriptor length.
  EXPECT_EQ(load_be32(r.data, 4), 1000U);  // Number of blocks.
  EXPECT_EQ(load_be24(r.data, 9), 512U);   // Block length.
  EXPECT_EQ(r.data[12], 0x08);             // Caching page.
  EXPECT_EQ(r.data[13], 0x12);
  EXPECT_EQ(r.data[14] & 0x04, 0x04);  // WCE.
}

TEST_F(EmuDisk, ModeSenseCachingPageShowsWriteCacheDisabled) {
  const Reply r = h.read(
      kBigDisk,
      scsi::mode_sense6(scsi::BlockDescriptors::Disable, scsi::PageControl::Current, 0x08, 0, 255),
      255);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 4U + 20U);
  EXPECT_EQ(r.data[3], 0);
  EXPECT_EQ(r.data[4], 0x08);
  EXPECT_EQ(r.data[6] & 0x04, 0);
}

TEST_F(EmuDisk, ModeSense10AllPagesWithLongLbaDescriptor) {
  const Reply r =
      h.read(kBigDisk,
             scsi::mode_sense10(scsi::BlockDescriptors::Return, scsi::PageControl::Current, 0x3f, 0,
                                1024, scsi::LongLba::Accepted),
             1024);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 8U + 16U + 20U + 12U);
  EXPECT_EQ(load_be16(r.data, 0), r.data.size() - 2);
  EXPECT_EQ(r.data[4] & 0x01, 0x01);  // LONGLBA.
  EXPECT_EQ(load_be16(r.data, 6), 16U);
  EXPECT_EQ(load_be64(r.data, 8), 5000000000ULL);
  EXPECT_EQ(load_be32(r.data, 20), 4096U);
  EXPECT_EQ(r.data[24], 0x08);  // Pages in ascending order.
  EXPECT_EQ(r.data[44], 0x0a);
  EXPECT_EQ(r.data[46] & 0x04, 0x04);  // D_SENSE: this LUN uses descriptor sense.
}

TEST_F(EmuDisk, ModeSense10ShortDescriptorSaturates) {
  const Reply r = h.read(
      kBigDisk,
      scsi::mode_sense10(scsi::BlockDescriptors::Return, scsi::PageControl::Current, 0x0a, 0, 1024),
      1024);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(load_be16(r.data, 6), 8U);
  EXPECT_EQ(load_be32(r.data, 8), 0xffffffffU);
  EXPECT_EQ(r.data[16], 0x0a);
}

TEST_F(EmuDisk, ControlPageDSenseIsClearForFixedSense) {
  const Reply r = h.read(
      kDisk,
      scsi::mode_sense6(scsi::BlockDescriptors::Disable, scsi::PageControl::Current, 0x0a, 0, 255),
      255);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 4U + 12U);
  EXPECT_EQ(r.data[4], 0x0a);
  EXPECT_EQ(r.data[5], 0x0a);
  EXPECT_EQ(r.data[6] & 0x04, 0);
}

TEST_F(EmuDisk, ModeSenseChangeableValuesAreZero) {
  const Reply r = h.read(kDisk,
                         scsi::mode_sense6(scsi::BlockDescriptors::Disable,
                                           scsi::PageControl::Changeable, 0x3f, 0, 255),
                         255);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 4U + 20U + 12U);
  EXPECT_EQ(r.data[4], 0x08);
  EXPECT_TRUE(std::all_of(r.data.begin() + 6, r.data.begin() + 24, [](auto b) { return b == 0; }));
  EXPECT_EQ(r.data[24], 0x0a);
  EXPECT_TRUE(std::all_of(r.data.begin() + 26, r.data.end(), [](auto b) { return b == 0; }));
}

TEST_F(EmuDisk, ModeSenseAllSubpagesReturnsEveryPage) {
  const Reply r = h.read(kDisk,
                         scsi::mode_sense6(scsi::BlockDescriptors::Disable,
                                           scsi::PageControl::Default, 0x3f, 0xff, 255),
                         255);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 4U + 20U + 12U);
}

TEST_F(EmuDisk, ModeSenseSavedValuesAreNotSupported) {
  const Reply r = h.read(
      kDisk,
      scsi::mode_sense6(scsi::BlockDescriptors::Return, scsi::PageControl::Saved, 0x08, 0, 255),
      255);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x39, 0x00}));
}

TEST_F(EmuDisk, ModeSenseUnknownPageOrSubpageIsInvalidField) {
  const Reply page = h.read(
      kDisk,
      scsi::mode_sense6(scsi::BlockDescriptors::Return, scsi::PageControl::Current, 0x1c, 0, 255),
      255);
  ASSERT_TRUE(page.check_condition());
  EXPECT_EQ(page.sense_code(), scsi::kInvalidFieldInCdb);
  ASSERT_TRUE(page.field_pointer());
  EXPECT_EQ(page.field_pointer()->byte, 2);
  const Reply subpage = h.read(
      kDisk,
      scsi::mode_sense6(scsi::BlockDescriptors::Return, scsi::PageControl::Current, 0x08, 1, 255),
      255);
  ASSERT_TRUE(subpage.check_condition());
  ASSERT_TRUE(subpage.field_pointer());
  EXPECT_EQ(subpage.field_pointer()->byte, 3);
}

TEST_F(EmuDisk, ModeSenseHonoursAllocationLength) {
  const Reply r = h.read(
      kDisk,
      scsi::mode_sense6(scsi::BlockDescriptors::Return, scsi::PageControl::Current, 0x3f, 0, 4),
      255);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data.size(), 4U);
  EXPECT_EQ(r.data[0], 4 + 8 + 20 + 12 - 1);  // The header still describes all the data.
}

}  // namespace
}  // namespace ucam::emu::testing
