// The stack the sg driver's fake-SIM tests run in: XPT, devfs, the pass and sg drivers (two
// periphs per device, as in the real driver table) and a fake SIM.
#pragma once

#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "periphs/pass/pass.h"
#include "periphs/sg/sg.h"
#include "tests/cam/fake_sim.h"

namespace ucam::testing {

struct SgFakeStack {
  explicit SgFakeStack(std::uint32_t max_target = 3) {
    cam::XptConfig config;
    config.timer_tick = std::chrono::milliseconds(2);
    config.busy_retry_delay = std::chrono::milliseconds(1);
    xpt = cam::Xpt::create(config);
    devfs = devfs::Devfs::create();
    sim = std::make_unique<FakeSim>(*xpt, max_target);
    std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
    drivers.push_back(std::make_unique<pass::PassDriver>(*devfs));
    drivers.push_back(std::make_unique<sgp::SgDriver>(*devfs));
    periphs = cam::PeriphManager::create(*xpt, std::move(drivers));
  }
  ~SgFakeStack() {
    xpt->deregister_bus(bus);
    xpt->drain();
    periphs.reset();
    devfs.reset();
    sim.reset();
    xpt.reset();
  }
  SgFakeStack(const SgFakeStack&) = delete;
  SgFakeStack& operator=(const SgFakeStack&) = delete;

  void start() {
    bus = sim->register_bus();
    (void)xpt->scan_all();
    xpt->drain();
    devfs->drain();
  }
  void rescan(std::uint32_t target) {
    (void)xpt->scan({bus, target, cam::Path::kWildcardLun});
    xpt->drain();
  }

  std::unique_ptr<cam::Xpt> xpt;
  std::unique_ptr<devfs::Devfs> devfs;
  std::unique_ptr<FakeSim> sim;
  std::unique_ptr<cam::PeriphManager> periphs;
  std::uint32_t bus = 0;
};

// TEST UNIT READY as an SG_IO request.
inline sgp::SgIo sg_tur() {
  sgp::SgIo io;
  io.request.cdb = {0, 0, 0, 0, 0, 0};
  io.request.mx_sb_len = 32;
  return io;
}

}  // namespace ucam::testing
