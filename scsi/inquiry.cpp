#include "scsi/inquiry.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace ucam::scsi {

std::string peripheral_type_name(std::uint8_t type) {
  // SPC-5 6.7.2 Table 150 descriptions, lower case.
  static constexpr std::array<std::string_view, 0x20> kNames = {
      "direct access block device",         // 0x00
      "sequential access device",           // 0x01
      "printer device",                     // 0x02
      "processor device",                   // 0x03
      "write once device",                  // 0x04
      "cd/dvd device",                      // 0x05
      "scanner device (obsolete)",          // 0x06
      "optical memory device",              // 0x07
      "medium changer device",              // 0x08
      "communications device (obsolete)",   // 0x09
      "",                                   // 0x0a obsolete
      "",                                   // 0x0b obsolete
      "storage array controller device",    // 0x0c
      "enclosure services device",          // 0x0d
      "simplified direct access device",    // 0x0e
      "optical card reader/writer device",  // 0x0f
      "bridge controller commands",         // 0x10
      "object based storage device",        // 0x11
      "automation/drive interface",         // 0x12
      "security manager device",            // 0x13
      "host managed zoned block device",    // 0x14
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",                           // 0x15..0x1d reserved
      "well known logical unit",    // 0x1e
      "unknown or no device type",  // 0x1f
  };
  const std::uint8_t t = type & 0x1f;
  if (!kNames[t].empty()) {
    return std::string(kNames[t]);
  }
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "%s [0x%02x]",
                (t == 0x0a || t == 0x0b) ? "obsolete" : "reserved", t);
  return buf.data();
}

std::string trimmed_ascii(Bytes field) {
  std::string s(field.begin(), field.end());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
    s.pop_back();
  }
  return s;
}

// SPC-5 6.7.2 Standard INQUIRY data.
Result<StandardInquiry> parse_standard_inquiry(Bytes data) {
  if (data.size() < kStandardInquiryMinLength) {
    return fail_invalid("standard INQUIRY data truncated: " + std::to_string(data.size()) +
                        " bytes, need at least 36");
  }
  StandardInquiry r;
  r.peripheral_qualifier = bits(data[0], 5, 3);
  r.device_type = bits(data[0], 0, 5);
  r.rmb = bit(data[1], 7);
  r.lu_cong = bit(data[1], 6);
  r.version = data[2];
  r.normaca = bit(data[3], 5);
  r.hisup = bit(data[3], 4);
  r.response_data_format = bits(data[3], 0, 4);
  r.additional_length = data[4];
  r.sccs = bit(data[5], 7);
  r.acc = bit(data[5], 6);
  r.tpgs = bits(data[5], 4, 2);
  r.third_party_copy = bit(data[5], 3);
  r.protect = bit(data[5], 0);
  r.encserv = bit(data[6], 6);
  r.multip = bit(data[6], 4);
  r.cmdque = bit(data[7], 1);
  if (r.additional_length < kStandardInquiryMinLength - 5) {
    return fail_invalid("standard INQUIRY ADDITIONAL LENGTH " +
                        std::to_string(r.additional_length) +
                        " is less than 31: vendor, product and revision fields cannot fit");
  }
  r.vendor = trimmed_ascii(data.subspan(8, 8));
  r.product = trimmed_ascii(data.subspan(16, 16));
  r.revision = trimmed_ascii(data.subspan(32, 4));
  const std::size_t total = 5 + std::size_t{r.additional_length};
  r.truncated = data.size() < total;
  const std::size_t usable = std::min(total, data.size());
  for (std::size_t i = 0; i < kMaxVersionDescriptors; ++i) {
    const std::size_t off = kVersionDescriptorOffset + 2 * i;
    if (off + 2 > usable) {
      break;
    }
    if (const std::uint16_t d = load_be16(data, off); d != 0) {
      r.version_descriptors.push_back(d);
    }
  }
  return r;
}

namespace {
Result<void> put_ascii(MutableBytes out, std::size_t off, std::size_t width, const std::string& s,
                       std::string_view what) {
  if (s.size() > width) {
    return fail_invalid("standard INQUIRY " + std::string(what) + " \"" + s + "\" is longer than " +
                        std::to_string(width) + " bytes");
  }
  for (std::size_t i = 0; i < width; ++i) {
    const auto c = i < s.size() ? static_cast<std::uint8_t>(s[i]) : std::uint8_t{' '};
    if (c < 0x20 || c > 0x7e) {
      return fail_invalid("standard INQUIRY " + std::string(what) +
                          " holds a byte outside printable ASCII");
    }
    out[off + i] = c;
  }
  return {};
}
}  // namespace

Result<std::vector<std::uint8_t>> encode_standard_inquiry(const StandardInquiry& q) {
  if (q.peripheral_qualifier > 7 || q.device_type > 0x1f || q.response_data_format > 0x0f ||
      q.tpgs > 3) {
    return fail_invalid("standard INQUIRY: a sub-byte field exceeds its width");
  }
  if (q.version_descriptors.size() > kMaxVersionDescriptors) {
    return fail_invalid("standard INQUIRY: at most 8 version descriptors fit, got " +
                        std::to_string(q.version_descriptors.size()));
  }
  const std::size_t len = q.version_descriptors.empty()
                              ? kStandardInquiryMinLength
                              : kVersionDescriptorOffset + 2 * q.version_descriptors.size();
  std::vector<std::uint8_t> out(len, 0);
  out[0] = static_cast<std::uint8_t>((q.peripheral_qualifier << 5) | q.device_type);
  out[1] = static_cast<std::uint8_t>((q.rmb ? 0x80 : 0) | (q.lu_cong ? 0x40 : 0));
  out[2] = q.version;
  out[3] = static_cast<std::uint8_t>((q.normaca ? 0x20 : 0) | (q.hisup ? 0x10 : 0) |
                                     q.response_data_format);
  out[4] = static_cast<std::uint8_t>(len - 5);
  out[5] = static_cast<std::uint8_t>((q.sccs ? 0x80 : 0) | (q.acc ? 0x40 : 0) | (q.tpgs << 4) |
                                     (q.third_party_copy ? 0x08 : 0) | (q.protect ? 0x01 : 0));
  out[6] = static_cast<std::uint8_t>((q.encserv ? 0x40 : 0) | (q.multip ? 0x10 : 0));
  out[7] = q.cmdque ? 0x02 : 0x00;
  MutableBytes m(out);
  if (auto ok = put_ascii(m, 8, 8, q.vendor, "vendor identification"); !ok) {
    return fail(ok.error());
  }
  if (auto ok = put_ascii(m, 16, 16, q.product, "product identification"); !ok) {
    return fail(ok.error());
  }
  if (auto ok = put_ascii(m, 32, 4, q.revision, "product revision level"); !ok) {
    return fail(ok.error());
  }
  for (std::size_t i = 0; i < q.version_descriptors.size(); ++i) {
    store_be16(m, kVersionDescriptorOffset + 2 * i, q.version_descriptors[i]);
  }
  return out;
}

}  // namespace ucam::scsi
