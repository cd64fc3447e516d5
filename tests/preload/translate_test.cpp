// preload/path_map and preload/sg_translate: the pure halves of libucam-sg.so.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "preload/path_map.h"
#include "preload/sg_translate.h"

namespace ucam::preload {
namespace {

TEST(PreloadPathMap, NodeOfStripsThePrefix) {
  EXPECT_EQ(node_of("/dev/ucam/sg3", "/dev/ucam/"), "sg3");
  EXPECT_EQ(node_of("/x/sg12", "/x/"), "sg12");
}

TEST(PreloadPathMap, PathsOutsideThePrefixAreNotNodes) {
  EXPECT_FALSE(node_of("/dev/null", "/dev/ucam/"));
  EXPECT_FALSE(node_of("/dev/ucam/", "/dev/ucam/"));
  EXPECT_FALSE(node_of("/dev/ucam/a/sg3", "/dev/ucam/"));
  EXPECT_FALSE(node_of("/dev/ucamx/sg3", "/dev/ucam/"));
  EXPECT_FALSE(node_of("/dev/sg3", ""));
}

TEST(PreloadPathMap, SgMinorOnlyForSgN) {
  EXPECT_EQ(sg_minor("sg0"), 0U);
  EXPECT_EQ(sg_minor("sg17"), 17U);
  EXPECT_FALSE(sg_minor("sg"));
  EXPECT_FALSE(sg_minor("pass0"));
  EXPECT_FALSE(sg_minor("sg1x"));
  EXPECT_FALSE(sg_minor("sg-1"));
}

TEST(PreloadPathMap, EnvironmentOrDefaults) {
  EXPECT_EQ(prefix_from_env(nullptr), "/dev/ucam/");
  EXPECT_EQ(prefix_from_env(""), "/dev/ucam/");
  EXPECT_EQ(prefix_from_env("/u/"), "/u/");
  EXPECT_EQ(socket_from_env(nullptr), "/run/ucam/ucamd.sock");
  EXPECT_EQ(socket_from_env("/tmp/s"), "/tmp/s");
}

TEST(PreloadErrno, DataErrnoWinsThenTheCode) {
  EXPECT_EQ(errno_of({{"code", -32002}, {"data", {{"errno", ENOENT}}}}), ENOENT);
  EXPECT_EQ(errno_of({{"code", -32001}, {"data", {{"required", "admin"}}}}), EPERM);
  EXPECT_EQ(errno_of({{"code", -32602}}), EINVAL);
  EXPECT_EQ(errno_of({{"code", -32002}}), ENXIO);
  EXPECT_EQ(errno_of({{"code", -32099}}), EIO);
  EXPECT_EQ(errno_of(json("garbage")), EIO);
}

TEST(PreloadHex, RoundTrips) {
  const std::uint8_t bytes[] = {0x12, 0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes, 4), "1200abff");
  EXPECT_EQ(from_hex("1200ABff").value(), std::vector<std::uint8_t>(bytes, bytes + 4));
  EXPECT_EQ(from_hex("12 00 ab ff").value(), std::vector<std::uint8_t>(bytes, bytes + 4));
  EXPECT_FALSE(from_hex("123"));
  EXPECT_FALSE(from_hex("1 23"));
  EXPECT_FALSE(from_hex("zz"));
}

sg_io_hdr_t header(unsigned char* cdb, unsigned char len) {
  sg_io_hdr_t h{};
  h.interface_id = 'S';
  h.cmdp = cdb;
  h.cmd_len = len;
  h.timeout = 5000;
  return h;
}

TEST(PreloadSgIo, DataInAsksForABinaryReply) {
  unsigned char cdb[] = {0x12, 0, 0, 0, 36, 0};
  std::uint8_t buf[36];
  auto h = header(cdb, 6);
  h.dxfer_direction = SG_DXFER_FROM_DEV;
  h.dxfer_len = sizeof(buf);
  h.dxferp = buf;
  h.mx_sb_len = 32;
  h.pack_id = 7;
  auto call = sg_io_call(h, 4);
  ASSERT_TRUE(call);
  EXPECT_TRUE(call->binary_reply);
  EXPECT_TRUE(call->data_out.empty());
  EXPECT_EQ(call->params["handle"], 4);
  EXPECT_EQ(call->params["cdb"], "120000002400");
  EXPECT_EQ(call->params["dxfer_direction"], -3);
  EXPECT_EQ(call->params["dxfer_len"], 36);
  EXPECT_EQ(call->params["mx_sb_len"], 32);
  EXPECT_EQ(call->params["timeout_ms"], 5000);
  EXPECT_EQ(call->params["pack_id"], 7);
  EXPECT_EQ(call->params["interface_id"], 'S');
}

TEST(PreloadSgIo, DataOutIsGatheredFromIovecs) {
  unsigned char cdb[] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  std::uint8_t a[3] = {1, 2, 3};
  std::uint8_t b[4] = {4, 5, 6, 7};
  sg_iovec_t iov[2] = {{a, 3}, {b, 4}};
  auto h = header(cdb, 10);
  h.dxfer_direction = SG_DXFER_TO_DEV;
  h.iovec_count = 2;
  h.dxferp = iov;
  h.dxfer_len = 6;  // The second iovec is used only in part.
  auto call = sg_io_call(h, 1);
  ASSERT_TRUE(call);
  EXPECT_FALSE(call->binary_reply);
  EXPECT_EQ(call->data_out, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(PreloadSgIo, DataOutWithoutDataGoesAsNone) {
  // mtx's MOVE MEDIUM: SG_DXFER_TO_DEV, dxfer_len 0, no buffer. Linux moves no data.
  unsigned char cdb[12] = {0xa5};
  auto h = header(cdb, 12);
  h.dxfer_direction = SG_DXFER_TO_DEV;
  auto call = sg_io_call(h, 1);
  ASSERT_TRUE(call);
  EXPECT_EQ(call->params["dxfer_direction"], SG_DXFER_NONE);
  EXPECT_EQ(call->params["dxfer_len"], 0);
  EXPECT_FALSE(call->binary_reply);
}

TEST(PreloadSgIo, NullCdbOrBufferIsEfault) {
  auto h = header(nullptr, 6);
  EXPECT_EQ(sg_io_call(h, 1).error(), EFAULT);
  unsigned char cdb[] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  h = header(cdb, 10);
  h.dxfer_direction = SG_DXFER_TO_DEV;
  h.dxfer_len = 512;
  EXPECT_EQ(sg_io_call(h, 1).error(), EFAULT);
}

TEST(PreloadSgIo, ResultFillsTheHeaderSenseAndScatteredData) {
  unsigned char cdb[] = {0x12, 0, 0, 0, 5, 0};
  std::uint8_t a[2] = {};
  std::uint8_t b[8] = {};
  sg_iovec_t iov[2] = {{a, 2}, {b, 8}};
  unsigned char sense[4] = {};
  auto h = header(cdb, 6);
  h.dxfer_direction = SG_DXFER_FROM_DEV;
  h.iovec_count = 2;
  h.dxferp = iov;
  h.dxfer_len = 5;
  h.sbp = sense;
  h.mx_sb_len = sizeof(sense);
  const json result = {{"status", 2},
                       {"masked_status", 1},
                       {"msg_status", 0},
                       {"sb_len_wr", 18},
                       {"host_status", 0},
                       {"driver_status", 8},
                       {"resid", 3},
                       {"duration", 4},
                       {"info", 1},
                       {"pack_id", 9},
                       {"sense", "70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00"}};
  ASSERT_TRUE(apply_sg_io_result(h, result, std::string("\x01\x02\x03\x04\x05\x06", 6)));
  EXPECT_EQ(h.status, 2);
  EXPECT_EQ(h.masked_status, 1);
  EXPECT_EQ(h.driver_status, 8);
  EXPECT_EQ(h.resid, 3);
  EXPECT_EQ(h.duration, 4U);
  EXPECT_EQ(h.info, 1U);
  EXPECT_EQ(h.pack_id, 9);
  EXPECT_EQ(h.sb_len_wr, 4);  // At most mx_sb_len.
  EXPECT_EQ(sense[0], 0x70);
  EXPECT_EQ(sense[2], 0x05);
  EXPECT_EQ(a[0], 1);
  EXPECT_EQ(a[1], 2);
  EXPECT_EQ(b[0], 3);
  EXPECT_EQ(b[2], 5);
  EXPECT_EQ(b[3], 0);  // Only dxfer_len bytes land.
}

TEST(PreloadSgIo, NoDxferLeavesTheBufferAlone) {
  unsigned char cdb[] = {0x12, 0, 0, 0, 4, 0};
  std::uint8_t buf[4] = {9, 9, 9, 9};
  auto h = header(cdb, 6);
  h.dxfer_direction = SG_DXFER_FROM_DEV;
  h.dxferp = buf;
  h.dxfer_len = 4;
  h.flags = SG_FLAG_NO_DXFER;
  ASSERT_TRUE(apply_sg_io_result(h, json::object(), std::string(4, '\1')));
  EXPECT_EQ(buf[0], 9);
  EXPECT_EQ(h.sb_len_wr, 0);
}

}  // namespace
}  // namespace ucam::preload
