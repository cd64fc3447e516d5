// ucamd's server at scale (daemon/server.h): a thousand connections at once, slow commands on
// every worker, pipelined requests, and a client that does not read its replies. The daemon
// runs as a child process, as in daemon_e2e_test.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon_harness.h"
#include "tests/wait.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ucam::testing::Daemon;
using ucam::testing::RpcConnection;
using ucam::testing::wait_until;

bool is_result(const json& r) {
  return r.is_object() && r.contains("result");
}

std::string request_line(std::uint64_t id, const std::string& method,
                         const json& params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump() + "\n";
}

json status(RpcConnection& c) {
  const json r = c.call("daemon.status");
  return is_result(r) ? r["result"] : json();
}

// Resident set of `pid` in KiB (VmRSS), or 0.
std::uint64_t rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (f >> key) {
    if (key == "VmRSS:") {
      std::uint64_t kib = 0;
      f >> kib;
      return kib;
    }
    f.ignore(1 << 16, '\n');
  }
  return 0;
}

// Room for `n` descriptors in this process, if the hard limit allows.
bool allow_descriptors(rlim_t n) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return false;
  }
  if (lim.rlim_cur >= n) {
    return true;
  }
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < n) {
    return false;
  }
  lim.rlim_cur = n;
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

// 1,000 clients connected at once, each with a request in flight: every one is answered, by
// its own session, and the daemon counts them; when they leave, their sessions end.
TEST(DaemonServer, AThousandConnectionsAreServedAtOnce) {
  constexpr int kClients = 1000;
  if (!allow_descriptors(kClients + 256)) {
    GTEST_SKIP() << "the hard descriptor limit is below " << kClients + 256;
  }
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  std::vector<std::unique_ptr<RpcConnection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RpcConnection>(d->socket()));
    ASSERT_TRUE(clients.back()->connected()) << "client " << i;
  }
  // Every request is sent before any reply is read: all 1,000 are in flight together.
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[static_cast<std::size_t>(i)]->send_raw(
        request_line(static_cast<std::uint64_t>(i), "session.info")));
  }
  std::set<std::uint64_t> sessions;
  for (int i = 0; i < kClients; ++i) {
    const auto line = clients[static_cast<std::size_t>(i)]->read_line(30s);
    ASSERT_TRUE(line.has_value()) << "client " << i << " got no reply";
    const json r = json::parse(*line, nullptr, false);
    ASSERT_TRUE(is_result(r)) << *line;
    EXPECT_EQ(r["id"], i);
    sessions.insert(r["result"]["session"].get<std::uint64_t>());
  }
  EXPECT_EQ(sessions.size(), static_cast<std::size_t>(kClients)) << "one session per connection";
  json st = status(*clients[0]);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["daemon"]["clients"], kClients);
  EXPECT_EQ(st["daemon"]["clients_refused"], 0);
  clients.resize(1);
  EXPECT_TRUE(wait_until(
      [&] {
        st = status(*clients[0]);
        return st.is_object() && st["daemon"]["clients"] == 1 && st["sessions"].size() == 1;
      },
      30s))
      << st.dump();
  clients.clear();
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// Eight clients each run a command that the emulated disk holds for 5 s (more clients than the
// workers the daemon starts with): another client is answered while all eight are held, because
// the pool grows. When the delays end every held command is answered too.
TEST(DaemonServer, SlowCommandsOnEveryWorkerDelayNoOtherClient) {
  constexpr int kHung = 8;
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());
  ASSERT_TRUE(observer.connected());
  std::string disk;  // The da node of 0:0:0, once attached.
  ASSERT_TRUE(wait_until(
      [&] {
        const json r = observer.call("devices.list");
        for (const auto& dev : is_result(r) ? r["result"] : json::array()) {
          for (const auto& p : dev["periphs"]) {
            if (p.get<std::string>().starts_with("da") && dev["bus"] == 0 && dev["target"] == 0 &&
                dev["lun"] == 0) {
              disk = p.get<std::string>();
            }
          }
        }
        return !disk.empty();
      },
      20s));
  const json lun0 = {{"bus", 0}, {"target", 0}, {"lun", 0}};
  json inject = lun0;
  inject["action"] = "delay";
  inject["delay_us"] = 5'000'000;
  inject["count"] = 1000;
  ASSERT_TRUE(is_result(observer.call("emu.inject", inject)));
  std::vector<std::unique_ptr<RpcConnection>> hung;
  for (int i = 0; i < kHung; ++i) {
    hung.push_back(std::make_unique<RpcConnection>(d->socket()));
    ASSERT_TRUE(hung.back()->send_raw(
        request_line(1, "open", {{"node", disk}}) +
        request_line(2, "da.read", {{"handle", 1}, {"lba", 0}, {"blocks", 1}})));
  }
  json st;
  ASSERT_TRUE(wait_until(
      [&] {
        st = status(observer);  // Answered while every hung client holds a worker.
        return st.is_object() &&
               st["xpt"]["ccbs_outstanding"].get<std::uint64_t>() >= std::uint64_t{kHung};
      },
      20s))
      << st.dump();
  EXPECT_GE(st["daemon"]["workers"].get<std::size_t>(), std::size_t{kHung} + 1);
  ASSERT_TRUE(is_result(observer.call("emu.clear_faults", lun0)));  // Later commands: no delay.
  for (int i = 0; i < kHung; ++i) {
    auto& c = *hung[static_cast<std::size_t>(i)];
    const auto opened = c.read_line(30s);
    const auto read = c.read_line(30s);
    ASSERT_TRUE(opened && read) << "held client " << i << " got no reply";
    EXPECT_TRUE(is_result(json::parse(*opened, nullptr, false))) << *opened;
    EXPECT_EQ(json::parse(*read, nullptr, false)["id"], 2) << *read;
  }
  hung.clear();
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// A client that sends far more requests than it reads replies to is not served beyond a
// bounded backlog: the daemon stops reading from it (its send blocks), other clients are
// served, the daemon's memory stays bounded, and once the client reads, every reply arrives,
// in order.
TEST(DaemonServer, AClientThatDoesNotReadIsHeldBackAndLosesNothing) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection observer(d->socket());
  RpcConnection greedy(d->socket());
  ASSERT_TRUE(observer.connected() && greedy.connected());
  const std::string one = observer.call("devices.list").dump();
  ASSERT_GT(one.size(), 1000U);
  // Replies totalling about 32 MiB, if they were all made at once.
  const std::uint64_t count = (32ULL << 20) / one.size();
  const std::uint64_t rss_before = rss_kib(d->pid());
  ASSERT_GT(rss_before, 0U);
  std::thread sender([&] {
    std::string batch;
    for (std::uint64_t id = 1; id <= count; ++id) {
      batch += request_line(id, "devices.list");
      if (batch.size() > 65536 || id == count) {
        if (!greedy.send_raw(batch)) {
          return;
        }
        batch.clear();
      }
    }
  });
  json st;
  const auto backlogged_is = [&](int n) {
    st = status(observer);
    return st.is_object() && st["daemon"]["clients_backlogged"] == n;
  };
  EXPECT_TRUE(wait_until([&] { return backlogged_is(1); }, 60s)) << st.dump();
  // Held back: other clients are served, and the daemon holds a bounded backlog.
  EXPECT_TRUE(is_result(observer.call("devices.list")));
