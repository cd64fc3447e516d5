// A ucam stack on the SG SIM, assembled as tests/pass/pass_stack.h and stack/stack.cpp do:
// Xpt -> Devfs -> PeriphManager (pass, da) -> SgSim, torn down in the reverse order. Used by the
// host-side stack test (fake sysfs and sg layer) and by the guest test (the real kernel).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "periphs/da/da.h"
#include "periphs/pass/pass.h"
#include "sims/sg/sg_sim.h"
#include "tests/sg/recording_xpt.h"

namespace ucam::sg::testing {

// Whether the SIM talks to the XPT directly or through a RecordingXpt (recording_xpt.h).
enum class SimSide : std::uint8_t { Direct, Recorded };

struct SgStack {
  explicit SgStack(SgOptions options, cam::XptConfig config = {}, SimSide side = SimSide::Direct) {
    xpt = cam::Xpt::create(config);
    if (side == SimSide::Recorded) {
      recorder = std::make_unique<RecordingXpt>(*xpt);
    }
    devfs = devfs::Devfs::create();
    std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
    drivers.push_back(std::make_unique<pass::PassDriver>(*devfs));
    drivers.push_back(std::make_unique<da::DaDriver>(*devfs));
    periphs = cam::PeriphManager::create(*xpt, std::move(drivers));
    options.initial_scan = InitialScan::None;
    cam::XptSim& sim_side = recorder ? static_cast<cam::XptSim&>(*recorder) : *xpt;
    auto created = SgSim::create(sim_side, std::move(options));
    if (!created) {
      ADD_FAILURE() << created.error().message();
      return;
    }
    sim = std::move(*created);
    (void)xpt->scan_all();
    settle();
  }
  ~SgStack() {
    if (sim) {
      sim->stop();
    }
    xpt->drain();
    periphs.reset();
    devfs.reset();
    sim.reset();
    recorder.reset();
    xpt.reset();
  }
  SgStack(const SgStack&) = delete;
  SgStack& operator=(const SgStack&) = delete;

  // Scans, events and node destruction all idle (as Stack::settle).
  void settle() {
    for (int i = 0; i < 3; ++i) {
      xpt->drain();
      devfs->drain();
      periphs->settle(std::chrono::seconds(10));
    }
    xpt->drain();
  }

  // The periph of `prefix` ("pass", "da") on `path`, or "".
  std::string node(const cam::Path& path, const std::string& prefix) const {
    for (const auto& name : periphs->names_for(path)) {
      if (name.starts_with(prefix)) {
        return name;
      }
    }
    return {};
  }

  std::unique_ptr<cam::Xpt> xpt;
  std::unique_ptr<RecordingXpt> recorder;  // With SimSide::Recorded; outlives the SIM.
  std::unique_ptr<devfs::Devfs> devfs;
  std::unique_ptr<cam::PeriphManager> periphs;
  std::unique_ptr<SgSim> sim;
};

}  // namespace ucam::sg::testing
