// SPC-2 processor device ("processor", peripheral type 03h): SEND (0Ah) queues a message,
// RECEIVE (08h) returns the oldest one; TEST UNIT READY. What FreeBSD's pt(4) drives.
//
// Choices where SPC-2 leaves room: RECEIVE with an empty queue is GOOD with no data (resid =
// dxfer_len); a message longer than the allocation length is cut and consumed whole; SEND to a
// full queue ends in BUSY status so that the initiator retries later.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "sims/emu/model.h"

namespace ucam::emu {

struct ProcessorConfig final : ModelConfig {
  std::uint32_t message_limit = 64;  // Messages held before SEND reports BUSY.
};

Result<std::shared_ptr<const ModelConfig>> parse_processor_config(ObjectReader& lun);
std::unique_ptr<LunModel> create_processor(const LunSpec& spec);

class ProcessorModel final : public LunModel {
 public:
  explicit ProcessorModel(const ProcessorConfig& config) : m_limit(config.message_limit) {}

  Dispatch execute(Command& command) override;
  void adjust_inquiry(scsi::StandardInquiry& inquiry) const override;

  std::size_t queued_messages() const;

 private:
  void send(Command& command);
  void receive(Command& command);

  std::uint32_t m_limit;
  mutable std::mutex m_lock;
  std::deque<std::vector<std::uint8_t>> m_messages;  // Guarded by m_lock.
};

}  // namespace ucam::emu
