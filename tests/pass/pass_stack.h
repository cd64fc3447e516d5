// The stack pass is tested in: XPT, devfs, the pass driver and a fake SIM.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "periphs/pass/pass.h"
#include "tests/cam/fake_sim.h"

namespace ucam::testing {

struct PassStack {
  // Drivers to attach after pass (the lifecycle race adds pt).
  using ExtraDrivers =
      std::function<void(devfs::Devfs&, std::vector<std::unique_ptr<cam::PeriphDriver>>&)>;
  explicit PassStack(std::uint32_t max_target = 3, const ExtraDrivers& extra = {}) {
    cam::XptConfig config;
    config.timer_tick = std::chrono::milliseconds(2);
    config.busy_retry_delay = std::chrono::milliseconds(1);
    xpt = cam::Xpt::create(config);
    devfs = devfs::Devfs::create();
    sim = std::make_unique<FakeSim>(*xpt, max_target);
    std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
    drivers.push_back(std::make_unique<pass::PassDriver>(*devfs));
    if (extra) {
      extra(*devfs, drivers);
    }
    periphs = cam::PeriphManager::create(*xpt, std::move(drivers));
  }
  ~PassStack() {
    xpt->deregister_bus(bus);
    xpt->drain();
    periphs.reset();
    devfs.reset();
    sim.reset();
    xpt.reset();
  }
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

  // The lifecycle race's remover: `cycles` times, LUN 0 of a random target of `targets` departs
  // (half the departures scanned synchronously, half through the scan thread) and returns
  // through `add(target)` and a requested rescan. Call with ASSERT_NO_FATAL_FAILURE.
  void depart_and_return(std::uint32_t targets, int cycles, unsigned seed,
                         const std::function<void(std::uint32_t)>& add) {
    std::mt19937 rng(seed);
    for (int i = 0; i < cycles; ++i) {
      const auto t = static_cast<std::uint32_t>(rng() % targets);
      sim->remove_lun(t, 0);
      if (rng() % 2 == 0) {
        ASSERT_TRUE(xpt->scan({bus, t, cam::Path::kWildcardLun}));
      } else {
        xpt->request_rescan({bus, t, cam::Path::kWildcardLun});
        xpt->drain();
      }
      add(t);
      xpt->request_rescan({bus, t, cam::Path::kWildcardLun});
    }
  }
  // Rescans every target, then waits for scans, events and node destruction to finish.
  void quiesce(std::uint32_t targets) {
    for (std::uint32_t t = 0; t < targets; ++t) {
      rescan(t);
    }
    xpt->drain();
    devfs->drain();
    xpt->drain();
  }

  std::unique_ptr<cam::Xpt> xpt;
  std::unique_ptr<devfs::Devfs> devfs;
  std::unique_ptr<FakeSim> sim;
  std::unique_ptr<cam::PeriphManager> periphs;
  std::uint32_t bus = 0;
};

inline pass::PassCommand tur_command() {
  pass::PassCommand cmd;
  cmd.cdb = {0, 0, 0, 0, 0, 0};
  return cmd;
}

}  // namespace ucam::testing
