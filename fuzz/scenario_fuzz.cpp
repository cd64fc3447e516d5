// libFuzzer target for the emulator's scenario reader (sims/emu/scenario.h): the input is the
// text of a scenario file, as `ucamd --emulate FILE` and emu.load read it. It must parse or fail
// with an Error, never throw, crash or recurse without bound; a scenario that parses stays within
// the documented limits (buses, LUNs).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "sims/emu/scenario.h"

namespace {

using ucam::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto scenario = ucam::emu::parse_scenario(text, "fuzz");
  if (scenario) {
    check(scenario->buses.size() <= ucam::emu::kMaxScenarioBuses);
    check(scenario->lun_count() <= ucam::emu::kMaxScenarioLuns);
  }
  return 0;
}
