// The iSCSI SIM against a real target: tgt on loopback, reached through libiscsi. Listing,
// data in and out, residuals, sense, maxio, CHAP and login failures.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tests/errno_of.h"
#include "tests/iscsi/iscsi_stack.h"

namespace ucam::iscsi {
namespace {

using testing::errno_of;
using testing::IscsiStack;
using testing::quick_config;

constexpr std::uint64_t kDiskBlocks = 100ULL * 1024 * 1024 / 512;  // tgt-changer's 100 MiB disk.

class IscsiTgt : public testing::TgtSuite {
 protected:
  bool start(Config config) {
    const bool ok = stack.start(config);
    EXPECT_TRUE(ok) << (stack.error ? stack.error->message() : "");
    return ok;
  }
  Config config() const { return quick_config(s_peer->url()); }

  IscsiStack stack;
};

pass::PassCommand pass_command(std::vector<std::uint8_t> cdb, cam::DataDir dir,
                               std::span<std::uint8_t> data) {
  pass::PassCommand cmd;
  cmd.cdb = std::move(cdb);
  cmd.dir = dir;
  cmd.data = data;
  cmd.timeout = std::chrono::seconds(20);
  return cmd;
}

TEST_F(IscsiTgt, ListsTheTargetsLunsWithTheirTypesAndTheDisksCapacity) {
  ASSERT_TRUE(start(config()));
  const auto devices = stack.xpt->devices();
  ASSERT_EQ(devices.size(), 5U);
  const std::uint8_t types[] = {0x0c, 0x00, 0x01, 0x01,
                                0x08};  // Controller, disk, 2 tapes, changer.
  for (std::uint64_t l = 0; l < 5; ++l) {
    EXPECT_EQ(devices[l].path, stack.lun(l));
    EXPECT_EQ(devices[l].device_type, types[l]) << "LUN " << l;
    EXPECT_EQ(devices[l].sim_name, "iscsi");
    EXPECT_EQ(devices[l].maxio, 1U << 20);
  }
  EXPECT_EQ(devices[1].vendor, "TGT");
  EXPECT_EQ(devices[1].product, "PEER-DISK");
  EXPECT_EQ(devices[4].product, "PEER-CHANGER");
  EXPECT_EQ(stack.periphs->names_for(stack.lun(1)), (std::vector<std::string>{"pass1", "da0"}));

  auto disk = stack.devfs->open("da0");
  ASSERT_TRUE(disk);
  da::DaGetGeometry g;
  ASSERT_TRUE(disk->ioctl(g));
  EXPECT_EQ(g.block_length, 512U);
  EXPECT_EQ(g.block_count, kDiskBlocks);
  EXPECT_EQ(g.max_transfer, 1U << 20);

  const auto d = stack.sim->describe();
  EXPECT_EQ(d.state, SessionState::LoggedIn);
  EXPECT_EQ(d.path_id, stack.bus());
  EXPECT_EQ(d.target, s_peer->iqn());
  EXPECT_EQ(d.portal, "127.0.0.1:" + std::to_string(s_peer->port()));
  EXPECT_EQ(d.drops, 0U);
  EXPECT_NE(d.text().find("logged-in"), std::string::npos) << d.text();
}

TEST_F(IscsiTgt, WrittenBlocksReadBackThroughDa) {
  ASSERT_TRUE(start(config()));
  auto disk = stack.devfs->open("da0");
  ASSERT_TRUE(disk);
  constexpr std::uint32_t kBlocks = 40;
  std::vector<std::uint8_t> out(kBlocks * 512), in(kBlocks * 512);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(i * 31 + 7);
  }
  da::DaIo write(da::DaIo::kWrite);
  write.lba = 1000;
  write.blocks = kBlocks;
  write.data = out;
  ASSERT_TRUE(disk->ioctl(write));
  da::DaIo read(da::DaIo::kRead);
  read.lba = 1000;
  read.blocks = kBlocks;
  read.data = in;
  ASSERT_TRUE(disk->ioctl(read));
  EXPECT_EQ(in, out);
  // The last block of the disk.
  read.lba = kDiskBlocks - 1;
  read.blocks = 1;
  read.data = std::span<std::uint8_t>(in).first(512);
  EXPECT_TRUE(disk->ioctl(read));
  // One past it (da refuses that itself; the target says LBA OUT OF RANGE through pass).
  auto pass = stack.devfs->open("pass1");
  ASSERT_TRUE(pass);
  const auto lba = static_cast<std::uint32_t>(kDiskBlocks);
  auto cmd = pass_command(
      {0x28, 0, static_cast<std::uint8_t>(lba >> 24), static_cast<std::uint8_t>(lba >> 16),
       static_cast<std::uint8_t>(lba >> 8), static_cast<std::uint8_t>(lba), 0, 0, 1, 0},
      cam::DataDir::In, std::span<std::uint8_t>(in).first(512));
  ASSERT_TRUE(pass->ioctl(cmd));
  EXPECT_EQ(cmd.status, CamStatus::ScsiStatusError);
  ASSERT_GE(cmd.sense.size(), 14U);
  EXPECT_EQ(cmd.sense[2] & 0x0f, 0x05);
  EXPECT_EQ(cmd.sense[12], 0x21);
  EXPECT_EQ(cmd.sense[13], 0x00);
}

TEST_F(IscsiTgt, CheckConditionCarriesTheTargetsSense) {
  ASSERT_TRUE(start(config()));
  auto pass = stack.devfs->open("pass1");
  ASSERT_TRUE(pass);
  // RECEIVE DIAGNOSTIC RESULTS: tgt knows no such command (ILLEGAL REQUEST, 20h/00h).
  std::vector<std::uint8_t> buffer(16);
  auto cmd = pass_command({0x1c, 0x01, 0x00, 0x00, 0x10, 0x00}, cam::DataDir::In, buffer);
  ASSERT_TRUE(pass->ioctl(cmd));
  EXPECT_EQ(cmd.status, CamStatus::ScsiStatusError);
  EXPECT_EQ(cmd.scsi_status, cam::ScsiStatus::CheckCondition);
  EXPECT_EQ(cmd.resid, 16U);
  ASSERT_GE(cmd.sense.size(), 14U);
  const std::uint8_t format = cmd.sense[0] & 0x7f;
  ASSERT_TRUE(format == 0x70 || format == 0x72) << int{format};
  if (format == 0x70) {
    EXPECT_EQ(cmd.sense[2] & 0x0f, 0x05);
    EXPECT_EQ(cmd.sense[12], 0x20);
    EXPECT_EQ(cmd.sense[13], 0x00);
  } else {
    EXPECT_EQ(cmd.sense[1] & 0x0f, 0x05);
    EXPECT_EQ(cmd.sense[2], 0x20);
    EXPECT_EQ(cmd.sense[3], 0x00);
  }
}

TEST_F(IscsiTgt, AShortAnswerReportsItsResidual) {
  ASSERT_TRUE(start(config()));
  auto pass = stack.devfs->open("pass4");
  ASSERT_TRUE(pass);
  std::vector<std::uint8_t> buffer(255, 0xee);
  auto cmd = pass_command({0x12, 0x00, 0x00, 0x00, 0xff, 0x00}, cam::DataDir::In, buffer);
  ASSERT_TRUE(pass->ioctl(cmd));
  ASSERT_EQ(cmd.status, CamStatus::ReqCmp);
  const std::uint32_t length = buffer[4] + 5U;  // Standard INQUIRY: ADDITIONAL LENGTH + 5.
  ASSERT_LT(length, 255U);
  EXPECT_EQ(cmd.resid, 255U - length);
  EXPECT_EQ(buffer[0] & 0x1f, 0x08);  // Media changer.
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&buffer[16]), 12), "PEER-CHANGER");
  EXPECT_EQ(buffer[length], 0xee);  // Nothing written past what arrived.
}

