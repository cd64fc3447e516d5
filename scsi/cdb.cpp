#include "scsi/cdb.h"

#include <charconv>
#include <string>

#include "scsi/sense.h"

namespace ucam::scsi {
namespace {

Cdb make(Opcode op, std::uint8_t len) {
  Cdb c;
  c.len = len;
  c.bytes[0] = static_cast<std::uint8_t>(op);
  return c;
}

MutableBytes mut(Cdb& c) {
  return MutableBytes(c.bytes.data(), c.len);
}

// Every decoder error starts "<NAME> CDB byte N[ bit M]: " (see cdb_field_pointer).
tl::unexpected<Error> field_error(std::string_view name, std::uint16_t byte,
                                  std::optional<std::uint8_t> bit, std::string_view what) {
  std::string ctx(name);
  ctx += " CDB byte " + std::to_string(byte);
  if (bit) {
    ctx += " bit " + std::to_string(*bit);
  }
  ctx += ": ";
  ctx += what;
  return fail(Error::from_sense(kInvalidFieldInCdb, std::move(ctx)));
}

// Checks the span holds a whole CDB of `op`; a short CDB is reported against its last byte
// (the transport lost the rest, which a device server sees as an invalid CDB).
Result<void> check_cdb(Bytes cdb, std::initializer_list<Opcode> ops, std::string_view name) {
  if (cdb.empty()) {
    return fail(Error::from_sense(kInvalidOpcode, std::string(name) + " CDB: empty CDB"));
  }
  bool known = false;
  for (Opcode op : ops) {
    known = known || cdb[0] == static_cast<std::uint8_t>(op);
  }
  if (!known) {
    return fail(Error::from_sense(
        kInvalidOpcode, std::string(name) + " CDB byte 0: operation code " +
                            std::to_string(cdb[0]) + " (" + std::string(opcode_name(cdb[0])) +
                            ") is not " + std::string(name)));
  }
  const std::size_t need = cdb_length(cdb[0]);
  if (cdb.size() < need) {
    return field_error(
        name, static_cast<std::uint16_t>(cdb.size()), std::nullopt,
        "CDB truncated: " + std::to_string(cdb.size()) + " of " + std::to_string(need) + " bytes");
  }
  return {};
}

Result<Cdb> buffer_cdb(Opcode op, std::uint8_t mode, std::uint8_t id, std::uint32_t offset,
                       std::uint32_t len, std::string_view what) {
  if (mode > 0x1f) {
    return fail_invalid(std::string(opcode_name(op)) + ": mode " + std::to_string(mode) +
                        " does not fit the 5-bit MODE field");
  }
  if (offset > 0xffffff || len > 0xffffff) {
    return fail_invalid(std::string(opcode_name(op)) + ": buffer offset or " + std::string(what) +
                        " exceeds 24 bits");
  }
  Cdb c = make(op, 10);
  c.bytes[1] = mode;
  c.bytes[2] = id;
  store_be24(mut(c), 3, offset);
  store_be24(mut(c), 6, len);
  return c;
}

Result<Cdb> rw6(Opcode op, std::uint32_t lba, std::uint16_t blocks) {
  if (lba > 0x1fffff) {
    return fail_invalid(std::string(opcode_name(op)) + ": LBA " + std::to_string(lba) +
                        " does not fit 21 bits");
  }
  if (blocks == 0 || blocks > 256) {
    return fail_invalid(std::string(opcode_name(op)) + ": transfer length " +
                        std::to_string(blocks) + " outside 1..256");
  }
  Cdb c = make(op, 6);
  store_be24(mut(c), 1, lba);
  c.bytes[4] = static_cast<std::uint8_t>(blocks & 0xff);  // 256 -> 0 (SBC-4 5.13)
  return c;
}

// SBC-4 5.16: byte 1 of READ(10)/(12)/(16): RDPROTECT 7:5, DPO 4, FUA 3.
constexpr std::uint8_t kFuaBit = 0x08;

// SPC-2 7.6 / 7.7: the 6-byte processor-device CDBs. opcode_name() says READ(6)/WRITE(6) for
// the shared codes, so the messages name the processor commands themselves.
Result<Cdb> send_receive(Opcode op, std::uint32_t length, std::string_view what) {
  if (length > kMaxSendReceiveLength) {
    return fail_invalid(std::string(op == Opcode::Send ? "SEND" : "RECEIVE") + ": " +
                        std::string(what) + " " + std::to_string(length) +
                        " exceeds the 24-bit field (at most 16777215 bytes)");
  }
  Cdb c = make(op, 6);
  store_be24(mut(c), 2, length);
  return c;
}

Cdb rw10(Opcode op, std::uint32_t lba, std::uint16_t blocks, Fua fua) {
  Cdb c = make(op, 10);
  c.bytes[1] = fua == Fua::Yes ? kFuaBit : 0;
  store_be32(mut(c), 2, lba);
  store_be16(mut(c), 7, blocks);
  return c;
}

Cdb rw12(Opcode op, std::uint32_t lba, std::uint32_t blocks, Fua fua) {
  Cdb c = make(op, 12);
  c.bytes[1] = fua == Fua::Yes ? kFuaBit : 0;
  store_be32(mut(c), 2, lba);
  store_be32(mut(c), 6, blocks);
  return c;
}

Cdb rw16(Opcode op, std::uint64_t lba, std::uint32_t blocks, Fua fua) {
  Cdb c = make(op, 16);
  c.bytes[1] = fua == Fua::Yes ? kFuaBit : 0;
  store_be64(mut(c), 2, lba);
  store_be32(mut(c), 10, blocks);
  return c;
}

}  // namespace

Cdb test_unit_ready() {
  return make(Opcode::TestUnitReady, 6);
}

Cdb request_sense(std::uint8_t alloc, SenseFormat format) {
  Cdb c = make(Opcode::RequestSense, 6);
  c.bytes[1] = format == SenseFormat::Descriptor ? 0x01 : 0x00;
  c.bytes[4] = alloc;
  return c;
}

Cdb inquiry(InquiryData evpd, std::uint8_t page, std::uint16_t alloc) {
  Cdb c = make(Opcode::Inquiry, 6);
  c.bytes[1] = evpd == InquiryData::VpdPage ? 0x01 : 0x00;
  c.bytes[2] = page;
  store_be16(mut(c), 3, alloc);
  return c;
}

Cdb report_luns(SelectReport select_report, std::uint32_t alloc) {
  Cdb c = make(Opcode::ReportLuns, 12);
  c.bytes[2] = static_cast<std::uint8_t>(select_report);
  store_be32(mut(c), 6, alloc);
  return c;
}

Cdb read_capacity10() {
  return make(Opcode::ReadCapacity10, 10);
}

Cdb read_capacity16(std::uint32_t alloc) {
  Cdb c = make(Opcode::ServiceActionIn16, 16);
  c.bytes[1] = kServiceActionReadCapacity16;
  store_be32(mut(c), 10, alloc);
  return c;
}

// SPC-5 6.13: byte 1 DBD bit 3; byte 2 PC 7:6, PAGE CODE 5:0; byte 3 SUBPAGE CODE.
Cdb mode_sense6(BlockDescriptors dbd, PageControl pc, std::uint8_t page, std::uint8_t subpage,
                std::uint8_t alloc) {
  Cdb c = make(Opcode::ModeSense6, 6);
  c.bytes[1] = dbd == BlockDescriptors::Disable ? 0x08 : 0x00;
  c.bytes[2] = static_cast<std::uint8_t>((static_cast<unsigned>(pc) << 6) | (page & 0x3f));
  c.bytes[3] = subpage;
  c.bytes[4] = alloc;
  return c;
}

// SPC-5 6.14: as MODE SENSE(6) plus LLBAA in byte 1 bit 4, allocation length in bytes 7-8.
Cdb mode_sense10(BlockDescriptors dbd, PageControl pc, std::uint8_t page, std::uint8_t subpage,
                 std::uint16_t alloc, LongLba llbaa) {
  Cdb c = make(Opcode::ModeSense10, 10);
  c.bytes[1] = static_cast<std::uint8_t>((dbd == BlockDescriptors::Disable ? 0x08 : 0x00) |
                                         (llbaa == LongLba::Accepted ? 0x10 : 0x00));
  c.bytes[2] = static_cast<std::uint8_t>((static_cast<unsigned>(pc) << 6) | (page & 0x3f));
  c.bytes[3] = subpage;
  store_be16(mut(c), 7, alloc);
  return c;
}

// SPC-5 6.11/6.12: byte 1 PF bit 4, SP bit 0.
static std::uint8_t select_flags(PageFormat pf, SavePages sp) {
  return static_cast<std::uint8_t>((pf == PageFormat::Standard ? 0x10 : 0x00) |
                                   (sp == SavePages::Yes ? 0x01 : 0x00));
}

Cdb mode_select6(PageFormat pf, SavePages sp, std::uint8_t len) {
  Cdb c = make(Opcode::ModeSelect6, 6);
  c.bytes[1] = select_flags(pf, sp);
  c.bytes[4] = len;
  return c;
}

Cdb mode_select10(PageFormat pf, SavePages sp, std::uint16_t len) {
  Cdb c = make(Opcode::ModeSelect10, 10);
  c.bytes[1] = select_flags(pf, sp);
  store_be16(mut(c), 7, len);
  return c;
}

// SPC-5 6.32: byte 1 PCV bit 0, byte 2 PAGE CODE, bytes 3-4 ALLOCATION LENGTH.
Cdb receive_diagnostic_results(PageCodeValid pcv, std::uint8_t page, std::uint16_t alloc) {
  Cdb c = make(Opcode::ReceiveDiagnosticResults, 6);
  c.bytes[1] = pcv == PageCodeValid::Yes ? 0x01 : 0x00;
  c.bytes[2] = page;
  store_be16(mut(c), 3, alloc);
  return c;
}

// SPC-5 6.42: byte 1 SELF-TEST CODE 7:5, PF 4, SELFTEST 2, DEVOFFL 1, UNITOFFL 0;
// bytes 3-4 PARAMETER LIST LENGTH.
Cdb send_diagnostic(PageFormat pf, SelfTest selftest, std::uint16_t len) {
  Cdb c = make(Opcode::SendDiagnostic, 6);
  c.bytes[1] = static_cast<std::uint8_t>((pf == PageFormat::Standard ? 0x10 : 0x00) |
                                         (selftest == SelfTest::Yes ? 0x04 : 0x00));
  store_be16(mut(c), 3, len);
  return c;
}

Result<Cdb> read_buffer(std::uint8_t mode, std::uint8_t id, std::uint32_t offset,
                        std::uint32_t alloc) {
  return buffer_cdb(Opcode::ReadBuffer, mode, id, offset, alloc, "allocation length");
}

Result<Cdb> write_buffer(std::uint8_t mode, std::uint8_t id, std::uint32_t offset,
                         std::uint32_t len) {
  return buffer_cdb(Opcode::WriteBuffer, mode, id, offset, len, "parameter list length");
}

Result<Cdb> read6(std::uint32_t lba, std::uint16_t blocks) {
  return rw6(Opcode::Read6, lba, blocks);
}
Result<Cdb> write6(std::uint32_t lba, std::uint16_t blocks) {
  return rw6(Opcode::Write6, lba, blocks);
}
Result<Cdb> receive6(std::uint32_t allocation_length) {
  return send_receive(Opcode::Receive, allocation_length, "allocation length");
}
Result<Cdb> send6(std::uint32_t transfer_length) {
  return send_receive(Opcode::Send, transfer_length, "transfer length");
}
Cdb read10(std::uint32_t lba, std::uint16_t blocks, Fua fua) {
  return rw10(Opcode::Read10, lba, blocks, fua);
}
Cdb write10(std::uint32_t lba, std::uint16_t blocks, Fua fua) {
  return rw10(Opcode::Write10, lba, blocks, fua);
}
Cdb read12(std::uint32_t lba, std::uint32_t blocks, Fua fua) {
  return rw12(Opcode::Read12, lba, blocks, fua);
}
Cdb write12(std::uint32_t lba, std::uint32_t blocks, Fua fua) {
  return rw12(Opcode::Write12, lba, blocks, fua);
}
Cdb read16(std::uint64_t lba, std::uint32_t blocks, Fua fua) {
  return rw16(Opcode::Read16, lba, blocks, fua);
}
Cdb write16(std::uint64_t lba, std::uint32_t blocks, Fua fua) {
  return rw16(Opcode::Write16, lba, blocks, fua);
}

std::string_view cdb_name(Bytes cdb) {
  if (cdb.empty()) {
    return "EMPTY CDB";
  }
  if (cdb[0] == static_cast<std::uint8_t>(Opcode::ServiceActionIn16) && cdb.size() > 1 &&
      bits(cdb[1], 0, 5) == kServiceActionReadCapacity16) {
    return "READ CAPACITY(16)";
  }
  return opcode_name(cdb[0]);
}

// ---- Decoders ----------------------------------------------------------------------------------

std::optional<CdbFieldPointer> cdb_field_pointer(const Error& error) {
  if (error.kind() != Error::Kind::Sense) {
    return std::nullopt;
  }
  // The context may carry outer prefixes (with_context); find our marker.
  const std::string& ctx = error.context();
  const auto at = ctx.find(" CDB byte ");
  if (at == std::string::npos) {
    return std::nullopt;
  }
  const char* p = ctx.data() + at + 10;
  const char* end = ctx.data() + ctx.size();
  CdbFieldPointer fp;
  auto [q, ec] = std::from_chars(p, end, fp.byte);
  if (ec != std::errc{}) {
    return std::nullopt;
  }
  constexpr std::string_view kBit = " bit ";
  if (static_cast<std::size_t>(end - q) > kBit.size() && std::string_view(q, kBit.size()) == kBit) {
    std::uint8_t b = 0;
    auto [r, ec2] = std::from_chars(q + kBit.size(), end, b);
    if (ec2 == std::errc{} && b < 8) {
      fp.bit = b;
    }
    (void)r;
  }
  return fp;
}

// SPC-5 6.7.1 INQUIRY command.
Result<InquiryCdb> parse_inquiry_cdb(Bytes cdb) {
  constexpr std::string_view kName = "INQUIRY";
  if (auto ok = check_cdb(cdb, {Opcode::Inquiry}, kName); !ok) {
    return fail(ok.error());
  }
  InquiryCdb r;
  r.evpd = bit(cdb[1], 0) ? InquiryData::VpdPage : InquiryData::Standard;
  r.page_code = cdb[2];
  r.allocation_length = load_be16(cdb, 3);
  if (bit(cdb[1], 1)) {
    return field_error(kName, 1, 1, "CMDDT is obsolete and not supported");
  }
  if (r.evpd == InquiryData::Standard && r.page_code != 0) {
    return field_error(kName, 2, std::nullopt, "PAGE CODE must be zero when EVPD is zero");
  }
  return r;
}

// SBC-4 5.13 READ(6), 5.16 READ(10), 5.17 READ(12), 5.18 READ(16) and the WRITE equivalents.
Result<RwCdb> parse_rw_cdb(Bytes cdb) {
  constexpr std::string_view kName = "READ/WRITE";
  if (auto ok = check_cdb(cdb,
                          {Opcode::Read6, Opcode::Write6, Opcode::Read10, Opcode::Write10,
                           Opcode::Read12, Opcode::Write12, Opcode::Read16, Opcode::Write16},
                          kName);
      !ok) {
    return fail(ok.error());
  }
  RwCdb r;
  r.opcode = static_cast<Opcode>(cdb[0]);
  switch (r.opcode) {
    case Opcode::Read6:
    case Opcode::Write6:
      r.direction = r.opcode == Opcode::Read6 ? Direction::Read : Direction::Write;
      r.lba = load_be24(cdb, 1) & 0x1fffff;
      r.blocks = cdb[4] == 0 ? 256 : cdb[4];
      return r;
    case Opcode::Read10:
    case Opcode::Write10:
      r.direction = r.opcode == Opcode::Read10 ? Direction::Read : Direction::Write;
      r.lba = load_be32(cdb, 2);
      r.blocks = load_be16(cdb, 7);
      r.group_number = bits(cdb[6], 0, 6);
      break;
    case Opcode::Read12:
    case Opcode::Write12:
      r.direction = r.opcode == Opcode::Read12 ? Direction::Read : Direction::Write;
      r.lba = load_be32(cdb, 2);
      r.blocks = load_be32(cdb, 6);
      r.group_number = bits(cdb[10], 0, 6);
      break;
    default:  // READ(16), WRITE(16)
      r.direction = r.opcode == Opcode::Read16 ? Direction::Read : Direction::Write;
      r.lba = load_be64(cdb, 2);
      r.blocks = load_be32(cdb, 10);
      r.group_number = bits(cdb[14], 0, 6);
      break;
  }
  r.protect = bits(cdb[1], 5, 3);
  r.dpo = bit(cdb[1], 4);
  r.fua = bit(cdb[1], 3) ? Fua::Yes : Fua::No;
  return r;
}

// SPC-5 6.33 REPORT LUNS command.
Result<ReportLunsCdb> parse_report_luns_cdb(Bytes cdb) {
  constexpr std::string_view kName = "REPORT LUNS";
  if (auto ok = check_cdb(cdb, {Opcode::ReportLuns}, kName); !ok) {
    return fail(ok.error());
  }
  ReportLunsCdb r;
  r.select_report = cdb[2];
  r.allocation_length = load_be32(cdb, 6);
  switch (r.select_report) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x10:
    case 0x11:
    case 0x12:
      break;
    default:
      if (r.select_report < 0xf8) {  // 0xf8..0xff are vendor specific
        return field_error(kName, 2, std::nullopt,
                           "reserved SELECT REPORT value " + std::to_string(r.select_report));
      }
  }
  if (r.allocation_length < 4) {
    return field_error(
        kName, 6, std::nullopt,
        "ALLOCATION LENGTH " + std::to_string(r.allocation_length) + " is less than 4");
  }
  return r;
}

