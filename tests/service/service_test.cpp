// The service layer in-process: sessions as tracked opens, rights, errors, events, and a
// concurrent open/close/command load against hot-plug (the lifecycle under TSan).
#include "service/service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <tuple>

#include "tests/wait.h"

namespace ucam::service {
namespace {

using ucam::testing::wait_until;

struct Harness {
  std::unique_ptr<Stack> stack;
  std::unique_ptr<Service> service;

  explicit Harness(const char* scenario_spec = "builtin:default") {
    auto scenario = load_scenario(scenario_spec);
    EXPECT_TRUE(scenario.has_value());
    auto s = Stack::create_emulated(*scenario);
    EXPECT_TRUE(s.has_value());
    stack = std::move(*s);
    AccessPolicy policy;
    policy.owner_uid = 4242;  // Not us, unless we run as 4242.
    policy.admin_gids = {777};
    policy.admin_group_names = "ucam-admin";
    service = std::make_unique<Service>(*stack, policy, ServiceLimits{4});
  }
};

struct Client {
  Service& service;
  std::shared_ptr<Session> session;
  std::mutex lock;
  std::condition_variable cv;
  std::deque<json> events;
  int id = 0;

  Client(Service& s, Peer peer) : service(s) {
    session = s.begin_session(peer, [this](std::string line) {
      {
        std::lock_guard g(lock);
        events.push_back(json::parse(line));
      }
      cv.notify_all();
    });
  }
  ~Client() { service.end_session(*session); }

