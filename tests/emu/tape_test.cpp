// The SSC tape model: identity, medium states (TEST UNIT READY, REQUEST SENSE), READ BLOCK
// LIMITS, LOAD UNLOAD, PREVENT ALLOW MEDIUM REMOVAL, MODE SENSE, and the medium it shares with a
// changer's drive element (moves load and empty it; PREVENT refuses a move out).
#include "sims/emu/models/tape.h"

#include <gtest/gtest.h>

#include "scsi/cdb.h"
#include "scsi/mode.h"
#include "scsi/sense.h"
#include "scsi/smc.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

namespace smc = scsi::smc;

// A changer at target 4 whose two drives are the tape LUNs at targets 1 and 2; target 3 is a
// standalone drive with a cartridge at power on.
constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":1,"luns":[{"type":"tape","vendor":"IBM","product":"ULT3580-TD6"}]},
  {"id":2,"luns":[{"type":"tape","medium":"PRE001L6"}]},
  {"id":3,"luns":[{"type":"tape","medium":"SOLO01L6","density_code":88,
    "max_block_length":65536,"min_block_length":4}]},
  {"id":4,"luns":[{"type":"changer","slots":4,"full_slots":2,
    "drives":[{"target":1},{"target":2}]}]}]}]})";
constexpr LunAddress kTape{0, 1, 0};
constexpr LunAddress kPreloaded{0, 2, 0};
constexpr LunAddress kSolo{0, 3, 0};
constexpr LunAddress kChanger{0, 4, 0};
constexpr std::uint16_t kDrive0 = 0x0100;
constexpr std::uint16_t kDrive1 = 0x0101;
constexpr std::uint16_t kSlot0 = 0x1000;
constexpr std::uint16_t kSlot3 = 0x1003;

scsi::Cdb cdb6(std::uint8_t opcode, std::uint8_t byte1 = 0, std::uint8_t byte4 = 0) {
  scsi::Cdb c;
  c.len = 6;
  c.bytes[0] = opcode;
  c.bytes[1] = byte1;
  c.bytes[4] = byte4;
  return c;
}
scsi::Cdb rewind_cdb() {
  return cdb6(0x01);
}
scsi::Cdb read_block_limits(std::uint8_t byte1 = 0) {
  return cdb6(0x05, byte1);
}
scsi::Cdb load_unload(std::uint8_t flags) {
  return cdb6(0x1b, 0, flags);
}
scsi::Cdb prevent_allow(std::uint8_t prevent) {
  return cdb6(0x1e, 0, prevent);
}

Reply move(Harness& h, std::uint16_t from, std::uint16_t to) {
  return h.run(kChanger, smc::move_medium({0, from, to, smc::Invert::No}));
}

SenseCode request_sense(Harness& h, const LunAddress& at) {
  const Reply r = h.read(at, scsi::request_sense(252), 252);
  EXPECT_TRUE(r.good());
  return Reply::decode_sense_code(r.data);
}

const smc::ElementDescriptor* drive(Harness& h, std::uint16_t address,
                                    smc::ElementStatusData& data) {
  smc::ReadElementStatusRequest request;
  request.type = smc::ElementType::DataTransfer;
  request.voltag = smc::VolumeTags::Include;
  request.number_of_elements = 0xffff;
  request.allocation_length = 4096;
  const Reply r = h.read(kChanger, *smc::read_element_status(request), 4096);
  EXPECT_TRUE(r.good());
  auto decoded = smc::parse_element_status_data(r.data, smc::Dvcid::NotRequested);
  EXPECT_TRUE(decoded);
  data = decoded ? *decoded : smc::ElementStatusData{};
  return data.find(address);
}

class EmuTape : public ::testing::Test {
 protected:
  Harness h{kScenario};
};

