#include "scsi/ses.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "scsi/ses_util.h"

namespace ucam::scsi::ses {

using detail::join_indexes;
using detail::PageView;
using detail::trim_trailing;

// ---- Names ------------------------------------------------------------------------------------

std::string page_name(std::uint8_t page_code) {
  static constexpr std::array<std::string_view, 16> kNames = {
      "Supported Diagnostic Pages",
      "Configuration",
      "Enclosure Status",
      "Help Text",
      "String In",
      "Threshold In",
      "Array Status",
      "Element Descriptor",
      "Short Enclosure Status",
      "Enclosure Busy",
      "Additional Element Status",
      "Subenclosure Help Text",
      "Subenclosure String In",
      "Supported SES Diagnostic Pages",
      "Download Microcode Status",
      "Subenclosure Nickname Status",
  };
  char buf[32];
  if (page_code < kNames.size()) {
    return std::string(kNames[page_code]);
  }
  if ((page_code >= 0x10 && page_code <= 0x1f) || page_code >= 0x80) {
    std::snprintf(buf, sizeof buf, "Vendor specific (0x%02x)", page_code);
  } else {
    std::snprintf(buf, sizeof buf, "<Page 0x%02x>", page_code);
  }
  return buf;
}

namespace {
constexpr std::array<std::string_view, kLastElementType + 1> kKernelTypeNames = {
    "Unspecified",
    "Device Slot",
    "Power Supply",
    "Cooling",
    "Temperature Sensor",
    "Door",
    "Audible alarm",
    "Enclosure Services Controller Electronics",
    "SCC Controller Electronics",
    "Nonvolatile Cache",
    "Invalid Operation Reason",
    "Uninterruptible Power Supply",
    "Display",
    "Key Pad Entry",
    "Enclosure",
    "SCSI Port/Transceiver",
    "Language",
    "Communication Port",
    "Voltage Sensor",
    "Current Sensor",
    "SCSI Target Port",
    "SCSI Initiator Port",
    "Simple Subenclosure",
    "Array Device Slot",
    "SAS Expander",
    "SAS Connector",
};
}  // namespace

std::string element_type_name(std::uint8_t type) {
  if (type <= kLastElementType) {
    return std::string(kKernelTypeNames[type]);
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "<Type 0x%02x>", type);
  return buf;
}

std::string element_type_sesutil_name(std::uint8_t type) {
  if (type == type_value(ElementType::Door)) {
    return "Door Lock";
  }
  if (type == type_value(ElementType::AudibleAlarm)) {
    return "Audible Alarm";
  }
  if (type <= kLastElementType) {
    return std::string(kKernelTypeNames[type]);
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "<Type 0x%x>", type);
  return buf;
}

std::string element_status_name(std::uint8_t code) {
  static constexpr std::array<std::string_view, 9> kNames = {
      "Unsupported",   "OK",      "Critical",      "Noncritical",       "Unrecoverable",
      "Not installed", "Unknown", "Not available", "No access allowed",
  };
  if (code < kNames.size()) {
    return std::string(kNames[code]);
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "<Status 0x%x>", code & 0x0f);
  return buf;
}

std::string hex64(std::uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

// ---- Configuration (SES-4 6.1.2) --------------------------------------------------------------

std::size_t SesConfig::element_count() const {
  std::size_t n = 0;
  for (const auto& t : types) {
    n += 1 + std::size_t{t.possible_elements};
  }
  return n;
}

const Subenclosure* SesConfig::find_subenclosure(std::uint8_t id) const {
  for (const auto& s : subenclosures) {
    if (s.id == id) {
      return &s;
    }
  }
  return nullptr;
}

namespace {
constexpr std::size_t kEnclosureDescriptorMinLength = 36;  // bytes after byte 3

// An identification string: bytes [off, off+len) of `d` clipped to d.size(), trailing spaces
// (and NULs) trimmed, non-printable bytes replaced. Sets `nul` when NULs pad it (SES wants
// spaces) and returns whether other bytes had to be replaced.
bool id_string(Bytes d, std::size_t off, std::size_t len, std::string& out, bool& nul) {
  out.clear();
  bool bad = false;
  for (std::size_t i = off; i < off + len && i < d.size(); ++i) {
    const auto c = d[i];
    if (c < 0x20 || c > 0x7e) {
      if (c != 0) {
        bad = true;
      } else {
        nul = true;
      }
      out += c == 0 ? ' ' : '.';
    } else {
      out += static_cast<char>(c);
    }
  }
  trim_trailing(out);
  return bad;
}
}  // namespace

Result<SesConfig> parse_ses_config(Bytes page) {
  auto view = PageView::open(page, page_code_value(PageCode::Configuration), "configuration");
  if (!view) {
    return fail(view.error());
  }
  SesConfig cfg;
  auto& w = cfg.warnings;
  if (view->end < 8) {
    return fail_invalid("configuration page: " + std::to_string(view->end) +
                        " bytes, too short for the generation code (8)");
  }
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  cfg.generation = load_be32(d, 4);
  const std::size_t count = std::size_t{d[1]} + 1;
  std::size_t off = 8;
  std::set<std::uint8_t> ids;
  std::size_t header_total = 0;
  for (std::size_t s = 0; s < count; ++s) {
    if (off + 4 > d.size()) {
      return fail_invalid("configuration page: enclosure descriptor " + std::to_string(s) + " of " +
                          std::to_string(count) + " starts past the end (byte " +
                          std::to_string(off) + " of " + std::to_string(d.size()) + ")");
    }
    const std::size_t len = d[off + 3];
    if (off + 4 + len > d.size()) {
      return fail_invalid("configuration page: enclosure descriptor " + std::to_string(s) + " (" +
                          std::to_string(4 + len) + " bytes at byte " + std::to_string(off) +
                          ") runs past the end (" + std::to_string(d.size()) + " bytes)");
    }
    const Bytes e = d.subspan(off, 4 + len);
    Subenclosure sub;
    sub.relative_es_process_id = bits(e[0], 4, 3);
    sub.es_process_count = bits(e[0], 0, 3);
    sub.id = e[1];
    sub.type_header_count = e[2];
    if (len < kEnclosureDescriptorMinLength) {
      w.push_back("configuration: enclosure descriptor " + std::to_string(s) + " is " +
                  std::to_string(len) + " bytes long, SES-4 requires at least 36");
    }
    if (e.size() >= 12) {
      sub.logical_id = load_be64(e, 4);
    }
    bool nul = false;
    bool bad = id_string(e, 12, 8, sub.vendor, nul);
    bad = id_string(e, 20, 16, sub.product, nul) || bad;
    bad = id_string(e, 36, 4, sub.revision, nul) || bad;
    if (bad) {
      w.push_back("configuration: subenclosure " + std::to_string(sub.id) +
                  " identification strings contain non-printable bytes (shown as '.')");
    }
    if (nul) {
      w.push_back("configuration: subenclosure " + std::to_string(sub.id) +
                  " identification strings are padded with NULs, not spaces");
    }
    if (e.size() > 40) {
      sub.vendor_specific.assign(e.begin() + 40, e.end());
    }
    if (!ids.insert(sub.id).second) {
      w.push_back("configuration: subenclosure id " + std::to_string(sub.id) +
                  " appears more than once");
    }
    header_total += sub.type_header_count;
    cfg.subenclosures.push_back(std::move(sub));
    off += 4 + len;
  }
  if (off + 4 * header_total > d.size()) {
    return fail_invalid("configuration page: " + std::to_string(header_total) +
                        " type descriptor headers at byte " + std::to_string(off) +
                        " run past the end (" + std::to_string(d.size()) + " bytes)");
  }
  for (std::size_t t = 0; t < header_total; ++t) {
    const Bytes h = d.subspan(off + 4 * t, 4);
    cfg.types.push_back(TypeHeader{h[0], h[1], h[2], {}});
    if (ids.count(h[2]) == 0) {
      w.push_back("configuration: type header " + std::to_string(t) + " names subenclosure " +
                  std::to_string(h[2]) + ", which has no enclosure descriptor");
    }
  }
  // Texts follow the headers, concatenated, each as long as its header's byte 3.
  const std::size_t headers_at = off;
  std::size_t text_off = off + 4 * header_total;
  for (std::size_t t = 0; t < header_total; ++t) {
    const std::size_t len = d[headers_at + 4 * t + 3];
    const std::size_t have = text_off < d.size() ? std::min(len, d.size() - text_off) : 0;
    cfg.types[t].text.assign(reinterpret_cast<const char*>(d.data()) + text_off, have);
    if (have < len) {
      w.push_back("configuration: type descriptor text " + std::to_string(t) +
                  " cut: " + std::to_string(have) + " of " + std::to_string(len) + " bytes");
    }
    text_off += have;
    for (const char c : cfg.types[t].text) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x20 || b > 0x7e) {
        w.push_back("configuration: type descriptor text " + std::to_string(t) +
                    " has non-printable bytes");
        break;
      }
    }
  }
  if (text_off < d.size()) {
    w.push_back("configuration: " + std::to_string(d.size() - text_off) +
                " bytes after the last type descriptor text");
  }
  return cfg;
}

