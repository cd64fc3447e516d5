// The SAF-TE enclosure model: INQUIRY signature, the six READ BUFFER buffers and the WRITE
// BUFFER commands, each round-tripped through scsi/safte.h; enclosure faults through the
// Emulator seen in the buffers.
#include <gtest/gtest.h>

#include <cerrno>

#include "scsi/safte.h"
#include "sims/emu/lun.h"
#include "tests/emu/ses_harness.h"

namespace ucam::emu::testing {
namespace {

namespace safte = scsi::safte;
namespace ses = scsi::ses;

constexpr const char* kScenario = R"({"buses":[{"transport":"SPI","max_target":15,"targets":[
  {"id":0},{"id":1},{"id":2},
  {"id":6,"luns":[{"type":"safte","vendor":"ACME","product":"SAFTE SHELF","enclosure":"shelf",
    "naa":"5acde48000001234","fans":2,"power_supplies":2,"temperature_sensors":2,
    "thermostats":1,"door_lock":true,"alarm":true,"celsius":[28,33],
    "slots":{"count":4,"disks":"auto","targets":[0,1,2]},
    "power_on_minutes":1440,"power_cycles":3}]}]}]})";
constexpr LunAddress kSafte{0, 6, 0};

class SafteEnclosureModel : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.emu);
    auto c = safte::parse_config(read(safte::Buffer::EnclosureConfiguration));
    ASSERT_TRUE(c) << c.error().message();
    config = *c;
  }
  std::vector<std::uint8_t> read(safte::Buffer buffer, std::uint16_t length = 1024) {
    const Reply r = h.read(kSafte, safte::read_cdb(buffer, length), length);
    EXPECT_TRUE(r.good()) << safte::buffer_name(static_cast<std::uint8_t>(buffer));
    return r.data;
  }
  Reply write(const safte::WriteCommand& command) {
    auto list = safte::encode_write_command(command);
    EXPECT_TRUE(list);
    return write_bytes(list ? *list : std::vector<std::uint8_t>{});
  }
  Reply write_bytes(std::vector<std::uint8_t> list) {
    const auto length = static_cast<std::uint16_t>(list.size());
    return h.write(kSafte, safte::write_cdb(length), std::move(list));
  }
  safte::EnclosureStatus status() {
    auto s = safte::parse_enclosure_status(read(safte::Buffer::EnclosureStatus), config);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? *s : safte::EnclosureStatus{};
  }
  std::vector<safte::SlotStatus> slots() {
    auto s = safte::parse_slot_status(read(safte::Buffer::DeviceSlotStatus), config);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? *s : std::vector<safte::SlotStatus>{};
  }
  bool lun_present(const LunAddress& at) {
    const Reply r = h.read(at, scsi::inquiry(scsi::InquiryData::Standard, 0, 36), 36);
    return r.good() && !r.data.empty() && r.data[0] != 0x7f;
  }

  Harness h{kScenario};
  safte::Config config;
};

TEST_F(SafteEnclosureModel, InquiryCarriesTheSafteSignature) {
  const Reply r = h.read(kSafte, scsi::inquiry(scsi::InquiryData::Standard, 0, 96), 96);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data[0], 0x03);  // processor device
  EXPECT_TRUE(safte::is_safte_inquiry(r.data));
  EXPECT_EQ(ascii(r.data, 44, 6), "SAF-TE");
  EXPECT_GE(r.data[4], safte::kInquiryMinAdditionalLength);
  EXPECT_EQ(r.data[36], 0xcd);  // unique enclosure identifier: the LU name's low 56 bits
  EXPECT_EQ(r.data[42], 0x34);
  EXPECT_EQ(ascii(r.data, 16, 11), "SAFTE SHELF");
}

TEST_F(SafteEnclosureModel, ConfigurationBufferDescribesTheEnclosure) {
  EXPECT_EQ(config.fans, 2);
  EXPECT_EQ(config.power_supplies, 2);
  EXPECT_EQ(config.device_slots, 4);
  EXPECT_TRUE(config.door_lock);
  EXPECT_EQ(config.temperature_sensors, 2);
  EXPECT_TRUE(config.audible_alarm);
  EXPECT_EQ(config.thermostats, 1);
  EXPECT_EQ(config.temperature_unit, safte::TemperatureUnit::Celsius);
  EXPECT_EQ(read(safte::Buffer::EnclosureConfiguration).size(), safte::kConfigLength);
}

