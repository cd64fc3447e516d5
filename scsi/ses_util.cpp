#include "scsi/ses_util.h"

#include <algorithm>
#include <cstdio>

namespace ucam::scsi::ses::detail {

Result<PageView> PageView::open(Bytes page, std::uint8_t expected_code, std::string what) {
  if (page.size() < 4) {
    return fail_invalid(what + " page: " + std::to_string(page.size()) +
                        " bytes, too short for the page header (4)");
  }
  if (page[0] != expected_code) {
    return fail_invalid(what + " page: expected page code 0x" + hex8(expected_code) + ", got 0x" +
                        hex8(page[0]));
  }
  PageView v;
  v.declared = 4 + std::size_t{load_be16(page, 2)};
  v.received = page.size();
  v.end = std::min(v.declared, v.received);
  v.what = std::move(what);
  return v;
}

void PageView::note_truncation(std::vector<std::string>& warnings) const {
  if (received < declared) {
    warnings.push_back(what + ": page cut: " + std::to_string(received) + " of " +
                       std::to_string(declared) +
                       " bytes (allocation length too small?); decoded what is there");
  }
}

void check_generation(const std::string& what, std::uint32_t generation, const SesConfig& config,
                      bool& mismatch, std::vector<std::string>& warnings) {
  if (generation != config.generation) {
    mismatch = true;
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "%s: generation code 0x%x differs from the configuration's 0x%x (the "
                  "configuration changed; re-read the Configuration page)",
                  what.c_str(), generation, config.generation);
    warnings.emplace_back(buf);
  }
}

Result<std::vector<std::uint8_t>> finish_page(std::vector<std::uint8_t> page,
                                              const std::string& what) {
  if (page.size() < 4 || page.size() - 4 > 0xffff) {
    return fail_invalid(what + " page: " + std::to_string(page.size()) +
                        " bytes does not fit PAGE LENGTH (at most 65539)");
  }
  store_be16(MutableBytes(page), 2, static_cast<std::uint16_t>(page.size() - 4));
  return page;
}

void put_padded(std::vector<std::uint8_t>& out, std::size_t at, std::size_t width,
                const std::string& s) {
  for (std::size_t i = 0; i < width; ++i) {
    out[at + i] = i < s.size() ? static_cast<std::uint8_t>(s[i]) : std::uint8_t{' '};
  }
}

void trim_trailing(std::string& s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
    s.pop_back();
  }
}

std::string hex8(std::uint8_t v) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02x", v);
  return buf;
}

std::string join_indexes(const std::vector<std::size_t>& indexes) {
  std::string out;
  for (std::size_t i = 0; i < indexes.size() && i < 16; ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(indexes[i]);
  }
  if (indexes.size() > 16) {
    out += ", ... (" + std::to_string(indexes.size()) + " in all)";
  }
  return out;
}

CleanText sanitize_text(Bytes text) {
  CleanText c;
  for (const auto b : text) {
    if (b == 0) {
      c.nul_padded = true;
      break;
    }
    if (b < 0x20 || b > 0x7e) {
      c.unprintable = true;
      c.text += '.';
    } else {
      c.text += static_cast<char>(b);
    }
  }
  trim_trailing(c.text);
  return c;
}

std::string ascii_field(Bytes data, std::size_t off, std::size_t len) {
  if (off >= data.size()) {
    return {};
  }
  return sanitize_text(data.subspan(off, std::min(len, data.size() - off))).text;
}

}  // namespace ucam::scsi::ses::detail
