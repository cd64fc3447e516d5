// A fake XptSim for emulator tests: records bus registrations, rescans, announcements and
// completions, and lets a test wait for completions with a deadline (no sleeps).
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "cam/xpt_sim.h"

namespace ucam::emu::testing {

using namespace std::chrono_literals;

class FakeXpt final : public cam::XptSim {
 public:
  struct Announcement {
    cam::AsyncCode code;
    cam::Path path;
  };

  // --- XptSim ---
  Result<std::uint32_t> register_bus(cam::Sim& sim) override {
    std::lock_guard lock(m_lock);
    if (m_refuse_registration) {
      return fail_errno(12 /* ENOMEM */, "fake xpt: registration refused");
    }
    const std::uint32_t id = m_next_path_id++;
    m_buses[id] = &sim;
    m_registrations.push_back(id);
    return id;
  }
  void deregister_bus(std::uint32_t path_id) override {
    std::lock_guard lock(m_lock);
    m_buses.erase(path_id);
    m_deregistrations.push_back(path_id);
  }
  // Runs the CCB's callback first, then records the completion: once a waiter can see it, the
  // fake no longer touches the CCB (only its address), so the waiter may free it at once.
  void done(cam::Ccb& ccb) override {
    const cam::CcbDone callback = ccb.done;
    void* const arg = ccb.done_arg;
    if (callback != nullptr) {
      callback(ccb, arg);
    }
    {
      std::lock_guard lock(m_lock);
      ++m_done_count[&ccb];
      ++m_total_done;
    }
    m_changed.notify_all();
  }
  void request_rescan(const cam::Path& path) override {
    std::lock_guard lock(m_lock);
    m_rescans.push_back(path);
  }
  void announce(cam::AsyncCode code, const cam::Path& path) override {
    std::lock_guard lock(m_lock);
    m_announcements.push_back({code, path});
  }
  // The emulator never freezes its queue; the fake only keeps the count.
  Result<void> freeze_simq(std::uint32_t path_id) override {
    std::lock_guard lock(m_lock);
    ++m_simq_freezes[path_id];
    return {};
  }
  Result<void> release_simq(std::uint32_t path_id) override {
    std::lock_guard lock(m_lock);
    if (m_simq_freezes[path_id] == 0) {
      return fail_errno(EINVAL, "fake xpt: SIM queue is not frozen");
    }
    --m_simq_freezes[path_id];
    return {};
  }

  // --- Test controls and observations ---
  void refuse_registration(bool refuse) {
    std::lock_guard lock(m_lock);
    m_refuse_registration = refuse;
  }
  // Path ids start above 0 so that tests notice scenario bus numbers used as path ids.
  void set_next_path_id(std::uint32_t id) {
    std::lock_guard lock(m_lock);
    m_next_path_id = id;
  }

  // Times done() was called for `ccb`.
  int done_count(const cam::Ccb& ccb) const {
    std::lock_guard lock(m_lock);
    const auto it = m_done_count.find(&ccb);
    return it == m_done_count.end() ? 0 : it->second;
  }
  std::uint64_t total_done() const {
    std::lock_guard lock(m_lock);
    return m_total_done;
  }
  // Forgets `ccb` (before reusing it).
  void forget(const cam::Ccb& ccb) {
    std::lock_guard lock(m_lock);
    m_done_count.erase(&ccb);
  }
  // Waits until done() ran for `ccb`, or `timeout` passed.
  bool wait_done(const cam::Ccb& ccb, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(m_lock);
    return m_changed.wait_for(lock, timeout, [&] { return m_done_count.count(&ccb) != 0; });
  }
  bool wait_total_done(std::uint64_t total, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(m_lock);
    return m_changed.wait_for(lock, timeout, [&] { return m_total_done >= total; });
  }

  std::vector<std::uint32_t> registrations() const {
    std::lock_guard lock(m_lock);
    return m_registrations;
  }
  std::vector<std::uint32_t> deregistrations() const {
    std::lock_guard lock(m_lock);
    return m_deregistrations;
  }
  std::vector<cam::Path> rescans() const {
    std::lock_guard lock(m_lock);
    return m_rescans;
  }
  void clear_rescans() {
    std::lock_guard lock(m_lock);
    m_rescans.clear();
  }
  std::vector<Announcement> announcements() const {
    std::lock_guard lock(m_lock);
    return m_announcements;
  }
  cam::Sim* bus(std::uint32_t path_id) const {
    std::lock_guard lock(m_lock);
    const auto it = m_buses.find(path_id);
    return it == m_buses.end() ? nullptr : it->second;
  }
  std::size_t registered_buses() const {
    std::lock_guard lock(m_lock);
    return m_buses.size();
  }

 private:
  mutable std::mutex m_lock;
  std::condition_variable m_changed;
  bool m_refuse_registration = false;
  std::uint32_t m_next_path_id = 7;
  std::map<std::uint32_t, cam::Sim*> m_buses;
  std::vector<std::uint32_t> m_registrations;
  std::vector<std::uint32_t> m_deregistrations;
  std::vector<cam::Path> m_rescans;
  std::vector<Announcement> m_announcements;
  std::map<const cam::Ccb*, int> m_done_count;
  std::map<std::uint32_t, std::uint32_t> m_simq_freezes;
  std::uint64_t m_total_done = 0;
};

}  // namespace ucam::emu::testing