  json call(const std::string& method, json params = json::object()) {
    return json::parse(service.handle_line(
        *session,
        json{{"jsonrpc", "2.0"}, {"id", ++id}, {"method", method}, {"params", params}}.dump()));
  }
  std::optional<json> next_event(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock g(lock);
    if (!cv.wait_for(g, timeout, [&] { return !events.empty(); })) {
      return std::nullopt;
    }
    json e = events.front();
    events.pop_front();
    return e;
  }
};

Peer root() {
  return Peer{0, 0, 100, {}};
}
Peer nobody() {
  return Peer{65534, 65534, 101, {}};
}
int code(const json& response) {
  return response.contains("error") ? response["error"]["code"].get<int>() : 0;
}

TEST(ServiceSession, OpenReturnsHandlesThatHoldReferencesUntilClosed) {
  Harness h;
  Client c(*h.service, root());
  const auto before = h.stack->devfs().stats().opens;
  auto r = c.call("open", {{"node", "pass0"}});
  ASSERT_EQ(code(r), 0) << r.dump();
  const auto handle = r["result"]["handle"].get<std::int64_t>();
  EXPECT_EQ(h.stack->devfs().stats().opens, before + 1);
  EXPECT_EQ(c.session->handle_count(), 1U);
  EXPECT_EQ(code(c.call("device.tur", {{"handle", handle}})), 0);
  EXPECT_EQ(code(c.call("close", {{"handle", handle}})), 0);
  EXPECT_EQ(h.stack->devfs().stats().opens, before);
  // A second close of the same handle is an error, not a second release.
  auto again = c.call("close", {{"handle", handle}});
  EXPECT_EQ(again["error"]["data"]["errno_name"], "EBADF");
  EXPECT_EQ(h.stack->devfs().stats().opens, before);
}

TEST(ServiceSession, EndingASessionClosesEveryHandleItHeld) {
  Harness h;
  const auto before = h.stack->devfs().stats().opens;
  {
    Client c(*h.service, root());
    for (const char* node : {"pass0", "pass1", "ses0"}) {
      ASSERT_EQ(code(c.call("open", {{"node", node}})), 0);
    }
    EXPECT_EQ(h.stack->devfs().stats().opens, before + 3);
    EXPECT_EQ(h.service->end_session(*c.session), 3U);
    EXPECT_EQ(h.stack->devfs().stats().opens, before);
    EXPECT_EQ(h.service->end_session(*c.session), 0U);  // Idempotent.
  }
  EXPECT_EQ(h.service->status()["sessions"].size(), 0U);
}

TEST(ServiceSession, HandleLimitRefusesTheOpenAndLeaksNothing) {
  Harness h;  // max_handles_per_session = 4
  Client c(*h.service, root());
  const auto before = h.stack->devfs().stats().opens;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(code(c.call("open", {{"node", "pass0"}})), 0);
  }
  auto r = c.call("open", {{"node", "pass0"}});
  EXPECT_EQ(code(r), static_cast<int>(RpcCode::LimitExceeded)) << r.dump();
  EXPECT_EQ(r["error"]["data"]["errno_name"], "EMFILE");
  EXPECT_EQ(h.stack->devfs().stats().opens, before + 4);
}

TEST(ServiceSession, DepartedNodeFailsCallsWithNoSuchDeviceButCloseSucceeds) {
  Harness h;
  Client c(*h.service, root());
  auto r = c.call("open", {{"node", "0:3:0"}});
  ASSERT_EQ(code(r), 0) << r.dump();
  const auto handle = r["result"]["handle"];
  ASSERT_EQ(code(c.call("emu.remove_lun", {{"bus", 0}, {"target", 3}, {"lun", 0}})), 0);
  h.stack->settle();
  auto tur = c.call("device.tur", {{"handle", handle}});
  EXPECT_EQ(code(tur), static_cast<int>(RpcCode::NoSuchDevice)) << tur.dump();
  EXPECT_EQ(code(c.call("close", {{"handle", handle}})), 0);
  EXPECT_EQ(h.stack->devfs().stats().opens, 0U);
}

TEST(ServiceRights, ReadersReadButEveryChangeIsRefusedNamingTheRight) {
  Harness h;
  Client c(*h.service, nobody());
  EXPECT_FALSE(c.session->admin());
  for (const char* m : {"devices.list", "enc.list", "enc.show", "daemon.status", "rpc.methods"}) {
    EXPECT_EQ(code(c.call(m)), 0) << m;
  }
  EXPECT_EQ(code(c.call("device.inquiry", {{"device", "pass0"}})), 0);
  EXPECT_EQ(code(c.call("enc.get_led", {{"target", "pass9"}, {"kind", "locate"}})), 0);
  const std::vector<std::pair<std::string, json>> changes = {
      {"enc.set_led", {{"target", "pass9"}, {"kind", "locate"}, {"state", "on"}}},
      {"pass.command", {{"device", "pass0"}, {"cdb", "00 00 00 00 00 00"}}},
      {"rescan", json::object()},
      {"enc.set_element", {{"enclosure", "ses0"}, {"element", 1}, {"control", "80000200"}}},
      {"emu.pull_disk", {{"enclosure", "jbod4"}, {"slot", 0}}},
      {"pt.send", {{"device", "pt0"}, {"data", "00"}}},     // Queues a message.
      {"pt.receive", {{"device", "pt0"}, {"length", 16}}},  // Consumes one.
      {"ch.move", {{"device", "ch0"}, {"from", "slot:0"}, {"to", "drive:0"}}},
      {"ch.init", {{"device", "ch0"}}},
  };
  for (const auto& [method, params] : changes) {
    auto r = c.call(method, params);
    ASSERT_EQ(code(r), static_cast<int>(RpcCode::PermissionDenied)) << method << r.dump();
    EXPECT_EQ(r["error"]["data"]["required"], "admin");
    EXPECT_NE(r["error"]["message"].get<std::string>().find("ucam-admin"), std::string::npos);
  }
  // Nothing changed: the LED is still off.
  Client admin(*h.service, root());
  auto led = admin.call("enc.get_led", {{"target", "pass9"}, {"kind", "locate"}});
  EXPECT_EQ(led["result"][0]["locate"], false);
}

TEST(ServiceRights, AdminGroupMembershipGrantsTheAdminRight) {
  Harness h;
  EXPECT_TRUE(h.service->is_admin(Peer{1000, 1000, 1, {5, 777}}));  // Supplementary.
  EXPECT_TRUE(h.service->is_admin(Peer{1000, 777, 1, {}}));         // Primary.
  EXPECT_TRUE(h.service->is_admin(Peer{4242, 1, 1, {}}));           // The daemon's own uid.
  EXPECT_FALSE(h.service->is_admin(Peer{1000, 1000, 1, {5}}));
  AccessPolicy p;
  p.owner_uid = 4242;
  h.service->set_policy(p);
  EXPECT_FALSE(h.service->is_admin(Peer{1000, 777, 1, {}}));
}

TEST(ServiceProtocol, MalformedRequestsGetTheRightErrors) {
  Harness h;
  Client c(*h.service, root());
  auto line = [&](const std::string& text) {
    const auto out = h.service->handle_line(*c.session, text);
    return out.empty() ? json() : json::parse(out);
  };
  EXPECT_EQ(code(line("{")), -32700);
  EXPECT_EQ(code(line("42")), -32600);
  EXPECT_EQ(code(line(R"({"id":1,"method":"devices.list"})")), -32600);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":{},"method":"devices.list"})")), -32600);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":1,"method":7})")), -32600);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":1,"method":"x"})")), -32601);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":1,"method":"open","params":"pass0"})")), -32600);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":1,"method":"open","params":{"node":3}})")), -32602);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":1,"method":"close","params":{"handle":-1}})")),
            -32602);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":1,"method":"close","params":{"handle":1e300}})")),
            -32602);
  EXPECT_EQ(code(line(R"([])")), -32600);
  // Nesting is bounded before parsing; strings do not count.
  const auto nested = [](int depth) {
    return R"({"jsonrpc":"2.0","id":1,"method":"open","params":{"node":)" +
           std::string(depth, '[') + std::string(depth, ']') + "}}";
  };
  EXPECT_EQ(code(line(nested(62))), -32602);  // 64 levels in all: parsed, a bad node type.
  auto deep = line(nested(100'000));
  EXPECT_EQ(code(deep), -32600);
  EXPECT_NE(deep["error"]["message"].get<std::string>().find("nested"), std::string::npos);
  EXPECT_EQ(code(line(R"({"jsonrpc":"2.0","id":1,"method":"open","params":{"node":")" +
                      std::string(1000, '[') + R"("}})")),
            -32002);  // Brackets inside a string are just characters.
  EXPECT_TRUE(line(R"({"jsonrpc":"2.0","id":true,"method":"x"})")["id"].is_null());
  // Notifications get no reply, even when they fail.
  EXPECT_TRUE(line(R"({"jsonrpc":"2.0","method":"nope"})").is_null());
  // A batch answers each request that has an id, in order.
  auto batch =
      line(R"([{"jsonrpc":"2.0","id":1,"method":"enc.status"},5,{"jsonrpc":"2.0","method":"x"},)"
           R"({"jsonrpc":"2.0","id":2,"method":"nope"}])");
  ASSERT_TRUE(batch.is_array());
  ASSERT_EQ(batch.size(), 3U);
  EXPECT_EQ(batch[0]["id"], 1);
  EXPECT_EQ(code(batch[1]), -32600);
  EXPECT_EQ(code(batch[2]), -32601);
}

