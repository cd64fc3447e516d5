// The state of one emulated SES enclosure, shared by its enclosure service processes (the SES
// LUNs naming it), and the SES-4 diagnostic pages it answers with.
//
// Every page is built from the state on demand through the scsi/ses*.h encoders, so a page
// always reflects the state at the moment of the command. Control pages (SEND DIAGNOSTIC) and
// the emulator's fault methods change the state; the two meet on one lock per enclosure.
//
// Threads: every method is thread-safe and takes m_lock, never for long (no I/O, no call out).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/ses.h"
#include "scsi/ses_pages.h"
#include "sims/emu/models/ses_config.h"
#include "sims/emu/models/ses_view.h"

namespace ucam::emu {

// What a slot holds: the SAS address its page 0x0A phy descriptor reports (0: empty) and, for
// an emulated disk, its scenario address.
struct SlotContent {
  std::uint64_t sas_address = 0;
  std::optional<LunAddress> disk;
  bool empty() const { return sas_address == 0 && !disk; }
};

// Why a SEND DIAGNOSTIC parameter list was refused: the sense and, for a field in the
// parameter list, its byte (and bit).
struct ParameterListError {
  SenseCode sense;
  std::optional<std::uint16_t> byte;
  std::optional<std::uint8_t> bit;
};

// The fault-injection side of an emulated enclosure (SES or SAF-TE), used by the Emulator.
// Element and slot arguments are validated: a bad one is an ENODEV / EINVAL error.
class EnclosureState {
 public:
  virtual ~EnclosureState() = default;

  virtual EnclosureView view() const = 0;
  // Replaces an element's 4 status bytes (byte 0 bit 7 is reserved in status and cleared).
  virtual Result<void> set_element_status(EnclosureElement element,
                                          const scsi::ses::ElementBytes& status) = 0;
  // A sensor reading in the element type's unit (cooling rpm, temperature degrees C, voltage mV,
  // current mA); the status is re-evaluated against the element's thresholds.
  virtual Result<void> set_sensor(EnclosureElement element, std::int32_t value) = 0;
  // Empties a slot and returns what it held (EINVAL if it was empty).
  virtual Result<SlotContent> pull(int slot) = 0;
  // Fills an empty slot (EBUSY if it is not).
  virtual Result<void> insert(int slot, const SlotContent& content) = 0;
  // The slot holding `disk`, if any.
  virtual std::optional<int> slot_of(const LunAddress& disk) const = 0;
  // Bumps the generation code and applies new element counts; returns what the slots that
  // disappeared held.
  virtual Result<std::vector<SlotContent>> reconfigure(const EnclosureReconfiguration& change) = 0;
};

class SesEnclosure final : public EnclosureState {
 public:
  // Identity defaults for what the configuration leaves out: the describing LUN's INQUIRY
  // strings and LU name (the default logical identifier).
  struct Identity {
    std::string vendor, product, revision;
    std::uint64_t naa = 0;
  };
  // `slots` holds the initial content of every slot, in slot order (page order of the Device
  // Slot and Array Device Slot elements); missing entries are empty. Fails when an element
  // that carries Additional Element Status gets an index above 255.
  static Result<std::shared_ptr<SesEnclosure>> create(std::string name,
                                                      const SesModelConfig& config,
                                                      const Identity& identity,
                                                      std::span<const SlotContent> slots);

  // The enclosure's LUNs, and the target-port SAS address of each of its enclosure service
  // processes: process i (0-based) answers as RELATIVE ENCLOSURE SERVICES PROCESS IDENTIFIER
  // i + 1 of sas_addresses.size(). Called once before any command.
  void attach_processes(std::vector<LunAddress> luns, std::vector<std::uint64_t> sas_addresses);

  const std::string& name() const { return m_name; }

  // --- Device server side (SesModel) ---
  // Diagnostic page `page_code` as ES process `process` returns it (RECEIVE DIAGNOSTIC
  // RESULTS with PCV=1); nullopt for a page the enclosure does not have.
  std::optional<std::vector<std::uint8_t>> status_page(std::uint8_t page_code,
                                                       std::size_t process) const;
  // A page sent with SEND DIAGNOSTIC (exactly PAGE LENGTH + 4 bytes). Control pages with an
  // EXPECTED GENERATION CODE other than the current one change nothing and are refused with
  // INVALID FIELD IN PARAMETER LIST pointing at that field.
  std::optional<ParameterListError> control_page(Bytes page);
  // Page codes of status_page(), ascending (page 0x00's list).
  static std::span<const std::uint8_t> supported_pages();

