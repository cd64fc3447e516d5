// End-to-end tests of ucamd: the daemon is a separate process (tests/daemon_harness.h), and its
// clients are separate connections, forked processes or ucamctl subprocesses. Every wait is on a
// condition with a deadline; nothing sleeps "a bit".
//
// Scenario builtin:default (examples/default.json): bus 0 targets 0..3 are disks pass0..pass3,
// target 8 a processor (pass4, pt0); bus 1 target 0 exports LUNs 0, 1, 2, 5 (pass5..pass8), targets
// 4 and 5 are the disks in slots 0 and 1 of enclosure "jbod4" (pass9, pass10), target 9 its SES
// device (pass11, ses0). Twelve devices.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon_harness.h"
#include "tests/wait.h"

namespace {

using nlohmann::json;
using ucam::testing::Daemon;
using ucam::testing::RpcConnection;
using ucam::testing::wait_until;
using namespace std::chrono_literals;

// JSON-RPC error codes (service/rpc.h).
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kFailed = -32000;
constexpr int kNoSuchDevice = -32002;
constexpr int kLimitExceeded = -32004;
constexpr int kBusy = -32006;

// ucamctl's exit statuses (cli/ucamctl.cpp).
constexpr int kExitOk = 0;
constexpr int kExitPermission = 4;
constexpr int kExitNoDaemon = 5;

constexpr std::size_t kDevices = 12;
constexpr const char* kTurCdb = "00 00 00 00 00 00";

// --- Helpers ---------------------------------------------------------------------------------

std::string ucamctl_path() {
  return ucam::testing::build_dir() + "/cli/ucamctl";
}

// A temporary directory removed at the end of the test.
struct ScratchDir {
  std::string path = ucam::testing::temp_dir();
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = path + "/" + name;
    std::ofstream(file, std::ios::trunc) << text;
    return file;
  }
};

bool is_result(const json& r) {
  return r.is_object() && r.contains("result");
}

int error_code(const json& r) {
  if (!r.is_object() || !r.contains("error") || !r["error"].is_object()) {
    return 0;
  }
  return r["error"].value("code", 0);
}

std::string error_errno_name(const json& r) {
  if (error_code(r) == 0 || !r["error"].contains("data") || !r["error"]["data"].is_object()) {
    return "";
  }
  return r["error"]["data"].value("errno_name", "");
}

// The result of `method`, or null (and a test failure) when it fails.
json must(RpcConnection& c, const std::string& method, json params = json::object()) {
  const json r = c.call(method, params);
  EXPECT_TRUE(is_result(r)) << method << " " << params.dump() << " -> " << r.dump();
  return is_result(r) ? r["result"] : json();
}

json status(RpcConnection& c) {
  const json r = c.call("daemon.status");
  return is_result(r) ? r["result"] : json();
}

// CCBs the XPT has started and not completed (0 if the status cannot be read).
std::uint64_t outstanding_ccbs(RpcConnection& c) {
  const json st = status(c);
  return st.is_object() ? st["xpt"].value("ccbs_outstanding", std::uint64_t{0}) : 0;
}

std::uint64_t session_id(RpcConnection& c) {
  const json info = must(c, "session.info");
  return info.is_object() ? info.value("session", std::uint64_t{0}) : 0;
}

// Every device is back and attached to at least one periph.
bool all_devices_attached(RpcConnection& c) {
  const json r = c.call("devices.list");
  if (!is_result(r) || r["result"].size() != kDevices) {
    return false;
  }
  for (const auto& d : r["result"]) {
    if (d["periphs"].empty()) {
      return false;
    }
  }
  return true;
}

bool device_attached(RpcConnection& c, int bus, int target, int lun_number) {
  const json r = c.call("devices.list");
  if (!is_result(r)) {
    return false;
  }
  for (const auto& d : r["result"]) {
    if (d["bus"] == bus && d["target"] == target && d["lun"] == lun_number) {
      return !d["periphs"].empty();
    }
  }
  return false;
}

json lun(int bus, int target, int lun) {
  return {{"bus", bus}, {"target", target}, {"lun", lun}};
}

std::string shorten(const std::string& s, std::size_t max = 160) {
  std::string out;
  for (char ch : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return s.size() > max ? out + "...(" + std::to_string(s.size()) + " bytes)" : out;
}

// A child process with its stdout and stderr on pipes.
class Process {
 public:
  static std::unique_ptr<Process> spawn(const std::vector<std::string>& args) {
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      return nullptr;
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return nullptr;
    }
    std::vector<std::string> argv = args;  // Built before fork(): no allocation in the child.
    std::vector<char*> cargv;
    for (auto& a : argv) {
      cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) {
        ::dup2(null, 0);
      }
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    auto p = std::unique_ptr<Process>(new Process());
    p->m_pid = pid;
    p->m_out = out[0];
    p->m_err = err[0];
    if (pid < 0) {
      return nullptr;
    }
    return p;
  }

  ~Process() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
    close_fd(m_out);
    close_fd(m_err);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The next line of stdout, or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto nl = m_pending.find('\n');
      if (nl != std::string::npos) {
        std::string line = m_pending.substr(0, nl);
        m_pending.erase(0, nl + 1);
        return line;
      }
      if (m_out < 0 || !pump(deadline)) {
        return std::nullopt;
      }
    }
  }

  // Waits for the exit (collecting output); the exit status, or -1 if it had to be killed.
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while ((m_out >= 0 || m_err >= 0) && pump(deadline)) {
    }
    if (m_out >= 0 || m_err >= 0) {
      ::kill(m_pid, SIGKILL);  // Still running at the deadline.
    }
    int st = 0;
    ::waitpid(m_pid, &st, 0);
    m_pid = -1;
    if (m_out >= 0 || m_err >= 0) {
      return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

  std::string out() const { return m_out_all; }
  const std::string& err() const { return m_err_all; }

 private:
  Process() = default;
  static void close_fd(int& fd) {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }
  // Reads what is available (waiting until `deadline`); false once the deadline passed.
  bool pump(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd fds[2] = {{m_out, POLLIN, 0}, {m_err, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) {
      return true;  // Timeout (the loop re-checks the deadline) or EINTR.
    }
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      int& fd = i == 0 ? m_out : m_err;
      if (fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) {
        close_fd(fd);
        continue;
      }
      if (i == 0) {
        m_pending.append(buf, static_cast<std::size_t>(n));
        m_out_all.append(buf, static_cast<std::size_t>(n));
      } else {
        m_err_all.append(buf, static_cast<std::size_t>(n));
      }
    }
    return true;
  }

  pid_t m_pid = -1;
  int m_out = -1;
  int m_err = -1;
  std::string m_pending, m_out_all, m_err_all;
};

struct ProcessResult {
  int status = -1;
  std::string out, err;
};

ProcessResult run(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s) {
  ProcessResult r;
  auto p = Process::spawn(args);
  if (!p) {
    r.err = "spawn failed";
    return r;
  }
  r.status = p->wait(timeout);
  r.out = p->out();
  r.err = p->err();
  return r;
}

// Sends `request` (one JSON object) and returns the very next line from the daemon, parsed:
// unlike RpcConnection::call(), nothing in between is skipped.
json call_next(RpcConnection& c, const json& request, std::chrono::milliseconds timeout = 30s) {
  if (!c.send_raw(request.dump() + "\n")) {
    return nullptr;
  }
  auto line = c.read_line(timeout);
  return line ? json::parse(*line, nullptr, false) : json();
}

// --- 1. Concurrent clients and hot removal ------------------------------------------------------