std::string request(std::int64_t id, const std::string& method,
                    const json& params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
}

// A batch of the given requests, as one line.
std::string batch_line(const std::vector<std::string>& requests) {
  std::string out = "[";
  for (const auto& r : requests) {
    out += (out.size() > 1 ? "," : "") + r;
  }
  return out + "]";
}

TEST(ServiceLimits, BatchOverMaxBatchRequestsIsRefusedWholeAndRunsNothing) {
  Harness h;
  h.service->set_limits(ServiceLimits{16, 4, 1 << 20});
  Client c(*h.service, root());
  std::vector<std::string> opens;
  for (int i = 0; i < 5; ++i) {
    opens.push_back(request(i + 1, "open", {{"node", "pass" + std::to_string(i)}}));
  }
  // At the limit: every request runs and is answered.
  const json four = json::parse(
      h.service->handle_line(*c.session, batch_line({opens.begin(), opens.begin() + 4})));
  ASSERT_TRUE(four.is_array()) << four.dump();
  ASSERT_EQ(four.size(), 4U);
  for (const auto& r : four) {
    EXPECT_EQ(code(r), 0) << r.dump();
  }
  EXPECT_EQ(c.session->handle_count(), 4U);
  EXPECT_EQ(h.service->end_session(*c.session), 4U);
  // Over it: one error for the whole batch, and nothing ran.
  Client d(*h.service, nobody());
  const json five = json::parse(h.service->handle_line(*d.session, batch_line(opens)));
  ASSERT_TRUE(five.is_object()) << five.dump();
  EXPECT_EQ(code(five), static_cast<int>(RpcCode::LimitExceeded)) << five.dump();
  EXPECT_TRUE(five["id"].is_null());
  EXPECT_EQ(five["error"]["data"]["limit"], "max_batch_requests");
  EXPECT_NE(five["error"]["message"].get<std::string>().find("a batch of 5 requests is over the "
                                                             "limit of 4"),
            std::string::npos)
      << five.dump();
  EXPECT_EQ(d.session->handle_count(), 0U);
}

