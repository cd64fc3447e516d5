#include "scsi/mode.h"

#include <algorithm>
#include <string>

namespace ucam::scsi {
namespace {

enum class Source : std::uint8_t { Sense, Select };

constexpr std::size_t header_size(ModeHeaderFormat f) {
  return f == ModeHeaderFormat::Six ? 4 : 8;
}

Result<ModeParameters> parse(Bytes data, ModeHeaderFormat format, Source source) {
  const std::string what = source == Source::Sense ? "MODE SENSE data" : "MODE SELECT list";
  const std::size_t hdr = header_size(format);
  if (data.size() < hdr) {
    return fail_invalid(what + " truncated: " + std::to_string(data.size()) +
                        " bytes, the header needs " + std::to_string(hdr));
  }
  ModeParameters p;
  p.format = format;
  std::size_t bd_length = 0;
  std::size_t declared = 0;
  if (format == ModeHeaderFormat::Six) {  // SPC-5 7.5.5 Table 448
    p.mode_data_length = data[0];
    p.medium_type = data[1];
    p.device_specific = data[2];
    bd_length = data[3];
    declared = std::size_t{p.mode_data_length} + 1;
  } else {  // SPC-5 7.5.5 Table 449
    p.mode_data_length = load_be16(data, 0);
    p.medium_type = data[2];
    p.device_specific = data[3];
    p.longlba = bit(data[4], 0);
    bd_length = load_be16(data, 6);
    declared = std::size_t{p.mode_data_length} + 2;
  }
  std::size_t end = data.size();
  if (source == Source::Sense) {
    if (declared < hdr) {
      return fail_invalid(what + ": MODE DATA LENGTH " + std::to_string(p.mode_data_length) +
                          " is shorter than the header");
    }
    p.truncated = data.size() < declared;
    end = std::min(end, declared);
  }
  const std::size_t bd_size = p.longlba ? 16 : 8;
  if (bd_length % bd_size != 0) {
    return fail_invalid(what + ": BLOCK DESCRIPTOR LENGTH " + std::to_string(bd_length) +
                        " is not a multiple of " + std::to_string(bd_size));
  }
  if (hdr + bd_length > end && !(p.truncated && hdr + bd_length <= declared)) {
    return fail_invalid(what + ": BLOCK DESCRIPTOR LENGTH " + std::to_string(bd_length) +
                        " runs past the " + (source == Source::Sense ? "mode data" : "list"));
  }
  std::size_t off = hdr;
  for (std::size_t i = 0; i < bd_length / bd_size && off + bd_size <= end; ++i, off += bd_size) {
    BlockDescriptor d;
    if (p.longlba) {  // SBC-4 6.4.2.3 long LBA block descriptor
      d.number_of_blocks = load_be64(data, off);
      d.block_length = load_be32(data, off + 12);
    } else {  // SBC-4 6.4.2.2 short LBA / SPC-5 7.5.6 general block descriptor
      d.number_of_blocks = load_be32(data, off);
      d.density_code = data[off];
      d.block_length = load_be24(data, off + 5);
    }
    p.block_descriptors.push_back(d);
  }
  off = hdr + bd_length;
  while (off < end) {  // SPC-5 7.5.7 mode pages
    const bool spf = bit(data[off], 6);
    const std::size_t page_hdr = spf ? 4 : 2;
    const bool header_fits = off + page_hdr <= end;
    const std::size_t len =
        header_fits ? (spf ? load_be16(data, off + 2) : std::size_t{data[off + 1]}) : 0;
    if (!header_fits || off + page_hdr + len > end) {
      if (p.truncated) {
        break;  // cut by the allocation length: drop the incomplete page
      }
      return fail_invalid(what + ": mode page " + std::to_string(bits(data[off], 0, 6)) +
                          " at byte " + std::to_string(off) + " runs past the end (" +
                          std::to_string(end) + " bytes)");
    }
    ModePage page;
    page.ps = bit(data[off], 7);
    page.spf = spf;
    page.page_code = bits(data[off], 0, 6);
    page.subpage_code = spf ? data[off + 1] : 0;
    const Bytes body = data.subspan(off + page_hdr, len);
    page.data.assign(body.begin(), body.end());
    p.pages.push_back(std::move(page));
    off += page_hdr + len;
  }
  return p;
}

Result<std::vector<std::uint8_t>> encode(const ModeParameters& p, Source source) {
  const bool six = p.format == ModeHeaderFormat::Six;
  const std::size_t hdr = header_size(p.format);
  if (six && p.longlba) {
    return fail_invalid("mode parameters: LONGLBA needs the 10-byte header");
  }
  const std::size_t bd_size = p.longlba ? 16 : 8;
  const std::size_t bd_length = bd_size * p.block_descriptors.size();
  std::size_t total = hdr + bd_length;
  for (const ModePage& page : p.pages) {
    if (page.page_code > 0x3f) {
      return fail_invalid("mode page code " + std::to_string(page.page_code) + " exceeds 6 bits");
    }
    if (page.data.size() > (page.spf ? 0xffffu : 0xffu)) {
      return fail_invalid("mode page " + std::to_string(page.page_code) +
                          " body does not fit its PAGE LENGTH field");
    }
    total += (page.spf ? 4 : 2) + page.data.size();
  }
  if ((six && (total > 256 || bd_length > 255)) || (!six && (total > 0xffff + 2))) {
    return fail_invalid("mode parameters of " + std::to_string(total) + " bytes do not fit the " +
                        (six ? "6" : "10") + "-byte header");
  }
  std::vector<std::uint8_t> out(total, 0);
  MutableBytes m(out);
  const std::size_t mode_data_length = source == Source::Sense ? total - (six ? 1 : 2) : 0;
  if (six) {
    out[0] = static_cast<std::uint8_t>(mode_data_length);
    out[1] = p.medium_type;
    out[2] = p.device_specific;
    out[3] = static_cast<std::uint8_t>(bd_length);
  } else {
    store_be16(m, 0, static_cast<std::uint16_t>(mode_data_length));
    out[2] = p.medium_type;
    out[3] = p.device_specific;
    out[4] = p.longlba ? 0x01 : 0x00;
    store_be16(m, 6, static_cast<std::uint16_t>(bd_length));
  }
  std::size_t off = hdr;
  for (const BlockDescriptor& d : p.block_descriptors) {
    if (p.longlba) {
      store_be64(m, off, d.number_of_blocks);
      store_be32(m, off + 12, d.block_length);
    } else {
      if (d.number_of_blocks > 0xffffffffULL || d.block_length > 0xffffff) {
        return fail_invalid("short block descriptor: value wider than its field");
      }
      store_be32(m, off, static_cast<std::uint32_t>(d.number_of_blocks));
      store_be24(m, off + 5, d.block_length);
    }
    off += bd_size;
  }
  for (const ModePage& page : p.pages) {
    const bool ps = source == Source::Sense && page.ps;
    out[off] = static_cast<std::uint8_t>((ps ? 0x80 : 0) | (page.spf ? 0x40 : 0) | page.page_code);
    if (page.spf) {
      out[off + 1] = page.subpage_code;
      store_be16(m, off + 2, static_cast<std::uint16_t>(page.data.size()));
      off += 4;
    } else {
      out[off + 1] = static_cast<std::uint8_t>(page.data.size());
      off += 2;
    }
    std::copy(page.data.begin(), page.data.end(), out.begin() + static_cast<std::ptrdiff_t>(off));
    off += page.data.size();
  }
  return out;
}

}  // namespace

Result<ModeParameters> parse_mode_sense_data(Bytes data, ModeHeaderFormat format) {
  return parse(data, format, Source::Sense);
}

Result<ModeParameters> parse_mode_select_list(Bytes data, ModeHeaderFormat format) {
  return parse(data, format, Source::Select);
}

Result<std::vector<std::uint8_t>> encode_mode_sense_data(const ModeParameters& p) {
  return encode(p, Source::Sense);
}

Result<std::vector<std::uint8_t>> encode_mode_select_list(const ModeParameters& p) {
  return encode(p, Source::Select);
}

const ModePage* find_mode_page(const ModeParameters& p, std::uint8_t page_code,
                               std::uint8_t subpage_code) {
  for (const ModePage& page : p.pages) {
    if (page.page_code == page_code && (page.spf ? page.subpage_code : 0) == subpage_code) {
      return &page;
    }
  }
  return nullptr;
}

}  // namespace ucam::scsi