TEST(DaemonHotplug, ConcurrentClientsSurviveHotRemovalAndReturnEveryReference) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection admin(d->socket());
  ASSERT_TRUE(admin.connected());
  ASSERT_TRUE(wait_until([&] { return all_devices_attached(admin); }, 20s));
  const json before = status(admin);
  ASSERT_TRUE(before.is_object());
  ASSERT_EQ(before["handles"], 0);
  ASSERT_EQ(before["devfs"]["opens"], 0);
  std::map<std::string, std::int64_t> baseline;
  for (const auto& p : before["periphs"]) {
    baseline[p["name"].get<std::string>()] = p["refcount"].get<std::int64_t>();
  }
  ASSERT_GE(baseline.size(), kDevices);  // At least a pass periph per device.

  // A held handle whose node departs: calls fail with NoSuchDevice, close still succeeds.
  {
    const json opened = must(admin, "open", {{"node", "pass3"}});
    ASSERT_TRUE(opened.is_object());
    const auto h = opened["handle"].get<std::int64_t>();
    must(admin, "emu.remove_lun", lun(0, 3, 0));
    EXPECT_TRUE(wait_until(
        [&] {
          return error_code(admin.call("device.tur", {{"handle", h}})) == kNoSuchDevice;
        },
        20s));
    EXPECT_EQ(error_code(admin.call("pass.command", {{"handle", h}, {"cdb", kTurCdb}})),
              kNoSuchDevice);
    EXPECT_EQ(error_code(admin.call("device.inquiry", {{"handle", h}})), kNoSuchDevice);
    EXPECT_TRUE(is_result(admin.call("close", {{"handle", h}})));
    must(admin, "emu.insert_lun", lun(0, 3, 0));
    ASSERT_TRUE(wait_until([&] { return all_devices_attached(admin); }, 20s));
  }

  constexpr int kClients = 16;
  constexpr int kIterations = 40;
  const std::vector<std::string> nodes = {"pass0", "pass1", "pass2", "pass3", "pass4",
                                          "pass5", "pass6", "pass7", "pass8"};
  const std::vector<json> hotplug = {lun(0, 1, 0), lun(0, 2, 0), lun(0, 3, 0), lun(1, 0, 1),
                                     lun(1, 0, 2)};
  std::atomic<int> workers_left{kClients};
  std::atomic<int> completed{0}, departed{0}, removals{0};
  std::mutex failures_lock;
  std::vector<std::string> failures;
  auto failure = [&](std::string what) {
    std::lock_guard lock(failures_lock);
    failures.push_back(std::move(what));
  };

  std::thread remover([&] {
    RpcConnection c(d->socket());
    while (workers_left.load() > 0) {
      for (const auto& a : hotplug) {
        const json r = c.call("emu.remove_lun", a);
        const json i = c.call("emu.insert_lun", a);
        if (!is_result(r) || !is_result(i)) {
          failure("remove/insert " + a.dump() + ": " + r.dump() + " " + i.dump());
          return;
        }
        removals.fetch_add(1);
        // Let the node come back so that clients open it again, then take it away again.
        const int bus = a["bus"], target = a["target"], l = a["lun"];
        (void)wait_until([&] { return device_attached(c, bus, target, l); }, 10s);
      }
    }
  });

  std::vector<std::thread> workers;
  for (int t = 0; t < kClients; ++t) {
    workers.emplace_back([&, t] {
      RpcConnection c(d->socket());
      if (!c.connected()) {
        failure("client " + std::to_string(t) + ": connect failed");
        workers_left.fetch_sub(1);
        return;
      }
      for (int i = 0; i < kIterations; ++i) {
        const std::string& node = nodes[static_cast<std::size_t>(t + i) % nodes.size()];
        const json opened = c.call("open", {{"node", node}});
        if (!is_result(opened)) {
          // Departed (or not yet back): NoSuchDevice and nothing else.
          if (error_code(opened) != kNoSuchDevice) {
            failure("open " + node + ": " + opened.dump());
          }
          continue;
        }
        const auto h = opened["result"]["handle"].get<std::int64_t>();
        bool gone = false;
        auto check = [&](const char* what, const json& r) {
          if (is_result(r)) {
            // A node that departed never comes back on the same handle.
            if (gone) {
              failure(std::string(what) + " on departed " + node + " succeeded: " + r.dump());
            }
            completed.fetch_add(1);
          } else if (error_code(r) == kNoSuchDevice) {
            gone = true;
            departed.fetch_add(1);
          } else {
            failure(std::string(what) + " " + node + ": " + r.dump());
          }
        };
        for (int k = 0; k < 2; ++k) {
          check("device.tur", c.call("device.tur", {{"handle", h}}));
          check("pass.command",
                c.call("pass.command", {{"handle", h}, {"cdb", kTurCdb}, {"timeout_ms", 10000}}));
        }
        const json closed = c.call("close", {{"handle", h}});
        if (!is_result(closed)) {
          failure("close " + node + (gone ? " (departed)" : "") + ": " + closed.dump());
        }
      }
      workers_left.fetch_sub(1);
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  remover.join();
  for (std::size_t i = 0; i < failures.size() && i < 20; ++i) {
    ADD_FAILURE() << failures[i];
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures";
  EXPECT_GT(completed.load(), 0);
  EXPECT_GT(removals.load(), 0);
  // How much racing happened (in the XML report).
  RecordProperty("calls_completed", completed.load());
  RecordProperty("calls_on_departed_nodes", departed.load());
  RecordProperty("hot_removals", removals.load());

  // Every reference is returned: no handles, no devfs opens, periph references as before.
  ASSERT_TRUE(wait_until([&] { return all_devices_attached(admin); }, 20s));
  json after;
  const bool settled = wait_until(
      [&] {
        after = status(admin);
        // Every periph back (a returned device's drivers attach one after the other).
        if (!after.is_object() || after["handles"] != 0 || after["devfs"]["opens"] != 0 ||
            after["sessions"].size() != 1 || after["periphs"].size() != baseline.size()) {
          return false;
        }
        for (const auto& p : after["periphs"]) {
          const auto it = baseline.find(p["name"].get<std::string>());
          if (p["invalid"].get<bool>() ||
              (it != baseline.end() && p["refcount"].get<std::int64_t>() != it->second)) {
            return false;
          }
        }
        return true;
      },
      20s);
  EXPECT_TRUE(settled) << after.dump(1);
  EXPECT_EQ(after["periph_stats"]["underflows"], 0);
  EXPECT_EQ(after["periphs"].size(), baseline.size());
  EXPECT_EQ(after["handles_opened_total"], after["handles_closed_total"]);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// --- 2. Clients killed with opens and commands in flight ------------------------------------

// A forked process that connects to `socket`, sends `script` and then reads until it is
// killed; its pid (-1 on failure). Built before fork(): the child only makes system calls.
pid_t spawn_scripted_client(const std::string& socket, const std::string& script) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::_exit(1);
    }
    std::size_t off = 0;
    while (off < script.size()) {
      const ssize_t n = ::write(fd, script.data() + off, script.size() - off);
      if (n <= 0) {
        ::_exit(1);
      }
      off += static_cast<std::size_t>(n);
    }
    char buf[4096];
    while (::read(fd, buf, sizeof(buf)) > 0) {  // Until killed.
    }
    ::_exit(0);
  }
  return pid;
}

TEST(DaemonClientDeath, SigkilledClientsWithCommandsInFlightLeaveNothingBehind) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());
  ASSERT_TRUE(observer.connected());
  const auto observer_id = session_id(observer);
  // Children 0..3 each hold a command on pass0..pass3 that hangs until its LUN is removed;
  // child 4 one on pass5 that the XPT times out after a second. Each opens five handles.
  struct Child {
    std::string own_node;
    json lun;
    int timeout_ms;
    pid_t pid = -1;
  };
  std::vector<Child> children = {{"pass0", lun(0, 0, 0), 600'000},
                                 {"pass1", lun(0, 1, 0), 600'000},
                                 {"pass2", lun(0, 2, 0), 600'000},
                                 {"pass3", lun(0, 3, 0), 600'000},
                                 {"pass5", lun(1, 0, 0), 1000}};
  constexpr int kHandlesEach = 5;
  const int kChildren = static_cast<int>(children.size());
  for (const auto& c : children) {
    json fault = c.lun;
    fault["action"] = "hang";
    fault["count"] = 1000;
    must(observer, "emu.inject", fault);
  }
  // Built before fork(): a child only makes system calls.
  std::vector<std::string> scripts;
  for (const auto& c : children) {
    std::string s;
    int id = 1;
    for (const std::string node : {"pass0", "pass1", "pass2", "pass3", c.own_node.c_str()}) {
      s += json{{"jsonrpc", "2.0"}, {"id", id++}, {"method", "open"}, {"params", {{"node", node}}}}
               .dump() +
           "\n";
    }
    s +=
        json{{"jsonrpc", "2.0"},
             {"id", id},
             {"method", "pass.command"},
             {"params", {{"handle", kHandlesEach}, {"cdb", kTurCdb}, {"timeout_ms", c.timeout_ms}}}}
            .dump() +
        "\n";
    scripts.push_back(std::move(s));
  }
  for (std::size_t i = 0; i < children.size(); ++i) {
    const pid_t pid = spawn_scripted_client(d->socket(), scripts[i]);
    ASSERT_GT(pid, 0);
    children[i].pid = pid;
  }
  auto kill_children = [&] {
    for (auto& c : children) {
      if (c.pid > 0) {
        ::kill(c.pid, SIGKILL);
        int wst = 0;
        EXPECT_EQ(::waitpid(c.pid, &wst, 0), c.pid);
        EXPECT_TRUE(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL) << wst;
        c.pid = -1;
      }
    }
  };
  auto has_session_of = [](const json& st, pid_t pid) {
    for (const auto& s : st["sessions"]) {
      if (s["pid"] == pid) {
        return true;
      }
    }
    return false;
  };
  json st;
  // Every child holds its handles; the four hanging commands are in flight.
  const bool in_flight = wait_until(
      [&] {
        st = status(observer);
        return st.is_object() && st["sessions"].size() == 1U + children.size() &&
               st["handles"] == kHandlesEach * kChildren &&
               st["xpt"]["ccbs_outstanding"].get<std::uint64_t>() >= 4;
      },
      20s);
  EXPECT_TRUE(in_flight) << st.dump(1);
  EXPECT_EQ(st["devfs"]["opens"], kHandlesEach * kChildren);
  const pid_t timed_out_child = children.back().pid;
  kill_children();
  ASSERT_FALSE(HasFatalFailure());

  // ucamd sees that the peers of the busy sessions died and aborts their commands, so every
  // session ends now, not when its command would time out (10 minutes).
  const bool cleaned = wait_until(
      [&] {
        st = status(observer);
        return st.is_object() && st["handles"] == 0 && st["devfs"]["opens"] == 0 &&
               st["sessions"].size() == 1 && st["sessions"][0]["session"] == observer_id;
      },
      20s);
  EXPECT_TRUE(cleaned) << st.dump(1);
  EXPECT_FALSE(has_session_of(st, timed_out_child));
  EXPECT_EQ(st["handles_opened_total"], kHandlesEach * kChildren);
  EXPECT_EQ(st["handles_closed_total"], kHandlesEach * kChildren);
  // The daemon serves on; the devices are all still there.
  EXPECT_TRUE(all_devices_attached(observer));
  for (int t = 0; t < 4; ++t) {
    must(observer, "emu.clear_faults", lun(0, t, 0));
  }
  must(observer, "emu.clear_faults", lun(1, 0, 0));
  EXPECT_TRUE(wait_until([&] { return outstanding_ccbs(observer) == 0; }, 20s));
  const json tur = must(observer, "device.tur", {{"device", "pass0"}});
  EXPECT_EQ(tur.value("ok", false), true) << tur.dump();
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// One request as a line.
std::string request_line(int id, const std::string& method, const json& params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump() + "\n";
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int wst = 0;
  EXPECT_EQ(::waitpid(pid, &wst, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL) << wst;
}

// The da node of the disk at bus:target:lun ("" if none).
std::string da_node(RpcConnection& c, int bus, int target, int lun_number) {
  const json r = c.call("devices.list");
  if (is_result(r)) {
    for (const auto& d : r["result"]) {
      if (d["bus"] == bus && d["target"] == target && d["lun"] == lun_number) {
        for (const auto& p : d["periphs"]) {
          if (p.get<std::string>().starts_with("da")) {
            return p;
          }
        }
      }
    }
  }
  return "";
}

// The only session left is `observer_id`'s, and nothing is open.
bool only_session_left(RpcConnection& observer, std::uint64_t observer_id, json& st) {
  st = status(observer);
  return st.is_object() && st["handles"] == 0 && st["devfs"]["opens"] == 0 &&
         st["sessions"].size() == 1 && st["sessions"][0]["session"] == observer_id;
}

// da.read and da.write run through the da driver's own I/O path: a client killed inside one
// is aborted too, so its handles go now and not at the command's timeout (60 s).
TEST(DaemonClientDeath, SigkilledClientInsideDaReadOrWriteReleasesItsHandlesAtOnce) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());
  ASSERT_TRUE(observer.connected());
  const auto observer_id = session_id(observer);
  const std::string disk = da_node(observer, 0, 0, 0);
  ASSERT_FALSE(disk.empty());
  for (const std::string method : {"da.read", "da.write"}) {
    SCOPED_TRACE(method);
    must(observer, "emu.inject",
         {{"bus", 0}, {"target", 0}, {"lun", 0}, {"action", "hang"}, {"count", 1000}});
    const json params = method == "da.read"
                            ? json{{"handle", 2}, {"lba", 0}, {"blocks", 1}}
                            : json{{"handle", 2}, {"lba", 0}, {"data", std::string(2 * 512, '0')}};
    const std::string script = request_line(1, "open", {{"node", "pass1"}}) +
                               request_line(2, "open", {{"node", disk}}) +
                               request_line(3, method, params);
    const pid_t pid = spawn_scripted_client(d->socket(), script);
    ASSERT_GT(pid, 0);
    json st;
    const bool in_flight = wait_until(
        [&] {
          st = status(observer);
          return st.is_object() && st["sessions"].size() == 2 && st["handles"] == 2 &&
                 st["xpt"]["ccbs_outstanding"].get<std::uint64_t>() >= 1;
        },
        20s);
    EXPECT_TRUE(in_flight) << st.dump(1);
    kill_and_reap(pid);
    // Well within the command's 60 s timeout.
    EXPECT_TRUE(wait_until([&] { return only_session_left(observer, observer_id, st); }, 10s))
        << st.dump(1);
    must(observer, "emu.clear_faults", lun(0, 0, 0));
    EXPECT_TRUE(wait_until([&] { return outstanding_ccbs(observer) == 0; }, 20s));
  }
  EXPECT_EQ(must(observer, "device.tur", {{"device", disk}}).value("ok", false), true);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// The enclosure methods wait for the enclosure's daemon (enc.set_led: its SEND DIAGNOSTIC);
// a client killed inside one stops that wait, so its handles go now and not at the enclosure
// command's timeout (60 s).
TEST(DaemonClientDeath, SigkilledClientInsideEncSetLedReleasesItsHandlesAtOnce) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());
  ASSERT_TRUE(observer.connected());
  const auto observer_id = session_id(observer);
  must(observer, "emu.inject",
       {{"bus", 1}, {"target", 9}, {"lun", 0}, {"action", "hang"}, {"count", 1000}});
  const std::string script =
      request_line(1, "open", {{"node", "pass11"}}) +
      request_line(2, "enc.set_led", {{"target", "pass9"}, {"kind", "locate"}, {"state", "on"}});
  const pid_t pid = spawn_scripted_client(d->socket(), script);
  ASSERT_GT(pid, 0);
  json st;
  const bool in_flight = wait_until(
      [&] {
        st = status(observer);
        return st.is_object() && st["sessions"].size() == 2 && st["handles"] == 1 &&
               st["xpt"]["ccbs_outstanding"].get<std::uint64_t>() >= 1;
      },
      20s);
  EXPECT_TRUE(in_flight) << st.dump(1);
  kill_and_reap(pid);
  // Well within the SEND DIAGNOSTIC's 60 s timeout (which the enclosure's daemon still waits
  // out: nobody waits for it).
  EXPECT_TRUE(wait_until([&] { return only_session_left(observer, observer_id, st); }, 2s))
      << st.dump(1);
  must(observer, "emu.clear_faults", lun(1, 9, 0));
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// A client that closes its connection inside a command and lives on (close(), or
// shutdown(SHUT_RDWR)): nobody can read the reply any more, so the command is aborted and the
// handles go at once, not at the command's timeout (an hour here).
// pt takes one opener across every client of ucamd: a second client's open (or per-call use by
// name) is Busy while one holds pt0, the holder's messages round-trip through its handle, a
// SIGKILLed holder frees the node at once, and a departed processor fails the held handle with
// NoSuchDevice while its close still succeeds.
TEST(DaemonPt, OneOpenerAcrossClientsAndADeadOrDepartedHolderFreesTheNode) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection a(d->socket()), b(d->socket());
  ASSERT_TRUE(a.connected() && b.connected());
  const json opened = must(a, "open", {{"node", "pt0"}});
  ASSERT_TRUE(opened.is_object());
  const auto h = opened["handle"].get<std::int64_t>();
  const json refused = b.call("open", {{"node", "pt0"}});
  EXPECT_EQ(error_code(refused), kBusy) << refused.dump();
  EXPECT_EQ(error_errno_name(refused), "EBUSY");
  EXPECT_EQ(error_code(b.call("pt.send", {{"device", "pt0"}, {"data", "01"}})), kBusy);
  EXPECT_EQ(must(a, "pt.send", {{"handle", h}, {"data", "de ad be ef"}})["sent"], 4);
  const json got = must(a, "pt.receive", {{"handle", h}, {"length", 2}});
  EXPECT_EQ(got["data"], "de ad");  // Cut to the length; the device consumed the message.
  EXPECT_EQ(must(a, "pt.receive", {{"handle", h}})["received"], 0);
  must(a, "close", {{"handle", h}});
  EXPECT_EQ(must(b, "pt.send", {{"device", "0:8:0"}, {"data", ""}})["sent"], 0);

  // A holder killed with the node open: its session ends and the node opens again.
  const pid_t holder = spawn_scripted_client(
      d->socket(),
      json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "open"}, {"params", {{"node", "pt0"}}}}
              .dump() +
          "\n");
  ASSERT_GT(holder, 0);
  // Wait on the holder's handle through status, not by opening pt0 here: a probing open could
  // itself hold the single-opener node when the holder's open arrives.
  ASSERT_TRUE(wait_until(
      [&] {
        const json st = b.call("daemon.status");
        return is_result(st) && st["result"]["handles"] == 1;
      },
      20s));
  EXPECT_EQ(error_code(b.call("pt.receive", {{"device", "pt0"}})), kBusy);
  kill_and_reap(holder);
  ASSERT_TRUE(wait_until(
      [&] {
        return is_result(b.call("pt.receive", {{"device", "pt0"}}));
      },
      20s));

  // Departure with the node held: calls fail NoSuchDevice, close succeeds, the return opens.
  const json held = must(b, "open", {{"node", "pt0"}});
  ASSERT_TRUE(held.is_object());
  const auto hb = held["handle"].get<std::int64_t>();
  must(a, "emu.remove_lun", lun(0, 8, 0));
  // The handle's calls fail as soon as the SIM loses the LUN; the open refuses NoSuchDevice
  // only once the XPT's departure event invalidated the periph (until then it is Busy, the
  // node being held), so wait on both.
  EXPECT_TRUE(wait_until(
      [&] {
        return error_code(b.call("pt.receive", {{"handle", hb}})) == kNoSuchDevice &&
               error_code(a.call("open", {{"node", "pt0"}})) == kNoSuchDevice;
      },
      20s));
  EXPECT_EQ(error_code(b.call("pt.send", {{"handle", hb}, {"data", "00"}})), kNoSuchDevice);
  EXPECT_TRUE(is_result(b.call("close", {{"handle", hb}})));
  must(a, "emu.insert_lun", lun(0, 8, 0));
  ASSERT_TRUE(wait_until([&] { return all_devices_attached(a); }, 20s));
  ASSERT_TRUE(wait_until(
      [&] {
        return is_result(a.call("pt.receive", {{"device", "pt0"}}));
      },
      20s));
  const json st = status(a);
  EXPECT_EQ(st["handles"], 0);
  EXPECT_EQ(st["devfs"]["opens"], 0);
  EXPECT_EQ(st["periph_stats"]["underflows"], 0);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

TEST(DaemonClientClose, ClosingTheConnectionInsideACommandAbortsItAndReleasesTheHandles) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());
  ASSERT_TRUE(observer.connected());
  const auto observer_id = session_id(observer);
  must(observer, "emu.inject",
       {{"bus", 0}, {"target", 1}, {"lun", 0}, {"action", "hang"}, {"count", 1000}});
  for (const bool shutdown_only : {false, true}) {
    SCOPED_TRACE(shutdown_only ? "shutdown(SHUT_RDWR)" : "close()");
    auto c = std::make_unique<RpcConnection>(d->socket());
    ASSERT_TRUE(c->connected());
    must(*c, "open", {{"node", "pass0"}});
    const json opened = must(*c, "open", {{"node", "pass1"}});
    ASSERT_TRUE(c->send_raw(
        request_line(99, "pass.command",
                     {{"handle", opened["handle"]}, {"cdb", kTurCdb}, {"timeout_ms", 3'600'000}})));
    json st;
    const bool in_flight = wait_until(
        [&] {
          st = status(observer);
          return st.is_object() && st["handles"] == 2 &&
                 st["xpt"]["ccbs_outstanding"].get<std::uint64_t>() >= 1;
        },
        20s);
    EXPECT_TRUE(in_flight) << st.dump(1);
    if (shutdown_only) {
      ASSERT_EQ(::shutdown(c->fd(), SHUT_RDWR), 0);
    } else {
      c.reset();
    }
    EXPECT_TRUE(wait_until([&] { return only_session_left(observer, observer_id, st); }, 10s))
        << st.dump(1);
    EXPECT_TRUE(wait_until([&] { return outstanding_ccbs(observer) == 0; }, 10s));
  }
  must(observer, "emu.clear_faults", lun(0, 1, 0));
  EXPECT_EQ(must(observer, "device.tur", {{"device", "pass1"}}).value("ok", false), true);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// shutdown(SHUT_WR) means "no more requests" (socat and `nc -N` send a request that way): the
