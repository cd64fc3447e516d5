// An XptSim that stands between a SIM and the real XPT and records what the XPT asks of each
// bus it registers: every CCB handed to Sim::action() (path and opcode). It registers a proxy
// Sim per bus that forwards everything, so the test sees exactly the commands that reach the
// SIM, including those the SIM answers itself without reaching the kernel (SelTimeout for a
// target without sg devices), and can call the SIM's path_inquiry() now, not only as the XPT
// cached it at registration.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "cam/sim.h"
#include "cam/xpt_sim.h"

namespace ucam::sg::testing {

struct RecordedCcb {
  cam::Path path;
  std::uint8_t opcode = 0;
};

class RecordingXpt final : public cam::XptSim {
 public:
  // `xpt` must outlast this object, and this object every bus registered through it.
  explicit RecordingXpt(cam::XptSim& xpt) : m_xpt(xpt) {}
  ~RecordingXpt() = default;
  RecordingXpt(const RecordingXpt&) = delete;
  RecordingXpt& operator=(const RecordingXpt&) = delete;

  std::vector<RecordedCcb> ccbs() const {
    std::lock_guard lock(m_lock);
    return m_ccbs;
  }
  // The SIM's current answer for bus `path_id` (std::nullopt: no such bus registered here).
  std::optional<cam::PathInquiry> path_inquiry(std::uint32_t path_id) const {
    std::lock_guard lock(m_lock);
    const auto it = m_proxies.find(path_id);
    if (it == m_proxies.end()) {
      return std::nullopt;
    }
    return it->second->path_inquiry();
  }

  // --- cam::XptSim ---
  Result<std::uint32_t> register_bus(cam::Sim& sim) override {
    auto proxy = std::make_unique<Proxy>(*this, sim);
    auto id = m_xpt.register_bus(*proxy);
    if (id) {
      std::lock_guard lock(m_lock);
      m_proxies.emplace(*id, std::move(proxy));
    }
    return id;
  }
  void deregister_bus(std::uint32_t path_id) override {
    m_xpt.deregister_bus(path_id);  // The proxy stays: harmless, and freed with this object.
  }
  void done(cam::Ccb& ccb) override { m_xpt.done(ccb); }
  void done_direct(cam::Ccb& ccb) override { m_xpt.done_direct(ccb); }
  void request_rescan(const cam::Path& path) override { m_xpt.request_rescan(path); }
  void announce(cam::AsyncCode code, const cam::Path& path) override { m_xpt.announce(code, path); }
  Result<void> freeze_simq(std::uint32_t path_id) override { return m_xpt.freeze_simq(path_id); }
  Result<void> release_simq(std::uint32_t path_id) override { return m_xpt.release_simq(path_id); }

 private:
  class Proxy final : public cam::Sim {
   public:
    Proxy(RecordingXpt& owner, cam::Sim& sim) : m_owner(owner), m_sim(sim) {}
    cam::PathInquiry path_inquiry() const override { return m_sim.path_inquiry(); }
    void action(cam::Ccb& ccb) override {
      {
        std::lock_guard lock(m_owner.m_lock);
        m_owner.m_ccbs.push_back({ccb.path, ccb.cdb_len > 0 ? ccb.cdb[0] : std::uint8_t{0}});
      }
      m_sim.action(ccb);
    }
    bool abort(cam::Ccb& ccb) override { return m_sim.abort(ccb); }
    void poll() override { m_sim.poll(); }
    std::optional<std::vector<std::uint32_t>> list_targets() const override {
      return m_sim.list_targets();
    }

   private:
    RecordingXpt& m_owner;
    cam::Sim& m_sim;
  };

  cam::XptSim& m_xpt;
  mutable std::mutex m_lock;
  std::map<std::uint32_t, std::unique_ptr<Proxy>> m_proxies;  // Guarded by m_lock.
  std::vector<RecordedCcb> m_ccbs;                            // Guarded by m_lock.
};

}  // namespace ucam::sg::testing
