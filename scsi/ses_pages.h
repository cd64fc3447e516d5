// SES-4 diagnostic pages beyond the core model (ses.h): Supported pages (0x00, 0x0D), Help
// Text (0x03), String In/Out (0x04), Threshold In/Out (0x05), Short Enclosure Status (0x08),
// Enclosure Busy (0x09), Subenclosure Help Text (0x0B), Subenclosure String In/Out (0x0C),
// Download Microcode Status (0x0E) and Subenclosure Nickname Status/Control (0x0F); plus the
// splitter for back-to-back pages and the decoder of a whole set of pages (what
// `sg_ses --page=all -HHHH` captures and `ucamctl enc decode` reads).
//
// Same rules as ses.h: pure, one page per `Bytes`, `Result<T>` failing only on a wrong page
// code or a missing header, everything else reported in `warnings`. Pages that carry a
// generation code are checked against the configuration when one is given.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/ses.h"

namespace ucam::scsi::ses {

// ---- 0x00 Supported Diagnostic Pages (SPC-5 7.3.2) / 0x0D Supported SES Pages (SES-4 6.1.16) --

struct SesSupportedPages {
  std::uint8_t page_code = 0;  // 0x00 or 0x0d
  std::vector<std::uint8_t> pages;
  std::vector<std::string> warnings;  // not ascending, duplicates, page cut
};
Result<SesSupportedPages> parse_ses_supported_pages(Bytes page);
// page_code 0x00 or 0x0d.
Result<std::vector<std::uint8_t>> encode_ses_supported_pages(std::uint8_t page_code,
                                                             std::span<const std::uint8_t> pages);

// ---- 0x03 Help Text (SES-4 6.1.5) -------------------------------------------------------------

struct SesHelpText {
  std::string text;  // sanitised (see SesElementDescriptors), trailing spaces trimmed
  std::vector<std::uint8_t> raw;
  std::vector<std::string> warnings;
};
Result<SesHelpText> parse_ses_help_text(Bytes page);
Result<std::vector<std::uint8_t>> encode_ses_help_text(std::string_view text);

// ---- 0x04 String In / String Out (SES-4 6.1.6, 6.1.7): vendor-specific bytes -----------------

struct SesStringIn {
  std::vector<std::uint8_t> data;
  std::vector<std::string> warnings;
};
Result<SesStringIn> parse_ses_string_in(Bytes page);
// The same layout serves String In (emulator) and String Out (SEND DIAGNOSTIC).
Result<std::vector<std::uint8_t>> encode_ses_string(Bytes data);

// ---- 0x05 Threshold In / Threshold Out (SES-4 6.1.8, 6.1.9) ----------------------------------

// One threshold element: HIGH CRITICAL, HIGH WARNING, LOW WARNING, LOW CRITICAL (bytes 0-3).
// Units follow the element type: temperature as in the status element (value - 20 C, 0
// reserved), voltage and current in 0.5 % of nominal, UPS in minutes.
struct Threshold {
  std::uint8_t high_critical = 0;
  std::uint8_t high_warning = 0;
  std::uint8_t low_warning = 0;
  std::uint8_t low_critical = 0;
  friend bool operator==(const Threshold&, const Threshold&) = default;
};
struct SesThresholds {
  std::uint32_t generation = 0;
  bool invop = false;  // Threshold In byte 1 bit 4: the last Threshold Out was invalid
  std::vector<Threshold> thresholds;  // by global index; fewer when the page was short
  bool generation_mismatch = false;
  std::vector<std::string> warnings;
};
// Warns like parse_ses_status (short or long page, generation mismatch).
Result<SesThresholds> parse_ses_threshold_in(Bytes page, const SesConfig& config);
// Threshold In as an enclosure returns it (byte 1 = INVOP).
Result<std::vector<std::uint8_t>> encode_ses_threshold_in(const SesThresholds& thresholds);
// Threshold Out: byte 1 reserved, the generation code the caller read, one element each.
Result<std::vector<std::uint8_t>> encode_ses_threshold_out(std::uint32_t generation,
                                                           std::span<const Threshold> thresholds);

// ---- 0x08 Short Enclosure Status (SES-4 6.1.11) -----------------------------------------------

struct SesShortStatus {
  std::uint8_t status = 0;  // byte 1, vendor specific
  std::vector<std::string> warnings;
};
Result<SesShortStatus> parse_ses_short_status(Bytes page);
// encode_ses_short_status() is in ses.h.

// ---- 0x09 Enclosure Busy (SES-4 6.1.12) -------------------------------------------------------

struct SesEnclosureBusy {
  bool busy = false;                          // byte 1 bit 0
  std::uint8_t vendor_bits = 0;               // byte 1 bits 7-1
  std::vector<std::uint8_t> vendor_specific;  // bytes 4..
  std::vector<std::string> warnings;
};
Result<SesEnclosureBusy> parse_ses_enclosure_busy(Bytes page);
Result<std::vector<std::uint8_t>> encode_ses_enclosure_busy(const SesEnclosureBusy& busy);

// ---- Per-subenclosure pages: 0x0B, 0x0C, 0x0E, 0x0F -------------------------------------------
// Byte 1 is NUMBER OF SECONDARY SUBENCLOSURES; with a configuration given it is checked against
// the configuration's, and so is the generation code.

struct SubenclosureText {
  std::uint8_t subenclosure = 0;
  std::string text;  // sanitised
  std::vector<std::uint8_t> raw;
  friend bool operator==(const SubenclosureText&, const SubenclosureText&) = default;
};
// SES-4 6.1.14 Subenclosure Help Text.
struct SesSubenclosureHelpText {
  std::uint32_t generation = 0;
  std::vector<SubenclosureText> subenclosures;
  bool generation_mismatch = false;
  std::vector<std::string> warnings;
};
Result<SesSubenclosureHelpText> parse_ses_subenclosure_help_text(Bytes page,
                                                                 const SesConfig* config = nullptr);
Result<std::vector<std::uint8_t>> encode_ses_subenclosure_help_text(
    std::uint32_t generation, std::span<const SubenclosureText> texts);

struct SubenclosureData {
  std::uint8_t subenclosure = 0;
  std::vector<std::uint8_t> data;
  friend bool operator==(const SubenclosureData&, const SubenclosureData&) = default;
};
// SES-4 6.1.15 Subenclosure String In.
struct SesSubenclosureStringIn {
  std::uint32_t generation = 0;
  std::vector<SubenclosureData> subenclosures;
  bool generation_mismatch = false;
  std::vector<std::string> warnings;
};
Result<SesSubenclosureStringIn> parse_ses_subenclosure_string_in(Bytes page,
                                                                 const SesConfig* config = nullptr);
Result<std::vector<std::uint8_t>> encode_ses_subenclosure_string_in(
    std::uint32_t generation, std::span<const SubenclosureData> strings);
// SES-4 6.1.15 Subenclosure String Out: byte 1 = SUBENCLOSURE IDENTIFIER, generation, data.
Result<std::vector<std::uint8_t>> encode_ses_subenclosure_string_out(std::uint8_t subenclosure,
                                                                     std::uint32_t generation,
                                                                     Bytes data);

// SES-4 6.1.17 Download Microcode Status descriptor (16 bytes).
struct MicrocodeStatus {
  std::uint8_t subenclosure = 0;
  std::uint8_t status = 0;  // SUBENCLOSURE DOWNLOAD MICROCODE STATUS
  std::uint8_t additional_status = 0;
  std::uint32_t maximum_size = 0;  // bytes
  std::uint8_t expected_buffer_id = 0;
  std::uint32_t expected_buffer_offset = 0;
  friend bool operator==(const MicrocodeStatus&, const MicrocodeStatus&) = default;
};
struct SesDownloadMicrocodeStatus {
  std::uint32_t generation = 0;
  std::vector<MicrocodeStatus> subenclosures;
  bool generation_mismatch = false;
  std::vector<std::string> warnings;
};
Result<SesDownloadMicrocodeStatus> parse_ses_download_microcode_status(
    Bytes page, const SesConfig* config = nullptr);
Result<std::vector<std::uint8_t>> encode_ses_download_microcode_status(
    std::uint32_t generation, std::span<const MicrocodeStatus> statuses);
// "No download microcode operation in progress", ...; "Vendor specific (0xNN)",
// "<Status 0xNN>".
std::string microcode_status_name(std::uint8_t status);

// SES-4 6.1.18 Subenclosure Nickname Status descriptor (40 bytes): byte 1 SUBENCLOSURE
// IDENTIFIER, byte 2 NICKNAME STATUS, byte 3 NICKNAME ADDITIONAL STATUS, bytes 4-5 reserved,
// bytes 6-7 NICKNAME LANGUAGE CODE, bytes 8-39 SUBENCLOSURE NICKNAME.
struct NicknameStatus {
  std::uint8_t subenclosure = 0;
  std::uint8_t status = 0;
  std::uint8_t additional_status = 0;
  std::uint16_t language_code = 0;         // two ISO 639 letters, e.g. 0x656e "en"; 0 = none
  std::string nickname;                    // sanitised, trailing spaces trimmed
  std::vector<std::uint8_t> raw_nickname;  // the 32 bytes as received
  friend bool operator==(const NicknameStatus&, const NicknameStatus&) = default;
};
struct SesNicknameStatus {
  std::uint32_t generation = 0;
  std::vector<NicknameStatus> subenclosures;
  bool generation_mismatch = false;
  std::vector<std::string> warnings;  // includes non-zero reserved bytes 4-5
};
Result<SesNicknameStatus> parse_ses_nickname_status(Bytes page, const SesConfig* config = nullptr);
// Uses raw_nickname when it holds 32 bytes, else the nickname space padded.
Result<std::vector<std::uint8_t>> encode_ses_nickname_status(
    std::uint32_t generation, std::span<const NicknameStatus> nicknames);
// SES-4 6.1.18 Subenclosure Nickname Control: byte 1 = SUBENCLOSURE IDENTIFIER, the
// generation code, a 32-byte nickname (space padded; longer fails).
Result<std::vector<std::uint8_t>> encode_ses_nickname_control(std::uint8_t subenclosure,
                                                              std::uint32_t generation,
                                                              std::string_view nickname);
// "en" for 0x656e, "" for 0, else four hex digits.
std::string language_code_string(std::uint16_t code);

// ---- Several pages ----------------------------------------------------------------------------

// Back-to-back pages split by PAGE LENGTH (the layout sg_ses --inhex reads). Lenient: a last
// page cut short is kept (as far as it goes) with a warning, and fewer than 4 trailing bytes
// are reported and dropped. Fails only on an empty buffer. (diag.h's split_diag_pages is the
// strict variant.)
struct SesPageList {
  std::vector<Bytes> pages;  // views into the buffer: valid while it is
  std::vector<std::string> warnings;
};
Result<SesPageList> split_diagnostic_pages(Bytes buffer);

struct RawPage {
  std::uint8_t page_code = 0;
  std::vector<std::uint8_t> bytes;  // the whole page, header included
};

// Every page of a capture, decoded. Pages that depend on the configuration (0x02, 0x05, 0x07,
// 0x0A) are decoded only when a Configuration page is present (anywhere in the buffer);
// otherwise they are kept raw with a warning.
struct SesPageSet {
  std::optional<SesSupportedPages> supported;        // 0x00
  std::optional<SesConfig> config;                   // 0x01
  std::optional<SesStatus> status;                   // 0x02 (or a 0x08 answer standing in for it)
  std::optional<SesHelpText> help_text;              // 0x03
  std::optional<SesStringIn> string_in;              // 0x04
  std::optional<SesThresholds> thresholds;           // 0x05
  std::optional<SesElementDescriptors> descriptors;  // 0x07
  std::optional<SesShortStatus> short_status;        // 0x08
  std::optional<SesEnclosureBusy> busy;              // 0x09
  std::optional<SesAdditionalStatus> additional;     // 0x0A
  std::optional<SesSubenclosureHelpText> subenclosure_help_text;  // 0x0B
  std::optional<SesSubenclosureStringIn> subenclosure_string_in;  // 0x0C
  std::optional<SesSupportedPages> ses_supported;                 // 0x0D
  std::optional<SesDownloadMicrocodeStatus> microcode;            // 0x0E
  std::optional<SesNicknameStatus> nicknames;                     // 0x0F
  // Vendor-specific, obsolete and unknown pages, and pages that failed to decode (their error
  // is in warnings), in buffer order.
  std::vector<RawPage> other_pages;
  // Every page's warnings, each prefixed with the page ("page 0x02: ..."), then cross-page
  // ones (duplicates, pages needing a configuration).
  std::vector<std::string> warnings;
};
// Fails only when the buffer holds no page at all.
Result<SesPageSet> decode_ses_pages(Bytes buffer, EiioePolicy policy = EiioePolicy::AsReported);

}  // namespace ucam::scsi::ses
