// CDB builders (initiator side) and CDB decoders (target side, for emulated devices).
//
// Builders return a fixed `Cdb` (no allocation). A builder whose arguments can fall outside a
// field's range (24-bit offsets, 21-bit LBAs) returns `Result<Cdb>`; the others cannot fail.
//
// Decoders check the operation code and the fields whose values the standard makes invalid,
// and fail with an `Error` of kind Sense carrying the triple a device server would return:
// ILLEGAL REQUEST / INVALID FIELD IN CDB (5/24/00), or INVALID COMMAND OPERATION CODE
// (5/20/00) when the CDB is for another command. The error context always starts with
// "<COMMAND> CDB byte N[ bit M]: " so an emulator can recover the field pointer for the
// sense-key-specific bytes with `cdb_field_pointer()`. Reserved bits are not checked: old
// initiators still put a SCSI-2 LUN in byte 1 bits 7:5 and SPC-5 4.2.3 lets a device server
// ignore reserved fields.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/opcodes.h"

namespace ucam::scsi {

inline constexpr std::size_t kMaxCdbLength = 16;

// A command descriptor block: the first `len` bytes of `bytes` are the CDB.
struct Cdb {
  std::array<std::uint8_t, kMaxCdbLength> bytes{};
  std::uint8_t len = 0;

