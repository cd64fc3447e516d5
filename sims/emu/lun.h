// Emulator internals: the runtime state of targets and logical units, and the SPC core that
// every device model shares (INQUIRY, REPORT LUNS, REQUEST SENSE, faults, UNIT ATTENTION).
//
// The topology is built once from the scenario and never changes shape: removal and insertion
// flip atomic presence flags. Lookups on the command path therefore take no lock at all (sorted
// vectors, binary search); per-LUN locks guard only faults and UNIT ATTENTIONs and are taken
// only while some are armed (`m_armed`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "cam/ccb.h"
#include "sims/emu/fault.h"
#include "sims/emu/model.h"
#include "sims/emu/scenario.h"

namespace ucam::emu {

class EmuTarget;

// Device models by identity. LUNs that name the same logical unit (same model type and NAA), as
// the two ports of a dual-ported disk do, share one model and therefore one medium; the model
// is built from the first such LUN's fields. Used while the emulator is built (one thread).
class ModelPool {
 public:
  std::shared_ptr<LunModel> model_for(const LunSpec& spec);

 private:
  std::map<std::pair<const ModelDescriptor*, std::uint64_t>, std::shared_ptr<LunModel>> m_models;
};

// What the SIM does with a CCB after the LUN has looked at it.
struct Outcome {
  enum class Kind : std::uint8_t {
    Complete,  // Result set: hand it to the XPT now.
    Delay,     // Result set: hand it to the XPT after `delay`.
    Hang,      // Not executed: hold it until aborted or the device goes away.
  };
  Kind kind = Kind::Complete;
  std::chrono::microseconds delay{0};
};

class EmuLun {
 public:
  // `spec` must outlast the LUN (the Emulator owns the scenario).
  EmuLun(const LunSpec& spec, Transport transport, std::shared_ptr<LunModel> model);

  const LunSpec& spec() const { return m_spec; }
  std::uint64_t lun() const { return m_spec.lun; }
  LunModel& model() const { return *m_model; }

  // Presence. Every change that makes the LUN unreachable (its own removal, its target's, its
  // bus's) bumps the epoch; a command remembers the epoch it started in, and the Completer
  // refuses to hold it once the epoch moved on (see Completer::hold).
  bool present() const { return m_present.load(std::memory_order_acquire); }
  std::uint64_t epoch() const { return m_epoch.load(std::memory_order_acquire); }
  void set_present(bool present);
  void bump_epoch() { m_epoch.fetch_add(1, std::memory_order_acq_rel); }

  // Executes one SCSI command addressed to this (present) LUN, in the caller's thread.
  Outcome execute(cam::Ccb& ccb, const EmuTarget& target);

  // Faults and UNIT ATTENTIONs (any thread).
  void arm(const Fault& fault);
  void queue_unit_attention(SenseCode sense);
  void clear_faults();

 private:
  void dispatch(Command& command, const EmuTarget& target) const;
  void inquiry(Command& command) const;
  void request_sense(Command& command, std::optional<SenseCode> pending) const;
  void update_armed();  // Called with m_lock held.

  const LunSpec& m_spec;
  std::shared_ptr<LunModel> m_model;  // Shared with the LU's other ports (ModelPool).
  // Precomputed response data (immutable after construction).
  std::vector<std::uint8_t> m_inquiry;
  std::vector<std::uint8_t> m_vpd_pages;  // Supported page codes, ascending.
  std::vector<std::uint8_t> m_vpd_supported;
  std::vector<std::uint8_t> m_vpd_serial;
  std::vector<std::uint8_t> m_vpd_identification;

  std::atomic<bool> m_present{true};
  std::atomic<std::uint64_t> m_epoch{0};
  // Number of armed faults plus queued UNIT ATTENTIONs. Zero keeps commands off m_lock.
  std::atomic<std::uint32_t> m_armed{0};
  mutable std::mutex m_lock;
  std::vector<Fault> m_faults;  // Guarded by m_lock. `count` is what remains.
  // Guarded by m_lock. Oldest first; a few at most (a std::deque allocates 576 bytes empty,
  // 58 MB on 100,000 LUNs).
  std::vector<SenseCode> m_attentions;
};

class EmuTarget {
 public:
  EmuTarget(const TargetSpec& spec, Transport transport, ModelPool& models);

  std::uint32_t id() const { return m_spec.id; }
  const TargetSpec& spec() const { return m_spec; }
  // The LUN object for `lun` whether present or not; nullptr if the scenario has none.
  EmuLun* find_lun(std::uint64_t lun) const;
  std::span<const std::unique_ptr<EmuLun>> luns() const { return m_luns; }

  bool present() const { return m_present.load(std::memory_order_acquire); }
  void set_present(bool present) { m_present.store(present, std::memory_order_release); }
  void set_selection_timeout(bool on) { m_selection_timeout.store(on, std::memory_order_release); }
  // Answers selection: present and not told to time out.
  bool reachable() const {
    return present() && !m_selection_timeout.load(std::memory_order_acquire);
  }

  // Answers a command for a LUN this target does not have (or has removed): INQUIRY with
  // peripheral qualifier 3, REPORT LUNS when addressed to LUN 0, REQUEST SENSE with LOGICAL
  // UNIT NOT SUPPORTED as its data, anything else CHECK CONDITION 25h/00h.
  void execute_missing_lun(cam::Ccb& ccb) const;
  // REPORT LUNS for this target: the LUNs present now.
  void report_luns(Command& command) const;

 private:
  const TargetSpec& m_spec;
  std::vector<std::unique_ptr<EmuLun>> m_luns;  // Sorted by LUN.
  std::vector<std::uint8_t> m_missing_inquiry;
  std::atomic<bool> m_present{true};
  std::atomic<bool> m_selection_timeout{false};
};

}  // namespace ucam::emu