TEST(ServiceLimits, RepliesStopAtMaxReplyBytes) {
  Harness h;
  Client c(*h.service, nobody());  // The read right suffices for enc.map.
  const std::string one = h.service->handle_line(*c.session, request(1, "enc.map"));
  ASSERT_EQ(code(json::parse(one)), 0);
  const std::vector<std::string> requests = {request(1, "enc.map"), request(2, "enc.map"),
                                             request(3, "enc.map"), request(4, "session.info")};
  const std::string all = h.service->handle_line(*c.session, batch_line(requests));
  ASSERT_EQ(json::parse(all).size(), 4U);
  const std::string two =
      h.service->handle_line(*c.session, batch_line({requests.begin(), requests.begin() + 2}));
  ASSERT_EQ(json::parse(two).size(), 2U);
  auto limit = [&](std::size_t bytes) { h.service->set_limits(ServiceLimits{4, 64, bytes}); };

  // One request: a reply of exactly max_reply_bytes is sent; one byte over, an error.
  limit(one.size());
  EXPECT_EQ(h.service->handle_line(*c.session, request(1, "enc.map")), one);
  limit(one.size() - 1);
  const json over = json::parse(h.service->handle_line(*c.session, request(1, "enc.map")));
  EXPECT_EQ(code(over), static_cast<int>(RpcCode::LimitExceeded)) << over.dump();
  EXPECT_EQ(over["id"], 1);
  EXPECT_EQ(over["error"]["data"]["limit"], "max_reply_bytes");

  // A batch whose replies make exactly max_reply_bytes is answered whole.
  limit(all.size());
  EXPECT_EQ(h.service->handle_line(*c.session, batch_line(requests)), all);
  // With room for two replies, the third is replaced by an error (it ran), the fourth is not
  // run; the answer is still one reply per request, in order.
  limit(two.size());
  const json cut = json::parse(h.service->handle_line(*c.session, batch_line(requests)));
  ASSERT_TRUE(cut.is_array()) << cut.dump();
  ASSERT_EQ(cut.size(), 4U);
  EXPECT_EQ(cut[0], json::parse(two)[0]);
  EXPECT_EQ(cut[1], json::parse(two)[1]);
  for (int i : {2, 3}) {
    EXPECT_EQ(cut[i]["id"], i + 1);
    EXPECT_EQ(code(cut[i]), static_cast<int>(RpcCode::LimitExceeded)) << cut[i].dump();
    EXPECT_EQ(cut[i]["error"]["data"]["limit"], "max_reply_bytes");
  }
  EXPECT_NE(cut[3]["error"]["message"].get<std::string>().find("not run"), std::string::npos);
}

// Every parameter a method does not take, and every one of the wrong type, is refused before
// the method runs, naming it: the way scenario files are read. (emu.inject took
// {"action": "busy", "sense": 1} and armed the fault.)
TEST(ServiceProtocol, UnknownOrWrongTypedParamsAreRefusedNamingTheKey) {
  Harness h;
  Client c(*h.service, root());
  const auto pass0 = c.call("open", {{"node", "pass0"}})["result"]["handle"];
  const auto ses0 = c.call("open", {{"node", "ses0"}})["result"]["handle"];
  const json lun0 = {{"bus", 0}, {"target", 0}, {"lun", 0}};
  auto with = [](json base, const json& more) {
    base.update(more);
    return base;
  };
  const std::vector<std::tuple<std::string, json, std::string>> cases = {
      {"emu.inject", with(lun0, {{"action", "busy"}, {"sense", 1}}),
       "params.sense: expected a string or an array, got number"},
      {"emu.inject", with(lun0, {{"action", "busy"}, {"sense", "03/11/00"}}),
       "params.sense: action \"busy\" does not take it"},
      {"emu.inject", with(lun0, {{"action", "hang"}, {"delay_us", 5}}),
       "params.delay_us: action \"hang\" does not take it"},
      {"emu.inject", with(lun0, {{"action", "busy"}, {"count", "2"}}),
       "params.count: expected an integer, got string"},
      {"emu.remove_target", lun0, "params.lun: unknown parameter"},
      {"emu.clear_faults", with(lun0, {{"unit_attention", true}}),
       "params.unit_attention: unknown parameter"},
      {"emu.insert_disk",
       {{"enclosure", "jbod4"}, {"slot", 2}, {"sas_address", "5000c50000000001"}, {"bus", 1}},
       "params.bus: give a scenario LUN (bus, target, lun) or a sas_address, not both"},
      {"device.tur", {{"handle", pass0}, {"device", 5}}, "params.device: expected a string"},
      {"device.tur",
       {{"handle", pass0}, {"device", "pass1"}},
       "params.device: give \"handle\" or \"device\", not both"},
      {"enc.map",
       {{"handle", ses0}, {"enclosure", "ses0"}},
       "params.enclosure: give \"handle\" or \"enclosure\", not both"},
      {"enc.map", {{"handle", "1"}}, "params.handle: expected an integer, got string"},
      {"events.subscribe", {{"codes", "FoundDevice"}}, "params.codes: expected an array"},
      {"rescan", {{"bus", "0"}}, "params.bus: expected an integer"},
      {"pass.command",
       {{"device", "pass0"}, {"cdb", "00 00 00 00 00 00"}, {"recover", 1}},
       "params.recover: expected true or false, got number"},
      {"open", {{"node", "pass0"}, {"nodes", 1}}, "params.nodes: unknown parameter"},
  };
  for (const auto& [method, params, message] : cases) {
    const json r = c.call(method, params);
    EXPECT_EQ(code(r), static_cast<int>(RpcCode::InvalidParams)) << method << r.dump();
    const std::string text = code(r) != 0 ? r["error"].value("message", "") : r.dump();
    EXPECT_NE(text.find(message), std::string::npos) << method << " -> " << r.dump();
  }
  // Nothing ran: no fault was armed, no disk went anywhere.
  EXPECT_EQ(c.call("device.tur", {{"device", "pass0"}})["result"]["ok"], true);
  EXPECT_EQ(h.stack->xpt().devices().size(), 12U);

  // Every method lists what it takes, and refuses anything else and every wrong type.
  const json methods = c.call("rpc.methods")["result"];
  ASSERT_GT(methods.size(), 40U);
  for (const auto& m : methods) {
    const std::string method = m["method"];
    const json unknown = c.call(method, {{"bogus", 1}});
    EXPECT_EQ(code(unknown), static_cast<int>(RpcCode::InvalidParams)) << method;
    EXPECT_NE(unknown.dump().find("params.bogus: unknown parameter"), std::string::npos)
        << method << " -> " << unknown.dump();
    ASSERT_TRUE(m["params"].is_array()) << m.dump();
    for (const auto& p : m["params"]) {
      const std::string name = p["name"];
      const std::string type = p["type"];
      // A value of a type the parameter never takes.
      const json wrong = type == "true or false" ? json("yes") : json(true);
      const json r = c.call(method, {{name, wrong}});
      EXPECT_EQ(code(r), static_cast<int>(RpcCode::InvalidParams)) << method << " " << name;
      EXPECT_NE(r.dump().find("params." + name + ": expected " + type), std::string::npos)
          << method << " " << name << " -> " << r.dump();
    }
  }
  EXPECT_EQ(h.stack->xpt().devices().size(), 12U);
}

