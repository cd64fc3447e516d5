#include "sims/emu/embedded.h"

#include <fmt/format.h>

#include <algorithm>

namespace ucam::emu {

// Defined in the generated embedded_scenarios.cpp.
struct EmbeddedScenario {
  std::string_view name;
  std::string_view text;
};
std::span<const EmbeddedScenario> embedded_scenarios();
std::span<const std::string_view> embedded_names();

std::string_view embedded_scenario(std::string_view name) {
  const auto all = embedded_scenarios();
  const auto it = std::find_if(all.begin(), all.end(),
                               [&](const EmbeddedScenario& s) { return s.name == name; });
  return it == all.end() ? std::string_view{} : it->text;
}

std::span<const std::string_view> embedded_scenario_names() {
  return embedded_names();
}

Result<Scenario> load_embedded_scenario(std::string_view name) {
  const std::string_view text = embedded_scenario(name);
  if (text.empty()) {
    std::string known;
    for (const auto& n : embedded_scenario_names()) {
      known += fmt::format("{}{}", known.empty() ? "" : ", ", n);
    }
    return fail_errno(2 /* ENOENT */,
                      fmt::format("emu: no embedded scenario \"{}\" (known: {})", name, known));
  }
  return parse_scenario(text, fmt::format("embedded:{}", name));
}

}  // namespace ucam::emu
