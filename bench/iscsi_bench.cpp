// TEST UNIT READY round trips to tgt on loopback: through ucam (Xpt::run_sync -> the iSCSI SIM
// -> libiscsi's async API) against a bare libiscsi loop (iscsi_testunitready_sync), one command
// at a time, on the same tgt in the same run. tgt is started through the peers script (or
// reused on UCAM_TGT_PORT); without it both benchmarks skip with the reason.
#include <benchmark/benchmark.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <time.h>

#include <chrono>
#include <memory>
#include <string>

#include "cam/xpt.h"
#include "sims/iscsi/iscsi_sim.h"
#include "tests/iscsi/tgt_peer.h"

namespace ucam::bench {
namespace {

constexpr int kDiskLun = 1;

// One tgt for the whole run, stopped at exit.
testing::TgtPeer* peer(std::string& why) {
  static std::string s_why;
  static std::unique_ptr<testing::TgtPeer> s_peer = testing::TgtPeer::start(s_why);
  why = s_why;
  return s_peer.get();
}

void BM_IscsiTurBareLibiscsi(benchmark::State& state) {
  std::string why;
  auto* tgt = peer(why);
  if (tgt == nullptr) {
    state.SkipWithError(("tgt is not available: " + why).c_str());
    return;
  }
  iscsi_context* context = iscsi_create_context("iqn.2024-01.org.ucam:bench-bare");
  iscsi_set_targetname(context, tgt->iqn().c_str());
  iscsi_set_session_type(context, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(context, ISCSI_HEADER_DIGEST_NONE);
  iscsi_set_reconnect_max_retries(context, 0);
  const std::string portal = "127.0.0.1:" + std::to_string(tgt->port());
  if (iscsi_full_connect_sync(context, portal.c_str(), kDiskLun) != 0) {
    state.SkipWithError(iscsi_get_error(context));
    iscsi_destroy_context(context);
    return;
  }
  std::int64_t failed = 0;
  for (auto _ : state) {
    scsi_task* task = iscsi_testunitready_sync(context, kDiskLun);
    if (task == nullptr || task->status != SCSI_STATUS_GOOD) {
      ++failed;
    }
    if (task != nullptr) {
      scsi_free_scsi_task(task);
    }
  }
  if (failed > 1) {  // The first may carry the new session's UNIT ATTENTION.
    state.SkipWithError("TEST UNIT READY failed");
  }
  iscsi_logout_sync(context);
  iscsi_destroy_context(context);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IscsiTurBareLibiscsi)->UseRealTime();

void BM_IscsiTurThroughUcam(benchmark::State& state) {
  std::string why;
  auto* tgt = peer(why);
  if (tgt == nullptr) {
    state.SkipWithError(("tgt is not available: " + why).c_str());
    return;
  }
  auto xpt = cam::Xpt::create();
  iscsi::Config config;
  config.url = tgt->url();
  config.initiator_name = "iqn.2024-01.org.ucam:bench-ucam";
  config.initial_scan = iscsi::InitialScan::None;
  auto sim = iscsi::IscsiSim::create(*xpt, config);
  if (!sim) {
    state.SkipWithError(sim.error().message().c_str());
    return;
  }
  (void)xpt->scan_all();  // Finds the disk (and takes the session's UNIT ATTENTIONs).
  xpt->drain();
  cam::Ccb ccb;
  ccb.path = {*(*sim)->path_id(), 0, kDiskLun};
  const std::uint8_t cdb[6] = {};
  ccb.set_cdb(cdb);
  ccb.recovery = cam::Recovery::None;
  std::int64_t failed = 0;
  for (auto _ : state) {
    xpt->run_sync(ccb);
    failed += ccb.status == CamStatus::ReqCmp ? 0 : 1;
  }
  if (failed > 0) {
    state.SkipWithError("TEST UNIT READY failed");
  }
  (*sim)->stop();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IscsiTurThroughUcam)->UseRealTime();

// Both paths in one benchmark, alternating blocks of kBlock round trips, so load from other
// processes falls on both alike: real time and process CPU time (all threads: the SIM's loop
// included) per round trip, and the ratios ucam / bare.
void BM_IscsiTurPaired(benchmark::State& state) {
  constexpr int kBlock = 250;
  std::string why;
  auto* tgt = peer(why);
  if (tgt == nullptr) {
    state.SkipWithError(("tgt is not available: " + why).c_str());
    return;
  }
  iscsi_context* context = iscsi_create_context("iqn.2024-01.org.ucam:bench-paired");
  iscsi_set_targetname(context, tgt->iqn().c_str());
  iscsi_set_session_type(context, ISCSI_SESSION_NORMAL);
  iscsi_set_reconnect_max_retries(context, 0);
  const std::string portal = "127.0.0.1:" + std::to_string(tgt->port());
  if (iscsi_full_connect_sync(context, portal.c_str(), kDiskLun) != 0) {
    state.SkipWithError(iscsi_get_error(context));
    iscsi_destroy_context(context);
    return;
  }
  auto xpt = cam::Xpt::create();
  iscsi::Config config;
  config.url = tgt->url();
  config.initiator_name = "iqn.2024-01.org.ucam:bench-ucam";
  config.initial_scan = iscsi::InitialScan::None;
  auto sim = iscsi::IscsiSim::create(*xpt, config);
  if (!sim) {
    state.SkipWithError(sim.error().message().c_str());
    iscsi_destroy_context(context);
    return;
  }
  (void)xpt->scan_all();
  xpt->drain();
  cam::Ccb ccb;
  ccb.path = {*(*sim)->path_id(), 0, kDiskLun};
  const std::uint8_t cdb[6] = {};
  ccb.set_cdb(cdb);
  ccb.recovery = cam::Recovery::None;

  using Clock = std::chrono::steady_clock;
  const auto cpu_now = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  };
  double bare_real = 0, bare_cpu = 0, ucam_real = 0, ucam_cpu = 0;
  std::int64_t failed = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    double c0 = cpu_now();
    for (int i = 0; i < kBlock; ++i) {
      scsi_task* task = iscsi_testunitready_sync(context, kDiskLun);
      failed += task == nullptr || task->status != SCSI_STATUS_GOOD ? 1 : 0;
      if (task != nullptr) {
        scsi_free_scsi_task(task);
      }
    }
    bare_real += std::chrono::duration<double>(Clock::now() - t0).count();
    bare_cpu += cpu_now() - c0;
    t0 = Clock::now();
    c0 = cpu_now();
    for (int i = 0; i < kBlock; ++i) {
      xpt->run_sync(ccb);
      failed += ccb.status == CamStatus::ReqCmp ? 0 : 1;
    }
    ucam_real += std::chrono::duration<double>(Clock::now() - t0).count();
    ucam_cpu += cpu_now() - c0;
  }
  if (failed > 1) {
    state.SkipWithError("TEST UNIT READY failed");
  }
  const double n = static_cast<double>(state.iterations()) * kBlock;
  state.counters["bare_us"] = bare_real / n * 1e6;
  state.counters["ucam_us"] = ucam_real / n * 1e6;
  state.counters["ratio"] = ucam_real / bare_real;
  state.counters["bare_cpu_us"] = bare_cpu / n * 1e6;
  state.counters["ucam_cpu_us"] = ucam_cpu / n * 1e6;
  state.counters["cpu_ratio"] = ucam_cpu / bare_cpu;
  (*sim)->stop();
  iscsi_logout_sync(context);
  iscsi_destroy_context(context);
}
BENCHMARK(BM_IscsiTurPaired)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ucam::bench
