// JSON and text renderings of decoded SES pages: the stable contract of docs/ses-json.md that
// `ucamctl enc decode FILE [--json]` prints. Kept apart from the codecs so that only code that
// renders depends on nlohmann_json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/ses_pages.h"

namespace ucam::scsi::ses {

// The JSON document of docs/ses-json.md.
nlohmann::json ses_to_json(const SesPageSet& pages);
// A human-readable report (sesutil map style): configuration, one block per element with its
// status, descriptor, type-specific fields and additional status, the other pages, warnings.
std::string ses_to_text(const SesPageSet& pages);

// An element descriptor's bytes (page 0x07, exactly as received) as the `descriptor` string of
// docs/ses-json.md: every byte is the code point of the same value (ISO 8859-1), so the string
// is valid UTF-8, nothing is trimmed or replaced, and encoding it as Latin-1 gives the bytes
// back. A printable ASCII descriptor is its own text.
std::string descriptor_json(std::string_view raw);

struct SesRendering {
  nlohmann::json json;
  std::string text;
};
// Splits and decodes `buffer` (pages back to back, as sg_ses --inhex reads them) and renders
// both forms. Fails only when the buffer holds no page.
Result<SesRendering> render_ses_pages(Bytes buffer, EiioePolicy policy = EiioePolicy::AsReported);

}  // namespace ucam::scsi::ses