// requests already sent are answered in order, the command in flight runs to its end rather
// than being aborted, and then the session ends and its handles are closed.
TEST(DaemonClientClose, HalfClosedConnectionGetsEveryReplyThenTheSessionEnds) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());
  ASSERT_TRUE(observer.connected());
  const auto observer_id = session_id(observer);
  // The TEST UNIT READY completes 2 s late: ucamd looks at its busy clients every 200 ms.
  must(observer, "emu.inject",
       {{"bus", 0}, {"target", 2}, {"lun", 0}, {"action", "delay"}, {"delay_us", 2'000'000}});
  RpcConnection c(d->socket());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_raw(
      request_line(1, "open", {{"node", "pass2"}}) +
      request_line(2, "pass.command", {{"handle", 1}, {"cdb", kTurCdb}, {"timeout_ms", 60'000}}) +
      request_line(3, "session.info", json::object())));
  json st;
  const bool in_flight = wait_until(
      [&] {
        st = status(observer);
        return st.is_object() && st["handles"] == 1 &&
               st["xpt"]["ccbs_outstanding"].get<std::uint64_t>() >= 1;
      },
      20s);
  EXPECT_TRUE(in_flight) << st.dump(1);
  ASSERT_EQ(::shutdown(c.fd(), SHUT_WR), 0);
  std::vector<json> replies;
  while (auto line = c.read_line(30s)) {
    replies.push_back(json::parse(*line, nullptr, false));
  }
  ASSERT_EQ(replies.size(), 3U) << json(replies).dump();  // Then EOF.
  EXPECT_EQ(replies[0]["id"], 1);
  EXPECT_TRUE(is_result(replies[0])) << replies[0].dump();
  EXPECT_EQ(replies[1]["id"], 2);
  ASSERT_TRUE(is_result(replies[1])) << replies[1].dump();
  EXPECT_EQ(replies[1]["result"]["ok"], true) << replies[1].dump();  // Not aborted.
  EXPECT_EQ(replies[2]["id"], 3);
  ASSERT_TRUE(is_result(replies[2])) << replies[2].dump();
  EXPECT_EQ(replies[2]["result"]["handles"].size(), 1U) << replies[2].dump();
  EXPECT_TRUE(wait_until([&] { return only_session_left(observer, observer_id, st); }, 10s))
      << st.dump(1);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// --- 3. Rights of an unprivileged user -------------------------------------------------------

bool have_setpriv() {
  for (const char* p : {"/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"}) {
    if (::access(p, X_OK) == 0) {
      return true;
    }
  }
  return false;
}

class DaemonRights : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root to switch to uid 65534";
    }
    if (!have_setpriv()) {
      GTEST_SKIP() << "setpriv (util-linux) is not installed";
    }
    // The build tree may sit where uid 65534 cannot reach (a clone under /root): run a copy of
    // ucamctl from a directory anyone may enter.
    s_bin_dir = ucam::testing::temp_dir();
    s_ucamctl = s_bin_dir + "/ucamctl";
    std::filesystem::copy_file(ucamctl_path(), s_ucamctl,
                               std::filesystem::copy_options::overwrite_existing);
    ::chmod(s_ucamctl.c_str(), 0755);
  }
  void TearDown() override {
    if (!s_bin_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(s_bin_dir, ec);
    }
  }
  static inline std::string s_bin_dir, s_ucamctl;
  // ucamctl as uid/gid 65534 with `groups` ("" = none) as supplementary groups.
  static ProcessResult as_nobody(const std::string& socket, const std::vector<std::string>& args,
                                 const std::string& groups = "") {
    std::vector<std::string> argv = {"setpriv", "--reuid=65534", "--regid=65534"};
    argv.push_back(groups.empty() ? "--clear-groups" : "--groups=" + groups);
    argv.insert(argv.end(), {s_ucamctl, "--socket", socket, "--json"});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
};

TEST_F(DaemonRights, UnprivilegedUserMayReadButNotChange) {
  auto d = Daemon::start({"--socket-group", "65534"});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  const std::string& s = d->socket();

  auto devlist = as_nobody(s, {"devlist"});
  ASSERT_EQ(devlist.status, kExitOk) << devlist.err;
  const json devices = json::parse(devlist.out, nullptr, false);
  ASSERT_TRUE(devices.is_array()) << devlist.out;
  EXPECT_EQ(devices.size(), kDevices);

  auto info = as_nobody(s, {"call", "session.info"});
  ASSERT_EQ(info.status, kExitOk) << info.err;
  const json session = json::parse(info.out, nullptr, false);
  EXPECT_EQ(session["uid"], 65534);
  EXPECT_EQ(session["rights"], json::array({"read"}));

  for (const std::vector<std::string>& args : {std::vector<std::string>{"enc", "show"},
                                               {"enc", "list"},
                                               {"inquiry", "pass0"},
                                               {"tur", "pass0"},
                                               {"enc", "locate", "pass9"},
                                               {"status"}}) {
    auto r = as_nobody(s, args);
    EXPECT_EQ(r.status, kExitOk) << args[0] << ": " << r.err;
    EXPECT_TRUE(json::parse(r.out, nullptr, false).is_object() ||
                json::parse(r.out, nullptr, false).is_array())
        << r.out;
  }
  auto events = as_nobody(s, {"events", "--timeout", "0.5"});
  EXPECT_EQ(events.status, kExitOk) << events.err;

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"enc", "locate", "pass9", "on"},
        {"cmd", "pass0", "--cdb", kTurCdb},
        {"emu", "pull-disk", "jbod4", "0"},
        {"call", "rescan"},
        {"call", "emu.inject", R"({"bus":0,"target":0,"lun":0,"action":"hang"})"}}) {
    auto r = as_nobody(s, args);
    EXPECT_EQ(r.status, kExitPermission) << args[0] << " " << args[1] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("admin right"), std::string::npos) << r.err;
  }
  // Nothing changed: the disk is still in its slot, the LED is still off, no fault is armed.
  RpcConnection root(s);
  EXPECT_TRUE(all_devices_attached(root));
  const json led = must(root, "enc.get_led", {{"target", "pass9"}, {"kind", "locate"}});
  ASSERT_EQ(led.size(), 1U) << led.dump();
  EXPECT_EQ(led[0]["locate"], false) << led.dump();
  EXPECT_EQ(must(root, "device.tur", {{"device", "pass0"}}).value("ok", false), true);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

