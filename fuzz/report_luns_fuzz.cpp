// libFuzzer target for REPORT LUNS data and LUN structure (scsi/report_luns.h). Every input is
// parsed as REPORT LUNS parameter data; each LUN in it, and the first eight input bytes as a LUN,
// is decoded into its addressing levels and rendered. A LUN that decodes must encode back to the
// same eight bytes, and a list that parses must encode and parse back to the same LUNs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "scsi/report_luns.h"

namespace scsi = ucam::scsi;

namespace {

using ucam::fuzz::check;

void fuzz_lun(scsi::Lun lun) {
  (void)scsi::lun_text(lun);
  (void)scsi::lun_to_u64(lun);
  if (auto levels = scsi::decode_lun(lun)) {
    auto again = scsi::encode_lun(*levels);
    check(again.has_value() && *again == lun);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  if (size >= 8) {
    fuzz_lun(scsi::Lun::from_bytes(input.first(8)));
  }
  if (auto report = scsi::parse_report_luns(input)) {
    (void)report->truncation_text();
    check(report->luns.size() <= report->listed);
    std::vector<std::uint64_t> raw;
    raw.reserve(report->luns.size());
    for (const auto& lun : report->luns) {
      fuzz_lun(lun);
      raw.push_back(lun.raw_lun);
    }
    auto back = scsi::parse_report_luns(scsi::encode_report_luns(raw));
    check(back.has_value() && back->luns == report->luns && !back->truncated());
  }
  return 0;
}
