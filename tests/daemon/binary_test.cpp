// ucamd's binary data path (docs/api.md, "Binary data"): bytes after a request line
// ("binary": N) and after a reply line ("binary_reply": true), end to end through the daemon and
// the da and pass drivers, over the 16 MiB that hex in JSON allows; and what it refuses.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "tests/daemon_harness.h"
#include "tests/wait.h"

namespace ucam::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string request(int id, const std::string& method, const json& params,
                    const json& extra = json::object()) {
  json r = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  r.update(extra);
  return r.dump() + "\n";
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) {
    c = static_cast<char>(rng());
  }
  return out;
}

// The reply to `id`, skipping notifications.
json reply(RpcConnection& c) {
  while (auto line = c.read_line(60s)) {
    auto j = json::parse(*line, nullptr, false);
    if (j.is_object() && !j.contains("method")) {
      return j;
    }
  }
  return nullptr;
}

std::string disk_of(RpcConnection& c) {
  const json r = c.call("devices.list");
  for (const auto& d : r["result"]) {
    for (const auto& p : d["periphs"]) {
      if (p.get<std::string>().starts_with("da")) {
        return p;
      }
    }
  }
  return "";
}

class DaemonBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon = Daemon::start();
    ASSERT_NE(daemon, nullptr) << "ucamd did not start";
    rpc = std::make_unique<RpcConnection>(daemon->socket());
    ASSERT_TRUE(rpc->connected());
    disk = disk_of(*rpc);
    ASSERT_FALSE(disk.empty());
  }
  void TearDown() override {
    rpc.reset();
    if (daemon) {
      EXPECT_EQ(daemon->stop(), 0) << daemon->log();
    }
  }
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<RpcConnection> rpc;
  std::string disk;
};

TEST_F(DaemonBinary, BlocksWrittenAsBinaryReadBackAsBinaryBeyondTheHexCap) {
  // 24 MiB: more than pass.command's 16 MiB of hex, in one request each way.
  constexpr std::size_t kBytes = 24U << 20;
  const auto data = random_bytes(kBytes, 7);
  ASSERT_TRUE(rpc->send_raw(
      request(1, "da.write", {{"device", disk}, {"lba", 2048}}, {{"binary", kBytes}}) + data));
  const auto written = reply(*rpc);
  ASSERT_TRUE(written.contains("result")) << written.dump();
  EXPECT_EQ(written["result"]["blocks"], kBytes / 512);
  EXPECT_FALSE(written.contains("binary"));  // Nothing follows a reply not asked for as binary.

  ASSERT_TRUE(rpc->send_raw(request(2, "da.read",
                                    {{"device", disk}, {"lba", 2048}, {"blocks", kBytes / 512}},
                                    {{"binary_reply", true}})));
  const auto read = reply(*rpc);
  ASSERT_TRUE(read.contains("result")) << read.dump();
  EXPECT_FALSE(read["result"].contains("data"));
  ASSERT_EQ(read["binary"], kBytes);
  const auto back = rpc->read_bytes(kBytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == data);

  // The same blocks read as hex (the old way) agree, and requests after binary data still frame.
  const json hex = rpc->call("da.read", {{"device", disk}, {"lba", 2048}, {"blocks", 1}});
  ASSERT_TRUE(hex.contains("result")) << hex.dump();
  std::string expect;
  for (int i = 0; i < 512; ++i) {
    expect += fmt::format("{}{:02x}", i == 0 ? "" : " ", static_cast<unsigned char>(data[i]));
  }
  EXPECT_EQ(hex["result"]["data"], expect);
}

TEST_F(DaemonBinary, PassCommandTakesAndReturnsBinaryData) {
  // WRITE(10) of 4 blocks at LBA 100 with binary data out, then READ(10) with binary data in.
  const auto data = random_bytes(4 * 512, 11);
  ASSERT_TRUE(rpc->send_raw(request(1, "pass.command",
                                    {{"device", disk}, {"cdb", "2a 00 00 00 00 64 00 00 04 00"}},
                                    {{"binary", data.size()}}) +
                            data));
  const auto w = reply(*rpc);
  ASSERT_TRUE(w.contains("result")) << w.dump();
  EXPECT_EQ(w["result"]["ok"], true) << w.dump();
  ASSERT_TRUE(rpc->send_raw(request(
      2, "pass.command",
      {{"device", disk}, {"cdb", "28 00 00 00 00 64 00 00 04 00"}, {"data_in_length", 2048}},
      {{"binary_reply", true}})));
  const auto r = reply(*rpc);
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["ok"], true);
  EXPECT_FALSE(r["result"].contains("data_in"));
  ASSERT_EQ(r["binary"], data.size());
  EXPECT_EQ(rpc->read_bytes(data.size()), data);
}

