// libFuzzer target for the SES renderings (scsi/ses_json.h): the whole input is a capture (pages
// back to back, as sg_ses --inhex reads them), decoded with an EIIOE policy (the input's length
// picks which) and rendered as the JSON of docs/ses-json.md and as text, as `ucamctl enc decode`
// does. The JSON must dump without an error handler: every string valid UTF-8, as the document
// promises. The decoders have their own, faster target: ses_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_check.h"
#include "scsi/ses_json.h"
#include "scsi/ses_pages.h"

namespace ses = ucam::scsi::ses;

namespace {

using ucam::fuzz::check;

// A 4 KiB page can declare 250,000 elements; inputs declaring more than this are decoded (by
// ses_fuzz) but not rendered here. Every element renders through the same code whatever its
// index, so a few of each type reach all of it: the seeds emu-seed0..3 hold every element type
// 00h-19h in at most 16 elements each. Rendering is this target's cost, linear in elements: 16
// runs 2.3 times faster than 64 (2,216 against 977 executions per second over 40 s), and the
// corpus of a 60 s run at 16 covers more edges, replayed at 64, than a 40 s run at 64 (2,364
// against 2,343).
constexpr std::size_t kMaxRenderedElements = 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  // One policy per input (rendering is the cost here); the mutations reach both.
  const auto policy =
      (size % 2 == 0) ? ses::EiioePolicy::AsReported : ses::EiioePolicy::ForceGlobal;
  auto set = ses::decode_ses_pages(input, policy);
  if (!set || (set->config && set->config->element_count() > kMaxRenderedElements)) {
    return 0;
  }
  const auto json = ses::ses_to_json(*set);
  // Throws (and libFuzzer reports it) on invalid UTF-8. Parsing the text back would add
  // nlohmann's instrumented parser to every execution and check nothing of ours.
  check(!json.dump().empty());
  (void)ses::ses_to_text(*set);
  return 0;
}