TEST_F(DaemonRights, AdminGroupMemberMayChange) {
  auto d = Daemon::start({"--socket-group", "65534", "--admin-group", "65533"});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  const std::string& s = d->socket();
  auto on = as_nobody(s, {"enc", "locate", "pass9", "on"}, "65533");
  EXPECT_EQ(on.status, kExitOk) << on.out << on.err;
  auto info = as_nobody(s, {"call", "session.info"}, "65533");
  EXPECT_EQ(json::parse(info.out, nullptr, false)["rights"], json::array({"read", "admin"}))
      << info.out;
  auto rescan = as_nobody(s, {"call", "rescan"}, "65533");
  EXPECT_EQ(rescan.status, kExitOk) << rescan.err;
  // Outside the group, the same user is refused.
  auto off = as_nobody(s, {"enc", "locate", "pass9", "off"});
  EXPECT_EQ(off.status, kExitPermission) << off.out << off.err;
  EXPECT_NE(off.err.find("admin right"), std::string::npos) << off.err;
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// A forked process that, as `uid` (gid `uid`, supplementary `groups`), opens `count`
// connections to ucamd one after the other, asks each for session.info, reports on a pipe
// whether each was accepted ('A') or refused ('R'), and holds them until release() kills it.
class ConnectionHolder {
 public:
  ConnectionHolder(const std::string& socket, uid_t uid, std::vector<gid_t> groups, int count)
      : m_count(count) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
      return;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    const std::string request = request_line(1, "session.info", json::object());
    m_pid = ::fork();
    if (m_pid == 0) {  // Only system calls from here on.
      const gid_t gid = uid;
      if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(gid, gid, gid) != 0 ||
          ::setresuid(uid, uid, uid) != 0) {
        ::_exit(1);
      }
      for (int i = 0; i < count; ++i) {
        char verdict = 'R';
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);  // Kept open until the end.
        if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(request.size())) {
          char buf[4096];
          std::size_t got = 0;
          while (got < sizeof(buf) - 1 && ::memchr(buf, '\n', got) == nullptr) {
            const ssize_t n = ::read(fd, buf + got, sizeof(buf) - 1 - got);
            if (n <= 0) {
              break;
            }
            got += static_cast<std::size_t>(n);
          }
          buf[got] = '\0';
          verdict = std::strstr(buf, "\"result\"") != nullptr ? 'A' : 'R';
        }
        if (::write(report[1], &verdict, 1) != 1) {
          ::_exit(1);
        }
      }
      while (true) {
        ::pause();  // Until release() kills it.
      }
    }
    ::close(report[1]);
    m_report = report[0];
  }
  ~ConnectionHolder() {
    release();
    if (m_report >= 0) {
      ::close(m_report);
    }
  }
  ConnectionHolder(const ConnectionHolder&) = delete;
  ConnectionHolder& operator=(const ConnectionHolder&) = delete;

  // "AAAR": what happened to each connection, in order (shorter if the child failed).
  std::string verdicts(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (static_cast<int>(m_verdicts.size()) < m_count && m_report >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{m_report, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        break;
      }
      char buf[64];
      const ssize_t n = ::read(m_report, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      m_verdicts.append(buf, static_cast<std::size_t>(n));
    }
    return m_verdicts;
  }

  // Closes every connection: the child is killed.
  void release() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
      m_pid = -1;
    }
  }

 private:
  int m_count = 0;
  pid_t m_pid = -1;
  int m_report = -1;
  std::string m_verdicts;
};