// SPC-5 6.13 MODE SENSE(6) / 6.14 MODE SENSE(10).
Result<ModeSenseCdb> parse_mode_sense_cdb(Bytes cdb) {
  constexpr std::string_view kName = "MODE SENSE";
  if (auto ok = check_cdb(cdb, {Opcode::ModeSense6, Opcode::ModeSense10}, kName); !ok) {
    return fail(ok.error());
  }
  ModeSenseCdb r;
  r.ten_byte = cdb[0] == static_cast<std::uint8_t>(Opcode::ModeSense10);
  r.dbd = bit(cdb[1], 3) ? BlockDescriptors::Disable : BlockDescriptors::Return;
  r.pc = static_cast<PageControl>(bits(cdb[2], 6, 2));
  r.page_code = bits(cdb[2], 0, 6);
  r.subpage_code = cdb[3];
  if (r.ten_byte) {
    r.llbaa = bit(cdb[1], 4) ? LongLba::Accepted : LongLba::NotAccepted;
    r.allocation_length = load_be16(cdb, 7);
  } else {
    r.allocation_length = cdb[4];
  }
  return r;
}

// SPC-5 6.11 MODE SELECT(6) / 6.12 MODE SELECT(10).
Result<ModeSelectCdb> parse_mode_select_cdb(Bytes cdb) {
  constexpr std::string_view kName = "MODE SELECT";
  if (auto ok = check_cdb(cdb, {Opcode::ModeSelect6, Opcode::ModeSelect10}, kName); !ok) {
    return fail(ok.error());
  }
  ModeSelectCdb r;
  r.ten_byte = cdb[0] == static_cast<std::uint8_t>(Opcode::ModeSelect10);
  r.pf = bit(cdb[1], 4) ? PageFormat::Standard : PageFormat::VendorSpecific;
  r.sp = bit(cdb[1], 0) ? SavePages::Yes : SavePages::No;
  r.parameter_list_length = r.ten_byte ? load_be16(cdb, 7) : cdb[4];
  return r;
}

