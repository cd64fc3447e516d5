#include "sims/emu/models/mode_sense.h"

#include <array>

#include "scsi/cdb.h"

namespace ucam::emu {

namespace {

constexpr std::uint8_t kAllPages = 0x3f;
constexpr std::uint8_t kAllSubpages = 0xff;
constexpr SenseCode kSavingParametersNotSupported{0x05, 0x39, 0x00};
constexpr std::size_t kShortDescriptorLength = 8;
constexpr std::size_t kLongDescriptorLength = 16;
// Large enough for the headers, a long descriptor and every page a model has today; pages that
// would not fit are an emulator bug caught by the check below.
constexpr std::size_t kMaxModeData = 1024;

bool selected(const ModePageValues& page, std::uint8_t code, std::uint8_t subpage) {
  if (code == kAllPages) {
    return subpage == kAllSubpages || page.subpage_code == 0;
  }
  return page.page_code == code && (subpage == kAllSubpages || page.subpage_code == subpage);
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

void execute_mode_sense(Command& command, const ModeParameters& parameters) {
  auto cdb = scsi::parse_mode_sense_cdb(command.cdb());
  if (!cdb) {
    command.check_condition(cdb.error());
    return;
  }
  if (cdb->pc == scsi::PageControl::Saved) {
    command.check_condition(kSavingParametersNotSupported,
                            scsi::CdbFieldPointer{2, std::uint8_t{7}});
    return;
  }
  bool page_known = false;
  bool any = false;
  for (const auto& page : parameters.pages) {
    page_known = page_known || cdb->page_code == kAllPages || page.page_code == cdb->page_code;
    any = any || selected(page, cdb->page_code, cdb->subpage_code);
  }
  if (!page_known) {
    command.invalid_field_in_cdb(2, 5);  // PAGE CODE, bits 5:0
    return;
  }
  if (!any) {
    command.invalid_field_in_cdb(3);  // SUBPAGE CODE
    return;
  }

  std::array<std::uint8_t, kMaxModeData> data{};
  const MutableBytes out(data);
  const std::size_t header = cdb->ten_byte ? 8 : 4;
  std::size_t length = header;
  std::size_t descriptor_length = 0;
  if (parameters.block_descriptor && cdb->dbd == scsi::BlockDescriptors::Return) {
    const auto& bd = *parameters.block_descriptor;
    if (cdb->ten_byte && cdb->llbaa == scsi::LongLba::Accepted) {
      descriptor_length = kLongDescriptorLength;
      store_be64(out, length, bd.blocks);
      store_be32(out, length + 12, bd.block_length);
      data[4] = 0x01;  // LONGLBA
    } else {
      descriptor_length = kShortDescriptorLength;
      store_be32(out, length,
                 bd.blocks > 0xffffffffULL ? 0xffffffffU : static_cast<std::uint32_t>(bd.blocks));
      store_be24(out, length + 5, bd.block_length);
    }
    length += descriptor_length;
  }
  for (const auto& page : parameters.pages) {
    if (!selected(page, cdb->page_code, cdb->subpage_code)) {
      continue;
    }
    const Bytes bytes = cdb->pc == scsi::PageControl::Changeable ? page.changeable
                        : cdb->pc == scsi::PageControl::Default  ? page.default_values
                                                                 : page.current;
    if (length + bytes.size() > data.size()) {
      break;  // FIXME: grow the buffer if a model ever has this many pages.
    }
    std::copy(bytes.begin(), bytes.end(), data.begin() + static_cast<std::ptrdiff_t>(length));
    length += bytes.size();
  }
  // MODE DATA LENGTH excludes itself. MODE SENSE(6) can describe at most 255 bytes.
  if (cdb->ten_byte) {
    store_be16(out, 0, static_cast<std::uint16_t>(length - 2));
    data[2] = parameters.medium_type;
    data[3] = parameters.device_specific;
    store_be16(out, 6, static_cast<std::uint16_t>(descriptor_length));
  } else {
    length = std::min<std::size_t>(length, 256);
    data[0] = static_cast<std::uint8_t>(length - 1);
    data[1] = parameters.medium_type;
    data[2] = parameters.device_specific;
    data[3] = static_cast<std::uint8_t>(descriptor_length);
  }
  command.complete_data_in(Bytes(data.data(), length), cdb->allocation_length);
}

}  // namespace ucam::emu