// Any reader could hold every connection and lock everyone out. Now a user without the admin
// right gets `max_clients_per_uid`, all such users together max_clients less
// `reserved_admin_clients`, and root keeps the rest.
TEST_F(DaemonRights, OneUserCannotLockOthersOrRootOut) {
  ScratchDir dir;
  const auto config = dir.write(
      "ucamd.json", R"({"max_clients": 8, "max_clients_per_uid": 3, "reserved_admin_clients": 3})");
  auto d = Daemon::start({"--config", config, "--socket-group", "65534"});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());  // Root: 1 connection.
  ASSERT_TRUE(is_result(observer.call("session.info")));

  // uid 65534 gets its 3; the 4th is refused although the daemon has room.
  ConnectionHolder nobody(d->socket(), 65534, {}, 4);
  EXPECT_EQ(nobody.verdicts(), "AAAR");
  // Another unprivileged user (uid 65533, in the socket's group) gets what is left below the 3
  // reserved connections: 8 - 3 = 5 open at most, and 4 are (root's observer, uid 65534's 3).
  ConnectionHolder other(d->socket(), 65533, {65534}, 2);
  EXPECT_EQ(other.verdicts(), "AR");
  json st = status(observer);
  EXPECT_EQ(st["daemon"]["clients"], 5) << st.dump(1);

  // Root still gets in: ucamctl devlist, and connections up to max_clients.
  auto devlist = run({ucamctl_path(), "--socket", d->socket(), "--json", "devlist"});
  EXPECT_EQ(devlist.status, kExitOk) << devlist.err;
  EXPECT_EQ(json::parse(devlist.out, nullptr, false).size(), kDevices) << devlist.out;
  EXPECT_TRUE(wait_until([&] { return status(observer)["daemon"]["clients"] == 5; }, 20s));
  std::vector<std::unique_ptr<RpcConnection>> root;
  for (int i = 0; i < 3; ++i) {
    root.push_back(std::make_unique<RpcConnection>(d->socket()));
    EXPECT_TRUE(is_result(root.back()->call("session.info"))) << "root connection " << i;
  }
  {
    RpcConnection ninth(d->socket());  // 8 are open: the global limit holds for root too.
    const auto line = ninth.read_line(30s);
    ASSERT_TRUE(line.has_value());
    const json r = json::parse(*line, nullptr, false);
    EXPECT_EQ(error_code(r), kLimitExceeded) << *line;
    EXPECT_EQ(r["error"]["data"]["limit"], "max_clients") << *line;
  }
  st = status(observer);
  EXPECT_EQ(st["daemon"]["clients_refused"], 3) << st.dump(1);
  const std::string log = d->log();
  EXPECT_NE(log.find("too many connections from uid 65534: the limit per user is 3"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("the last 3 of the 8 connections are kept for root and the admin group"),
            std::string::npos)
      << log;
  nobody.release();
  other.release();
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// --- 4. Malformed requests -------------------------------------------------------------------

// What the daemon must answer to one line.
struct Expect {
  enum class Kind { None, Error, Batch, Result };
  Kind kind = Kind::None;
  json id;  // Error, Result: the reply's id.
  bool check_id = true;
  int code = 0;                             // Error.
  std::string errno_name;                   // Error: data.errno_name, when not empty.
  std::vector<std::pair<json, int>> batch;  // Batch: (id, code) of each reply, in order.
};

struct Case {
  std::string line;  // Without the newline.
  Expect expect;
};

// Generates malformed (and a few valid) requests of many kinds, each with its expected answer.
class MalformedRequests {
 public:
  explicit MalformedRequests(std::uint32_t seed, std::int64_t first_id)
      : m_rng(seed), m_next_id(first_id) {}

  Case next() {
    const auto kind = pick(26);
    switch (kind) {
      case 0:
        return invalid_json();
      case 1:
        return non_object();
      case 2:
        return missing_jsonrpc();
      case 3:
        return wrong_jsonrpc();
      case 4:
        return wrong_id_type();
      case 5:
        return missing_method();
      case 6:
        return method_not_a_string();
      case 7:
        return unknown_method();
      case 8:
        return notification();
      case 9:
        return params_wrong_type();
      case 10:
        return unknown_params();
      case 11:
      case 12:
        return wrong_param_types();
      case 13:
        return empty_batch();
      case 14:
        return garbage_batch();
      case 15:
        return mixed_batch();
      case 16:
        return invalid_utf8();
      case 17:
        return embedded_nul();
      case 18:
        return long_strings();
      case 19:
        return unknown_handle();
      case 20:
        return blank();
      case 21:
        return nested_params();
      case 22:
        return odd_ids();
      case 23:
        return empty_positional_params();
      case 24:
        return huge_numbers();
      default:
        return extra_members();
    }
  }

 private:
  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(m_rng);
  }
  template <class T>
  const T& one_of(const std::vector<T>& v) {
    return v[pick(v.size())];
  }
  std::int64_t id() { return m_next_id++; }
  static std::string request(const json& id, const json& method, const json& params) {
    json r = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null()) {
      r["params"] = params;
    }
    return r.dump();
  }
  static Expect error(json id, int code, std::string errno_name = "") {
    Expect e;
    e.kind = Expect::Kind::Error;
    e.id = std::move(id);
    e.code = code;
    e.errno_name = std::move(errno_name);
    return e;
  }
  static Expect none() { return Expect{}; }

  Case invalid_json() {
    static const std::vector<std::string> texts = {
        R"({"jsonrpc":"2.0","id":1,)",
        "{]",
        "nul",
        R"({"a" 1})",
        "'single'",
        R"({"jsonrpc":"2.0","id":2,"method":"session.info"} trailing)",
        "[1,2",
        R"({"a":1,})",
        "0x10",
        "+1",
        "01",
        "NaN",
        R"("unterminated)",
        R"({"jsonrpc":"2.0","id":5,"method":"x"}})",
        "1e400",
        R"({"jsonrpc":"2.0","id":1,"method":"close","params":{"handle":1e400}})",
        R"({"jsonrpc":"2.0","id":-1e999,"method":"x"})",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"\n",  // Cut by the newline below.
        R"({"jsonrpc":"2.0","id":1,"method":"\q"})",
        R"({"jsonrpc":"2.0","id":1,"method":"\ud800"})",
        "}",
        "]",
        ":",
        R"({"jsonrpc":"2.0","id":1,"method":"x",,})"};
    std::string t = one_of(texts);
    if (t.back() == '\n') {
      t.pop_back();
    }
    return {t, error(nullptr, kParseError)};
  }

  Case non_object() {
    static const std::vector<std::string> texts = {"42",    R"("hello")", "null", "true",
                                                   "false", "3.5",        "-7",   R"("")"};
    return {one_of(texts), error(nullptr, kInvalidRequest)};
  }

  Case missing_jsonrpc() {
    const auto n = id();
    return {json{{"id", n}, {"method", "devices.list"}}.dump(), error(n, kInvalidRequest)};
  }

  Case wrong_jsonrpc() {
    static const std::vector<json> values = {
        "1.0", 2.0, 2, "2.00", nullptr, "", "2.0 ", std::string("2.0\0", 4), json::array({"2.0"})};
    const auto n = id();
    return {json{{"jsonrpc", one_of(values)}, {"id", n}, {"method", "devices.list"}}.dump(),
            error(n, kInvalidRequest)};
  }

  Case wrong_id_type() {
    const auto n = id();
    switch (pick(3)) {
      case 0:
        return {request(json{{"n", n}}, "devices.list", nullptr), error(nullptr, kInvalidRequest)};
      case 1:
        return {request(json::array({n}), "devices.list", nullptr),
                error(nullptr, kInvalidRequest)};
      default:
        // JSON-RPC 2.0: an invalid id is answered with a null id.
        return {request(true, "devices.list", nullptr), error(nullptr, kInvalidRequest)};
    }
  }

  Case missing_method() {
    const auto n = id();
    switch (pick(3)) {
      case 0:
        return {json{{"jsonrpc", "2.0"}, {"id", n}}.dump(), error(n, kInvalidRequest)};
      case 1:
        return {json{{"jsonrpc", "2.0"}, {"id", n}, {"params", json::object()}}.dump(),
                error(n, kInvalidRequest)};
      default:
        // No id and no method: not a notification but an invalid request (answered, id null).
        return {json{{"jsonrpc", "2.0"}}.dump(), error(nullptr, kInvalidRequest)};
    }
  }

  Case method_not_a_string() {
    static const std::vector<json> values = {
        5, nullptr, json::array(), json::object(), true, json::array({"devices.list"})};
    const auto n = id();
    return {request(n, one_of(values), nullptr), error(n, kInvalidRequest)};
  }

  Case unknown_method() {
    static const std::vector<std::string> names = {
        "no.such.method", "", "DEVICES.LIST", "devices.list ", "rpc", ".", "open\t"};
    const auto n = id();
    std::string name = one_of(names);
    if (name == "no.such.method") {
      name += "." + std::to_string(n);
    }
    return {request(n, name, nullptr), error(n, kMethodNotFound)};
  }

  Case notification() {
    // Requests without an id get no answer, whatever happens to them.
    static const std::vector<std::string> texts = {
        R"({"jsonrpc":"2.0","method":"no.such.method"})",
        R"({"jsonrpc":"2.0","method":"close","params":{"handle":"x"}})",
        R"({"jsonrpc":"2.0","method":"close","params":{"handle":987654}})",
        R"({"jsonrpc":"2.0","method":"session.info"})",
        R"({"jsonrpc":"2.0","method":"devices.list","params":{"bogus":1}})",
        R"({"jsonrpc":"2.0","method":"open","params":{"node":"nonexistent"}})"};
    return {one_of(texts), none()};
  }

  Case params_wrong_type() {
    static const std::vector<json> values = {
        5, "x", true, nullptr, json::array({1}), json::array({json::object()}), 2.5};
    const auto n = id();
    json r = {{"jsonrpc", "2.0"}, {"id", n}, {"method", "close"}, {"params", one_of(values)}};
    return {r.dump(), error(n, kInvalidRequest)};
  }

  Case unknown_params() {
    static const std::vector<std::pair<std::string, json>> calls = {
        {"devices.list", {{"bogus", 1}}},
        {"session.info", {{"x", nullptr}}},
        {"open", {{"node", "pass0"}, {"mode", "rw"}}},
        {"close", {{"handel", 1}}},
        {"pass.command", {{"device", "pass0"}, {"cdb", kTurCdb}, {"tiemout_ms", 5}}},
        {"device.tur", {{"device", "pass0"}, {"verbose", true}}},
        {"daemon.status", {{"verbose", true}}},
        {"emu.remove_lun", {{"bus", 0}, {"target", 0}, {"lun", 0}, {"force", true}}},
        {"enc.list", {{"enclosure", "ses0"}}}};
    const auto n = id();
    const auto& [method, params] = one_of(calls);
    return {request(n, method, params), error(n, kInvalidParams, "EINVAL")};
  }

  Case wrong_param_types() {
    static const std::vector<std::pair<std::string, std::string>> calls = {
        {"open", R"({"node":5})"},
        {"open", R"({"node":null})"},
        {"open", "{}"},
        {"open", R"({"node":["pass0"]})"},
        {"open", R"({"node":{"a":{"b":[1,{"c":{}}]}}})"},
        {"open", R"({"node":true})"},
        {"close", R"({"handle":"1"})"},
        {"close", R"({"handle":-1})"},
        {"close", R"({"handle":0})"},
        {"close", R"({"handle":1.5})"},
        {"close", R"({"handle":18446744073709551615})"},
        {"close", R"({"handle":99999999999999999999999999})"},
        {"close", R"({"handle":1e300})"},
        {"close", R"({"handle":-9223372036854775808})"},
        {"close", R"({"handle":true})"},
        {"close", R"({"handle":{"id":1}})"},
        {"close", "{}"},
        {"device.tur", R"({"device":{"a":1}})"},
        {"device.tur", R"({"handle":"x"})"},
        {"device.tur", "{}"},
        {"device.tur", R"({"handle":-3})"},
        {"device.inquiry", R"({"device":12})"},
        {"pass.command", R"({"device":"pass0","cdb":"zz"})"},
        {"pass.command", R"({"device":"pass0","cdb":""})"},
        {"pass.command", R"({"device":"pass0"})"},
        {"pass.command", R"({"device":"pass0","cdb":"00 00 00 00 00 00","timeout_ms":-5})"},
        {"pass.command", R"({"device":"pass0","cdb":"00 00 00 00 00 00","timeout_ms":"5"})"},
        {"pass.command", R"({"device":"pass0","cdb":"12 00 00 00 24 00","data_in_length":1e12})"},
        {"pass.command", R"({"device":"pass0","cdb":"00 00 00 00 00 00","recover":"yes"})"},
        {"pass.command", R"({"device":"pass0","cdb":"12 00 00 00 24 00","data_in_length":4,)"
                         R"("data_out":"00"})"},
        {"pass.command", R"({"device":"pass0","cdb":")" + std::string(40 * 3, '0') + R"("})"},
        {"pass.command", R"({"device":"pass0","cdb":["00"]})"},
        {"emu.inject", R"({"bus":"0","target":0,"action":"hang"})"},
        {"emu.inject", R"({"bus":0,"target":0,"lun":0,"action":"explode"})"},
        {"emu.inject", R"({"bus":0,"target":0,"lun":0,"action":"delay","delay_us":-1})"},
        {"emu.remove_lun", R"({"bus":-1,"target":0})"},
        {"emu.remove_lun", R"({"bus":0,"target":4294967296})"},
        {"emu.set_sensor", R"({"enclosure":"jbod4","type":"Nope","index":0,"value":1})"},
        {"events.subscribe", R"({"codes":"LostDevice"})"},
        {"events.subscribe", R"({"codes":["NoSuchEvent"]})"},
        {"events.subscribe", R"({"codes":[1,2]})"},
        {"enc.set_led", R"({"target":"pass9","kind":"locate","state":"maybe"})"},
        {"enc.set_element", R"({"enclosure":"ses0","element":1,"control":"zz"})"},
        {"rescan", R"({"bus":"x"})"},
        {"rescan", R"({"bus":-1})"}};
    const auto n = id();
    const auto& [method, params] = one_of(calls);
    return {R"({"jsonrpc":"2.0","id":)" + std::to_string(n) + R"(,"method":")" + method +
                R"(","params":)" + params + "}",
            error(n, kInvalidParams, "EINVAL")};
  }

  Case empty_batch() {
    static const std::vector<std::string> texts = {"[]", "[ ]", " [\t] "};
    return {one_of(texts), error(nullptr, kInvalidRequest)};
  }

  Case garbage_batch() {
    static const std::vector<json> garbage = {
        1, "x", nullptr, json::object(), json::array(), true, json{{"jsonrpc", "1.0"}}, 2.5};
    json batch = json::array();
    Expect e;
    e.kind = Expect::Kind::Batch;
    const auto n = 1 + pick(20);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(one_of(garbage));
      e.batch.emplace_back(nullptr, kInvalidRequest);
    }
    return {batch.dump(), e};
  }

  Case mixed_batch() {
    if (pick(3) == 0) {
      // Notifications only: no answer at all.
      return {json::array({json{{"jsonrpc", "2.0"}, {"method", "no.such"}},
                           json{{"jsonrpc", "2.0"}, {"method", "session.info"}}})
                  .dump(),
              none()};
    }
    const auto a = id();
    const auto b = id();
    json batch = json::array(
        {json{{"jsonrpc", "2.0"}, {"id", a}, {"method", "no.such"}}, 5,
         json{{"jsonrpc", "2.0"}, {"method", "no.such"}},
         json{{"jsonrpc", "2.0"}, {"id", b}, {"method", "close"}, {"params", {{"handle", "x"}}}},
         json::array()});
    Expect e;
    e.kind = Expect::Kind::Batch;
    e.batch = {{a, kMethodNotFound},
               {nullptr, kInvalidRequest},
               {b, kInvalidParams},
               {nullptr, kInvalidRequest}};
    return {batch.dump(), e};
  }

  Case invalid_utf8() {
    static const std::vector<std::string> bad = {
        "\xff",     "\xc3\x28", "\xc0\xaf",        "\xed\xa0\x80", "\xf8\x88\x80\x80\x80",
        "\xe2\x82", "\x80",     "\xfe\xfe\xff\xff"};
    const auto n = id();
    const std::string& b = one_of(bad);
    switch (pick(3)) {
      case 0:
        return {R"({"jsonrpc":"2.0","id":)" + std::to_string(n) + R"(,"method":"a)" + b + R"("})",
                error(nullptr, kParseError)};
      case 1:
        return {R"({"jsonrpc":"2.0","id":)" + std::to_string(n) +
                    R"(,"method":"open","params":{"node":")" + b + R"("}})",
                error(nullptr, kParseError)};
      default:
        return {b + R"({"jsonrpc":"2.0"})", error(nullptr, kParseError)};
    }
  }

  Case embedded_nul() {
    const auto n = id();
    const std::string nul(1, '\0');
    switch (pick(3)) {
      case 0:
        return {
            R"({"jsonrpc":"2.0","id":)" + std::to_string(n) + R"(,"method":"a)" + nul + R"(b"})",
            error(nullptr, kParseError)};
      case 1:
        return {R"({"jsonrpc":"2.0",)" + nul + R"("id":)" + std::to_string(n) + "}",
                error(nullptr, kParseError)};
      default:
        // An escaped NUL is a valid string: just an unknown method.
        return {R"({"jsonrpc":"2.0","id":)" + std::to_string(n) + R"(,"method":"a\u0000b"})",
                error(n, kMethodNotFound)};
    }
  }

  Case long_strings() {
    const auto n = id();
    // Mostly a few kilobytes; one in ten far over the 64 KiB the daemon reads at a time.
    const std::size_t len = pick(10) == 0 ? 100'000 + pick(200'000) : 1000 + pick(8000);
    const std::string s(len, static_cast<char>('a' + pick(26)));
    switch (pick(5)) {
      case 0:
        return {request(n, s, nullptr), error(n, kMethodNotFound)};
      case 1:
        return {request(n, "open", {{"node", s}}), error(n, kNoSuchDevice, "ENOENT")};
      case 2:
        return {R"({"jsonrpc":"2.0","id":)" + std::to_string(n) + R"(,"method":")" + s,
                error(nullptr, kParseError)};
      case 3:
        return {request(n, "devices.list", {{s, 1}}), error(n, kInvalidParams, "EINVAL")};
      default: {
        const std::string long_id = "id-" + std::to_string(n) + "-" + s;
        return {request(long_id, "no.such", nullptr), error(long_id, kMethodNotFound)};
      }
    }
  }

  Case unknown_handle() {
    const auto n = id();
    const std::int64_t h = 1'000'000 + n;
    switch (pick(3)) {
      case 0:
        return {request(n, "close", {{"handle", h}}), error(n, kFailed, "EBADF")};
      case 1:
        return {request(n, "device.tur", {{"handle", h}}), error(n, kFailed, "EBADF")};
      default:
        return {request(n, "pass.command", {{"handle", h}, {"cdb", kTurCdb}}),
                error(n, kFailed, "EBADF")};
    }
  }

  Case blank() {
    static const std::vector<std::string> texts = {"", " ", "\t\t", "\r", " \r"};
    return {one_of(texts), none()};
  }

  Case nested_params() {
    const auto n = id();
    const std::size_t depth = 2 + pick(60);
    const std::string node = std::string(depth, '[') + std::string(depth, ']');
    return {R"({"jsonrpc":"2.0","id":)" + std::to_string(n) +
                R"(,"method":"open","params":{"node":)" + node + "}}",
            error(n, kInvalidParams, "EINVAL")};
  }

  Case odd_ids() {
    const auto n = id();
    switch (pick(4)) {
      case 0:
        return {request("abc-" + std::to_string(n), "no.such", nullptr),
                error("abc-" + std::to_string(n), kMethodNotFound)};
      case 1:
        return {request(static_cast<double>(n) + 0.5, "no.such", nullptr),
                error(static_cast<double>(n) + 0.5, kMethodNotFound)};
      case 2:
        return {request(-n, "no.such", nullptr), error(-n, kMethodNotFound)};
      default:
        // An explicit null id is a request (answered with id null), not a notification.
        return {request(nullptr, "no.such", nullptr), error(nullptr, kMethodNotFound)};
    }
  }

  Case empty_positional_params() {
    // An empty array stands for no params: a valid request.
    const auto n = id();
    Expect e;
    e.kind = Expect::Kind::Result;
    e.id = n;
    return {request(n, "session.info", json::array()), e};
  }

  Case huge_numbers() {
    static const std::vector<std::string> ids = {"18446744073709551615", "-9223372036854775808",
                                                 "1e308", "123456789012345678901234567890"};
    const std::string& raw = one_of(ids);
    // The id comes back as the daemon parsed it.
    return {R"({"jsonrpc":"2.0","id":)" + raw + R"(,"method":"no.such"})",
            error(json::parse(raw), kMethodNotFound)};
  }

  Case extra_members() {
    const auto n = id();
    json r = {{"jsonrpc", "2.0"}, {"id", n}, {"method", "no.such"}, {"extra", {{"a", 1}}}};
    return {"  \t" + r.dump() + "  ", error(n, kMethodNotFound)};
  }

  std::mt19937 m_rng;
  std::int64_t m_next_id;
};