  Bytes span() const { return Bytes(bytes.data(), len); }
  std::uint8_t opcode() const { return bytes[0]; }
  friend bool operator==(const Cdb&, const Cdb&) = default;
};

// ---- Flags (enums rather than bool parameters) ------------------------------------------------

enum class SenseFormat : std::uint8_t { Fixed, Descriptor };        // REQUEST SENSE DESC bit
enum class InquiryData : std::uint8_t { Standard, VpdPage };        // INQUIRY EVPD bit
enum class BlockDescriptors : std::uint8_t { Return, Disable };     // MODE SENSE DBD bit
enum class LongLba : std::uint8_t { NotAccepted, Accepted };        // MODE SENSE(10) LLBAA bit
enum class PageFormat : std::uint8_t { VendorSpecific, Standard };  // PF bit
enum class SavePages : std::uint8_t { No, Yes };                    // MODE SELECT SP bit
enum class PageCodeValid : std::uint8_t { No, Yes };                // RECEIVE DIAG PCV bit
enum class SelfTest : std::uint8_t { No, Yes };                     // SEND DIAGNOSTIC SELFTEST
enum class Fua : std::uint8_t { No, Yes };                          // READ/WRITE force unit access

// SPC-5 6.13 Table 177: PAGE CONTROL (PC) field.
enum class PageControl : std::uint8_t { Current = 0, Changeable = 1, Default = 2, Saved = 3 };

// SPC-5 6.33 Table 214: SELECT REPORT field of REPORT LUNS.
enum class SelectReport : std::uint8_t {
  LogicalUnits = 0x00,       // all except well known LUs
  WellKnown = 0x01,          // well known logical units only
  All = 0x02,                // every logical unit
  AdministrativeLus = 0x10,  // administrative LUs
  AdministrativeAndSubsidiary = 0x11,
  SubsidiaryOf = 0x12,  // subsidiary LUs of the addressed administrative LU
};

// SPC-5 6.20.1 Table 246 / 6.49.1 Table 279: READ BUFFER and WRITE BUFFER MODE field values.
namespace buffer_mode {
inline constexpr std::uint8_t kCombinedHeaderAndData = 0x00;
inline constexpr std::uint8_t kVendorSpecific = 0x01;
inline constexpr std::uint8_t kData = 0x02;
inline constexpr std::uint8_t kDescriptor = 0x03;                 // READ BUFFER only
inline constexpr std::uint8_t kDownloadMicrocodeActivate = 0x04;  // WRITE BUFFER only
inline constexpr std::uint8_t kDownloadMicrocodeSaveActivate = 0x05;
inline constexpr std::uint8_t kDownloadMicrocodeOffsetsActivate = 0x06;
inline constexpr std::uint8_t kDownloadMicrocodeOffsetsSaveActivate = 0x07;
inline constexpr std::uint8_t kEchoBuffer = 0x0a;
inline constexpr std::uint8_t kEchoBufferDescriptor = 0x0b;               // READ BUFFER only
inline constexpr std::uint8_t kDownloadMicrocodeOffsetsSaveDefer = 0x0d;  // WRITE BUFFER only
inline constexpr std::uint8_t kActivateDeferredMicrocode = 0x0f;          // WRITE BUFFER only
inline constexpr std::uint8_t kErrorHistory = 0x1c;  // READ BUFFER; WRITE BUFFER: app client log
}  // namespace buffer_mode

// ---- Builders ----------------------------------------------------------------------------------

// SPC-5 6.47 TEST UNIT READY.
Cdb test_unit_ready();
// SPC-5 6.39 REQUEST SENSE: DESC bit in byte 1, 8-bit allocation length.
Cdb request_sense(std::uint8_t alloc, SenseFormat format = SenseFormat::Fixed);
// SPC-5 6.7.1 INQUIRY: EVPD bit, PAGE CODE (must be 0 for standard data), 16-bit allocation.
Cdb inquiry(InquiryData evpd, std::uint8_t page, std::uint16_t alloc);
// SPC-5 6.33 REPORT LUNS (12 bytes).
Cdb report_luns(SelectReport select_report, std::uint32_t alloc);
// SBC-4 5.20 READ CAPACITY(10) (LBA and PMI are obsolete and sent as zero).
Cdb read_capacity10();
// SBC-4 5.21 READ CAPACITY(16): SERVICE ACTION IN(16) / 0x10.
Cdb read_capacity16(std::uint32_t alloc);
// SPC-5 6.13 MODE SENSE(6); `page` is the 6-bit page code.
Cdb mode_sense6(BlockDescriptors dbd, PageControl pc, std::uint8_t page, std::uint8_t subpage,
                std::uint8_t alloc);
// SPC-5 6.14 MODE SENSE(10).
Cdb mode_sense10(BlockDescriptors dbd, PageControl pc, std::uint8_t page, std::uint8_t subpage,
                 std::uint16_t alloc, LongLba llbaa = LongLba::NotAccepted);
// SPC-5 6.11 MODE SELECT(6) / 6.12 MODE SELECT(10): PF, SP, parameter list length.
Cdb mode_select6(PageFormat pf, SavePages sp, std::uint8_t len);
Cdb mode_select10(PageFormat pf, SavePages sp, std::uint16_t len);
// SPC-5 6.32 RECEIVE DIAGNOSTIC RESULTS.
Cdb receive_diagnostic_results(PageCodeValid pcv, std::uint8_t page, std::uint16_t alloc);
// SPC-5 6.42 SEND DIAGNOSTIC (self-test code 000b, DEVOFFL = UNITOFFL = 0).
Cdb send_diagnostic(PageFormat pf, SelfTest selftest, std::uint16_t len);
// SPC-5 6.20 READ BUFFER(10) / 6.49 WRITE BUFFER: 5-bit mode, 24-bit offset and length.
Result<Cdb> read_buffer(std::uint8_t mode, std::uint8_t id, std::uint32_t offset,
                        std::uint32_t alloc);
Result<Cdb> write_buffer(std::uint8_t mode, std::uint8_t id, std::uint32_t offset,
                         std::uint32_t len);
// SBC-4 READ/WRITE. (6): 21-bit LBA, 1..256 blocks (256 is encoded as 0).
Result<Cdb> read6(std::uint32_t lba, std::uint16_t blocks);
Result<Cdb> write6(std::uint32_t lba, std::uint16_t blocks);
Cdb read10(std::uint32_t lba, std::uint16_t blocks, Fua fua = Fua::No);
Cdb write10(std::uint32_t lba, std::uint16_t blocks, Fua fua = Fua::No);
Cdb read12(std::uint32_t lba, std::uint32_t blocks, Fua fua = Fua::No);
Cdb write12(std::uint32_t lba, std::uint32_t blocks, Fua fua = Fua::No);
Cdb read16(std::uint64_t lba, std::uint32_t blocks, Fua fua = Fua::No);
Cdb write16(std::uint64_t lba, std::uint32_t blocks, Fua fua = Fua::No);

// SPC-2 7.6 RECEIVE / 7.7 SEND (processor devices): opcode, byte 1 (SEND: AER bit 0, never set
// here), bytes 2-4 the 24-bit allocation / transfer length, control. A length of 0 transfers no
// data; above kMaxSendReceiveLength fails (EINVAL).
inline constexpr std::uint32_t kMaxSendReceiveLength = 0xffffff;  // 16,777,215 bytes.
Result<Cdb> receive6(std::uint32_t allocation_length);
Result<Cdb> send6(std::uint32_t transfer_length);

// The command name of a CDB, resolving service actions we know (SERVICE ACTION IN(16) /
// 0x10 -> "READ CAPACITY(16)"); otherwise opcode_name(). Empty CDB -> "EMPTY CDB".
std::string_view cdb_name(Bytes cdb);

// ---- Decoders (target side)
// ----------------------------------------------------------------------

// SPC-5 4.5.2.4.2 / Table 55: the field pointer an emulator puts in sense-key-specific bytes.
struct CdbFieldPointer {
  std::uint16_t byte = 0;
  std::optional<std::uint8_t> bit;  // set: BPV=1 and this bit pointer
};
// The field pointer recorded in an error returned by a decoder below, if any.
std::optional<CdbFieldPointer> cdb_field_pointer(const Error& error);

struct InquiryCdb {
  InquiryData evpd = InquiryData::Standard;
  std::uint8_t page_code = 0;
  std::uint16_t allocation_length = 0;
};
// Fails: EVPD=0 with a nonzero PAGE CODE (byte 2), CMDDT set (byte 1 bit 1, obsolete).
Result<InquiryCdb> parse_inquiry_cdb(Bytes cdb);

enum class Direction : std::uint8_t { Read, Write };
struct RwCdb {
  Opcode opcode = Opcode::Read10;
  Direction direction = Direction::Read;
  std::uint64_t lba = 0;
  std::uint32_t blocks = 0;  // READ(6)/WRITE(6) length 0 already mapped to 256
  Fua fua = Fua::No;
  bool dpo = false;
  std::uint8_t protect = 0;  // RDPROTECT / WRPROTECT (0 for the 6-byte commands)
  std::uint8_t group_number = 0;
};
// READ/WRITE (6), (10), (12), (16). Fails on any other opcode (5/20/00) and on a short CDB.
Result<RwCdb> parse_rw_cdb(Bytes cdb);

struct ReportLunsCdb {
  std::uint8_t select_report = 0;  // raw; known values are `SelectReport`
  std::uint32_t allocation_length = 0;
};
// Fails: reserved SELECT REPORT values (byte 2); allocation length < 4 (SPC-5 6.33; SPC-2 and
// SPC-3 devices required at least 16, SPC-4 onwards only the 4 bytes of the list length).
Result<ReportLunsCdb> parse_report_luns_cdb(Bytes cdb);

struct ModeSenseCdb {
  bool ten_byte = false;
  BlockDescriptors dbd = BlockDescriptors::Return;
  LongLba llbaa = LongLba::NotAccepted;  // always NotAccepted for MODE SENSE(6)
  PageControl pc = PageControl::Current;
  std::uint8_t page_code = 0;
  std::uint8_t subpage_code = 0;
  std::uint16_t allocation_length = 0;
};
// MODE SENSE(6) or (10).
Result<ModeSenseCdb> parse_mode_sense_cdb(Bytes cdb);

struct ModeSelectCdb {
  bool ten_byte = false;
  PageFormat pf = PageFormat::VendorSpecific;
  SavePages sp = SavePages::No;
  std::uint16_t parameter_list_length = 0;
};
// MODE SELECT(6) or (10).
Result<ModeSelectCdb> parse_mode_select_cdb(Bytes cdb);

struct ReceiveDiagCdb {
  PageCodeValid pcv = PageCodeValid::No;
  std::uint8_t page_code = 0;
  std::uint16_t allocation_length = 0;
};
Result<ReceiveDiagCdb> parse_receive_diag_cdb(Bytes cdb);

struct SendDiagCdb {
  std::uint8_t self_test_code = 0;  // bits 7:5 of byte 1
  PageFormat pf = PageFormat::VendorSpecific;
  SelfTest selftest = SelfTest::No;
  bool devoffl = false;
  bool unitoffl = false;
  std::uint16_t parameter_list_length = 0;
};
// Fails: SELFTEST=1 with a nonzero SELF-TEST CODE; a nonzero SELF-TEST CODE with a nonzero
// PARAMETER LIST LENGTH (SPC-5 6.42).
Result<SendDiagCdb> parse_send_diag_cdb(Bytes cdb);

struct BufferCdb {
  std::uint8_t mode = 0;           // byte 1 bits 4:0 (see `buffer_mode`)
  std::uint8_t mode_specific = 0;  // byte 1 bits 7:5
  std::uint8_t buffer_id = 0;
  std::uint32_t buffer_offset = 0;  // 24 bits
  std::uint32_t length = 0;         // allocation (READ) or parameter list (WRITE) length, 24 bits
};
Result<BufferCdb> parse_read_buffer_cdb(Bytes cdb);
Result<BufferCdb> parse_write_buffer_cdb(Bytes cdb);

struct RequestSenseCdb {
  SenseFormat format = SenseFormat::Fixed;
  std::uint8_t allocation_length = 0;
};
Result<RequestSenseCdb> parse_request_sense_cdb(Bytes cdb);

struct ReadCapacity16Cdb {
  std::uint64_t lba = 0;  // obsolete with PMI
  bool pmi = false;
  std::uint32_t allocation_length = 0;
};
// Fails on SERVICE ACTION IN(16) with a service action other than 0x10 (byte 1).
Result<ReadCapacity16Cdb> parse_read_capacity16_cdb(Bytes cdb);

}  // namespace ucam::scsi
