// Run-time enclosure faults through the Emulator: element status, sensor readings, disks
// pulled, inserted and moved (with their LUNs leaving and joining the topology), configuration
// changes and the enclosure itself disappearing. Each change shows in the pages.
#include <gtest/gtest.h>

#include <cerrno>

#include "scsi/sense.h"
#include "sims/emu/lun.h"
#include "tests/emu/ses_harness.h"

namespace ucam::emu::testing {
namespace {

namespace ses = scsi::ses;

constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":0},{"id":1},{"id":2},{"id":3},
  {"id":8,"luns":[{"type":"ses","enclosure":"shelf","naa":"5acde48000000f01","elements":[
    {"type":"slots","count":4,"descriptor":"Slot {}","disks":"auto","targets":[0,1,2]},
    {"type":"power_supplies","count":2},
    {"type":"fans","count":2,"rpm":6000,"speed_code":3},
    {"type":"temperature_sensors","count":1,"celsius":30,
     "thresholds":{"high_critical":60,"high_warning":50,"low_warning":10,"low_critical":5}},
    {"type":"voltage_sensors","count":1,"millivolts":12000,
     "thresholds":{"high_critical":10,"high_warning":5,"low_warning":5,"low_critical":10}},
    {"type":"current_sensors","count":1,"milliamps":3000}]}]},
  {"id":9,"luns":[{"type":"ses","enclosure":"shelf","naa":"5acde48000000f02"}]}]}]})";
constexpr LunAddress kEs1{0, 8, 0};
constexpr LunAddress kEs2{0, 9, 0};
constexpr std::uint32_t kPathId = 7;  // FakeXpt's first path id

EnclosureElement element(ses::ElementType type, int index) {
  return EnclosureElement::of(type, index);
}

class SesFault : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.emu);
    config = read_config(h, kEs1);
    h.xpt.clear_rescans();
  }
  ses::SesStatus status(const LunAddress& at = kEs1) { return read_status(h, at, config); }
  ses::ElementBytes element_status(ses::ElementType type, int i) {
    return status().elements[static_cast<std::size_t>(global_index(config, type, i))];
  }
  std::uint64_t slot_address(int slot) {
    const auto aes = read_additional(h, kEs1, read_config(h, kEs1));
    const auto* d =
        aes.find(global_index(read_config(h, kEs1), ses::ElementType::DeviceSlot, slot));
    EXPECT_NE(d, nullptr);
    return d != nullptr && d->sas && !d->sas->phys.empty() ? d->sas->phys[0].sas_address : ~0ULL;
  }
  bool lun_present(const LunAddress& at) {
    const Reply r = h.read(at, scsi::inquiry(scsi::InquiryData::Standard, 0, 36), 36);
    return r.good() && !r.data.empty() && r.data[0] != 0x7f;
  }

  Harness h{kScenario};
  ses::SesConfig config;
};

TEST_F(SesFault, PowerSupplyFailureIsCritical) {
  ASSERT_TRUE(h.emu->set_element_status("shelf", element(ses::ElementType::PowerSupply, 1),
                                        {0x02, 0x00, 0x00, 0x40 | 0x20 | 0x01}));
  const auto psu = element_status(ses::ElementType::PowerSupply, 1);
  EXPECT_EQ(ses::status_code(psu), 2);
  EXPECT_TRUE(ses::decode_power_supply_status(psu).fail);
  EXPECT_TRUE(ses::decode_power_supply_status(psu).dc_fail);
  EXPECT_EQ(status(kEs2).flags, ses::kEnclosureCritical);
  // SELECT is not a status bit.
  ASSERT_TRUE(h.emu->set_element_status("shelf", element(ses::ElementType::PowerSupply, 0),
                                        {0x81, 0, 0, 0x20}));
  EXPECT_EQ(element_status(ses::ElementType::PowerSupply, 0)[0], 0x01);
}

TEST_F(SesFault, FanSlowsDown) {
  ASSERT_TRUE(h.emu->set_sensor("shelf", element(ses::ElementType::Cooling, 0), 1200));
  auto fan = ses::decode_cooling_status(element_status(ses::ElementType::Cooling, 0));
  EXPECT_EQ(fan.actual_speed_rpm, 1200);
  EXPECT_EQ(fan.speed_code, 1);
  ASSERT_TRUE(h.emu->set_sensor("shelf", element(ses::ElementType::Cooling, 0), 0));
  fan = ses::decode_cooling_status(element_status(ses::ElementType::Cooling, 0));
  EXPECT_EQ(fan.actual_speed_rpm, 0);
  EXPECT_EQ(fan.speed_code, 0);
  EXPECT_EQ(
      ses::decode_cooling_status(element_status(ses::ElementType::Cooling, 1)).actual_speed_rpm,
      6000);
}

