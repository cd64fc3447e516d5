#include "scsi/opcodes.h"

namespace ucam::scsi {

std::uint8_t cdb_length(std::uint8_t opcode) {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 0;  // group 3 (reserved, variable length) and vendor specific groups 6, 7
  }
}

std::string_view opcode_name(std::uint8_t opcode) {
  // A switch over the raw value: enumerators that alias a code (RECEIVE/READ(6)) would
  // otherwise give duplicate case labels.
  switch (opcode) {
    case 0x00:
      return "TEST UNIT READY";
    case 0x03:
      return "REQUEST SENSE";
    case 0x07:
      return "INITIALIZE ELEMENT STATUS";
    case 0x08:
      return "READ(6)";
    case 0x0a:
      return "WRITE(6)";
    case 0x12:
      return "INQUIRY";
    case 0x15:
      return "MODE SELECT(6)";
    case 0x16:
      return "RESERVE(6)";
    case 0x17:
      return "RELEASE(6)";
    case 0x1a:
      return "MODE SENSE(6)";
    case 0x1b:
      return "START STOP UNIT";
    case 0x1c:
      return "RECEIVE DIAGNOSTIC RESULTS";
    case 0x1d:
      return "SEND DIAGNOSTIC";
    case 0x1e:
      return "PREVENT ALLOW MEDIUM REMOVAL";
    case 0x25:
      return "READ CAPACITY(10)";
    case 0x28:
      return "READ(10)";
    case 0x2a:
      return "WRITE(10)";
    case 0x2b:
      return "POSITION TO ELEMENT";
    case 0x2f:
      return "VERIFY(10)";
    case 0x35:
      return "SYNCHRONIZE CACHE(10)";
    case 0x37:
      return "READ DEFECT DATA(10)";
    case 0x3b:
      return "WRITE BUFFER";
    case 0x3c:
      return "READ BUFFER";
    case 0x4c:
      return "LOG SELECT";
    case 0x4d:
      return "LOG SENSE";
    case 0x55:
      return "MODE SELECT(10)";
    case 0x5a:
      return "MODE SENSE(10)";
    case 0x88:
      return "READ(16)";
    case 0x8a:
      return "WRITE(16)";
    case 0x91:
      return "SYNCHRONIZE CACHE(16)";
    case 0x9e:
      return "SERVICE ACTION IN(16)";
    case 0xa0:
      return "REPORT LUNS";
    case 0xa3:
      return "MAINTENANCE IN";
    case 0xa5:
      return "MOVE MEDIUM";
    case 0xa6:
      return "EXCHANGE MEDIUM";
    case 0xa8:
      return "READ(12)";
    case 0xaa:
      return "WRITE(12)";
    case 0xb5:
      return "SECURITY PROTOCOL OUT";
    case 0xb6:
      return "SEND VOLUME TAG";
    case 0xb8:
      return "READ ELEMENT STATUS";
    default:
      break;
  }
  return opcode >= 0xc0 ? "VENDOR SPECIFIC" : "UNKNOWN";
}

}  // namespace ucam::scsi