Result<std::vector<std::uint8_t>> encode_ses_config(const SesConfig& config) {
  if (config.subenclosures.empty() || config.subenclosures.size() > 256) {
    return fail_invalid("configuration: need 1 to 256 subenclosures, got " +
                        std::to_string(config.subenclosures.size()));
  }
  // Header counts: as given when they add up to the type list (keeps captures byte exact),
  // else recomputed from the headers' subenclosure ids, which must then come grouped in the
  // order of the enclosure descriptors.
  std::vector<std::size_t> counts;
  std::size_t given = 0;
  for (const auto& s : config.subenclosures) {
    given += s.type_header_count;
    counts.push_back(s.type_header_count);
  }
  if (given != config.types.size()) {
    counts.assign(config.subenclosures.size(), 0);
    std::size_t current = 0;
    for (std::size_t t = 0; t < config.types.size(); ++t) {
      while (current < config.subenclosures.size() &&
             config.subenclosures[current].id != config.types[t].subenclosure) {
        ++current;
      }
      if (current == config.subenclosures.size()) {
        return fail_invalid("configuration: type header " + std::to_string(t) + " (subenclosure " +
                            std::to_string(config.types[t].subenclosure) +
                            ") is not grouped after its subenclosure's enclosure descriptor");
      }
      ++counts[current];
    }
  }
  std::vector<std::uint8_t> out(8, 0);
  out[0] = page_code_value(PageCode::Configuration);
  out[1] = static_cast<std::uint8_t>(config.subenclosures.size() - 1);
  store_be32(MutableBytes(out), 4, config.generation);
  for (std::size_t s = 0; s < config.subenclosures.size(); ++s) {
    const auto& sub = config.subenclosures[s];
    if (sub.vendor.size() > 8 || sub.product.size() > 16 || sub.revision.size() > 4) {
      return fail_invalid("configuration: subenclosure " + std::to_string(sub.id) +
                          " vendor/product/revision longer than 8/16/4 bytes");
    }
    if (counts[s] > 255 || kEnclosureDescriptorMinLength + sub.vendor_specific.size() > 255) {
      return fail_invalid("configuration: subenclosure " + std::to_string(sub.id) +
                          " has too many type headers or vendor-specific bytes");
    }
    const std::size_t at = out.size();
    out.resize(at + 40, 0);
    out[at] = static_cast<std::uint8_t>(((sub.relative_es_process_id & 7) << 4) |
                                        (sub.es_process_count & 7));
    out[at + 1] = sub.id;
    out[at + 2] = static_cast<std::uint8_t>(counts[s]);
    out[at + 3] =
        static_cast<std::uint8_t>(kEnclosureDescriptorMinLength + sub.vendor_specific.size());
    store_be64(MutableBytes(out), at + 4, sub.logical_id);
    detail::put_padded(out, at + 12, 8, sub.vendor);
    detail::put_padded(out, at + 20, 16, sub.product);
    detail::put_padded(out, at + 36, 4, sub.revision);
    out.insert(out.end(), sub.vendor_specific.begin(), sub.vendor_specific.end());
  }
  for (const auto& t : config.types) {
    if (t.text.size() > 255) {
      return fail_invalid("configuration: type descriptor text longer than 255 bytes");
    }
    out.push_back(t.element_type);
    out.push_back(t.possible_elements);
    out.push_back(t.subenclosure);
    out.push_back(static_cast<std::uint8_t>(t.text.size()));
  }
  for (const auto& t : config.types) {
    out.insert(out.end(), t.text.begin(), t.text.end());
  }
  return detail::finish_page(std::move(out), "configuration");
}