TEST_F(DaemonBinary, WhatIsRefusedIsRefusedAndTheConnectionStaysFramed) {
  // A method that takes no binary data: an error, the bytes are consumed, the next line works.
  ASSERT_TRUE(rpc->send_raw(request(1, "device.tur", {{"device", disk}}, {{"binary", 5}}) +
                            "\n\n{}\n"));  // Five bytes that would be a bad request if read.
  auto e = reply(*rpc);
  ASSERT_TRUE(e.contains("error")) << e.dump();
  EXPECT_EQ(e["error"]["code"], -32602);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("takes no binary"), std::string::npos);
  EXPECT_EQ(rpc->call("device.tur", {{"device", disk}})["result"]["ok"], true);

  // Hex and binary at once; binary_reply where the method returns none; a bad "binary".
  ASSERT_TRUE(rpc->send_raw(
      request(2, "da.write", {{"device", disk}, {"lba", 0}, {"data", "00"}}, {{"binary", 512}}) +
      std::string(512, 'x')));
  e = reply(*rpc);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("not both"), std::string::npos)
      << e.dump();
  ASSERT_TRUE(
      rpc->send_raw(request(3, "device.tur", {{"device", disk}}, {{"binary_reply", true}})));
  e = reply(*rpc);
  EXPECT_EQ(e["error"]["code"], -32602) << e.dump();
  ASSERT_TRUE(rpc->send_raw(
      request(4, "da.read", {{"device", disk}, {"lba", 0}, {"blocks", 1}}, {{"binary", -1}})));
  e = reply(*rpc);
  EXPECT_EQ(e["error"]["code"], -32600) << e.dump();
  // In a batch: refused (binary data goes with single requests).
  ASSERT_TRUE(rpc->send_raw("[" +
                            json{{"jsonrpc", "2.0"},
                                 {"id", 5},
                                 {"method", "da.read"},
                                 {"params", {{"device", disk}, {"lba", 0}, {"blocks", 1}}},
                                 {"binary_reply", true}}
                                .dump() +
                            "]\n"));
  auto batch = json::parse(rpc->read_line(30s).value_or("null"), nullptr, false);
  ASSERT_TRUE(batch.is_array()) << batch.dump();
  EXPECT_NE(batch[0]["error"]["message"].get<std::string>().find("single request"),
            std::string::npos);
  EXPECT_EQ(rpc->call("device.tur", {{"device", disk}})["result"]["ok"], true);
}

TEST_F(DaemonBinary, MoreThanTheLimitIsRefusedAndTheConnectionClosed) {
  // 2 GiB announced: refused before a byte of it is read or allocated.
  ASSERT_TRUE(rpc->send_raw(
      request(1, "da.write", {{"device", disk}, {"lba", 0}}, {{"binary", 2ULL << 30}})));
  const auto e = json::parse(rpc->read_line(30s).value_or("null"), nullptr, false);
  ASSERT_TRUE(e.is_object()) << e.dump();
  EXPECT_EQ(e["error"]["code"], -32004) << e.dump();
  EXPECT_NE(e["error"]["message"].get<std::string>().find("max_binary_bytes"), std::string::npos);
  EXPECT_FALSE(rpc->read_line(30s).has_value());  // Closed.
  // A client that dies halfway through its data leaves nothing behind.
  {
    RpcConnection quitter(daemon->socket());
    ASSERT_TRUE(quitter.send_raw(
        request(1, "da.write", {{"device", disk}, {"lba", 0}}, {{"binary", 1 << 20}}) +
        std::string(1000, 'y')));
  }
  RpcConnection observer(daemon->socket());
  EXPECT_TRUE(wait_until(
      [&] { return observer.call("daemon.status")["result"]["sessions"].size() == 1; }, 20s));
}

