#include "scsi/ses_pages.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>

#include "scsi/ses_util.h"

namespace ucam::scsi::ses {

using detail::PageView;

namespace {

// Opens a page that carries a generation code (bytes 4-7).
Result<PageView> open_with_generation(Bytes page, PageCode code, const std::string& what) {
  auto view = PageView::open(page, page_code_value(code), what);
  if (!view) {
    return fail(view.error());
  }
  if (view->end < 8) {
    return fail_invalid(what + " page: " + std::to_string(view->end) +
                        " bytes, too short for the generation code (8)");
  }
  return view;
}

// Byte 1 of the per-subenclosure pages against the configuration.
void check_subenclosure_count(const std::string& what, std::uint8_t byte1, const SesConfig* cfg,
                              std::vector<std::string>& w) {
  if (cfg != nullptr && !cfg->subenclosures.empty() &&
      std::size_t{byte1} + 1 != cfg->subenclosures.size()) {
    w.push_back(what + ": " + std::to_string(byte1) +
                " secondary subenclosures, the configuration has " +
                std::to_string(cfg->subenclosures.size() - 1));
  }
}

void maybe_check_generation(const std::string& what, std::uint32_t generation, const SesConfig* cfg,
                            bool& mismatch, std::vector<std::string>& w) {
  if (cfg != nullptr) {
    detail::check_generation(what, generation, *cfg, mismatch, w);
  }
}

std::vector<std::uint8_t> header(PageCode code, std::uint8_t byte1, std::uint32_t generation) {
  std::vector<std::uint8_t> out(8, 0);
  out[0] = page_code_value(code);
  out[1] = byte1;
  store_be32(MutableBytes(out), 4, generation);
  return out;
}

// Walks the {reserved, SUBENCLOSURE IDENTIFIER, LENGTH (2), data} records of pages 0x0B/0x0C.
template <class F>
void walk_length_records(Bytes d, const std::string& what, std::vector<std::string>& w, F&& f) {
  std::size_t off = 8;
  std::size_t n = 0;
  while (off < d.size()) {
    if (off + 4 > d.size()) {
      w.push_back(what + ": record " + std::to_string(n) + " header cut (" +
                  std::to_string(d.size() - off) + " of 4 bytes)");
      return;
    }
    const std::size_t len = load_be16(d, off + 2);
    const std::size_t have = std::min(len, d.size() - off - 4);
    if (have < len) {
      w.push_back(what + ": record " + std::to_string(n) + " cut: " + std::to_string(have) +
                  " of " + std::to_string(len) + " bytes");
    }
    f(d[off + 1], d.subspan(off + 4, have));
    off += 4 + have;
    ++n;
  }
}

Result<std::vector<std::uint8_t>> append_length_record(std::vector<std::uint8_t>& out,
                                                       std::uint8_t id, Bytes data) {
  if (data.size() > 0xffff) {
    return fail_invalid("subenclosure record longer than 65535 bytes");
  }
  out.push_back(0);
  out.push_back(id);
  out.push_back(static_cast<std::uint8_t>(data.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// For the "<n> subenclosures" byte 1 of the encoders.
Result<std::uint8_t> secondary_count(std::size_t records, const std::string& what) {
  if (records == 0 || records > 256) {
    return fail_invalid(what + ": need 1 to 256 subenclosure records, got " +
                        std::to_string(records));
  }
  return static_cast<std::uint8_t>(records - 1);
}

}  // namespace

// ---- 0x00 / 0x0D ------------------------------------------------------------------------------

Result<SesSupportedPages> parse_ses_supported_pages(Bytes page) {
  if (page.size() >= 1 && page[0] != page_code_value(PageCode::SupportedDiagnosticPages) &&
      page[0] != page_code_value(PageCode::SupportedSesPages)) {
    return fail_invalid("supported pages: expected page code 0x00 or 0x0d, got 0x" +
                        detail::hex8(page[0]));
  }
  const std::string what = page.size() >= 1 && page[0] == 0x0d ? "supported SES diagnostic pages"
                                                               : "supported diagnostic pages";
  auto view = PageView::open(page, page.empty() ? 0 : page[0], what);
  if (!view) {
    return fail(view.error());
  }
  SesSupportedPages out;
  out.page_code = page[0];
  view->note_truncation(out.warnings);
  out.pages.assign(page.begin() + 4, page.begin() + static_cast<long>(view->end));
  // Page 0x00 is not an SES page, so 00h codes after the first in 0x0D are padding (enclosures
  // pad the list to a multiple of four, as the Areca capture shows).
  if (out.page_code == page_code_value(PageCode::SupportedSesPages)) {
    while (out.pages.size() > 1 && out.pages.back() == 0) {
      out.pages.pop_back();
    }
  }
  if (!std::is_sorted(out.pages.begin(), out.pages.end()) ||
      std::adjacent_find(out.pages.begin(), out.pages.end()) != out.pages.end()) {
    out.warnings.push_back(what + ": page codes not in strictly ascending order");
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_supported_pages(std::uint8_t page_code,
                                                             std::span<const std::uint8_t> pages) {
  if (page_code != 0x00 && page_code != 0x0d) {
    return fail_invalid("supported pages: page code must be 0x00 or 0x0d");
  }
  std::vector<std::uint8_t> out{page_code, 0, 0, 0};
  out.insert(out.end(), pages.begin(), pages.end());
  return detail::finish_page(std::move(out), "supported pages");
}

// ---- 0x03 Help Text ---------------------------------------------------------------------------

Result<SesHelpText> parse_ses_help_text(Bytes page) {
  auto view = PageView::open(page, page_code_value(PageCode::HelpText), "help text");
  if (!view) {
    return fail(view.error());
  }
  SesHelpText out;
  view->note_truncation(out.warnings);
  const Bytes text = page.subspan(4, view->end - 4);
  out.raw.assign(text.begin(), text.end());
  const auto clean = detail::sanitize_text(text);
  out.text = clean.text;
  if (clean.unprintable) {
    out.warnings.push_back("help text: non-printable bytes (shown as '.')");
  }
  if (clean.nul_padded) {
    out.warnings.push_back("help text: NUL byte in the text (cut there)");
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_help_text(std::string_view text) {
  std::vector<std::uint8_t> out{page_code_value(PageCode::HelpText), 0, 0, 0};
  out.insert(out.end(), text.begin(), text.end());
  return detail::finish_page(std::move(out), "help text");
}

// ---- 0x04 String In / Out ---------------------------------------------------------------------

Result<SesStringIn> parse_ses_string_in(Bytes page) {
  auto view = PageView::open(page, page_code_value(PageCode::StringIn), "string in");
  if (!view) {
    return fail(view.error());
  }
  SesStringIn out;
  view->note_truncation(out.warnings);
  out.data.assign(page.begin() + 4, page.begin() + static_cast<long>(view->end));
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_string(Bytes data) {
  std::vector<std::uint8_t> out{page_code_value(PageCode::StringIn), 0, 0, 0};
  out.insert(out.end(), data.begin(), data.end());
  return detail::finish_page(std::move(out), "string");
}

// ---- 0x05 Threshold In / Out ------------------------------------------------------------------

Result<SesThresholds> parse_ses_threshold_in(Bytes page, const SesConfig& config) {
  auto view = open_with_generation(page, PageCode::ThresholdIn, "threshold in");
  if (!view) {
    return fail(view.error());
  }
  SesThresholds out;
  auto& w = out.warnings;
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  out.invop = bit(d[1], 4);
  out.generation = load_be32(d, 4);
  detail::check_generation("threshold in", out.generation, config, out.generation_mismatch, w);
  const std::size_t present = (d.size() - 8) / 4;
  const std::size_t expected = config.element_count();
  if ((d.size() - 8) % 4 != 0) {
    w.push_back("threshold in: " + std::to_string((d.size() - 8) % 4) +
                " trailing bytes do not make a whole threshold element");
  }
  for (std::size_t i = 0; i < std::min(present, expected); ++i) {
    const std::size_t at = 8 + 4 * i;
    out.thresholds.push_back(Threshold{d[at], d[at + 1], d[at + 2], d[at + 3]});
  }
  if (present < expected) {
    w.push_back("threshold in: " + std::to_string(present) +
                " threshold elements, the configuration implies " + std::to_string(expected) +
                " (page too short; elements " + std::to_string(present) + ".." +
                std::to_string(expected - 1) + " have no thresholds)");
  } else if (present > expected) {
    w.push_back("threshold in: " + std::to_string(present) +
                " threshold elements, the configuration implies " + std::to_string(expected) +
                " (extra elements ignored)");
  }
  return out;
}

namespace {
Result<std::vector<std::uint8_t>> encode_thresholds(std::uint8_t byte1, std::uint32_t generation,
                                                    std::span<const Threshold> thresholds) {
  auto out = header(PageCode::ThresholdIn, byte1, generation);
  for (const auto& t : thresholds) {
    out.insert(out.end(), {t.high_critical, t.high_warning, t.low_warning, t.low_critical});
  }
  return detail::finish_page(std::move(out), "threshold");
}
}  // namespace

Result<std::vector<std::uint8_t>> encode_ses_threshold_in(const SesThresholds& thresholds) {
  return encode_thresholds(thresholds.invop ? 0x10 : 0x00, thresholds.generation,
                           thresholds.thresholds);
}

Result<std::vector<std::uint8_t>> encode_ses_threshold_out(std::uint32_t generation,
                                                           std::span<const Threshold> thresholds) {
  return encode_thresholds(0, generation, thresholds);
}

// ---- 0x08 / 0x09 ------------------------------------------------------------------------------

Result<SesShortStatus> parse_ses_short_status(Bytes page) {
  auto view = PageView::open(page, page_code_value(PageCode::ShortEnclosureStatus),
                             "short enclosure status");
  if (!view) {
    return fail(view.error());
  }
  SesShortStatus out;
  out.status = page[1];
  if (view->declared != 4) {
    out.warnings.push_back("short enclosure status: PAGE LENGTH " +
                           std::to_string(view->declared - 4) + ", SES-4 says 0");
  }
  return out;
}

Result<SesEnclosureBusy> parse_ses_enclosure_busy(Bytes page) {
  auto view = PageView::open(page, page_code_value(PageCode::EnclosureBusy), "enclosure busy");
  if (!view) {
    return fail(view.error());
  }
  SesEnclosureBusy out;
  view->note_truncation(out.warnings);
  out.busy = bit(page[1], 0);
  out.vendor_bits = static_cast<std::uint8_t>(page[1] >> 1);
  out.vendor_specific.assign(page.begin() + 4, page.begin() + static_cast<long>(view->end));
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_enclosure_busy(const SesEnclosureBusy& busy) {
  std::vector<std::uint8_t> out{
      page_code_value(PageCode::EnclosureBusy),
      static_cast<std::uint8_t>((busy.vendor_bits << 1) | (busy.busy ? 1 : 0)), 0, 0};
  out.insert(out.end(), busy.vendor_specific.begin(), busy.vendor_specific.end());
  return detail::finish_page(std::move(out), "enclosure busy");
}

// ---- 0x0B Subenclosure Help Text / 0x0C Subenclosure String In/Out ----------------------------

Result<SesSubenclosureHelpText> parse_ses_subenclosure_help_text(Bytes page,
                                                                 const SesConfig* config) {
  const std::string what = "subenclosure help text";
  auto view = open_with_generation(page, PageCode::SubenclosureHelpText, what);
  if (!view) {
    return fail(view.error());
  }
  SesSubenclosureHelpText out;
  auto& w = out.warnings;
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  out.generation = load_be32(d, 4);
  maybe_check_generation(what, out.generation, config, out.generation_mismatch, w);
  check_subenclosure_count(what, d[1], config, w);
  bool unprintable = false;
  walk_length_records(d, what, w, [&](std::uint8_t id, Bytes text) {
    const auto clean = detail::sanitize_text(text);
    unprintable = unprintable || clean.unprintable;
    out.subenclosures.push_back(
        SubenclosureText{id, clean.text, std::vector<std::uint8_t>(text.begin(), text.end())});
  });
  if (unprintable) {
    w.push_back(what + ": non-printable bytes (shown as '.')");
  }
  if (out.subenclosures.size() != std::size_t{d[1]} + 1) {
    w.push_back(what + ": " + std::to_string(out.subenclosures.size()) +
                " records, byte 1 announces " + std::to_string(std::size_t{d[1]} + 1));
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_subenclosure_help_text(
    std::uint32_t generation, std::span<const SubenclosureText> texts) {
  auto count = secondary_count(texts.size(), "subenclosure help text");
  if (!count) {
    return fail(count.error());
  }
  auto out = header(PageCode::SubenclosureHelpText, *count, generation);
  for (const auto& t : texts) {
    std::vector<std::uint8_t> bytes = t.raw;
    if (bytes.empty()) {
      bytes.assign(t.text.begin(), t.text.end());
    }
    if (auto r = append_length_record(out, t.subenclosure, bytes); !r) {
      return fail(r.error());
    }
  }
  return detail::finish_page(std::move(out), "subenclosure help text");
}

Result<SesSubenclosureStringIn> parse_ses_subenclosure_string_in(Bytes page,
                                                                 const SesConfig* config) {
  const std::string what = "subenclosure string in";
  auto view = open_with_generation(page, PageCode::SubenclosureStringIn, what);
  if (!view) {
    return fail(view.error());
  }
  SesSubenclosureStringIn out;
  auto& w = out.warnings;
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  out.generation = load_be32(d, 4);
  maybe_check_generation(what, out.generation, config, out.generation_mismatch, w);
  check_subenclosure_count(what, d[1], config, w);
  walk_length_records(d, what, w, [&](std::uint8_t id, Bytes data) {
    out.subenclosures.push_back(
        SubenclosureData{id, std::vector<std::uint8_t>(data.begin(), data.end())});
  });
  if (out.subenclosures.size() != std::size_t{d[1]} + 1) {
    w.push_back(what + ": " + std::to_string(out.subenclosures.size()) +
                " records, byte 1 announces " + std::to_string(std::size_t{d[1]} + 1));
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_subenclosure_string_in(
    std::uint32_t generation, std::span<const SubenclosureData> strings) {
  auto count = secondary_count(strings.size(), "subenclosure string in");
  if (!count) {
    return fail(count.error());
  }
  auto out = header(PageCode::SubenclosureStringIn, *count, generation);
  for (const auto& s : strings) {
    if (auto r = append_length_record(out, s.subenclosure, s.data); !r) {
      return fail(r.error());
    }
  }
  return detail::finish_page(std::move(out), "subenclosure string in");
}

Result<std::vector<std::uint8_t>> encode_ses_subenclosure_string_out(std::uint8_t subenclosure,
                                                                     std::uint32_t generation,
                                                                     Bytes data) {
  auto out = header(PageCode::SubenclosureStringIn, subenclosure, generation);
  out.insert(out.end(), data.begin(), data.end());
  return detail::finish_page(std::move(out), "subenclosure string out");
}

// ---- 0x0E Download Microcode Status -----------------------------------------------------------

std::string microcode_status_name(std::uint8_t status) {
  static const std::map<std::uint8_t, std::string_view> kNames = {
      {0x00, "No download microcode operation in progress"},
      {0x01, "Download in progress, awaiting more"},
      {0x02, "Download complete, updating non-volatile storage"},
      {0x03, "Updating non-volatile storage with deferred microcode"},
      {0x10, "Complete, no error, starting now"},
      {0x11, "Complete, no error, start after hard reset or power cycle"},
      {0x12, "Complete, no error, start after power cycle"},
      {0x13, "Complete, no error, start after activate_mc, hard reset or power cycle"},
      {0x80, "Error, discarded, see additional status"},
      {0x81, "Error, discarded, image error"},
      {0x82, "Timeout, discarded"},
      {0x83, "Internal error, need new microcode before reset"},
      {0x84, "Internal error, need new microcode, reset safe"},
      {0x85, "Unexpected activate_mc received"},
  };
  if (const auto it = kNames.find(status); it != kNames.end()) {
    return std::string(it->second);
  }
  char buf[32];
  if ((status >= 0x70 && status <= 0x7f) || status >= 0xf0) {
    std::snprintf(buf, sizeof buf, "Vendor specific (0x%02x)", status);
  } else {
    std::snprintf(buf, sizeof buf, "<Status 0x%02x>", status);
  }
  return buf;
}

Result<SesDownloadMicrocodeStatus> parse_ses_download_microcode_status(Bytes page,
                                                                       const SesConfig* config) {
  const std::string what = "download microcode status";
  auto view = open_with_generation(page, PageCode::DownloadMicrocodeStatus, what);
  if (!view) {
    return fail(view.error());
  }
  SesDownloadMicrocodeStatus out;
  auto& w = out.warnings;
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  out.generation = load_be32(d, 4);
  maybe_check_generation(what, out.generation, config, out.generation_mismatch, w);
  check_subenclosure_count(what, d[1], config, w);
  std::size_t off = 8;
  for (; off + 16 <= d.size(); off += 16) {
    const Bytes r = d.subspan(off, 16);
    out.subenclosures.push_back(
        MicrocodeStatus{r[1], r[2], r[3], load_be32(r, 4), r[11], load_be32(r, 12)});
  }
  if (off < d.size()) {
    w.push_back(what + ": " + std::to_string(d.size() - off) +
                " trailing bytes do not make a whole 16-byte descriptor");
  }
  if (out.subenclosures.size() != std::size_t{d[1]} + 1) {
    w.push_back(what + ": " + std::to_string(out.subenclosures.size()) +
                " descriptors, byte 1 announces " + std::to_string(std::size_t{d[1]} + 1));
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_download_microcode_status(
    std::uint32_t generation, std::span<const MicrocodeStatus> statuses) {
  auto count = secondary_count(statuses.size(), "download microcode status");
  if (!count) {
    return fail(count.error());
  }
  auto out = header(PageCode::DownloadMicrocodeStatus, *count, generation);
  for (const auto& s : statuses) {
    const std::size_t at = out.size();
    out.resize(at + 16, 0);
    out[at + 1] = s.subenclosure;
    out[at + 2] = s.status;
    out[at + 3] = s.additional_status;
    store_be32(MutableBytes(out), at + 4, s.maximum_size);
    out[at + 11] = s.expected_buffer_id;
    store_be32(MutableBytes(out), at + 12, s.expected_buffer_offset);
  }
  return detail::finish_page(std::move(out), "download microcode status");
}

// ---- 0x0F Subenclosure Nickname Status / Control ----------------------------------------------

std::string language_code_string(std::uint16_t code) {
  if (code == 0) {
    return "";
  }
  const auto hi = static_cast<char>(code >> 8);
  const auto lo = static_cast<char>(code & 0xff);
  if (hi >= 0x20 && hi <= 0x7e && lo >= 0x20 && lo <= 0x7e) {
    return std::string{hi, lo};
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", code);
  return buf;
}

Result<SesNicknameStatus> parse_ses_nickname_status(Bytes page, const SesConfig* config) {
  const std::string what = "subenclosure nickname status";
  auto view = open_with_generation(page, PageCode::SubenclosureNicknameStatus, what);
  if (!view) {
    return fail(view.error());
  }
  SesNicknameStatus out;
  auto& w = out.warnings;
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  out.generation = load_be32(d, 4);
  maybe_check_generation(what, out.generation, config, out.generation_mismatch, w);
  check_subenclosure_count(what, d[1], config, w);
  std::size_t off = 8;
  bool unprintable = false;
  for (; off + 40 <= d.size(); off += 40) {
    const Bytes r = d.subspan(off, 40);
    NicknameStatus n;
    n.subenclosure = r[1];
    n.status = r[2];
    n.additional_status = r[3];
    n.language_code = load_be16(r, 6);
    n.raw_nickname.assign(r.begin() + 8, r.end());
    const auto clean = detail::sanitize_text(r.subspan(8, 32));
    n.nickname = clean.text;
    unprintable = unprintable || clean.unprintable;
    if (r[4] != 0 || r[5] != 0) {
      w.push_back(what + ": subenclosure " + std::to_string(r[1]) +
                  ": reserved bytes 4-5 are not zero (" + detail::hex8(r[4]) + " " +
                  detail::hex8(r[5]) + "); the language code is in bytes 6-7");
    }
    out.subenclosures.push_back(std::move(n));
  }
  if (off < d.size()) {
    w.push_back(what + ": " + std::to_string(d.size() - off) +
                " trailing bytes do not make a whole 40-byte descriptor");
  }
  if (unprintable) {
    w.push_back(what + ": non-printable bytes in a nickname (shown as '.')");
  }
  if (out.subenclosures.size() != std::size_t{d[1]} + 1) {
    w.push_back(what + ": " + std::to_string(out.subenclosures.size()) +
                " descriptors, byte 1 announces " + std::to_string(std::size_t{d[1]} + 1));
  }
  return out;
}

Result<std::vector<std::uint8_t>> encode_ses_nickname_status(
    std::uint32_t generation, std::span<const NicknameStatus> nicknames) {
  auto count = secondary_count(nicknames.size(), "subenclosure nickname status");
  if (!count) {
    return fail(count.error());
  }
  auto out = header(PageCode::SubenclosureNicknameStatus, *count, generation);
  for (const auto& n : nicknames) {
    if (n.raw_nickname.size() != 32 && n.nickname.size() > 32) {
      return fail_invalid("subenclosure nickname status: nickname longer than 32 bytes");
    }
    const std::size_t at = out.size();
    out.resize(at + 40, 0);
    out[at + 1] = n.subenclosure;
    out[at + 2] = n.status;
    out[at + 3] = n.additional_status;
    store_be16(MutableBytes(out), at + 6, n.language_code);
    if (n.raw_nickname.size() == 32) {
      std::copy(n.raw_nickname.begin(), n.raw_nickname.end(),
                out.begin() + static_cast<long>(at) + 8);
    } else {
      detail::put_padded(out, at + 8, 32, n.nickname);
    }
  }
  return detail::finish_page(std::move(out), "subenclosure nickname status");
}

Result<std::vector<std::uint8_t>> encode_ses_nickname_control(std::uint8_t subenclosure,
                                                              std::uint32_t generation,
                                                              std::string_view nickname) {
  if (nickname.size() > 32) {
    return fail_invalid("subenclosure nickname control: nickname longer than 32 bytes");
  }
  auto out = header(PageCode::SubenclosureNicknameStatus, subenclosure, generation);
  out.resize(8 + 32, 0);
  detail::put_padded(out, 8, 32, std::string(nickname));
  return detail::finish_page(std::move(out), "subenclosure nickname control");
}

// ---- Several pages ----------------------------------------------------------------------------

Result<SesPageList> split_diagnostic_pages(Bytes buffer) {
  if (buffer.empty()) {
    return fail_invalid("no diagnostic page: the buffer is empty");
  }
  SesPageList out;
  std::size_t off = 0;
  while (off < buffer.size()) {
    const std::size_t left = buffer.size() - off;
    if (left < 4) {
      out.warnings.push_back(std::to_string(left) + " bytes after the last page at byte " +
                             std::to_string(off) + " are not a page header (ignored)");
      break;
    }
    const std::size_t total = 4 + std::size_t{load_be16(buffer, off + 2)};
    if (total > left) {
      out.warnings.push_back("page 0x" + detail::hex8(buffer[off]) + " at byte " +
                             std::to_string(off) + " is cut: " + std::to_string(left) + " of " +
                             std::to_string(total) + " bytes");
      out.pages.push_back(buffer.subspan(off));
      break;
    }
    out.pages.push_back(buffer.subspan(off, total));
    off += total;
  }
  if (out.pages.empty()) {
    return fail_invalid("no diagnostic page: " + std::to_string(buffer.size()) +
                        " bytes are too few for a page header");
  }
  return out;
}

namespace {

template <class T>
void take(std::optional<T>& slot, Result<T> r, Bytes page, SesPageSet& set) {
  const std::string prefix = "page 0x" + detail::hex8(page[0]) + ": ";
  if (!r) {
    set.warnings.push_back(prefix + r.error().message() + " (kept raw)");
    set.other_pages.push_back(
        RawPage{page[0], std::vector<std::uint8_t>(page.begin(), page.end())});
    return;
  }
  for (const auto& w : r->warnings) {
    set.warnings.push_back(prefix + w);
  }
  if (slot) {
    set.warnings.push_back(prefix + "appears more than once; the last one is used");
  }
  slot = std::move(*r);
}

}  // namespace

Result<SesPageSet> decode_ses_pages(Bytes buffer, EiioePolicy policy) {
  auto list = split_diagnostic_pages(buffer);
  if (!list) {
    return fail(list.error());
  }
  SesPageSet set;
  for (const auto& w : list->warnings) {
    set.warnings.push_back(w);
  }
  // The configuration first: the other pages are read against it.
  for (const auto& p : list->pages) {
    if (p[0] == page_code_value(PageCode::Configuration)) {
      take(set.config, parse_ses_config(p), p, set);
    }
  }
  const SesConfig* cfg = set.config ? &*set.config : nullptr;
  for (const auto& p : list->pages) {
    const auto code = static_cast<PageCode>(p[0]);
    const bool needs_config = code == PageCode::EnclosureStatus || code == PageCode::ThresholdIn ||
                              code == PageCode::ElementDescriptor ||
                              code == PageCode::AdditionalElementStatus;
    if (needs_config && cfg == nullptr) {
      set.warnings.push_back("page 0x" + detail::hex8(p[0]) + ": " + page_name(p[0]) +
                             " needs the Configuration page, which is not in the input (kept "
                             "raw)");
      set.other_pages.push_back(RawPage{p[0], std::vector<std::uint8_t>(p.begin(), p.end())});
      continue;
    }
    switch (p[0]) {
      case 0x00:
        take(set.supported, parse_ses_supported_pages(p), p, set);
        break;
      case 0x01:
        break;  // done above
      case 0x02:
        take(set.status, parse_ses_status(p, *cfg), p, set);
        break;
      case 0x03:
        take(set.help_text, parse_ses_help_text(p), p, set);
        break;
      case 0x04:
        take(set.string_in, parse_ses_string_in(p), p, set);
        break;
      case 0x05:
        take(set.thresholds, parse_ses_threshold_in(p, *cfg), p, set);
        break;
      case 0x07:
        take(set.descriptors, parse_ses_element_descriptors(p, *cfg), p, set);
        break;
      case 0x08:
        take(set.short_status, parse_ses_short_status(p), p, set);
        break;
      case 0x09:
        take(set.busy, parse_ses_enclosure_busy(p), p, set);
        break;
      case 0x0a:
        take(set.additional, parse_ses_additional_status(p, *cfg, policy), p, set);
        break;
      case 0x0b:
        take(set.subenclosure_help_text, parse_ses_subenclosure_help_text(p, cfg), p, set);
        break;
      case 0x0c:
        take(set.subenclosure_string_in, parse_ses_subenclosure_string_in(p, cfg), p, set);
        break;
      case 0x0d:
        take(set.ses_supported, parse_ses_supported_pages(p), p, set);
        break;
      case 0x0e:
        take(set.microcode, parse_ses_download_microcode_status(p, cfg), p, set);
        break;
      case 0x0f:
        take(set.nicknames, parse_ses_nickname_status(p, cfg), p, set);
        break;
      default:
        set.other_pages.push_back(RawPage{p[0], std::vector<std::uint8_t>(p.begin(), p.end())});
        break;
    }
  }
  return set;
}

}  // namespace ucam::scsi::ses