// ---- Element map ------------------------------------------------------------------------------

std::vector<ElementRef> build_element_map(const SesConfig& config) {
  std::vector<ElementRef> map;
  map.reserve(config.element_count());
  int global = 0;
  int individual = 0;
  for (std::size_t t = 0; t < config.types.size(); ++t) {
    const auto& h = config.types[t];
    map.push_back(
        ElementRef{global++, static_cast<int>(t), -1, -1, h.element_type, h.subenclosure});
    for (int i = 0; i < h.possible_elements; ++i) {
      map.push_back(ElementRef{global++, static_cast<int>(t), i, individual++, h.element_type,
                               h.subenclosure});
    }
  }
  return map;
}

int global_index_of_individual(const std::vector<ElementRef>& map, int individual_index) {
  if (individual_index < 0) {
    return -1;
  }
  // Individual index k sits after (type_index + 1) overall elements: search from there.
  for (std::size_t g = static_cast<std::size_t>(individual_index); g < map.size(); ++g) {
    if (map[g].individual_index == individual_index) {
      return static_cast<int>(g);
    }
    if (map[g].individual_index > individual_index) {
      break;
    }
  }
  return -1;
}

// ---- Enclosure Status (SES-4 6.1.4) / Short Enclosure Status (6.1.9) --------------------------

