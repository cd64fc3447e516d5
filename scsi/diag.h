// Diagnostic pages (SEND DIAGNOSTIC parameter lists, RECEIVE DIAGNOSTIC RESULTS data).
//
// SPC-5 7.3.1 Diagnostic page format: PAGE CODE (byte 0), a page-specific byte (byte 1; SES
// puts status bits or the generation-related flags there), PAGE LENGTH (bytes 2-3, the bytes
// that follow), then the page. SPC-5 7.3.2 Supported Diagnostic Pages (page 00h) lists page
// codes. Several pages may be concatenated (sg_ses --inhex files do that).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ucam::scsi {

inline constexpr std::uint8_t kDiagSupportedPages = 0x00;

struct DiagPageHeader {
  std::uint8_t page_code = 0;
  std::uint8_t page_specific = 0;
  std::uint16_t page_length = 0;
  std::size_t total() const { return 4 + std::size_t{page_length}; }  // header included
};

// Needs the 4-byte header only.
Result<DiagPageHeader> parse_diag_page_header(Bytes data);

// One complete page: its header and the PAGE LENGTH bytes after it.
struct DiagPage {
  DiagPageHeader header;
  Bytes body;  // view into the parsed buffer: valid while it is
};
// The page at the start of `data`; fails when the buffer is shorter than the page (name the
// allocation length to use).
Result<DiagPage> parse_diag_page(Bytes data);
// Splits back-to-back pages; fails if any page is cut short.
Result<std::vector<DiagPage>> split_diag_pages(Bytes data);

// Builds a page; fails when the body exceeds 65535 bytes.
Result<std::vector<std::uint8_t>> encode_diag_page(std::uint8_t page_code,
                                                   std::uint8_t page_specific, Bytes body);

// SPC-5 7.3.2 Supported Diagnostic Pages.
Result<std::vector<std::uint8_t>> parse_supported_diag_pages(Bytes data);
Result<std::vector<std::uint8_t>> encode_supported_diag_pages(std::span<const std::uint8_t> pages);

}  // namespace ucam::scsi
