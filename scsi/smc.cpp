#include "scsi/smc.h"

#include <algorithm>
#include <cstdio>

#include "scsi/sense.h"

namespace ucam::scsi::smc {
namespace {

constexpr std::uint32_t kMax24 = 0xffffff;

std::string hex(unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, value);
  return buf;
}
std::string dec(std::size_t value) {
  return std::to_string(value);
}

// ---- CDB helpers ------------------------------------------------------------------------------

Cdb make(Opcode op, std::uint8_t len) {
  Cdb c;
  c.len = len;
  c.bytes[0] = static_cast<std::uint8_t>(op);
  return c;
}

MutableBytes mut(Cdb& c) {
  return MutableBytes(c.bytes.data(), c.len);
}

// Same context format as cdb.cpp's decoders ("<NAME> CDB byte N[ bit M]: "), so
// cdb_field_pointer() recovers the field for the sense-key-specific bytes.
tl::unexpected<Error> field_error(std::string_view name, std::size_t byte,
                                  std::optional<unsigned> bit_number, std::string_view what) {
  std::string ctx(name);
  ctx += " CDB byte " + dec(byte);
  if (bit_number) {
    ctx += " bit " + dec(*bit_number);
  }
  ctx += ": ";
  ctx += what;
  return fail(Error::from_sense(kInvalidFieldInCdb, std::move(ctx)));
}

Result<void> check_cdb(Bytes cdb, Opcode op) {
  const std::string name(smc_command_name(static_cast<std::uint8_t>(op)));
  if (cdb.empty()) {
    return fail(Error::from_sense(kInvalidOpcode, name + " CDB: empty CDB"));
  }
  if (cdb[0] != static_cast<std::uint8_t>(op)) {
    return fail(Error::from_sense(kInvalidOpcode,
                                  name + " CDB byte 0: operation code " + hex(cdb[0], 2) + " (" +
                                      std::string(smc_command_name(cdb[0])) + ") is not " + name));
  }
  const std::size_t need = cdb_length(cdb[0]);
  if (cdb.size() < need) {
    return field_error(name, cdb.size(), std::nullopt,
                       "CDB truncated: " + dec(cdb.size()) + " of " + dec(need) + " bytes");
  }
  return {};
}

// ELEMENT TYPE CODE in byte 1 bits 3:0 (bits 7:5 are the obsolete LUN, bit 4 VOLTAG).
Result<ElementType> cdb_element_type(Bytes cdb, std::string_view name) {
  const std::uint8_t code = bits(cdb[1], 0, 4);
  if (code > type_value(ElementType::DataTransfer)) {
    return field_error(name, 1, 3, "element type code " + dec(code) + " is reserved");
  }
  return static_cast<ElementType>(code);
}

Result<void> check_request_type(ElementType type, std::string_view name) {
  if (type_value(type) > type_value(ElementType::DataTransfer)) {
    return fail_invalid(std::string(name) + ": element type code " + dec(type_value(type)) +
                        " is not 0-4");
  }
  return {};
}

// ---- Element status data ----------------------------------------------------------------------

VolumeTag decode_tag(Bytes tag) {
  VolumeTag t;
  std::size_t len = kVolumeIdentifierLength;
  while (len > 0 && (tag[len - 1] == ' ' || tag[len - 1] == 0)) {
    --len;
  }
  t.identifier.assign(tag.begin(), tag.begin() + static_cast<std::ptrdiff_t>(len));
  t.sequence = load_be16(tag, 34);
  return t;
}

// `d` is one whole descriptor of the page's descriptor length, which the caller checked holds
// the fixed fields and the announced volume tags.
ElementDescriptor decode_descriptor(Bytes d, const ElementStatusPage& page, Dvcid dvcid,
                                    std::vector<std::string>& warnings) {
  ElementDescriptor e;
  e.address = load_be16(d, 0);
  const std::uint8_t flags = d[2];
  e.full = bit(flags, 0);
  e.impexp = bit(flags, 1);
  e.except = bit(flags, 2);
  e.access = bit(flags, 3);
  e.exenab = bit(flags, 4);
  e.inenab = bit(flags, 5);
  e.cmc = bit(flags, 6);
  e.oir = bit(flags, 7);
  e.asc = d[4];
  e.ascq = d[5];
  e.not_bus = bit(d[6], 7);
  e.id_valid = bit(d[6], 5);
  e.lu_valid = bit(d[6], 4);
  e.lun = bits(d[6], 0, 3);
  e.bus_address = d[7];
  e.svalid = bit(d[9], 7);
  e.invert = bit(d[9], 6);
  e.ed = bit(d[9], 3);
  e.medium_type = bits(d[9], 0, 3);
  e.source_address = load_be16(d, 10);
  std::size_t off = kElementDescriptorFixedLength;
  if (page.pvoltag) {
    e.primary_tag = decode_tag(d.subspan(off, kVolumeTagLength));
    off += kVolumeTagLength;
  }
  if (page.avoltag) {
    e.alternate_tag = decode_tag(d.subspan(off, kVolumeTagLength));
    off += kVolumeTagLength;
  }
  // A changer that ignored DVCID sends descriptors without room for the identifier header:
  // no identifier then, as FreeBSD's ch does.
  if (dvcid == Dvcid::Requested && d.size() - off >= kDeviceIdentifierHeaderLength) {
    DeviceIdentifier id;
    id.protocol_identifier = bits(d[off], 4, 4);
    id.code_set = bits(d[off], 0, 4);
    id.piv = bit(d[off + 1], 7);
    id.association = bits(d[off + 1], 4, 2);
    id.identifier_type = bits(d[off + 1], 0, 4);
    const std::size_t len = d[off + 3];
    off += kDeviceIdentifierHeaderLength;
    const std::size_t room = d.size() - off;
    const std::size_t take = std::min(len, room);
    if (len > room) {
      warnings.push_back("element " + hex(e.address, 4) + ": IDENTIFIER LENGTH " + dec(len) +
                         " runs past the descriptor (" + dec(room) +
                         " bytes left); identifier cut");
    }
    const Bytes ident = d.subspan(off, take);
    id.identifier.assign(ident.begin(), ident.end());
    off += take;
    e.device_identifier = std::move(id);
  }
  std::size_t end = d.size();
  while (end > off && d[end - 1] == 0) {
    --end;
  }
  const Bytes rest = d.subspan(off, end - off);
  e.vendor_specific.assign(rest.begin(), rest.end());
  return e;
}

Result<ElementStatusData> parse_report(Bytes data, Dvcid dvcid, const std::string& what,
                                       DataEnd data_end = DataEnd::MayBeCut) {
  if (data.size() < kElementStatusHeaderLength) {
    return fail_invalid(what + " truncated: " + dec(data.size()) +
                        " bytes, the header needs 8 (allocation length too small?)");
  }
  ElementStatusData r;
  r.first_element_address = load_be16(data, 0);
  r.number_of_elements_available = load_be16(data, 2);
  r.byte_count_available = load_be24(data, 5);
  const std::size_t report_end = kElementStatusHeaderLength + r.byte_count_available;
  const bool short_buffer = data.size() < report_end;
  const std::size_t end = std::min(data.size(), report_end);
  const std::string report_count =
      "BYTE COUNT OF REPORT AVAILABLE (" + dec(r.byte_count_available) + ")";

  std::size_t off = kElementStatusHeaderLength;
  std::size_t complete_end = off;  // after the last complete descriptor
  std::size_t count = 0;
  bool cut = false;
  while (off < end) {
    if (off + kElementStatusPageHeaderLength > end) {
      if (short_buffer) {
        cut = true;
        break;
      }
      return fail_invalid(what + ": the element status page header at byte " + dec(off) +
                          " runs past the " + report_count);
    }
    const std::string at = what + ": element status page at byte " + dec(off);
    if (!is_element_type(data[off])) {
      return fail_invalid(at + ": element type code " + dec(data[off]) + " is not 1-4");
    }
    ElementStatusPage page;
    page.type = static_cast<ElementType>(data[off]);
    page.pvoltag = bit(data[off + 1], 7);
    page.avoltag = bit(data[off + 1], 6);
    page.descriptor_length = load_be16(data, off + 2);
    page.byte_count_available = load_be24(data, off + 5);
    const std::size_t edl = page.descriptor_length;
    const std::size_t page_bytes = page.byte_count_available;
    const std::size_t fixed = kElementDescriptorFixedLength +
                              (page.pvoltag ? kVolumeTagLength : 0) +
                              (page.avoltag ? kVolumeTagLength : 0);
    if (page_bytes > 0) {
      if (edl < fixed) {
        return fail_invalid(at + " (" + element_type_name(page.type) +
                            "): ELEMENT DESCRIPTOR LENGTH " + dec(edl) + " is smaller than the " +
                            dec(fixed) + " bytes its fields need (12" +
                            (page.pvoltag ? " + primary volume tag 36" : "") +
                            (page.avoltag ? " + alternate volume tag 36" : "") + ")");
      }
      if (page_bytes % edl != 0) {
        return fail_invalid(at + " (" + element_type_name(page.type) +
                            "): BYTE COUNT OF DESCRIPTOR DATA AVAILABLE " + dec(page_bytes) +
                            " is not a multiple of ELEMENT DESCRIPTOR LENGTH " + dec(edl));
      }
    }
    const std::size_t page_end = off + kElementStatusPageHeaderLength + page_bytes;
    if (page_end > report_end) {
      return fail_invalid(at + " (" + element_type_name(page.type) + "): its " + dec(page_bytes) +
                          " bytes of descriptors run past the " + report_count);
    }
    std::size_t p = off + kElementStatusPageHeaderLength;
    const std::size_t readable_end = std::min(page_end, end);
    while (p < page_end && p + edl <= readable_end) {
      if (++count > r.number_of_elements_available) {
        return fail_invalid(what + ": element descriptor at byte " + dec(p) + " is one more than " +
                            "NUMBER OF ELEMENTS AVAILABLE (" + dec(r.number_of_elements_available) +
                            ")");
      }
      page.descriptors.push_back(decode_descriptor(data.subspan(p, edl), page, dvcid, r.warnings));
      p += edl;
      complete_end = p;
    }
    // The report's last descriptor cut by a device that sent less than it counted (see the top
    // of smc.h): taken when its fixed fields and volume identifiers are all there.
    const std::size_t tags = (page.pvoltag ? 1U : 0U) + (page.avoltag ? 1U : 0U);
    const std::size_t identified = kElementDescriptorFixedLength +
                                   (tags > 0 ? (tags - 1) * kVolumeTagLength : 0) +
                                   (tags > 0 ? kVolumeIdentifierLength : 0);
    if (data_end == DataEnd::EndedByDevice && short_buffer && p < page_end && p + edl > end &&
        end - p >= identified && count + 1 == r.number_of_elements_available) {
      ++count;
      std::vector<std::uint8_t> padded(edl, 0);
      std::copy(data.begin() + static_cast<std::ptrdiff_t>(p),
                data.begin() + static_cast<std::ptrdiff_t>(end), padded.begin());
      const std::size_t got = end - p;
      auto descriptor = decode_descriptor(padded, page, dvcid, r.warnings);
      std::string lost = "the missing bytes taken as zeros";
      // A device identifier not wholly received is left out, as with an ignored DVCID: a cut
      // one would name no device (and the bytes after it were not received either).
      if (descriptor.device_identifier &&
          got < fixed + kDeviceIdentifierHeaderLength + padded[fixed + 3]) {
        descriptor.device_identifier.reset();
        descriptor.vendor_specific.clear();
        lost = "its device identifier, cut, left out";
      }
      r.warnings.push_back("element " + hex(descriptor.address, 4) + ": the data ends " + dec(got) +
                           " bytes into its " + dec(edl) + "-byte descriptor, short " + "of the " +
                           report_count + "; " + lost);
      page.descriptors.push_back(std::move(descriptor));
      p = page_end;
      complete_end = end;
    }
    const bool page_complete = p >= page_end;
    if (page_complete || !page.descriptors.empty()) {
      r.pages.push_back(std::move(page));
    }
    if (!page_complete) {
      cut = true;  // only with a short buffer: page_end <= report_end
      break;
    }
    complete_end = page_end;
    off = page_end;
  }
  r.bytes_decoded = static_cast<std::uint32_t>(complete_end - kElementStatusHeaderLength);

  if (count == r.number_of_elements_available) {
    if (cut || short_buffer) {
      // Seen with changers whose byte count includes the 8-byte header.
      r.warnings.push_back(report_count + " promises " + dec(report_end) + " bytes but " +
                           dec(data.size()) + " hold all " + dec(count) +
                           " elements available; report taken as complete");
    }
  } else {
    r.truncated = true;
    if (!cut && !short_buffer) {
      // Some changers cut the byte count to the allocation length: keep paging.
      r.warnings.push_back("only " + dec(count) + " of the " + dec(r.number_of_elements_available) +
                           " elements available fill the " + report_count +
                           "; report taken as truncated");
    }
  }
  return r;
}

Result<void> encode_tag(MutableBytes out, const std::optional<VolumeTag>& tag,
                        std::uint16_t address) {
  std::fill(out.begin(), out.begin() + kVolumeIdentifierLength, std::uint8_t{' '});
  if (!tag) {
    return {};  // blank: "no volume tag" (SMC-3)
  }
  if (tag->identifier.size() > kVolumeIdentifierLength) {
    return fail_invalid("element " + hex(address, 4) + ": volume identifier of " +
                        dec(tag->identifier.size()) + " bytes exceeds 32");
  }
  std::copy(tag->identifier.begin(), tag->identifier.end(), out.begin());
  store_be16(out, 34, tag->sequence);
  return {};
}

Result<void> check_width(unsigned value, unsigned width, std::uint16_t address,
                         std::string_view field) {
  if (value >= (1U << width)) {
    return fail_invalid("element " + hex(address, 4) + ": " + std::string(field) + " " +
                        dec(value) + " does not fit " + dec(width) + " bits");
  }
  return {};
}

Result<void> encode_descriptor(MutableBytes d, const ElementDescriptor& e,
                               const ElementStatusPage& page, bool identifiers) {
  const std::uint16_t a = e.address;
  for (auto check :
       {check_width(e.lun, 3, a, "LUN"), check_width(e.medium_type, 3, a, "medium type")}) {
    if (!check) {
      return check;
    }
  }
  store_be16(d, 0, a);
  d[2] = static_cast<std::uint8_t>(
      (e.full ? 0x01 : 0) | (e.impexp ? 0x02 : 0) | (e.except ? 0x04 : 0) | (e.access ? 0x08 : 0) |
      (e.exenab ? 0x10 : 0) | (e.inenab ? 0x20 : 0) | (e.cmc ? 0x40 : 0) | (e.oir ? 0x80 : 0));
  d[4] = e.asc;
  d[5] = e.ascq;
  d[6] = static_cast<std::uint8_t>((e.not_bus ? 0x80 : 0) | (e.id_valid ? 0x20 : 0) |
                                   (e.lu_valid ? 0x10 : 0) | e.lun);
  d[7] = e.bus_address;
  d[9] = static_cast<std::uint8_t>((e.svalid ? 0x80 : 0) | (e.invert ? 0x40 : 0) |
                                   (e.ed ? 0x08 : 0) | e.medium_type);
  store_be16(d, 10, e.source_address);
  std::size_t off = kElementDescriptorFixedLength;
  if (page.pvoltag) {
    if (auto r = encode_tag(d.subspan(off, kVolumeTagLength), e.primary_tag, a); !r) {
      return r;
    }
    off += kVolumeTagLength;
  }
  if (page.avoltag) {
    if (auto r = encode_tag(d.subspan(off, kVolumeTagLength), e.alternate_tag, a); !r) {
      return r;
    }
    off += kVolumeTagLength;
  }
  if (identifiers) {
    if (e.device_identifier) {
      const DeviceIdentifier& id = *e.device_identifier;
      for (auto check : {check_width(id.protocol_identifier, 4, a, "protocol identifier"),
                         check_width(id.code_set, 4, a, "code set"),
                         check_width(id.association, 2, a, "association"),
                         check_width(id.identifier_type, 4, a, "identifier type")}) {
        if (!check) {
          return check;
        }
      }
      d[off] = static_cast<std::uint8_t>((id.protocol_identifier << 4) | id.code_set);
      d[off + 1] = static_cast<std::uint8_t>((id.piv ? 0x80 : 0) | (id.association << 4) |
                                             id.identifier_type);
      d[off + 3] = static_cast<std::uint8_t>(id.identifier.size());
      std::copy(id.identifier.begin(), id.identifier.end(),
                d.begin() + static_cast<std::ptrdiff_t>(off + kDeviceIdentifierHeaderLength));
      off += kDeviceIdentifierHeaderLength + id.identifier.size();
    } else {
      off += kDeviceIdentifierHeaderLength;  // all zero: an empty identifier
    }
  }
  std::copy(e.vendor_specific.begin(), e.vendor_specific.end(),
            d.begin() + static_cast<std::ptrdiff_t>(off));
  return {};
}

Result<std::vector<std::uint8_t>> encode_report(const ElementStatusData& data,
                                                std::optional<std::uint8_t> action) {
  std::vector<std::uint8_t> out(kElementStatusHeaderLength, 0);
  std::size_t count = 0;
  std::optional<std::uint16_t> first;
  for (std::size_t pi = 0; pi < data.pages.size(); ++pi) {
    const ElementStatusPage& page = data.pages[pi];
    const std::string at = "element status page " + dec(pi);
    if (!is_element_type(type_value(page.type))) {
      return fail_invalid(at + ": element type code " + dec(type_value(page.type)) + " is not 1-4");
    }
    const bool identifiers =
        std::any_of(page.descriptors.begin(), page.descriptors.end(),
                    [](const ElementDescriptor& e) { return e.device_identifier.has_value(); });
    std::size_t need = kElementDescriptorFixedLength + (page.pvoltag ? kVolumeTagLength : 0) +
                       (page.avoltag ? kVolumeTagLength : 0) +
                       (identifiers ? kDeviceIdentifierHeaderLength : 0);
    std::size_t longest = need;
    for (const ElementDescriptor& e : page.descriptors) {
      if ((e.primary_tag && !page.pvoltag) || (e.alternate_tag && !page.avoltag)) {
        return fail_invalid(at + ": element " + hex(e.address, 4) +
                            " has a volume tag the page's PVOLTAG/AVOLTAG does not announce");
      }
      std::size_t len = need + e.vendor_specific.size();
      if (e.device_identifier) {
        if (e.device_identifier->identifier.size() > 0xff) {
          return fail_invalid(at + ": element " + hex(e.address, 4) + ": identifier of " +
                              dec(e.device_identifier->identifier.size()) + " bytes exceeds 255");
        }
        len += e.device_identifier->identifier.size();
      }
      longest = std::max(longest, len);
    }
    std::size_t edl = longest;
    if (page.descriptor_length != 0) {
      if (page.descriptor_length < longest) {
        return fail_invalid(at + ": descriptor length " + dec(page.descriptor_length) +
                            " is smaller than the " + dec(longest) + " bytes a descriptor needs");
      }
      edl = page.descriptor_length;
    }
    if (edl > 0xffff) {
      return fail_invalid(at + ": descriptors of " + dec(edl) + " bytes exceed 65535");
    }
    const std::size_t page_bytes = edl * page.descriptors.size();
    if (page_bytes > kMax24) {
      return fail_invalid(at + ": " + dec(page_bytes) + " bytes of descriptors exceed 24 bits");
    }
    const std::size_t base = out.size();
    out.resize(base + kElementStatusPageHeaderLength + page_bytes, 0);
    const MutableBytes o(out);
    o[base] = type_value(page.type);
    o[base + 1] = static_cast<std::uint8_t>((page.pvoltag ? 0x80 : 0) | (page.avoltag ? 0x40 : 0));
    store_be16(o, base + 2, static_cast<std::uint16_t>(edl));
    store_be24(o, base + 5, static_cast<std::uint32_t>(page_bytes));
    std::size_t p = base + kElementStatusPageHeaderLength;
    for (const ElementDescriptor& e : page.descriptors) {
      if (auto r = encode_descriptor(o.subspan(p, edl), e, page, identifiers); !r) {
        return fail(r.error().with_context(at));
      }
      if (!first) {
        first = e.address;
      }
      p += edl;
      ++count;
    }
  }
  if (count > 0xffff) {
    return fail_invalid("element status data: " + dec(count) + " descriptors exceed 65535");
  }
  const std::size_t total = out.size() - kElementStatusHeaderLength;
  if (total > kMax24) {
    return fail_invalid("element status data: " + dec(total) + " bytes exceed 24 bits");
  }
  const MutableBytes o(out);
  store_be16(o, 0, first.value_or(0));
  store_be16(o, 2, static_cast<std::uint16_t>(count));
  if (action) {
    if (*action > 0x1f) {
      return fail_invalid("volume element address data: send action code " + dec(*action) +
                          " does not fit 5 bits");
    }
    o[4] = *action;
  }
  store_be24(o, 5, static_cast<std::uint32_t>(total));
  return out;
}

// ---- Mode pages -------------------------------------------------------------------------------

Result<void> check_page(const ModePage& page, std::uint8_t code, std::string_view name,
                        std::size_t need) {
  if (page.page_code != code || page.spf) {
    return fail_invalid("mode page " + hex(page.page_code, 2) +
                        (page.spf ? " (sub_page format)" : "") + " is not the " +
                        std::string(name) + " page (" + hex(code, 2) + ")");
  }
  if (page.data.size() < need) {
    return fail_invalid(std::string(name) + " page: PAGE LENGTH " + dec(page.data.size()) +
                        " is shorter than the " + dec(need) + " bytes of its fields");
  }
  return {};
}

ModePage make_page(std::uint8_t code, std::size_t length) {
  ModePage page;
  page.page_code = code;
  page.data.assign(length, 0);
  return page;
}

bool mask_bit(std::uint8_t mask, ElementType type) {
  return is_element_type(type_value(type)) && bit(mask, type_index(type));
}
void set_mask_bit(std::uint8_t& mask, ElementType type, bool value) {
  if (!is_element_type(type_value(type))) {
    return;
  }
  const auto b = static_cast<std::uint8_t>(1U << type_index(type));
  mask = static_cast<std::uint8_t>(value ? (mask | b) : (mask & ~b));
}

}  // namespace