TEST_F(SesFault, TemperatureRisesThroughItsThresholds) {
  const auto sensor = element(ses::ElementType::TemperatureSensor, 0);
  ASSERT_TRUE(h.emu->set_sensor("shelf", sensor, 52));
  auto e = element_status(ses::ElementType::TemperatureSensor, 0);
  EXPECT_EQ(e[2], 72);  // degrees + 20
  EXPECT_EQ(ses::status_code(e), 3);
  EXPECT_TRUE(ses::decode_temperature_status(e).over_temperature_warning);
  EXPECT_EQ(status().flags, ses::kEnclosureNonCritical);
  ASSERT_TRUE(h.emu->set_sensor("shelf", sensor, 65));
  e = element_status(ses::ElementType::TemperatureSensor, 0);
  EXPECT_EQ(ses::status_code(e), 2);
  EXPECT_TRUE(ses::decode_temperature_status(e).over_temperature_failure);
  EXPECT_FALSE(ses::decode_temperature_status(e).over_temperature_warning);
  EXPECT_EQ(status().flags, ses::kEnclosureCritical);
  ASSERT_TRUE(h.emu->set_sensor("shelf", sensor, 0));
  e = element_status(ses::ElementType::TemperatureSensor, 0);
  EXPECT_TRUE(ses::decode_temperature_status(e).under_temperature_failure);
  ASSERT_TRUE(h.emu->set_sensor("shelf", sensor, 30));
  e = element_status(ses::ElementType::TemperatureSensor, 0);
  EXPECT_EQ(ses::status_code(e), 1);
  EXPECT_EQ(e[3] & 0x0f, 0);
  EXPECT_EQ(status().flags, 0);
}

TEST_F(SesFault, VoltageAndCurrentReadings) {
  ASSERT_TRUE(h.emu->set_sensor("shelf", element(ses::ElementType::VoltageSensor, 0), 12700));
  auto v = element_status(ses::ElementType::VoltageSensor, 0);
  EXPECT_EQ(ses::decode_voltage_status(v).millivolts, 12700);
  EXPECT_TRUE(ses::decode_voltage_status(v).warning_over);  // above 12000 + 5 %
  EXPECT_EQ(ses::status_code(v), 3);
  ASSERT_TRUE(h.emu->set_sensor("shelf", element(ses::ElementType::VoltageSensor, 0), 10500));
  v = element_status(ses::ElementType::VoltageSensor, 0);
  EXPECT_TRUE(ses::decode_voltage_status(v).critical_under);  // below 12000 - 10 %
  EXPECT_EQ(ses::status_code(v), 2);
  ASSERT_TRUE(h.emu->set_sensor("shelf", element(ses::ElementType::CurrentSensor, 0), -1500));
  EXPECT_EQ(
      ses::decode_current_status(element_status(ses::ElementType::CurrentSensor, 0)).milliamps,
      -1500);
}

TEST_F(SesFault, BadElementsAndValuesAreErrors) {
  auto r = h.emu->set_sensor("shelf", element(ses::ElementType::PowerSupply, 0), 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), EINVAL);
  r = h.emu->set_sensor("shelf", element(ses::ElementType::TemperatureSensor, 0), 300);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), EINVAL);
  r = h.emu->set_element_status("shelf", element(ses::ElementType::PowerSupply, 2), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), ENODEV);
  r = h.emu->set_element_status("nope", element(ses::ElementType::PowerSupply, 0), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), ENODEV);
  EXPECT_NE(r.error().message().find("\"nope\""), std::string::npos);
  EXPECT_FALSE(h.emu->enclosure("nope"));
  EXPECT_FALSE(h.emu->enclosure(LunAddress{0, 0, 0}));
}

TEST_F(SesFault, OverallElementsCanBeSet) {
  ASSERT_TRUE(h.emu->set_element_status(
      kEs2, element(ses::ElementType::PowerSupply, EnclosureElement::kOverall), {0x03, 0, 0, 0}));
  const auto overall = status().elements[static_cast<std::size_t>(
      global_index(config, ses::ElementType::PowerSupply, -1))];
  EXPECT_EQ(ses::status_code(overall), 3);
  EXPECT_EQ(status().flags, 0);  // only individual elements raise the enclosure flags
}

