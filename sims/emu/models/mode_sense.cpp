#include "sims/emu/models/mode_sense.h"

#include <algorithm>

#include "scsi/cdb.h"
#include "scsi/sense.h"

namespace ucam::emu {

namespace {

constexpr std::uint8_t kAllPages = 0x3f;
constexpr std::uint8_t kAllSubpages = 0xff;
constexpr std::size_t kPage0Header = 2;

// The emulated pages are all page_0 format (subpage 0).
bool selected(const ModePageValues& page, std::uint8_t code, std::uint8_t subpage) {
  const bool subpage_matches = subpage == 0 || subpage == kAllSubpages;
  return subpage_matches && (code == kAllPages || page.page_code == code);
}

}  // namespace

std::array<std::uint8_t, 12> control_mode_page(scsi::SenseFormat format) {
  std::array<std::uint8_t, 12> page{};
  page[0] = 0x0a;
  page[1] = 0x0a;
  page[2] = format == scsi::SenseFormat::Descriptor ? 0x04 : 0x00;  // D_SENSE (bit 2)
  page[3] = 0x10;  // QUEUE ALGORITHM MODIFIER = 1 (bits 7:4)
  return page;
}

void execute_mode_sense(Command& command, const ModeSenseParameters& parameters) {
  auto cdb = scsi::parse_mode_sense_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  if (cdb->pc == scsi::PageControl::Saved) {
    command.check_condition(scsi::kSavingParametersNotSupported,
                            scsi::CdbFieldPointer{2, std::uint8_t{7}});
    return;
  }
  const bool page_known =
      cdb->page_code == kAllPages ||
      std::any_of(parameters.pages.begin(), parameters.pages.end(),
                  [&](const ModePageValues& page) { return page.page_code == cdb->page_code; });
  if (!page_known) {
    command.invalid_field_in_cdb(2, 5);  // PAGE CODE, bits 5:0
    return;
  }
  if (cdb->subpage_code != 0 && cdb->subpage_code != kAllSubpages) {
    command.invalid_field_in_cdb(3);  // SUBPAGE CODE
    return;
  }

  scsi::ModeParameters data;
  data.format = cdb->ten_byte ? scsi::ModeHeaderFormat::Ten : scsi::ModeHeaderFormat::Six;
  data.medium_type = parameters.medium_type;
  data.device_specific = parameters.device_specific;
  if (parameters.block_descriptor && cdb->dbd == scsi::BlockDescriptors::Return) {
    scsi::BlockDescriptor descriptor = *parameters.block_descriptor;
    data.longlba = cdb->ten_byte && cdb->llbaa == scsi::LongLba::Accepted;
    if (!data.longlba) {
      // SBC-4 6.4.2: a count that does not fit the short descriptor reads FFFFFFFFh.
      descriptor.number_of_blocks =
          std::min<std::uint64_t>(descriptor.number_of_blocks, 0xffffffffULL);
    }
    data.block_descriptors.push_back(descriptor);
  }
  for (const auto& page : parameters.pages) {
    if (!selected(page, cdb->page_code, cdb->subpage_code)) {
      continue;
    }
    const Bytes bytes = cdb->pc == scsi::PageControl::Changeable ? page.changeable
                        : cdb->pc == scsi::PageControl::Default  ? page.default_values
                                                                 : page.current;
    scsi::ModePage out;
    out.page_code = page.page_code;
    out.data.assign(bytes.begin() + kPage0Header, bytes.end());
    data.pages.push_back(std::move(out));
  }
  auto encoded = scsi::encode_mode_sense_data(data);
  if (!encoded) {
    // Only pages too large for MODE SENSE(6) can fail; the emulated pages are small.
    command.invalid_field_in_cdb(0);
    return;
  }
  command.complete_data_in(*encoded, cdb->allocation_length);
}

}  // namespace ucam::emu