// ---- Names ------------------------------------------------------------------------------------

std::string element_type_name(std::uint8_t code) {
  switch (code) {
    case 0:
      return "all";
    case 1:
      return "picker";
    case 2:
      return "storage";
    case 3:
      return "portal";
    case 4:
      return "drive";
    default:
      return "<type " + hex(code, 2) + ">";
  }
}

std::string element_type_spec_name(std::uint8_t code) {
  switch (code) {
    case 0:
      return "all";
    case 1:
      return "medium transport";
    case 2:
      return "storage";
    case 3:
      return "import/export";
    case 4:
      return "data transfer";
    default:
      return "<type " + hex(code, 2) + ">";
  }
}

std::optional<ElementType> element_type_from_name(std::string_view name) {
  struct Entry {
    std::string_view name;
    ElementType type;
  };
  static constexpr Entry kNames[] = {
      {"all", ElementType::All},
      {"picker", ElementType::MediumTransport},
      {"mt", ElementType::MediumTransport},
      {"medium transport", ElementType::MediumTransport},
      {"storage", ElementType::Storage},
      {"slot", ElementType::Storage},
      {"st", ElementType::Storage},
      {"portal", ElementType::ImportExport},
      {"ie", ElementType::ImportExport},
      {"import/export", ElementType::ImportExport},
      {"drive", ElementType::DataTransfer},
      {"dt", ElementType::DataTransfer},
      {"data transfer", ElementType::DataTransfer},
  };
  for (const Entry& e : kNames) {
    if (e.name == name) {
      return e.type;
    }
  }
  return std::nullopt;
}

