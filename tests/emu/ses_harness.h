// Helpers for the enclosure model tests: RECEIVE DIAGNOSTIC RESULTS / SEND DIAGNOSTIC through
// the emulator, and the pages decoded with ucam's SES decoders.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "scsi/cdb.h"
#include "scsi/ses.h"
#include "scsi/ses_element.h"
#include "scsi/ses_pages.h"
#include "scsi/vpd.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {

inline Reply receive_page(Harness& h, const LunAddress& at, std::uint8_t page,
                          std::uint16_t allocation = 0xffff) {
  return h.read(at, scsi::receive_diagnostic_results(scsi::PageCodeValid::Yes, page, allocation),
                allocation);
}

// The page's bytes, or an empty vector (with a test failure) when the command failed.
inline std::vector<std::uint8_t> page_bytes(Harness& h, const LunAddress& at, std::uint8_t page) {
  const Reply r = receive_page(h, at, page);
  EXPECT_TRUE(r.good()) << "page 0x" << std::hex << int{page} << ": status "
                        << static_cast<int>(r.status) << " sense " << int{r.sense_code().key} << "/"
                        << int{r.sense_code().asc} << "/" << int{r.sense_code().ascq};
  return r.good() ? r.data : std::vector<std::uint8_t>{};
}

inline Reply send_page(Harness& h, const LunAddress& at, std::vector<std::uint8_t> page) {
  const auto length = static_cast<std::uint16_t>(page.size());
  return h.write(at, scsi::send_diagnostic(scsi::PageFormat::Standard, scsi::SelfTest::No, length),
                 std::move(page));
}

inline scsi::ses::SesConfig read_config(Harness& h, const LunAddress& at) {
  auto config = scsi::ses::parse_ses_config(page_bytes(h, at, 0x01));
  EXPECT_TRUE(config) << (config ? "" : config.error().message());
  if (config) {
    EXPECT_TRUE(config->warnings.empty()) << config->warnings.front();
  }
  return config ? *config : scsi::ses::SesConfig{};
}

inline scsi::ses::SesStatus read_status(Harness& h, const LunAddress& at,
                                        const scsi::ses::SesConfig& config) {
  auto status = scsi::ses::parse_ses_status(page_bytes(h, at, 0x02), config);
  EXPECT_TRUE(status) << (status ? "" : status.error().message());
  if (status) {
    EXPECT_TRUE(status->warnings.empty()) << status->warnings.front();
  }
  return status ? *status : scsi::ses::SesStatus{};
}

inline scsi::ses::SesAdditionalStatus read_additional(Harness& h, const LunAddress& at,
                                                      const scsi::ses::SesConfig& config) {
  auto aes = scsi::ses::parse_ses_additional_status(page_bytes(h, at, 0x0a), config);
  EXPECT_TRUE(aes) << (aes ? "" : aes.error().message());
  if (aes) {
    EXPECT_TRUE(aes->warnings.empty()) << aes->warnings.front();
  }
  return aes ? *aes : scsi::ses::SesAdditionalStatus{};
}

// The global index of individual element `index` of `type` (-1 for the overall element of the
// first header of that type), or -1.
inline int global_index(const scsi::ses::SesConfig& config, scsi::ses::ElementType type,
                        int index) {
  int seen = 0;
  for (const auto& ref : scsi::ses::build_element_map(config)) {
    if (ref.element_type != scsi::ses::type_value(type)) {
      continue;
    }
    if (index < 0 && ref.overall()) {
      return ref.global_index;
    }
    if (!ref.overall() && seen++ == index) {
      return ref.global_index;
    }
  }
  return -1;
}

// Enclosure Control page from the current status: `changes` applied with SELECT.
inline std::vector<std::uint8_t> control_page(const scsi::ses::SesStatus& status,
                                              std::vector<scsi::ses::ElementChange> changes,
                                              std::uint8_t flags = 0) {
  auto page = scsi::ses::encode_ses_control(status, status.generation, flags, changes);
  EXPECT_TRUE(page) << (page ? "" : page.error().message());
  return page ? *page : std::vector<std::uint8_t>{};
}

// The VPD 0x83 target port NAA designator of a LUN, read through the emulator.
inline std::uint64_t target_port_address(Harness& h, const LunAddress& at) {
  const Reply r = h.read(at, scsi::inquiry(scsi::InquiryData::VpdPage, 0x83, 1024), 1024);
  EXPECT_TRUE(r.good());
  auto designators = scsi::parse_device_identification(r.data);
  EXPECT_TRUE(designators);
  if (designators) {
    for (const auto& d : *designators) {
      if (d.association == scsi::Association::TargetPort && d.type == scsi::DesignatorType::Naa &&
          d.identifier.size() == 8) {
        return load_be64(d.identifier, 0);
      }
    }
  }
  return 0;
}

// The first NAA designator of the logical unit in VPD 0x83 (what FreeBSD uses as enclosure
// id), or 0.
inline std::uint64_t lu_naa(Harness& h, const LunAddress& at) {
  const Reply r = h.read(at, scsi::inquiry(scsi::InquiryData::VpdPage, 0x83, 1024), 1024);
  EXPECT_TRUE(r.good());
  auto designators = scsi::parse_device_identification(r.data);
  EXPECT_TRUE(designators);
  if (designators) {
    for (const auto& d : *designators) {
      if (d.association == scsi::Association::LogicalUnit && d.type == scsi::DesignatorType::Naa &&
          d.identifier.size() >= 8) {
        return load_be64(d.identifier, 0);
      }
    }
  }
  return 0;
}

// Diagnostic pages back to back in a temporary file, 16 bytes per line (the sg3_utils hex
// format `sg_ses --inhex` reads; its line buffer is short, so no single long line).
class HexPagesFile {
 public:
  explicit HexPagesFile(const std::vector<std::vector<std::uint8_t>>& pages) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucam-ses-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    EXPECT_GE(fd, 0);
    if (fd >= 0) {
      ::close(fd);
    }
    m_path = tmpl;
    std::ofstream out(m_path);
    for (const auto& page : pages) {
      for (std::size_t i = 0; i < page.size(); ++i) {
        out << fmt::format("{:02x}{}", page[i], i % 16 == 15 || i + 1 == page.size() ? "\n" : " ");
      }
    }
  }
  ~HexPagesFile() { ::unlink(m_path.c_str()); }
  HexPagesFile(const HexPagesFile&) = delete;
  HexPagesFile& operator=(const HexPagesFile&) = delete;
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
};

}  // namespace ucam::emu::testing
