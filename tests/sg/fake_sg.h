// A fake sg device layer for host-side tests of the SG SIM: each open is a pipe (the SIM polls
// its read end: a byte per finished command makes it readable, closing the write end is the
// POLLHUP of a detaching device), commands are answered by a Responder, and data moves the way
// the kernel moves it with indirect I/O: data-out is copied at submit (write), data-in and
// sense at receive (read), into the buffers named in the submitted header.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cam/ccb.h"
#include "cam/xpt_sim.h"
#include "sims/emu/emu.h"
#include "sims/sg/sg_ops.h"

namespace ucam::sg::testing {

struct FakeCommand {
  std::vector<std::uint8_t> cdb;
  int direction = SG_DXFER_NONE;
  std::uint32_t dxfer_len = 0;
  std::vector<std::uint8_t> data_out;
  unsigned timeout_ms = 0;
};

struct FakeReply {
  std::uint8_t status = 0;
  std::uint16_t host_status = 0;
  std::uint16_t driver_status = 0;
  std::optional<std::int32_t> resid;  // Default: bytes of data-in not returned.
  std::vector<std::uint8_t> data_in;
  std::vector<std::uint8_t> sense;
};

using Responder = std::function<FakeReply(const FakeCommand&)>;

class FakeSgOps final : public SgOps {
 public:
  ~FakeSgOps() override {
    std::lock_guard lock(m_lock);
    for (auto& [fd, file] : m_files) {
      ::close(fd);
      if (file.write_end >= 0) {
        ::close(file.write_end);
      }
    }
  }

  void add_node(const std::string& path, Responder responder) {
    std::lock_guard lock(m_lock);
    Node& node = m_nodes[path];
    node.responder = std::move(responder);
    node.detached = false;
  }
  void set_open_error(const std::string& path, int error) {
    std::lock_guard lock(m_lock);
    m_nodes[path].open_error = error;
  }
  void set_max_bytes(const std::string& path, int bytes) {
    std::lock_guard lock(m_lock);
    m_nodes[path].max_bytes = bytes;
  }
  // While on, commands stay in the "kernel" until release().
  void set_hold(const std::string& path, bool hold) {
    std::lock_guard lock(m_lock);
    m_nodes[path].hold = hold;
  }
  // The next `count` submits fail with `error`.
  void fail_submits(const std::string& path, int error, int count = 1) {
    std::lock_guard lock(m_lock);
    m_nodes[path].submit_error = error;
    m_nodes[path].submit_errors_left = count;
  }
  // Answers every held command of `path` now. Returns how many.
  std::size_t release(const std::string& path) {
    std::vector<std::pair<int, Pending>> work;
    Responder responder;
    {
      std::lock_guard lock(m_lock);
      for (auto& [fd, file] : m_files) {
        if (file.path != path) {
          continue;
        }
        while (!file.held.empty()) {
          work.emplace_back(fd, std::move(file.held.front()));
          file.held.pop_front();
        }
      }
      responder = m_nodes[path].responder;
    }
    for (auto& [fd, pending] : work) {
      pending.reply = responder(pending.command);
      std::lock_guard lock(m_lock);
      finish(fd, std::move(pending));
    }
    return work.size();
  }
  // The device is deleted: open descriptors report POLLHUP once their finished replies are
  // read, submits fail with ENODEV, opens with ENXIO. Held commands are answered with
  // DID_NO_CONNECT, as the midlayer fails the commands of a device it removes.
  void detach(const std::string& path) {
    std::lock_guard lock(m_lock);
    m_nodes[path].detached = true;
    for (auto& [fd, file] : m_files) {
      if (file.path != path) {
        continue;
      }
      while (!file.held.empty()) {
        Pending p = std::move(file.held.front());
        file.held.pop_front();
        p.reply.host_status = 0x01;
        finish(fd, std::move(p));
      }
      if (file.write_end >= 0) {
        ::close(file.write_end);
        file.write_end = -1;
      }
    }
  }

  std::size_t held(const std::string& path) const {
    std::lock_guard lock(m_lock);
    std::size_t n = 0;
    for (const auto& [fd, file] : m_files) {
      n += file.path == path ? file.held.size() : 0;
    }
    return n;
  }
  std::size_t open_fds() const {
    std::lock_guard lock(m_lock);
    return m_files.size();
  }
  std::size_t open_fds(const std::string& path) const {
    std::lock_guard lock(m_lock);
    return static_cast<std::size_t>(std::count_if(
        m_files.begin(), m_files.end(), [&](const auto& f) { return f.second.path == path; }));
  }
  std::vector<int> open_flags() const {
    std::lock_guard lock(m_lock);
    return m_open_flags;
  }
  std::size_t commands(const std::string& path) const {
    std::lock_guard lock(m_lock);
    const auto it = m_nodes.find(path);
    return it == m_nodes.end() ? 0 : it->second.commands;
  }
  std::vector<FakeCommand> history(const std::string& path) const {
    std::lock_guard lock(m_lock);
    const auto it = m_nodes.find(path);
    return it == m_nodes.end() ? std::vector<FakeCommand>{} : it->second.history;
  }