std::string medium_type_name(std::uint8_t code) {
  switch (code) {
    case 0:
      return "unspecified";
    case 1:
      return "data";
    case 2:
      return "cleaning";
    case 3:
      return "diagnostic";
    case 4:
      return "WORM";
    case 5:
      return "microcode";
    default:
      return "<medium " + hex(code, 1) + ">";
  }
}

std::string_view smc_command_name(std::uint8_t opcode) {
  switch (opcode) {
    case 0x07:
      return "INITIALIZE ELEMENT STATUS";
    case 0x2b:
      return "POSITION TO ELEMENT";
    case 0x37:
      return "INITIALIZE ELEMENT STATUS WITH RANGE";
    case 0xa5:
      return "MOVE MEDIUM";
    case 0xa6:
      return "EXCHANGE MEDIUM";
    case 0xb5:
      return "REQUEST VOLUME ELEMENT ADDRESS";
    case 0xb6:
      return "SEND VOLUME TAG";
    case 0xb8:
      return "READ ELEMENT STATUS";
    default:
      return opcode_name(opcode);
  }
}

bool is_send_volume_tag_action(std::uint8_t code) {
  return code == 0x05 || code == 0x06 || (code >= 0x08 && code <= 0x0d);
}

// ---- CDB builders and decoders ----------------------------------------------------------------

