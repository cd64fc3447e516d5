#include "stack/transport.h"

#include "sims/emu/embedded.h"
#include "sims/emu/emu.h"

namespace ucam {
namespace {

class EmuTransport final : public Transport {
 public:
  EmuTransport(std::string source, std::unique_ptr<emu::Emulator> emulator)
      : m_source(std::move(source)), m_emulator(std::move(emulator)) {}

  TransportInfo describe() const override {
    return {"emu", m_source, {{"buses", std::to_string(m_emulator->bus_count())}}};
  }
  void stop() override { m_emulator->stop(); }
  emu::Emulator* emulator() override { return m_emulator.get(); }

 private:
  std::string m_source;
  std::unique_ptr<emu::Emulator> m_emulator;
};

// One factory per alternative of SimSpec.
Result<std::unique_ptr<Transport>> create(const EmuSpec& spec, cam::XptSim& xpt) {
  emu::EmulatorOptions options;
  options.initial_scan = emu::InitialScan::None;  // The Stack scans once every transport is up.
  auto emulator = emu::Emulator::create(spec.scenario, xpt, options);
  if (!emulator) {
    return fail(emulator.error());
  }
  return std::make_unique<EmuTransport>(spec.source, std::move(*emulator));
}

}  // namespace

Result<EmuSpec> emu_spec(std::string_view source) {
  Result<emu::Scenario> scenario = [&]() -> Result<emu::Scenario> {
    if (!source.starts_with("builtin:")) {
      return emu::load_scenario_file(std::string(source));
    }
    const auto name = source.substr(8);
    const auto text = emu::embedded_scenario(name);
    if (text.empty()) {
      std::string known;
      for (const auto& n : emu::embedded_scenario_names()) {
        known += (known.empty() ? "" : ", ") + std::string(n);
      }
      return fail_invalid("no built-in scenario '" + std::string(name) + "' (built in: " + known +
                          ")");
    }
    return emu::parse_scenario(text, std::string(source));
  }();
  if (!scenario) {
    return fail(scenario.error());
  }
  return EmuSpec{std::string(source), std::move(*scenario)};
}

Result<std::unique_ptr<Transport>> create_transport(const SimSpec& spec, cam::XptSim& xpt) {
  return std::visit([&](const auto& s) { return create(s, xpt); }, spec);
}

std::string kind_of(const SimSpec& spec) {
  struct Kind {
    std::string operator()(const EmuSpec&) const { return "emu"; }
  };
  return std::visit(Kind{}, spec);
}

}  // namespace ucam
