#include "scsi/opcodes.h"

#include <gtest/gtest.h>

namespace ucam::scsi {
namespace {

TEST(CdbLength, FollowsGroupCode) {
  EXPECT_EQ(cdb_length(0x00), 6);  // group 0
  EXPECT_EQ(cdb_length(0x1f), 6);
  EXPECT_EQ(cdb_length(0x25), 10);  // group 1
  EXPECT_EQ(cdb_length(0x5a), 10);  // group 2
  EXPECT_EQ(cdb_length(0x7f), 0);   // group 3: variable length
  EXPECT_EQ(cdb_length(0x88), 16);  // group 4
  EXPECT_EQ(cdb_length(0x9e), 16);
  EXPECT_EQ(cdb_length(0xa0), 12);  // group 5
  EXPECT_EQ(cdb_length(0xb8), 12);
  EXPECT_EQ(cdb_length(0xc0), 0);  // vendor specific
  EXPECT_EQ(cdb_length(0xff), 0);
}

TEST(CdbLength, MatchesEveryNamedOpcode) {
  for (Opcode op : {Opcode::TestUnitReady, Opcode::Inquiry, Opcode::ReceiveDiagnosticResults,
                    Opcode::InitializeElementStatus}) {
    EXPECT_EQ(cdb_length(static_cast<std::uint8_t>(op)), 6);
  }
  for (Opcode op : {Opcode::ReadCapacity10, Opcode::Read10, Opcode::WriteBuffer, Opcode::ReadBuffer,
                    Opcode::ModeSense10, Opcode::PositionToElement}) {
    EXPECT_EQ(cdb_length(static_cast<std::uint8_t>(op)), 10);
  }
  for (Opcode op : {Opcode::ReportLuns, Opcode::Read12, Opcode::MoveMedium, Opcode::ExchangeMedium,
                    Opcode::ReadElementStatus}) {
    EXPECT_EQ(cdb_length(static_cast<std::uint8_t>(op)), 12);
  }
  for (Opcode op : {Opcode::Read16, Opcode::Write16, Opcode::ServiceActionIn16}) {
    EXPECT_EQ(cdb_length(static_cast<std::uint8_t>(op)), 16);
  }
}

TEST(OpcodeName, NamesCommandsAsTheStandardsSpellThem) {
  EXPECT_EQ(opcode_name(Opcode::Inquiry), "INQUIRY");
  EXPECT_EQ(opcode_name(0x1c), "RECEIVE DIAGNOSTIC RESULTS");
  EXPECT_EQ(opcode_name(Opcode::ServiceActionIn16), "SERVICE ACTION IN(16)");
  EXPECT_EQ(opcode_name(Opcode::ReadElementStatus), "READ ELEMENT STATUS");
  EXPECT_EQ(opcode_name(0x02), "UNKNOWN");
  EXPECT_EQ(opcode_name(0xc5), "VENDOR SPECIFIC");
}

TEST(OpcodeName, ProcessorAliasesShareReadWriteSixCodes) {
  EXPECT_EQ(Opcode::Receive, Opcode::Read6);
  EXPECT_EQ(Opcode::Send, Opcode::Write6);
  EXPECT_EQ(opcode_name(Opcode::Receive), "READ(6)");
}

}  // namespace
}  // namespace ucam::scsi