Result<Cdb> read_element_status(const ReadElementStatusRequest& r) {
  constexpr std::string_view kName = "READ ELEMENT STATUS";
  if (auto ok = check_request_type(r.type, kName); !ok) {
    return fail(ok.error());
  }
  if (r.allocation_length > kMax24) {
    return fail_invalid("READ ELEMENT STATUS: allocation length " + dec(r.allocation_length) +
                        " exceeds 24 bits");
  }
  Cdb c = make(Opcode::ReadElementStatus, 12);
  c.bytes[1] =
      static_cast<std::uint8_t>((r.voltag == VolumeTags::Include ? 0x10 : 0) | type_value(r.type));
  store_be16(mut(c), 2, r.starting_address);
  store_be16(mut(c), 4, r.number_of_elements);
  c.bytes[6] = static_cast<std::uint8_t>((r.curdata == CurrentData::NoMotion ? 0x02 : 0) |
                                         (r.dvcid == Dvcid::Requested ? 0x01 : 0));
  store_be24(mut(c), 7, r.allocation_length);
  return c;
}

Result<ReadElementStatusRequest> parse_read_element_status_cdb(Bytes cdb) {
  if (auto ok = check_cdb(cdb, Opcode::ReadElementStatus); !ok) {
    return fail(ok.error());
  }
  auto type = cdb_element_type(cdb, "READ ELEMENT STATUS");
  if (!type) {
    return fail(type.error());
  }
  ReadElementStatusRequest r;
  r.type = *type;
  r.voltag = bit(cdb[1], 4) ? VolumeTags::Include : VolumeTags::Exclude;
  r.starting_address = load_be16(cdb, 2);
  r.number_of_elements = load_be16(cdb, 4);
  r.curdata = bit(cdb[6], 1) ? CurrentData::NoMotion : CurrentData::MotionAllowed;
  r.dvcid = bit(cdb[6], 0) ? Dvcid::Requested : Dvcid::NotRequested;
  r.allocation_length = load_be24(cdb, 7);
  return r;
}

