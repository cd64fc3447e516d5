// Test support: conformance vectors under shared/ and sg3_utils as an independent decoder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"

namespace ucam::scsi::test {

// $UCAM_SOURCE_DIR/../shared, falling back to /work/shared.
std::filesystem::path shared_dir();
// Bytes of a conformance vector (sg3_utils hex format) under shared/conformance/oracle/.
std::vector<std::uint8_t> oracle_vector(const std::string& name);

// Whether `tool` is an executable on PATH.
bool have_tool(const std::string& tool);
// The message a test fails with when an sg3_utils tool is missing.
std::string missing_tool_message(const std::string& tool);

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// Runs argv (no shell interpretation of arguments) and captures its output.
RunResult run(const std::vector<std::string>& argv);

// A temporary file holding `bytes` as sg3_utils hex text; removed on destruction.
class TempHexFile {
 public:
  explicit TempHexFile(Bytes bytes);
  ~TempHexFile();
  TempHexFile(const TempHexFile&) = delete;
  TempHexFile& operator=(const TempHexFile&) = delete;
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
};

// Lower case, runs of blanks collapsed to one space, trimmed.
std::string normalize(const std::string& text);
// Lines of `text`.
std::vector<std::string> lines(const std::string& text);

// Text scanning without std::regex (g++ 12 reports false maybe-uninitialized warnings inside
// <regex> under -fsanitize=address, which -Werror turns into build failures).
//
// "name=value" tokens, value decimal or 0x-hex ("PDT=13", "[AERC=0]", "lba=0x4422"), in order.
std::vector<std::pair<std::string, std::uint64_t>> key_values(const std::string& text);
// The number right after the first occurrence of `label` (blanks skipped; decimal, or hex with
// a 0x prefix), if any.
std::optional<std::uint64_t> number_after(const std::string& text, const std::string& label);

}  // namespace ucam::scsi::test

#include <random>

namespace ucam::scsi::test {

// Calls f(prefix) for every prefix of `bytes` (lengths 0..size), each in its own exactly
// sized heap buffer so AddressSanitizer sees any read past the end.
template <class F>
void for_each_prefix(Bytes bytes, F&& f) {
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    const std::vector<std::uint8_t> copy(bytes.begin(), bytes.begin() + static_cast<long>(n));
    f(Bytes(copy));
  }
}

// Calls f(buffer) for `count` random buffers of 0..max_len bytes (fixed seed: reproducible).
template <class F>
void for_random_buffers(std::size_t count, std::size_t max_len, F&& f) {
  std::mt19937 rng(20240611);
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<std::uint8_t> buf(rng() % (max_len + 1));
    for (auto& b : buf) {
      b = static_cast<std::uint8_t>(rng());
    }
    f(Bytes(buf));
  }
}

}  // namespace ucam::scsi::test