TEST_F(EmuTape, InquiryReportsARemovableSequentialAccessDevice) {
  const Reply r = h.read(kTape, scsi::inquiry(scsi::InquiryData::Standard, 0, 96), 96);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data[0], 0x01);         // Peripheral device type 01h.
  EXPECT_EQ(r.data[1] & 0x80, 0x80);  // RMB.
  EXPECT_EQ(ascii(r.data, 16, 11), "ULT3580-TD6");
  const Reply vpd = h.read(kTape, scsi::inquiry(scsi::InquiryData::VpdPage, 0x83, 255), 255);
  EXPECT_TRUE(vpd.good());
}

TEST_F(EmuTape, EmptyDriveIsNotReadyWithMediumNotPresent) {
  const Reply r = h.run(kTape, scsi::test_unit_ready());
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kMediumNotPresent);
  EXPECT_EQ(h.run(kTape, rewind_cdb()).sense_code(), scsi::kMediumNotPresent);
  EXPECT_EQ(h.run(kTape, load_unload(0x01)).sense_code(), scsi::kMediumNotPresent);
  // REQUEST SENSE reports the condition that ends the next command.
  EXPECT_EQ(request_sense(h, kTape), scsi::kMediumNotPresent);
}

TEST_F(EmuTape, CartridgeAtPowerOnIsReady) {
  EXPECT_TRUE(h.run(kSolo, scsi::test_unit_ready()).good());
  EXPECT_TRUE(h.run(kSolo, rewind_cdb()).good());
  EXPECT_EQ(request_sense(h, kSolo), scsi::kNoSense);
}

TEST_F(EmuTape, ReadBlockLimitsReportsTheConfiguredLimits) {
  const Reply r = h.read(kSolo, read_block_limits(), 6);
  ASSERT_TRUE(r.good());
  ASSERT_EQ(r.data.size(), 6U);
  EXPECT_EQ(r.data[0], 0x00);
  EXPECT_EQ((r.data[1] << 16) | (r.data[2] << 8) | r.data[3], 65536);
  EXPECT_EQ((r.data[4] << 8) | r.data[5], 4);
  // Without a medium too, with the defaults (8 MiB, 1).
  const Reply d = h.read(kTape, read_block_limits(), 6);
  ASSERT_TRUE(d.good());
  EXPECT_EQ((d.data[1] << 16) | (d.data[2] << 8) | d.data[3], 8388608);
  EXPECT_EQ((d.data[4] << 8) | d.data[5], 1);
  // MLOI (maximum logical object identifier) is not supported.
  const Reply mloi = h.read(kSolo, read_block_limits(0x01), 20);
  EXPECT_EQ(mloi.sense_code(), scsi::kInvalidFieldInCdb);
}

TEST_F(EmuTape, UnloadEjectsAndLoadThreadsAgain) {
  ASSERT_TRUE(h.run(kSolo, load_unload(0x00)).good());
  const Reply r = h.run(kSolo, scsi::test_unit_ready());
  EXPECT_EQ(r.sense_code(), scsi::kInitializingCommandRequired);
  EXPECT_EQ(request_sense(h, kSolo), scsi::kInitializingCommandRequired);
  ASSERT_TRUE(h.run(kSolo, load_unload(0x01)).good());
  EXPECT_TRUE(h.run(kSolo, scsi::test_unit_ready()).good());
  // LOAD with EOT is an invalid combination.
  EXPECT_EQ(h.run(kSolo, load_unload(0x05)).sense_code(), scsi::kInvalidFieldInCdb);
}

TEST_F(EmuTape, PreventRefusesUnloadUntilAllowed) {
  ASSERT_TRUE(h.run(kSolo, prevent_allow(1)).good());
  EXPECT_EQ(h.run(kSolo, load_unload(0x00)).sense_code(), scsi::kMediumRemovalPrevented);
  EXPECT_TRUE(h.run(kSolo, scsi::test_unit_ready()).good());  // Still loaded.
  ASSERT_TRUE(h.run(kSolo, prevent_allow(0)).good());
  EXPECT_TRUE(h.run(kSolo, load_unload(0x00)).good());
  EXPECT_EQ(h.run(kSolo, prevent_allow(2)).sense_code(), scsi::kInvalidFieldInCdb);
}