Cdb move_medium(const MoveMediumRequest& r) {
  Cdb c = make(Opcode::MoveMedium, 12);
  store_be16(mut(c), 2, r.transport);
  store_be16(mut(c), 4, r.source);
  store_be16(mut(c), 6, r.destination);
  c.bytes[10] = r.invert == Invert::Yes ? 0x01 : 0;
  return c;
}

Result<MoveMediumRequest> parse_move_medium_cdb(Bytes cdb) {
  if (auto ok = check_cdb(cdb, Opcode::MoveMedium); !ok) {
    return fail(ok.error());
  }
  MoveMediumRequest r;
  r.transport = load_be16(cdb, 2);
  r.source = load_be16(cdb, 4);
  r.destination = load_be16(cdb, 6);
  r.invert = bit(cdb[10], 0) ? Invert::Yes : Invert::No;
  return r;
}

Cdb exchange_medium(const ExchangeMediumRequest& r) {
  Cdb c = make(Opcode::ExchangeMedium, 12);
  store_be16(mut(c), 2, r.transport);
  store_be16(mut(c), 4, r.source);
  store_be16(mut(c), 6, r.first_destination);
  store_be16(mut(c), 8, r.second_destination);
  c.bytes[10] = static_cast<std::uint8_t>((r.invert2 == Invert::Yes ? 0x02 : 0) |
                                          (r.invert1 == Invert::Yes ? 0x01 : 0));
  return c;
}