TEST_F(SesFault, PulledDiskLeavesItsSlotAndTheTopology) {
  const std::uint64_t address = target_port_address(h, {0, 1, 0});
  EXPECT_EQ(slot_address(1), address);
  auto pulled = h.emu->pull_disk("shelf", 1);
  ASSERT_TRUE(pulled) << pulled.error().message();
  EXPECT_EQ(*pulled, (LunAddress{0, 1, 0}));
  EXPECT_EQ(slot_address(1), 0U);
  const auto slot = element_status(ses::ElementType::DeviceSlot, 1);
  EXPECT_EQ(ses::status_code(slot), 5);  // Not Installed
  EXPECT_FALSE(lun_present({0, 1, 0}));
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{{kPathId, 1, 0}}));
  const auto view = h.emu->enclosure("shelf");
  EXPECT_FALSE(view->slot(1)->disk);
  EXPECT_EQ(view->slot(1)->sas_address, 0U);

  // Pushed back in: the same disk, same address, back in the topology.
  ASSERT_TRUE(h.emu->insert_disk("shelf", 1, SlotDevice::disk({0, 1, 0})));
  EXPECT_EQ(slot_address(1), address);
  EXPECT_EQ(ses::status_code(element_status(ses::ElementType::DeviceSlot, 1)), 1);
  EXPECT_TRUE(lun_present({0, 1, 0}));
  EXPECT_EQ(h.xpt.rescans().size(), 2U);
}

TEST_F(SesFault, MovedDiskShowsUpInItsNewSlot) {
  const std::uint64_t address = target_port_address(h, {0, 0, 0});
  ASSERT_TRUE(h.emu->move_disk("shelf", 0, 3, Insertion::PowerOnAttention));
  EXPECT_EQ(slot_address(0), 0U);
  EXPECT_EQ(slot_address(3), address);
  EXPECT_EQ(ses::status_code(element_status(ses::ElementType::DeviceSlot, 0)), 5);
  EXPECT_EQ(ses::status_code(element_status(ses::ElementType::DeviceSlot, 3)), 1);
  EXPECT_TRUE(lun_present({0, 0, 0}));
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{{kPathId, 0, 0}, {kPathId, 0, 0}}));
  // The re-inserted disk reports its power-on UNIT ATTENTION.
  EXPECT_EQ(h.run({0, 0, 0}, scsi::test_unit_ready()).sense_code(), scsi::kPowerOnReset);
  EXPECT_EQ(h.emu->enclosure(kEs1)->slot(3)->disk, (LunAddress{0, 0, 0}));
}

TEST_F(SesFault, DiskCanMoveToAnotherEnclosureSlotOnlyWhenFree) {
  auto r = h.emu->insert_disk("shelf", 0, SlotDevice::disk({0, 3, 0}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), EBUSY);  // slot 0 holds target 0
  r = h.emu->insert_disk("shelf", 3, SlotDevice::disk({0, 0, 0}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), EBUSY);  // target 0 sits in slot 0
  r = h.emu->move_disk("shelf", 0, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), EBUSY);
  EXPECT_TRUE(lun_present({0, 0, 0}));  // nothing happened
  auto pulled = h.emu->pull_disk("shelf", 3);
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().errno_value(), EINVAL);  // empty
  pulled = h.emu->pull_disk("shelf", 4);
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().errno_value(), ENODEV);
  r = h.emu->insert_disk("shelf", 3, SlotDevice::disk({0, 6, 0}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), ENODEV);
  // A target that was in no slot (3) goes into the free slot.
  ASSERT_TRUE(h.emu->insert_disk("shelf", 3, SlotDevice::disk({0, 3, 0})));
  EXPECT_EQ(slot_address(3), target_port_address(h, {0, 3, 0}));
}

TEST_F(SesFault, DeviceTheEmulatorDoesNotModelCanFillASlot) {
  ASSERT_TRUE(h.emu->insert_disk("shelf", 3, SlotDevice::address(0x5000c50000001234)));
  EXPECT_EQ(slot_address(3), 0x5000c50000001234U);
  EXPECT_TRUE(h.xpt.rescans().empty());
  auto pulled = h.emu->pull_disk("shelf", 3);
  ASSERT_TRUE(pulled);
  EXPECT_FALSE(*pulled);
  EXPECT_FALSE(h.emu->insert_disk("shelf", 3, SlotDevice::address(0)));
}