  // --- EnclosureState ---
  EnclosureView view() const override;
  Result<void> set_element_status(EnclosureElement element,
                                  const scsi::ses::ElementBytes& status) override;
  Result<void> set_sensor(EnclosureElement element, std::int32_t value) override;
  Result<SlotContent> pull(int slot) override;
  Result<void> insert(int slot, const SlotContent& content) override;
  std::optional<int> slot_of(const LunAddress& disk) const override;
  Result<std::vector<SlotContent>> reconfigure(const EnclosureReconfiguration& change) override;

 private:
  struct Element {
    scsi::ses::ElementBytes status{};
    std::string descriptor;
    std::int32_t nominal = 0;       // sensors: the configured reading; cooling: rpm
    std::uint8_t nominal_code = 0;  // cooling: speed code at the nominal rpm
    scsi::ses::Threshold threshold{};
    SlotContent slot;               // (Array) Device Slot
    std::uint64_t sas_address = 0;  // SAS expander
  };
  struct Group {
    std::uint8_t type = 0;
    std::uint8_t subenclosure = 0;
    std::string text;
    std::optional<TextTemplate> pattern;
    std::uint64_t first = 0;
    Element overall;
    std::vector<Element> elements;
    Element prototype;  // what an element added by reconfigure() starts as
  };
  struct Subenclosure {
    std::uint8_t id = 0;
    std::uint64_t logical_id = 0;
    std::string vendor, product, revision;
    std::string help_text;
    std::vector<std::uint8_t> nickname;   // 32 bytes, space padded
    std::vector<std::uint8_t> string_in;  // Subenclosure String In (0x0C), set by 0x0C out
  };

  explicit SesEnclosure(std::string name) : m_name(std::move(name)) {}

  // All below run with m_lock held.
  scsi::ses::SesConfig config_locked(std::size_t process) const;
  std::uint8_t status_flags_locked() const;
  std::vector<scsi::ses::ElementBytes> statuses_locked(std::size_t process) const;
  Result<std::vector<std::uint8_t>> additional_status_locked() const;
  Result<std::vector<std::uint8_t>> encode_locked(std::uint8_t page_code,
                                                  std::size_t process) const;
  Element* find_locked(EnclosureElement element, std::uint8_t* type);
  Element* slot_locked(int slot);
  const Element* slot_locked(int slot) const;
  std::uint64_t expander_address_locked() const;
  Result<void> check_indexes_locked() const;
  void renumber_locked();
  std::optional<ParameterListError> enclosure_control_locked(Bytes page);
  std::optional<ParameterListError> threshold_out_locked(Bytes page);
  // Drops the encoded Enclosure Status pages (0x02) of every process: what an element status
  // change (set_element_status, set_sensor) alters. Every other change drops every page.
  void forget_status_pages_locked();

  const std::string m_name;
  mutable std::mutex m_lock;
  std::uint32_t m_generation = 0;             // Guarded by m_lock.
  std::uint8_t m_requested_flags = 0;         // Guarded by m_lock. INFO..UNRECOV requests.
  std::vector<Subenclosure> m_subenclosures;  // Guarded by m_lock. Primary first.
  std::vector<Group> m_groups;                // Guarded by m_lock. Configuration page order.
  std::vector<std::uint8_t> m_string;         // Guarded by m_lock. String In = last String Out.
  std::string m_help_text;                    // Immutable.
  std::uint8_t m_eiioe = 1;                   // Immutable.
  std::optional<std::uint64_t> m_expander_address;  // Immutable.
  std::vector<LunAddress> m_luns;                   // Guarded by m_lock.
  std::vector<std::uint64_t> m_process_addresses;   // Guarded by m_lock. Their SAS addresses.
  // Pages already encoded, by page code and process, as status_page() returns them; every
  // method that changes the enclosure drops the ones it may alter first. A driver that polls reads
  // the same pages again and again, and encoding page 0x0A of a 100-slot enclosure costs more than
  // the driver's whole refresh. Guarded by m_lock.
  mutable std::map<std::pair<std::uint8_t, std::size_t>, std::vector<std::uint8_t>> m_pages;
};

}  // namespace ucam::emu
