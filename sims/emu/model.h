// Device models: what an emulated logical unit does with the commands the SPC core does not
// answer itself. Audience: model authors and the emulator core.
//
// Adding a device type (ses, safte, changer, tape...) means writing a `LunModel`, a config parser
// and one `ModelDescriptor` row in models/model_table.cpp; the scenario parser and the emulator
// core do not change.
//
// The SPC core (sims/emu/lun.cpp) answers INQUIRY (standard data, VPD 0x00, 0x80, 0x83 and any
// page the model adds), REPORT LUNS and REQUEST SENSE, applies faults and UNIT ATTENTION, and
// hands every other command to the model.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "cam/ccb.h"
#include "scsi/cdb.h"
#include "scsi/inquiry.h"
#include "sims/emu/json_reader.h"
#include "sims/emu/scenario.h"

namespace ucam::emu {

// One SCSI command being executed for a logical unit: the CDB and the data buffer of the CCB,
// and the ways to finish it. Exactly one `complete_*`/`check_condition`/`transport_status` call
// finishes a command; the SIM then hands the CCB back to the XPT. Allocates only to encode sense
// data (error paths).
class Command {
 public:
  Command(cam::Ccb& ccb, scsi::SenseFormat sense_format) : m_ccb(ccb), m_format(sense_format) {}

  Bytes cdb() const { return m_ccb.cdb_bytes(); }
  std::uint8_t opcode() const { return m_ccb.cdb_len > 0 ? m_ccb.cdb[0] : 0; }
  scsi::SenseFormat sense_format() const { return m_format; }

  // The buffer a data-in command may fill: the CCB's buffer when its direction is In (at most
  // dxfer_len bytes), else empty.
  MutableBytes data_in_buffer() const;
  // The bytes the initiator sent: the CCB's buffer when its direction is Out, else empty.
  Bytes data_out() const;

  // GOOD after moving `transferred` bytes (resid = dxfer_len - transferred).
  void complete_good(std::uint32_t transferred = 0);
  // GOOD, copying min(data.size(), allocation_length, buffer size) bytes into the data-in
  // buffer: SPC-5 4.2.5.6, a device server returns what fits and does not report an error.
  void complete_data_in(Bytes data, std::uint32_t allocation_length);
  // CHECK CONDITION with autosense in the LU's format (fixed or descriptor, SPC-5 4.4).
  void check_condition(SenseCode sense, std::optional<scsi::CdbFieldPointer> field = std::nullopt);
  // CHECK CONDITION for a decoder error (its sense and the field pointer it recorded).
  void check_condition(const Error& error);
  // ILLEGAL REQUEST, INVALID FIELD IN CDB (24h/00h) pointing at `byte`.
  void invalid_field_in_cdb(std::uint16_t byte, std::optional<std::uint8_t> bit = std::nullopt);
  // A SCSI status without sense (BUSY, TASK SET FULL, RESERVATION CONFLICT).
  void scsi_status(cam::ScsiStatus status);
  // A transport outcome (SelTimeout, DevNotThere, DataRunErr...): no SCSI status.
  void transport_status(CamStatus status);

  cam::Ccb& ccb() { return m_ccb; }

 private:
  cam::Ccb& m_ccb;
  scsi::SenseFormat m_format;
};

enum class Dispatch : std::uint8_t {
  Handled,      // The model finished the command.
  Unsupported,  // Not a command of this device type: the core answers 20h/00h.
};

// The runtime behaviour of one logical unit. One instance per scenario LUN; lives as long as
// the Emulator (removal and re-insertion keep it, so a re-inserted disk keeps its data).
//
// Threads: execute() runs in the submitter's thread, concurrently for many commands to the
// same LUN. A model guards its own mutable state (per-LUN locks or atomics); it never blocks for
// long and never calls into the XPT.
class LunModel {
 public:
  virtual ~LunModel() = default;

  // Executes every command except INQUIRY, REPORT LUNS and REQUEST SENSE.
  virtual Dispatch execute(Command& command) = 0;

  // Standard INQUIRY data beyond identity and type (RMB, EncServ, version descriptors).
  virtual void adjust_inquiry(scsi::StandardInquiry& /*inquiry*/) const {}
  // The encoded standard INQUIRY data, for what StandardInquiry cannot express: the
  // vendor-specific bytes 36-55 (SAF-TE's "SAF-TE" signature at 44-49). A model that writes
  // past the end grows the data and fixes ADDITIONAL LENGTH (byte 4).
  virtual void adjust_inquiry_data(std::vector<std::uint8_t>& /*data*/) const {}

  // The condition REQUEST SENSE reports when no UNIT ATTENTION is pending (SPC-5 6.39: the
  // sense data of a condition that would end the next command, such as NOT READY for a drive
  // without medium); nullopt gives NO SENSE.
  virtual std::optional<SenseCode> current_condition() const { return std::nullopt; }

  // VPD pages the model supplies in addition to the core's 0x00, 0x80 and 0x83, ascending.
  virtual std::span<const std::uint8_t> extra_vpd_pages() const { return {}; }
  // Encodes one of extra_vpd_pages() (the whole page, header included).
  virtual std::vector<std::uint8_t> encode_vpd_page(std::uint8_t /*page*/) const { return {}; }
};

// One row of the model table.
struct ModelDescriptor {
  std::string_view type;  // The scenario's "type" ("disk").
  scsi::PeripheralType peripheral_type;
  std::string_view default_product;  // INQUIRY product when the scenario gives none.
  // Reads the model's own keys of a LUN object or generator template, and only those (the core
  // reports unknown keys afterwards). Runs once per object, not once per generated LUN.
  Result<std::shared_ptr<const ModelConfig>> (*parse_config)(ObjectReader& lun);
  // Builds the runtime model of one LUN of a parsed scenario.
  std::unique_ptr<LunModel> (*create)(const LunSpec& spec);
};

// Every known device model, in documentation order.
std::span<const ModelDescriptor> model_table();
// The model named `type`, or nullptr.
const ModelDescriptor* find_model(std::string_view type);

}  // namespace ucam::emu
