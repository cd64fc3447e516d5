#include "periphs/pass/pass.h"

#include <cerrno>
#include <mutex>

#include "base/log.h"

namespace ucam::pass {
namespace {

struct PassSoftc final : cam::PeriphSoftc {
  std::shared_ptr<devfs::Node> node;
  std::mutex lock;
  bool invalid = false;          // Guarded by lock.
  std::uint32_t open_count = 0;  // Guarded by lock.
};

cam::Periph& periph_of(devfs::Node& node) {
  return *static_cast<cam::Periph*>(node.drv1());
}

}  // namespace

bool PassDriver::matches(const cam::DeviceInfo& /*device*/) const {
  return true;
}

Result<void> PassDriver::attach(cam::Periph& periph) {
  auto softc = std::make_unique<PassSoftc>();
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

void PassDriver::invalidate(cam::Periph& periph) {
  auto& sc = periph.softc<PassSoftc>();
  std::shared_ptr<devfs::Node> node;
  {
    std::lock_guard lock(sc.lock);
    sc.invalid = true;
    node = sc.node;
  }
  // Asynchronous: we run on the event thread and threads may be inside a command.
  m_devfs.destroy_node_async(node);
}

void PassDriver::destroy(cam::Periph& periph) {
  auto& sc = periph.softc<PassSoftc>();
  std::lock_guard lock(sc.lock);
  if (sc.open_count != 0) {
    log_error("{}: destroyed with {} opens outstanding", periph.name(), sc.open_count);
  }
}

Result<void> PassDriver::open(devfs::Node& node, devfs::OpenFile& file) {
  cam::Periph& periph = periph_of(node);
  if ((file.flags() & (devfs::kOpenRead | devfs::kOpenWrite)) !=
      (devfs::kOpenRead | devfs::kOpenWrite)) {
    return fail_errno(EPERM, periph.name() + ": pass devices need read and write access");
  }
  if (!periph.acquire()) {
    return fail_errno(ENXIO, periph.name() + ": device is gone");
  }
  auto& sc = periph.softc<PassSoftc>();
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
void PassDriver::close(devfs::Node& node, devfs::OpenFile& /*file*/, devfs::CloseReason) {
  cam::Periph& periph = periph_of(node);
  {
    auto& sc = periph.softc<PassSoftc>();
    std::lock_guard lock(sc.lock);
    --sc.open_count;
  }
  periph.release();  // May free the periph only if the node's reference is gone, which it is not.
}

void PassDriver::gone(devfs::Node& node) {
  cam::Periph& periph = periph_of(node);
  periph.release();  // The node's reference; may free the periph.
}

Result<void> PassDriver::ioctl(devfs::Node& node, devfs::OpenFile& /*file*/,
                               devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  switch (request.code()) {
    case PassCommand::kCode: {
      auto& cmd = static_cast<PassCommand&>(request);
      if (cmd.cdb.empty() || cmd.cdb.size() > cam::Ccb::kMaxCdb) {
        return fail_errno(EINVAL, periph.name() + ": CDB must be 1 to 32 bytes");
      }
      if ((cmd.dir == cam::DataDir::None) != cmd.data.empty()) {
        return fail_errno(EINVAL, periph.name() + ": data direction and buffer disagree");
      }
      cam::Ccb ccb;
      ccb.path = periph.path();
      ccb.set_cdb(cmd.cdb);
      ccb.dir = cmd.dir;
      ccb.data = cmd.data.data();
      ccb.dxfer_len = static_cast<std::uint32_t>(cmd.data.size());
      ccb.timeout = cmd.timeout;
      ccb.recovery = cmd.recovery;
      ccb.retry_count = cmd.retry_count;
      periph.xpt().run_sync(ccb);
      cmd.status = ccb.status;
      cmd.scsi_status = ccb.scsi_status;
      cmd.resid = ccb.resid;
      cmd.sense.assign(ccb.sense_data.begin(), ccb.sense_data.begin() + ccb.sense_len);
      return {};
    }
    case PassGetDevice::kCode: {
      auto& get = static_cast<PassGetDevice&>(request);
      auto info = periph.xpt().device(periph.path());
      if (!info) {
        return fail_errno(ENXIO, periph.name() + ": device is gone");
      }
      get.periph_name = periph.name();
      get.device = std::move(*info);
      return {};
    }
    default:
      return fail_errno(ENOTTY, periph.name() + ": unknown ioctl");
  }
}

}  // namespace ucam::pass
