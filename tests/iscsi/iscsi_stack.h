// The stack the iSCSI SIM is tested in: an XPT, devfs, the pass and da drivers, and an IscsiSim
// logged in to a tgt peer; plus the waits the tests share.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "periphs/ch/ch.h"
#include "periphs/da/da.h"
#include "periphs/pass/pass.h"
#include "sims/iscsi/iscsi_sim.h"
#include "tests/iscsi/tgt_peer.h"
#include "tests/wait.h"

namespace ucam::testing {

// Short reconnect and loss timers so the session tests run in seconds.
inline iscsi::Config quick_config(const std::string& url) {
  iscsi::Config config;
  config.url = url;
  config.initiator_name = "iqn.2024-01.org.ucam:test";
  config.login_timeout = std::chrono::seconds(5);
  config.reconnect_min = std::chrono::milliseconds(50);
  config.reconnect_max = std::chrono::milliseconds(200);
  config.loss_timeout = std::chrono::seconds(30);
  config.initial_scan = iscsi::InitialScan::None;
  return config;
}

struct IscsiStack {
  IscsiStack() {
    cam::XptConfig config;
    config.timer_tick = std::chrono::milliseconds(5);
    config.busy_retry_delay = std::chrono::milliseconds(5);
    xpt = cam::Xpt::create(config);
    devfs = devfs::Devfs::create();
    std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
    drivers.push_back(std::make_unique<pass::PassDriver>(*devfs));
    drivers.push_back(std::make_unique<da::DaDriver>(*devfs));
    drivers.push_back(std::make_unique<ch::ChDriver>(*devfs));
    periphs = cam::PeriphManager::create(*xpt, std::move(drivers));
    events = xpt->subscribe(cam::kAllAsyncCodes, cam::Path::wildcard(),
                            [this](const cam::AsyncEvent& e) {
                              std::lock_guard lock(event_lock);
                              seen.push_back(e);
                            });
  }
  ~IscsiStack() {
    if (sim) {
      sim->stop();
    }
    xpt->drain();
    devfs->drain();
    events.reset();
    periphs.reset();
    devfs.reset();
    sim.reset();
    xpt.reset();
  }

  // Creates the SIM and scans its bus; false (with the error in `error`) if create() failed.
  bool start(const iscsi::Config& config) {
    auto created = iscsi::IscsiSim::create(*xpt, config);
    if (!created) {
      error = created.error();
      return false;
    }
    sim = std::move(*created);
    EXPECT_TRUE(xpt->scan_all());
    settle();
    return true;
  }
  void settle() {
    xpt->drain();
    devfs->drain();
    xpt->drain();
  }

  std::uint32_t bus() const { return sim->path_id().value_or(0); }
  cam::Path lun(std::uint64_t l) const { return {bus(), 0, l}; }

  std::size_t events_of(cam::AsyncCode code) {
    std::lock_guard lock(event_lock);
    std::size_t n = 0;
    for (const auto& e : seen) {
      n += e.code == code ? 1 : 0;
    }
    return n;
  }

  // A TEST UNIT READY through the XPT, synchronously.
  CamStatus tur(std::uint64_t l, cam::Recovery recovery = cam::Recovery::Standard) {
    cam::Ccb ccb;
    ccb.path = lun(l);
    const std::uint8_t cdb[6] = {};
    ccb.set_cdb(cdb);
    ccb.recovery = recovery;
    ccb.timeout = std::chrono::seconds(20);
    xpt->run_sync(ccb);
    return ccb.status;
  }

  bool wait_for_state(iscsi::SessionState state,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return wait_until([&] { return sim->describe().state == state; }, timeout);
  }

  std::unique_ptr<cam::Xpt> xpt;
  std::unique_ptr<devfs::Devfs> devfs;
  std::unique_ptr<cam::PeriphManager> periphs;
  std::unique_ptr<iscsi::IscsiSim> sim;
  std::unique_ptr<cam::Subscription> events;
  std::mutex event_lock;
  std::vector<cam::AsyncEvent> seen;
  std::optional<Error> error;
};

// TEST UNIT READY for a pass node, with the XPT's error recovery.
inline pass::PassCommand tur_command_for_pass() {
  pass::PassCommand cmd;
  cmd.cdb = {0, 0, 0, 0, 0, 0};
  cmd.recovery = cam::Recovery::Standard;
  cmd.timeout = std::chrono::seconds(20);
  return cmd;
}

// Starts a tgt peer or skips the test (GTEST_SKIP returns from the calling function).
#define UCAM_START_TGT_OR_SKIP(peer)                        \
  std::string peer##_why;                                   \
  auto peer = ::ucam::testing::TgtPeer::start(peer##_why);  \
  if (!(peer)) {                                            \
    GTEST_SKIP() << "tgt is not available: " << peer##_why; \
  }

}  // namespace ucam::testing