// Checks one reply line against its expectation; "" when it matches.
std::string mismatch(const std::string& line, const Expect& e) {
  const json r = json::parse(line, nullptr, false);
  if (r.is_discarded()) {
    return "reply is not JSON: " + shorten(line);
  }
  auto check_error = [](const json& reply, const json& id, bool check_id, int code,
                        const std::string& errno_name) -> std::string {
    if (!reply.is_object() || reply.value("jsonrpc", "") != "2.0" || !reply.contains("id")) {
      return "not a JSON-RPC 2.0 reply: " + shorten(reply.dump());
    }
    if (error_code(reply) != code || !reply["error"]["message"].is_string()) {
      return "expected code " + std::to_string(code) + ": " + shorten(reply.dump(), 400);
    }
    if (check_id && reply["id"] != id) {
      return "expected id " + shorten(id.dump()) + ": " + shorten(reply.dump());
    }
    if (!errno_name.empty() && error_errno_name(reply) != errno_name) {
      return "expected " + errno_name + ": " + shorten(reply.dump());
    }
    return "";
  };
  switch (e.kind) {
    case Expect::Kind::None:
      return "expected no reply, got " + shorten(line);
    case Expect::Kind::Error:
      return check_error(r, e.id, e.check_id, e.code, e.errno_name);
    case Expect::Kind::Result:
      if (!is_result(r) || r["id"] != e.id) {
        return "expected a result with id " + e.id.dump() + ": " + shorten(line);
      }
      return "";
    case Expect::Kind::Batch:
      if (!r.is_array() || r.size() != e.batch.size()) {
        return "expected a batch of " + std::to_string(e.batch.size()) + ": " + shorten(line);
      }
      for (std::size_t i = 0; i < e.batch.size(); ++i) {
        auto m = check_error(r[i], e.batch[i].first, true, e.batch[i].second, "");
        if (!m.empty()) {
          return "batch reply " + std::to_string(i) + ": " + m;
        }
      }
      return "";
  }
  return "bad expectation";
}

// Sends `count` generated cases on `c`, pipelined in chunks that each end with a sentinel
// request, and checks every reply in order. Returns the mismatches.
std::vector<std::string> send_malformed(RpcConnection& c, std::uint32_t seed, int count,
                                        std::int64_t first_id) {
  MalformedRequests gen(seed, first_id);
  std::vector<std::string> failures;
  int sent = 0;
  int chunk_no = 0;
  std::optional<Case> carried;  // A big case that starts the next chunk.
  while ((sent < count || carried) && failures.size() < 20) {
    std::vector<Case> chunk;
    std::string bytes;
    if (carried) {
      bytes += carried->line + "\n";
      chunk.push_back(std::move(*carried));
      carried.reset();
    }
    // Small chunks: the requests of one chunk fit in the socket buffers, so neither side can
    // block on a full buffer while the other is writing too. A big case goes alone.
    while (sent < count && chunk.size() < 64 && bytes.size() < 16 * 1024) {
      Case k = gen.next();
      ++sent;
      if (!chunk.empty() && k.line.size() >= 16 * 1024) {
        carried = std::move(k);
        break;
      }
      bytes += k.line + "\n";
      chunk.push_back(std::move(k));
    }
    const std::string sentinel =
        "sentinel-" + std::to_string(seed) + "-" + std::to_string(chunk_no++);
    bytes += json{{"jsonrpc", "2.0"}, {"id", sentinel}, {"method", "session.info"}}.dump() + "\n";
    if (!c.send_raw(bytes)) {
      failures.push_back("send failed (the daemon closed the connection?)");
      break;
    }
    std::vector<std::string> replies;
    bool got_sentinel = false;
    while (auto line = c.read_line(30s)) {
      const json j = json::parse(*line, nullptr, false);
      if (j.is_object() && j.value("id", json()) == sentinel) {
        got_sentinel = is_result(j);
        break;
      }
      replies.push_back(*line);
    }
    if (!got_sentinel) {
      failures.push_back("no reply to the sentinel after a chunk of " +
                         std::to_string(chunk.size()) + " requests: the connection is gone");
      break;
    }
    std::size_t r = 0;
    for (const auto& k : chunk) {
      if (k.expect.kind == Expect::Kind::None) {
        continue;
      }
      if (r >= replies.size()) {
        failures.push_back("no reply to " + shorten(k.line));
        continue;
      }
      auto m = mismatch(replies[r++], k.expect);
      if (!m.empty()) {
        failures.push_back(shorten(k.line) + " -> " + m);
      }
    }
    if (r != replies.size()) {
      failures.push_back(std::to_string(replies.size() - r) +
                         " unexpected extra replies in a chunk; the first: " + shorten(replies[r]));
    }
  }
  return failures;
}