TEST_F(EmuTape, ModeSenseHasABlockDescriptorWithTheDensity) {
  for (bool ten : {false, true}) {
    const Reply r = ten ? h.read(kSolo,
                                 scsi::mode_sense10(scsi::BlockDescriptors::Return,
                                                    scsi::PageControl::Current, 0x3f, 0, 255),
                                 255)
                        : h.read(kSolo,
                                 scsi::mode_sense6(scsi::BlockDescriptors::Return,
                                                   scsi::PageControl::Current, 0x3f, 0, 255),
                                 255);
    ASSERT_TRUE(r.good()) << ten;
    auto data = scsi::parse_mode_sense_data(
        r.data, ten ? scsi::ModeHeaderFormat::Ten : scsi::ModeHeaderFormat::Six);
    ASSERT_TRUE(data) << data.error().message();
    ASSERT_EQ(data->block_descriptors.size(), 1U);
    EXPECT_EQ(data->block_descriptors[0].density_code, 88);
    EXPECT_EQ(data->block_descriptors[0].block_length, 0U);  // Variable.
    EXPECT_EQ(data->device_specific & 0x70, 0x10);           // Buffered mode 1.
    EXPECT_NE(scsi::find_mode_page(*data, 0x0a), nullptr);
  }
  // Without a cartridge the density is 0.
  const Reply empty = h.read(
      kTape,
      scsi::mode_sense6(scsi::BlockDescriptors::Return, scsi::PageControl::Current, 0x0a, 0, 255),
      255);
  ASSERT_TRUE(empty.good());
  auto data = scsi::parse_mode_sense_data(empty.data, scsi::ModeHeaderFormat::Six);
  ASSERT_TRUE(data);
  ASSERT_EQ(data->block_descriptors.size(), 1U);
  EXPECT_EQ(data->block_descriptors[0].density_code, 0);
}

TEST_F(EmuTape, DataCommandsAreRefusedAsUnsupported) {
  const Reply r = h.read(kSolo, cdb6(0x08, 0x01, 1), 512);  // READ(6), fixed, 1 block.
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidOpcode);
}

TEST_F(EmuTape, MoveIntoTheDriveLoadsTheTapeLunWithAUnitAttention) {
  ASSERT_TRUE(move(h, kSlot0, kDrive0).good());
  // The first command after the load reports NOT READY TO READY CHANGE, then it is ready.
  const Reply first = h.run(kTape, scsi::test_unit_ready());
  ASSERT_TRUE(first.check_condition());
  EXPECT_EQ(first.sense_code(), scsi::kMediumMayHaveChanged);
  EXPECT_TRUE(h.run(kTape, scsi::test_unit_ready()).good());
  auto changer = h.emu->changer(kChanger);
  ASSERT_TRUE(changer);
  smc::ElementStatusData data;
  const auto* d = drive(h, kDrive0, data);
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->full);
  EXPECT_EQ(d->primary_tag->identifier, "UCAM001L6");
}

TEST_F(EmuTape, MoveOutOfTheDriveEmptiesTheTapeLun) {
  ASSERT_TRUE(move(h, kSlot0, kDrive0).good());
  (void)h.run(kTape, scsi::test_unit_ready());  // Consume the UNIT ATTENTION.
  // Loaded, not unloaded: the library unloads it itself.
  ASSERT_TRUE(move(h, kDrive0, kSlot3).good());
  EXPECT_EQ(h.run(kTape, scsi::test_unit_ready()).sense_code(), scsi::kMediumNotPresent);
  // Unloaded first: the same.
  ASSERT_TRUE(move(h, kSlot3, kDrive0).good());
  (void)h.run(kTape, scsi::test_unit_ready());
  ASSERT_TRUE(h.run(kTape, load_unload(0x00)).good());
  ASSERT_TRUE(move(h, kDrive0, kSlot0).good());
  EXPECT_EQ(h.run(kTape, scsi::test_unit_ready()).sense_code(), scsi::kMediumNotPresent);
}

