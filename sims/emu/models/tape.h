// SSC sequential-access device ("tape", peripheral type 01h, RMB=1): a tape drive whose
// cartridge a changer puts in and takes out. Small but honest about the medium's presence:
//
// Commands: TEST UNIT READY, READ BLOCK LIMITS, REWIND, LOAD UNLOAD, PREVENT ALLOW MEDIUM
// REMOVAL, MODE SENSE(6/10) (a block descriptor: density code, 0 blocks, block length 0 =
// variable; page 0Ah), REQUEST SENSE via the SPC core (it reports the not-ready condition
// below when no UNIT ATTENTION is pending). INQUIRY and VPD come from the common path.
// FIXME: no data path: READ/WRITE/SPACE/WRITE FILEMARKS answer ILLEGAL REQUEST 20h/00h
// INVALID COMMAND OPERATION CODE (the core's answer to an unsupported command).
//
// Medium states and what TEST UNIT READY (and every command needing a medium) answers:
//   Empty     no cartridge:                     NOT READY 3Ah/00h MEDIUM NOT PRESENT
//   Loaded    threaded, at BOT or further:      GOOD
//   Unloaded  LOAD UNLOAD with LOAD=0 ejected it; the cartridge sits in the drive's mouth
//             ready for a changer's picker:     NOT READY 04h/02h LOGICAL UNIT NOT READY,
//             INITIALIZING COMMAND REQUIRED (a LOAD threads it again).
//
// Choices where SSC/SMC leave room:
//   - A changer MOVE (or EXCHANGE) into a drive linked to this LUN inserts the cartridge and
//     loads it (the library's drives autoload): the LUN becomes ready and each of its paths gets
//     UNIT ATTENTION 28h/00h NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED.
//   - A changer MOVE (or EXCHANGE) out of the drive while PREVENT ALLOW MEDIUM REMOVAL has
//     PREVENT set fails on the changer with ILLEGAL REQUEST 53h/03h MEDIUM REMOVAL PREVENTED BY
//     DATA TRANSFER ELEMENT (the SPC-5 code for it; libraries report "drive media removal
//     prevented" this way), and LOAD UNLOAD with LOAD=0 fails on the drive with ILLEGAL REQUEST
//     53h/02h MEDIUM REMOVAL PREVENTED (SSC). Without PREVENT the changer takes the
//     cartridge whether it was unloaded or not (the library unloads a loaded tape itself, as
//     libraries with "auto unload" do); the drive is Empty afterwards.
//   - PREVENT is one flag per logical unit, not per I_T nexus.
//
// Threads: execute() and the changer's calls from any thread; the state is guarded by m_lock.
// The attention sink is set once while the emulator is built (before any command) and is
// called without m_lock held. Lock order: a changer calls insert/remove_medium() holding its own
// inventory lock, then this model takes m_lock, then (released) the sink takes the paths'
// EmuLun locks; this model never calls back into a changer, so the order cannot invert.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "sims/emu/model.h"
#include "sims/emu/models/mode_sense.h"

namespace ucam::emu {

struct TapeConfig final : ModelConfig {
  std::uint8_t density_code = 0x5a;            // MODE SENSE block descriptor (LTO-6 by default).
  std::uint32_t max_block_length = 8'388'608;  // READ BLOCK LIMITS (24 bits).
  std::uint16_t min_block_length = 1;
  std::string medium;  // Volume tag of a cartridge loaded at power on; empty: no cartridge.
};

Result<std::shared_ptr<const ModelConfig>> parse_tape_config(ObjectReader& lun);
std::unique_ptr<LunModel> create_tape(const LunSpec& spec);

enum class TapeMedium : std::uint8_t { Empty, Loaded, Unloaded };

class TapeModel final : public LunModel {
 public:
  TapeModel(const LunSpec& spec, const TapeConfig& config);

  Dispatch execute(Command& command) override;
  void adjust_inquiry(scsi::StandardInquiry& inquiry) const override;
  std::optional<SenseCode> current_condition() const override;

  // --- The changer's side (any thread) ---
  // A cartridge with volume tag `tag` enters the drive and is loaded; queues 28h/00h on every
  // path. EBUSY if the drive already holds one.
  Result<void> insert_medium(const std::string& tag);
  // The picker takes the cartridge out: fails with sense 53h/03h while PREVENT is set, EINVAL
  // when the drive is empty; otherwise the drive is Empty afterwards.
  Result<void> remove_medium();
  // Whether remove_medium() would succeed (the changer checks before it moves anything).
  Result<void> may_remove() const;

  TapeMedium medium_state() const;
  std::string medium_tag() const;  // Empty when no cartridge.
  bool prevent() const;

  // Build time only: how to queue a UNIT ATTENTION on every path of this logical unit.
  void set_attention_sink(std::function<void(SenseCode)> sink) { m_attention = std::move(sink); }

 private:
  // The not-ready sense for the current state, nullopt when Loaded. Called with m_lock held.
  std::optional<SenseCode> not_ready() const;
  void read_block_limits(Command& command) const;
  void load_unload(Command& command);
  void prevent_allow(Command& command);

  TapeConfig m_config;
  std::array<std::uint8_t, 12> m_control_page{};
  std::array<std::uint8_t, 12> m_control_changeable{};
  std::array<ModePageValues, 1> m_pages{};
  std::function<void(SenseCode)> m_attention;  // Set before any command; then read-only.

  mutable std::mutex m_lock;
  TapeMedium m_medium = TapeMedium::Empty;  // Guarded by m_lock.
  std::string m_tag;                        // Guarded by m_lock.
  bool m_prevent = false;                   // Guarded by m_lock.
};

}  // namespace ucam::emu
