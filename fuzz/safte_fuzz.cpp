// libFuzzer target for the SAF-TE codecs (scsi/safte.h). The first seven input bytes are read as
// a Read Enclosure Configuration buffer (buffer 00h) and the rest, against that configuration,
// as each READ BUFFER reply a SAF-TE processor sends (status 01h, usage 02h, insertions 03h,
// slot status 04h, global flags 05h); the whole input is also tried as a WRITE BUFFER parameter
// list, as the two CDBs and as INQUIRY data. What decodes is encoded again and must decode to
// the same value. When every buffer decodes, the snapshot is mapped to SES elements and a
// control element taken from the input is turned into write commands.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "scsi/safte.h"

namespace safte = ucam::scsi::safte;

namespace {

using ucam::fuzz::check;

constexpr std::size_t kConfigBytes = 7;

std::optional<safte::EnclosureStatus> fuzz_status(ucam::Bytes data, const safte::Config& config) {
  auto status = safte::parse_enclosure_status(data, config);
  if (!status) {
    return std::nullopt;
  }
  auto again = safte::encode_enclosure_status(*status, config);
  check(again.has_value());
  auto back = safte::parse_enclosure_status(*again, config);
  check(back.has_value() && *back == *status);
  return *status;
}

std::optional<std::vector<safte::SlotStatus>> fuzz_slots(ucam::Bytes data,
                                                         const safte::Config& config) {
  auto slots = safte::parse_slot_status(data, config);
  if (!slots) {
    return std::nullopt;
  }
  auto again = safte::encode_slot_status(*slots, config);
  check(again.has_value());
  auto back = safte::parse_slot_status(*again, config);
  check(back.has_value() && *back == *slots);
  return *slots;
}

void fuzz_buffers(ucam::Bytes input) {
  auto config = safte::parse_config(input.first(std::min(input.size(), kConfigBytes)));
  if (!config) {
    return;
  }
  auto encoded = safte::encode_config(*config);
  check(encoded.has_value());
  check(safte::parse_config(*encoded) == *config);
  for (std::uint8_t b = 0; b <= safte::kLastBuffer; ++b) {
    (void)safte::buffer_length(static_cast<safte::Buffer>(b), *config);
  }

  const ucam::Bytes rest = input.subspan(std::min(input.size(), kConfigBytes));
  const auto status = fuzz_status(rest, *config);
  const auto slots = fuzz_slots(rest, *config);
  if (auto usage = safte::parse_usage_statistics(rest)) {
    check(safte::parse_usage_statistics(safte::encode_usage_statistics(*usage)) == *usage);
  }
  if (auto insertions = safte::parse_device_insertions(rest, *config)) {
    auto again = safte::encode_device_insertions(*insertions, *config);
    check(again.has_value() && safte::parse_device_insertions(*again, *config) == *insertions);
  }
  const auto flags = safte::parse_global_flags(rest);
  if (flags) {
    check(safte::parse_global_flags(safte::encode_global_flags(*flags)) == *flags);
  }
  if (!status || !slots || !flags) {
    return;
  }

  safte::Snapshot snapshot;
  snapshot.config = *config;
  snapshot.status = *status;
  snapshot.slots = *slots;
  snapshot.flags = *flags;
  snapshot.slot_identify.assign(slots->size(), false);
  snapshot.fan_speeds.assign(status->fans.size(), 0);
  for (const auto kind : {safte::SlotElements::ArrayDeviceSlot, safte::SlotElements::DeviceSlot}) {
    auto view = safte::ses_view(snapshot, kind);
    if (!view || rest.size() < 5) {
      continue;
    }
    // The last five bytes: which element (or past the end), and its control bytes.
    const ucam::Bytes tail = rest.last(5);
    const ucam::scsi::ses::ElementBytes control{tail[1], tail[2], tail[3], tail[4]};
    (void)safte::control_commands(snapshot, kind, tail[0], control);
    (void)safte::enclosure_control_command(snapshot, tail[1]);
  }
}

void fuzz_write(ucam::Bytes input) {
  if (auto command = safte::parse_write_command(input)) {
    (void)safte::command_code(*command);
    auto again = safte::encode_write_command(*command);
    check(again.has_value());
    auto back = safte::parse_write_command(*again);
    check(back.has_value() && *back == *command);
  }
  if (auto cdb = safte::parse_read_cdb(input)) {
    (void)safte::buffer_name(static_cast<std::uint8_t>(cdb->buffer));
  }
  (void)safte::parse_write_cdb(input);
  (void)safte::is_safte_inquiry(input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  fuzz_buffers(input);
  fuzz_write(input);
  return 0;
}