// An id comes back exactly as it was sent: an integer beyond 64 bits came back as 1e+30.
TEST(ServiceProtocol, IdsAreEchoedExactlyAsSent) {
  Harness h;
  Client c(*h.service, root());
  for (const std::string id :
       {"1000000000000000000000000000000", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "1.50", "1e3", "-0.0", "7", "\"text\"", "0.1"}) {
    const std::string reply = h.service->handle_line(
        *c.session, R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"session.info"})");
    EXPECT_TRUE(reply.starts_with(R"({"id":)" + id + R"(,"jsonrpc":"2.0","result":{)")) << reply;
    EXPECT_TRUE(json::parse(reply).contains("result")) << reply;
    // Errors too: from the method, and for an invalid request.
    const std::string error =
        h.service->handle_line(*c.session, R"({"jsonrpc":"2.0","method":"nope","id":)" + id + "}");
    EXPECT_NE(error.find(R"(,"id":)" + id + R"(,"jsonrpc":"2.0"})"), std::string::npos) << error;
    const std::string invalid =
        h.service->handle_line(*c.session, R"({"id":)" + id + R"(,"method":"session.info"})");
    EXPECT_NE(invalid.find(R"(,"id":)" + id + R"(,"jsonrpc":"2.0"})"), std::string::npos)
        << invalid;
  }
  const std::string batch = h.service->handle_line(
      *c.session,
      R"([{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"session.info"},)"
      R"({"jsonrpc":"2.0","method":"session.info"},{"jsonrpc":"2.0","id":2.50,"method":"x"},)"
      R"({"jsonrpc":"2.0","id":3,"method":"session.info"}])");
  const json parsed = json::parse(batch);
  ASSERT_EQ(parsed.size(), 3U) << batch;
  EXPECT_TRUE(batch.starts_with(R"([{"id":123456789012345678901234567890,"jsonrpc":"2.0",)"))
      << batch;
  EXPECT_NE(batch.find(R"(,"id":2.50,"jsonrpc":"2.0"})"), std::string::npos) << batch;
  EXPECT_NE(batch.find(R"({"id":3,"jsonrpc":"2.0","result":)"), std::string::npos) << batch;
  // A duplicate id member: the last one counts, as for every other member.
  const std::string twice = h.service->handle_line(
      *c.session, R"({"jsonrpc":"2.0","id":1.50,"id":4,"method":"session.info"})");
  EXPECT_TRUE(twice.starts_with(R"({"id":4,"jsonrpc")")) << twice;
}

