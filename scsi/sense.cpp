#include "scsi/sense.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "scsi/asc_table.h"

namespace ucam::scsi {
namespace {

std::string hex2(unsigned v) {
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%02x", v & 0xffU);
  return buf.data();
}

std::string hex_u64(std::uint64_t v) {
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%llx", static_cast<unsigned long long>(v));
  return buf.data();
}

std::string percent(std::uint16_t progress) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "%.2f", progress * 100.0 / 65536.0);
  return buf.data();
}

// Words kept upper case (or in their own case) when turning a T10 description into
// sentence case.
const std::set<std::string, std::less<>>& acronyms() {
  static const std::set<std::string, std::less<>> kWords = {
      "ACA", "ACK", "ACL",  "ACS", "ATA",  "CD",   "CDB",       "CIRC",   "CRC",    "DMA",  "EAN",
      "EC",  "ECC", "ECRC", "ESN", "I",    "I_T",  "ID",        "IDLE_B", "IDLE_C", "IP",   "ISRC",
      "L",   "LBA", "LU",   "LUN", "LVD",  "MGMT", "NAK",       "O",      "PMA",    "RDZ",  "RMA",
      "RMZ", "ROD", "RPL",  "SA",  "SCSI", "ST",   "STANDBY_Y", "TLP",    "UPC",    "WORM", "XCDB",
  };
  return kWords;
}

std::string sentence_case(std::string_view t10) {
  std::string out;
  out.reserve(t10.size());
  std::size_t i = 0;
  while (i < t10.size()) {
    const auto word_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    };
    if (!word_char(t10[i])) {
      out += t10[i++];
      continue;
    }
    std::size_t j = i;
    while (j < t10.size() && word_char(t10[j])) {
      ++j;
    }
    const std::string_view word = t10.substr(i, j - i);
    const bool mixed = std::any_of(word.begin(), word.end(), [](char c) {
      return std::islower(static_cast<unsigned char>(c)) != 0;
    });
    if (word == "PCIE") {
      out += "PCIe";
    } else if (word == "ISCSI") {
      out += "iSCSI";
    } else if (mixed || acronyms().count(word) != 0) {
      out += word;  // iSCSI, iuCRC, CDB ...
    } else {
      for (char c : word) {
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    i = j;
  }
  // Capitalize the first letter unless the description starts with a mixed-case word
  // ("iSCSI IP address added").
  if (!out.empty() && !(t10.size() > 1 && std::islower(static_cast<unsigned char>(t10[0])) != 0)) {
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  }
  return out;
}

const detail::AscEntry* find_asc(std::uint8_t asc, std::uint8_t ascq) {
  const std::uint16_t code = static_cast<std::uint16_t>((asc << 8) | ascq);
  const auto* it =
      std::lower_bound(detail::kAscTable.begin(), detail::kAscTable.end(), code,
                       [](const detail::AscEntry& e, std::uint16_t c) { return e.code < c; });
  return (it != detail::kAscTable.end() && it->code == code) ? &*it : nullptr;
}

// The ranges of the T10 list ("NNh" entries).
std::optional<std::string> range_text(std::uint8_t asc, std::uint8_t ascq) {
  if (asc == 0x40 && ascq >= 0x80) {
    return "Diagnostic failure on component " + hex2(ascq);
  }
  if (asc == 0x4d) {
    return "Tagged overlapped commands (task tag " + hex2(ascq) + ")";
  }
  if (asc == 0x70) {
    return "Decompression exception short algorithm id of " + hex2(ascq);
  }
  return std::nullopt;
}

std::uint8_t sks_byte0(bool sksv) {
  return sksv ? 0x80 : 0x00;
}

std::string pointer_text(std::uint16_t byte, bool bpv, std::uint8_t bit_pointer) {
  std::string s = "byte " + std::to_string(byte);
  if (bpv) {
    s += " bit " + std::to_string(bit_pointer);
  }
  return s;
}

// Minimum ADDITIONAL LENGTH of the descriptors we decode.
std::optional<std::size_t> known_descriptor_length(std::uint8_t type) {
  switch (type) {
    case kDescInformation:
    case kDescCommandSpecific:
      return 0x0a;
    case kDescSenseKeySpecific:
    case kDescAnotherProgress:
      return 0x06;
    case kDescFieldReplaceableUnit:
    case kDescStreamCommands:
    case kDescBlockCommands:
      return 0x02;
    case kDescAtaStatusReturn:
      return 0x0c;
    default:
      return std::nullopt;
  }
}

void apply_descriptor(SenseData& s, const SenseDescriptor& d) {
  const Bytes b(d.body);
  switch (d.type) {
    case kDescInformation:  // SPC-5 4.4.2.2
      s.information_valid = bit(b[0], 7);
      s.information = load_be64(b, 2);
      break;
    case kDescCommandSpecific:  // SPC-5 4.4.2.3
      s.command_specific = load_be64(b, 2);
      break;
    case kDescSenseKeySpecific:  // SPC-5 4.4.2.4
      if (bit(b[2], 7)) {
        s.sense_key_specific = std::array<std::uint8_t, 3>{b[2], b[3], b[4]};
      }
      break;
    case kDescFieldReplaceableUnit:  // SPC-5 4.4.2.5
      s.fru_code = b[1];
      break;
    case kDescStreamCommands:  // SPC-5 4.4.2.6 (SSC)
      s.filemark = bit(b[1], 7);
      s.eom = bit(b[1], 6);
      s.ili = bit(b[1], 5);
      break;
    case kDescBlockCommands:  // SPC-5 4.4.2.7 (SBC)
      s.ili = bit(b[1], 5);
      break;
    case kDescAtaStatusReturn: {  // SAT-4 12.2.2.6
      AtaStatusReturn a;
      a.extend = bit(b[0], 0);
      a.error = b[1];
      a.count = static_cast<std::uint16_t>((b[2] << 8) | b[3]);
      a.lba = (std::uint64_t{b[8]} << 40) | (std::uint64_t{b[6]} << 32) |
              (std::uint64_t{b[4]} << 24) | (std::uint64_t{b[9]} << 16) |
              (std::uint64_t{b[7]} << 8) | b[5];
      a.device = b[10];
      a.status = b[11];
      s.ata_status = a;
      break;
    }
    case kDescAnotherProgress:  // SPC-5 4.4.2.9
      s.another_progress.push_back(AnotherProgress{b[0], b[1], b[2], load_be16(b, 4)});
      break;
    default:
      break;
  }
}

}  // namespace

