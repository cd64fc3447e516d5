#include "periphs/node/node_periph.h"

#include <cerrno>

#include "base/log.h"
#include "cam/async.h"
#include "cam/ccb.h"
#include "scsi/opcodes.h"

namespace ucam::periph {

std::unique_ptr<NodeSoftc> NodePeriphDriver::make_softc(cam::Periph& /*periph*/) {
  return std::make_unique<NodeSoftc>();
}

Result<void> NodePeriphDriver::attach(cam::Periph& periph) {
  auto softc = make_softc(periph);
  auto* sc = softc.get();
  periph.set_softc(std::move(softc));
  // One reference for the node, dropped in gone().
  periph.acquire_unconditional();
  auto node = m_devfs.make_node(periph.name(), *this, &periph);
  if (!node) {
    periph.release();
    return fail(node.error());
  }
  sc->node = std::move(*node);
  return {};
}

void NodePeriphDriver::invalidate(cam::Periph& periph) {
  auto& sc = periph.softc<NodeSoftc>();
  std::shared_ptr<devfs::Node> node;
  {
    std::lock_guard lock(sc.lock);
    sc.invalid = true;
    node = sc.node;
  }
  // Asynchronous: we run on the event thread and threads may be inside a command.
  m_devfs.destroy_node_async(node);
}

void NodePeriphDriver::destroy(cam::Periph& periph) {
  auto& sc = periph.softc<NodeSoftc>();
  std::lock_guard lock(sc.lock);
  if (sc.open_count != 0) {
    log_error("{}: destroyed with {} opens outstanding", periph.name(), sc.open_count);
  }
}

Result<void> NodePeriphDriver::check_open_mode(const cam::Periph& periph,
                                               const devfs::OpenFile& file) {
  if ((file.flags() & (devfs::kOpenRead | devfs::kOpenWrite)) !=
      (devfs::kOpenRead | devfs::kOpenWrite)) {
    return fail_errno(EPERM, periph.name() + ": needs read and write access");
  }
  return {};
}

Result<void> NodePeriphDriver::open(devfs::Node& node, devfs::OpenFile& file) {
  cam::Periph& periph = periph_of(node);
  if (auto mode = check_open_mode(periph, file); !mode) {
    return mode;
  }
  if (!periph.acquire()) {
    return fail_errno(ENXIO, periph.name() + ": device is gone");
  }
  auto& sc = periph.softc<NodeSoftc>();
  std::lock_guard lock(sc.lock);
  if (sc.invalid) {
    periph.release();
    return fail_errno(ENXIO, periph.name() + ": device is gone");
  }
  ++sc.open_count;
  return {};
}

// One close per successful open (track-close), so one release per open. A Revoke close comes
// from devfs after the node was destroyed with this open outstanding (FreeBSD's devgonecb loop).
void NodePeriphDriver::close(devfs::Node& node, devfs::OpenFile& /*file*/, devfs::CloseReason) {
  cam::Periph& periph = periph_of(node);
  {
    auto& sc = periph.softc<NodeSoftc>();
    std::lock_guard lock(sc.lock);
    --sc.open_count;
  }
  periph.release();  // May free the periph only if the node's reference is gone, which it is not.
}

void NodePeriphDriver::gone(devfs::Node& node) {
  cam::Periph& periph = periph_of(node);
  periph.release();  // The node's reference; may free the periph.
}

}  // namespace ucam::periph

namespace ucam::periph {

void note_passthrough(cam::Periph& periph, const cam::Ccb& ccb) {
  const auto cdb = ccb.cdb_bytes();
  if (cdb.empty() || ccb.status != CamStatus::ReqCmp || ccb.scsi_status != cam::ScsiStatus::Good) {
    return;
  }
  const auto opcode = static_cast<scsi::Opcode>(cdb[0]);
  if (opcode != scsi::Opcode::SendDiagnostic && opcode != scsi::Opcode::WriteBuffer) {
    return;
  }
  cam::AsyncEvent event;
  event.code = cam::AsyncCode::ScsiAen;
  event.path = periph.path();
  periph.xpt().post_async(event);
}

}  // namespace ucam::periph
