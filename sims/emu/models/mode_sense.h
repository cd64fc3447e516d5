// MODE SENSE(6)/(10) for emulated devices (SPC-5 6.13, 6.14, 7.5): header, optional block
// descriptor and the pages a model supports, with the PAGE CONTROL and page/subpage selection
// rules. MODE SELECT is not emulated, so no mode parameter is changeable or saveable.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "base/bytes.h"
#include "sims/emu/model.h"

namespace ucam::emu {

// One supported page: its bytes (header included) for each PAGE CONTROL value but Saved.
struct ModePageValues {
  std::uint8_t page_code = 0;
  std::uint8_t subpage_code = 0;
  Bytes current;
  Bytes changeable;
  Bytes default_values;
};

// SBC-4 6.4.2 / 6.4.3: short (8-byte) and long (16-byte) LBA block descriptors.
struct BlockDescriptor {
  std::uint64_t blocks = 0;
  std::uint32_t block_length = 0;
};

struct ModeParameters {
  std::uint8_t medium_type = 0;
  std::uint8_t device_specific = 0;  // SBC-4 6.4.1: WP bit 7, DPOFUA bit 4.
  std::optional<BlockDescriptor> block_descriptor;
  std::span<const ModePageValues> pages;
};

// Finishes `command` (a MODE SENSE(6) or (10)) from `parameters`. Errors: a bad CDB field
// (24h/00h via the decoder), PAGE CONTROL = saved values (39h/00h SAVING PARAMETERS NOT
// SUPPORTED), an unsupported page (24h/00h, field pointer byte 2) or subpage (byte 3).
void execute_mode_sense(Command& command, const ModeParameters& parameters);

// SPC-5 7.5.10 Control mode page (0x0a), 12 bytes: D_SENSE from `format`, otherwise zeros but
// the QUEUE ALGORITHM MODIFIER (1: unrestricted reordering).
std::array<std::uint8_t, 12> control_mode_page(scsi::SenseFormat format);

}  // namespace ucam::emu