Result<ExchangeMediumRequest> parse_exchange_medium_cdb(Bytes cdb) {
  if (auto ok = check_cdb(cdb, Opcode::ExchangeMedium); !ok) {
    return fail(ok.error());
  }
  ExchangeMediumRequest r;
  r.transport = load_be16(cdb, 2);
  r.source = load_be16(cdb, 4);
  r.first_destination = load_be16(cdb, 6);
  r.second_destination = load_be16(cdb, 8);
  r.invert1 = bit(cdb[10], 0) ? Invert::Yes : Invert::No;
  r.invert2 = bit(cdb[10], 1) ? Invert::Yes : Invert::No;
  return r;
}

Cdb position_to_element(const PositionToElementRequest& r) {
  Cdb c = make(Opcode::PositionToElement, 10);
  store_be16(mut(c), 2, r.transport);
  store_be16(mut(c), 4, r.destination);
  c.bytes[8] = r.invert == Invert::Yes ? 0x01 : 0;
  return c;
}

Result<PositionToElementRequest> parse_position_to_element_cdb(Bytes cdb) {
  if (auto ok = check_cdb(cdb, Opcode::PositionToElement); !ok) {
    return fail(ok.error());
  }
  PositionToElementRequest r;
  r.transport = load_be16(cdb, 2);
  r.destination = load_be16(cdb, 4);
  r.invert = bit(cdb[8], 0) ? Invert::Yes : Invert::No;
  return r;
}

Cdb initialize_element_status() {
  return make(Opcode::InitializeElementStatus, 6);
}

Result<void> parse_initialize_element_status_cdb(Bytes cdb) {
  return check_cdb(cdb, Opcode::InitializeElementStatus);
}

Cdb initialize_element_status_with_range(const InitializeElementStatusWithRangeRequest& r) {
  Cdb c = make(Opcode::InitializeElementStatusWithRange, 10);
  c.bytes[1] = static_cast<std::uint8_t>((r.scan == ScanMode::Fast ? 0x02 : 0) |
                                         (r.range == ElementRangeSelect::Range ? 0x01 : 0));
  store_be16(mut(c), 2, r.starting_address);
  store_be16(mut(c), 6, r.number_of_elements);
  return c;
}

Result<InitializeElementStatusWithRangeRequest> parse_initialize_element_status_with_range_cdb(
    Bytes cdb) {
  if (auto ok = check_cdb(cdb, Opcode::InitializeElementStatusWithRange); !ok) {
    return fail(ok.error());
  }
  InitializeElementStatusWithRangeRequest r;
  r.scan = bit(cdb[1], 1) ? ScanMode::Fast : ScanMode::Full;
  r.range = bit(cdb[1], 0) ? ElementRangeSelect::Range : ElementRangeSelect::AllElements;
  r.starting_address = load_be16(cdb, 2);
  r.number_of_elements = load_be16(cdb, 6);
  return r;
}

Result<Cdb> send_volume_tag(const SendVolumeTagRequest& r) {
  if (auto ok = check_request_type(r.type, "SEND VOLUME TAG"); !ok) {
    return fail(ok.error());
  }
  Cdb c = make(Opcode::SendVolumeTag, 12);
  c.bytes[1] = type_value(r.type);
  store_be16(mut(c), 2, r.element_address);
  c.bytes[5] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(r.action) & 0x1f);
  store_be16(mut(c), 8, r.parameter_list_length);
  return c;
}

Result<SendVolumeTagRequest> parse_send_volume_tag_cdb(Bytes cdb) {
  if (auto ok = check_cdb(cdb, Opcode::SendVolumeTag); !ok) {
    return fail(ok.error());
  }
  auto type = cdb_element_type(cdb, "SEND VOLUME TAG");
  if (!type) {
    return fail(type.error());
  }
  const std::uint8_t action = bits(cdb[5], 0, 5);
  if (!is_send_volume_tag_action(action)) {
    return field_error("SEND VOLUME TAG", 5, 4,
                       "send action code " + hex(action, 2) + " is reserved");
  }
  SendVolumeTagRequest r;
  r.type = *type;
  r.element_address = load_be16(cdb, 2);
  r.action = static_cast<SendVolumeTagAction>(action);
  r.parameter_list_length = load_be16(cdb, 8);
  return r;
}

Result<Cdb> request_volume_element_address(const RequestVolumeElementAddressRequest& r) {
  if (auto ok = check_request_type(r.type, "REQUEST VOLUME ELEMENT ADDRESS"); !ok) {
    return fail(ok.error());
  }
  if (r.allocation_length > kMax24) {
    return fail_invalid("REQUEST VOLUME ELEMENT ADDRESS: allocation length " +
                        dec(r.allocation_length) + " exceeds 24 bits");
  }
  Cdb c = make(Opcode::RequestVolumeElementAddress, 12);
  c.bytes[1] =
      static_cast<std::uint8_t>((r.voltag == VolumeTags::Include ? 0x10 : 0) | type_value(r.type));
  store_be16(mut(c), 2, r.element_address);
  store_be16(mut(c), 4, r.number_of_elements);
  c.bytes[6] = r.dvcid == Dvcid::Requested ? 0x01 : 0;
  store_be24(mut(c), 7, r.allocation_length);
  return c;
}

