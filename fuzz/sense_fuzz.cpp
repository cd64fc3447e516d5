// libFuzzer target for sense data (scsi/sense.h), fixed and descriptor format: every input is
// parsed as sense data and described; what parses is encoded again in descriptor format (which
// carries every field the parser reads) and must parse back to the same fields. The first four
// bytes are also tried as a sense key and a SENSE KEY SPECIFIC field, which must decode, encode
// and decode to the same value.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_check.h"
#include "scsi/sense.h"

namespace scsi = ucam::scsi;

namespace {

using ucam::fuzz::check;

void fuzz_sense_key_specific(ucam::Bytes input) {
  if (input.size() < 4) {
    return;
  }
  const auto key = static_cast<std::uint8_t>(input[0] & 0x0f);
  // With SKSV set, as in every field parse_sense() decodes.
  const std::array<std::uint8_t, 3> raw{static_cast<std::uint8_t>(input[1] | 0x80), input[2],
                                        input[3]};
  const auto info = scsi::decode_sense_key_specific(key, raw);
  if (auto again = scsi::encode_sense_key_specific(info)) {
    check(scsi::decode_sense_key_specific(key, *again) == info);
  }
}

void fuzz_round_trip(const scsi::SenseData& s) {
  scsi::SenseFields fields;
  fields.deferred = s.deferred;
  if (s.information_valid) {
    fields.information = s.information;
  }
  fields.command_specific = s.command_specific;
  fields.sense_key_specific = s.sense_key_specific_info();
  fields.fru_code = s.fru_code;
  fields.filemark = s.filemark;
  fields.eom = s.eom;
  fields.ili = s.ili;
  fields.ata_status = s.ata_status;
  fields.another_progress = s.another_progress;
  auto again = scsi::encode_descriptor_sense(s.sense_key, s.asc, s.ascq, fields);
  if (!again) {
    return;  // more descriptors than 252 bytes hold, or a field the encoder refuses
  }
  auto back = scsi::parse_sense(*again);
  check(back.has_value());
  check(back->code() == s.code() && back->deferred == s.deferred && !back->truncated);
  check(back->information_valid == s.information_valid);
  check(!s.information_valid || back->information == s.information);
  check(back->command_specific == s.command_specific);
  check(back->sense_key_specific_info() == s.sense_key_specific_info());
  check(back->fru_code == s.fru_code && back->filemark == s.filemark && back->eom == s.eom &&
        back->ili == s.ili);
  check(back->ata_status == s.ata_status && back->another_progress == s.another_progress);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  if (auto s = scsi::parse_sense(input)) {
    (void)scsi::describe_sense(*s);
    fuzz_round_trip(*s);
  }
  fuzz_sense_key_specific(input);
  return 0;
}