std::string sense_key_name(std::uint8_t key) {
  static constexpr std::array<std::string_view, 16> kNames = {
      "No Sense",
      "Recovered Error",
      "Not Ready",
      "Medium Error",
      "Hardware Error",
      "Illegal Request",
      "Unit Attention",
      "Data Protect",
      "Blank Check",
      "Vendor Specific",
      "Copy Aborted",
      "Aborted Command",
      "",
      "Volume Overflow",
      "Miscompare",
      "Completed",
  };
  const unsigned k = key & 0x0fU;
  if (kNames[k].empty()) {
    return "Reserved [0xc]";
  }
  return std::string(kNames[k]);
}

bool asc_ascq_known(std::uint8_t asc, std::uint8_t ascq) {
  return find_asc(asc, ascq) != nullptr || range_text(asc, ascq).has_value();
}

// SPC-5 4.4.4 and Annex F: additional sense codes.
std::string asc_ascq_text(std::uint8_t asc, std::uint8_t ascq) {
  if (const auto* e = find_asc(asc, ascq)) {
    return sentence_case(e->text);
  }
  if (auto r = range_text(asc, ascq)) {
    return *r;
  }
  if (asc >= 0x80 || ascq >= 0x80) {
    return "Vendor specific ASC " + hex2(asc) + " ASCQ " + hex2(ascq);
  }
  return "Reserved ASC " + hex2(asc) + " ASCQ " + hex2(ascq);
}

