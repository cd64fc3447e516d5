#include "periphs/enc/safte_backend.h"

#include <fmt/format.h>

#include <cerrno>
#include <map>
#include <variant>

#include "scsi/ses.h"

namespace ucam::enc {
namespace ses = scsi::ses;
namespace safte = scsi::safte;

namespace {

Fetched read_buffer(EncSoftc& sc, safte::Buffer buffer, std::uint16_t length) {
  Fetched f;
  f.data.resize(length);
  cam::Ccb ccb;
  ccb.path = sc.periph.path();
  ccb.set_cdb(safte::read_cdb(buffer, length).span());
  ccb.dir = cam::DataDir::In;
  ccb.data = f.data.data();
  ccb.dxfer_len = length;
  ccb.timeout = std::chrono::seconds(60);
  sc.periph.xpt().run_sync(ccb);
  ++sc.commands;
  f.status = ccb.status;
  f.data.resize(ccb.status == CamStatus::ReqCmp ? length - ccb.resid : 0);
  return f;
}

Result<void> write_buffer(EncSoftc& sc, const safte::WriteCommand& command) {
  auto list = safte::encode_write_command(command);
  if (!list) {
    return fail(list.error());
  }
  cam::Ccb ccb;
  ccb.path = sc.periph.path();
  ccb.set_cdb(safte::write_cdb(static_cast<std::uint16_t>(list->size())).span());
  ccb.dir = cam::DataDir::Out;
  ccb.data = list->data();
  ccb.dxfer_len = static_cast<std::uint32_t>(list->size());
  ccb.timeout = std::chrono::seconds(60);
  sc.periph.xpt().run_sync(ccb);
  ++sc.commands;
  if (ccb.status != CamStatus::ReqCmp) {
    return fail(Error::from_cam(ccb.status, sc.periph.name() + ": WRITE BUFFER"));
  }
  return {};
}

}  // namespace

bool safte_matches(const cam::DeviceInfo& device) {
  return safte::is_safte_inquiry(device.inquiry_data);
}

void SafteBackend::run(EncSoftc& sc, std::uint32_t action) {
  switch (action) {
    case kConfig:
      step_config(sc);
      break;
    case kStatus:
    case kPeerStatus:
      step_status(sc);
      break;
    case kControl:
      step_control(sc);
      break;
    default:
      break;  // No descriptors, additional status or physical paths in SAF-TE.
  }
}

void SafteBackend::step_config(EncSoftc& sc) {
  auto f = read_buffer(sc, safte::Buffer::EnclosureConfiguration,
                       static_cast<std::uint16_t>(safte::kConfigLength));
  auto config = f.status == CamStatus::ReqCmp
                    ? safte::parse_config(f.data)
                    : fail_errno(EIO, std::string(cam_status_name(f.status)));
  if (!config) {
    sc.work.warnings.push_back("SAF-TE configuration: " + config.error().message());
    return;
  }
  if (m_snapshot && m_snapshot->config == *config && sc.work.configured) {
    return;
  }
  const auto map = safte::element_map(*config, safte::SlotElements::ArrayDeviceSlot);
  sc.work.configured = true;
  sc.work.generation = m_snapshot ? sc.work.generation + 1 : 0;  // SAF-TE has no generation.
  sc.work.elements.clear();
  sc.work.type_texts.clear();
  std::map<int, int> kind_index;  // ElementKind -> type index, in first-seen order.
  for (std::size_t i = 0; i < map.size(); ++i) {
    const int kind = static_cast<int>(map[i].kind);
    auto [it, fresh] = kind_index.emplace(kind, static_cast<int>(kind_index.size()));
    if (fresh) {
      sc.work.type_texts.push_back(ses::element_type_name(ses::type_value(map[i].type)));
    }
    EncElement e;
    e.index = static_cast<int>(i);
    e.type_index = it->second;
    e.index_in_type = map[i].index;
    e.element_type = ses::type_value(map[i].type);
    sc.work.elements.push_back(std::move(e));
  }
  if (const auto self = sc.periph.xpt().device(sc.periph.path())) {
    sc.work.name = self->vendor + " " + self->product + " " + self->revision;
    // SAF-TE INQUIRY bytes 36-42: the unique enclosure identifier (7 bytes).
    std::uint64_t id = 0;
    for (std::size_t i = 36; i < 43 && i < self->inquiry_data.size(); ++i) {
      id = (id << 8) | self->inquiry_data[i];
    }
    sc.work.logical_id = id;
  }
  safte::Snapshot snap;
  snap.config = *config;
  m_snapshot = std::move(snap);
  sc.request(kStatus | kPublish);
}

void SafteBackend::step_status(EncSoftc& sc) {
  if (!m_snapshot) {
    sc.request(kConfig);
    return;
  }
  auto& snap = *m_snapshot;
  const auto& cfg = snap.config;
  auto flags = read_buffer(sc, safte::Buffer::GlobalFlags,
                           safte::buffer_length(safte::Buffer::GlobalFlags, cfg));
  auto status = read_buffer(sc, safte::Buffer::EnclosureStatus,
                            safte::buffer_length(safte::Buffer::EnclosureStatus, cfg));
  auto slots = read_buffer(sc, safte::Buffer::DeviceSlotStatus,
                           safte::buffer_length(safte::Buffer::DeviceSlotStatus, cfg));
  if (status.status != CamStatus::ReqCmp || slots.status != CamStatus::ReqCmp) {
    sc.work.warnings.push_back(
        "SAF-TE status buffers: " +
        std::string(
            cam_status_name(status.status != CamStatus::ReqCmp ? status.status : slots.status)));
    return;
  }
  auto es = safte::parse_enclosure_status(status.data, cfg);
  auto ss = safte::parse_slot_status(slots.data, cfg);
  if (!es || !ss) {
    sc.work.warnings.push_back("SAF-TE status: " + (!es ? es.error() : ss.error()).message());
    return;
  }
  snap.status = std::move(*es);
  snap.slots = std::move(*ss);
  if (flags.status == CamStatus::ReqCmp) {  // Global flags are optional.
    if (auto gf = safte::parse_global_flags(flags.data)) {
      snap.flags = *gf;
    }
  }
  auto view = safte::ses_view(snap, safte::SlotElements::ArrayDeviceSlot);
  if (!view) {
    sc.work.warnings.push_back("SAF-TE status: " + view.error().message());
    return;
  }
  sc.work.enclosure_status = view->enclosure_status;
  for (std::size_t i = 0; i < view->elements.size() && i < sc.work.elements.size(); ++i) {
    if (sc.work.elements[i].status != view->elements[i].status) {
      sc.work.elements.mutate(i).status = view->elements[i].status;
    }
  }
  sc.request(kPublish);
}

void SafteBackend::step_control(EncSoftc& sc) {
  // One request at a time: each may take several WRITE BUFFER commands.
  for (const auto& r : sc.take_requests()) {
    Result<void> result;
    if (!m_snapshot) {
      result = fail_errno(EIO, sc.periph.name() + ": no status read yet");
    } else if (r->generation && *r->generation != sc.work.generation) {
      result = fail(Error::described(
          ESTALE, fmt::format("{}: stale generation {}", sc.periph.name(), *r->generation)));
    } else {
      auto& snap = *m_snapshot;
      Result<std::vector<safte::WriteCommand>> commands =
          r->index < 0 ? Result<std::vector<safte::WriteCommand>>(std::vector<safte::WriteCommand>{
                             safte::enclosure_control_command(snap, r->bytes[0])})
                       : safte::control_commands(snap, safte::SlotElements::ArrayDeviceSlot,
                                                 static_cast<std::size_t>(r->index), r->bytes);
      if (!commands) {
        result = fail(commands.error());
      } else {
        for (const auto& c : *commands) {
          result = write_buffer(sc, c);
          if (!result) {
            break;
          }
          // Remember what SAF-TE cannot report back (identify state, fan speeds, flags).
          if (const auto* op = std::get_if<safte::SlotOperation>(&c)) {
            snap.slot_identify.resize(snap.config.device_slots, false);
            snap.slot_identify[op->slot] = op->identify;
          } else if (const auto* fan = std::get_if<safte::SetFanSpeed>(&c)) {
            snap.fan_speeds.resize(snap.config.fans, safte::kMaxFanSpeed);
            snap.fan_speeds[fan->fan] = fan->speed;
          } else if (const auto* gf = std::get_if<safte::GlobalFlags>(&c)) {
            snap.flags = *gf;
          }
        }
      }
    }
    sc.finish(*r, std::move(result));
  }
  sc.request(kStatus);
}

}  // namespace ucam::enc
