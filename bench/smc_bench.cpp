// Media changers (issue 10): decoding READ ELEMENT STATUS of a 1,000-slot library (what
// `ucamctl ch status` decodes per read), and the status through the ch driver on the emulated
// builtin:library-1000 (the SCSI round trips, paging and decoding included).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "periphs/ch/ch.h"
#include "scsi/smc.h"
#include "stack/stack.h"

namespace ucam {
namespace {

namespace smc = scsi::smc;

std::vector<std::uint8_t> library_report() {
  smc::ElementStatusData data;
  smc::ElementStatusPage page;
  page.type = smc::ElementType::Storage;
  page.pvoltag = true;
  for (std::uint16_t i = 0; i < 1000; ++i) {
    smc::ElementDescriptor d;
    d.address = static_cast<std::uint16_t>(0x1000 + i);
    d.access = true;
    d.full = i < 900;
    if (d.full) {
      d.primary_tag = smc::VolumeTag{fmt::format("UCAM{:03}L6", i + 1), 0};
    }
    page.descriptors.push_back(std::move(d));
  }
  data.pages.push_back(std::move(page));
  auto bytes = smc::encode_element_status_data(data);
  return bytes ? std::move(*bytes) : std::vector<std::uint8_t>();
}

void BM_SmcDecode1000Slots(benchmark::State& state) {
  const auto bytes = library_report();
  for (auto _ : state) {
    auto parsed = smc::parse_element_status_data(Bytes(bytes), smc::Dvcid::NotRequested);
    benchmark::DoNotOptimize(parsed);
  }
  state.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_SmcDecode1000Slots);

void BM_ChStatusLibrary1000(benchmark::State& state) {
  auto scenario = load_scenario("builtin:library-1000");
  if (!scenario) {
    state.SkipWithError(scenario.error().message().c_str());
    return;
  }
  auto stack = Stack::create_emulated(*scenario);
  if (!stack) {
    state.SkipWithError(stack.error().message().c_str());
    return;
  }
  auto h = (*stack)->devfs().open("ch0");
  if (!h) {
    state.SkipWithError(h.error().message().c_str());
    return;
  }
  for (auto _ : state) {
    ch::ChGetElementStatus get;
    auto r = h->ioctl(get);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(get);
  }
}
BENCHMARK(BM_ChStatusLibrary1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ucam
