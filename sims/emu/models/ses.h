// SES enclosure services device ("ses", peripheral device type 0Dh, EncServ=1): one enclosure
// service process of an emulated enclosure (ses_enclosure.h). Answers RECEIVE DIAGNOSTIC
// RESULTS (PCV=1) with the enclosure's status pages, SEND DIAGNOSTIC (PF=1) with its control
// pages, and TEST UNIT READY. What FreeBSD's ses(4) and sg_ses drive.
//
// Several LUNs naming one enclosure ("enclosure": "jbod0") share its state; each is one
// enclosure service process. The Emulator binds them (ses_registry.h) before any command; a
// model built alone (create_ses) runs an enclosure of its own, whose slots hold only the SAS
// addresses the scenario gives literally.
#pragma once

#include <cstdint>
#include <memory>

#include "sims/emu/model.h"
#include "sims/emu/models/ses_config.h"
#include "sims/emu/models/ses_enclosure.h"

namespace ucam::emu {

std::unique_ptr<LunModel> create_ses(const LunSpec& spec);

class SesModel final : public LunModel {
 public:
  // `config` is spec.config (kept alive by the model).
  SesModel(const LunSpec& spec, std::shared_ptr<const SesModelConfig> config);

  Dispatch execute(Command& command) override;
  void adjust_inquiry(scsi::StandardInquiry& inquiry) const override;

  const SesModelConfig& config() const { return *m_config; }
  // Makes this LU enclosure service process `process` (0-based) of `enclosure`. Called while
  // the emulator is built, before any command reaches the model.
  void attach(std::shared_ptr<SesEnclosure> enclosure, std::size_t process);
  // The enclosure, or nullptr for a LUN naming an enclosure described elsewhere that was never
  // attached. Set before the first command, then never changed.
  const std::shared_ptr<SesEnclosure>& enclosure() const { return m_enclosure; }
  std::size_t process() const { return m_process; }

 private:
  void receive_diagnostic(Command& command) const;
  void send_diagnostic(Command& command) const;

  std::shared_ptr<const SesModelConfig> m_config;  // Shared by the LUNs of one template.
  std::shared_ptr<SesEnclosure> m_enclosure;
  std::size_t m_process = 0;
};

// CHECK CONDITION for a SEND DIAGNOSTIC parameter list error (sense-key-specific field pointer
// with C/D=0 when the error names a byte).
void parameter_list_error(Command& command, const ParameterListError& error);

}  // namespace ucam::emu
