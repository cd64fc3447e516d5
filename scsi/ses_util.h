// Internal helpers shared by the ses*.cpp codecs. Not part of the scsi/ API: nothing outside
// scsi/ses*.cpp includes this.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/ses.h"

namespace ucam::scsi::ses::detail {

// A diagnostic page opened for decoding: the page code checked and `end` = the bytes that
// belong to it (4 + PAGE LENGTH, clipped to what was received).
struct PageView {
  std::size_t end = 0;
  std::size_t declared = 0;  // 4 + PAGE LENGTH
  std::size_t received = 0;
  std::string what;

  // Fails on fewer than 4 bytes or another page code.
  static Result<PageView> open(Bytes page, std::uint8_t expected_code, std::string what);
  // Adds "<what>: page cut: N of M bytes" when the page was cut.
  void note_truncation(std::vector<std::string>& warnings) const;
};

// Sets mismatch and warns when `generation` differs from the configuration's.
void check_generation(const std::string& what, std::uint32_t generation, const SesConfig& config,
                      bool& mismatch, std::vector<std::string>& warnings);

// Writes PAGE LENGTH (bytes 2-3); fails when the page exceeds 65535 + 4 bytes.
Result<std::vector<std::uint8_t>> finish_page(std::vector<std::uint8_t> page,
                                              const std::string& what);

// Copies `s` to out[at, at+width) padded with spaces (the caller checked the length).
void put_padded(std::vector<std::uint8_t>& out, std::size_t at, std::size_t width,
                const std::string& s);

void trim_trailing(std::string& s);  // spaces and NULs
std::string hex8(std::uint8_t v);    // two lower-case hex digits
// "3, 4, 5" (at most 16 listed, then ", ...").
std::string join_indexes(const std::vector<std::size_t>& indexes);

struct CleanText {
  std::string text;
  bool nul_padded = false;   // had a NUL (text cut at the first one)
  bool unprintable = false;  // had bytes outside 0x20-0x7e before it (replaced by '.')
};
// Text field sanitising: cut at the first NUL, replace non-printable bytes by '.', trim
// trailing spaces.
CleanText sanitize_text(Bytes text);
// Like sanitize_text but only trims: "" for an absent field.
std::string ascii_field(Bytes data, std::size_t off, std::size_t len);

}  // namespace ucam::scsi::ses::detail
