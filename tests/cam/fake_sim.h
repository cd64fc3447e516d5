// A table-driven fake SIM for testing the XPT and the layers above it against the SIM
// contract: LUNs can be added and removed, every CDB is recorded, and outcomes can be scripted
// per LUN (check condition, busy, selection timeout, park forever, complete from a thread).
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cam/sim.h"
#include "cam/xpt_sim.h"
#include "scsi/cdb.h"
#include "scsi/inquiry.h"
#include "scsi/report_luns.h"
#include "scsi/vpd.h"

namespace ucam::testing {

class FakeSim final : public cam::Sim {
 public:
  enum class Outcome { Good, CheckCondition, Busy, SelTimeout, Park, Async };
  struct Script {
    Outcome outcome = Outcome::Good;
    std::uint8_t key = 0, asc = 0, ascq = 0;
  };

  explicit FakeSim(cam::XptSim& xpt, std::uint32_t max_target = 3)
      : m_xpt(xpt), m_max_target(max_target) {
    m_worker = std::thread([this] { worker(); });
  }
  ~FakeSim() override {
    {
      std::lock_guard lock(m_lock);
      m_stop = true;
    }
    m_cv.notify_all();
    m_worker.join();
  }

  std::uint32_t register_bus() {
    m_path_id = *m_xpt.register_bus(*this);
    return m_path_id;
  }

  void add_lun(std::uint32_t target, std::uint64_t lun, std::uint8_t type = 0,
               std::string product = "FAKEDISK") {
    std::lock_guard lock(m_lock);
    m_luns[{target, lun}] = Lun{type, std::move(product)};
  }
  void remove_lun(std::uint32_t target, std::uint64_t lun) {
    std::lock_guard lock(m_lock);
    m_luns.erase({target, lun});
  }
  // Scripts the next `count` commands (any opcode but INQUIRY/REPORT LUNS unless `all`).
  void script(std::uint32_t target, std::uint64_t lun, Script s, int count = 1) {
    std::lock_guard lock(m_lock);
    for (int i = 0; i < count; ++i) {
      m_scripts[{target, lun}].push_back(s);
    }
  }
  // Sets PathInquiry::maxio: before register_bus(), or later for device entries created since.
  void set_maxio(std::uint32_t maxio) {
    std::lock_guard lock(m_lock);
    m_maxio = maxio;
  }
  // Makes list_targets() answer `targets` (std::nullopt: the default, probe every id).
  void set_listed_targets(std::optional<std::vector<std::uint32_t>> targets) {
    std::lock_guard lock(m_lock);
    m_listed = std::move(targets);
  }
  // Makes the worker thread complete Async commands with done_direct() instead of done().
  void set_direct_completion(bool direct) {
    std::lock_guard lock(m_lock);
    m_direct = direct;
  }
  std::thread::id worker_id() const { return m_worker.get_id(); }
  // Every command action() received, in order.
  struct Command {
    cam::Path path;
    std::vector<std::uint8_t> cdb;
    std::uint32_t dxfer_len = 0;
  };
  std::vector<Command> commands() const {
    std::lock_guard lock(m_lock);
    return m_commands;
  }
  std::size_t commands_seen(std::uint8_t opcode) const {
    std::lock_guard lock(m_lock);
    std::size_t n = 0;
    for (auto op : m_seen) {
      n += op == opcode ? 1 : 0;
    }
    return n;
  }
  std::size_t parked() const {
    std::lock_guard lock(m_lock);
    return m_parked.size();
  }
  std::size_t aborts() const {
    std::lock_guard lock(m_lock);
    return m_aborts;
  }
  // Completes every parked CCB with `status` (as a SIM noticing the device left would).
  void flush_parked(CamStatus status) {
    std::vector<cam::Ccb*> ccbs;
    {
      std::lock_guard lock(m_lock);
      ccbs.swap(m_parked);
    }
    for (auto* c : ccbs) {
      c->complete_status(status);
      m_xpt.done(*c);
    }
  }

  cam::PathInquiry path_inquiry() const override {
    cam::PathInquiry inq;
    inq.sim_name = "fake";
    inq.max_target = m_max_target;
    inq.max_lun = 7;
    inq.hba_vendor = "ucam-test";
    inq.transport = "SAS";
    std::lock_guard lock(m_lock);
    inq.maxio = m_maxio;
    return inq;
  }

  std::optional<std::vector<std::uint32_t>> list_targets() const override {
    std::lock_guard lock(m_lock);
    return m_listed;
  }

  void action(cam::Ccb& ccb) override {
    std::optional<Lun> lun;
    std::optional<Script> script;
    bool target_present = false;
    std::vector<std::uint64_t> luns_on_target;
    {
      std::lock_guard lock(m_lock);
      m_seen.push_back(ccb.cdb[0]);
      auto cdb = ccb.cdb_bytes();
      m_commands.push_back({ccb.path, {cdb.begin(), cdb.end()}, ccb.dxfer_len});
      for (const auto& [key, l] : m_luns) {
        if (key.first == ccb.path.target) {
          target_present = true;
          luns_on_target.push_back(key.second);
        }
      }
      auto it = m_luns.find({ccb.path.target, ccb.path.lun});
      if (it != m_luns.end()) {
        lun = it->second;
      }
      const bool probe = ccb.cdb[0] == 0x12 || ccb.cdb[0] == 0xa0;
      auto s = m_scripts.find({ccb.path.target, ccb.path.lun});
      if (!probe && s != m_scripts.end() && !s->second.empty()) {
        script = s->second.front();
        s->second.pop_front();
      }
      if (script && script->outcome == Outcome::Park) {
        m_parked.push_back(&ccb);
        return;
      }
      if (script && script->outcome == Outcome::Async) {
        fill(ccb, lun, target_present, luns_on_target, std::nullopt);
        m_async.push_back(&ccb);
        m_cv.notify_all();
        return;
      }
    }
    fill(ccb, lun, target_present, luns_on_target, script);
    m_xpt.done(ccb);
  }