  // --- SgOps ---
  int open(const std::string& path, int flags) override {
    std::lock_guard lock(m_lock);
    m_open_flags.push_back(flags);
    const auto it = m_nodes.find(path);
    if (it == m_nodes.end()) {
      return -ENOENT;
    }
    if (it->second.detached) {
      return -ENXIO;
    }
    if (it->second.open_error != 0) {
      return -it->second.open_error;
    }
    int p[2];
    if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
      return -errno;
    }
    m_files[p[0]] = File{path, p[1], {}, {}};
    return p[0];
  }
  void close(int fd) override {
    std::lock_guard lock(m_lock);
    const auto it = m_files.find(fd);
    if (it == m_files.end()) {
      ADD_FAILURE() << "close of an fd the fake never opened: " << fd;
      return;
    }
    if (it->second.write_end >= 0) {
      ::close(it->second.write_end);
    }
    ::close(fd);
    m_files.erase(it);  // Replies nobody read are dropped, as the kernel drops orphans.
  }
  int submit(int fd, sg_io_hdr_t& hdr) override {
    Pending pending;
    Responder responder;
    {
      std::lock_guard lock(m_lock);
      const auto it = m_files.find(fd);
      if (it == m_files.end()) {
        ADD_FAILURE() << "submit on an fd the fake never opened (or closed): " << fd;
        return EBADF;
      }
      Node& node = m_nodes[it->second.path];
      if (node.detached) {
        return ENODEV;
      }
      if (node.submit_errors_left > 0) {
        --node.submit_errors_left;
        return node.submit_error;
      }
      pending.header = hdr;
      const auto* cdb = static_cast<const std::uint8_t*>(hdr.cmdp);
      pending.command.cdb.assign(cdb, cdb + hdr.cmd_len);
      pending.command.direction = hdr.dxfer_direction;
      pending.command.dxfer_len = hdr.dxfer_len;
      pending.command.timeout_ms = hdr.timeout;
      if (hdr.dxfer_direction == SG_DXFER_TO_DEV && hdr.dxfer_len > 0) {
        const auto* data = static_cast<const std::uint8_t*>(hdr.dxferp);
        pending.command.data_out.assign(data, data + hdr.dxfer_len);
      }
      ++node.commands;
      node.history.push_back(pending.command);
      if (node.hold) {
        it->second.held.push_back(std::move(pending));
        return 0;
      }
      responder = node.responder;
    }
    pending.reply = responder(pending.command);
    std::lock_guard lock(m_lock);
    if (m_files.count(fd) != 0) {
      finish(fd, std::move(pending));
    }
    return 0;
  }
  int receive(int fd, sg_io_hdr_t& hdr) override {
    std::lock_guard lock(m_lock);
    const auto it = m_files.find(fd);
    if (it == m_files.end()) {
      ADD_FAILURE() << "receive on an fd the fake never opened (or closed): " << fd;
      return EBADF;
    }
    File& file = it->second;
    if (file.done.empty()) {
      return m_nodes[file.path].detached && file.held.empty() ? ENODEV : EAGAIN;
    }
    std::uint8_t byte = 0;
    // A reply finished after detach() has no byte: the write end is closed (POLLHUP says it).
    if (::read(fd, &byte, 1) != 1 && file.write_end >= 0) {
      ADD_FAILURE() << "fake pipe out of step";
    }
    Pending p = std::move(file.done.front());
    file.done.pop_front();
    hdr = p.header;
    const FakeReply& r = p.reply;
    std::uint32_t copied = 0;
    if (p.header.dxfer_direction == SG_DXFER_FROM_DEV) {
      copied =
          static_cast<std::uint32_t>(std::min<std::size_t>(r.data_in.size(), p.header.dxfer_len));
      if (copied > 0) {
        std::memcpy(p.header.dxferp, r.data_in.data(), copied);
      }
    }
    const auto sense_len =
        static_cast<unsigned char>(std::min<std::size_t>(r.sense.size(), p.header.mx_sb_len));
    if (sense_len > 0) {
      std::memcpy(p.header.sbp, r.sense.data(), sense_len);
    }
    hdr.status = r.status;
    hdr.masked_status = static_cast<unsigned char>((r.status >> 1) & 0x7f);
    hdr.host_status = r.host_status;
    hdr.driver_status = r.driver_status != 0 ? r.driver_status : (sense_len > 0 ? 0x08 : 0);
    hdr.sb_len_wr = sense_len;
    hdr.resid = r.resid ? *r.resid
                        : (p.header.dxfer_direction == SG_DXFER_FROM_DEV
                               ? static_cast<int>(p.header.dxfer_len - copied)
                               : 0);
    return 0;
  }
  int ioctl_int(int fd, unsigned long request, int& value) override {
    std::lock_guard lock(m_lock);
    const auto it = m_files.find(fd);
    if (it == m_files.end()) {
      return EBADF;
    }
    if (request == SG_GET_VERSION_NUM) {
      value = 30536;
      return 0;
    }
    if (request == BLKSECTGET) {
      value = m_nodes[it->second.path].max_bytes;
      return 0;
    }
    return ENOTTY;
  }