// SPC-5 4.4.2.4 Sense key specific sense data.
SenseKeySpecific decode_sense_key_specific(std::uint8_t key, std::array<std::uint8_t, 3> sks) {
  const std::uint16_t value = static_cast<std::uint16_t>((sks[1] << 8) | sks[2]);
  switch (static_cast<SenseKey>(key & 0x0f)) {
    case SenseKey::IllegalRequest:
      return FieldPointerInfo{bit(sks[0], 6), bit(sks[0], 3), bits(sks[0], 0, 3), value};
    case SenseKey::RecoveredError:
    case SenseKey::MediumError:
    case SenseKey::HardwareError:
      return ActualRetryCount{value};
    case SenseKey::NoSense:
    case SenseKey::NotReady:
      return ProgressIndication{value};
    case SenseKey::CopyAborted:
      return SegmentPointer{bit(sks[0], 5), bit(sks[0], 3), bits(sks[0], 0, 3), value};
    case SenseKey::UnitAttention:
      return UnitAttentionQueue{bit(sks[0], 0)};
    default:
      return RawSenseKeySpecific{sks};
  }
}

Result<std::array<std::uint8_t, 3>> encode_sense_key_specific(const SenseKeySpecific& sks) {
  std::array<std::uint8_t, 3> out{};
  auto put16 = [&out](std::uint16_t v) {
    out[1] = static_cast<std::uint8_t>(v >> 8);
    out[2] = static_cast<std::uint8_t>(v);
  };
  if (const auto* f = std::get_if<FieldPointerInfo>(&sks)) {
    if (f->bit_pointer > 7) {
      return fail_invalid("field pointer: bit pointer above 7");
    }
    out[0] = static_cast<std::uint8_t>(sks_byte0(true) | (f->command ? 0x40 : 0) |
                                       (f->bpv ? 0x08 : 0) | f->bit_pointer);
    put16(f->field_pointer);
  } else if (const auto* r = std::get_if<ActualRetryCount>(&sks)) {
    out[0] = sks_byte0(true);
    put16(r->count);
  } else if (const auto* p = std::get_if<ProgressIndication>(&sks)) {
    out[0] = sks_byte0(true);
    put16(p->progress);
  } else if (const auto* g = std::get_if<SegmentPointer>(&sks)) {
    if (g->bit_pointer > 7) {
      return fail_invalid("segment pointer: bit pointer above 7");
    }
    out[0] = static_cast<std::uint8_t>(sks_byte0(true) | (g->segment_descriptor ? 0x20 : 0) |
                                       (g->bpv ? 0x08 : 0) | g->bit_pointer);
    put16(g->field_pointer);
  } else if (const auto* u = std::get_if<UnitAttentionQueue>(&sks)) {
    out[0] = static_cast<std::uint8_t>(sks_byte0(true) | (u->overflow ? 0x01 : 0));
  } else {
    out = std::get<RawSenseKeySpecific>(sks).bytes;
    out[0] |= 0x80;
  }
  return out;
}

std::optional<SenseKeySpecific> SenseData::sense_key_specific_info() const {
  if (!sense_key_specific) {
    return std::nullopt;
  }
  return decode_sense_key_specific(sense_key, *sense_key_specific);
}