// sg.io: SG_IO as RPC on an sg node, the call libucam-sg.so makes for ioctl(SG_IO).
TEST_F(DaemonBinary, SgIoRunsLinuxSgV3RequestsOnSgNodes) {
  const json opened = rpc->call("open", {{"node", "sg0"}});
  ASSERT_TRUE(opened.contains("result")) << opened.dump();
  const auto h = opened["result"]["handle"];
  // INQUIRY, 96 bytes asked, data in as binary after the reply.
  ASSERT_TRUE(rpc->send_raw(request(1, "sg.io",
                                    {{"handle", h},
                                     {"cdb", "12 00 00 00 60 00"},
                                     {"dxfer_direction", -3},
                                     {"dxfer_len", 96}},
                                    {{"binary_reply", true}})));
  const auto inq = reply(*rpc);
  ASSERT_TRUE(inq.contains("result")) << inq.dump();
  EXPECT_EQ(inq["result"]["status"], 0);
  EXPECT_EQ(inq["result"]["host_status"], 0);
  EXPECT_EQ(inq["result"]["info"], 0);
  ASSERT_EQ(inq["binary"], 96);
  const auto data = rpc->read_bytes(96);
  ASSERT_TRUE(data.has_value());
  const int additional = static_cast<unsigned char>((*data)[4]);
  EXPECT_EQ(inq["result"]["resid"], 96 - std::min(96, additional + 5));
  // The same INQUIRY through pass agrees byte for byte on what the device returned.
  const json pass = rpc->call(
      "pass.command", {{"device", "pass0"}, {"cdb", "12 00 00 00 60 00"}, {"data_in_length", 96}});
  ASSERT_TRUE(pass.contains("result")) << pass.dump();
  const auto valid = static_cast<std::size_t>(96 - inq["result"]["resid"].get<int>());
  std::string hex;
  for (std::size_t i = 0; i < valid; ++i) {
    hex += fmt::format("{}{:02x}", i == 0 ? "" : " ", static_cast<unsigned char>((*data)[i]));
  }
  EXPECT_EQ(pass["result"]["data_in"], hex);

  // An unsupported opcode: a successful call with CHECK CONDITION and sense, Linux's way.
  const json bad = rpc->call("sg.io", {{"handle", h}, {"cdb", "ff 00 00 00 00 00"}});
  ASSERT_TRUE(bad.contains("result")) << bad.dump();
  EXPECT_EQ(bad["result"]["status"], 2);
  EXPECT_EQ(bad["result"]["masked_status"], 1);
  EXPECT_EQ(bad["result"]["driver_status"], 8);  // DRIVER_SENSE
  EXPECT_EQ(bad["result"]["info"], 1);           // SG_INFO_CHECK
  EXPECT_GT(bad["result"]["sb_len_wr"].get<int>(), 7);
  EXPECT_TRUE(bad["result"]["sense"].get<std::string>().starts_with("70 00 05"))
      << bad.dump();  // ILLEGAL REQUEST

  // The ioctls sg3_utils and mtx call first.
  const json version = rpc->call("sg.ioctl", {{"handle", h}, {"request", "SG_GET_VERSION_NUM"}});
  ASSERT_TRUE(version.contains("result")) << version.dump();
  EXPECT_GE(version["result"]["value"].get<int>(), 30000);
  const json id = rpc->call("sg.ioctl", {{"handle", h}, {"request", "SG_GET_SCSI_ID"}});
  ASSERT_TRUE(id.contains("result")) << id.dump();
  EXPECT_EQ(id["result"]["scsi_type"], 0);
  const json unknown = rpc->call("sg.ioctl", {{"handle", h}, {"request", 1234}});
  EXPECT_TRUE(unknown.contains("error")) << unknown.dump();
  // sg.io on a node that is not an sg node is refused, not run.
  const json on_pass = rpc->call("sg.io", {{"device", "pass0"}, {"cdb", "00 00 00 00 00 00"}});
  EXPECT_TRUE(on_pass.contains("error")) << on_pass.dump();
}

}  // namespace
}  // namespace ucam::testing
