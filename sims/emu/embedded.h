// The example scenarios of examples/*.json, compiled into the library (generated at build time
// by embed_scenarios.cmake), so that a default topology exists with no file at all.
#pragma once

#include <span>
#include <string_view>

#include "base/result.h"
#include "sims/emu/scenario.h"

namespace ucam::emu {

// The scenario used when none is named: examples/default.json.
inline constexpr std::string_view kDefaultScenarioName = "default";

// The JSON text of an embedded scenario by name (the file stem: "default", "big-10k"), or an
// empty view if there is none.
std::string_view embedded_scenario(std::string_view name);

// Every embedded scenario name, sorted.
std::span<const std::string_view> embedded_scenario_names();

// Parses an embedded scenario; the source name in messages is "embedded:<name>". Fails with
// ENOENT naming the known scenarios when `name` is unknown.
Result<Scenario> load_embedded_scenario(std::string_view name);

}  // namespace ucam::emu
