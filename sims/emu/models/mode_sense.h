// MODE SENSE(6)/(10) for emulated devices (SPC-5 6.13, 6.14, 7.5): page and subpage selection,
// PAGE CONTROL, and the optional block descriptor; the bytes are built by scsi/mode.h. MODE
// SELECT is not emulated, so no mode parameter is changeable or saveable.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "base/bytes.h"
#include "scsi/mode.h"
#include "sims/emu/model.h"

namespace ucam::emu {

// One supported page: its bytes (2-byte page_0 header included) for each PAGE CONTROL value
// but Saved.
struct ModePageValues {
  std::uint8_t page_code = 0;
  Bytes current;
  Bytes changeable;
  Bytes default_values;
};

// What a model reports to MODE SENSE.
struct ModeSenseParameters {
  std::uint8_t medium_type = 0;
  std::uint8_t device_specific = 0;  // SBC-4 6.4.1: WP bit 7, DPOFUA bit 4.
  // Direct-access block descriptor (number of blocks, block length), when the device has one.
  std::optional<scsi::BlockDescriptor> block_descriptor;
  std::span<const ModePageValues> pages;  // Ascending page codes.
};

// Finishes `command` (a MODE SENSE(6) or (10)) from `parameters`. Errors: a bad CDB field
// (24h/00h via the decoder), PAGE CONTROL = saved values (39h/00h SAVING PARAMETERS NOT
// SUPPORTED), an unsupported page (24h/00h, field pointer byte 2) or subpage (byte 3).
void execute_mode_sense(Command& command, const ModeSenseParameters& parameters);

// SPC-5 7.5.10 Control mode page (0x0a), 12 bytes: D_SENSE from `format`, otherwise zeros but
// the QUEUE ALGORITHM MODIFIER (1: unrestricted reordering).
std::array<std::uint8_t, 12> control_mode_page(scsi::SenseFormat format);

}  // namespace ucam::emu