Result<SesStatus> parse_ses_status(Bytes page, const SesConfig& config) {
  SesStatus st;
  if (page.size() >= 4 && page[0] == page_code_value(PageCode::ShortEnclosureStatus)) {
    st.page_code = page[0];
    st.is_short = true;
    st.short_status = page[1];
    st.warnings.push_back(
        "enclosure status: the enclosure answered with a Short Enclosure "
        "Status page (status 0x" +
        detail::hex8(page[1]) + "): no element status available");
    return st;
  }
  auto view = PageView::open(page, page_code_value(PageCode::EnclosureStatus), "enclosure status");
  if (!view) {
    return fail(view.error());
  }
  if (view->end < 8) {
    return fail_invalid("enclosure status page: " + std::to_string(view->end) +
                        " bytes, too short for the generation code (8)");
  }
  view->note_truncation(st.warnings);
  const Bytes d = page.first(view->end);
  st.flags = d[1] & kEnclosureStatusMask;
  if ((d[1] & ~kEnclosureStatusMask) != 0) {
    st.warnings.push_back("enclosure status: reserved bits set in byte 1 (0x" + detail::hex8(d[1]) +
                          ")");
  }
  st.generation = load_be32(d, 4);
  detail::check_generation("enclosure status", st.generation, config, st.generation_mismatch,
                           st.warnings);
  const std::size_t present = (d.size() - 8) / 4;
  const std::size_t expected = config.element_count();
  if ((d.size() - 8) % 4 != 0) {
    st.warnings.push_back("enclosure status: " + std::to_string((d.size() - 8) % 4) +
                          " trailing bytes do not make a whole status element");
  }
  const std::size_t keep = std::min(present, expected);
  for (std::size_t i = 0; i < keep; ++i) {
    const std::size_t at = 8 + 4 * i;
    st.elements.push_back(ElementBytes{d[at], d[at + 1], d[at + 2], d[at + 3]});
  }
  if (present < expected) {
    st.warnings.push_back("enclosure status: " + std::to_string(present) +
                          " status elements, the configuration implies " +
                          std::to_string(expected) + " (page too short; elements " +
                          std::to_string(present) + ".." + std::to_string(expected - 1) +
                          " have no status)");
  } else if (present > expected) {
    st.warnings.push_back("enclosure status: " + std::to_string(present) +
                          " status elements, the configuration implies " +
                          std::to_string(expected) + " (extra elements ignored)");
  }
  return st;
}