  bool abort(cam::Ccb& ccb) override {
    std::lock_guard lock(m_lock);
    ++m_aborts;
    for (auto* list : {&m_parked}) {
      for (auto it = list->begin(); it != list->end(); ++it) {
        if (*it == &ccb) {
          list->erase(it);
          return true;
        }
      }
    }
    for (auto it = m_async.begin(); it != m_async.end(); ++it) {
      if (*it == &ccb) {
        m_async.erase(it);
        return true;
      }
    }
    return false;
  }

 private:
  struct Lun {
    std::uint8_t type = 0;
    std::string product;
  };

  static void copy_in(cam::Ccb& ccb, const std::vector<std::uint8_t>& data) {
    const auto n = std::min<std::size_t>(data.size(), ccb.dxfer_len);
    if (n > 0) {
      std::memcpy(ccb.data, data.data(), n);
    }
    ccb.complete_good(static_cast<std::uint32_t>(n));
  }

  void fill(cam::Ccb& ccb, const std::optional<Lun>& lun, bool target_present,
            const std::vector<std::uint64_t>& luns, const std::optional<Script>& script) {
    if (!target_present || (script && script->outcome == Outcome::SelTimeout)) {
      ccb.complete_status(CamStatus::SelTimeout);
      return;
    }
    if (script && script->outcome == Outcome::CheckCondition) {
      const std::uint8_t sense[18] = {0x70, 0,           script->key,  0, 0, 0, 0, 10, 0, 0, 0,
                                      0,    script->asc, script->ascq, 0, 0, 0, 0};
      ccb.complete_check_condition(sense);
      return;
    }
    if (script && script->outcome == Outcome::Busy) {
      ccb.status = CamStatus::ScsiStatusError;
      ccb.scsi_status = cam::ScsiStatus::Busy;
      return;
    }
    const std::uint8_t op = ccb.cdb[0];
    if (op == 0xa0) {
      std::vector<std::uint64_t> raw;
      for (auto l : luns) {
        raw.push_back(scsi::u64_to_lun(l).raw_lun);
      }
      copy_in(ccb, scsi::encode_report_luns(raw));
      return;
    }
    if (op == 0x12) {
      if ((ccb.cdb[1] & 1) != 0) {
        if (!lun) {
          ccb.complete_status(CamStatus::ScsiStatusError);
          return;
        }
        copy_in(ccb, *scsi::encode_supported_vpd_pages({}, lun->type));
        return;
      }
      scsi::StandardInquiry inq;
      inq.vendor = "UCAM";
      if (lun) {
        inq.device_type = lun->type;
        inq.product = lun->product;
      } else {
        inq.peripheral_qualifier = scsi::kQualifierNotSupported;
        inq.device_type = 0x1f;
      }
      copy_in(ccb, *scsi::encode_standard_inquiry(inq));
      return;
    }
    if (!lun) {
      const std::uint8_t sense[18] = {0x70, 0, 0x05, 0,    0, 0, 0, 10, 0,
                                      0,    0, 0,    0x25, 0, 0, 0, 0,  0};
      ccb.complete_check_condition(sense);
      return;
    }
    ccb.complete_good(ccb.dxfer_len);
  }

  void worker() {
    std::unique_lock lock(m_lock);
    for (;;) {
      m_cv.wait(lock, [&] { return m_stop || !m_async.empty(); });
      if (m_stop) {
        return;
      }
      cam::Ccb* c = m_async.front();
      m_async.pop_front();
      const bool direct = m_direct;
      lock.unlock();  // Never call the XPT with our lock held (Sim::abort contract).
      if (direct) {
        m_xpt.done_direct(*c);
      } else {
        m_xpt.done(*c);
      }
      lock.lock();
    }
  }

  cam::XptSim& m_xpt;
  std::uint32_t m_max_target;
  std::uint32_t m_path_id = 0;
  mutable std::mutex m_lock;
  std::condition_variable m_cv;
  std::map<std::pair<std::uint32_t, std::uint64_t>, Lun> m_luns;
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::deque<Script>> m_scripts;
  std::vector<std::uint8_t> m_seen;
  std::vector<Command> m_commands;
  std::uint32_t m_maxio = 0;
  std::optional<std::vector<std::uint32_t>> m_listed;
  std::vector<cam::Ccb*> m_parked;
  std::deque<cam::Ccb*> m_async;
  std::size_t m_aborts = 0;
  bool m_direct = false;
  bool m_stop = false;
  std::thread m_worker;
};

}  // namespace ucam::testing
