// Test support for the scsi/ses tests: locating shared/ and reading SES vectors and captures.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/hex.h"
#include "scsi/ses_pages.h"

namespace ucam::scsi::ses::test {

// $UCAM_SOURCE_DIR/../shared, else UCAM_TEST_SOURCE_DIR/../shared (the compile definition every
// test target gets), else /work/shared.
inline std::filesystem::path ses_shared_dir() {
  std::vector<std::filesystem::path> candidates;
  if (const char* src = std::getenv("UCAM_SOURCE_DIR"); src != nullptr) {
    candidates.emplace_back(std::filesystem::path(src) / ".." / "shared");
  }
#ifdef UCAM_TEST_SOURCE_DIR
  candidates.emplace_back(std::filesystem::path(UCAM_TEST_SOURCE_DIR) / ".." / "shared");
#endif
  for (const auto& c : candidates) {
    if (std::filesystem::exists(c / "conformance")) {
      return c;
    }
  }
  return "/work/shared";
}

inline std::vector<std::uint8_t> read_hex_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot open " + path.string());
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto bytes = parse_hex(ss.str());
  if (!bytes) {
    throw std::runtime_error(path.string() + ": " + bytes.error().message());
  }
  return *bytes;
}

// shared/conformance/oracle/NAME
inline std::vector<std::uint8_t> oracle_file(const std::string& name) {
  return read_hex_file(ses_shared_dir() / "conformance" / "oracle" / name);
}
// shared/conformance/ses-real/NAME.hex (one page)
inline std::vector<std::uint8_t> real_capture(const std::string& name) {
  return read_hex_file(ses_shared_dir() / "conformance" / "ses-real" / (name + ".hex"));
}
// Several captures back to back.
inline std::vector<std::uint8_t> real_captures(const std::vector<std::string>& names) {
  std::vector<std::uint8_t> out;
  for (const auto& n : names) {
    const auto page = real_capture(n);
    out.insert(out.end(), page.begin(), page.end());
  }
  return out;
}

// Page `code` (header included) of back-to-back pages; empty when absent.
inline std::vector<std::uint8_t> page_of(const std::vector<std::uint8_t>& all, std::uint8_t code) {
  auto list = split_diagnostic_pages(all);
  if (list) {
    for (const auto& p : list->pages) {
      if (p[0] == code) {
        return std::vector<std::uint8_t>(p.begin(), p.end());
      }
    }
  }
  return {};
}

inline bool has_warning(const std::vector<std::string>& warnings, const std::string& needle) {
  for (const auto& w : warnings) {
    if (w.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace ucam::scsi::ses::test
