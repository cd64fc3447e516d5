// The CAM Control Block: one request, from a peripheral driver through the XPT to a SIM and
// back. FreeBSD cam_ccb.h, reduced to what ucam's transports need.
//
// Ownership: the submitter owns the CCB's memory and must keep it alive until its completion
// callback has run (or `Xpt::run_sync` has returned). The XPT and the SIM only borrow it between
// `action()` and completion. After completion nobody but the submitter touches it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

#include "base/result.h"
#include "cam/path.h"

namespace ucam::cam {

// XPT function codes (FreeBSD xpt_opcode, the subset ucam routes).
enum class FuncCode : std::uint8_t {
  ScsiIo,    // XPT_SCSI_IO: execute the CDB.
  ResetDev,  // XPT_RESET_DEV: bus device reset for the path's target.
  ResetBus,  // XPT_RESET_BUS.
  Noop,      // XPT_NOOP: completes immediately with ReqCmp (used to test queues).
};

enum class DataDir : std::uint8_t { None, In, Out };

// Error-recovery policy the XPT applies before the callback runs (cam_periph_error's role).
enum class Recovery : std::uint8_t {
  None,      // Complete with whatever the SIM said (pass without CAM_PASS_ERR_RECOVER).
  Standard,  // Retry UNIT ATTENTION, BUSY, requeue and transport errors within retry_count.
};

// Flags that the XPT sets on completion.
enum CcbFlag : std::uint32_t {
  kCcbAutosenseValid = 1U << 0,  // sense_data holds sense for a CHECK CONDITION.
  kCcbDevQueueFrozen = 1U << 1,  // The device queue was frozen by this error (CAM_DEV_QFRZN).
};

// SCSI status bytes (SAM-5 5.3).
enum class ScsiStatus : std::uint8_t {
  Good = 0x00,
  CheckCondition = 0x02,
  ConditionMet = 0x04,
  Busy = 0x08,
  ReservationConflict = 0x18,
  TaskSetFull = 0x28,
  AcaActive = 0x30,
  TaskAborted = 0x40,
};

struct Ccb;
using CcbDone = void (*)(Ccb& ccb, void* arg);

// XPT-private bookkeeping. SIMs and peripheral drivers never touch it.
struct CcbXptPrivate {
  enum class State : std::uint8_t { Idle, Queued, InSim, Completing, Done };
  // Written by whoever owns the CCB at the time, read by abort() from any thread: both through
  // std::atomic_ref (cam/xpt_device.h), which keeps the CCB copyable.
  State state = State::Idle;
  std::uint8_t sim_link = 0;  // Whether the SIM held it after action() (xpt_device.h, SimLink).
  // The XPT device this CCB runs on (keeps it alive). Kept after completion as a cache: the
  // CCB's next action() on the same path skips the lookup (Xpt::resolve_device).
  std::shared_ptr<void> device;
  Ccb* next = nullptr;  // Intrusive links: device pending/in-flight lists,
  Ccb* prev = nullptr;  //   done queues.
  // Both in the XPT's latency clock ticks (xpt.cpp: the TSC or steady_clock nanoseconds).
  std::uint64_t start_ticks = 0;     // When action() accepted it; kept across retries.
  std::uint64_t deadline_ticks = 0;  // When the current attempt times out.
  std::uint8_t retries_left = 0;
};

struct Ccb {
  static constexpr std::size_t kMaxCdb = 32;
  static constexpr std::size_t kMaxSense = 252;

  // --- Request (set by the submitter) ---
  FuncCode func = FuncCode::ScsiIo;
  Path path;
  std::array<std::uint8_t, kMaxCdb> cdb{};
  std::uint8_t cdb_len = 0;
  DataDir dir = DataDir::None;
  std::uint8_t* data = nullptr;  // In: the SIM writes up to dxfer_len. Out: read dxfer_len.
  std::uint32_t dxfer_len = 0;
  std::chrono::milliseconds timeout{60'000};
  std::uint8_t retry_count = 4;  // Budget for Recovery::Standard.
  Recovery recovery = Recovery::Standard;
  CcbDone done = nullptr;  // Runs exactly once, in a no-block context (see xpt_periph.h).
  void* done_arg = nullptr;

  // --- Result (set by the SIM, adjusted by the XPT) ---
  CamStatus status = CamStatus::ReqInProg;
  ScsiStatus scsi_status = ScsiStatus::Good;
  std::uint32_t resid = 0;  // Bytes of dxfer_len not transferred.
  std::uint32_t flags = 0;  // CcbFlag bits.
  std::uint8_t sense_len = 0;
  std::array<std::uint8_t, kMaxSense> sense_data{};

  CcbXptPrivate xpt_priv;

  void set_cdb(std::span<const std::uint8_t> bytes) {
    cdb_len = static_cast<std::uint8_t>(bytes.size() < kMaxCdb ? bytes.size() : kMaxCdb);
    for (std::size_t i = 0; i < cdb_len; ++i) {
      cdb[i] = bytes[i];
    }
  }
  std::span<const std::uint8_t> cdb_bytes() const { return {cdb.data(), cdb_len}; }
  std::span<std::uint8_t> data_bytes() const { return {data, dxfer_len}; }
  std::span<const std::uint8_t> sense_bytes() const { return {sense_data.data(), sense_len}; }

  // SIM helpers: set a complete outcome in one call.
  void complete_good(std::uint32_t transferred) {
    status = CamStatus::ReqCmp;
    scsi_status = ScsiStatus::Good;
    resid = transferred < dxfer_len ? dxfer_len - transferred : 0;
  }
  void complete_check_condition(std::span<const std::uint8_t> sense) {
    status = CamStatus::ScsiStatusError;
    scsi_status = ScsiStatus::CheckCondition;
    resid = dxfer_len;
    sense_len = static_cast<std::uint8_t>(sense.size() < kMaxSense ? sense.size() : kMaxSense);
    for (std::size_t i = 0; i < sense_len; ++i) {
      sense_data[i] = sense[i];
    }
    flags |= kCcbAutosenseValid;
  }
  void complete_status(CamStatus s) {
    status = s;
    resid = dxfer_len;
  }
  // Resets result fields so a CCB can be reused for another request.
  void reset_result() {
    status = CamStatus::ReqInProg;
    scsi_status = ScsiStatus::Good;
    resid = 0;
    flags = 0;
    sense_len = 0;
  }
};

}  // namespace ucam::cam
