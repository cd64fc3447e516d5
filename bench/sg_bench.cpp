// 4 KiB reads from a real sg device (issue 9): through ucam (da on the SG_IO SIM) against the
// bare sg interface (one ioctl(SG_IO) per read, what sg_dd does), in one process. Needs a
// Linux SCSI stack: run inside the VM by bench/sg_vm_bench.sh, which also times sg_dd and dd on
// the same scsi_debug disk in the same boot. The device is $UCAM_SG_BENCH_DEVICE (default sg0).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>

#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "periphs/da/da.h"
#include "periphs/pass/pass.h"
#include "sims/sg/sg_sim.h"

namespace ucam::bench {
namespace {

constexpr std::uint32_t kBlocks = 8;  // 4 KiB of 512-byte blocks.

struct SgFixture {
  std::unique_ptr<cam::Xpt> xpt;
  std::unique_ptr<devfs::Devfs> devfs;
  std::unique_ptr<cam::PeriphManager> periphs;
  std::unique_ptr<sg::SgSim> sim;
  std::string da;       // "da0"
  std::string sg_path;  // "/dev/sg0"
  std::uint64_t block_count = 0;

  ~SgFixture() {
    if (sim) {
      sim->stop();
    }
    if (xpt) {
      xpt->drain();
    }
    periphs.reset();
    devfs.reset();
    sim.reset();
    xpt.reset();
  }
};

SgFixture* g_fixture = nullptr;

Result<void> build(SgFixture& f, const std::string& device) {
  f.xpt = cam::Xpt::create();
  f.devfs = devfs::Devfs::create();
  std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
  drivers.push_back(std::make_unique<pass::PassDriver>(*f.devfs));
  drivers.push_back(std::make_unique<da::DaDriver>(*f.devfs));
  f.periphs = cam::PeriphManager::create(*f.xpt, std::move(drivers));
  sg::SgOptions options;
  options.filter = {device};
  options.initial_scan = sg::InitialScan::None;
  // As ucamd runs it: with the kernel's uevents, so idle devices are not watched
  // (sg::DeviceWatch::WhileBusy). $UCAM_SG_BENCH_WATCH=always watches every device.
  const char* watch = std::getenv("UCAM_SG_BENCH_WATCH");
  if (watch != nullptr && std::string_view(watch) == "always") {
    options.device_watch = sg::DeviceWatch::Always;
  }
  auto sim = sg::SgSim::create(*f.xpt, options);
  if (!sim) {
    return fail(sim.error());
  }
  f.sim = std::move(*sim);
  if (auto r = f.xpt->scan_all(); !r) {
    return r;
  }
  for (int i = 0; i < 3; ++i) {
    f.xpt->drain();
    f.devfs->drain();
  }
  const auto devices = f.sim->devices();
  if (devices.empty()) {
    return fail_errno(ENODEV, device + ": not served (see the log)");
  }
  f.sg_path = devices[0].entry.dev_path;
  for (const auto& name : f.periphs->names_for(devices[0].path)) {
    if (name.starts_with("da")) {
      f.da = name;
    }
  }
  if (f.da.empty()) {
    return fail_errno(ENODEV, device + ": no da periph (not a disk?)");
  }
  auto h = f.devfs->open(f.da);
  if (!h) {
    return fail(h.error());
  }
  da::DaGetGeometry g;
  if (auto r = h->ioctl(g); !r) {
    return r;
  }
  if (g.block_length != 512) {
    return fail_errno(EINVAL, "expects 512-byte blocks");
  }
  f.block_count = g.block_count;
  return {};
}

// Each thread reads its own stride of the disk, 4 KiB at a time, sequentially.
std::uint64_t next_lba(std::uint64_t i, int thread, std::uint64_t blocks) {
  const std::uint64_t per_thread = (blocks / kBlocks) / 8;
  return ((static_cast<std::uint64_t>(thread) * per_thread + i % per_thread) * kBlocks);
}

void BM_SgDaRead4k(benchmark::State& state) {
  auto h = g_fixture->devfs->open(g_fixture->da);
  if (!h) {
    state.SkipWithError(h.error().message().c_str());
    return;
  }
  std::vector<std::uint8_t> buffer(kBlocks * 512);
  const auto before = g_fixture->sim->stats();
  std::uint64_t i = 0;
  for (auto _ : state) {
    da::DaIo read(da::DaIo::kRead);
    read.lba = next_lba(i++, state.thread_index(), g_fixture->block_count);
    read.blocks = kBlocks;
    read.data = buffer;
    if (auto r = h->ioctl(read); !r) {
      state.SkipWithError(r.error().message().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kBlocks * 512);
  // Share of the reads completed inside action() (no thread hop), over the whole run.
  const auto after = g_fixture->sim->stats();
  const auto completed = static_cast<double>(after.completed - before.completed);
  const auto inline_done = static_cast<double>(after.completed_inline - before.completed_inline);
  state.counters["inline_pct"] = benchmark::Counter(
      completed == 0 ? 0.0 : 100.0 * inline_done / completed, benchmark::Counter::kAvgThreads);
  // Poller wake-ups for device events, per read.
  state.counters["poller_wakes"] = benchmark::Counter(
      completed == 0 ? 0.0
                     : static_cast<double>(after.device_events - before.device_events) / completed,
      benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_SgDaRead4k)->Threads(1)->Threads(4)->UseRealTime();

// The bare interface: READ(10) of 4 KiB with ioctl(SG_IO) on the same sg node.
void BM_SgIoctlRead4k(benchmark::State& state) {
  const int fd = ::open(g_fixture->sg_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError(std::strerror(errno));
    return;
  }
  std::vector<std::uint8_t> buffer(kBlocks * 512);
  std::uint8_t sense[32];
  std::uint64_t i = 0;
  for (auto _ : state) {
    const auto lba =
        static_cast<std::uint32_t>(next_lba(i++, state.thread_index(), g_fixture->block_count));
    std::uint8_t cdb[10] = {0x28,
                            0,
                            static_cast<std::uint8_t>(lba >> 24),
                            static_cast<std::uint8_t>(lba >> 16),
                            static_cast<std::uint8_t>(lba >> 8),
                            static_cast<std::uint8_t>(lba),
                            0,
                            0,
                            kBlocks,
                            0};
    sg_io_hdr_t hdr{};
    hdr.interface_id = 'S';
    hdr.dxfer_direction = SG_DXFER_FROM_DEV;
    hdr.cmd_len = sizeof cdb;
    hdr.cmdp = cdb;
    hdr.dxfer_len = static_cast<unsigned>(buffer.size());
    hdr.dxferp = buffer.data();
    hdr.mx_sb_len = sizeof sense;
    hdr.sbp = sense;
    hdr.timeout = 60000;
    if (::ioctl(fd, SG_IO, &hdr) != 0 || hdr.status != 0 || hdr.host_status != 0) {  // NOLINT
      state.SkipWithError("SG_IO failed");
      break;
    }
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kBlocks * 512);
}
BENCHMARK(BM_SgIoctlRead4k)->Threads(1)->Threads(4)->UseRealTime();

// What one clock reading costs here: the XPT reads steady_clock (clock_gettime) when the
// kernel's clocksource is not the TSC, as in an emulated guest (hpet).
void BM_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::chrono::steady_clock::now());
  }
}
BENCHMARK(BM_SteadyClockNow);

}  // namespace
}  // namespace ucam::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* device = std::getenv("UCAM_SG_BENCH_DEVICE");
  ucam::bench::SgFixture fixture;
  if (auto r = ucam::bench::build(fixture, device != nullptr ? device : "sg0"); !r) {
    std::fprintf(stderr, "sg_bench: %s\n", r.error().message().c_str());
    return 1;
  }
  ucam::bench::g_fixture = &fixture;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
