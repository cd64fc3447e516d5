#include "stack/transport.h"

#include <fmt/format.h>

#include "sims/emu/embedded.h"
#include "sims/emu/emu.h"
#include "sims/iscsi/url.h"

namespace ucam {
namespace {

class EmuTransport final : public Transport {
 public:
  EmuTransport(std::string source, std::unique_ptr<emu::Emulator> emulator)
      : m_source(std::move(source)), m_emulator(std::move(emulator)) {}

  TransportInfo describe() const override {
    TransportInfo info;
    info.kind = "emu";
    info.spec = m_source;
    info.details = {{"buses", std::to_string(m_emulator->bus_count())}};
    return info;
  }
  void stop() override { m_emulator->stop(); }
  emu::Emulator* emulator() override { return m_emulator.get(); }

 private:
  std::string m_source;
  std::unique_ptr<emu::Emulator> m_emulator;
};

class SgTransport final : public Transport {
 public:
  SgTransport(std::string spec, std::unique_ptr<sg::SgSim> sim)
      : m_spec(std::move(spec)), m_sim(std::move(sim)) {}

  TransportInfo describe() const override {
    const auto stats = m_sim->stats();
    TransportInfo info;
    info.kind = "sg";
    info.spec = m_spec;
    info.details = {{"buses", std::to_string(stats.buses)},
                    {"devices", std::to_string(m_sim->devices().size())},
                    {"commands", std::to_string(stats.submitted)},
                    {"in_kernel", std::to_string(stats.in_kernel)},
                    {"rescans", std::to_string(stats.rescans)}};
    // Devices sysfs lists that could not be opened, each with the reason (EBUSY: another
    // program holds it with O_EXCL; EACCES: permissions).
    for (const auto& problem : m_sim->problems()) {
      info.problems.push_back(problem.error.message());
    }
    return info;
  }
  void stop() override { m_sim->stop(); }

 private:
  std::string m_spec;
  std::unique_ptr<sg::SgSim> m_sim;
};

class IscsiTransport final : public Transport {
 public:
  explicit IscsiTransport(std::unique_ptr<iscsi::IscsiSim> sim) : m_sim(std::move(sim)) {}

  TransportInfo describe() const override {
    const auto d = m_sim->describe();
    TransportInfo info;
    info.kind = "iscsi";
    info.spec = d.url;
    info.details = {{"state", std::string(iscsi::state_name(d.state))},
                    {"portal", d.portal},
                    {"target", d.target},
                    {"initiator", d.initiator_name},
                    {"bus", d.path_id ? std::to_string(*d.path_id) : ""},
                    {"drops", std::to_string(d.drops)},
                    {"reconnects", std::to_string(d.reconnects)},
                    {"failed_attempts", std::to_string(d.failed_attempts)},
                    {"commands", std::to_string(d.commands)}};
    if (!d.last_error.empty()) {
      info.details.emplace_back("last_error", d.last_error);
    }
    info.up = d.state == iscsi::SessionState::LoggedIn;
    return info;
  }
  void stop() override { m_sim->stop(); }

 private:
  std::unique_ptr<iscsi::IscsiSim> m_sim;
};

std::string filter_text(const std::vector<std::string>& filter) {
  return filter.empty() ? std::string("(all)") : fmt::format("{}", fmt::join(filter, ","));
}

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

Result<std::unique_ptr<Transport>> create(const SgSpec& spec, cam::XptSim& xpt) {
  sg::SgOptions options = spec.options;
  options.initial_scan = sg::InitialScan::None;
  auto sim = sg::SgSim::create(xpt, std::move(options));
  if (!sim) {
    return fail(sim.error().with_context("the SG_IO SIM"));
  }
  return std::make_unique<SgTransport>(filter_text(spec.options.filter), std::move(*sim));
}

Result<std::unique_ptr<Transport>> create(const IscsiSpec& spec, cam::XptSim& xpt) {
  iscsi::Config config = spec.config;
  config.initial_scan = iscsi::InitialScan::None;
  auto sim = iscsi::IscsiSim::create(xpt, std::move(config));
  if (!sim) {
    // The SIM's errors never hold a secret; name the target by its redacted URL.
    auto url = iscsi::parse_url(spec.config.url);
    return fail(
        sim.error().with_context(fmt::format("iSCSI {}", url ? url->redacted() : "target")));
  }
  return std::make_unique<IscsiTransport>(std::move(*sim));
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
    std::string operator()(const SgSpec&) const { return "sg"; }
    std::string operator()(const IscsiSpec&) const { return "iscsi"; }
  };
  return std::visit(Kind{}, spec);
}

std::string_view kind_name(SimConfig::Kind kind) {
  switch (kind) {
    case SimConfig::Kind::Emu:
      return "emu";
    case SimConfig::Kind::Sg:
      return "sg";
    case SimConfig::Kind::Iscsi:
      return "iscsi";
  }
  return "emu";
}

Result<SimSpec> make_spec(const SimConfig& c) {
  switch (c.kind) {
    case SimConfig::Kind::Emu: {
      auto spec = emu_spec(c.scenario);
      if (!spec) {
        return fail(spec.error());
      }
      return SimSpec(std::move(*spec));
    }
    case SimConfig::Kind::Sg: {
      SgSpec spec;
      spec.options.filter = c.filter;
      spec.options.roots = {c.sysfs_root, c.dev_root};
      return SimSpec(std::move(spec));
    }
    case SimConfig::Kind::Iscsi: {
      if (auto url = iscsi::parse_url(c.url); !url) {
        return fail(url.error().with_context("iSCSI SIM"));  // Never holds the password.
      }
      IscsiSpec spec;
      spec.config.url = c.url;
      if (!c.initiator_name.empty()) {
        spec.config.initiator_name = c.initiator_name;
      }
      spec.config.chap_user = c.chap_user;
      spec.config.chap_secret = c.chap_secret;
      spec.config.target_chap_user = c.target_chap_user;
      spec.config.target_chap_secret = c.target_chap_secret;
      if (c.login_timeout) {
        spec.config.login_timeout = *c.login_timeout;
      }
      if (c.loss_timeout) {
        spec.config.loss_timeout = *c.loss_timeout;
      }
      if (c.header_digest_crc32c) {
        spec.config.header_digest = iscsi::HeaderDigest::PreferCrc32c;
      }
      return SimSpec(std::move(spec));
    }
  }
  return fail_invalid("unknown SIM kind");
}

Result<std::vector<SimSpec>> make_specs(const std::vector<SimConfig>& configs) {
  std::vector<SimSpec> specs;
  specs.reserve(configs.size());
  for (const auto& c : configs) {
    auto spec = make_spec(c);
    if (!spec) {
      return fail(spec.error());
    }
    specs.push_back(std::move(*spec));
  }
  return specs;
}

std::string describe(const SimConfig& c) {
  switch (c.kind) {
    case SimConfig::Kind::Emu:
      return "emu " + c.scenario;
    case SimConfig::Kind::Sg:
      return "sg " + filter_text(c.filter);
    case SimConfig::Kind::Iscsi: {
      auto url = iscsi::parse_url(c.url);
      return "iscsi " + (url ? url->redacted() : std::string("(bad URL)"));
    }
  }
  return {};
}

}  // namespace ucam