TEST_F(IscsiTgt, TransfersOverMaxioAreRefusedByPassAndSplitByDa) {
  auto c = config();
  c.maxio = 8192;
  ASSERT_TRUE(start(c));
  auto pass = stack.devfs->open("pass1");
  ASSERT_TRUE(pass);
  std::vector<std::uint8_t> big(16384);
  auto cmd = pass_command({0x28, 0, 0, 0, 0, 0, 0, 0, 32, 0}, cam::DataDir::In, big);
  EXPECT_EQ(errno_of(pass->ioctl(cmd)), E2BIG);

  auto disk = stack.devfs->open("da0");
  ASSERT_TRUE(disk);
  std::vector<std::uint8_t> out(100 * 512), in(100 * 512);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(i ^ (i >> 9));
  }
  da::DaIo write(da::DaIo::kWrite);
  write.lba = 5000;
  write.blocks = 100;
  write.data = out;
  ASSERT_TRUE(disk->ioctl(write));  // 13 commands of at most 16 blocks.
  da::DaIo read(da::DaIo::kRead);
  read.lba = 5000;
  read.blocks = 100;
  read.data = in;
  ASSERT_TRUE(disk->ioctl(read));
  EXPECT_EQ(in, out);
}

// tgt's changer through the ch driver: every report tgt sends stops 8 bytes short inside its
// last descriptor, and one-element reports name a wrong first address (0x15). Each element is
// still read, once, with what tgt-changer.sh put there.
TEST_F(IscsiTgt, ChangerStatusHasEveryElementThoughTgtCutsEachReportShort) {
  ASSERT_TRUE(start(config()));
  auto ch = stack.devfs->open("ch0");
  ASSERT_TRUE(ch) << ch.error().message();
  ch::ChGetElementStatus g;
  const auto read = ch->ioctl(g);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(g.reads, 4U);  // one per element type
  std::map<std::string, std::vector<std::string>> seen;
  for (const auto& e : g.elements) {
    seen[scsi::smc::element_type_name(e.element.type)].push_back(fmt::format(
        "{}@{}:{}{}", e.element.unit, e.element.address, e.full ? "full" : "empty",
        e.primary_tag && !e.primary_tag->blank() ? " " + e.primary_tag->identifier : ""));
  }
  EXPECT_EQ(seen["picker"], (std::vector<std::string>{"0@1:empty"}));
  EXPECT_EQ(seen["portal"], (std::vector<std::string>{"0@10:full T00007L6"}));
  EXPECT_EQ(seen["drive"], (std::vector<std::string>{"0@20:empty", "1@21:empty"}));
  std::vector<std::string> slots;
  for (int i = 0; i < 10; ++i) {
    slots.push_back(fmt::format("{}@{}:{}", i, 1000 + i,
                                i < 6 ? fmt::format("full T0000{}L6", i + 1) : "empty"));
  }
  EXPECT_EQ(seen["storage"], slots);
  // The first drive's identifier came whole; the last one's was cut by tgt and is left out
  // rather than shortened.
  const auto& drive0 = g.elements[g.elements.size() - 2];
  ASSERT_TRUE(drive0.identifier.has_value());
  EXPECT_EQ(std::string(drive0.identifier->identifier.begin(), drive0.identifier->identifier.end())
                .substr(0, 32),
            "TGT     PEER-TAPE       TAPE0001");
  EXPECT_FALSE(g.elements.back().identifier.has_value());

  // A move shows in the next status with its source, and goes back.
  ch::ChMove there;
  there.from = ch::ChElement::at(scsi::smc::ElementType::Storage, 0);
  there.to = ch::ChElement::at(scsi::smc::ElementType::DataTransfer, 0);
  ASSERT_TRUE(ch->ioctl(there));
  ch::ChGetElementStatus drives;
  drives.type = scsi::smc::ElementType::DataTransfer;
  ASSERT_TRUE(ch->ioctl(drives));
  ASSERT_EQ(drives.elements.size(), 2U);
  EXPECT_TRUE(drives.elements[0].full);
  ASSERT_TRUE(drives.elements[0].source.has_value());
  EXPECT_EQ(drives.elements[0].source->address, 1000);
  EXPECT_EQ(drives.elements[0].source->type, scsi::smc::ElementType::Storage);
  ch::ChMove back;
  back.from = there.to;
  back.to = there.from;
  EXPECT_TRUE(ch->ioctl(back));
}

