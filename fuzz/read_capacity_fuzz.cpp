// libFuzzer target for READ CAPACITY(10) and (16) parameter data (scsi/read_capacity.h): every
// input is parsed as both; what parses is encoded again and must parse back to the same value.
// The first twelve bytes also size a disk for read_capacity10_for().
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "base/bytes.h"
#include "fuzz/fuzz_check.h"
#include "scsi/read_capacity.h"

namespace scsi = ucam::scsi;

namespace {

using ucam::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  if (auto rc10 = scsi::parse_read_capacity10(input)) {
    auto back = scsi::parse_read_capacity10(scsi::encode_read_capacity10(*rc10));
    check(back.has_value() && *back == *rc10);
  }
  if (auto rc16 = scsi::parse_read_capacity16(input)) {
    (void)rc16->block_count();
    if (auto again = scsi::encode_read_capacity16(*rc16)) {
      auto back = scsi::parse_read_capacity16(*again);
      check(back.has_value());
      back->truncated = rc16->truncated;
      check(*back == *rc16);
    }
  }
  if (size >= 12) {
    const std::uint64_t blocks = ucam::load_be64(input, 0);
    const std::uint32_t block_length = ucam::load_be32(input, 8);
    const auto rc10 = scsi::read_capacity10_for(blocks, block_length);
    check(rc10.block_length == block_length);
  }
  return 0;
}