TEST(DaemonMalformed, TenThousandBadRequestsEachGetTheRightAnswer) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  constexpr int kConnections = 4;
  constexpr int kPerConnection = 2500;
  std::vector<std::vector<std::string>> failures(kConnections);
  std::vector<std::unique_ptr<RpcConnection>> connections;
  for (int i = 0; i < kConnections; ++i) {
    connections.push_back(std::make_unique<RpcConnection>(d->socket()));
    ASSERT_TRUE(connections.back()->connected());
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    threads.emplace_back([&, i] {
      failures[static_cast<std::size_t>(i)] =
          send_malformed(*connections[static_cast<std::size_t>(i)],
                         1000 + static_cast<std::uint32_t>(i), kPerConnection, 1 + i * 1'000'000);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int i = 0; i < kConnections; ++i) {
    for (const auto& f : failures[static_cast<std::size_t>(i)]) {
      ADD_FAILURE() << "connection " << i << ": " << f;
    }
  }
  // The same connections, and a new one, still work.
  for (auto& c : connections) {
    const json r = c->call("devices.list");
    ASSERT_TRUE(is_result(r)) << r.dump();
    EXPECT_EQ(r["result"].size(), kDevices);
  }
  RpcConnection fresh(d->socket());
  const json r = fresh.call("devices.list");
  ASSERT_TRUE(is_result(r)) << r.dump();
  EXPECT_EQ(r["result"].size(), kDevices);
  const json st = status(fresh);
  EXPECT_GE(st["request_errors_total"].get<std::uint64_t>(), 5000U);
  EXPECT_EQ(st["handles"], 0);
  EXPECT_EQ(st["devfs"]["opens"], 0);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// Deep nesting is refused before parsing (a recursive copy or dump of it would overflow the
// stack), well under max_request_bytes.
TEST(DaemonMalformed, DeeplyNestedRequestGetsAnErrorNotACrash) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection c(d->socket());
  for (const std::size_t depth : {1'000U, 10'000U, 100'000U, 400'000U}) {
    const std::string nested = std::string(depth, '[') + std::string(depth, ']');
    const json r = call_next(
        c, json::parse(R"({"jsonrpc":"2.0","id":1,"method":"open","params":{"node":0}})"));
    ASSERT_EQ(error_code(r), kInvalidParams);
    ASSERT_TRUE(c.send_raw(R"({"jsonrpc":"2.0","id":2,"method":"open","params":{"node":)" + nested +
                           "}}\n"));
    auto line = c.read_line(30s);
    ASSERT_TRUE(line.has_value()) << "no answer at depth " << depth << "; the daemon: " << d->log();
    const json reply = json::parse(*line, nullptr, false);
    EXPECT_NE(error_code(reply), 0) << shorten(*line);
  }
  EXPECT_TRUE(is_result(c.call("devices.list")));
  EXPECT_EQ(d->stop(), 0) << d->log();
}

TEST(DaemonMalformed, OversizedRequestsAreRefusedAndTheConnectionLivesOn) {
  ScratchDir dir;
  const auto config = dir.write("ucamd.json", R"({"max_request_bytes": 4096})");
  auto d = Daemon::start({"--config", config});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection c(d->socket());
  ASSERT_TRUE(c.connected());

  auto open_request = [](int id, std::size_t size) {
    json r = {{"jsonrpc", "2.0"}, {"id", id}, {"method", "open"}, {"params", {{"node", ""}}}};
    const auto overhead = r.dump().size();
    r["params"]["node"] = std::string(size > overhead ? size - overhead : 1, 'n');
    return r;
  };
  // Just under the limit: handled (there is no such node).
  {
    const json r = call_next(c, open_request(1, 4000));
    EXPECT_EQ(error_code(r), kNoSuchDevice) << shorten(r.dump());
    EXPECT_EQ(r["id"], 1);
  }
  // Over the limit, with its newline: one LimitExceeded error (id null: it was not read).
  {
    const json r = call_next(c, open_request(2, 5000));
    EXPECT_EQ(error_code(r), kLimitExceeded) << shorten(r.dump());
    EXPECT_TRUE(r["id"].is_null());
    const json next = call_next(c, {{"jsonrpc", "2.0"}, {"id", 3}, {"method", "devices.list"}});
    EXPECT_TRUE(is_result(next)) << shorten(next.dump());
    EXPECT_EQ(next["id"], 3);
  }
  // Far over the limit (several times over) before any newline: answered once, as soon as the
  // limit is passed, and the rest of that line is dropped.
  {
    ASSERT_TRUE(c.send_raw(std::string(5000, 'x')));
    auto line = c.read_line(30s);
    ASSERT_TRUE(line.has_value()) << "no error before the newline";
    const json r = json::parse(*line, nullptr, false);
    EXPECT_EQ(error_code(r), kLimitExceeded) << *line;
    EXPECT_TRUE(r["id"].is_null());
    ASSERT_TRUE(c.send_raw(std::string(20000, 'y')));
    ASSERT_TRUE(c.send_raw(std::string(3000, 'z') + "\n"));
    const json next = call_next(c, {{"jsonrpc", "2.0"}, {"id", 4}, {"method", "session.info"}});
    EXPECT_TRUE(is_result(next)) << shorten(next.dump());
    EXPECT_EQ(next["id"], 4);
  }
  // The limit counts bytes of one line, not of a read: many small requests in one write pass.
  {
    std::string many;
    for (int i = 0; i < 100; ++i) {
      many += json{{"jsonrpc", "2.0"}, {"id", 100 + i}, {"method", "session.info"}}.dump() + "\n";
    }
    ASSERT_GT(many.size(), 4096U);
    ASSERT_TRUE(c.send_raw(many));
    for (int i = 0; i < 100; ++i) {
      auto line = c.read_line(30s);
      ASSERT_TRUE(line.has_value());
      const json r = json::parse(*line, nullptr, false);
      EXPECT_TRUE(is_result(r)) << *line;
      EXPECT_EQ(r["id"], 100 + i);
    }
  }
  RpcConnection fresh(d->socket());
  EXPECT_TRUE(is_result(fresh.call("devices.list")));
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// --- 5. Limits -------------------------------------------------------------------------------

TEST(DaemonLimits, FifthClientIsRefusedUntilOneLeaves) {
  ScratchDir dir;
  const auto config = dir.write("ucamd.json", R"({"max_clients": 4, "reserved_admin_clients": 0})");
  auto d = Daemon::start({"--config", config});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  std::vector<std::unique_ptr<RpcConnection>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RpcConnection>(d->socket()));
    ASSERT_TRUE(is_result(clients.back()->call("session.info"))) << "client " << i;
  }
  {
    RpcConnection fifth(d->socket());
    ASSERT_TRUE(fifth.connected());  // The kernel accepts; ucamd answers and hangs up.
    auto line = fifth.read_line(30s);
    ASSERT_TRUE(line.has_value());
    const json r = json::parse(*line, nullptr, false);
    EXPECT_EQ(error_code(r), kLimitExceeded) << *line;
    EXPECT_TRUE(r["id"].is_null());
    EXPECT_NE(*line, "");
    EXPECT_FALSE(fifth.read_line(30s).has_value()) << "the refused connection stays open";
  }
  const json st = status(*clients[0]);
  EXPECT_GE(st["daemon"]["clients_refused"].get<std::uint64_t>(), 1U);
  EXPECT_EQ(st["daemon"]["clients"], 4);

  clients.erase(clients.begin());  // One leaves.
  std::unique_ptr<RpcConnection> accepted;
  EXPECT_TRUE(wait_until(
      [&] {
        auto c = std::make_unique<RpcConnection>(d->socket());
        if (!is_result(c->call("session.info"))) {
          return false;  // Refused: the departure is not noticed yet.
        }
        accepted = std::move(c);
        return true;
      },
      20s));
  ASSERT_NE(accepted, nullptr);
  EXPECT_TRUE(is_result(accepted->call("devices.list")));
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// Turned away at a connection limit, ucamctl exits 5 (ucamd not reachable), not 1 (the device
// failed), and says why.
TEST(DaemonLimits, UcamctlRefusedAtTheClientLimitExitsFive) {
  ScratchDir dir;
  const auto config = dir.write("ucamd.json", R"({"max_clients": 2, "reserved_admin_clients": 0})");
  auto d = Daemon::start({"--config", config});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection first(d->socket());
  RpcConnection second(d->socket());
  ASSERT_TRUE(is_result(first.call("session.info")));
  ASSERT_TRUE(is_result(second.call("session.info")));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"devlist"}, {"--json", "enc", "show"}, {"status"}}) {
    std::vector<std::string> argv = {ucamctl_path(), "--socket", d->socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run(argv);
    EXPECT_EQ(r.status, kExitNoDaemon) << args[0] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("refused the connection: too many clients (the limit is 2)"),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// `n` enc.map calls as one batch line, with ids 1..n.
std::string enc_map_batch(int n) {
  json batch = json::array();
  for (int i = 1; i <= n; ++i) {
    batch.push_back({{"jsonrpc", "2.0"}, {"id", i}, {"method", "enc.map"}});
  }
  return batch.dump() + "\n";
}

// One line used to make ucamd build every reply of a batch in memory: 2,000 enc.map calls took
// 1.5 GB. A batch is now bounded in requests (max_batch_requests) and in reply bytes
// (max_reply_bytes), and still gets a valid JSON-RPC answer.
TEST(DaemonLimits, BatchesAreBoundedInRequestsAndReplyBytes) {
  {
    auto d = Daemon::start();  // The defaults: 64 requests, 64 MiB.
    ASSERT_NE(d, nullptr) << "ucamd did not start";
    RpcConnection c(d->socket());
    ASSERT_TRUE(c.send_raw(enc_map_batch(2000)));
    auto line = c.read_line(30s);
    ASSERT_TRUE(line.has_value());
    const json refused = json::parse(*line, nullptr, false);
    ASSERT_TRUE(refused.is_object()) << shorten(*line);
    EXPECT_EQ(error_code(refused), kLimitExceeded) << shorten(*line);
    EXPECT_TRUE(refused["id"].is_null());
    EXPECT_EQ(refused["error"]["data"]["limit"], "max_batch_requests") << *line;
    EXPECT_EQ(status(c)["requests_total"], 1) << "the refused batch ran nothing";  // This one.

    ASSERT_TRUE(c.send_raw(enc_map_batch(64)));
    line = c.read_line(60s);
    ASSERT_TRUE(line.has_value());
    const json answered = json::parse(*line, nullptr, false);
    ASSERT_TRUE(answered.is_array()) << shorten(*line);
    ASSERT_EQ(answered.size(), 64U);
    for (int i = 0; i < 64; ++i) {
      EXPECT_EQ(answered[i]["id"], i + 1);
      EXPECT_TRUE(is_result(answered[i])) << shorten(answered[i].dump());
    }
    EXPECT_EQ(d->stop(), 0) << d->log();
  }
  {
    ScratchDir dir;
    const auto config =
        dir.write("ucamd.json", R"({"max_batch_requests": 100, "max_reply_bytes": 65536})");
    auto d = Daemon::start({"--config", config});
    ASSERT_NE(d, nullptr) << "ucamd did not start";
    RpcConnection c(d->socket());
    ASSERT_TRUE(c.send_raw(enc_map_batch(100)));
    auto line = c.read_line(60s);
    ASSERT_TRUE(line.has_value());
    const json cut = json::parse(*line, nullptr, false);
    ASSERT_TRUE(cut.is_array()) << shorten(*line);
    ASSERT_EQ(cut.size(), 100U);  // One reply per request, in order.
    std::size_t results = 0;
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(cut[i]["id"], i + 1);
      if (is_result(cut[i])) {
        EXPECT_EQ(results, static_cast<std::size_t>(i)) << "a result after an error";
        ++results;
      } else {
        EXPECT_EQ(error_code(cut[i]), kLimitExceeded);
        EXPECT_EQ(cut[i]["error"]["data"]["limit"], "max_reply_bytes");
      }
    }
    EXPECT_GE(results, 1U);
    EXPECT_LT(results, 100U);
    // The results fit in the limit; the errors after them are short.
    EXPECT_LE(line->size(), 65536U + 100 * 300) << line->size();
    EXPECT_TRUE(is_result(c.call("session.info")));  // The connection goes on.
    EXPECT_EQ(d->stop(), 0) << d->log();
  }
}

TEST(DaemonLimits, FourthHandleIsRefusedWithEmfile) {
  ScratchDir dir;
  const auto config = dir.write("ucamd.json", R"({"max_handles_per_client": 3})");
  auto d = Daemon::start({"--config", config});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection c(d->socket());
  std::vector<std::int64_t> handles;
  for (const char* node : {"pass0", "pass1", "pass2"}) {
    const json r = must(c, "open", {{"node", node}});
    ASSERT_TRUE(r.is_object());
    handles.push_back(r["handle"].get<std::int64_t>());
  }
  const json refused = c.call("open", {{"node", "pass3"}});
  EXPECT_EQ(error_code(refused), kLimitExceeded) << refused.dump();
  EXPECT_EQ(error_errno_name(refused), "EMFILE") << refused.dump();
  EXPECT_EQ(refused["error"]["data"]["errno"], EMFILE);
  // The refused open was closed again; the limit is per client.
  json st = status(c);
  EXPECT_EQ(st["handles"], 3);
  EXPECT_EQ(st["devfs"]["opens"], 3);
  RpcConnection other(d->socket());
  const json theirs = must(other, "open", {{"node", "pass3"}});
  EXPECT_TRUE(theirs.is_object());
  // Closing one makes room.
  must(c, "close", {{"handle", handles[0]}});
  EXPECT_TRUE(is_result(c.call("open", {{"node", "pass3"}})));
  EXPECT_EQ(error_code(c.call("open", {{"node", "pass4"}})), kLimitExceeded);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// --- 6. SIGTERM with a command in flight -----------------------------------------------------

TEST(DaemonShutdown, SigtermAnswersTheCommandInFlightAndExitsZero) {
  ScratchDir dir;
  const auto config = dir.write("ucamd.json", R"({"shutdown_grace_ms": 500})");
  auto d = Daemon::start({"--config", config});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection control(d->socket());
  RpcConnection client(d->socket());
  must(control, "emu.inject",
       {{"bus", 0}, {"target", 2}, {"lun", 0}, {"action", "hang"}, {"count", 100}});
  ASSERT_TRUE(client.send_raw(
      json{{"jsonrpc", "2.0"},
           {"id", 77},
           {"method", "pass.command"},
           {"params", {{"device", "pass2"}, {"cdb", kTurCdb}, {"timeout_ms", 60000}}}}
          .dump() +
      "\n"));
  ASSERT_TRUE(wait_until([&] { return outstanding_ccbs(control) >= 1; }, 20s));
  EXPECT_EQ(d->stop(std::chrono::seconds(30)), 0) << d->log();
  // The reply was sent before the daemon exited; it waits in our socket.
  auto line = client.read_line(10s);
  ASSERT_TRUE(line.has_value()) << "no reply to the command in flight; " << d->log();
  const json r = json::parse(*line, nullptr, false);
  EXPECT_EQ(r["id"], 77) << *line;
  if (is_result(r)) {
    EXPECT_FALSE(r["result"]["ok"].get<bool>()) << *line;
    EXPECT_NE(r["result"]["cam_status"], 1) << *line;  // Not REQ_CMP.
  } else {
    EXPECT_NE(error_code(r), 0) << *line;
  }
  EXPECT_FALSE(client.read_line(10s).has_value());  // Then EOF.
}

// --- 7. SIGHUP -------------------------------------------------------------------------------

TEST(DaemonReload, SighupAppliesNewLimitsAndKeepsTheOldOnesOnABrokenFile) {
  ScratchDir dir;
  const auto config = dir.write("ucamd.json", R"({"max_handles_per_client": 2})");
  auto d = Daemon::start({"--config", config});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection c(d->socket());
  auto open_until_refused = [&](RpcConnection& conn) {
    int opened = 0;
    for (int i = 0; i < 10; ++i) {
      const json r = conn.call("open", {{"node", "pass" + std::to_string(i)}});
      if (!is_result(r)) {
        EXPECT_EQ(error_code(r), kLimitExceeded) << r.dump();
        break;
      }
      ++opened;
    }
    return opened;
  };
  EXPECT_EQ(open_until_refused(c), 2);
  EXPECT_EQ(status(c)["daemon"]["reloads"], 0);

  dir.write("ucamd.json", R"({"max_handles_per_client": 4})");
  d->signal(SIGHUP);
  ASSERT_TRUE(d->wait_notify("READY=1", 30s)) << d->log();
  json st = status(c);
  EXPECT_EQ(st["daemon"]["reloads"], 1);
  EXPECT_EQ(st["daemon"]["max_handles_per_client"], 4);
  EXPECT_EQ(st["daemon"]["config_file"], config);
  {
    RpcConnection fresh(d->socket());
    EXPECT_EQ(open_until_refused(fresh), 4);
  }
  EXPECT_EQ(open_until_refused(c), 2);  // Two more on top of the two it holds.

  // A broken file: the running configuration stays, and ucamd keeps serving.
  dir.write("ucamd.json", R"({"max_handles_per_client": "lots", )");
  d->signal(SIGHUP);
  ASSERT_TRUE(d->wait_notify("READY=1", 30s)) << d->log();
  st = status(c);
  EXPECT_EQ(st["daemon"]["reloads"], 1);
  EXPECT_EQ(st["daemon"]["max_handles_per_client"], 4);
  dir.write("ucamd.json", R"({"max_handles_per_client": 0})");  // Valid JSON, out of range.
  d->signal(SIGHUP);
  ASSERT_TRUE(d->wait_notify("READY=1", 30s)) << d->log();
  EXPECT_EQ(status(c)["daemon"]["reloads"], 1);
  {
    RpcConnection fresh(d->socket());
    EXPECT_TRUE(is_result(fresh.call("devices.list")));
    EXPECT_EQ(open_until_refused(fresh), 4);
  }
  EXPECT_NE(d->log().find("keeping the running configuration"), std::string::npos) << d->log();
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// --- 8. Events -------------------------------------------------------------------------------

TEST(DaemonEvents, PulledDiskIsReportedToSubscribersAndToUcamctl) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection listener(d->socket());
  RpcConnection control(d->socket());
  const json sub = must(listener, "events.subscribe");
  EXPECT_EQ(sub["subscribed"], true);
  const json pulled = must(control, "emu.pull_disk", {{"enclosure", "jbod4"}, {"slot", 0}});
  EXPECT_EQ(pulled["disk"], lun(1, 4, 0));

  std::set<std::string> seen;
  bool lost_disk = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         !(lost_disk && seen.count("SlotDeviceChanged") != 0 &&
           seen.count("ElementStatusChanged") != 0)) {
    auto n = listener.next_notification(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!n) {
      break;
    }
    EXPECT_EQ((*n)["jsonrpc"], "2.0");
    EXPECT_FALSE(n->contains("id")) << n->dump();
    EXPECT_EQ((*n)["method"], "event") << n->dump();
    const json& p = (*n)["params"];
    const std::string event = p.value("event", "");
    seen.insert(event);
    if (event == "LostDevice" && p.value("bus", -1) == 1 && p.value("target", -1) == 4) {
      lost_disk = true;
    }
    if (event == "SlotDeviceChanged" || event == "ElementStatusChanged") {
      EXPECT_EQ(p["target"], 9) << p.dump();   // Reported by the enclosure's SES device.
      EXPECT_EQ(p["element"], 1) << p.dump();  // Slot 0 (element 0 is the overall slot).
    }
    if (event == "ElementStatusChanged") {
      EXPECT_EQ(p["old_status"], "OK") << p.dump();
      EXPECT_EQ(p["new_status"], "Not installed") << p.dump();
    }
  }
  EXPECT_TRUE(lost_disk) << "events seen: " << json(seen).dump();
  // The slot's element goes OK -> Not Installed, and its device goes.
  EXPECT_EQ(seen.count("ElementStatusChanged"), 1U) << "events seen: " << json(seen).dump();
  EXPECT_EQ(seen.count("SlotDeviceChanged"), 1U) << "events seen: " << json(seen).dump();

  // ucamctl events in a subprocess: it prints the next event as a JSON line. Only FoundDevice:
  // the pull may still have events on their way, and the insertion is what is awaited.
  const auto listener_id = session_id(listener);
  auto p = Process::spawn({ucamctl_path(), "--socket", d->socket(), "--json", "events", "--count",
                           "1", "--timeout", "30", "--codes", "FoundDevice"});
  ASSERT_NE(p, nullptr);
  json st;
  ASSERT_TRUE(wait_until(
      [&] {
        st = status(control);
        for (const auto& s : st["sessions"]) {
          if (s["subscribed"] == true && s["session"] != listener_id) {
            return true;
          }
        }
        return false;
      },
      30s))
      << st.dump(1) << p->err();
  must(control, "emu.insert_disk",
       {{"enclosure", "jbod4"}, {"slot", 0}, {"bus", 1}, {"target", 4}, {"lun", 0}});
  auto line = p->read_line(30s);
  ASSERT_TRUE(line.has_value()) << p->err();
  const json event = json::parse(*line, nullptr, false);
  ASSERT_TRUE(event.is_object()) << *line;
  EXPECT_EQ(event["event"], "FoundDevice") << *line;
  EXPECT_EQ(event["bus"], 1) << *line;
  EXPECT_EQ(event["target"], 4) << *line;
  EXPECT_TRUE(event["time"].is_number()) << *line;
  EXPECT_EQ(p->wait(30s), 0) << p->err();
  EXPECT_TRUE(wait_until([&] { return all_devices_attached(control); }, 20s));
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// --- 9. Metrics ------------------------------------------------------------------------------

// A TCP connection to host:port ("127.0.0.1:9477"); -1 on failure.
int tcp_connect(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return -1;
  }
  const std::string host = address.substr(0, colon);
  const int port = std::stoi(address.substr(colon + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if (fd < 0 || ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    return -1;
  }
  return fd;
}

// `request_line` ("GET /metrics") to host:port over plain TCP; the response body, or "" when
// there is no complete response by `deadline`.
std::string http_request(const std::string& address, const std::string& request_line, int* code,
                         std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int fd = tcp_connect(address);
  if (fd < 0) {
    return "";
  }
  const std::string request =
      request_line + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n";
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  bool complete = false;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      continue;
    }
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) {
      complete = n == 0;
      break;
    }
    response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto body = response.find("\r\n\r\n");
  if (!complete || body == std::string::npos || response.compare(0, 9, "HTTP/1.1 ") != 0) {
    return "";
  }
  *code = std::stoi(response.substr(9, 3));
  return response.substr(body + 4);
}

std::string http_get(const std::string& address, const std::string& path, int* code,
                     std::chrono::milliseconds timeout = 30s) {
  return http_request(address, "GET " + path, code, timeout);
}

struct Sample {
  std::string name;
  std::string labels;  // The text between the braces.
  double value = 0;
};

std::vector<Sample> parse_metrics(const std::string& text) {
  std::vector<Sample> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      nl = text.size();
    }
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    Sample s;
    const auto brace = line.find('{');
    const auto space = line.rfind(' ');
    if (space == std::string::npos) {
      continue;
    }
    if (brace != std::string::npos && brace < space) {
      s.name = line.substr(0, brace);
      s.labels = line.substr(brace + 1, line.rfind('}') - brace - 1);
    } else {
      s.name = line.substr(0, space);
    }
    s.value = std::strtod(line.c_str() + space + 1, nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> samples_named(const std::vector<Sample>& all, const std::string& name) {
  std::vector<Sample> out;
  for (const auto& s : all) {
    if (s.name == name) {
      out.push_back(s);
    }
  }
  return out;
}

TEST(DaemonMetrics, PrometheusEndpointServesSaneValues) {
  auto d = Daemon::start({"--metrics-listen", "127.0.0.1:0"});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection c(d->socket());
  const json st = status(c);
  ASSERT_TRUE(st["daemon"]["metrics_listen"].is_string()) << st.dump(1);
  const std::string address = st["daemon"]["metrics_listen"];
  ASSERT_EQ(address.rfind("127.0.0.1:", 0), 0U) << address;
  ASSERT_NE(address, "127.0.0.1:0");
  must(c, "open", {{"node", "pass0"}});
  must(c, "device.tur", {{"device", "pass1"}});

  int code = 0;
  std::string text = http_get(address, "/metrics", &code);
  ASSERT_EQ(code, 200) << text;
  auto all = parse_metrics(text);

  auto temps = samples_named(all, "ucam_enclosure_temperature_celsius");
  ASSERT_EQ(temps.size(), 1U) << text;
  EXPECT_EQ(temps[0].value, 27) << temps[0].labels;  // The scenario's ambient temperature.
  EXPECT_NE(temps[0].labels.find("enclosure=\"ses0\""), std::string::npos);
  auto fans = samples_named(all, "ucam_enclosure_fan_speed_rpm");
  ASSERT_EQ(fans.size(), 2U) << text;
  for (const auto& f : fans) {
    EXPECT_GT(f.value, 1000) << f.labels;
    EXPECT_LT(f.value, 20000) << f.labels;
  }
  auto statuses = samples_named(all, "ucam_enclosure_element_status");
  ASSERT_FALSE(statuses.empty()) << text;
  for (const auto& s : statuses) {
    EXPECT_GE(s.value, 0) << s.labels;
    EXPECT_LE(s.value, 15) << s.labels;
  }
  auto devices = samples_named(all, "ucam_devices");
  double total = 0;
  for (const auto& s : devices) {
    total += s.value;
  }
  EXPECT_EQ(total, static_cast<double>(kDevices)) << text;
  auto ccbs = samples_named(all, "ucam_ccbs_total");
  ASSERT_EQ(ccbs.size(), 2U) << text;  // One per SIM bus.
  double ccb_total = 0;
  for (const auto& s : ccbs) {
    EXPECT_GE(s.value, 0);
    ccb_total += s.value;
  }
  EXPECT_GT(ccb_total, 0);  // At least the scan and the TUR above.
  // Histogram buckets: cumulative, ending in +Inf, which equals _count.
  auto buckets = samples_named(all, "ucam_ccb_latency_seconds_bucket");
  ASSERT_FALSE(buckets.empty()) << text;
  std::map<std::string, std::vector<double>> per_bus;
  for (const auto& b : buckets) {
    const auto le = b.labels.find(",le=");
    ASSERT_NE(le, std::string::npos) << b.labels;
    per_bus[b.labels.substr(0, le)].push_back(b.value);
  }
  for (const auto& [bus, values] : per_bus) {
    for (std::size_t i = 1; i < values.size(); ++i) {
      EXPECT_GE(values[i], values[i - 1]) << bus;
    }
    bool found_count = false;
    for (const auto& s : samples_named(all, "ucam_ccb_latency_seconds_count")) {
      if (s.labels == bus) {
        EXPECT_EQ(s.value, values.back()) << bus;
        found_count = true;
      }
    }
    EXPECT_TRUE(found_count) << bus;
  }
  EXPECT_NE(text.find("le=\"+Inf\""), std::string::npos);
  auto clients = samples_named(all, "ucam_clients");
  ASSERT_EQ(clients.size(), 1U);
  EXPECT_GE(clients[0].value, 1);  // This connection.
  auto handles = samples_named(all, "ucam_open_handles");
  ASSERT_EQ(handles.size(), 1U);
  EXPECT_EQ(handles[0].value, 1);  // The open pass0.

  // A new reading shows after a refresh.
  must(c, "emu.set_sensor", {{"enclosure", "jbod4"}, {"type", 4}, {"index", 0}, {"value", 55}});
  must(c, "enc.refresh");
  text = http_get(address, "/metrics", &code);
  ASSERT_EQ(code, 200);
  temps = samples_named(parse_metrics(text), "ucam_enclosure_temperature_celsius");
  ASSERT_EQ(temps.size(), 1U) << text;
  EXPECT_EQ(temps[0].value, 55);
  must(c, "emu.set_sensor",
       {{"enclosure", "jbod4"}, {"type", "Temperature Sensor"}, {"index", 0}, {"value", 31}});
  must(c, "enc.refresh", {{"enclosure", "ses0"}});
  temps = samples_named(parse_metrics(http_get(address, "/metrics", &code)),
                        "ucam_enclosure_temperature_celsius");
  ASSERT_EQ(temps.size(), 1U);
  EXPECT_EQ(temps[0].value, 31);
  // The same text is served over JSON-RPC.
  const json m = must(c, "metrics");
  EXPECT_NE(m["text"].get<std::string>().find("ucam_enclosure_temperature_celsius"),
            std::string::npos);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// Idle connections used to take the HTTP server's few worker threads (16 idle ones delayed a
// scrape by 9.7 s, 64 by 38.7 s). Now connections that send nothing, or half a request, neither
// delay a scrape nor pile up: the oldest are closed beyond the endpoint's 32, and the rest when
// their 5 s to send a request run out.
TEST(DaemonMetrics, IdleConnectionsNeitherDelayAScrapeNorPileUp) {
  auto d = Daemon::start({"--metrics-listen", "127.0.0.1:0"});
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection c(d->socket());
  const std::string address = status(c)["daemon"]["metrics_listen"];
  std::vector<int> idle;
  for (int i = 0; i < 64; ++i) {
    const int fd = tcp_connect(address);
    ASSERT_GE(fd, 0);
    if (i % 4 == 0) {
      const std::string partial = "GET /metr";  // Half a request line, then nothing.
      ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(partial.size()));
    }
    idle.push_back(fd);
  }
  for (int i = 0; i < 3; ++i) {
    int code = 0;
    // Far less than one 5 s request timeout: no idle connection is waited for.
    const std::string text = http_get(address, "/metrics", &code, 2s);
    EXPECT_EQ(code, 200) << "scrape " << i;
    EXPECT_NE(text.find("ucam_clients "), std::string::npos) << text;
  }
  {
    int code = 0;
    http_get(address, "/nope", &code, 2s);
    EXPECT_EQ(code, 404);
    http_request(address, "POST /metrics", &code, 2s);
    EXPECT_EQ(code, 405);
    http_request(address, "GARBAGE", &code, 2s);
    EXPECT_EQ(code, 400);
  }
  // Every idle connection is closed by the server: EOF on each.
  auto closed_by_server = [](int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) {
      return false;
    }
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  };
  const bool all_closed =
      wait_until([&] { return std::all_of(idle.begin(), idle.end(), closed_by_server); }, 20s);
  EXPECT_TRUE(all_closed) << std::count_if(idle.begin(), idle.end(), closed_by_server)
                          << " of 64 closed";
  for (int fd : idle) {
    ::close(fd);
  }
  int code = 0;
  EXPECT_NE(http_get(address, "/metrics", &code).find("ucam_devices"), std::string::npos);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

}  // namespace
