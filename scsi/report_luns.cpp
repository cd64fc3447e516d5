#include "scsi/report_luns.h"

#include <algorithm>
#include <cstdio>

namespace ucam::scsi {
namespace {

// CAM's byte swizzle: reverse the order of the four 2-byte levels. Its own inverse.
std::uint64_t swizzle(std::uint64_t v) {
  return ((v >> 48) & 0xffff) | (((v >> 32) & 0xffff) << 16) | (((v >> 16) & 0xffff) << 32) |
         ((v & 0xffff) << 48);
}

std::uint8_t byte_at(std::uint64_t raw, std::size_t i) {
  return static_cast<std::uint8_t>(raw >> (56 - 8 * i));
}

}  // namespace

Lun Lun::from_bytes(Bytes eight) {
  return Lun{load_be64(eight, 0)};
}

std::array<std::uint8_t, 8> Lun::bytes() const {
  std::array<std::uint8_t, 8> out{};
  store_be64(MutableBytes(out), 0, raw_lun);
  return out;
}

// SAM-5 4.7.6 (single and multi-level structure) and 4.7.7 (extended logical unit addressing).
Result<std::vector<LunLevel>> decode_lun(Lun lun) {
  const auto b = lun.bytes();
  std::vector<LunLevel> levels;
  std::size_t off = 0;
  while (off < 8) {
    if (off > 0 && std::all_of(b.begin() + static_cast<std::ptrdiff_t>(off), b.end(),
                               [](std::uint8_t x) { return x == 0; })) {
      break;
    }
    LunLevel l;
    l.method = static_cast<AddressMethod>(bits(b[off], 6, 2));
    switch (l.method) {
      case AddressMethod::PeripheralDevice:  // SAM-5 4.7.6.2
        l.bus = bits(b[off], 0, 6);
        l.lun = b[off + 1];
        break;
      case AddressMethod::FlatSpace:  // SAM-5 4.7.6.3
        l.lun = (std::uint64_t{bits(b[off], 0, 6)} << 8) | b[off + 1];
        break;
      case AddressMethod::LogicalUnit:  // SAM-5 4.7.6.4
        l.target = bits(b[off], 0, 6);
        l.bus = bits(b[off + 1], 5, 3);
        l.lun = bits(b[off + 1], 0, 5);
        break;
      case AddressMethod::ExtendedLogicalUnit: {  // SAM-5 4.7.7
        const unsigned length = bits(b[off], 4, 2);
        l.size = static_cast<std::uint8_t>(2 * (length + 1));
        l.extended_method = bits(b[off], 0, 4);
        if (off + l.size > 8) {
          return fail_invalid("LUN level " + std::to_string(levels.size() + 1) + " at byte " +
                              std::to_string(off) + " is an extended level of " +
                              std::to_string(l.size) + " bytes, only " + std::to_string(8 - off) +
                              " remain");
        }
        for (std::size_t i = 1; i < l.size; ++i) {
          l.lun = (l.lun << 8) | b[off + i];
        }
        l.well_known = length == 0 && l.extended_method == kExtendedWellKnown;
        break;
      }
    }
    levels.push_back(l);
    off += l.size;
  }
  return levels;
}

Result<Lun> encode_lun(std::span<const LunLevel> levels) {
  std::array<std::uint8_t, 8> b{};
  std::size_t off = 0;
  for (const LunLevel& l : levels) {
    const std::size_t size = l.method == AddressMethod::ExtendedLogicalUnit ? l.size : 2;
    if (size < 2 || size > 8 || size % 2 != 0 || off + size > 8) {
      return fail_invalid("LUN levels exceed 8 bytes or have an invalid extended size");
    }
    switch (l.method) {
      case AddressMethod::PeripheralDevice:
        if (l.bus > 0x3f || l.lun > 0xff) {
          return fail_invalid("peripheral device LUN level: bus or LUN out of range");
        }
        b[off] = l.bus;
        b[off + 1] = static_cast<std::uint8_t>(l.lun);
        break;
      case AddressMethod::FlatSpace:
        if (l.lun > 0x3fff) {
          return fail_invalid("flat space LUN " + std::to_string(l.lun) + " exceeds 14 bits");
        }
        b[off] = static_cast<std::uint8_t>(0x40 | (l.lun >> 8));
        b[off + 1] = static_cast<std::uint8_t>(l.lun);
        break;
      case AddressMethod::LogicalUnit:
        if (l.target > 0x3f || l.bus > 7 || l.lun > 0x1f) {
          return fail_invalid("logical unit method LUN level: field out of range");
        }
        b[off] = static_cast<std::uint8_t>(0x80 | l.target);
        b[off + 1] = static_cast<std::uint8_t>((l.bus << 5) | l.lun);
        break;
      case AddressMethod::ExtendedLogicalUnit: {
        const unsigned value_bits = 8 * static_cast<unsigned>(size - 1);
        if (l.extended_method > 0xf || (value_bits < 64 && (l.lun >> value_bits) != 0)) {
          return fail_invalid("extended LUN level: value does not fit " +
                              std::to_string(value_bits) + " bits");
        }
        b[off] = static_cast<std::uint8_t>(0xc0 | ((size / 2 - 1) << 4) | l.extended_method);
        for (std::size_t i = 1; i < size; ++i) {
          b[off + i] = static_cast<std::uint8_t>(l.lun >> (8 * (size - 1 - i)));
        }
        break;
      }
      default:
        return fail_invalid("LUN level has an invalid address method");
    }
    off += size;
  }
  return Lun::from_bytes(Bytes(b));
}

std::string lun_text(Lun lun) {
  auto levels = decode_lun(lun);
  if (levels && levels->size() == 1) {
    const LunLevel& l = levels->front();
    if (l.method == AddressMethod::PeripheralDevice && l.bus == 0) {
      return std::to_string(l.lun);
    }
    if (l.method == AddressMethod::FlatSpace) {
      return "flat " + std::to_string(l.lun);
    }
    if (l.well_known) {
      switch (l.lun) {
        case kWellKnownReportLuns:
          return "W-LUN REPORT LUNS";
        case kWellKnownAccessControls:
          return "W-LUN ACCESS CONTROLS";
        case kWellKnownTargetLogPages:
          return "W-LUN TARGET LOG PAGES";
        case kWellKnownSecurityProtocol:
          return "W-LUN SECURITY PROTOCOL";
        case kWellKnownManagementProtocol:
          return "W-LUN MANAGEMENT PROTOCOL";
        default:
          return "W-LUN " + std::to_string(l.lun);
      }
    }
  }
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%016llx", static_cast<unsigned long long>(lun.raw_lun));
  return buf.data();
}

std::uint64_t lun_to_u64(Lun lun) {
  const std::uint8_t b0 = byte_at(lun.raw_lun, 0);
  const std::uint8_t b1 = byte_at(lun.raw_lun, 1);
  const bool single_level = (lun.raw_lun & 0x0000ffffffffffffULL) == 0;
  if (single_level && b0 == 0) {
    return b1;  // peripheral device method, bus 0
  }
  if (single_level && bits(b0, 6, 2) == static_cast<unsigned>(AddressMethod::FlatSpace)) {
    return (std::uint64_t{bits(b0, 0, 6)} << 8) | b1;
  }
  return swizzle(lun.raw_lun);
}

Lun u64_to_lun(std::uint64_t cam_lun) {
  if (cam_lun < 256) {
    return Lun{cam_lun << 48};
  }
  if (cam_lun < 16384) {
    return Lun{(0x4000 | cam_lun) << 48};
  }
  return Lun{swizzle(cam_lun)};
}

std::string ReportLuns::truncation_text() const {
  if (!truncated()) {
    return {};
  }
  return "list truncated: " + std::to_string(luns.size()) + " of " + std::to_string(listed);
}

// SPC-5 6.33.2 REPORT LUNS parameter data format.
Result<ReportLuns> parse_report_luns(Bytes data) {
  if (data.size() < 8) {
    return fail_invalid("REPORT LUNS data truncated: " + std::to_string(data.size()) +
                        " bytes, need the 8-byte header");
  }
  const std::uint32_t list_length = load_be32(data, 0);
  if (list_length % 8 != 0) {
    return fail_invalid("REPORT LUNS LUN LIST LENGTH " + std::to_string(list_length) +
                        " is not a multiple of 8");
  }
  ReportLuns r;
  r.listed = list_length / 8;
  const std::size_t present = std::min<std::size_t>(r.listed, (data.size() - 8) / 8);
  r.luns.reserve(present);
  for (std::size_t i = 0; i < present; ++i) {
    r.luns.push_back(Lun::from_bytes(data.subspan(8 + 8 * i, 8)));
  }
  return r;
}

std::vector<std::uint8_t> encode_report_luns(std::span<const std::uint64_t> raw_luns) {
  std::vector<std::uint8_t> out(8 + 8 * raw_luns.size(), 0);
  MutableBytes m(out);
  store_be32(m, 0, static_cast<std::uint32_t>(8 * raw_luns.size()));
  for (std::size_t i = 0; i < raw_luns.size(); ++i) {
    store_be64(m, 8 + 8 * i, raw_luns[i]);
  }
  return out;
}

}  // namespace ucam::scsi