Result<std::vector<std::uint8_t>> encode_ses_status(const SesStatus& status) {
  if (status.is_short) {
    return encode_ses_short_status(status.short_status);
  }
  std::vector<std::uint8_t> out(8, 0);
  out[0] = page_code_value(PageCode::EnclosureStatus);
  out[1] = status.flags & kEnclosureStatusMask;
  store_be32(MutableBytes(out), 4, status.generation);
  for (const auto& e : status.elements) {
    out.insert(out.end(), e.begin(), e.end());
  }
  return detail::finish_page(std::move(out), "enclosure status");
}

std::vector<std::uint8_t> encode_ses_short_status(std::uint8_t short_status) {
  return {page_code_value(PageCode::ShortEnclosureStatus), short_status, 0, 0};
}

// ---- Enclosure Control (SES-4 6.1.3, 7.3) -----------------------------------------------------

ElementBytes control_mask(std::uint8_t element_type) {
  // Byte 0: PRDFAIL and DISABLE. Bytes 1-3, per type (status bit -> control bit, same place):
  static constexpr std::array<ElementBytes, kLastElementType + 1> kMasks = {{
      {0x60, 0xff, 0xff, 0xff},  // 0x00 Unspecified: vendor specific, kept
      {0x60, 0x00, 0x4e, 0x3c},  // 0x01 Device Slot: DNR, INSERT, REMOVE, IDENT; FAULT, OFF, BYP
      {0x60, 0xc0, 0x00, 0x60},  // 0x02 Power Supply: IDENT, DNR; FAIL, RQSTED ON
      {0x60, 0xc0, 0x00, 0x60},  // 0x03 Cooling: IDENT, DNR; FAIL, RQSTED ON (speed code 0:
                                 //      leave the speed alone)
      {0x60, 0xc0, 0x00, 0x00},  // 0x04 Temperature Sensor: IDENT, FAIL
      {0x60, 0xc0, 0x00, 0x01},  // 0x05 Door: IDENT, FAIL; UNLOCK
      {0x60, 0xc0, 0x00, 0x5f},  // 0x06 Audible Alarm: IDENT, FAIL; MUTE, REMIND, TONE URGENCY
      {0x60, 0xe0, 0x01, 0x00},  // 0x07 ESC Electronics: IDENT, FAIL, DNR; REPORT->SELECT
      {0x60, 0xc0, 0x00, 0x00},  // 0x08 SCC Electronics: IDENT, FAIL
      {0x60, 0xc0, 0x00, 0x00},  // 0x09 Nonvolatile Cache: IDENT, FAIL
      {0x60, 0x00, 0x00, 0x00},  // 0x0a Invalid Operation Reason: nothing to control
      {0x60, 0x00, 0x00, 0xe0},  // 0x0b UPS: IDENT, FAIL, DNR (byte 3)
      {0x60, 0xc3, 0xff, 0xff},  // 0x0c Display: IDENT, FAIL, DISPLAY MODE; DISPLAY CHARACTER
      {0x60, 0xc0, 0x00, 0x00},  // 0x0d Key Pad Entry: IDENT, FAIL
      {0x60, 0x80, 0x00, 0x03},  // 0x0e Enclosure: IDENT; REQUEST FAILURE, REQUEST WARNING
                                 //      (never a power cycle: byte 2 and the duration stay 0)
      {0x60, 0xc0, 0x00, 0x10},  // 0x0f SCSI Port/Transceiver: IDENT, FAIL; DISABLE
      {0x60, 0x80, 0xff, 0xff},  // 0x10 Language: IDENT; LANGUAGE CODE
      {0x60, 0xc0, 0x00, 0x01},  // 0x11 Communication Port: IDENT, FAIL; DISABLE
      {0x60, 0xc0, 0x00, 0x00},  // 0x12 Voltage Sensor: IDENT, FAIL
      {0x60, 0xc0, 0x00, 0x00},  // 0x13 Current Sensor: IDENT, FAIL
      {0x60, 0xc0, 0x00, 0x01},  // 0x14 SCSI Target Port: IDENT, FAIL; ENABLE
      {0x60, 0xc0, 0x00, 0x01},  // 0x15 SCSI Initiator Port: IDENT, FAIL; ENABLE
      {0x60, 0xc0, 0x00, 0x00},  // 0x16 Simple Subenclosure: IDENT, FAIL
      {0x60, 0xff, 0x4e, 0x3c},  // 0x17 Array Device Slot: RQST OK..R/R ABORT + Device Slot
      {0x60, 0xc0, 0x00, 0x00},  // 0x18 SAS Expander: IDENT, FAIL
      {0x60, 0x80, 0x00, 0x40},  // 0x19 SAS Connector: IDENT; FAIL
  }};
  if (element_type <= kLastElementType) {
    return kMasks[element_type];
  }
  return {0x60, 0xff, 0xff, 0xff};  // vendor specific or reserved: layout unknown, kept
}