// A method may hand its result over as JSON text (set_result_text, for large replies): alone
// it is spliced into the reply as it is, with the id as sent; in a batch it goes back into
// the tree; a handler that fails after setting it sends only its error.
TEST(ServiceProtocol, ResultTextIsTheResultAloneAndInBatches) {
  Harness h;
  h.service->add_method("test.text", Right::Read, "Answers with text.",
                        {{"fail", ParamType::Boolean}},
                        [](Session& session, const json& params) -> Result<json> {
                          session.set_result_text(R"({"n":[1,2],"s":"x"})");
                          if (params.value("fail", false)) {
                            return fail(Error::described(EIO, "failed after the text"));
                          }
                          return json();
                        });
  Client c(*h.service, root());
  const std::string alone =
      h.service->handle_line(*c.session, R"({"jsonrpc":"2.0","id":1.50,"method":"test.text"})");
  EXPECT_EQ(alone, R"({"id":1.50,"jsonrpc":"2.0","result":{"n":[1,2],"s":"x"}})");
  const json failed = c.call("test.text", {{"fail", true}});
  EXPECT_EQ(code(failed), static_cast<int>(RpcCode::DeviceError)) << failed;  // EIO
  EXPECT_FALSE(failed.contains("result"));
  // No text left over for the next method.
  const json info = c.call("session.info");
  EXPECT_TRUE(info["result"].is_object()) << info;
  EXPECT_FALSE(info["result"].contains("n"));
  const json batch = json::parse(
      h.service->handle_line(*c.session, R"([{"jsonrpc":"2.0","id":1,"method":"test.text"},)"
                                         R"({"jsonrpc":"2.0","id":2,"method":"session.info"}])"));
  ASSERT_EQ(batch.size(), 2U) << batch;
  EXPECT_EQ(batch[0]["result"], (json{{"n", {1, 2}}, {"s", "x"}}));
  EXPECT_FALSE(batch[1]["result"].contains("n"));
}

// devices.list and pass.get_device (which adds the node it was asked through) must say the same
// for every device, byte for byte once parsed, and what they say must be the XPT's.
TEST(ServiceDevices, ListIsTheXptDatabaseAndAgreesWithGetDevice) {
  Harness h;
  Client c(*h.service, root());
  json list;
  // The enclosure publishes its disks' physical paths shortly after the scan.
  ASSERT_TRUE(wait_until([&] {
    list = c.call("devices.list")["result"];
    return std::any_of(list.begin(), list.end(),
                       [](const json& d) { return d["physical_path"].is_string(); });
  }));
  const auto devices = h.stack->xpt().devices();
  ASSERT_EQ(list.size(), devices.size());
  std::size_t with_path = 0, compared = 0;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const json& entry = list[i];
    const auto& d = devices[i];
    EXPECT_EQ(entry["bus"], d.path.bus);
    EXPECT_EQ(entry["target"], d.path.target);
    EXPECT_EQ(entry["lun"], d.path.lun);
    EXPECT_EQ(entry["vendor"], d.vendor);
    EXPECT_EQ(entry["product"], d.product);
    EXPECT_EQ(entry["serial"], d.serial);
    EXPECT_EQ(entry["device_type"], d.device_type);
    EXPECT_EQ(entry["periphs"], h.stack->periphs().names_for(d.path));
    with_path += entry["physical_path"].is_string() ? 1 : 0;
    for (const auto& name : entry["periphs"]) {
      if (name.get<std::string>().rfind("pass", 0) != 0) {
        continue;
      }
      json got = c.call("pass.get_device", {{"device", name}})["result"];
      ASSERT_TRUE(got.is_object()) << name;
      EXPECT_EQ(got["node"], name);
      got.erase("node");
      if (got["physical_path"] == entry["physical_path"]) {  // Not republished in between.
        EXPECT_EQ(got.dump(), entry.dump()) << name;
        ++compared;
      }
    }
  }
  EXPECT_GT(with_path, 0U);
  EXPECT_GT(compared, 0U);
}

TEST(ServiceEvents, SubscribersGetEnclosureAndDeviceEventsAsTheyHappen) {
  Harness h;
  Client watcher(*h.service, nobody());
  ASSERT_EQ(
      code(watcher.call("events.subscribe", {{"codes", {"LostDevice", "ElementStatusChanged"}}})),
      0);
  Client admin(*h.service, root());
  ASSERT_EQ(code(admin.call("emu.pull_disk", {{"enclosure", "jbod4"}, {"slot", 0}})), 0);
  ASSERT_EQ(code(admin.call("enc.refresh", {{"enclosure", "ses0"}})), 0);
  bool lost = false, element = false;
  while (!(lost && element)) {
    auto e = watcher.next_event();
    ASSERT_TRUE(e.has_value()) << "lost=" << lost << " element=" << element;
    ASSERT_EQ((*e)["method"], "event");
    const auto& p = (*e)["params"];
    if (p["event"] == "LostDevice") {
      EXPECT_EQ(p["bus"], 1);
      EXPECT_EQ(p["target"], 4);
      // The names that left with the disk, though its periphs are gone by now.
      EXPECT_EQ(p["periphs"], json::array({"pass9", "da8", "sg9"}));
      lost = true;
    } else {
      ASSERT_EQ(p["event"], "ElementStatusChanged");  // Filtered: nothing else arrives.
      EXPECT_EQ(p["new_status"], "Not installed");
      element = true;
    }
  }
  EXPECT_EQ(code(watcher.call("events.subscribe", {{"codes", {"Bogus"}}})), -32602);
}

