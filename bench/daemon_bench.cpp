// ucamd (issue 4): JSON-RPC round trips through a spawned daemon, `ucamctl enc map` end to end
// (process start included), and event fan-out to many subscribers.
//
//  - BM_DaemonOpenClose/threads:N: N clients, each a thread with its own Unix-socket connection
//    to a spawned ucamd (builtin:default), doing `open` {node: "pass0"} then `close` {handle}
//    in a loop. items/s = open+close round trip pairs per second, all clients together;
//    counters: CPU time of ucamd and of this process (the clients) per pair.
//  - BM_DaemonOpenCloseMany/connections:N: the same pairs over N connections (1, 64, 1,000)
//    driven by one client thread with epoll, one request in flight on each: the client costs
//    little, so the figure is ucamd's (the 2 cores are shared).
//  - BM_UcamctlEncMap*: posix_spawn + wait of build/.../cli/ucamctl with stdout on /dev/null,
//    against a spawned ucamd (builtin:jbod-102: one 102-slot enclosure), text and --json; and
//    the in-process mode (--emulate builtin:jbod-102: the whole stack built per run). For the
//    breakdown: BM_DaemonEncMapRpc (the request alone) and BM_UcamctlHelp (process start).
//  - BM_EventFanOut/N: an in-process server (same Stack, Service and Server as ucamd) with N
//    connections subscribed to events; each iteration posts one event into the XPT and waits
//    (epoll, one reader thread) until every connection has read its notification line.
//    Counters: mean latency from post_async() to the first and to the last subscriber's line.
//
// The daemons and connections are shared by all runs of a benchmark (created on first use, torn
// down at exit), so connection set-up is never timed and runs do not race the daemon's reaping
// of the previous run's clients against its client limit.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/server.h"
#include "periphs/enc/enc.h"
#include "service/service.h"
#include "stack/stack.h"
#include "tests/daemon_harness.h"

extern char** environ;

namespace ucam::bench {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::RpcConnection;

constexpr int kMaxOpenCloseClients = 64;

// A spawned ucamd and a pool of connections to it (connection i is used by thread i only).
struct SpawnedDaemon {
  std::unique_ptr<Daemon> daemon;
  std::vector<std::unique_ptr<RpcConnection>> connections;  // Closed before the daemon stops.
  std::string error;