TEST_F(IscsiTgt, HeaderDigestsAreNegotiated) {
  auto c = config();
  c.header_digest = HeaderDigest::Crc32c;
  ASSERT_TRUE(start(c));
  EXPECT_EQ(stack.tur(1), CamStatus::ReqCmp);
  auto disk = stack.devfs->open("da0");
  ASSERT_TRUE(disk);
  std::vector<std::uint8_t> out(8 * 512, 0xa5), in(8 * 512);
  da::DaIo write(da::DaIo::kWrite);
  write.lba = 300;
  write.blocks = 8;
  write.data = out;
  ASSERT_TRUE(disk->ioctl(write));
  da::DaIo read(da::DaIo::kRead);
  read.lba = 300;
  read.blocks = 8;
  read.data = in;
  ASSERT_TRUE(disk->ioctl(read));
  EXPECT_EQ(in, out);
}

TEST_F(IscsiTgt, ManyCommandsInFlightAtOnceAllComplete) {
  ASSERT_TRUE(start(config()));
  constexpr int kCommands = 200;
  std::vector<cam::Ccb> ccbs(kCommands);
  std::vector<std::vector<std::uint8_t>> buffers(kCommands, std::vector<std::uint8_t>(4096));
  std::atomic<int> done{0};
  for (int i = 0; i < kCommands; ++i) {
    auto& ccb = ccbs[static_cast<std::size_t>(i)];
    ccb.path = stack.lun(1);
    const std::uint8_t lba = static_cast<std::uint8_t>(i);
    const std::uint8_t cdb[10] = {0x28, 0, 0, 0, 0, lba, 0, 0, 8, 0};
    ccb.set_cdb(cdb);
    ccb.dir = cam::DataDir::In;
    ccb.data = buffers[static_cast<std::size_t>(i)].data();
    ccb.dxfer_len = 4096;
    ccb.done = [](cam::Ccb&, void* arg) { static_cast<std::atomic<int>*>(arg)->fetch_add(1); };
    ccb.done_arg = &done;
    stack.xpt->action(ccb);
  }
  ASSERT_TRUE(testing::wait_until([&] { return done.load() == kCommands; }));
  for (const auto& ccb : ccbs) {
    EXPECT_EQ(ccb.status, CamStatus::ReqCmp);
    EXPECT_EQ(ccb.resid, 0U);
  }
  EXPECT_EQ(stack.sim->describe().commands, 0U);
}