Result<RequestVolumeElementAddressRequest> parse_request_volume_element_address_cdb(Bytes cdb) {
  if (auto ok = check_cdb(cdb, Opcode::RequestVolumeElementAddress); !ok) {
    return fail(ok.error());
  }
  auto type = cdb_element_type(cdb, "REQUEST VOLUME ELEMENT ADDRESS");
  if (!type) {
    return fail(type.error());
  }
  RequestVolumeElementAddressRequest r;
  r.type = *type;
  r.voltag = bit(cdb[1], 4) ? VolumeTags::Include : VolumeTags::Exclude;
  r.element_address = load_be16(cdb, 2);
  r.number_of_elements = load_be16(cdb, 4);
  r.dvcid = bit(cdb[6], 0) ? Dvcid::Requested : Dvcid::NotRequested;
  r.allocation_length = load_be24(cdb, 7);
  return r;
}

// ---- Element status data ----------------------------------------------------------------------

std::size_t ElementStatusData::descriptor_count() const {
  std::size_t n = 0;
  for (const ElementStatusPage& page : pages) {
    n += page.descriptors.size();
  }
  return n;
}

const ElementDescriptor* ElementStatusData::find(std::uint16_t address) const {
  for (const ElementStatusPage& page : pages) {
    for (const ElementDescriptor& e : page.descriptors) {
      if (e.address == address) {
        return &e;
      }
    }
  }
  return nullptr;
}

Result<ElementStatusData> parse_element_status_data(Bytes data, Dvcid dvcid, DataEnd end) {
  return parse_report(data, dvcid, "READ ELEMENT STATUS data", end);
}

Result<std::vector<std::uint8_t>> encode_element_status_data(const ElementStatusData& data) {
  return encode_report(data, std::nullopt);
}

std::optional<ElementStatusContinuation> next_element_status_request(
    const ElementStatusData& data) {
  if (!data.truncated) {
    return std::nullopt;
  }
  const std::size_t decoded = data.descriptor_count();
  if (decoded >= data.number_of_elements_available) {
    return std::nullopt;
  }
  ElementStatusContinuation next;
  next.number_of_elements = static_cast<std::uint16_t>(data.number_of_elements_available - decoded);
  next.starting_address = data.first_element_address;
  std::size_t longest = 0;
  for (const ElementStatusPage& page : data.pages) {
    longest = std::max<std::size_t>(longest, page.descriptor_length);
    if (!page.descriptors.empty()) {
      const std::uint16_t last = page.descriptors.back().address;
      if (last == 0xffff) {
        return std::nullopt;
      }
      next.starting_address = static_cast<std::uint16_t>(last + 1);
    }
  }
  // The device's own count of what is left, or (when it cut its byte count) the missing
  // descriptors at the longest descriptor length seen; plus a header and a page header for
  // each element type that may follow.
  const std::uint64_t left_by_count = data.byte_count_available > data.bytes_decoded
                                          ? data.byte_count_available - data.bytes_decoded
                                          : 0;
  const std::uint64_t left_by_size = std::uint64_t{longest} * next.number_of_elements;
  const std::uint64_t want = kElementStatusHeaderLength +
                             kElementStatusPageHeaderLength * kElementTypes.size() +
                             std::max(left_by_count, left_by_size);
  next.allocation_length = static_cast<std::uint32_t>(std::min<std::uint64_t>(want, kMax24));
  return next;
}

std::uint32_t element_status_allocation_length(std::uint16_t descriptor_length, std::uint32_t count,
                                               std::uint32_t pages) {
  const std::uint64_t want = kElementStatusHeaderLength +
                             std::uint64_t{kElementStatusPageHeaderLength} * pages +
                             std::uint64_t{descriptor_length} * count;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(want, kMax24));
}

Result<VolumeElementAddressData> parse_volume_element_address_data(Bytes data, Dvcid dvcid) {
  auto status = parse_report(data, dvcid, "REQUEST VOLUME ELEMENT ADDRESS data");
  if (!status) {
    return fail(status.error());
  }
  VolumeElementAddressData v;
  v.send_action_code = bits(data[4], 0, 5);
  v.status = std::move(*status);
  return v;
}

Result<std::vector<std::uint8_t>> encode_volume_element_address_data(
    const VolumeElementAddressData& data) {
  return encode_report(data.status, data.send_action_code);
}

// ---- SEND VOLUME TAG parameters ---------------------------------------------------------------

Result<std::array<std::uint8_t, kSendVolumeTagParametersLength>> encode_send_volume_tag_parameters(
    const SendVolumeTagParameters& p) {
  const std::string& t = p.volume_identification_template;
  if (t.size() > kVolumeIdentifierLength) {
    return fail_invalid("SEND VOLUME TAG parameters: template of " + dec(t.size()) +
                        " bytes exceeds 32");
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    const auto c = static_cast<unsigned char>(t[i]);
    if (c < 0x20 || c > 0x7e) {
      return fail_invalid("SEND VOLUME TAG parameters: template byte " + dec(i) + " (" + hex(c, 2) +
                          ") is not printable ASCII");
    }
  }
  std::array<std::uint8_t, kSendVolumeTagParametersLength> out{};
  std::fill(out.begin(), out.begin() + kVolumeIdentifierLength, std::uint8_t{' '});
  std::copy(t.begin(), t.end(), out.begin());
  store_be16(out, 34, p.minimum_sequence_number);
  store_be16(out, 38, p.maximum_sequence_number);
  return out;
}

Result<SendVolumeTagParameters> parse_send_volume_tag_parameters(Bytes data) {
  if (data.size() < kSendVolumeTagParametersLength) {
    return fail_invalid("SEND VOLUME TAG parameters: " + dec(data.size()) +
                        " bytes, the list needs 40");
  }
  std::size_t len = 0;
  while (len < kVolumeIdentifierLength && data[len] != 0) {
    ++len;
  }
  while (len > 0 && data[len - 1] == ' ') {
    --len;
  }
  SendVolumeTagParameters p;
  p.volume_identification_template.assign(data.begin(),
                                          data.begin() + static_cast<std::ptrdiff_t>(len));
  p.minimum_sequence_number = load_be16(data, 34);
  p.maximum_sequence_number = load_be16(data, 38);
  return p;
}

