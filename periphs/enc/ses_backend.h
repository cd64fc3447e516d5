// The SES backend of the enclosure driver (FreeBSD scsi_enc_ses.c): diagnostic pages through
// RECEIVE DIAGNOSTIC RESULTS / SEND DIAGNOSTIC. Internal to periphs/enc.
//
// Reads in FreeBSD's order: supported pages (0x00), configuration (0x01), status (0x02),
// element descriptors (0x07) and additional element status (0x0a) when the enclosure has them.
// A generation code that moved sends it back to the configuration. Joins the driver's
// PathRegistry under the enclosure's logical id, so that the SES devices of one enclosure are
// peers, and publishes each slot's physical path for the disks whose SAS address it reports.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "periphs/enc/backend.h"
#include "scsi/ses.h"

namespace ucam::enc {

// Peripheral device type 0x0D (enclosure services device).
bool ses_matches(const cam::DeviceInfo& device);

class SesBackend final : public Backend {
 public:
  explicit SesBackend(const EncOptions& options) : m_search_globally(options.search_globally) {}

  std::uint32_t first_actions() const override { return kPages; }
  std::uint32_t poll_actions() const override { return m_poll_actions.load(); }
  void run(EncSoftc& sc, std::uint32_t action) override;

 private:
  enum class Origin : std::uint8_t { Own, Peer };  // Who asked for a status read.

  void step_pages(EncSoftc& sc);
  void step_config(EncSoftc& sc);
  void step_status(EncSoftc& sc, Origin origin);
  void step_descriptors(EncSoftc& sc);
  void step_additional(EncSoftc& sc);
  void step_control(EncSoftc& sc);
  void step_physpaths(EncSoftc& sc);
  // Reads `page` and parses it; a failure becomes a warning naming `what`.
  template <class Parse>
  auto fetch_page(EncSoftc& sc, std::uint8_t page, std::string_view what, Parse parse)
      -> std::optional<typename std::invoke_result_t<Parse, Bytes>::value_type>;

  const bool m_search_globally;  // Match disks on every bus, not only the enclosure's.
  // kStatus plus kDescriptors / kAdditional when the enclosure lists those pages. Written by
  // the daemon (supported pages), read by any thread (poll_actions()).
  std::atomic<std::uint32_t> m_poll_actions{kStatus};

  // Daemon-only state.
  std::optional<scsi::ses::SesConfig> m_config;
  std::vector<scsi::ses::ElementRef> m_map;
  std::optional<scsi::ses::SesStatus> m_status;
  std::uint64_t m_own_id = 0;  // This SES device's NAA (FreeBSD's enclosure id).
  // What a refresh need not redo (each cleared by a new configuration):
  // - The generation code the element descriptors (page 0x07) were last read for. They are
  //   configuration data: the text naming each element, fixed until the generation code moves,
  //   and a status page that reports a moved generation code sends us back to the
  //   configuration, which clears this. So a poll reads page 0x07 once per configuration.
  //   (FIXME: an enclosure that renames elements without moving its generation code shows the
  //   old names until its next configuration change; FreeBSD re-reads the page every poll.)
  std::optional<std::uint32_t> m_descriptors_generation;
  // The last Additional Element Status page applied, byte for byte, and its parser's warnings:
  // the same bytes on the same configuration decode to the same thing, so they are not decoded
  // again.
  std::optional<std::vector<std::uint8_t>> m_additional_page;
  std::vector<std::string> m_additional_warnings;
  // The XPT device generation (XptPeriph::device_generation()) the slots were last matched to
  // disks and their physical paths published at; nullopt when something they depend on
  // changed since (configuration, SAS addresses, descriptors; the enclosure id is compared
  // in step_physpaths). With nothing changed, the match would find the same disks and the
  // registry would store the same strings: both are skipped.
  std::optional<std::uint64_t> m_matched_at;
  // The daemon's buffer, reused for every RECEIVE DIAGNOSTIC RESULTS it sends.
  std::vector<std::uint8_t> m_buffer;
};

}  // namespace ucam::enc