TEST_F(IscsiTgt, AnUnknownTargetNameIsRefused) {
  auto c = config();
  c.url = "iscsi://127.0.0.1:" + std::to_string(s_peer->port()) + "/iqn.2003-01.test.local:nobody";
  EXPECT_FALSE(stack.start(c));
  ASSERT_TRUE(stack.error);
  EXPECT_EQ(stack.error->errno_value(), EACCES) << stack.error->message();
  EXPECT_NE(stack.error->message().find("nobody"), std::string::npos) << stack.error->message();
  EXPECT_TRUE(stack.xpt->buses().empty());
}

// --- CHAP: each test its own tgt, since an account binds the whole target --------------------

constexpr const char* kUser = "ucamuser";
constexpr const char* kSecret = "s3cret-0123456789";
constexpr const char* kTargetUser = "tgtuser";
constexpr const char* kTargetSecret = "t4rget-0123456789";

std::unique_ptr<testing::TgtPeer> chap_peer(std::string& why, bool mutual) {
  auto peer = testing::TgtPeer::start(why);
  if (!peer) {
    return nullptr;
  }
  const bool ok =
      peer->tgtadm(std::string("--lld iscsi --op new --mode account --user ") + kUser +
                   " --password " + kSecret) &&
      peer->tgtadm(std::string("--lld iscsi --op bind --mode account --tid 1 --user ") + kUser) &&
      (!mutual ||
       (peer->tgtadm(std::string("--lld iscsi --op new --mode account --user ") + kTargetUser +
                     " --password " + kTargetSecret) &&
        peer->tgtadm(std::string("--lld iscsi --op bind --mode account --tid 1 --user ") +
                     kTargetUser + " --outgoing")));
  if (!ok) {
    why = "tgtadm could not set up CHAP accounts";
    return nullptr;
  }
  return peer;
}