// SPC-5 4.4.2 Descriptor format sense data and 4.4.3 Fixed format sense data.
Result<SenseData> parse_sense(Bytes data) {
  if (data.empty()) {
    return fail_invalid("sense data is empty");
  }
  SenseData s;
  s.response_code = bits(data[0], 0, 7);
  switch (s.response_code) {
    case kSenseFixedCurrent:
    case kSenseFixedDeferred:
      s.format = SenseFormat::Fixed;
      break;
    case kSenseDescriptorCurrent:
    case kSenseDescriptorDeferred:
      s.format = SenseFormat::Descriptor;
      break;
    case 0x7f:
      return fail_invalid("sense data has vendor specific response code 0x7f");
    default:
      return fail_invalid("sense data has unknown response code " + hex2(s.response_code));
  }
  s.deferred =
      s.response_code == kSenseFixedDeferred || s.response_code == kSenseDescriptorDeferred;
  // The bytes the device says it returned, capped by what we have.
  const std::size_t declared = data.size() >= 8 ? 8 + std::size_t{data[7]} : 8;
  s.truncated = data.size() < declared;
  const std::size_t end = std::min(declared, data.size());
  const auto has = [end](std::size_t off, std::size_t len) { return off + len <= end; };

  if (s.format == SenseFormat::Fixed) {
    if (has(2, 1)) {
      s.filemark = bit(data[2], 7);
      s.eom = bit(data[2], 6);
      s.ili = bit(data[2], 5);
      s.sdat_ovfl = bit(data[2], 4);
      s.sense_key = bits(data[2], 0, 4);
    }
    if (has(3, 4)) {
      s.information_valid = bit(data[0], 7);
      s.information = load_be32(data, 3);
    }
    if (has(8, 4)) {
      s.command_specific = load_be32(data, 8);
    }
    if (has(12, 1)) {
      s.asc = data[12];
    }
    if (has(13, 1)) {
      s.ascq = data[13];
    }
    if (has(14, 1)) {
      s.fru_code = data[14];
    }
    if (has(15, 3) && bit(data[15], 7)) {
      s.sense_key_specific = std::array<std::uint8_t, 3>{data[15], data[16], data[17]};
    }
    if (end > kFixedSenseLength) {
      s.additional_bytes.assign(data.begin() + kFixedSenseLength,
                                data.begin() + static_cast<std::ptrdiff_t>(end));
    }
    return s;
  }

  if (has(1, 1)) {
    s.sense_key = bits(data[1], 0, 4);
  }
  if (has(2, 1)) {
    s.asc = data[2];
  }
  if (has(3, 1)) {
    s.ascq = data[3];
  }
  if (has(4, 1)) {
    s.sdat_ovfl = bit(data[4], 7);
  }
  std::size_t off = 8;
  while (off < end) {
    if (!has(off, 2) || !has(off, 2 + std::size_t{data[off + 1]})) {
      if (s.truncated) {
        break;  // cut by the buffer: keep what is complete
      }
      return fail_invalid("sense descriptor " + hex2(data[off]) + " at byte " +
                          std::to_string(off) + " runs past the ADDITIONAL SENSE LENGTH (" +
                          std::to_string(declared) + " bytes)");
    }
    SenseDescriptor d;
    d.type = data[off];
    const std::size_t len = data[off + 1];
    const Bytes body = data.subspan(off + 2, len);
    d.body.assign(body.begin(), body.end());
    if (const auto need = known_descriptor_length(d.type); need && len < *need) {
      return fail_invalid("sense descriptor " + hex2(d.type) + " has ADDITIONAL LENGTH " +
                          std::to_string(len) + ", needs " + std::to_string(*need));
    }
    apply_descriptor(s, d);
    s.descriptors.push_back(std::move(d));
    off += 2 + len;
  }
  return s;
}