#if !defined(__SANITIZE_ADDRESS__)
  // (Under AddressSanitizer freed memory stays resident in its quarantine: no figure to check.)
  const std::uint64_t rss_held = rss_kib(d->pid());
  EXPECT_LT(rss_held, rss_before + 24 * 1024) << "KiB: the daemon buffers what is not read";
#endif
  // Every reply, in order.
  for (std::uint64_t id = 1; id <= count; ++id) {
    const auto line = greedy.read_line(60s);
    ASSERT_TRUE(line.has_value()) << "reply " << id << " of " << count << " missing";
    const json r = json::parse(*line, nullptr, false);
    ASSERT_TRUE(is_result(r)) << line->substr(0, 200);
    ASSERT_EQ(r["id"], id);
  }
  sender.join();
  EXPECT_TRUE(wait_until([&] { return backlogged_is(0); }, 30s)) << st.dump();
  EXPECT_EQ(d->stop(), 0) << d->log();
}

// Requests sent back to back on one connection (pipelined) run one at a time, in order: an
// open's handle is usable by the very next line, and a close by the one after.
TEST(DaemonServer, PipelinedRequestsRunInOrder) {
  auto d = Daemon::start();
  ASSERT_NE(d, nullptr) << "ucamd did not start";
  RpcConnection c(d->socket());
  ASSERT_TRUE(c.connected());
  constexpr int kRounds = 200;
  std::string script;
  std::uint64_t id = 0;
  for (int i = 0; i < kRounds; ++i) {
    // Each round's handle is i + 1: handles are numbered per session, from 1.
    script += request_line(++id, "open", {{"node", "pass0"}});
    script += request_line(++id, "device.tur", {{"handle", i + 1}});
    script += request_line(++id, "close", {{"handle", i + 1}});
  }
  ASSERT_TRUE(c.send_raw(script));
  for (std::uint64_t want = 1; want <= id; ++want) {
    const auto line = c.read_line(30s);
    ASSERT_TRUE(line.has_value()) << "reply " << want;
    const json r = json::parse(*line, nullptr, false);
    ASSERT_EQ(r["id"], want) << *line;
    ASSERT_TRUE(is_result(r)) << *line;
    if (want % 3 == 1) {
      EXPECT_EQ(r["result"]["handle"], (want - 1) / 3 + 1) << *line;
    }
  }
  const json st = status(c);
  EXPECT_EQ(st["handles"], 0);
  EXPECT_EQ(d->stop(), 0) << d->log();
}

}  // namespace
