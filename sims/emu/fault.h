// Run-time fault injection for emulated logical units (see Emulator::inject).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "base/result.h"
#include "cam/ccb.h"

namespace ucam::emu {

// Addresses one scenario LUN: the scenario bus number (index in "buses", not the XPT path id),
// the target id and the LUN.
struct LunAddress {
  std::uint32_t bus = 0;
  std::uint32_t target = 0;
  std::uint64_t lun = 0;
  friend bool operator==(const LunAddress&, const LunAddress&) = default;
};

// A fault armed on one LUN. It applies to the next `count` commands sent to that LUN (only
// those with operation code `opcode` when set), then disarms itself. Faults armed on one LUN
// are matched in arming order; a command consumes at most one fault.
struct Fault {
  enum class Action : std::uint8_t {
    CheckCondition,  // CHECK CONDITION with `sense` (autosense in the LU's format).
    ScsiStatus,      // `scsi_status` (BUSY, TASK SET FULL, RESERVATION CONFLICT) without sense.
    TransportError,  // `cam_status` (CmdTimeout, UnexpBusfree, Requeue...): the HBA's outcome.
    Delay,           // Executed at once, completed `delay` later by the emulator's worker.
    Hang,            // Never executed or completed; held until Sim::abort() or removal.
  };
  static constexpr std::uint32_t kEveryCommand = 0xffffffffU;  // `count` that never runs out.

  Action action = Action::CheckCondition;
  std::uint32_t count = 1;
  std::optional<std::uint8_t> opcode;
  SenseCode sense{};
  cam::ScsiStatus scsi_status = cam::ScsiStatus::Busy;
  CamStatus cam_status = CamStatus::CmdTimeout;
  std::chrono::microseconds delay{0};

  static Fault check_condition(SenseCode sense, std::uint32_t count = 1,
                               std::optional<std::uint8_t> opcode = std::nullopt) {
    Fault f;
    f.action = Action::CheckCondition;
    f.sense = sense;
    f.count = count;
    f.opcode = opcode;
    return f;
  }
  static Fault status(cam::ScsiStatus status, std::uint32_t count = 1,
                      std::optional<std::uint8_t> opcode = std::nullopt) {
    Fault f;
    f.action = Action::ScsiStatus;
    f.scsi_status = status;
    f.count = count;
    f.opcode = opcode;
    return f;
  }
  static Fault transport_error(CamStatus status, std::uint32_t count = 1,
                               std::optional<std::uint8_t> opcode = std::nullopt) {
    Fault f;
    f.action = Action::TransportError;
    f.cam_status = status;
    f.count = count;
    f.opcode = opcode;
    return f;
  }
  static Fault delayed(std::chrono::microseconds delay, std::uint32_t count = 1,
                       std::optional<std::uint8_t> opcode = std::nullopt) {
    Fault f;
    f.action = Action::Delay;
    f.delay = delay;
    f.count = count;
    f.opcode = opcode;
    return f;
  }
  static Fault hang(std::uint32_t count = 1, std::optional<std::uint8_t> opcode = std::nullopt) {
    Fault f;
    f.action = Action::Hang;
    f.count = count;
    f.opcode = opcode;
    return f;
  }
};

}  // namespace ucam::emu
