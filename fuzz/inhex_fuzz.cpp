// libFuzzer target for the hex text reader (base/hex.h) that `ucamctl enc decode` uses for
// sg_ses --inhex files, and for the diagnostic page framing (scsi/diag.h) and buffer descriptors
// (scsi/buffer.h) the bytes then go through. The input is text, parsed in both token modes;
// bytes that parse must print (hex_string) and parse back to the same bytes. Those bytes are then
// split into diagnostic pages, each rebuilt by encode_diag_page and compared.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/hex.h"
#include "fuzz/fuzz_check.h"
#include "scsi/buffer.h"
#include "scsi/diag.h"

namespace scsi = ucam::scsi;

namespace {

using ucam::fuzz::check;

void fuzz_pages(ucam::Bytes bytes) {
  (void)scsi::parse_diag_page_header(bytes);
  if (auto pages = scsi::split_diag_pages(bytes)) {
    for (const auto& page : *pages) {
      auto again =
          scsi::encode_diag_page(page.header.page_code, page.header.page_specific, page.body);
      check(again.has_value());
      auto back = scsi::parse_diag_page(*again);
      check(back.has_value() && back->header.page_code == page.header.page_code &&
            back->header.page_length == page.header.page_length &&
            std::equal(back->body.begin(), back->body.end(), page.body.begin(), page.body.end()));
    }
  }
  if (auto supported = scsi::parse_supported_diag_pages(bytes)) {
    if (auto again = scsi::encode_supported_diag_pages(*supported)) {
      check(scsi::parse_supported_diag_pages(*again) == *supported);
    }
  }
  if (auto d = scsi::parse_buffer_descriptor(bytes)) {
    (void)d->offset_alignment();
    if (auto again = scsi::encode_buffer_descriptor(*d)) {
      check(scsi::parse_buffer_descriptor(*again) == *d);
    }
  }
  if (auto d = scsi::parse_echo_buffer_descriptor(bytes)) {
    if (auto again = scsi::encode_echo_buffer_descriptor(*d)) {
      check(scsi::parse_echo_buffer_descriptor(*again) == *d);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto mode : {ucam::HexTokens::ByteTokens, ucam::HexTokens::AllowRuns}) {
    auto bytes = ucam::parse_hex(text, mode);
    if (!bytes) {
      continue;
    }
    const auto printed = ucam::hex_string(*bytes);
    check(ucam::parse_hex(printed, mode) == *bytes);
    (void)ucam::hex_dump(*bytes);
    if (mode == ucam::HexTokens::ByteTokens) {
      fuzz_pages(*bytes);
    }
  }
  return 0;
}