// SPC-5 6.32 RECEIVE DIAGNOSTIC RESULTS.
Result<ReceiveDiagCdb> parse_receive_diag_cdb(Bytes cdb) {
  constexpr std::string_view kName = "RECEIVE DIAGNOSTIC RESULTS";
  if (auto ok = check_cdb(cdb, {Opcode::ReceiveDiagnosticResults}, kName); !ok) {
    return fail(ok.error());
  }
  ReceiveDiagCdb r;
  r.pcv = bit(cdb[1], 0) ? PageCodeValid::Yes : PageCodeValid::No;
  r.page_code = cdb[2];
  r.allocation_length = load_be16(cdb, 3);
  return r;
}

// SPC-5 6.42 SEND DIAGNOSTIC.
Result<SendDiagCdb> parse_send_diag_cdb(Bytes cdb) {
  constexpr std::string_view kName = "SEND DIAGNOSTIC";
  if (auto ok = check_cdb(cdb, {Opcode::SendDiagnostic}, kName); !ok) {
    return fail(ok.error());
  }
  SendDiagCdb r;
  r.self_test_code = bits(cdb[1], 5, 3);
  r.pf = bit(cdb[1], 4) ? PageFormat::Standard : PageFormat::VendorSpecific;
  r.selftest = bit(cdb[1], 2) ? SelfTest::Yes : SelfTest::No;
  r.devoffl = bit(cdb[1], 1);
  r.unitoffl = bit(cdb[1], 0);
  r.parameter_list_length = load_be16(cdb, 3);
  if (r.selftest == SelfTest::Yes && r.self_test_code != 0) {
    return field_error(kName, 1, 7, "SELF-TEST CODE must be 000b when SELFTEST is one");
  }
  if (r.self_test_code != 0 && r.parameter_list_length != 0) {
    return field_error(kName, 3, std::nullopt,
                       "PARAMETER LIST LENGTH must be zero with a nonzero SELF-TEST CODE");
  }
  return r;
}

