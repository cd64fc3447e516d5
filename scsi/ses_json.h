// JSON and text renderings of decoded SES pages: the stable contract of docs/ses-json.md that
// `ucamctl enc decode FILE [--json]` prints. Kept apart from the codecs so that only code that
// renders depends on nlohmann_json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/ses_pages.h"

namespace ucam::scsi::ses {

// The JSON document of docs/ses-json.md.
nlohmann::json ses_to_json(const SesPageSet& pages);
// A human-readable report (sesutil map style): configuration, one block per element with its
// status, descriptor, type-specific fields and additional status, the other pages, warnings.
std::string ses_to_text(const SesPageSet& pages);

struct SesRendering {
  nlohmann::json json;
  std::string text;
};
// Splits and decodes `buffer` (pages back to back, as sg_ses --inhex reads them) and renders
// both forms. Fails only when the buffer holds no page.
Result<SesRendering> render_ses_pages(Bytes buffer, EiioePolicy policy = EiioePolicy::AsReported);

}  // namespace ucam::scsi::ses
