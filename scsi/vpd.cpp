#include "scsi/vpd.h"

#include <algorithm>
#include <cstdio>

#include "scsi/inquiry.h"

namespace ucam::scsi {
namespace {

std::string hex_u64(std::uint64_t v) {
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%llx", static_cast<unsigned long long>(v));
  return buf.data();
}

std::string hex_bytes(Bytes b) {
  std::string s = "0x";
  static constexpr std::string_view kDigits = "0123456789abcdef";
  for (std::uint8_t c : b) {
    s += kDigits[c >> 4];
    s += kDigits[c & 0xf];
  }
  return s;
}

std::string reserved(std::string_view what, unsigned v) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%x", v);
  return std::string(what) + " [" + buf.data() + "]";
}

// Header plus the whole page (4 + PAGE LENGTH bytes), of the expected page code.
Result<VpdHeader> whole_page(Bytes data, std::uint8_t page_code, std::string_view name) {
  auto h = parse_vpd_header(data);
  if (!h) {
    return fail(h.error().with_context(name));
  }
  if (h->page_code != page_code) {
    return fail_invalid(std::string(name) + ": page code " + hex_u64(h->page_code) + ", expected " +
                        hex_u64(page_code));
  }
  const std::size_t total = 4 + std::size_t{h->page_length};
  if (data.size() < total) {
    return fail_invalid(std::string(name) + " truncated: " + std::to_string(data.size()) + " of " +
                        std::to_string(total) + " bytes (allocation length must be at least " +
                        std::to_string(total) + ")");
  }
  return h;
}

std::vector<std::uint8_t> page_with_header(std::uint8_t peripheral, std::uint8_t page_code,
                                           std::size_t body) {
  std::vector<std::uint8_t> out(4 + body, 0);
  out[0] = peripheral;
  out[1] = page_code;
  store_be16(MutableBytes(out), 2, static_cast<std::uint16_t>(body));
  return out;
}

Result<std::uint16_t> four_byte_u16(const Designator& d, DesignatorType type) {
  if (d.type != type) {
    return fail_invalid("designator is " + designator_type_name(d.type) + ", not " +
                        designator_type_name(type));
  }
  if (d.identifier.size() != 4) {
    return fail_invalid(designator_type_name(type) + " designator has length " +
                        std::to_string(d.identifier.size()) + ", expected 4");
  }
  return load_be16(Bytes(d.identifier), 2);
}

}  // namespace

// SPC-5 7.7.1 VPD page format.
Result<VpdHeader> parse_vpd_header(Bytes data) {
  if (data.size() < 4) {
    return fail_invalid("VPD page header truncated: " + std::to_string(data.size()) +
                        " of 4 bytes");
  }
  VpdHeader h;
  h.peripheral_qualifier = bits(data[0], 5, 3);
  h.device_type = bits(data[0], 0, 5);
  h.page_code = data[1];
  h.page_length = load_be16(data, 2);
  return h;
}

// SPC-5 7.7.16 Supported VPD Pages VPD page.
Result<std::vector<std::uint8_t>> parse_supported_vpd_pages(Bytes data) {
  auto h = whole_page(data, kVpdSupportedPages, "supported VPD pages page");
  if (!h) {
    return fail(h.error());
  }
  const Bytes list = data.subspan(4, h->page_length);
  return std::vector<std::uint8_t>(list.begin(), list.end());
}

Result<std::vector<std::uint8_t>> encode_supported_vpd_pages(std::span<const std::uint8_t> pages,
                                                             std::uint8_t peripheral) {
  if (pages.size() > 0xffff) {
    return fail_invalid("supported VPD pages: more than 65535 page codes");
  }
  auto out = page_with_header(peripheral, kVpdSupportedPages, pages.size());
  std::copy(pages.begin(), pages.end(), out.begin() + 4);
  return out;
}

// SPC-5 7.7.19 Unit Serial Number VPD page.
Result<std::string> parse_unit_serial_number(Bytes data) {
  auto h = whole_page(data, kVpdUnitSerialNumber, "unit serial number page");
  if (!h) {
    return fail(h.error());
  }
  std::string s = trimmed_ascii(data.subspan(4, h->page_length));
  const auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first);
}