namespace {
Result<BufferCdb> parse_buffer(Bytes cdb, Opcode op, std::string_view name) {
  if (auto ok = check_cdb(cdb, {op}, name); !ok) {
    return fail(ok.error());
  }
  BufferCdb r;
  r.mode = bits(cdb[1], 0, 5);
  r.mode_specific = bits(cdb[1], 5, 3);
  r.buffer_id = cdb[2];
  r.buffer_offset = load_be24(cdb, 3);
  r.length = load_be24(cdb, 6);
  return r;
}
}  // namespace

// SPC-5 6.20 READ BUFFER(10).
Result<BufferCdb> parse_read_buffer_cdb(Bytes cdb) {
  return parse_buffer(cdb, Opcode::ReadBuffer, "READ BUFFER");
}

// SPC-5 6.49 WRITE BUFFER.
Result<BufferCdb> parse_write_buffer_cdb(Bytes cdb) {
  return parse_buffer(cdb, Opcode::WriteBuffer, "WRITE BUFFER");
}

// SPC-5 6.39 REQUEST SENSE.
Result<RequestSenseCdb> parse_request_sense_cdb(Bytes cdb) {
  constexpr std::string_view kName = "REQUEST SENSE";
  if (auto ok = check_cdb(cdb, {Opcode::RequestSense}, kName); !ok) {
    return fail(ok.error());
  }
  RequestSenseCdb r;
  r.format = bit(cdb[1], 0) ? SenseFormat::Descriptor : SenseFormat::Fixed;
  r.allocation_length = cdb[4];
  return r;
}

// SBC-4 5.21 READ CAPACITY(16).
Result<ReadCapacity16Cdb> parse_read_capacity16_cdb(Bytes cdb) {
  constexpr std::string_view kName = "READ CAPACITY(16)";
  if (auto ok = check_cdb(cdb, {Opcode::ServiceActionIn16}, kName); !ok) {
    return fail(ok.error());
  }
  if (bits(cdb[1], 0, 5) != kServiceActionReadCapacity16) {
    return field_error(
        kName, 1, 4,
        "SERVICE ACTION " + std::to_string(bits(cdb[1], 0, 5)) + " is not READ CAPACITY(16)");
  }
  ReadCapacity16Cdb r;
  r.lba = load_be64(cdb, 2);
  r.allocation_length = load_be32(cdb, 10);
  r.pmi = bit(cdb[14], 0);
  return r;
}

}  // namespace ucam::scsi
