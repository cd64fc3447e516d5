#include "stack/stack.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "periphs/ch/ch.h"
#include "periphs/da/da.h"
#include "periphs/pass/pass.h"
#include "periphs/pt/pt.h"
#include "periphs/sg/sg.h"

namespace ucam {

Result<std::unique_ptr<Stack>> Stack::create(std::vector<SimSpec> sims, StackOptions options) {
  if (std::count_if(sims.begin(), sims.end(),
                    [](const SimSpec& s) { return std::holds_alternative<EmuSpec>(s); }) > 1) {
    return fail_invalid("at most one emulated SIM per stack (the emu.* methods address its buses)");
  }
  std::unique_ptr<Stack> stack(new Stack());
  stack->m_xpt = cam::Xpt::create(options.xpt);
  stack->m_devfs = devfs::Devfs::create();
  // The driver table: explicit and ordered (attach order, and the order of periph names).
  std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
  drivers.push_back(std::make_unique<pass::PassDriver>(*stack->m_devfs));
  drivers.push_back(std::make_unique<da::DaDriver>(*stack->m_devfs));
  drivers.push_back(std::make_unique<pt::PtDriver>(*stack->m_devfs));
  drivers.push_back(std::make_unique<ch::ChDriver>(*stack->m_devfs));
  drivers.push_back(std::make_unique<enc::EncDriver>(*stack->m_devfs, options.enc));
  // Last, so that a device's names read "pass0,da0,sg0": tools (ucamctl enc show, like
  // sesutil) show the first name that is not pass as the disk's.
  drivers.push_back(std::make_unique<sgp::SgDriver>(*stack->m_devfs));
  stack->m_periphs = cam::PeriphManager::create(*stack->m_xpt, std::move(drivers));
  std::uint32_t iscsi_unit = 0;
  for (auto& spec : sims) {
    if (auto* iscsi = std::get_if<IscsiSpec>(&spec)) {
      iscsi->config.unit = iscsi_unit++;  // iscsi0, iscsi1, ... in the order described.
    }
    auto transport = create_transport(spec, *stack->m_xpt);
    if (!transport) {
      return fail(transport.error());  // ~Stack stops the transports created so far.
    }
    if (auto* e = (*transport)->emulator()) {
      stack->m_emulator = e;
    }
    stack->m_transports.push_back(std::move(*transport));
  }
  if (auto r = stack->m_xpt->scan_all(); !r) {
    return fail(r.error());
  }
  stack->settle();
  return stack;
}

Result<std::unique_ptr<Stack>> Stack::create_emulated(const emu::Scenario& scenario,
                                                      StackOptions options) {
  std::vector<SimSpec> sims;
  sims.emplace_back(EmuSpec{scenario.name, scenario});
  return create(std::move(sims), std::move(options));
}

std::vector<TransportInfo> Stack::transports() const {
  std::vector<TransportInfo> out;
  out.reserve(m_transports.size());
  for (const auto& t : m_transports) {
    out.push_back(t->describe());
  }
  return out;
}

void Stack::stop_sims() {
  for (auto& t : m_transports) {
    t->stop();
  }
  if (m_xpt) {
    m_xpt->drain();
  }
}

Stack::~Stack() {
  stop_sims();
  m_periphs.reset();
  m_devfs.reset();
  m_emulator = nullptr;
  m_transports.clear();
  m_xpt.reset();
}

void Stack::settle() {
  // Node destruction can free periphs whose replacement attaches through an event, and events
  // can request scans: go round until a pass finds everything idle.
  for (int i = 0; i < 3; ++i) {
    m_xpt->drain();
    m_devfs->drain();
    m_periphs->settle(std::chrono::seconds(30));  // Enclosures' first refresh (boot hold).
  }
  m_xpt->drain();
}

Result<std::string> Stack::resolve(std::string_view name) {
  if (name.starts_with("/dev/")) {
    name.remove_prefix(5);
  }
  const auto colon = std::count(name.begin(), name.end(), ':');
  if (colon == 2) {
    cam::Path path;
    const char* p = name.data();
    const char* end = name.data() + name.size();
    auto r1 = std::from_chars(p, end, path.bus);
    auto r2 =
        r1.ec == std::errc() && *r1.ptr == ':' ? std::from_chars(r1.ptr + 1, end, path.target) : r1;
    auto r3 = r2.ec == std::errc() && r2.ptr != r1.ptr && *r2.ptr == ':'
                  ? std::from_chars(r2.ptr + 1, end, path.lun)
                  : r2;
    if (r3.ec != std::errc() || r3.ptr != end || r3.ptr == r2.ptr) {
      return fail_invalid("'" + std::string(name) + "': expected bus:target:lun, e.g. 0:1:0");
    }
    for (const auto& n : m_periphs->names_for(path)) {
      if (n.starts_with("pass")) {
        return n;
      }
    }
    return fail(
        Error::described(ENXIO, std::string(name) + ": no device at " + cam::to_string(path)));
  }
  for (const auto& n : m_devfs->names()) {
    if (n == name) {
      return n;
    }
  }
  return fail(
      Error::described(ENOENT, std::string(name) + ": no such device (see 'ucamctl devlist')"));
}

namespace {
// "pass12" -> "pass": the driver part of a periph name.
std::string_view driver_of(std::string_view periph_name) {
  const auto digits = periph_name.find_last_not_of("0123456789");
  return periph_name.substr(0, digits == std::string_view::npos ? 0 : digits + 1);
}
}  // namespace

Result<std::string> Stack::resolve_driver(std::string_view name, std::string_view driver) {
  auto node = resolve(name);
  if (!node || driver_of(*node) == driver) {
    return node;
  }
  for (const auto& p : m_periphs->periphs()) {
    if (p.name == *node && !p.invalid) {
      for (const auto& n : m_periphs->names_for(p.path)) {
        if (driver_of(n) == driver) {
          return n;
        }
      }
    }
  }
  return fail(Error::described(ENXIO, *node + ": no " + std::string(driver) + " device for it"));
}

Result<std::string> Stack::resolve_pass(std::string_view name) {
  return resolve_driver(name, "pass");
}

Result<std::string> Stack::resolve_pt(std::string_view name) {
  return resolve_driver(name, "pt");
}

Result<std::string> Stack::resolve_ch(std::string_view name) {
  return resolve_driver(name, "ch");
}

Result<emu::Scenario> load_scenario(std::string_view spec) {
  auto loaded = emu_spec(spec);
  if (!loaded) {
    return fail(loaded.error());
  }
  return std::move(loaded->scenario);
}

}  // namespace ucam
