// Enclosure refreshes: one 102-slot enclosure (pages 0x02 and 0x0A read, and 0x07 once per
// configuration; decoded, diffed against the cache, physical paths matched and published), and a
// poll round over 200 enclosures of 60 slots. Also counts RECEIVE DIAGNOSTIC RESULTS commands
// per refresh. BM_EmuSesPage102 times the emulated enclosure's side alone (one page, encoded
// after a change or answered again), so the driver's part of a refresh is the refresh's CPU
// time less the pages it read.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include "periphs/enc/enc.h"
#include "sims/emu/models/ses_config.h"
#include "sims/emu/models/ses_enclosure.h"
#include "stack/stack.h"

namespace ucam::bench {
namespace {

// `enclosures` buses, each with `slots` disks and one SES enclosure holding them all.
std::string jbod_scenario(int enclosures, int slots) {
  std::string buses;
  for (int b = 0; b < enclosures; ++b) {
    std::string targets;
    for (int t = 0; t < slots; ++t) {
      targets +=
          fmt::format(R"({{"id": {}, "luns": [{{"type": "disk", "capacity": 1000000}}]}},)", t);
    }
    buses += fmt::format(
        R"({}{{"max_target": {}, "targets": [{}
          {{"id": {}, "luns": [{{"type": "ses", "enclosure": "jbod{}",
            "elements": {{"slots": {{"count": {}, "descriptor": "Slot {{:03}}", "disks": "auto"}},
                          "power_supplies": {{"count": 2}}, "fans": {{"count": 4, "rpm": 5000}},
                          "temperature_sensors": {{"count": 3, "celsius": 30}}}}}}]}}]}})",
        b == 0 ? "" : ",", slots, targets, slots, b, slots);
  }
  return R"({"name": "bench", "buses": [)" + buses + "]}";
}

// CPU time of the whole process (every thread), in milliseconds.
double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

struct Jbods {
  std::unique_ptr<Stack> stack;
  std::vector<devfs::FileHandle> handles;
  Jbods(int enclosures, int slots) {
    auto scenario = emu::parse_scenario(jbod_scenario(enclosures, slots), "bench");
    if (!scenario) {
      throw std::runtime_error(scenario.error().message());
    }
    StackOptions options;
    options.enc.poll_interval = std::chrono::hours(1);  // Only our refreshes.
    stack = std::move(*Stack::create_emulated(*scenario, options));
    for (const auto& name : stack->devfs().names()) {
      if (name.starts_with("ses")) {
        handles.push_back(std::move(*stack->devfs().open(name)));
      }
    }
  }
  std::uint64_t commands() {
    std::uint64_t total = 0;
    for (auto& h : handles) {
      enc::EncGetState get;
      (void)h.ioctl(get);
      total += get.state->commands;
    }
    return total;
  }
};

// Refreshes the first enclosure of `j` once per iteration, each after `change()` (false stops
// the run), and reports the process's CPU and the commands per refresh.
template <class Change>
void run_refreshes(benchmark::State& state, Jbods& j, Change change) {
  const auto before = j.commands();
  const double cpu_before = process_cpu_ms();
  for (auto _ : state) {
    if (!change()) {
      break;
    }
    enc::EncRefresh refresh;
    if (!j.handles[0].ioctl(refresh)) {
      state.SkipWithError("refresh failed");
      break;
    }
  }
  state.counters["process_cpu_us_per_refresh"] =
      (process_cpu_ms() - cpu_before) * 1e3 / static_cast<double>(state.iterations());
  state.counters["commands_per_refresh"] =
      static_cast<double>(j.commands() - before) / static_cast<double>(state.iterations());
}