TEST_F(SafteEnclosureModel, StatusBuffersRoundTripThroughTheDecoders) {
  const auto s = status();
  EXPECT_EQ(s.fans, (std::vector<safte::FanStatus>(2, safte::FanStatus::Operational)));
  EXPECT_EQ(s.power_supplies,
            (std::vector<safte::PowerSupplyStatus>(2, safte::PowerSupplyStatus::OperationalOn)));
  EXPECT_EQ(s.slot_scsi_ids, (std::vector<std::uint8_t>{0, 1, 2, 0xff}));
  EXPECT_EQ(s.door_lock, safte::DoorLockStatus::Locked);
  ASSERT_EQ(s.temperatures.size(), 2U);
  EXPECT_EQ(safte::temperature_celsius(s.temperatures[0], config.temperature_unit), 28.0);
  EXPECT_EQ(safte::temperature_celsius(s.temperatures[1], config.temperature_unit), 33.0);
  EXPECT_EQ(s.temperature_flags, 0);
  EXPECT_EQ(read(safte::Buffer::EnclosureStatus).size(),
            safte::buffer_length(safte::Buffer::EnclosureStatus, config));

  const auto slot_states = slots();
  ASSERT_EQ(slot_states.size(), 4U);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(slot_states[i].installed, i < 3) << i;
    EXPECT_EQ(slot_states[i].powered, i < 3) << i;
  }
  auto insertions = safte::parse_device_insertions(read(safte::Buffer::DeviceInsertions), config);
  ASSERT_TRUE(insertions);
  EXPECT_EQ(*insertions, (std::vector<std::uint16_t>{1, 1, 1, 0}));
  auto usage = safte::parse_usage_statistics(read(safte::Buffer::UsageStatistics));
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, (safte::UsageStatistics{1440, 3}));
  auto flags = safte::parse_global_flags(read(safte::Buffer::GlobalFlags));
  ASSERT_TRUE(flags);
  EXPECT_EQ(*flags, safte::GlobalFlags{});
}

TEST_F(SafteEnclosureModel, WriteCommandsChangeWhatTheBuffersReport) {
  safte::WriteSlotStatus w;
  w.slots.resize(4);
  w.slots[1].faulty = true;
  w.slots[2].hot_spare = true;
  ASSERT_TRUE(write(w).good());
  auto states = slots();
  EXPECT_TRUE(states[1].array.faulty);
  EXPECT_TRUE(states[2].array.hot_spare);
  EXPECT_FALSE(states[0].array.faulty);

  ASSERT_TRUE(write(safte::SlotOperation{0, false, true, false}).good());
  states = slots();
  EXPECT_TRUE(states[0].ready_for_insertion_removal);
  EXPECT_FALSE(states[0].powered);
  ASSERT_TRUE(write(safte::SlotOperation{0, true, false, true}).good());
  states = slots();
  EXPECT_TRUE(states[0].powered);
  EXPECT_FALSE(states[0].ready_for_insertion_removal);

  ASSERT_TRUE(write(safte::ActivatePowerSupply{1, safte::Power::Off}).good());
  EXPECT_EQ(status().power_supplies[1], safte::PowerSupplyStatus::OperationalOff);

  safte::GlobalFlags flags;
  flags.global_warning = true;
  flags.identify_enclosure = true;
  ASSERT_TRUE(write(flags).good());
  auto read_flags = safte::parse_global_flags(read(safte::Buffer::GlobalFlags));
  ASSERT_TRUE(read_flags);
  EXPECT_EQ(*read_flags, flags);

  ASSERT_TRUE(write(safte::SetFanSpeed{1, 2}).good());

  // The SES view of the state: slot 0 identify, slot 1 faulty, fan 1 at speed 2, PSU 1 off,
  // the global warning as NON-CRIT.
  const auto view = h.emu->enclosure("shelf");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->kind, EnclosureView::Kind::Safte);
  EXPECT_TRUE(ses::decode_slot_status(0x17, view->slot(0)->status).ident);
  EXPECT_EQ(ses::status_code(view->slot(1)->status), 2);
  const auto* fan = view->find(EnclosureElement::of(ses::ElementType::Cooling, 1));
  ASSERT_NE(fan, nullptr);
  EXPECT_EQ(ses::decode_cooling_status(fan->status).speed_code, 3);  // SAF-TE 2 -> codes 3-4
  const auto* psu = view->find(EnclosureElement::of(ses::ElementType::PowerSupply, 1));
  ASSERT_NE(psu, nullptr);
  EXPECT_TRUE(ses::decode_power_supply_status(psu->status).off);
  EXPECT_NE(view->status_flags & ses::kEnclosureNonCritical, 0);
}

TEST_F(SafteEnclosureModel, BadCommandsAndBuffersAreRefused) {
  // Buffer ID 06h does not exist: INVALID FIELD IN CDB at byte 2.
  auto cdb = scsi::read_buffer(0x01, 0x06, 0, 64);
  ASSERT_TRUE(cdb);
  Reply r = h.read(kSafte, *cdb, 64);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x24, 0x00}));
  ASSERT_TRUE(r.field_pointer());
  EXPECT_EQ(r.field_pointer()->byte, 2);
  // MODE 02h (data) is not SAF-TE's.
  cdb = scsi::read_buffer(0x02, 0x00, 0, 64);
  ASSERT_TRUE(cdb);
  r = h.read(kSafte, *cdb, 64);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.field_pointer()->byte, 1);
  // Unknown command code, a fan that does not exist, a slot list of the wrong size.
  std::vector<std::uint8_t> unknown(16, 0);
  unknown[0] = 0x1f;
  EXPECT_EQ(write_bytes(unknown).sense_code().asc, 0x26);
  EXPECT_EQ(write(safte::SetFanSpeed{5, 1}).sense_code(), (SenseCode{0x05, 0x26, 0x00}));
  safte::WriteSlotStatus w;
  w.slots.resize(3);
  EXPECT_EQ(write(w).sense_code(), (SenseCode{0x05, 0x1a, 0x00}));
  EXPECT_EQ(write(safte::SlotOperation{9, true, false, false}).sense_code().asc, 0x26);
  // A short allocation length cuts the buffer.
  EXPECT_EQ(read(safte::Buffer::EnclosureConfiguration, 6).size(), 6U);
  // An empty SEND DIAGNOSTIC (FreeBSD's ENCIOC_INIT) passes.
  EXPECT_TRUE(
      h.run(kSafte, scsi::send_diagnostic(scsi::PageFormat::Standard, scsi::SelfTest::No, 0))
          .good());
}

