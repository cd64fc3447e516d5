// ucamd's configuration parser: defaults, every key, and errors that name the key.
#include "daemon/config.h"

#include <gtest/gtest.h>

namespace ucam::daemon {
namespace {

TEST(DaemonConfig, EmptyObjectGivesTheDefaults) {
  auto c = parse_config("{}", "test.json");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->socket, "/run/ucam/ucamd.sock");
  EXPECT_EQ(c->socket_mode, 0660U);
  EXPECT_EQ(c->max_clients, 128U);
  EXPECT_EQ(c->max_clients_per_uid, 32U);
  EXPECT_EQ(c->reserved_admin_clients, 8U);
  EXPECT_EQ(c->max_batch_requests, 64U);
  EXPECT_EQ(c->max_reply_bytes, 64U << 20);
  EXPECT_TRUE(c->metrics_listen.empty());
  EXPECT_EQ(c->scenario, "builtin:default");
}

TEST(DaemonConfig, EveryKeyIsRead) {
  auto c = parse_config(R"({"socket":"/tmp/x.sock","socket_mode":"0600","socket_group":"disk",
      "admin_group":"wheel","log_level":"debug","max_clients":4,"max_clients_per_uid":2,
      "reserved_admin_clients":1,"max_handles_per_client":5,
      "max_request_bytes":4096,"max_batch_requests":3,"max_reply_bytes":8192,"max_queued_events":7,"metrics_listen":"[::1]:9477",
      "scenario":"builtin:jbod-24","enc_poll_interval_ms":1000,"shutdown_grace_ms":0})",
                        "test.json");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->socket, "/tmp/x.sock");
  EXPECT_EQ(c->socket_mode, 0600U);
  EXPECT_EQ(c->socket_group, "disk");
  EXPECT_EQ(c->admin_group, "wheel");
  EXPECT_EQ(c->log_level, LogLevel::Debug);
  EXPECT_EQ(c->max_clients, 4U);
  EXPECT_EQ(c->max_clients_per_uid, 2U);
  EXPECT_EQ(c->reserved_admin_clients, 1U);
  EXPECT_EQ(c->max_handles_per_client, 5U);
  EXPECT_EQ(c->max_request_bytes, 4096U);
  EXPECT_EQ(c->max_batch_requests, 3U);
  EXPECT_EQ(c->max_reply_bytes, 8192U);
  EXPECT_EQ(c->max_queued_events, 7U);
  EXPECT_EQ(c->metrics_listen, "[::1]:9477");
  EXPECT_EQ(c->scenario, "builtin:jbod-24");
  EXPECT_EQ(c->enc_poll_interval.count(), 1000);
  EXPECT_EQ(c->shutdown_grace.count(), 0);
  // The printed configuration reads back to the same values.
  auto again = parse_config(config_json(*c), "printed");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(again->metrics_listen, c->metrics_listen);
  EXPECT_EQ(again->socket_mode, c->socket_mode);
}

TEST(DaemonConfig, BadValuesAreErrorsNamingFileAndKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", "expected a JSON object"},
      {"{", "not valid JSON"},
      {R"({"sokcet":"/x"})", "sokcet: unknown key"},
      {R"({"socket":5})", "socket: expected a string"},
      {R"({"socket_mode":"0999"})", "socket_mode: expected an octal mode"},
      {R"({"max_clients":0})", "max_clients: expected an integer 1..1000000"},
      {R"({"max_clients":-3})", "max_clients"},
      {R"({"max_request_bytes":10})", "max_request_bytes"},
      {R"({"max_clients":8,"reserved_admin_clients":8})",
       "reserved_admin_clients: 8 must be below max_clients (8)"},
      {R"({"max_clients":4})", "reserved_admin_clients: 8 must be below max_clients (4)"},
      {R"({"max_batch_requests":0})", "max_batch_requests: expected an integer 1..100000"},
      {R"({"max_reply_bytes":100})", "max_reply_bytes: expected an integer 4096..1073741824"},
      {R"({"max_clients_per_uid":0})", "max_clients_per_uid: expected an integer 1..1000000"},
      {R"({"log_level":"loud"})", "log_level: expected debug"},
      {R"({"metrics_listen":"localhost"})", "metrics_listen"},
      {R"({"metrics_listen":"127.0.0.1:99999"})", "metrics_listen"},
  };
  for (const auto& [text, message] : cases) {
    auto c = parse_config(text, "ucamd.json");
    ASSERT_FALSE(c.has_value()) << text;
    EXPECT_NE(c.error().message().find("ucamd.json"), std::string::npos) << c.error().message();
    EXPECT_NE(c.error().message().find(message), std::string::npos) << c.error().message();
  }
}

TEST(DaemonConfig, ListenAddressesParse) {
  auto v4 = parse_listen("127.0.0.1:9477");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 9477);
  auto v6 = parse_listen("[::1]:0");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 0);
  EXPECT_FALSE(parse_listen("127.0.0.1").has_value());
  EXPECT_FALSE(parse_listen(":80").has_value());
  EXPECT_FALSE(parse_listen("[::1]80").has_value());
}

TEST(DaemonConfig, GroupsResolveByNameOrNumber) {
  auto root = group_id("root");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(*root, 0U);
  EXPECT_EQ(group_id("4711").value_or(0), 4711U);
  auto missing = group_id("no-such-group-ucam");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("no such group 'no-such-group-ucam'"),
            std::string::npos);
}

}  // namespace
}  // namespace ucam::daemon