TEST(IscsiChap, TheRightSecretLogsInAndAWrongOneIsRefusedWithoutShowingIt) {
  std::string why;
  auto peer = chap_peer(why, false);
  if (!peer) {
    GTEST_SKIP() << "tgt is not available: " << why;
  }
  {
    IscsiStack stack;
    auto c = quick_config(peer->url());
    EXPECT_FALSE(stack.start(c));  // No credentials.
    ASSERT_TRUE(stack.error);
    EXPECT_EQ(stack.error->errno_value(), EACCES) << stack.error->message();
  }
  {
    IscsiStack stack;
    auto c = quick_config(peer->url(std::string(kUser) + "%wrong-secret-here"));
    EXPECT_FALSE(stack.start(c));
    ASSERT_TRUE(stack.error);
    EXPECT_EQ(stack.error->errno_value(), EACCES);
    EXPECT_EQ(stack.error->message().find("wrong-secret-here"), std::string::npos)
        << stack.error->message();
  }
  {
    IscsiStack stack;
    auto c = quick_config(peer->url(std::string(kUser) + "%" + kSecret));
    ASSERT_TRUE(stack.start(c)) << stack.error->message();
    EXPECT_EQ(stack.xpt->devices().size(), 5U);
    const auto text = stack.sim->describe().text();
    EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
    EXPECT_NE(text.find(kUser), std::string::npos) << text;
  }
  {
    // The configuration's credentials override the URL's.
    IscsiStack stack;
    auto c = quick_config(peer->url("someone%else"));
    c.chap_user = kUser;
    c.chap_secret = kSecret;
    ASSERT_TRUE(stack.start(c)) << stack.error->message();
    EXPECT_EQ(stack.xpt->devices().size(), 5U);
  }
}

TEST(IscsiChap, MutualChapAuthenticatesTheTargetToo) {
  std::string why;
  auto peer = chap_peer(why, true);
  if (!peer) {
    GTEST_SKIP() << "tgt is not available: " << why;
  }
  {
    IscsiStack stack;
    auto c = quick_config(peer->url());
    c.chap_user = kUser;
    c.chap_secret = kSecret;
    c.target_chap_user = kTargetUser;
    c.target_chap_secret = kTargetSecret;
    ASSERT_TRUE(stack.start(c)) << stack.error->message();
    EXPECT_EQ(stack.xpt->devices().size(), 5U);
  }
  {
    IscsiStack stack;
    auto c = quick_config(peer->url());
    c.chap_user = kUser;
    c.chap_secret = kSecret;
    c.target_chap_user = kTargetUser;
    c.target_chap_secret = "not-what-the-target-says";
    EXPECT_FALSE(stack.start(c));
    ASSERT_TRUE(stack.error);
    EXPECT_EQ(stack.error->errno_value(), EACCES) << stack.error->message();
    EXPECT_EQ(stack.error->message().find("not-what-the-target-says"), std::string::npos);
  }
}

// --- Without a target --------------------------------------------------------------------------

TEST(IscsiCreate, NothingListeningOnThePortalIsConnectionRefused) {
  IscsiStack stack;
  // Port 1 on loopback: nothing listens there (and binding it needs privileges nobody used).
  auto c = quick_config("iscsi://127.0.0.1:1/iqn.2003-01.test.local:none");
  EXPECT_FALSE(stack.start(c));
  ASSERT_TRUE(stack.error);
  EXPECT_EQ(stack.error->errno_value(), ECONNREFUSED) << stack.error->message();
  EXPECT_TRUE(stack.xpt->buses().empty());
}

TEST(IscsiCreate, BadConfigurationsAreRefusedWithoutShowingSecrets) {
  IscsiStack stack;
  const auto refused = [&](Config c) {
    auto r = IscsiSim::create(*stack.xpt, std::move(c));
    EXPECT_EQ(errno_of(r), EINVAL);
    return r ? std::string() : r.error().message();
  };
  auto c = quick_config("http://127.0.0.1/iqn.x");
  EXPECT_NE(refused(c).find("iscsi://"), std::string::npos);
  c = quick_config("iscsi://user%topsecret@127.0.0.1:99999/iqn.x");
  const auto message = refused(c);
  EXPECT_EQ(message.find("topsecret"), std::string::npos) << message;
  c = quick_config("iscsi://127.0.0.1/iqn.x");
  c.chap_secret = "lonely-secret";
  EXPECT_EQ(refused(c).find("lonely-secret"), std::string::npos);
  c = quick_config("iscsi://127.0.0.1/iqn.x");
  c.target_chap_user = "t";
  c.target_chap_secret = "mutual-without-chap";
  EXPECT_NE(refused(c).find("mutual CHAP"), std::string::npos);
  c = quick_config("iscsi://127.0.0.1/iqn.x");
  c.reconnect_min = std::chrono::milliseconds(500);
  c.reconnect_max = std::chrono::milliseconds(100);
  EXPECT_NE(refused(c).find("back-off"), std::string::npos);
  c = quick_config("iscsi://127.0.0.1/iqn.x");
  c.queue_depth = 0;
  EXPECT_FALSE(refused(c).empty());
}

}  // namespace
}  // namespace ucam::iscsi