Result<std::vector<std::uint8_t>> encode_fixed_sense(std::uint8_t key, std::uint8_t asc,
                                                     std::uint8_t ascq, const SenseFields& f) {
  if (key > 0x0f) {
    return fail_invalid("sense key " + std::to_string(key) + " exceeds 4 bits");
  }
  if ((f.information && *f.information > 0xffffffffULL) ||
      (f.command_specific && *f.command_specific > 0xffffffffULL)) {
    return fail_invalid(
        "fixed format sense: information fields hold 32 bits; use descriptor format");
  }
  if (f.ata_status || !f.another_progress.empty() || !f.extra_descriptors.empty()) {
    return fail_invalid("fixed format sense cannot carry sense data descriptors");
  }
  std::vector<std::uint8_t> out(kFixedSenseLength, 0);
  MutableBytes m(out);
  out[0] = static_cast<std::uint8_t>((f.information ? 0x80 : 0) |
                                     (f.deferred ? kSenseFixedDeferred : kSenseFixedCurrent));
  out[2] = static_cast<std::uint8_t>((f.filemark ? 0x80 : 0) | (f.eom ? 0x40 : 0) |
                                     (f.ili ? 0x20 : 0) | key);
  if (f.information) {
    store_be32(m, 3, static_cast<std::uint32_t>(*f.information));
  }
  out[7] = static_cast<std::uint8_t>(kFixedSenseLength - 8);
  if (f.command_specific) {
    store_be32(m, 8, static_cast<std::uint32_t>(*f.command_specific));
  }
  out[12] = asc;
  out[13] = ascq;
  out[14] = f.fru_code;
  if (f.sense_key_specific) {
    auto sks = encode_sense_key_specific(*f.sense_key_specific);
    if (!sks) {
      return fail(sks.error());
    }
    std::copy(sks->begin(), sks->end(), out.begin() + 15);
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_descriptor_sense(std::uint8_t key, std::uint8_t asc,
                                                          std::uint8_t ascq, const SenseFields& f) {
  if (key > 0x0f) {
    return fail_invalid("sense key " + std::to_string(key) + " exceeds 4 bits");
  }
  std::vector<std::uint8_t> out(8, 0);
  out[0] = f.deferred ? kSenseDescriptorDeferred : kSenseDescriptorCurrent;
  out[1] = key;
  out[2] = asc;
  out[3] = ascq;
  auto add = [&out](std::uint8_t type, std::initializer_list<std::uint8_t> body) {
    out.push_back(type);
    out.push_back(static_cast<std::uint8_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  };
  auto be64 = [](std::uint64_t v, std::size_t i) {
    return static_cast<std::uint8_t>(v >> (56 - 8 * i));
  };
  if (f.information) {
    const std::uint64_t v = *f.information;
    add(kDescInformation, {0x80, 0, be64(v, 0), be64(v, 1), be64(v, 2), be64(v, 3), be64(v, 4),
                           be64(v, 5), be64(v, 6), be64(v, 7)});
  }
  if (f.command_specific) {
    const std::uint64_t v = *f.command_specific;
    add(kDescCommandSpecific, {0, 0, be64(v, 0), be64(v, 1), be64(v, 2), be64(v, 3), be64(v, 4),
                               be64(v, 5), be64(v, 6), be64(v, 7)});
  }
  if (f.sense_key_specific) {
    auto sks = encode_sense_key_specific(*f.sense_key_specific);
    if (!sks) {
      return fail(sks.error());
    }
    add(kDescSenseKeySpecific, {0, 0, (*sks)[0], (*sks)[1], (*sks)[2], 0});
  }
  if (f.fru_code != 0) {
    add(kDescFieldReplaceableUnit, {0, f.fru_code});
  }
  if (f.filemark || f.eom) {
    add(kDescStreamCommands,
        {0, static_cast<std::uint8_t>((f.filemark ? 0x80 : 0) | (f.eom ? 0x40 : 0) |
                                      (f.ili ? 0x20 : 0))});
  } else if (f.ili) {
    add(kDescBlockCommands, {0, 0x20});
  }
  if (f.ata_status) {
    const AtaStatusReturn& a = *f.ata_status;
    const auto lb = [&a](unsigned shift) { return static_cast<std::uint8_t>(a.lba >> shift); };
    add(kDescAtaStatusReturn,
        {static_cast<std::uint8_t>(a.extend ? 1 : 0), a.error,
         static_cast<std::uint8_t>(a.count >> 8), static_cast<std::uint8_t>(a.count), lb(24), lb(0),
         lb(32), lb(8), lb(40), lb(16), a.device, a.status});
  }
  for (const AnotherProgress& p : f.another_progress) {
    add(kDescAnotherProgress,
        {p.sense_key, p.asc, p.ascq, 0, static_cast<std::uint8_t>(p.progress >> 8),
         static_cast<std::uint8_t>(p.progress)});
  }
  for (const SenseDescriptor& d : f.extra_descriptors) {
    if (d.body.size() > 0xff) {
      return fail_invalid("sense descriptor body longer than 255 bytes");
    }
    out.push_back(d.type);
    out.push_back(static_cast<std::uint8_t>(d.body.size()));
    out.insert(out.end(), d.body.begin(), d.body.end());
  }
  if (out.size() > kMaxSenseLength) {
    return fail_invalid("descriptor format sense data of " + std::to_string(out.size()) +
                        " bytes exceeds 252");
  }
  out[7] = static_cast<std::uint8_t>(out.size() - 8);
  return out;
}

std::optional<SenseCode> sense_code(Bytes data) {
  if (data.empty()) {
    return std::nullopt;
  }
  const std::uint8_t response = data[0] & 0x7f;
  if ((response == kSenseFixedCurrent || response == kSenseFixedDeferred) && data.size() >= 14) {
    return SenseCode{static_cast<std::uint8_t>(data[2] & 0x0f), data[12], data[13]};
  }
  if ((response == kSenseDescriptorCurrent || response == kSenseDescriptorDeferred) &&
      data.size() >= 4) {
    return SenseCode{static_cast<std::uint8_t>(data[1] & 0x0f), data[2], data[3]};
  }
  return std::nullopt;
}

std::vector<std::uint8_t> sense_for_cdb_error(const Error& error, SenseFormat format) {
  SenseCode code = kInvalidFieldInCdb;
  if (error.kind() == Error::Kind::Sense) {
    code = error.sense();
  }
  SenseFields f;
  if (auto fp = cdb_field_pointer(error); fp && code.key == 0x05) {
    f.sense_key_specific =
        FieldPointerInfo{true, fp->bit.has_value(), fp->bit.value_or(0), fp->byte};
  }
  auto r = format == SenseFormat::Descriptor
               ? encode_descriptor_sense(code.key, code.asc, code.ascq, f)
               : encode_fixed_sense(code.key, code.asc, code.ascq, f);
  // Cannot fail: the key is 4 bits (Error carries a valid triple from our decoders; mask for
  // others) and the bit pointer comes from a parsed "bit N" below 8.
  if (!r) {
    return *encode_fixed_sense(0x05, 0x24, 0x00);
  }
  return *r;
}

std::string describe_sense(const SenseData& s) {
  std::string out = s.format == SenseFormat::Fixed ? "Fixed format, " : "Descriptor format, ";
  out += s.deferred ? "deferred" : "current";
  out += "; Sense key: " + sense_key_name(s.sense_key);
  out += "; Additional sense: " + asc_ascq_text(s.asc, s.ascq);
  if (s.information_valid) {
    out += "; Information: " + hex_u64(s.information);
  }
  if (s.command_specific && *s.command_specific != 0) {
    out += "; Command-specific: " + hex_u64(*s.command_specific);
  }
  if (auto sks = s.sense_key_specific_info()) {
    if (const auto* f = std::get_if<FieldPointerInfo>(&*sks)) {
      out += std::string("; Field pointer: ") + (f->command ? "CDB " : "parameter list ") +
             pointer_text(f->field_pointer, f->bpv, f->bit_pointer);
    } else if (const auto* r = std::get_if<ActualRetryCount>(&*sks)) {
      out += "; Actual retry count: " + std::to_string(r->count);
    } else if (const auto* p = std::get_if<ProgressIndication>(&*sks)) {
      out += "; Progress: " + percent(p->progress) + "%";
    } else if (const auto* g = std::get_if<SegmentPointer>(&*sks)) {
      out += std::string("; Segment pointer: ") +
             (g->segment_descriptor ? "segment descriptor " : "parameter list ") +
             pointer_text(g->field_pointer, g->bpv, g->bit_pointer);
    } else if (const auto* u = std::get_if<UnitAttentionQueue>(&*sks)) {
      if (u->overflow) {
        out += "; Unit attention queue overflow";
      }
    } else {
      const auto& raw = std::get<RawSenseKeySpecific>(*sks).bytes;
      out += "; Sense key specific: " + hex2(raw[0]) + " " + hex2(raw[1]) + " " + hex2(raw[2]);
    }
  }
  if (s.fru_code != 0) {
    out += "; Field replaceable unit: " + hex2(s.fru_code);
  }
  if (s.filemark) {
    out += "; Filemark";
  }
  if (s.eom) {
    out += "; EOM";
  }
  if (s.ili) {
    out += "; ILI";
  }
  if (s.sdat_ovfl) {
    out += "; SDAT_OVFL";
  }
  if (s.ata_status) {
    out += "; ATA status: " + hex2(s.ata_status->status) + ", error: " + hex2(s.ata_status->error);
  }
  for (const AnotherProgress& p : s.another_progress) {
    out += "; Another progress: " + hex2(p.sense_key) + "/" + hex2(p.asc) + "/" + hex2(p.ascq) +
           " " + percent(p.progress) + "%";
  }
  for (const SenseDescriptor& d : s.descriptors) {
    if (!known_descriptor_length(d.type)) {
      out += "; Descriptor " + hex2(d.type) + " (" + std::to_string(d.body.size() + 2) + " bytes)";
    }
  }
  if (s.truncated) {
    out += "; Truncated";
  }
  return out;
}

}  // namespace ucam::scsi
