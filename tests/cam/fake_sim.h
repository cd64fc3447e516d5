// A table-driven fake SIM for testing the XPT and the layers above it against the SIM
// contract: LUNs can be added and removed, every CDB is recorded, and outcomes can be scripted
// per LUN (check condition, busy, selection timeout, park forever, complete from a thread,
// complete from a thread before action() returns, hold action() until released).
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
  // Park: kept until aborted or flush_parked(). Async: completed by the worker thread.
  // AsyncBeforeReturn: completed by the worker thread while action() waits for it to finish.
  // Hold: parked, and action() does not return until release_hold().
  enum class Outcome {
    Good,
    CheckCondition,
    Busy,
    SelTimeout,
    Park,
    Async,
    AsyncBeforeReturn,
    Hold
  };
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
  // Sets PathInquiry::device_queue_depth (the XPT's openings per device): before register_bus().
  void set_queue_depth(std::uint32_t depth) {
    std::lock_guard lock(m_lock);
    m_queue_depth = depth;
  }
  // The most commands this SIM held at once: from action() until it called done() or gave the
  // command back to abort().
  std::size_t max_in_flight() const {
    std::lock_guard lock(m_lock);
    return m_max_in_flight;
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
  // While paused, the worker thread completes nothing: an Async command stays in the SIM after
  // its action() returned, until resume_worker().
  void pause_worker() {
    std::lock_guard lock(m_lock);
    m_worker_paused = true;
  }
  void resume_worker() {
    {
      std::lock_guard lock(m_lock);
      m_worker_paused = false;
    }
    m_cv.notify_all();
  }
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
  // Whether an action() is blocked in a Hold outcome.
  bool holding() const {
    std::lock_guard lock(m_lock);
    return m_holding;
  }
  // Lets every action() blocked in a Hold outcome return (and later ones not block).
  void release_hold() {
    {
      std::lock_guard lock(m_lock);
      m_hold_released = true;
    }
    m_cv.notify_all();
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
      m_in_flight -= ccbs.size();
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
    inq.device_queue_depth = m_queue_depth;
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
      std::unique_lock lock(m_lock);
      m_seen.push_back(ccb.cdb[0]);
      m_max_in_flight = std::max(m_max_in_flight, ++m_in_flight);
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
      if (script && script->outcome == Outcome::Hold) {
        m_parked.push_back(&ccb);
        m_holding = true;
        m_cv.wait(lock, [&] { return m_hold_released; });
        m_holding = false;
        return;  // The CCB may be gone: aborted meanwhile, or completed by flush_parked().
      }
      if (script &&
          (script->outcome == Outcome::Async || script->outcome == Outcome::AsyncBeforeReturn)) {
        fill(ccb, lun, target_present, luns_on_target, std::nullopt);
        const bool wait = script->outcome == Outcome::AsyncBeforeReturn;
        m_async.push_back({&ccb, wait});
        m_cv.notify_all();
        if (wait) {
          // The worker's done() returns before we do; the CCB is not ours to touch after it.
          const cam::Ccb* const key = &ccb;
          m_cv.wait(lock, [&] { return m_stop || m_completed_early.count(key) != 0; });
          m_completed_early.erase(key);
        }
        return;
      }
    }
    fill(ccb, lun, target_present, luns_on_target, script);
    {
      std::lock_guard lock(m_lock);
      --m_in_flight;
    }
    m_xpt.done(ccb);
  }

  bool abort(cam::Ccb& ccb) override {
    std::lock_guard lock(m_lock);
    ++m_aborts;
    for (auto* list : {&m_parked}) {
      for (auto it = list->begin(); it != list->end(); ++it) {
        if (*it == &ccb) {
          list->erase(it);
          --m_in_flight;
          return true;
        }
      }
    }
    for (auto it = m_async.begin(); it != m_async.end(); ++it) {
      if (it->first == &ccb) {
        m_async.erase(it);
        --m_in_flight;
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
      m_cv.wait(lock, [&] { return m_stop || (!m_worker_paused && !m_async.empty()); });
      if (m_stop) {
        return;
      }
      const auto [c, waited_for] = m_async.front();
      m_async.pop_front();
      --m_in_flight;
      const bool direct = m_direct;
      lock.unlock();  // Never call the XPT with our lock held (Sim::abort contract).
      if (direct) {
        m_xpt.done_direct(*c);
      } else {
        m_xpt.done(*c);
      }
      lock.lock();
      if (waited_for) {
        m_completed_early.insert(c);  // Only the address: its action() waits for it.
        m_cv.notify_all();
      }
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
  std::uint32_t m_queue_depth = cam::PathInquiry{}.device_queue_depth;
  std::size_t m_in_flight = 0;
  std::size_t m_max_in_flight = 0;
  std::optional<std::vector<std::uint32_t>> m_listed;
  std::vector<cam::Ccb*> m_parked;
  std::deque<std::pair<cam::Ccb*, bool>> m_async;  // And whether its action() waits for it.
  std::multiset<const cam::Ccb*> m_completed_early;
  bool m_holding = false;
  bool m_worker_paused = false;
  bool m_hold_released = false;
  std::size_t m_aborts = 0;
  bool m_direct = false;
  bool m_stop = false;
  std::thread m_worker;
};

}  // namespace ucam::testing