void BM_EncRefresh102Slots(benchmark::State& state) {
  Jbods j(1, 102);
  if (j.handles.size() != 1) {
    state.SkipWithError("no enclosure");
    return;
  }
  run_refreshes(state, j, [] { return true; });
}
BENCHMARK(BM_EncRefresh102Slots)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The emulated 102-slot enclosure of BM_EncRefresh102Slots (every slot holds a disk's SAS
// address), answering RECEIVE DIAGNOSTIC RESULTS for page state.range(0). With
// state.range(1) = 1 the disk of slot 0 is pulled and put back before each read (a change that
// drops every encoded page), so the page is encoded (what a real enclosure's firmware does);
// with 0 nothing changes and the enclosure answers with the page it encoded before.
void BM_EmuSesPage102(benchmark::State& state) {
  auto scenario = emu::parse_scenario(jbod_scenario(1, 102), "bench");
  if (!scenario) {
    state.SkipWithError(scenario.error().message().c_str());
    return;
  }
  const emu::LunSpec* spec = nullptr;
  for (const auto& t : scenario->buses.at(0).targets) {
    for (const auto& l : t.luns) {
      if (l.config_as<emu::SesModelConfig>() != nullptr) {
        spec = &l;
      }
    }
  }
  if (spec == nullptr) {
    state.SkipWithError("no enclosure");
    return;
  }
  std::vector<emu::SlotContent> slots(102);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].sas_address = 0x5000c50000000000ULL + i;
  }
  auto enclosure = emu::SesEnclosure::create(
      "jbod0", *spec->config_as<emu::SesModelConfig>(),
      emu::SesEnclosure::Identity{spec->vendor, spec->product, spec->revision, spec->naa}, slots);
  if (!enclosure) {
    state.SkipWithError(enclosure.error().message().c_str());
    return;
  }
  const auto page = static_cast<std::uint8_t>(state.range(0));
  const bool change = state.range(1) != 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    if (change) {
      (void)(*enclosure)->pull(0);
      (void)(*enclosure)->insert(0, slots[0]);
    }
    auto data = (*enclosure)->status_page(page, 0);
    bytes = data ? data->size() : 0;
    benchmark::DoNotOptimize(data);
  }
  state.counters["page_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EmuSesPage102)
    ->ArgNames({"page", "changed"})
    ->ArgsProduct({{0x02, 0x07, 0x0a}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// BM_EncRefresh102Slots where one element's status changes before every refresh: the status
// page is new each time (and the emulator encodes its pages again), the rest is as before.
void BM_EncRefresh102SlotsOneChange(benchmark::State& state) {
  Jbods j(1, 102);
  if (j.handles.size() != 1) {
    state.SkipWithError("no enclosure");
    return;
  }
  auto* emulator = j.stack->emulator();
  const auto psu = emu::EnclosureElement::of(scsi::ses::ElementType::PowerSupply, 0);
  std::uint8_t code = 1;
  run_refreshes(state, j, [&] {
    code = code == 1 ? 3 : 1;  // OK <-> Noncritical.
    if (!emulator->set_element_status("jbod0", psu, {code, 0, 0, 0})) {
      state.SkipWithError("no power supply");
      return false;
    }
    return true;
  });
}
BENCHMARK(BM_EncRefresh102SlotsOneChange)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_EncPollRound200x60(benchmark::State& state) {
  Jbods j(200, 60);
  if (j.handles.size() != 200) {
    state.SkipWithError("expected 200 enclosures");
    return;
  }
  const auto before = j.commands();
  const double cpu_before = process_cpu_ms();
  for (auto _ : state) {
    std::vector<std::thread> waiters;
    for (auto& h : j.handles) {
      waiters.emplace_back([&h] {
        enc::EncRefresh refresh;
        (void)h.ioctl(refresh);
      });
    }
    for (auto& t : waiters) {
      t.join();
    }
  }
  state.counters["process_cpu_ms_per_round"] =
      (process_cpu_ms() - cpu_before) / static_cast<double>(state.iterations());
  state.counters["commands_per_refresh"] =
      static_cast<double>(j.commands() - before) / static_cast<double>(state.iterations() * 200);
}
BENCHMARK(BM_EncPollRound200x60)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

}  // namespace
}  // namespace ucam::bench