TEST_F(EmuTape, PreventOnTheTapeLunRefusesTheMoveOut) {
  ASSERT_TRUE(move(h, kSlot0, kDrive0).good());
  (void)h.run(kTape, scsi::test_unit_ready());
  ASSERT_TRUE(h.run(kTape, prevent_allow(1)).good());
  const Reply r = move(h, kDrive0, kSlot3);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kRemovalPreventedByDrive);
  EXPECT_TRUE(h.run(kTape, scsi::test_unit_ready()).good());  // Still loaded.
  // EXCHANGE is refused the same way.
  const Reply x = h.run(kChanger, smc::exchange_medium({0, kDrive0, 0x1001, kDrive0}));
  EXPECT_EQ(x.sense_code(), scsi::kRemovalPreventedByDrive);
  ASSERT_TRUE(h.run(kTape, prevent_allow(0)).good());
  EXPECT_TRUE(move(h, kDrive0, kSlot3).good());
}

TEST_F(EmuTape, CartridgeAtPowerOnShowsInTheLinkedDrive) {
  smc::ElementStatusData data;
  const auto* d = drive(h, kDrive1, data);
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->full);
  EXPECT_EQ(d->primary_tag->identifier, "PRE001L6");
  EXPECT_TRUE(h.run(kPreloaded, scsi::test_unit_ready()).good());
  ASSERT_TRUE(move(h, kDrive1, kSlot3).good());
  EXPECT_EQ(h.run(kPreloaded, scsi::test_unit_ready()).sense_code(), scsi::kMediumNotPresent);
}

TEST_F(EmuTape, ExchangeSwapsTheCartridgeInTheDrive) {
  ASSERT_TRUE(move(h, kSlot0, kDrive0).good());
  (void)h.run(kTape, scsi::test_unit_ready());
  // Slot 1's medium into drive 0, drive 0's medium to slot 1.
  ASSERT_TRUE(h.run(kChanger, smc::exchange_medium({0, 0x1001, kDrive0, 0x1001})).good());
  auto* changer = *h.emu->changer(kChanger);
  ASSERT_NE(changer, nullptr);
  EXPECT_EQ(h.run(kTape, scsi::test_unit_ready()).sense_code(), scsi::kMediumMayHaveChanged);
  EXPECT_TRUE(h.run(kTape, scsi::test_unit_ready()).good());
  smc::ElementStatusData data;
  const auto* d = drive(h, kDrive0, data);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->primary_tag->identifier, "UCAM002L6");
}

TEST(EmuTapeMultipath, EveryPathOfTheLoadedDriveGetsTheUnitAttention) {
  // One dual-ported drive (same NAA at targets 1 and 2); the changer names the first port.
  Harness h{R"({"buses":[{"targets":[
    {"id":1,"luns":[{"type":"tape","naa":"5000c50000000701"}]},
    {"id":2,"luns":[{"type":"tape","naa":"5000c50000000701"}]},
    {"id":4,"luns":[{"type":"changer","slots":2,"full_slots":1,"drives":[{"target":1}]}]}]}]})"};
  ASSERT_TRUE(h.emu);
  ASSERT_TRUE(move(h, kSlot0, kDrive0).good());
  for (const LunAddress& port : {LunAddress{0, 1, 0}, LunAddress{0, 2, 0}}) {
    EXPECT_EQ(h.run(port, scsi::test_unit_ready()).sense_code(), scsi::kMediumMayHaveChanged)
        << port.target;
    EXPECT_TRUE(h.run(port, scsi::test_unit_ready()).good()) << port.target;
  }
}

TEST(EmuTapeScenario, BadFieldsAreRefused) {
  for (const char* lun :
       {R"({"type":"tape","density_code":256})", R"({"type":"tape","max_block_length":0})",
        R"({"type":"tape","min_block_length":9,"max_block_length":8})",
        R"({"type":"tape","medium":"0123456789012345678901234567890123"})",
        R"({"type":"tape","mediums":"X"})"}) {
    const std::string json =
        std::string(R"({"buses":[{"targets":[{"id":4,"luns":[)") + lun + "]}]}]}";
    EXPECT_FALSE(parse_scenario(json, "test.json")) << lun;
  }
}

}  // namespace
}  // namespace ucam::emu::testing