// ---- Mode pages -------------------------------------------------------------------------------

ElementRange ElementAddressAssignment::range(ElementType type) const {
  switch (type) {
    case ElementType::MediumTransport:
      return medium_transport;
    case ElementType::Storage:
      return storage;
    case ElementType::ImportExport:
      return import_export;
    case ElementType::DataTransfer:
      return data_transfer;
    default:
      return {};
  }
}

std::optional<ElementLocation> ElementAddressAssignment::locate(std::uint16_t address) const {
  for (ElementType type : kElementTypes) {
    const ElementRange r = range(type);
    if (r.contains(address)) {
      return ElementLocation{type, static_cast<std::uint16_t>(address - r.first)};
    }
  }
  return std::nullopt;
}

std::optional<std::uint16_t> ElementAddressAssignment::address_of(ElementType type,
                                                                  std::uint16_t index) const {
  const ElementRange r = range(type);
  if (index >= r.count || std::uint32_t{r.first} + index > 0xffff) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(r.first + index);
}

Result<ElementAddressAssignment> parse_element_address_assignment(const ModePage& page) {
  if (auto ok = check_page(page, kElementAddressAssignmentPage, "Element Address Assignment", 16);
      !ok) {
    return fail(ok.error());
  }
  const Bytes b(page.data);
  ElementAddressAssignment a;
  ElementRange* ranges[] = {&a.medium_transport, &a.storage, &a.import_export, &a.data_transfer};
  for (std::size_t i = 0; i < 4; ++i) {
    ranges[i]->first = load_be16(b, 4 * i);
    ranges[i]->count = load_be16(b, 4 * i + 2);
  }
  return a;
}

ModePage encode_element_address_assignment(const ElementAddressAssignment& a) {
  ModePage page = make_page(kElementAddressAssignmentPage, 0x12);
  const MutableBytes b(page.data);
  const ElementRange ranges[] = {a.medium_transport, a.storage, a.import_export, a.data_transfer};
  for (std::size_t i = 0; i < 4; ++i) {
    store_be16(b, 4 * i, ranges[i].first);
    store_be16(b, 4 * i + 2, ranges[i].count);
  }
  return page;
}

Result<TransportGeometry> parse_transport_geometry(const ModePage& page) {
  if (auto ok = check_page(page, kTransportGeometryPage, "Transport Geometry", 0); !ok) {
    return fail(ok.error());
  }
  if (page.data.size() % 2 != 0) {
    return fail_invalid("Transport Geometry page: PAGE LENGTH " + dec(page.data.size()) +
                        " is not a multiple of the 2-byte descriptor");
  }
  TransportGeometry g;
  for (std::size_t i = 0; i < page.data.size(); i += 2) {
    g.transports.push_back({bit(page.data[i], 0), page.data[i + 1]});
  }
  return g;
}

Result<ModePage> encode_transport_geometry(const TransportGeometry& g) {
  if (g.transports.size() > 127) {
    return fail_invalid("Transport Geometry page: " + dec(g.transports.size()) +
                        " descriptors exceed the 127 its PAGE LENGTH can hold");
  }
  ModePage page = make_page(kTransportGeometryPage, 2 * g.transports.size());
  for (std::size_t i = 0; i < g.transports.size(); ++i) {
    page.data[2 * i] = g.transports[i].rotate ? 0x01 : 0;
    page.data[2 * i + 1] = g.transports[i].member_number;
  }
  return page;
}

bool DeviceCapabilities::can_store(ElementType type) const {
  return mask_bit(storage, type);
}
bool DeviceCapabilities::can_move(ElementType from, ElementType to) const {
  return is_element_type(type_value(from)) && mask_bit(move_from[type_index(from)], to);
}
bool DeviceCapabilities::can_exchange(ElementType from, ElementType to) const {
  return is_element_type(type_value(from)) && mask_bit(exchange_from[type_index(from)], to);
}
void DeviceCapabilities::set_store(ElementType type, bool value) {
  set_mask_bit(storage, type, value);
}
void DeviceCapabilities::set_move(ElementType from, ElementType to, bool value) {
  if (is_element_type(type_value(from))) {
    set_mask_bit(move_from[type_index(from)], to, value);
  }
}
void DeviceCapabilities::set_exchange(ElementType from, ElementType to, bool value) {
  if (is_element_type(type_value(from))) {
    set_mask_bit(exchange_from[type_index(from)], to, value);
  }
}

Result<DeviceCapabilities> parse_device_capabilities(const ModePage& page) {
  if (auto ok = check_page(page, kDeviceCapabilitiesPage, "Device Capabilities", 14); !ok) {
    return fail(ok.error());
  }
  // Body offsets are page offsets minus the 2-byte page header.
  DeviceCapabilities c;
  c.storage = page.data[0];
  for (std::size_t i = 0; i < 4; ++i) {
    c.move_from[i] = page.data[2 + i];
    c.exchange_from[i] = page.data[10 + i];
  }
  return c;
}

ModePage encode_device_capabilities(const DeviceCapabilities& c) {
  ModePage page = make_page(kDeviceCapabilitiesPage, 0x12);
  page.data[0] = c.storage;
  for (std::size_t i = 0; i < 4; ++i) {
    page.data[2 + i] = c.move_from[i];
    page.data[10 + i] = c.exchange_from[i];
  }
  return page;
}

}  // namespace ucam::scsi::smc