Result<std::vector<std::uint8_t>> encode_unit_serial_number(std::string_view serial,
                                                            std::uint8_t peripheral) {
  if (serial.size() > 0xffff) {
    return fail_invalid("unit serial number longer than 65535 bytes");
  }
  for (char c : serial) {
    if (c < 0x20 || c > 0x7e) {
      return fail_invalid("unit serial number holds a byte outside printable ASCII");
    }
  }
  auto out = page_with_header(peripheral, kVpdUnitSerialNumber, serial.size());
  std::copy(serial.begin(), serial.end(), out.begin() + 4);
  return out;
}

std::string code_set_name(CodeSet code_set) {
  switch (code_set) {
    case CodeSet::Binary:
      return "Binary";
    case CodeSet::Ascii:
      return "ASCII";
    case CodeSet::Utf8:
      return "UTF-8";
  }
  return reserved("Reserved", static_cast<unsigned>(code_set));
}

std::string protocol_id_name(ProtocolId protocol) {
  switch (protocol) {
    case ProtocolId::FibreChannel:
      return "Fibre Channel (FCP-4)";
    case ProtocolId::ParallelScsi:
      return "Parallel SCSI (SPI-5, obsolete)";
    case ProtocolId::Ssa:
      return "SSA (SSA-S3P, obsolete)";
    case ProtocolId::Ieee1394:
      return "IEEE 1394 (SBP-3)";
    case ProtocolId::Srp:
      return "SCSI RDMA (SRP)";
    case ProtocolId::Iscsi:
      return "Internet SCSI (iSCSI)";
    case ProtocolId::Sas:
      return "Serial Attached SCSI (SPL)";
    case ProtocolId::Adt:
      return "Automation/Drive Interface (ADT)";
    case ProtocolId::Ata:
      return "AT Attachment Interface (ATA/ATAPI)";
    case ProtocolId::Uas:
      return "USB Attached SCSI (UAS)";
    case ProtocolId::Sop:
      return "SCSI over PCI Express (SOP)";
    case ProtocolId::Pcie:
      return "PCI Express protocols";
    case ProtocolId::None:
      return "No specific protocol";
  }
  return reserved("Reserved", static_cast<unsigned>(protocol));
}

std::string association_name(Association association) {
  switch (association) {
    case Association::LogicalUnit:
      return "Addressed logical unit";
    case Association::TargetPort:
      return "Target port";
    case Association::TargetDevice:
      return "Target device that contains addressed logical unit";
    case Association::Reserved:
      break;
  }
  return reserved("Reserved association", static_cast<unsigned>(association));
}

std::string designator_type_name(DesignatorType type) {
  switch (type) {
    case DesignatorType::VendorSpecific:
      return "Vendor specific";
    case DesignatorType::T10VendorId:
      return "T10 vendor identification";
    case DesignatorType::Eui64:
      return "EUI-64 based";
    case DesignatorType::Naa:
      return "NAA";
    case DesignatorType::RelativeTargetPort:
      return "Relative target port";
    case DesignatorType::TargetPortGroup:
      return "Target port group";
    case DesignatorType::LogicalUnitGroup:
      return "Logical unit group";
    case DesignatorType::Md5LogicalUnitId:
      return "MD5 logical unit identifier";
    case DesignatorType::ScsiNameString:
      return "SCSI name string";
    case DesignatorType::ProtocolSpecificPortId:
      return "Protocol specific port identifier";
    case DesignatorType::Uuid:
      return "UUID identifier";
  }
  return reserved("Reserved designator type", static_cast<unsigned>(type));
}

