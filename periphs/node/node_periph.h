// The lifecycle every node-backed peripheral driver shares (pass, da): one devfs node per
// periph, FreeBSD's track-close reference counting, and invalidation that destroys the node.
//
// References: the node holds one from attach until devfs says it is gone; each open holds one
// until its close (every open gets exactly its own close). When the device departs the periph
// is invalidated: the node is scheduled for destruction (new opens and calls fail with ENXIO at
// once), threads inside a call finish, outstanding opens are revoked, and the periph is freed
// at its last release.
//
// A driver derives from NodePeriphDriver, says which devices it takes (matches), may extend
// the softc (make_softc) and answers ioctl().
#pragma once

#include <memory>
#include <mutex>
#include <string_view>

#include "cam/periph.h"
#include "devfs/devfs.h"

namespace ucam::periph {

struct NodeSoftc : cam::PeriphSoftc {
  std::shared_ptr<devfs::Node> node;
  std::mutex lock;
  bool invalid = false;          // Guarded by lock.
  std::uint32_t open_count = 0;  // Guarded by lock.
};

class NodePeriphDriver : public cam::PeriphDriver, public devfs::CdevSw {
 public:
  // `devfs` must outlast the driver and every node it creates.
  explicit NodePeriphDriver(devfs::Devfs& devfs) : m_devfs(devfs) {}

  // PeriphDriver.
  Result<void> attach(cam::Periph& periph) override;
  void invalidate(cam::Periph& periph) override;
  void destroy(cam::Periph& periph) override;

  // CdevSw (ioctl is the driver's).
  Result<void> open(devfs::Node& node, devfs::OpenFile& file) override;
  void close(devfs::Node& node, devfs::OpenFile& file, devfs::CloseReason reason) override;
  void gone(devfs::Node& node) override;

 protected:
  // The softc attach() installs; drivers with more state return a subclass.
  virtual std::unique_ptr<NodeSoftc> make_softc(cam::Periph& periph);
  // Whether `file`'s open mode may open the node, checked before any reference is taken.
  // Default (FreeBSD's pass): both read and write, else EPERM.
  virtual Result<void> check_open_mode(const cam::Periph& periph, const devfs::OpenFile& file);
  static cam::Periph& periph_of(devfs::Node& node) {
    return *static_cast<cam::Periph*>(node.drv1());
  }

 private:
  devfs::Devfs& m_devfs;
};

// For passthrough drivers (pass, sg): after `ccb`, a command a user sent through `periph`'s
// node, completed, posts AsyncCode::ScsiAen on its path when the command was one that changes
// state other drivers cache (SEND DIAGNOSTIC: an SES control page; WRITE BUFFER: a SAF-TE
// control) and the device took it (GOOD). The enc driver re-reads its enclosure on it, so
// `sg_ses --set=ident` through an sg node shows in the enclosure map without waiting for a poll.
void note_passthrough(cam::Periph& periph, const cam::Ccb& ccb);

}  // namespace ucam::periph
