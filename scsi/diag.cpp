#include "scsi/diag.h"

#include <algorithm>
#include <string>

namespace ucam::scsi {

// SPC-5 7.3.1 Diagnostic page format.
Result<DiagPageHeader> parse_diag_page_header(Bytes data) {
  if (data.size() < 4) {
    return fail_invalid("diagnostic page header truncated: " + std::to_string(data.size()) +
                        " of 4 bytes");
  }
  return DiagPageHeader{data[0], data[1], load_be16(data, 2)};
}

Result<DiagPage> parse_diag_page(Bytes data) {
  auto h = parse_diag_page_header(data);
  if (!h) {
    return fail(h.error());
  }
  if (data.size() < h->total()) {
    return fail_invalid("diagnostic page " + std::to_string(h->page_code) +
                        " truncated: " + std::to_string(data.size()) + " of " +
                        std::to_string(h->total()) + " bytes (allocation length must be at least " +
                        std::to_string(h->total()) + ")");
  }
  return DiagPage{*h, data.subspan(4, h->page_length)};
}

Result<std::vector<DiagPage>> split_diag_pages(Bytes data) {
  std::vector<DiagPage> pages;
  std::size_t off = 0;
  while (off < data.size()) {
    auto page = parse_diag_page(data.subspan(off));
    if (!page) {
      return fail(page.error().with_context("page " + std::to_string(pages.size()) + " at byte " +
                                            std::to_string(off)));
    }
    off += page->header.total();
    pages.push_back(*page);
  }
  return pages;
}

Result<std::vector<std::uint8_t>> encode_diag_page(std::uint8_t page_code,
                                                   std::uint8_t page_specific, Bytes body) {
  if (body.size() > 0xffff) {
    return fail_invalid("diagnostic page body longer than 65535 bytes");
  }
  std::vector<std::uint8_t> out(4 + body.size());
  out[0] = page_code;
  out[1] = page_specific;
  store_be16(MutableBytes(out), 2, static_cast<std::uint16_t>(body.size()));
  std::copy(body.begin(), body.end(), out.begin() + 4);
  return out;
}

// SPC-5 7.3.2 Supported Diagnostic Pages diagnostic page.
Result<std::vector<std::uint8_t>> parse_supported_diag_pages(Bytes data) {
  auto page = parse_diag_page(data);
  if (!page) {
    return fail(page.error());
  }
  if (page->header.page_code != kDiagSupportedPages) {
    return fail_invalid("expected supported diagnostic pages (0x00), got page " +
                        std::to_string(page->header.page_code));
  }
  return std::vector<std::uint8_t>(page->body.begin(), page->body.end());
}

Result<std::vector<std::uint8_t>> encode_supported_diag_pages(std::span<const std::uint8_t> pages) {
  return encode_diag_page(kDiagSupportedPages, 0, Bytes(pages.data(), pages.size()));
}

}  // namespace ucam::scsi
