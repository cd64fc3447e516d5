#include "scsi/read_capacity.h"

#include <string>

namespace ucam::scsi {

// SBC-4 5.20.2 READ CAPACITY (10) parameter data.
Result<ReadCapacity10Data> parse_read_capacity10(Bytes data) {
  if (data.size() < kReadCapacity10Length) {
    return fail_invalid("READ CAPACITY(10) data truncated: " + std::to_string(data.size()) +
                        " of 8 bytes");
  }
  return ReadCapacity10Data{load_be32(data, 0), load_be32(data, 4)};
}

std::vector<std::uint8_t> encode_read_capacity10(const ReadCapacity10Data& d) {
  std::vector<std::uint8_t> out(kReadCapacity10Length);
  store_be32(MutableBytes(out), 0, d.last_lba);
  store_be32(MutableBytes(out), 4, d.block_length);
  return out;
}

ReadCapacity10Data read_capacity10_for(std::uint64_t block_count, std::uint32_t block_length) {
  const std::uint64_t last = block_count == 0 ? 0 : block_count - 1;
  return {
      last >= kReadCapacity10Overflow ? kReadCapacity10Overflow : static_cast<std::uint32_t>(last),
      block_length};
}

// SBC-4 5.21.2 READ CAPACITY (16) parameter data.
Result<ReadCapacity16Data> parse_read_capacity16(Bytes data) {
  if (data.size() < 12) {
    return fail_invalid("READ CAPACITY(16) data truncated: " + std::to_string(data.size()) +
                        " bytes, need at least 12");
  }
  ReadCapacity16Data d;
  d.last_lba = load_be64(data, 0);
  d.block_length = load_be32(data, 8);
  if (data.size() < 16) {
    d.truncated = true;
    return d;
  }
  d.rc_basis = bits(data[12], 4, 2);
  d.p_type = bits(data[12], 1, 3);
  d.prot_en = bit(data[12], 0);
  d.p_i_exponent = bits(data[13], 4, 4);
  d.logical_per_physical_exponent = bits(data[13], 0, 4);
  d.lbpme = bit(data[14], 7);
  d.lbprz = bit(data[14], 6);
  d.lowest_aligned_lba = static_cast<std::uint16_t>(load_be16(data, 14) & 0x3fff);
  return d;
}

Result<std::vector<std::uint8_t>> encode_read_capacity16(const ReadCapacity16Data& d) {
  if (d.rc_basis > 3 || d.p_type > 7 || d.p_i_exponent > 15 ||
      d.logical_per_physical_exponent > 15 || d.lowest_aligned_lba > 0x3fff) {
    return fail_invalid("READ CAPACITY(16): a sub-byte field exceeds its width");
  }
  std::vector<std::uint8_t> out(kReadCapacity16Length);
  MutableBytes m(out);
  store_be64(m, 0, d.last_lba);
  store_be32(m, 8, d.block_length);
  out[12] = static_cast<std::uint8_t>((d.rc_basis << 4) | (d.p_type << 1) | (d.prot_en ? 1 : 0));
  out[13] = static_cast<std::uint8_t>((d.p_i_exponent << 4) | d.logical_per_physical_exponent);
  store_be16(m, 14,
             static_cast<std::uint16_t>((d.lbpme ? 0x8000 : 0) | (d.lbprz ? 0x4000 : 0) |
                                        d.lowest_aligned_lba));
  return out;
}

}  // namespace ucam::scsi
