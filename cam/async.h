// Asynchronous events (FreeBSD's AC_* codes). The XPT delivers them in order on its event
// thread; see xpt_periph.h for subscription.
#pragma once

#include <cstdint>
#include <memory>
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
  // These are subscription bits only: what changed (element, old and new status) is the enc
  // driver's payload, enc::ElementEvent (periphs/enc/enc.h), not a field of AsyncEvent.
  ElementStatusChanged = 1U << 9,     // An element's status code changed.
  EnclosureStatusChanged = 1U << 10,  // The overall enclosure status byte changed.
  SlotDeviceChanged = 1U << 11,       // The devices matched to a slot element changed.
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

// What a peripheral driver attaches to an event it raises (FreeBSD's async_arg), defined by
// that driver: the XPT carries it without knowing its type, so a new driver does not widen
// AsyncEvent. Immutable once posted; every subscriber sees the same object.
struct AsyncPayload {
  virtual ~AsyncPayload() = default;
};

struct AsyncEvent {
  AsyncCode code = AsyncCode::FoundDevice;
  Path path;
  AdvinfoType advinfo = AdvinfoType::PhysPath;    // Meaningful for AdvinfoChanged.
  std::uint8_t sense_key = 0, asc = 0, ascq = 0;  // Meaningful for UnitAttention.
  // The raising driver's data (null for the XPT's own events). Copying an event copies the
  // pointer, never the payload, so posting and delivering stay non-blocking.
  std::shared_ptr<const AsyncPayload> payload = nullptr;

  // The payload as the type `T` a subscriber knows, or nullptr when there is none or it is of
  // another type (another driver's).
  template <class T>
  const T* payload_as() const {
    return dynamic_cast<const T*>(payload.get());
  }
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
