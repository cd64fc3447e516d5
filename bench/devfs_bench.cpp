// open + close pairs on one pass node (track-close: a periph reference per open).
#include <benchmark/benchmark.h>

#include "stack/stack.h"

namespace ucam::bench {
namespace {

Stack& stack() {
  static auto s = [] {
    auto scenario = load_scenario("builtin:default");
    return std::move(*Stack::create_emulated(*scenario));
  }();
  return *s;
}

void BM_OpenClosePass(benchmark::State& state) {
  auto& s = stack();
  for (auto _ : state) {
    auto h = s.devfs().open("pass0");
    if (!h) {
      state.SkipWithError("open failed");
      break;
    }
    (void)h->close();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenClosePass)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace ucam::bench