// SPC-5 7.7.6.1 Device Identification VPD page and designation descriptor.
Result<std::vector<Designator>> parse_device_identification(Bytes data) {
  auto h = whole_page(data, kVpdDeviceIdentification, "device identification page");
  if (!h) {
    return fail(h.error());
  }
  const std::size_t end = 4 + std::size_t{h->page_length};
  std::vector<Designator> out;
  std::size_t off = 4;
  while (off < end) {
    if (end - off < 4) {
      return fail_invalid("device identification page: designation descriptor " +
                          std::to_string(out.size()) + " at byte " + std::to_string(off) +
                          " has a truncated 4-byte header");
    }
    const std::size_t len = data[off + 3];
    if (end - off - 4 < len) {
      return fail_invalid("device identification page: designation descriptor " +
                          std::to_string(out.size()) + " at byte " + std::to_string(off) +
                          " has DESIGNATOR LENGTH " + std::to_string(len) + " but only " +
                          std::to_string(end - off - 4) + " bytes remain in the page");
    }
    Designator d;
    d.protocol_id = static_cast<ProtocolId>(bits(data[off], 4, 4));
    d.code_set = static_cast<CodeSet>(bits(data[off], 0, 4));
    d.piv = bit(data[off + 1], 7);
    d.association = static_cast<Association>(bits(data[off + 1], 4, 2));
    d.type = static_cast<DesignatorType>(bits(data[off + 1], 0, 4));
    const Bytes id = data.subspan(off + 4, len);
    d.identifier.assign(id.begin(), id.end());
    out.push_back(std::move(d));
    off += 4 + len;
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_device_identification(
    std::span<const Designator> designators, std::uint8_t peripheral) {
  std::size_t body = 0;
  for (const Designator& d : designators) {
    if (d.identifier.size() > 0xff) {
      return fail_invalid("designator longer than 255 bytes");
    }
    if (static_cast<unsigned>(d.code_set) > 0xf || static_cast<unsigned>(d.protocol_id) > 0xf ||
        static_cast<unsigned>(d.association) > 3 || static_cast<unsigned>(d.type) > 0xf) {
      return fail_invalid("designator enum value does not fit its field");
    }
    body += 4 + d.identifier.size();
  }
  if (body > 0xffff) {
    return fail_invalid("device identification page longer than 65535 bytes");
  }
  auto out = page_with_header(peripheral, kVpdDeviceIdentification, body);
  std::size_t off = 4;
  for (const Designator& d : designators) {
    out[off] = static_cast<std::uint8_t>((static_cast<unsigned>(d.protocol_id) << 4) |
                                         static_cast<unsigned>(d.code_set));
    out[off + 1] =
        static_cast<std::uint8_t>((d.piv ? 0x80 : 0) | (static_cast<unsigned>(d.association) << 4) |
                                  static_cast<unsigned>(d.type));
    out[off + 3] = static_cast<std::uint8_t>(d.identifier.size());
    std::copy(d.identifier.begin(), d.identifier.end(), out.begin() + off + 4);
    off += 4 + d.identifier.size();
  }
  return out;
}

// SPC-5 7.7.6.6 NAA designator format (7.7.6.6.2 NAA 2, .3 NAA 3, .4 NAA 5, .5 NAA 6).
Result<NaaId> parse_naa(const Designator& d) {
  if (d.type != DesignatorType::Naa) {
    return fail_invalid("designator is " + designator_type_name(d.type) + ", not NAA");
  }
  if (d.identifier.empty()) {
    return fail_invalid("NAA designator is empty");
  }
  const Bytes b(d.identifier);
  NaaId n;
  n.naa = bits(b[0], 4, 4);
  const std::size_t want = n.naa == 6 ? 16 : 8;
  if (n.naa != 2 && n.naa != 3 && n.naa != 5 && n.naa != 6) {
    return fail_invalid("NAA designator has reserved NAA value " + std::to_string(n.naa));
  }
  if (b.size() != want) {
    return fail_invalid("NAA " + std::to_string(n.naa) + " designator has length " +
                        std::to_string(b.size()) + ", expected " + std::to_string(want));
  }
  const std::uint64_t v = load_be64(b, 0);
  switch (n.naa) {
    case 2:  // NAA 4 | VS id A 12 | IEEE company id 24 | VS id B 24
      n.vendor_specific_a = static_cast<std::uint16_t>((v >> 48) & 0xfff);
      n.ieee_company_id = static_cast<std::uint32_t>((v >> 24) & 0xffffff);
      n.vendor_specific_id = v & 0xffffff;
      break;
    case 3:  // NAA 4 | locally administered value 60
      n.locally_administered = v & 0x0fffffffffffffffULL;
      break;
    default:  // 5 and 6: NAA 4 | IEEE company id 24 | VS id 36 [| VS id extension 64]
      n.ieee_company_id = static_cast<std::uint32_t>((v >> 36) & 0xffffff);
      n.vendor_specific_id = v & 0xfffffffffULL;
      if (n.naa == 6) {
        n.vendor_specific_extension = load_be64(b, 8);
      }
      break;
  }
  return n;
}

Result<std::uint64_t> naa_u64(const Designator& d) {
  auto n = parse_naa(d);
  if (!n) {
    return fail(n.error());
  }
  if (n->naa == 6) {
    return fail_invalid("NAA 6 designator is 128 bits; use parse_naa");
  }
  return load_be64(Bytes(d.identifier), 0);
}

// SPC-5 7.7.6.5 EUI-64 based designator format.
Result<Eui64Id> parse_eui64(const Designator& d) {
  if (d.type != DesignatorType::Eui64) {
    return fail_invalid("designator is " + designator_type_name(d.type) + ", not EUI-64 based");
  }
  const Bytes b(d.identifier);
  Eui64Id e;
  std::size_t base = 0;
  switch (b.size()) {
    case 8:
      break;
    case 12:
      e.directory_id = load_be32(b, 8);
      break;
    case 16:
      e.identifier_extension = load_be64(b, 0);
      base = 8;
      break;
    default:
      return fail_invalid("EUI-64 based designator has length " + std::to_string(b.size()) +
                          ", expected 8, 12 or 16");
  }
  e.ieee_company_id = load_be24(b, base);
  e.vendor_specific_extension =
      (std::uint64_t{load_be16(b, base + 3)} << 24) | load_be24(b, base + 5);
  return e;
}

// SPC-5 7.7.6.7 relative target port, 7.7.6.8 target port group, 7.7.6.9 logical unit group.
Result<std::uint16_t> relative_target_port(const Designator& d) {
  return four_byte_u16(d, DesignatorType::RelativeTargetPort);
}
Result<std::uint16_t> target_port_group(const Designator& d) {
  return four_byte_u16(d, DesignatorType::TargetPortGroup);
}
Result<std::uint16_t> logical_unit_group(const Designator& d) {
  return four_byte_u16(d, DesignatorType::LogicalUnitGroup);
}

// SPC-5 7.7.6.4 T10 vendor ID based designator format.
Result<T10VendorIdDesignator> parse_t10_vendor_id(const Designator& d) {
  if (d.type != DesignatorType::T10VendorId) {
    return fail_invalid("designator is " + designator_type_name(d.type) + ", not T10 vendor ID");
  }
  if (d.identifier.size() < 8) {
    return fail_invalid("T10 vendor ID designator shorter than its 8-byte vendor field");
  }
  const Bytes b(d.identifier);
  T10VendorIdDesignator t;
  t.vendor = trimmed_ascii(b.subspan(0, 8));
  t.vendor_specific = trimmed_ascii(b.subspan(8));
  return t;
}

// SPC-5 7.7.6.11 SCSI name string designator format.
Result<std::string> scsi_name_string(const Designator& d) {
  if (d.type != DesignatorType::ScsiNameString) {
    return fail_invalid("designator is " + designator_type_name(d.type) + ", not SCSI name string");
  }
  std::string s(d.identifier.begin(), d.identifier.end());
  const auto nul = s.find('\0');
  if (nul == std::string::npos) {
    return fail_invalid("SCSI name string is not NUL terminated");
  }
  s.resize(nul);
  return s;
}

// SPC-5 7.7.6.13 UUID designator format.
Result<UuidDesignator> parse_uuid_designator(const Designator& d) {
  if (d.type != DesignatorType::Uuid) {
    return fail_invalid("designator is " + designator_type_name(d.type) + ", not UUID");
  }
  if (d.identifier.size() != 18) {
    return fail_invalid("UUID designator has length " + std::to_string(d.identifier.size()) +
                        ", expected 18");
  }
  if (bits(d.identifier[0], 4, 4) != 1) {
    return fail_invalid("UUID designator has reserved UUID TYPE " +
                        std::to_string(bits(d.identifier[0], 4, 4)));
  }
  UuidDesignator u;
  u.locally_assigned = bit(d.identifier[0], 0);
  std::copy(d.identifier.begin() + 2, d.identifier.end(), u.uuid.begin());
  return u;
}

Designator make_naa_designator(std::uint64_t naa, Association association,
                               std::optional<ProtocolId> protocol) {
  Designator d;
  d.code_set = CodeSet::Binary;
  d.type = DesignatorType::Naa;
  d.association = association;
  d.piv = protocol.has_value();
  d.protocol_id = protocol.value_or(ProtocolId::FibreChannel);
  d.identifier.resize(8);
  store_be64(MutableBytes(d.identifier), 0, naa);
  return d;
}

Designator make_relative_target_port(std::uint16_t port, std::optional<ProtocolId> protocol) {
  Designator d;
  d.code_set = CodeSet::Binary;
  d.type = DesignatorType::RelativeTargetPort;
  d.association = Association::TargetPort;
  d.piv = protocol.has_value();
  d.protocol_id = protocol.value_or(ProtocolId::FibreChannel);
  d.identifier.resize(4);
  store_be16(MutableBytes(d.identifier), 2, port);
  return d;
}

Designator make_target_port_group(std::uint16_t group) {
  Designator d;
  d.code_set = CodeSet::Binary;
  d.type = DesignatorType::TargetPortGroup;
  d.association = Association::TargetPort;
  d.identifier.resize(4);
  store_be16(MutableBytes(d.identifier), 2, group);
  return d;
}

Designator make_t10_vendor_id(std::string_view vendor, std::string_view vendor_specific) {
  Designator d;
  d.code_set = CodeSet::Ascii;
  d.type = DesignatorType::T10VendorId;
  d.association = Association::LogicalUnit;
  d.identifier.assign(8, ' ');
  std::copy_n(vendor.begin(), std::min<std::size_t>(vendor.size(), 8), d.identifier.begin());
  d.identifier.insert(d.identifier.end(), vendor_specific.begin(), vendor_specific.end());
  return d;
}

Designator make_scsi_name_string(std::string_view name, Association association) {
  Designator d;
  d.code_set = CodeSet::Utf8;
  d.type = DesignatorType::ScsiNameString;
  d.association = association;
  d.identifier.assign(name.begin(), name.end());
  d.identifier.push_back(0);
  while (d.identifier.size() % 4 != 0) {
    d.identifier.push_back(0);
  }
  return d;
}

std::string designator_value_text(const Designator& d) {
  const Bytes b(d.identifier);
  switch (d.type) {
    case DesignatorType::Naa:
      if (auto v = naa_u64(d)) {
        return hex_u64(*v);
      }
      break;
    case DesignatorType::RelativeTargetPort:
    case DesignatorType::TargetPortGroup:
    case DesignatorType::LogicalUnitGroup:
      if (b.size() == 4) {
        return hex_u64(load_be16(b, 2));
      }
      break;
    case DesignatorType::ScsiNameString:
      if (auto s = scsi_name_string(d)) {
        return *s;
      }
      break;
    case DesignatorType::Uuid:
      if (auto u = parse_uuid_designator(d)) {
        std::string s;
        static constexpr std::string_view kDigits = "0123456789abcdef";
        for (std::size_t i = 0; i < u->uuid.size(); ++i) {
          if (i == 4 || i == 6 || i == 8 || i == 10) {
            s += '-';
          }
          s += kDigits[u->uuid[i] >> 4];
          s += kDigits[u->uuid[i] & 0xf];
        }
        return s;
      }
      break;
    default:
      break;
  }
  if (d.code_set == CodeSet::Ascii || d.code_set == CodeSet::Utf8) {
    return trimmed_ascii(b);
  }
  return hex_bytes(b);
}

std::string describe_device_identification(std::span<const Designator> designators) {
  std::string out = "Device identification VPD page:\n";
  for (unsigned a = 0; a < 4; ++a) {
    bool heading = false;
    for (const Designator& d : designators) {
      if (static_cast<unsigned>(d.association) != a) {
        continue;
      }
      if (!heading) {
        out += "  " + association_name(d.association) + ":\n";
        heading = true;
      }
      out += "    designator type: " + designator_type_name(d.type) +
             ", code set: " + code_set_name(d.code_set) + "\n";
      // SPC-5 7.7.6.1: PROTOCOL IDENTIFIER is meaningful when PIV is one and the association
      // is target port or target device.
      if (d.piv && (d.association == Association::TargetPort ||
                    d.association == Association::TargetDevice)) {
        out += "      transport: " + protocol_id_name(d.protocol_id) + "\n";
      }
      out += "      " + designator_value_text(d) + "\n";
    }
  }
  return out;
}

}  // namespace ucam::scsi