 private:
  struct Pending {
    sg_io_hdr_t header{};
    FakeCommand command;
    FakeReply reply;
  };
  struct File {
    std::string path;
    int write_end = -1;
    std::deque<Pending> held;
    std::deque<Pending> done;
  };
  struct Node {
    Responder responder;
    int open_error = 0;
    int max_bytes = 1 << 20;
    bool hold = false;
    bool detached = false;
    int submit_error = 0;
    int submit_errors_left = 0;
    std::size_t commands = 0;
    std::vector<FakeCommand> history;
  };

  // Caller holds m_lock.
  void finish(int fd, Pending pending) {
    File& file = m_files[fd];
    file.done.push_back(std::move(pending));
    const std::uint8_t byte = 1;
    if (file.write_end >= 0 && ::write(file.write_end, &byte, 1) != 1) {
      ADD_FAILURE() << "fake pipe full";
    }
  }

  mutable std::mutex m_lock;
  std::map<std::string, Node> m_nodes;
  std::map<int, File> m_files;
  std::vector<int> m_open_flags;
};

// The devices behind the fake nodes: an emulated scenario, run synchronously.
class EmuBackend final : public cam::XptSim {
 public:
  explicit EmuBackend(const std::string& scenario_json) {
    auto scenario = emu::parse_scenario(scenario_json, "sg-test");
    if (!scenario) {
      ADD_FAILURE() << scenario.error().message();
      return;
    }
    emu::EmulatorOptions options;
    options.initial_scan = emu::InitialScan::None;
    auto emulator = emu::Emulator::create(*scenario, *this, options);
    if (!emulator) {
      ADD_FAILURE() << emulator.error().message();
      return;
    }
    m_emulator = std::move(*emulator);
  }
  ~EmuBackend() {
    if (m_emulator) {
      m_emulator->stop();
    }
  }
  emu::Emulator& emulator() { return *m_emulator; }

  // Answers commands as LUN `lun` of target `target` on scenario bus `bus`.
  Responder responder(std::uint32_t bus, std::uint32_t target, std::uint64_t lun) {
    return [this, bus, target, lun](const FakeCommand& command) {
      FakeReply reply;
      std::vector<std::uint8_t> data(command.dxfer_len);
      if (command.direction == SG_DXFER_TO_DEV) {
        data = command.data_out;
      }
      cam::Ccb ccb;
      ccb.path = {*m_emulator->path_id(bus), target, lun};
      ccb.set_cdb(command.cdb);
      ccb.dir = command.direction == SG_DXFER_FROM_DEV ? cam::DataDir::In
                : command.direction == SG_DXFER_TO_DEV ? cam::DataDir::Out
                                                       : cam::DataDir::None;
      ccb.data = data.empty() ? nullptr : data.data();
      ccb.dxfer_len = command.dxfer_len;
      m_emulator->sim(bus)->action(ccb);  // Completes inline (no Delay/Hang faults here).
      switch (ccb.status) {
        case CamStatus::ReqCmp:
          if (ccb.dir == cam::DataDir::In) {
            data.resize(ccb.dxfer_len - ccb.resid);
            reply.data_in = std::move(data);
          }
          reply.resid = static_cast<std::int32_t>(ccb.resid);
          break;
        case CamStatus::ScsiStatusError:
          reply.status = static_cast<std::uint8_t>(ccb.scsi_status);
          reply.sense.assign(ccb.sense_data.begin(), ccb.sense_data.begin() + ccb.sense_len);
          break;
        case CamStatus::SelTimeout:
        case CamStatus::DevNotThere:
          reply.host_status = 0x01;
          break;
        default:
          reply.host_status = 0x07;
          break;
      }
      return reply;
    };
  }

  // --- cam::XptSim (the emulator's side) ---
  Result<std::uint32_t> register_bus(cam::Sim&) override { return m_next_path_id++; }
  void deregister_bus(std::uint32_t) override {}
  void done(cam::Ccb&) override {}
  void request_rescan(const cam::Path&) override {}
  void announce(cam::AsyncCode, const cam::Path&) override {}
  Result<void> freeze_simq(std::uint32_t) override { return {}; }
  Result<void> release_simq(std::uint32_t) override { return {}; }

 private:
  std::unique_ptr<emu::Emulator> m_emulator;
  std::uint32_t m_next_path_id = 0;
};

}  // namespace ucam::sg::testing