// builtin:jbod-24: one enclosure behind two SES devices, ses0 (ESM A, 0:100:0) and ses1 (ESM B).
// Slot 07's IDENT as enc.map shows it through `node`.
std::optional<bool> slot07_locate(Client& c, const std::string& node) {
  auto r = c.call("enc.map", {{"enclosure", node}});
  if (code(r) != 0) {
    return std::nullopt;
  }
  for (const auto& el : r["result"][0]["elements"]) {
    if (el["descriptor"] == "Slot 07") {
      return el["fields"].value("ident", false);
    }
  }
  return std::nullopt;
}

// Set through one SES device, read through every one within 2 s (a deadline, not a measurement:
// ses1's next poll is 60 s away).
TEST(ServiceEnclosure, LocateBySlotNameIsSeenThroughEverySesDevice) {
  Harness h("builtin:jbod-24");
  Client c(*h.service, root());
  ASSERT_EQ(slot07_locate(c, "ses1"), false);
  auto r = c.call("enc.set_led", {{"target", "Slot 07"}, {"kind", "locate"}, {"state", "on"}});
  ASSERT_EQ(code(r), 0) << r.dump();
  ASSERT_EQ(r["result"].size(), 1U) << r.dump();  // One enclosure, one slot: set once.
  EXPECT_EQ(r["result"][0]["locate"], true);
  EXPECT_TRUE(wait_until(
      [&] { return slot07_locate(c, "ses0") == true && slot07_locate(c, "ses1") == true; },
      std::chrono::seconds(2)));
}

// ESM A's LUN fails every command: "Slot 07" is set through ses1, and both show it; ses0 says
// its path failed and whose status it shows.
TEST(ServiceEnclosure, LocateFailsOverToTheSesDeviceThatWorks) {
  Harness h("builtin:jbod-24");
  Client c(*h.service, root());
  auto r = c.call("emu.inject", {{"bus", 0},
                                 {"target", 100},
                                 {"lun", 0},
                                 {"action", "check_condition"},
                                 {"sense", "04/44/00"},
                                 {"count", 0xffffffffU}});
  ASSERT_EQ(code(r), 0) << r.dump();
  r = c.call("enc.set_led", {{"target", "Slot 07"}, {"kind", "locate"}, {"state", "on"}});
  ASSERT_EQ(code(r), 0) << r.dump();
  ASSERT_EQ(r["result"].size(), 1U) << r.dump();
  EXPECT_EQ(r["result"][0]["enclosure"], "ses1");
  EXPECT_EQ(r["result"][0]["locate"], true);
  EXPECT_TRUE(wait_until(
      [&] { return slot07_locate(c, "ses0") == true && slot07_locate(c, "ses1") == true; },
      std::chrono::seconds(2)));
  auto list = c.call("enc.list");
  ASSERT_EQ(code(list), 0) << list.dump();
  ASSERT_EQ(list["result"].size(), 2U);
  EXPECT_TRUE(list["result"][0]["path_error"].is_string()) << list.dump();
  EXPECT_EQ(list["result"][0]["status_via"], "ses1");
  EXPECT_TRUE(list["result"][1]["path_error"].is_null()) << list.dump();
  // A target that names the failed SES device is not moved elsewhere.
  r = c.call("enc.set_led", {{"target", "ses0:Slot 07"}, {"kind", "locate"}, {"state", "off"}});
  EXPECT_NE(code(r), 0) << r.dump();
  // Turning it off by slot name works, through ses1 again.
  r = c.call("enc.set_led", {{"target", "Slot 07"}, {"kind", "locate"}, {"state", "off"}});
  ASSERT_EQ(code(r), 0) << r.dump();
  EXPECT_TRUE(wait_until(
      [&] { return slot07_locate(c, "ses0") == false && slot07_locate(c, "ses1") == false; },
      std::chrono::seconds(2)));
}