ElementBytes status_to_control(std::uint8_t element_type, ElementBytes status) {
  const auto mask = control_mask(element_type);
  for (std::size_t i = 0; i < 4; ++i) {
    status[i] &= mask[i];
  }
  return status;
}

Result<std::vector<std::uint8_t>> encode_ses_control(const SesStatus& current,
                                                     std::uint32_t generation,
                                                     std::uint8_t enclosure_control_flags,
                                                     std::span<const ElementChange> changes) {
  if (current.is_short) {
    return fail_invalid(
        "enclosure control: the last status was a Short Enclosure Status page; "
        "there is no element list to build a control page from");
  }
  const std::size_t n = current.elements.size();
  std::vector<std::uint8_t> out(8 + 4 * n, 0);
  out[0] = page_code_value(PageCode::EnclosureStatus);
  out[1] = enclosure_control_flags & kEnclosureControlMask;
  store_be32(MutableBytes(out), 4, generation);
  std::set<int> seen;
  for (const auto& [index, bytes] : changes) {
    if (index < 0 || static_cast<std::size_t>(index) >= n) {
      return fail_invalid("enclosure control: element " + std::to_string(index) +
                          " is not in the status page (" + std::to_string(n) + " elements)");
    }
    if (!seen.insert(index).second) {
      return fail_invalid("enclosure control: element " + std::to_string(index) +
                          " changed twice in one page");
    }
    const std::size_t at = 8 + 4 * static_cast<std::size_t>(index);
    std::copy(bytes.begin(), bytes.end(), out.begin() + static_cast<long>(at));
    out[at] |= kSelect;
  }
  return detail::finish_page(std::move(out), "enclosure control");
}

Result<ElementBytes> slot_control(std::uint8_t element_type, ElementBytes status,
                                  SlotRequest request, Turn turn) {
  if (!is_slot_type(element_type)) {
    return fail_invalid("slot control: element type " + element_type_name(element_type) +
                        " is not a Device Slot or Array Device Slot");
  }
  auto ctl = status_to_control(element_type, status);
  std::size_t byte = 2;
  std::uint8_t mask = 0;
  switch (request) {
    case SlotRequest::Ident:
      mask = 0x02;
      break;
    case SlotRequest::Remove:
      mask = 0x04;
      break;
    case SlotRequest::Insert:
      mask = 0x08;
      break;
    case SlotRequest::DoNotRemove:
      mask = 0x40;
      break;
    case SlotRequest::Fault:
      byte = 3;
      mask = 0x20;
      break;
    case SlotRequest::DeviceOff:
      byte = 3;
      mask = 0x10;
      break;
  }
  if (turn == Turn::On) {
    ctl[byte] |= mask;
  } else {
    ctl[byte] = static_cast<std::uint8_t>(ctl[byte] & ~mask);
  }
  ctl[0] |= kSelect;
  return ctl;
}

