// SCSI operation codes and their CDB lengths.
//
// SPC-5 4.2.5.1 Operation code (group code / command code split) and Annex D (operation codes).
// SBC-4, SMC-3 and SPC-5 define the commands; the values below are the ones ucam emits or
// emulates. Operation codes are device-type specific: a few values are shared by commands of
// different device types, for example the processor device commands RECEIVE (0x08) and SEND
// (0x0a) (SPC-2 processor model, obsolete since SPC-3) reuse the codes of READ(6) and WRITE(6)
// of block devices, and SMC-3 POSITION TO ELEMENT (0x2b) shares its code with SBC's obsolete
// SEEK(10) and SSC's LOCATE(10); SMC-3 INITIALIZE ELEMENT STATUS WITH RANGE (0x37) and REQUEST
// VOLUME ELEMENT ADDRESS (0xb5) share theirs with SBC's READ DEFECT DATA(10) and SPC's SECURITY
// PROTOCOL OUT. The enum lists those aliases with the same value; name look-up (`opcode_name`)
// without a device type reports the direct-access name (smc.h's smc_command_name resolves
// the changer commands).
#pragma once

#include <cstdint>
#include <string_view>

namespace ucam::scsi {

enum class Opcode : std::uint8_t {
  TestUnitReady = 0x00,                     // SPC-5 6.47
  Rewind = 0x01,                            // SSC-4 7.6 (sequential access)
  RequestSense = 0x03,                      // SPC-5 6.39
  ReadBlockLimits = 0x05,                   // SSC-4 7.5 (sequential access)
  InitializeElementStatus = 0x07,           // SMC-3 6.2 (medium changer)
  Read6 = 0x08,                             // SBC-4 5.13 (obsolete in SBC-4, still common)
  Receive = 0x08,                           // processor device RECEIVE: same code as READ(6)
  Write6 = 0x0a,                            // SBC-4 (obsolete)
  Send = 0x0a,                              // processor device SEND: same code as WRITE(6)
  Inquiry = 0x12,                           // SPC-5 6.7
  ModeSelect6 = 0x15,                       // SPC-5 6.11
  Reserve6 = 0x16,                          // SPC-2 (obsolete)
  Release6 = 0x17,                          // SPC-2 (obsolete)
  ModeSense6 = 0x1a,                        // SPC-5 6.13
  StartStopUnit = 0x1b,                     // SBC-4 5.25
  LoadUnload = 0x1b,                        // SSC-4 7.3: same code as START STOP UNIT
  ReceiveDiagnosticResults = 0x1c,          // SPC-5 6.32
  SendDiagnostic = 0x1d,                    // SPC-5 6.42
  PreventAllowMediumRemoval = 0x1e,         // SPC-5 6.16 / SMC-3
  ReadCapacity10 = 0x25,                    // SBC-4 5.20
  Read10 = 0x28,                            // SBC-4 5.16
  Write10 = 0x2a,                           // SBC-4 5.40
  PositionToElement = 0x2b,                 // SMC-3 6.5 (medium changer)
  InitializeElementStatusWithRange = 0x37,  // SMC-3 (medium changer; SBC READ DEFECT DATA(10))
  Verify10 = 0x2f,                          // SBC-4 5.33
  SynchronizeCache10 = 0x35,                // SBC-4 5.28
  WriteBuffer = 0x3b,                       // SPC-5 6.49
  ReadBuffer = 0x3c,                        // SPC-5 6.20
  LogSelect = 0x4c,                         // SPC-5 6.8
  LogSense = 0x4d,                          // SPC-5 6.9
  ModeSelect10 = 0x55,                      // SPC-5 6.12
  ModeSense10 = 0x5a,                       // SPC-5 6.14
  Read16 = 0x88,                            // SBC-4 5.18
  Write16 = 0x8a,                           // SBC-4 5.42
  SynchronizeCache16 = 0x91,                // SBC-4 5.29
  ServiceActionIn16 = 0x9e,                 // SBC-4 5.21 (READ CAPACITY(16) is service action 0x10)
  ReportLuns = 0xa0,                        // SPC-5 6.33
  MaintenanceIn = 0xa3,                     // SPC-5 (REPORT SUPPORTED OPERATION CODES etc.)
  MoveMedium = 0xa5,                        // SMC-3 6.6 (medium changer)
  ExchangeMedium = 0xa6,                    // SMC-3 6.3 (medium changer)
  RequestVolumeElementAddress = 0xb5,       // SMC-3 (medium changer; SPC SECURITY PROTOCOL OUT)
  SendVolumeTag = 0xb6,                     // SMC-3 (medium changer)
  Read12 = 0xa8,                            // SBC-4 5.17
  Write12 = 0xaa,                           // SBC-4 5.41
  ReadElementStatus = 0xb8,                 // SMC-3 6.10 (medium changer)
};

// SBC-4 5.21: SERVICE ACTION IN(16) service action for READ CAPACITY(16).
inline constexpr std::uint8_t kServiceActionReadCapacity16 = 0x10;

// CDB length in bytes from the group code (bits 7:5 of the operation code), SPC-5 4.2.5.1:
// group 0 -> 6, groups 1 and 2 -> 10, group 4 -> 16, group 5 -> 12. Group 3 (0x60..0x7f,
// reserved and variable-length CDBs, whose length is in the CDB itself) and the vendor specific
// groups 6 and 7 have no length implied by the code: the function returns 0 for them.
std::uint8_t cdb_length(std::uint8_t opcode);

// Upper-case command name as the standards spell it ("INQUIRY", "READ(10)"), or
// "VENDOR SPECIFIC" for groups 6/7 and "UNKNOWN" for codes not listed in `Opcode`.
// Shared codes get the direct-access name (0x08 -> "READ(6)").
std::string_view opcode_name(std::uint8_t opcode);

inline std::string_view opcode_name(Opcode opcode) {
  return opcode_name(static_cast<std::uint8_t>(opcode));
}

}  // namespace ucam::scsi