  SpawnedDaemon(const std::string& scenario, int connection_count,
                std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args = {"--emulate", scenario};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    daemon = Daemon::start(args);
    if (!daemon) {
      error = "ucamd (" + testing::build_dir() + "/daemon/ucamd --emulate " + scenario +
              ") did not start";
      return;
    }
    for (int i = 0; i < connection_count; ++i) {
      auto c = std::make_unique<RpcConnection>(daemon->socket());
      if (!c->connected() || c->call("rpc.methods").is_null()) {
        error = "cannot talk to ucamd";
        return;
      }
      connections.push_back(std::move(c));
    }
  }
  ~SpawnedDaemon() {
    connections.clear();
    if (!daemon) {
      return;
    }
    const int status = daemon->stop();
    const std::string log = daemon->log();
    if (status != 0 || !log.empty()) {  // --log-level warning: anything logged is news.
      std::fprintf(stderr, "ucamd exited with status %d; its log:\n%s", status, log.c_str());
    }
    const std::string dir = daemon->dir();
    daemon.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

SpawnedDaemon& default_daemon() {
  static SpawnedDaemon d("builtin:default", kMaxOpenCloseClients);
  return d;
}

// For BM_DaemonOpenCloseMany: room for 1,000 connections and more.
SpawnedDaemon& fleet_daemon() {
  static const std::string config = [] {
    const std::string path = testing::temp_dir() + "/ucamd-fleet.json";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f != nullptr) {
      std::fputs(R"({"max_clients": 2048})", f);
      std::fclose(f);
    }
    return path;
  }();
  static SpawnedDaemon d("builtin:default", 1, {"--config", config});
  return d;
}

SpawnedDaemon& jbod102_daemon() {
  static SpawnedDaemon d("builtin:jbod-102", 1);
  return d;
}

// CPU time (user + system, all threads) of process `pid` so far, in microseconds (the kernel
// counts in clock ticks: 10 ms resolution).
double process_cpu_us(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) {
    return 0;
  }
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // Fields after "(comm)": state is field 3.
  unsigned long utime = 0, stime = 0;
  if (p == nullptr || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                                  &utime, &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void BM_DaemonOpenClose(benchmark::State& state) {
  static std::atomic<int> finished{0};  // Threads of this run past their loop.
  SpawnedDaemon& d = default_daemon();  // Thread-safe one-time start.
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  RpcConnection& c = *d.connections.at(static_cast<std::size_t>(state.thread_index()));
  const json open_params = {{"node", "pass0"}};
  double daemon_before = 0;
  double self_before = 0;
  if (state.thread_index() == 0) {
    finished = 0;  // Before the start barrier: no thread of this run has finished yet.
    daemon_before = process_cpu_us(d.daemon->pid());
    self_before = process_cpu_us(::getpid());
  }
  for (auto _ : state) {
    const json opened = c.call("open", open_params);
    if (!opened.is_object() || !opened.contains("result")) {
      state.SkipWithError(("open: " + opened.dump()).c_str());
      break;
    }
    const json closed = c.call("close", {{"handle", opened["result"]["handle"]}});
    if (!closed.is_object() || !closed.contains("result")) {
      state.SkipWithError(("close: " + closed.dump()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());  // Summed over threads: total round trips/s.
  ++finished;
  if (state.thread_index() == 0) {
    while (finished.load() < state.threads()) {
      std::this_thread::yield();
    }
    // Counters are summed over threads: only thread 0 reports these.
    const double pairs = static_cast<double>(state.iterations() * state.threads());
    state.counters["ucamd_cpu_us_per_pair"] =
        (process_cpu_us(d.daemon->pid()) - daemon_before) / pairs;
    state.counters["client_cpu_us_per_pair"] = (process_cpu_us(::getpid()) - self_before) / pairs;
  }
}
BENCHMARK(BM_DaemonOpenClose)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(8)
    ->Threads(kMaxOpenCloseClients);

// N connections driven by one client thread with epoll, one request in flight on each
// (open, then close of the handle it returned, and again): what ucamd serves when its clients
// cost next to nothing. The request lines are written by hand and a reply is only searched for
// its "handle", so the client's CPU is a small part of the 2 cores and the figure is ucamd's.
class OpenCloseFleet {
 public:
  OpenCloseFleet(const std::string& socket, int count) {
    raise_descriptor_limit(static_cast<rlim_t>(count) + 64);
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < count; ++i) {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
      if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        error = "connect " + std::to_string(i) + ": " + std::strerror(errno);
        if (fd >= 0) {
          ::close(fd);
        }
        return;
      }
      m_conns.push_back(Conn{fd, {}, 0, false});
      epoll_event ev{EPOLLIN, {}};
      ev.data.u64 = static_cast<std::uint64_t>(i);
      ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev);
    }
  }
  ~OpenCloseFleet() {
    for (const auto& c : m_conns) {
      ::close(c.fd);
    }
    if (m_epoll >= 0) {
      ::close(m_epoll);
    }
  }
  std::string error;

  // Starts a request on every idle connection (when `more`), then handles replies until at
  // least one open+close pair completed or nothing is in flight; returns the pairs completed.
  std::uint64_t step(bool more) {
    if (more) {
      for (auto& c : m_conns) {
        if (!c.busy) {
          send_open(c);
        }
      }
    }
    std::uint64_t pairs = 0;
    std::array<epoll_event, 256> ready{};
    while (pairs == 0 && in_flight() > 0 && error.empty()) {
      const int n = ::epoll_wait(m_epoll, ready.data(), static_cast<int>(ready.size()), 30000);
      if (n <= 0) {
        error =
            n == 0 ? "no reply within 30 s" : std::string("epoll_wait: ") + std::strerror(errno);
        break;
      }
      for (int i = 0; i < n; ++i) {
        pairs += on_readable(m_conns[ready[static_cast<std::size_t>(i)].data.u64], more);
      }
    }
    return pairs;
  }
  // Lets every request in flight finish (a handle opened is closed), starting no new pair.
  void drain() {
    while (in_flight() > 0 && error.empty()) {
      step(false);
    }
  }

 private:
  struct Conn {
    int fd;
    std::string in;
    std::int64_t handle;  // 0: an open is in flight; else the close of this handle is.
    bool busy;
  };
  static void raise_descriptor_limit(rlim_t want) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < want) {
      lim.rlim_cur = std::min(want, lim.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
  }
  std::size_t in_flight() const {
    return static_cast<std::size_t>(
        std::count_if(m_conns.begin(), m_conns.end(), [](const Conn& c) { return c.busy; }));
  }
  void send_line(Conn& c, const std::string& line) {
    if (::send(c.fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      error = std::string("send: ") + std::strerror(errno);
    }
    c.busy = true;
  }
  void send_open(Conn& c) {
    c.handle = 0;
    send_line(c, R"({"jsonrpc":"2.0","id":1,"method":"open","params":{"node":"pass0"}})"
                 "\n");
  }
  std::uint64_t on_readable(Conn& c, bool more) {
    char buf[4096];
    const ssize_t n = ::read(c.fd, buf, sizeof(buf));
    if (n <= 0) {
      error = "ucamd closed a connection";
      return 0;
    }
    c.in.append(buf, static_cast<std::size_t>(n));
    std::uint64_t pairs = 0;
    std::size_t nl = 0;
    while ((nl = c.in.find('\n')) != std::string::npos) {
      const std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      if (line.find("\"result\"") == std::string::npos) {
        error = "error reply: " + line;
        return pairs;
      }
      c.busy = false;
      if (c.handle == 0) {
        const auto at = line.find("\"handle\":");
        c.handle = at == std::string::npos ? -1 : std::atoll(line.c_str() + at + 9);
        if (c.handle <= 0) {
          error = "open reply without a handle: " + line;
          return pairs;
        }
        send_line(c, R"({"jsonrpc":"2.0","id":2,"method":"close","params":{"handle":)" +
                         std::to_string(c.handle) + "}}\n");
      } else {
        ++pairs;
        if (more) {
          send_open(c);
        }
      }
    }
    return pairs;
  }
  int m_epoll = -1;
  std::vector<Conn> m_conns;
};

void BM_DaemonOpenCloseMany(benchmark::State& state) {
  SpawnedDaemon& d = fleet_daemon();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  static std::unique_ptr<OpenCloseFleet> fleet;  // Connected once per size, outside the timing.
  static int fleet_size = 0;
  const int count = static_cast<int>(state.range(0));
  if (!fleet || fleet_size != count) {
    fleet.reset();
    fleet = std::make_unique<OpenCloseFleet>(d.daemon->socket(), count);
    fleet_size = count;
  }
  if (!fleet->error.empty()) {
    state.SkipWithError(fleet->error.c_str());
    return;
  }
  const double daemon_before = process_cpu_us(d.daemon->pid());
  const double self_before = process_cpu_us(::getpid());
  std::uint64_t pairs = 0;
  std::uint64_t credit = 0;  // Pairs completed beyond the iterations counted so far.
  for (auto _ : state) {
    while (credit == 0 && fleet->error.empty()) {
      credit += fleet->step(true);
    }
    if (credit > 0) {
      --credit;
      ++pairs;
    }
  }
  fleet->drain();
  if (!fleet->error.empty()) {
    state.SkipWithError(fleet->error.c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(pairs));
  state.counters["ucamd_cpu_us_per_pair"] =
      (process_cpu_us(d.daemon->pid()) - daemon_before) / static_cast<double>(pairs);
  state.counters["client_cpu_us_per_pair"] =
      (process_cpu_us(::getpid()) - self_before) / static_cast<double>(pairs);
}
BENCHMARK(BM_DaemonOpenCloseMany)
    ->ArgName("connections")
    ->Arg(1)
    ->Arg(64)
    ->Arg(1000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Runs `argv` with stdout on /dev/null and waits; its exit status, or -1.
int run_quietly(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const auto& a : argv) {
    cargv.push_back(const_cast<char*>(a.c_str()));
  }
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int r = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (r != 0) {
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void run_ucamctl(benchmark::State& state, const std::vector<std::string>& argv) {
  for (auto _ : state) {
    const int status = run_quietly(argv);
    if (status != 0) {
      std::string command;
      for (const auto& a : argv) {
        command += a + " ";
      }
      state.SkipWithError((command + "exited with status " + std::to_string(status)).c_str());
      break;
    }
  }
}

std::string ucamctl() {
  return testing::build_dir() + "/cli/ucamctl";
}

void BM_UcamctlEncMap(benchmark::State& state) {
  SpawnedDaemon& d = jbod102_daemon();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  run_ucamctl(state, {ucamctl(), "--socket", d.daemon->socket(), "enc", "map"});
}
BENCHMARK(BM_UcamctlEncMap)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_UcamctlEncMapJson(benchmark::State& state) {
  SpawnedDaemon& d = jbod102_daemon();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  run_ucamctl(state, {ucamctl(), "--socket", d.daemon->socket(), "--json", "enc", "map"});
}
BENCHMARK(BM_UcamctlEncMapJson)->Unit(benchmark::kMillisecond)->UseRealTime();

// For the breakdown: the enc.map request alone over an open connection (no process start, no
// rendering), and ucamctl starting, parsing its arguments and exiting (--help, no connection).
void BM_DaemonEncMapRpc(benchmark::State& state) {
  SpawnedDaemon& d = jbod102_daemon();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  RpcConnection& c = *d.connections.at(0);
  for (auto _ : state) {
    const json r = c.call("enc.map");
    if (!r.is_object() || !r.contains("result")) {
      state.SkipWithError(("enc.map: " + r.dump()).c_str());
      break;
    }
  }
}
BENCHMARK(BM_DaemonEncMapRpc)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_UcamctlHelp(benchmark::State& state) {
  run_ucamctl(state, {ucamctl(), "--help"});
}
BENCHMARK(BM_UcamctlHelp)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_UcamctlEncMapInProcess(benchmark::State& state) {
  run_ucamctl(state, {ucamctl(), "--emulate", "builtin:jbod-102", "enc", "map"});
}
BENCHMARK(BM_UcamctlEncMapInProcess)->Unit(benchmark::kMillisecond)->UseRealTime();

// The daemon's server in this process, so the benchmark can post events straight into the XPT.
struct InProcessServer {
  std::unique_ptr<Stack> stack;
  std::unique_ptr<service::Service> service;
  std::unique_ptr<daemon::Server> server;
  std::string dir;
  cam::Path enclosure;  // ses0's path: the events name it.

  InProcessServer() {
    auto scenario = load_scenario("builtin:default");
    if (!scenario) {
      throw std::runtime_error(scenario.error().message());
    }
    auto s = Stack::create_emulated(*scenario);
    if (!s) {
      throw std::runtime_error(s.error().message());
    }
    stack = std::move(*s);
    service::AccessPolicy policy;
    policy.owner_uid = ::geteuid();
    service = std::make_unique<service::Service>(*stack, policy, service::ServiceLimits{});
    dir = testing::temp_dir();
    daemon::ServerLimits limits;
    limits.max_clients = 1024;
    daemon::SocketOptions socket;
    socket.path = dir + "/ucamd.sock";
    auto srv = daemon::Server::create(*service, socket, limits);
    if (!srv) {
      throw std::runtime_error(srv.error().message());
    }
    server = std::move(*srv);
    for (const auto& p : stack->periphs().periphs()) {
      if (p.name == "ses0") {
        enclosure = p.path;
      }
    }
  }
  ~InProcessServer() {
    server.reset();
    service.reset();
    stack.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

struct Subscriber {
  std::unique_ptr<RpcConnection> connection;
  std::string buffer;
  bool done = false;
};

struct FanOut {
  InProcessServer server;
  std::vector<Subscriber> subscribers;
  int epoll_fd = -1;

  explicit FanOut(int count) {
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < count; ++i) {
      Subscriber s;
      s.connection = std::make_unique<RpcConnection>(server.server->path());
      const json r = s.connection->connected() ? s.connection->call("events.subscribe") : json();
      if (!r.is_object() || !r.contains("result")) {
        throw std::runtime_error("events.subscribe: " + r.dump());
      }
      subscribers.push_back(std::move(s));
    }
    for (std::size_t i = 0; i < subscribers.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, subscribers[i].connection->fd(), &ev);
    }
  }
  ~FanOut() {
    subscribers.clear();
    ::close(epoll_fd);
  }
};

FanOut& fan_out(int count) {
  static std::mutex lock;
  static std::vector<std::pair<int, std::unique_ptr<FanOut>>> all;
  std::lock_guard guard(lock);
  for (auto& [n, f] : all) {
    if (n == count) {
      return *f;
    }
  }
  all.emplace_back(count, std::make_unique<FanOut>(count));
  return *all.back().second;
}

void BM_EventFanOut(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  FanOut* fp = nullptr;
  try {
    fp = &fan_out(count);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  FanOut& f = *fp;
  if (f.server.enclosure.bus == cam::Path::kWildcardBus) {
    state.SkipWithError("no ses0 in builtin:default");
    return;
  }
  cam::AsyncEvent event;
  event.code = cam::AsyncCode::ElementStatusChanged;
  event.path = f.server.enclosure;
  event.payload = std::make_shared<const enc::ElementEvent>(3, 1, 2);  // Element 3: OK -> Critical.
  using Clock = std::chrono::steady_clock;
  double first_sum_us = 0;
  double last_sum_us = 0;
  double last_max_us = 0;
  std::vector<epoll_event> ready(static_cast<std::size_t>(count));
  char chunk[65536];
  for (auto _ : state) {
    for (auto& s : f.subscribers) {
      s.done = false;
    }
    int remaining = count;
    double first_us = -1;
    double last_us = 0;
    const auto posted = Clock::now();
    f.server.stack->xpt().post_async(event);
    while (remaining > 0) {
      const int n = ::epoll_wait(f.epoll_fd, ready.data(), count, 10'000);
      if (n <= 0) {
        state.SkipWithError("a subscriber got no notification within 10 s");
        return;
      }
      for (int i = 0; i < n; ++i) {
        Subscriber& s = f.subscribers[ready[static_cast<std::size_t>(i)].data.u64];
        const ssize_t got = ::read(s.connection->fd(), chunk, sizeof(chunk));
        if (got <= 0) {
          state.SkipWithError("a subscriber's connection closed");
          return;
        }
        s.buffer.append(chunk, static_cast<std::size_t>(got));
        const auto nl = s.buffer.find('\n');
        if (nl == std::string::npos) {
          continue;
        }
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - posted).count();
        if (s.done || s.buffer.find("\"ElementStatusChanged\"") > nl) {
          state.SkipWithError(("unexpected line: " + s.buffer.substr(0, nl)).c_str());
          return;
        }
        s.buffer.erase(0, nl + 1);
        if (!s.buffer.empty()) {
          state.SkipWithError("more than one line per event");
          return;
        }
        s.done = true;
        --remaining;
        if (first_us < 0) {
          first_us = us;
        }
        last_us = us;
      }
    }
    first_sum_us += first_us;
    last_sum_us += last_us;
    last_max_us = std::max(last_max_us, last_us);
  }
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["first_us"] = first_sum_us / iterations;
  state.counters["last_us"] = last_sum_us / iterations;
  state.counters["last_max_us"] = last_max_us;
  state.counters["subscribers"] = count;
}
BENCHMARK(BM_EventFanOut)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace ucam::bench
