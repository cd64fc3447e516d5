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
  EXPECT_EQ(c->max_clients, 1024U);
  EXPECT_EQ(c->max_clients_per_uid, 32U);
  EXPECT_EQ(c->reserved_admin_clients, 8U);
  EXPECT_EQ(c->max_batch_requests, 64U);
  EXPECT_EQ(c->max_reply_bytes, 64U << 20);
  EXPECT_TRUE(c->metrics_listen.empty());
  ASSERT_EQ(c->sims.size(), 1U);
  EXPECT_EQ(c->sims[0].kind, SimConfig::Kind::Emu);
  EXPECT_EQ(c->sims[0].scenario, "builtin:default");
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
  ASSERT_EQ(c->sims.size(), 1U);  // The older key is one emulated SIM.
  EXPECT_EQ(c->sims[0].kind, SimConfig::Kind::Emu);
  EXPECT_EQ(c->sims[0].scenario, "builtin:jbod-24");
  EXPECT_EQ(c->enc_poll_interval.count(), 1000);
  EXPECT_EQ(c->shutdown_grace.count(), 0);
  // The printed configuration reads back to the same values.
  auto again = parse_config(config_json(*c), "printed");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(again->metrics_listen, c->metrics_listen);
  EXPECT_EQ(again->socket_mode, c->socket_mode);
  EXPECT_EQ(again->sims, c->sims);
}

TEST(DaemonConfig, SimsListsEveryTransportKind) {
  auto c = parse_config(R"({"sims":[
      {"type":"emu","scenario":"builtin:jbod-24"},
      {"type":"sg","filter":["scsi_debug","0:0:1:0"]},
      {"type":"sg","filter":"sg3","sysfs_root":"/tmp/sys","dev_root":"/tmp/dev"},
      {"type":"iscsi","url":"iscsi://127.0.0.1:3261/iqn.2024-01.org.ucam:lib",
       "initiator_name":"iqn.2024-01.org.ucam:me","chap_user":"u","chap_secret":"s3cr3t-value",
       "login_timeout_ms":2000,"loss_timeout_ms":0,"header_digest":"crc32c"}]})",
                        "test.json");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ASSERT_EQ(c->sims.size(), 4U);
  EXPECT_EQ(c->sims[0].kind, SimConfig::Kind::Emu);
  EXPECT_EQ(c->sims[0].scenario, "builtin:jbod-24");
  EXPECT_EQ(c->sims[1].kind, SimConfig::Kind::Sg);
  EXPECT_EQ(c->sims[1].filter, (std::vector<std::string>{"scsi_debug", "0:0:1:0"}));
  EXPECT_EQ(c->sims[1].sysfs_root, "/sys");
  EXPECT_EQ(c->sims[2].filter, (std::vector<std::string>{"sg3"}));
  EXPECT_EQ(c->sims[2].sysfs_root, "/tmp/sys");
  EXPECT_EQ(c->sims[2].dev_root, "/tmp/dev");
  const auto& i = c->sims[3];
  EXPECT_EQ(i.kind, SimConfig::Kind::Iscsi);
  EXPECT_EQ(i.url, "iscsi://127.0.0.1:3261/iqn.2024-01.org.ucam:lib");
  EXPECT_EQ(i.initiator_name, "iqn.2024-01.org.ucam:me");
  EXPECT_EQ(i.chap_user, "u");
  EXPECT_EQ(i.chap_secret, "s3cr3t-value");
  EXPECT_EQ(i.login_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(i.loss_timeout, std::chrono::milliseconds(0));
  EXPECT_TRUE(i.header_digest_crc32c);

  // The printed configuration never shows a secret, and its description neither.
  const auto printed = config_json(*c);
  EXPECT_EQ(printed.find("s3cr3t-value"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\"chap_secret\": \"********\""), std::string::npos) << printed;
  EXPECT_EQ(describe(i), "iscsi iscsi://127.0.0.1:3261/iqn.2024-01.org.ucam:lib");
  EXPECT_EQ(describe(c->sims[1]), "sg scsi_debug,0:0:1:0");

  // What the configuration names becomes what the stack builds.
  auto specs = make_specs(c->sims);
  ASSERT_TRUE(specs.has_value()) << specs.error().message();
  ASSERT_EQ(specs->size(), 4U);
  EXPECT_EQ(kind_of((*specs)[0]), "emu");
  const auto& sg = std::get<SgSpec>((*specs)[2]);
  EXPECT_EQ(sg.options.filter, (std::vector<std::string>{"sg3"}));
  EXPECT_EQ(sg.options.roots.sysfs, "/tmp/sys");
  const auto& iscsi = std::get<IscsiSpec>((*specs)[3]).config;
  EXPECT_EQ(iscsi.chap_secret, "s3cr3t-value");
  EXPECT_EQ(iscsi.initiator_name, "iqn.2024-01.org.ucam:me");
  EXPECT_EQ(iscsi.login_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(iscsi.header_digest, iscsi::HeaderDigest::PreferCrc32c);
}

TEST(DaemonConfig, AnEmptySimListHostsNothing) {
  auto c = parse_config(R"({"sims":[]})", "test.json");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_TRUE(c->sims.empty());
}

TEST(DaemonConfig, BadSimsAreErrorsNamingTheEntryAndKey) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"sims":{}})", "sims: expected a list of SIMs"},
      {R"({"sims":[5]})", "sims[0]: expected an object"},
      {R"({"sims":[{}]})", "sims[0].type: required"},
      {R"({"sims":[{"type":"fc"}]})", "sims[0].type: unknown SIM type 'fc'"},
      {R"({"sims":[{"type":"sg","url":"x"}]})", "sims[0].url: not a key of a 'sg' SIM"},
      {R"({"sims":[{"type":"sg","filter":[""]}]})", "sims[0].filter: expected a non-empty"},
      {R"({"sims":[{"type":"sg","filter":7}]})", "sims[0].filter"},
      {R"({"sims":[{"type":"emu"},{"type":"iscsi"}]})", "sims[1].url: required"},
      {R"({"sims":[{"type":"iscsi","url":"http://x/y"}]})", "sims[0].url"},
      {R"({"sims":[{"type":"iscsi","url":"iscsi://h/iqn.x","loss_timeout_ms":-1}]})",
       "sims[0].loss_timeout_ms: expected an integer 0..86400000"},
      {R"({"sims":[{"type":"iscsi","url":"iscsi://h/iqn.x","header_digest":"md5"}]})",
       "sims[0].header_digest"},
      {R"({"sims":[{"type":"emu"},{"type":"emu","scenario":"builtin:minimal"}]})",
       "sims: at most one emulated SIM"},
      {R"({"scenario":"builtin:minimal","sims":[]})", "not both"},
      {R"({"scenario":""})", "scenario: a file or builtin:NAME"},
  };
  for (const auto& [text, message] : cases) {
    auto c = parse_config(text, "ucamd.json");
    ASSERT_FALSE(c.has_value()) << text;
    EXPECT_NE(c.error().message().find("ucamd.json"), std::string::npos) << c.error().message();
    EXPECT_NE(c.error().message().find(message), std::string::npos) << c.error().message();
  }
  // A URL's password never reaches an error message.
  auto c = parse_config(R"({"sims":[{"type":"iscsi","url":"iscsi://u%hunter2@h:99999/iqn.x"}]})",
                        "ucamd.json");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message().find("hunter2"), std::string::npos) << c.error().message();
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
