// The device model table. A new device type is one row here plus its model files.
#include <array>

#include "sims/emu/model.h"
#include "sims/emu/models/changer.h"
#include "sims/emu/models/disk.h"
#include "sims/emu/models/processor.h"
#include "sims/emu/models/safte.h"
#include "sims/emu/models/ses.h"
#include "sims/emu/models/tape.h"

namespace ucam::emu {

namespace {

constexpr std::array kModels = {
    ModelDescriptor{"disk", scsi::PeripheralType::DirectAccessBlock, "EMU DISK", parse_disk_config,
                    create_disk},
    ModelDescriptor{"processor", scsi::PeripheralType::Processor, "EMU PROCESSOR",
                    parse_processor_config, create_processor},
    ModelDescriptor{"ses", scsi::PeripheralType::EnclosureServices, "EMU ENCLOSURE",
                    parse_ses_model_config, create_ses},
    ModelDescriptor{"safte", scsi::PeripheralType::Processor, "EMU SAF-TE",
                    parse_safte_model_config, create_safte},
    ModelDescriptor{"changer", scsi::PeripheralType::MediumChanger, "EMU CHANGER",
                    parse_changer_config, create_changer},
    ModelDescriptor{"tape", scsi::PeripheralType::SequentialAccess, "EMU TAPE", parse_tape_config,
                    create_tape},
};

}  // namespace

std::span<const ModelDescriptor> model_table() {
  return kModels;
}

const ModelDescriptor* find_model(std::string_view type) {
  for (const auto& model : kModels) {
    if (model.type == type) {
      return &model;
    }
  }
  return nullptr;
}

}  // namespace ucam::emu
