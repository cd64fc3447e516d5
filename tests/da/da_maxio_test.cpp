// The da driver on a bus with a maximum transfer size (PathInquiry::maxio): it reports the
// limit and splits larger block I/O into commands that fit, in LBA order.
#include <gtest/gtest.h>

#include <cerrno>

#include "base/bytes.h"
#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "periphs/da/da.h"
#include "scsi/read_capacity.h"
#include "tests/cam/fake_sim.h"
#include "tests/errno_of.h"

namespace ucam::da {
namespace {

using ucam::testing::FakeSim;

// XPT, devfs, the da driver and a fake SIM whose disk has 1000 blocks of `block_length`.
struct DaStack {
  DaStack(std::uint32_t maxio, std::uint32_t block_length) {
    xpt = cam::Xpt::create();
    devfs = devfs::Devfs::create();
    sim = std::make_unique<FakeSim>(*xpt, 0);
    sim->set_maxio(maxio);
    sim->add_lun(0, 0, 0, "DISK0");
    std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
    drivers.push_back(std::make_unique<DaDriver>(*devfs));
    periphs = cam::PeriphManager::create(*xpt, std::move(drivers));
    bus = sim->register_bus();
    EXPECT_TRUE(xpt->scan_all());
    xpt->drain();
    devfs->drain();
    // The fake answers READ CAPACITY with zeros: store the geometry the probe would have.
    scsi::ReadCapacity16Data rc;
    rc.last_lba = 999;
    rc.block_length = block_length;
    auto bytes = scsi::encode_read_capacity16(rc);
    EXPECT_TRUE(bytes);
    EXPECT_TRUE(xpt->set_advinfo({bus, 0, 0}, cam::AdvinfoType::Rcaplong, *bytes));
  }
  ~DaStack() {
    xpt->deregister_bus(bus);
    xpt->drain();
    periphs.reset();
    devfs.reset();
    sim.reset();
    xpt.reset();
  }
  // The (LBA, blocks, bytes) of each READ(16) or WRITE(16) the SIM received.
  struct Io {
    std::uint64_t lba;
    std::uint32_t blocks;
    std::uint32_t bytes;
    friend bool operator==(const Io&, const Io&) = default;
  };
  std::vector<Io> block_io(std::uint8_t opcode) const {
    std::vector<Io> out;
    for (const auto& c : sim->commands()) {
      if (c.cdb.size() == 16 && c.cdb[0] == opcode) {
        out.push_back({load_be64(c.cdb, 2), load_be32(c.cdb, 10), c.dxfer_len});
      }
    }
    return out;
  }

  std::unique_ptr<cam::Xpt> xpt;
  std::unique_ptr<devfs::Devfs> devfs;
  std::unique_ptr<FakeSim> sim;
  std::unique_ptr<cam::PeriphManager> periphs;
  std::uint32_t bus = 0;
};

TEST(DaMaxio, GeometryReportsTheBusLimit) {
  DaStack stack(64 * 1024, 512);
  auto h = stack.devfs->open("da0");
  ASSERT_TRUE(h);
  DaGetGeometry g;
  ASSERT_TRUE(h->ioctl(g));
  EXPECT_EQ(g.block_length, 512U);
  EXPECT_EQ(g.block_count, 1000U);
  EXPECT_EQ(g.max_transfer, 64U * 1024);
}

TEST(DaMaxio, LargeRequestsAreSplitIntoCommandsThatFitInLbaOrder) {
  DaStack stack(2048, 512);  // Four blocks per command.
  auto h = stack.devfs->open("da0");
  ASSERT_TRUE(h);
  std::vector<std::uint8_t> buf(10 * 512);
  DaIo read(DaIo::kRead);
  read.lba = 100;
  read.blocks = 10;
  read.data = buf;
  ASSERT_TRUE(h->ioctl(read));
  using Io = DaStack::Io;
  EXPECT_EQ(stack.block_io(0x88),
            (std::vector<Io>{{100, 4, 2048}, {104, 4, 2048}, {108, 2, 1024}}));
  DaIo write(DaIo::kWrite);
  write.lba = 0;
  write.blocks = 4;
  write.data = std::span<std::uint8_t>(buf).first(4 * 512);
  ASSERT_TRUE(h->ioctl(write));
  EXPECT_EQ(stack.block_io(0x8a), (std::vector<Io>{{0, 4, 2048}}));  // Fits: one command.
}

TEST(DaMaxio, SplitRequestStopsAtTheFirstFailingCommand) {
  DaStack stack(1024, 512);
  auto h = stack.devfs->open("da0");
  ASSERT_TRUE(h);
  // The second command gets MEDIUM ERROR (not retried).
  stack.sim->script(0, 0, {FakeSim::Outcome::Good});
  stack.sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x03, 0x11, 0x00});
  std::vector<std::uint8_t> buf(6 * 512);
  DaIo read(DaIo::kRead);
  read.lba = 10;
  read.blocks = 6;
  read.data = buf;
  const auto r = h->ioctl(read);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sense().key, 0x03);
  EXPECT_NE(r.error().message().find("12..13"), std::string::npos) << r.error().message();
  EXPECT_EQ(stack.block_io(0x88).size(), 2U);  // The third was never sent.
}

TEST(DaMaxio, MaxioBelowOneBlockIsAClearError) {
  DaStack stack(256, 512);
  auto h = stack.devfs->open("da0");
  ASSERT_TRUE(h);
  std::vector<std::uint8_t> buf(512);
  DaIo read(DaIo::kRead);
  read.lba = 0;
  read.blocks = 1;
  read.data = buf;
  const auto r = h->ioctl(read);
  EXPECT_EQ(ucam::testing::errno_of(r), EINVAL);
  EXPECT_TRUE(stack.block_io(0x88).empty());
}

}  // namespace
}  // namespace ucam::da
