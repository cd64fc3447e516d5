// libFuzzer target for mode parameters (scsi/mode.h): every input is parsed as MODE SENSE data
// and as a MODE SELECT parameter list, with the 6- and the 10-byte header. What parses is encoded
// again and must parse back to the same block descriptors and pages (in a MODE SELECT list, with
// PS clear). The changer pages 1Dh-1Fh are decoded in smc_fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_check.h"
#include "scsi/mode.h"

namespace scsi = ucam::scsi;

namespace {

using ucam::fuzz::check;

bool same_content(const scsi::ModeParameters& a, const scsi::ModeParameters& b) {
  return a.format == b.format && a.medium_type == b.medium_type &&
         a.device_specific == b.device_specific && a.longlba == b.longlba &&
         a.block_descriptors == b.block_descriptors && a.pages == b.pages;
}

void fuzz_format(ucam::Bytes input, scsi::ModeHeaderFormat format) {
  if (auto sense = scsi::parse_mode_sense_data(input, format)) {
    for (const auto& page : sense->pages) {
      check(scsi::find_mode_page(*sense, page.page_code, page.subpage_code) != nullptr);
    }
    if (auto again = scsi::encode_mode_sense_data(*sense)) {
      auto back = scsi::parse_mode_sense_data(*again, format);
      check(back.has_value() && same_content(*back, *sense) && !back->truncated);
    }
  }
  if (auto select = scsi::parse_mode_select_list(input, format)) {
    if (auto again = scsi::encode_mode_select_list(*select)) {
      auto back = scsi::parse_mode_select_list(*again, format);
      // PS is reserved in MODE SELECT (SPC-5 7.5.7): the encoder writes it as zero.
      for (auto& page : select->pages) {
        page.ps = false;
      }
      check(back.has_value() && same_content(*back, *select));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  fuzz_format(input, scsi::ModeHeaderFormat::Six);
  fuzz_format(input, scsi::ModeHeaderFormat::Ten);
  return 0;
}