TEST_F(SafteEnclosureModel, FaultsShowInTheBuffers) {
  ASSERT_TRUE(h.emu->set_element_status("shelf", EnclosureElement::of(ses::ElementType::Cooling, 0),
                                        {0x02, 0, 0, 0}));
  ASSERT_TRUE(h.emu->set_element_status(
      "shelf", EnclosureElement::of(ses::ElementType::PowerSupply, 1), {0x05, 0, 0, 0}));
  ASSERT_TRUE(
      h.emu->set_sensor("shelf", EnclosureElement::of(ses::ElementType::TemperatureSensor, 1), 71));
  // Temperature sensor index 2 is the thermostat, 3 the enclosure temperature alert.
  ASSERT_TRUE(h.emu->set_element_status(
      "shelf", EnclosureElement::of(ses::ElementType::TemperatureSensor, 2), {0x02, 0, 0, 0}));
  ASSERT_TRUE(h.emu->set_element_status(
      "shelf", EnclosureElement::of(ses::ElementType::ArrayDeviceSlot, 2), {0x03, 0, 0, 0}));
  const auto s = status();
  EXPECT_EQ(s.fans[0], safte::FanStatus::Malfunctioning);
  EXPECT_EQ(s.power_supplies[1], safte::PowerSupplyStatus::NotPresent);
  EXPECT_EQ(safte::temperature_celsius(s.temperatures[1], config.temperature_unit), 71.0);
  EXPECT_TRUE(s.out_of_range(2));  // the thermostat's bit follows the sensors'
  EXPECT_TRUE(slots()[2].array.predicted_fault);
  const auto view = h.emu->enclosure(kSafte);
  ASSERT_TRUE(view);
  EXPECT_NE(view->status_flags & ses::kEnclosureCritical, 0);

  auto bad = h.emu->set_sensor("shelf", EnclosureElement::of(ses::ElementType::Cooling, 0), 100);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errno_value(), EINVAL);
  auto reconfigured = h.emu->reconfigure_enclosure("shelf", {});
  ASSERT_FALSE(reconfigured);
  EXPECT_EQ(reconfigured.error().errno_value(), EOPNOTSUPP);
}

TEST_F(SafteEnclosureModel, DisksArePulledAndInserted) {
  auto pulled = h.emu->pull_disk("shelf", 1);
  ASSERT_TRUE(pulled) << pulled.error().message();
  EXPECT_EQ(*pulled, (LunAddress{0, 1, 0}));
  EXPECT_FALSE(lun_present({0, 1, 0}));
  EXPECT_FALSE(slots()[1].installed);
  ASSERT_TRUE(h.emu->insert_disk("shelf", 3, SlotDevice::disk({0, 1, 0})));
  EXPECT_TRUE(lun_present({0, 1, 0}));
  const auto states = slots();
  EXPECT_TRUE(states[3].installed);
  EXPECT_TRUE(states[3].powered);
  EXPECT_EQ(status().slot_scsi_ids[3], 1);
  auto insertions = safte::parse_device_insertions(read(safte::Buffer::DeviceInsertions), config);
  ASSERT_TRUE(insertions);
  EXPECT_EQ(*insertions, (std::vector<std::uint16_t>{1, 1, 1, 1}));
  EXPECT_EQ(h.emu->enclosure("shelf")->slot(3)->disk, (LunAddress{0, 1, 0}));
}

TEST(SafteScenario, BareSafteLunHasNoElementsButAnswers) {
  Harness h(R"({"buses":[{"targets":[{"id":5,"luns":[{"type":"safte"}]}]}]})");
  ASSERT_TRUE(h.emu);
  const Reply r = h.read({0, 5, 0}, safte::read_cdb(safte::Buffer::EnclosureConfiguration, 64), 64);
  ASSERT_TRUE(r.good());
  auto config = safte::parse_config(r.data);
  ASSERT_TRUE(config);
  EXPECT_EQ(*config, (safte::Config{0, 0, 0, false, 0, false, 0, safte::TemperatureUnit::Celsius}));
  EXPECT_EQ(h.emu->enclosure_names(), (std::vector<std::string>{"0:5:0"}));
}

}  // namespace
}  // namespace ucam::emu::testing