// ---- Element Descriptor (SES-4 6.1.10) --------------------------------------------------------

Result<SesElementDescriptors> parse_ses_element_descriptors(Bytes page, const SesConfig& config) {
  auto view =
      PageView::open(page, page_code_value(PageCode::ElementDescriptor), "element descriptor");
  if (!view) {
    return fail(view.error());
  }
  if (view->end < 8) {
    return fail_invalid("element descriptor page: " + std::to_string(view->end) +
                        " bytes, too short for the generation code (8)");
  }
  SesElementDescriptors out;
  auto& w = out.warnings;
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  out.generation = load_be32(d, 4);
  detail::check_generation("element descriptor", out.generation, config, out.generation_mismatch,
                           w);
  const std::size_t expected = config.element_count();
  std::vector<std::size_t> nul_padded;
  std::vector<std::size_t> unprintable;
  std::size_t off = 8;
  std::size_t count = 0;
  while (off < d.size()) {
    if (off + 4 > d.size()) {
      w.push_back("element descriptor: descriptor " + std::to_string(count) + " header cut (" +
                  std::to_string(d.size() - off) + " of 4 bytes)");
      break;
    }
    const std::size_t len = load_be16(d, off + 2);
    const std::size_t have = std::min(len, d.size() - off - 4);
    if (have < len) {
      w.push_back("element descriptor: descriptor " + std::to_string(count) +
                  " cut: " + std::to_string(have) + " of " + std::to_string(len) + " bytes");
    }
    if (count < expected) {
      const Bytes text = d.subspan(off + 4, have);
      std::string raw(text.begin(), text.end());
      const auto clean = detail::sanitize_text(text);
      if (clean.nul_padded) {
        nul_padded.push_back(count);
      }
      if (clean.unprintable) {
        unprintable.push_back(count);
      }
      out.raw.push_back(std::move(raw));
      out.text.push_back(clean.text);
    }
    ++count;
    off += 4 + have;
  }
  if (count < expected) {
    w.push_back("element descriptor: " + std::to_string(count) +
                " descriptors, the configuration implies " + std::to_string(expected) +
                " (the rest have none)");
    out.raw.resize(expected);
    out.text.resize(expected);
  } else if (count > expected) {
    w.push_back("element descriptor: " + std::to_string(count) +
                " descriptors, the configuration implies " + std::to_string(expected) +
                " (extra descriptors ignored)");
  }
  if (!nul_padded.empty()) {
    w.push_back("element descriptor: NUL bytes in the descriptors of elements " +
                join_indexes(nul_padded) + " (text cut at the first NUL)");
  }
  if (!unprintable.empty()) {
    w.push_back("element descriptor: non-printable bytes in the descriptors of elements " +
                join_indexes(unprintable) + " (shown as '.' in text)");
  }
  return out;
}

std::string element_descriptor_text(std::string_view raw) {
  return detail::sanitize_text(Bytes(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()))
      .text;
}

Result<std::vector<std::uint8_t>> encode_ses_element_descriptors(
    std::uint32_t generation, std::span<const std::string> descriptors) {
  std::vector<std::uint8_t> out(8, 0);
  out[0] = page_code_value(PageCode::ElementDescriptor);
  store_be32(MutableBytes(out), 4, generation);
  for (const auto& text : descriptors) {
    if (text.size() > 0xffff) {
      return fail_invalid("element descriptor: descriptor longer than 65535 bytes");
    }
    const std::size_t at = out.size();
    out.resize(at + 4, 0);
    store_be16(MutableBytes(out), at + 2, static_cast<std::uint16_t>(text.size()));
    out.insert(out.end(), text.begin(), text.end());
  }
  return detail::finish_page(std::move(out), "element descriptor");
}

}  // namespace ucam::scsi::ses
