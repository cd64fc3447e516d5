// Discovery from sysfs, on fake trees laid out as the kernel lays them out.
#include "sims/sg/sysfs.h"

#include <gtest/gtest.h>

#include "tests/sg/fake_sysfs.h"

namespace ucam::sg {
namespace {

using testing::FakeSysfs;

LinuxAddress at(std::uint32_t h, std::uint32_t c, std::uint32_t t, std::uint64_t l) {
  return {h, c, t, l};
}

FakeSysfs::Device dev(std::string sg, LinuxAddress address, std::uint8_t type,
                      std::string vendor = "ACME", std::string model = "DISK",
                      std::string revision = "0001") {
  FakeSysfs::Device d;
  d.sg = std::move(sg);
  d.address = address;
  d.type = type;
  d.vendor = std::move(vendor);
  d.model = std::move(model);
  d.revision = std::move(revision);
  return d;
}
FakeSysfs::Device with_block(FakeSysfs::Device d, std::string block) {
  d.block = std::move(block);
  return d;
}

TEST(SgSysfs, FindsEveryDeviceWithAddressTypeIdentityAndUpperDevice) {
  FakeSysfs sys;
  sys.add_host(0, "scsi_debug");
  sys.add_host(3, "mpt3sas", "sas_host");
  sys.add_device(with_block(dev("sg0", at(0, 0, 0, 0), 0, "Linux", "scsi_debug", "0191"), "sda"));
  sys.add_device(with_block(dev("sg1", at(0, 0, 0, 1), 0, "Linux", "scsi_debug", "0191"), "sdc"));
  sys.add_device(with_block(dev("sg2", at(0, 0, 1, 0), 0, "Linux", "scsi_debug", "0191"), "sdb"));
  auto tape = dev("sg3", at(3, 0, 4, 0), 1, "HP", "Ultrium 6-SCSI", "35GD");
  tape.tape = "st0";
  sys.add_device(tape);
  auto changer = dev("sg10", at(3, 0, 5, 0), 8, "HP", "MSL G3 Series", "E.00");
  changer.changer = "sch0";
  sys.add_device(changer);
  sys.add_device(dev("sg4", at(3, 1, 0, 0), 13, "HP", "D2700 SAS AJ941A", "0149"));

  auto topology = discover(sys.roots());
  ASSERT_TRUE(topology) << topology.error().message();
  ASSERT_EQ(topology->devices.size(), 6U);
  EXPECT_TRUE(topology->skipped.empty());

  const auto& d = topology->devices;
  EXPECT_EQ(d[0].name, "sg0");
  EXPECT_EQ(d[0].address, at(0, 0, 0, 0));
  EXPECT_EQ(d[0].dev_path, sys.dev_path("sg0"));
  EXPECT_EQ(d[0].type, 0);
  EXPECT_EQ(d[0].vendor, "Linux");  // Blank padding trimmed.
  EXPECT_EQ(d[0].model, "scsi_debug");
  EXPECT_EQ(d[0].revision, "0191");
  EXPECT_EQ(d[0].state, "running");
  EXPECT_EQ(d[0].queue_depth, 32U);
  EXPECT_EQ(d[0].block, "sda");
  EXPECT_EQ(d[0].block_max_bytes, 512U * 1024);
  EXPECT_EQ(d[1].name, "sg1");  // Sorted by address, not by sg number.
  EXPECT_EQ(d[1].block, "sdc");
  EXPECT_EQ(d[2].address, at(0, 0, 1, 0));

  EXPECT_EQ(d[3].name, "sg3");
  EXPECT_EQ(d[3].type, 1);
  EXPECT_EQ(d[3].tape, "st0");  // Not nst0, st0a, ...
  EXPECT_TRUE(d[3].block.empty());
  EXPECT_EQ(d[3].block_max_bytes, 0U);
  EXPECT_EQ(d[4].name, "sg10");
  EXPECT_EQ(d[4].type, 8);
  EXPECT_EQ(d[4].changer, "sch0");
  EXPECT_EQ(d[5].address, at(3, 1, 0, 0));
  EXPECT_EQ(d[5].type, 13);
  EXPECT_EQ(d[5].model, "D2700 SAS AJ941A");

  ASSERT_EQ(topology->hosts.size(), 2U);
  EXPECT_EQ(topology->hosts[0].host, 0U);
  EXPECT_EQ(topology->hosts[0].proc_name, "scsi_debug");
  EXPECT_EQ(topology->hosts[0].transport, "other");
  EXPECT_EQ(topology->hosts[0].can_queue, 64U);
  EXPECT_EQ(topology->hosts[1].host, 3U);
  EXPECT_EQ(topology->hosts[1].proc_name, "mpt3sas");
  EXPECT_EQ(topology->hosts[1].transport, "SAS");
}

TEST(SgSysfs, TransportComesFromTheHostsTransportClass) {
  FakeSysfs sys;
  sys.add_host(1, "qla2xxx", "fc_host");
  sys.add_host(2, "iscsi_tcp", "iscsi_host");
  auto topology = discover(sys.roots());
  ASSERT_TRUE(topology);
  ASSERT_EQ(topology->hosts.size(), 2U);
  EXPECT_EQ(topology->hosts[0].transport, "FC");
  EXPECT_EQ(topology->hosts[1].transport, "iSCSI");
}

TEST(SgSysfs, AVanishedDeviceIsSkippedNotAnError) {
  FakeSysfs sys;
  sys.add_host(0, "scsi_debug");
  sys.add_device(dev("sg0", at(0, 0, 0, 0), 0));
  sys.add_device(dev("sg1", at(0, 0, 1, 0), 0));
  sys.vanish_device(at(0, 0, 0, 0));  // Listed, but its directory is gone.

  auto topology = discover(sys.roots());
  ASSERT_TRUE(topology) << topology.error().message();
  ASSERT_EQ(topology->devices.size(), 1U);
  EXPECT_EQ(topology->devices[0].name, "sg1");
  ASSERT_EQ(topology->skipped.size(), 1U);
  EXPECT_NE(topology->skipped[0].find("sg0"), std::string::npos);
}

TEST(SgSysfs, ARemovedDeviceAndHostAreNoLongerListed) {
  FakeSysfs sys;
  sys.add_host(0, "scsi_debug");
  sys.add_host(1, "scsi_debug");
  sys.add_device(dev("sg0", at(0, 0, 0, 0), 0));
  sys.add_device(dev("sg1", at(1, 0, 0, 0), 0));
  sys.remove_device("sg0", at(0, 0, 0, 0));
  sys.remove_host(1);
  auto topology = discover(sys.roots());
  ASSERT_TRUE(topology);
  EXPECT_TRUE(topology->devices.empty());
  EXPECT_TRUE(topology->skipped.size() <= 1U);  // sg1's class link may dangle after the host.
  ASSERT_EQ(topology->hosts.size(), 1U);
  EXPECT_EQ(topology->hosts[0].host, 0U);
}

TEST(SgSysfs, NoScsiGenericClassIsAnErrorThatNamesTheSgDriver) {
  FakeSysfs sys;
  std::filesystem::remove_all(sys.sys() / "class" / "scsi_generic");
  auto topology = discover(sys.roots());
  ASSERT_FALSE(topology);
  EXPECT_EQ(topology.error().errno_value(), ENOENT);
  EXPECT_NE(topology.error().message().find("sg driver"), std::string::npos);
}

TEST(SgSysfs, AnEmptyClassIsAnEmptyTopology) {
  FakeSysfs sys;
  auto topology = discover(sys.roots());
  ASSERT_TRUE(topology);
  EXPECT_TRUE(topology->devices.empty());
  EXPECT_TRUE(topology->hosts.empty());
}

TEST(SgSysfs, AddressesParseAndPrintAsHctl) {
  EXPECT_EQ(LinuxAddress::parse("2:0:17:3"), at(2, 0, 17, 3));
  EXPECT_EQ(at(2, 0, 17, 3).text(), "2:0:17:3");
  EXPECT_EQ(LinuxAddress::parse("0:0:0:16384"), at(0, 0, 0, 16384));
  for (const char* bad : {"", "1:2:3", "1:2:3:", "a:0:0:0", "0:0:0:0:0", "0:0:0:x", "-1:0:0:0"}) {
    EXPECT_FALSE(LinuxAddress::parse(bad)) << bad;
  }
}

TEST(SgSysfs, LinuxLunsConvertToCamLunsAndBack) {
  // Peripheral device LUNs below 256 are the same number in both.
  EXPECT_EQ(cam_lun(0), 0U);
  EXPECT_EQ(cam_lun(5), 5U);
  EXPECT_EQ(cam_lun(255), 255U);
  // Flat space LUN 300 is 0x412c in Linux's integer (the first level's two bytes), 300 in CAM.
  EXPECT_EQ(cam_lun(0x412c), 300U);
  EXPECT_EQ(linux_lun(300), 0x412cU);
  // A two-level LUN: Linux packs level 2 into bits 31:16.
  const std::uint64_t two_level = 0x0002'0001;
  EXPECT_EQ(linux_lun(cam_lun(two_level)), two_level);
  for (std::uint64_t l : {0ULL, 1ULL, 7ULL, 255ULL, 0x4100ULL, 0x7fffULL}) {
    EXPECT_EQ(linux_lun(cam_lun(l)), l) << l;
  }
}

TEST(SgSysfs, FilterSelectsBySgNameAddressHostOrDriver) {
  SgDeviceEntry e;
  e.name = "sg3";
  e.address = at(2, 0, 1, 0);
  SgHostEntry host;
  host.host = 2;
  host.proc_name = "scsi_debug";
  EXPECT_TRUE(selected({}, e, &host));
  EXPECT_TRUE(selected({"sg3"}, e, &host));
  EXPECT_TRUE(selected({"sg9", "2:0:1:0"}, e, &host));
  EXPECT_TRUE(selected({"host2"}, e, &host));
  EXPECT_TRUE(selected({"scsi_debug"}, e, &host));
  EXPECT_FALSE(selected({"sg30"}, e, &host));
  EXPECT_FALSE(selected({"host1", "mpt3sas", "2:0:1:1"}, e, &host));
  EXPECT_FALSE(selected({"scsi_debug"}, e, nullptr));
}

}  // namespace
}  // namespace ucam::sg
