// Asynchronous events (FreeBSD's AC_* codes). The XPT delivers them in order on its event
// thread; see xpt_periph.h for subscription.
#pragma once

#include <cstdint>
#include <string_view>

#include "cam/path.h"

namespace ucam::cam {

enum class AsyncCode : std::uint32_t {
  BusReset = 1U << 0,          // AC_BUS_RESET
  SentBdr = 1U << 1,           // AC_SENT_BDR: a bus device reset was sent to the target.
  PathRegistered = 1U << 2,    // AC_PATH_REGISTERED: a bus appeared.
  PathDeregistered = 1U << 3,  // AC_PATH_DEREGISTERED: a bus went away.
  FoundDevice = 1U << 4,       // AC_FOUND_DEVICE: a LUN was probed and entered the database.
  LostDevice = 1U << 5,        // AC_LOST_DEVICE: a LUN left the database.
  InquiryChanged = 1U << 6,    // AC_INQ_CHANGED: re-probe found different inquiry data.
  AdvinfoChanged = 1U << 7,    // AC_ADVINFO_CHANGED: an advanced-info buffer changed.
  UnitAttention = 1U << 8,     // A UNIT ATTENTION was seen (sense carried in the event).
  // Enclosure services (raised by the enc driver's daemon; `path` is the enclosure device).
  ElementStatusChanged = 1U << 9,     // An element's status code changed (element, old, new).
  EnclosureStatusChanged = 1U << 10,  // The overall enclosure status byte changed (old, new).
  SlotDeviceChanged = 1U << 11,       // The devices matched to a slot element changed (element).
  // AC_SCSI_AEN: the device's state may have changed behind its drivers' backs. Posted by
  // periph::note_passthrough() when a passthrough node (pass, sg) completed a command that
  // changes device state a driver caches (SEND DIAGNOSTIC, WRITE BUFFER); enc re-reads then.
  ScsiAen = 1U << 12,
};
constexpr AsyncCode kLastAsyncCode = AsyncCode::ScsiAen;  // The highest bit in use.

// Advanced-info buffer types (FreeBSD CDAI_TYPE_*; values kept).
enum class AdvinfoType : std::uint8_t {
  ScsiDevid = 1,  // VPD page 0x83 as fetched at probe.
  SerialNum = 2,  // VPD page 0x80 serial.
  PhysPath = 3,   // Physical path string (enclosure slot).
  Rcaplong = 4,   // READ CAPACITY (16) data.
};

struct AsyncEvent {
  AsyncCode code = AsyncCode::FoundDevice;
  Path path;
  AdvinfoType advinfo = AdvinfoType::PhysPath;    // Meaningful for AdvinfoChanged.
  std::uint8_t sense_key = 0, asc = 0, ascq = 0;  // Meaningful for UnitAttention.
  std::int32_t element = -1;  // Enclosure events: global element index (-1: the enclosure).
  std::uint8_t old_status = 0, new_status = 0;  // Enclosure events: status codes / bytes.
};

constexpr std::uint32_t operator|(AsyncCode a, AsyncCode b) {
  return static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b);
}
constexpr std::uint32_t operator|(std::uint32_t a, AsyncCode b) {
  return a | static_cast<std::uint32_t>(b);
}
constexpr std::uint32_t kAllAsyncCodes = 0xffffffffU;

std::string_view async_code_name(AsyncCode code);

}  // namespace ucam::cam
