// Scan of the 10,000-LUN emulated topology (examples/big-10k.json): time, and the memory the
// device database, periphs and nodes take (RSS growth; peak RSS of the process as a bound).
#include <benchmark/benchmark.h>

#include "bench/bench_util.h"
#include "stack/stack.h"

namespace ucam::bench {
namespace {

void BM_Scan10kLuns(benchmark::State& state) {
  auto scenario = load_scenario("builtin:big-10k");
  if (!scenario) {
    state.SkipWithError(scenario.error().message().c_str());
    return;
  }
  std::size_t devices = 0;
  long grown_kib = 0;
  for (auto _ : state) {
    const long before = rss_kib();
    auto stack = Stack::create_emulated(*scenario);  // Registers, scans, attaches pass.
    devices = (*stack)->xpt().devices().size();
    grown_kib = rss_kib() - before;
    state.PauseTiming();
    stack->reset();
    state.ResumeTiming();
  }
  state.counters["devices"] = static_cast<double>(devices);
  state.counters["rss_growth_MiB"] = static_cast<double>(grown_kib) / 1024.0;
  state.counters["peak_rss_MiB"] = static_cast<double>(rss_kib("VmHWM:")) / 1024.0;
}
BENCHMARK(BM_Scan10kLuns)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace ucam::bench