TEST_F(SesFault, ReconfigurationChangesElementsAndTheGenerationCode) {
  const auto before = status();
  auto generation = h.emu->reconfigure_enclosure("shelf", {{{0, 2}}});
  ASSERT_TRUE(generation) << generation.error().message();
  EXPECT_EQ(*generation, before.generation + 1);
  // The slot that disappeared held target 2: it was pulled.
  EXPECT_FALSE(lun_present({0, 2, 0}));
  EXPECT_TRUE(lun_present({0, 1, 0}));
  // Pages read with the old configuration are flagged by the decoders.
  auto stale = ses::parse_ses_status(page_bytes(h, kEs2, 0x02), config);
  ASSERT_TRUE(stale);
  EXPECT_TRUE(stale->generation_mismatch);
  config = read_config(h, kEs2);
  EXPECT_EQ(config.generation, *generation);
  EXPECT_EQ(config.types[0].possible_elements, 2);

  generation = h.emu->reconfigure_enclosure(kEs1, {{{0, 5}, {1, 3}}});
  ASSERT_TRUE(generation);
  config = read_config(h, kEs1);
  EXPECT_EQ(config.types[0].possible_elements, 5);
  EXPECT_EQ(config.types[1].possible_elements, 3);
  auto descriptors = ses::parse_ses_element_descriptors(page_bytes(h, kEs1, 0x07), config);
  ASSERT_TRUE(descriptors);
  EXPECT_TRUE(descriptors->warnings.empty());
  EXPECT_EQ(descriptors->text[5], "Slot 4");  // the pattern names new elements
  const auto now = status();
  EXPECT_EQ(ses::status_code(now.elements[3]), 5);  // new slots are empty
  EXPECT_EQ(ses::status_code(now.elements[global_index(config, ses::ElementType::PowerSupply, 2)]),
            1);
  const auto aes = read_additional(h, kEs1, config);
  EXPECT_EQ(aes.descriptors.size(), 5U);  // one per slot

  auto bad = h.emu->reconfigure_enclosure("shelf", {{{9, 1}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errno_value(), ENODEV);
  EXPECT_EQ(read_config(h, kEs1).generation, *generation);  // unchanged
}

TEST(SesFaultReconfiguration, ElementIndexesThatNoLongerFitAreRefused) {
  Harness h(R"({"buses":[{"targets":[{"id":9,"luns":[{"type":"ses","elements":[
    {"type":"power_supplies","count":200},{"type":"slots","count":10}]}]}]}]})");
  ASSERT_TRUE(h.emu);
  // Slot 9 would get element index 255 + 2 + 9: page 0x0A cannot say it.
  auto r = h.emu->reconfigure_enclosure("0:9:0", {{{0, 255}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), EINVAL);
  EXPECT_NE(r.error().message().find("does not fit one byte"), std::string::npos);
  const auto config = read_config(h, {0, 9, 0});
  EXPECT_EQ(config.types[0].possible_elements, 200);
  EXPECT_EQ(config.generation, 0U);
}

TEST_F(SesFault, EnclosureDisappearsAndComesBackWithItsState) {
  ASSERT_TRUE(h.emu->set_element_status("shelf", element(ses::ElementType::PowerSupply, 0),
                                        {0x02, 0, 0, 0x40}));
  ASSERT_TRUE(h.emu->remove_enclosure("shelf"));
  EXPECT_FALSE(lun_present(kEs1));
  EXPECT_FALSE(lun_present(kEs2));
  EXPECT_TRUE(lun_present({0, 0, 0}));  // the disks stay
  EXPECT_EQ(h.xpt.rescans(), (std::vector<cam::Path>{{kPathId, 8, 0}, {kPathId, 9, 0}}));
  const Reply r = receive_page(h, kEs1, 0x02);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kLunNotSupported);

  ASSERT_TRUE(h.emu->insert_enclosure(kEs2));
  EXPECT_TRUE(lun_present(kEs1));
  EXPECT_EQ(ses::status_code(element_status(ses::ElementType::PowerSupply, 0)), 2);
}

TEST_F(SesFault, ViewDescribesTheEnclosure) {
  const auto view = h.emu->enclosure(kEs2);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->name, "shelf");
  EXPECT_EQ(view->kind, EnclosureView::Kind::Ses);
  EXPECT_EQ(view->luns, (std::vector<LunAddress>{kEs1, kEs2}));
  EXPECT_EQ(view->logical_id, 0x5acde48000000f01U);
  EXPECT_EQ(view->elements.size(), config.element_count());
  EXPECT_EQ(view->slot_count(), 4U);
  EXPECT_EQ(view->slot(2)->descriptor, "Slot 2");
  EXPECT_EQ(view->slot(2)->disk, (LunAddress{0, 2, 0}));
  EXPECT_EQ(view->slot(2)->sas_address, target_port_address(h, {0, 2, 0}));
  EXPECT_FALSE(view->slot(3)->disk);
  const auto* fan = view->find(element(ses::ElementType::Cooling, 1));
  ASSERT_NE(fan, nullptr);
  EXPECT_EQ(ses::decode_cooling_status(fan->status).actual_speed_rpm, 6000);
  EXPECT_EQ(fan->type_header, 2);
  EXPECT_EQ(h.emu->enclosure_names(), (std::vector<std::string>{"shelf"}));
  for (const std::string& name : h.emu->enclosure_names()) {
    EXPECT_TRUE(h.emu->enclosure(name));
  }
}

}  // namespace
}  // namespace ucam::emu::testing
