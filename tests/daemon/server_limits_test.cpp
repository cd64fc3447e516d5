// daemon::Server in this process (the same Stack, Service and Server as ucamd), so a test can
// watch the XPT directly while every connection the server allows is inside a held command.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "daemon/server.h"
#include "service/service.h"
#include "stack/stack.h"
#include "tests/daemon_harness.h"
#include "tests/wait.h"

namespace ucam::daemon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RpcConnection;
using testing::wait_until;

std::string request_line(int id, const std::string& method, const json& params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump() + "\n";
}

struct InProcess {
  std::unique_ptr<Stack> stack;
  std::unique_ptr<service::Service> service;
  std::unique_ptr<Server> server;
  std::string dir = testing::temp_dir();

  explicit InProcess(ServerLimits limits) {
    auto scenario = load_scenario("builtin:default");
    EXPECT_TRUE(scenario.has_value());
    auto s = Stack::create_emulated(*scenario);
    EXPECT_TRUE(s.has_value());
    stack = std::move(*s);
    service::AccessPolicy policy;
    policy.owner_uid = ::geteuid();
    service = std::make_unique<service::Service>(*stack, policy, service::ServiceLimits{});
    SocketOptions options;
    options.path = socket();
    auto srv = Server::create(*service, options, limits);
    EXPECT_TRUE(srv.has_value()) << (srv ? "" : srv.error().message());
    server = std::move(*srv);
  }
  ~InProcess() {
    server.reset();
    service.reset();
    stack.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string socket() const { return dir + "/ucamd.sock"; }
};

// Every connection max_clients allows runs a command the emulated disk holds forever, so every
// worker the server started with is inside one: a worker is still found to watch the sockets
// (a connection beyond the limit is refused, with a reply), and stop() returns, so that ucamd's
// shutdown reaches Stack::stop_sims(), which ends the held commands.
TEST(ServerLimits, EveryClientInAHeldCommandStillLeavesAWorkerToLeadAndStop) {
  const std::size_t clients = std::max(2U, std::thread::hardware_concurrency());
  ServerLimits limits;
  limits.max_clients = clients;
  limits.reserved_admin_clients = 0;
  InProcess p(limits);
  std::vector<std::unique_ptr<RpcConnection>> held;
  for (std::size_t i = 0; i < clients; ++i) {
    held.push_back(std::make_unique<RpcConnection>(p.socket()));
    ASSERT_TRUE(held.back()->connected());
  }
  std::string disk;  // The da node of 0:0:0.
  const json list = held[0]->call("devices.list");
  for (const auto& d : list.value("result", json::array())) {
    for (const auto& name : d["periphs"]) {
      if (d["bus"] == 0 && d["target"] == 0 && d["lun"] == 0 &&
          name.get<std::string>().starts_with("da")) {
        disk = name.get<std::string>();
      }
    }
  }
  ASSERT_FALSE(disk.empty()) << list.dump();
  ASSERT_TRUE(
      held[0]
          ->call("emu.inject",
                 {{"bus", 0}, {"target", 0}, {"lun", 0}, {"action", "hang"}, {"count", 1000}})
          .contains("result"));
  for (auto& c : held) {
    ASSERT_TRUE(
        c->send_raw(request_line(1, "open", {{"node", disk}}) +
                    request_line(2, "da.read", {{"handle", 1}, {"lba", 0}, {"blocks", 1}})));
    const auto opened = c->read_line(20s);
    ASSERT_TRUE(opened.has_value());
    ASSERT_NE(opened->find("\"result\""), std::string::npos) << *opened;
  }
  ASSERT_TRUE(wait_until([&] { return p.server->running() == clients; }, 20s))
      << p.server->running() << " of " << clients << " sessions inside their command";
  // One more connection is answered (refused: the limit), by a worker that leads.
  RpcConnection extra(p.socket());
  ASSERT_TRUE(extra.connected());
  const auto refusal = extra.read_line(20s);
  ASSERT_TRUE(refusal.has_value()) << "no worker watches the sockets";
  EXPECT_NE(refusal->find("max_clients"), std::string::npos) << *refusal;
  // stop() returns although every session is still inside its command.
  auto stopped = std::async(std::launch::async, [&] { p.server->stop(); });
  ASSERT_EQ(stopped.wait_for(20s), std::future_status::ready) << "stop() hangs";
  EXPECT_FALSE(std::filesystem::exists(p.socket()));
  EXPECT_EQ(p.server->clients(), clients);
  p.stack->stop_sims();  // As ucamd does after its grace period.
  EXPECT_EQ(p.server->wait(20s), 0U);
  for (auto& c : held) {
    const auto line = c->read_line(20s);
    ASSERT_TRUE(line.has_value()) << "the held command was not answered";
    EXPECT_EQ(json::parse(*line, nullptr, false)["id"], 2) << *line;
  }
}

}  // namespace
}  // namespace ucam::daemon