// Many sessions open, command and close while devices leave and return; afterwards every
// reference is back. Run under TSan in CI.
TEST(ServiceConcurrency, SessionsRaceHotPlugAndEveryReferenceReturns) {
  Harness h;
  auto baseline = h.service->status()["periphs"];
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, gone{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Client c(*h.service, root());
      const std::string node = t % 2 == 0 ? "0:2:0" : "0:3:0";
      while (!stop) {
        auto r = c.call("open", {{"node", node}});
        if (code(r) != 0) {
          continue;  // Absent right now.
        }
        const auto handle = r["result"]["handle"];
        auto tur = c.call("device.tur", {{"handle", handle}});
        (code(tur) == 0 ? ok : gone).fetch_add(1);
        EXPECT_EQ(code(c.call("close", {{"handle", handle}})), 0);
      }
    });
  }
  Client admin(*h.service, root());
  for (int i = 0; i < 20; ++i) {
    const int target = 2 + i % 2;
    ASSERT_EQ(code(admin.call("emu.remove_lun", {{"bus", 0}, {"target", target}, {"lun", 0}})), 0);
    ASSERT_EQ(code(admin.call("emu.insert_lun", {{"bus", 0}, {"target", target}, {"lun", 0}})), 0);
  }
  ASSERT_TRUE(wait_until([&] { return ok.load() > 20; }, std::chrono::seconds(60)));
  stop = true;
  for (auto& t : threads) {
    t.join();
  }
  h.stack->settle();
  auto st = h.service->status();
  EXPECT_EQ(st["handles"], 0);
  EXPECT_EQ(st["devfs"]["opens"], 0);
  EXPECT_EQ(st["handles_opened_total"], st["handles_closed_total"]);
  EXPECT_EQ(st["periph_stats"]["underflows"], 0);
  // Every periph still attached holds exactly its resting references again.
  for (const auto& p : st["periphs"]) {
    for (const auto& b : baseline) {
      if (b["name"] == p["name"] && b["path"] == p["path"]) {
        EXPECT_EQ(p["refcount"], b["refcount"]) << p.dump();
      }
    }
  }
}

// enc.map and enc.set_element write their results as text (JsonWriter) rather than as a tree:
// the text must be what json::dump() gives for the same values (sorted members, escapes), and
// carry what the enclosure daemon published (decoded fields, physical paths, SAS addresses).
TEST(ServiceEnc, MapAndSetElementTextIsWhatATreeDumps) {
  Harness h("builtin:jbod-102");
  ASSERT_TRUE(h.stack);
  h.stack->settle();
  Client c(*h.service, root());
  auto round_trips = [](const std::string& line) {
    const json reply = json::parse(line);
    EXPECT_EQ(reply.dump(), line.substr(0, line.find_last_not_of('\n') + 1));
    return reply;
  };
  const json map = round_trips(h.service->handle_line(*c.session, request(1, "enc.map")));
  ASSERT_EQ(code(map), 0) << map.dump();
  ASSERT_FALSE(map["result"].empty());
  const json& elements = map["result"][0]["elements"];
  std::size_t with_fields = 0, with_paths = 0, with_sas = 0;
  for (const auto& e : elements) {
    with_fields += e.contains("fields") ? 1 : 0;
    with_paths += e.contains("physical_path") ? 1 : 0;
    with_sas += e["sas_addresses"].empty() ? 0 : 1;
  }
  EXPECT_GT(with_fields, 0U);
  EXPECT_GE(with_paths, 100U);  // 102 occupied slots, each with its disk's physical path.
  EXPECT_GE(with_sas, 100U);
  EXPECT_EQ(map["result"][0]["enclosure"], "ses0");

  // enc.set_element replies with the element as enc.map shows it, after the change: locate on
  // the first slot.
  int slot = -1;
  for (const auto& e : elements) {
    if (slot < 0 && (e["element_type"] == 0x01 || e["element_type"] == 0x17) &&
        e["index_in_type"] == 0) {
      slot = e["index"].get<int>();
    }
  }
  ASSERT_GE(slot, 0) << elements.dump();
  const json set = round_trips(h.service->handle_line(
      *c.session, request(2, "enc.set_element",
                          {{"enclosure", "ses0"},
                           {"element", slot},
                           {"control", "80000200"}})));  // A run of pairs, as in a CDB.
  ASSERT_EQ(code(set), 0) << set.dump();
  EXPECT_EQ(set["result"]["index"], slot);
  EXPECT_NE(std::find(set["result"]["extra"].begin(), set["result"]["extra"].end(), "LED=locate"),
            set["result"]["extra"].end())
      << set.dump();
  EXPECT_EQ(set["result"]["bytes"].get<std::string>().size(),
            elements[static_cast<std::size_t>(slot)]["bytes"].get<std::string>().size());
  EXPECT_EQ(set["result"]["sas_addresses"],
            elements[static_cast<std::size_t>(slot)]["sas_addresses"]);
}

}  // namespace
}  // namespace ucam::service
