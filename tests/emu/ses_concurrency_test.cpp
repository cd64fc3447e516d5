// One enclosure, many threads: readers fetch and decode pages through both SES devices, a
// controller sends control pages, and a mutator injects faults, pulls and inserts disks and
// changes the configuration. Meant to run under ThreadSanitizer: every page must decode, and
// pages that carry the configuration's generation code must match it.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "tests/emu/ses_harness.h"

namespace ucam::emu::testing {
namespace {

namespace ses = scsi::ses;

constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":0},{"id":1},{"id":2},{"id":3},{"id":4},{"id":5},{"id":6},{"id":7},
  {"id":20,"luns":[{"type":"ses","enclosure":"shelf","naa":"5acde48000000f01","elements":[
    {"type":"slots","count":8,"descriptor":"Slot {:02}","disks":"auto"},
    {"type":"power_supplies","count":2},
    {"type":"fans","count":4,"rpm":7000},
    {"type":"temperature_sensors","count":2,"celsius":30,
     "thresholds":{"high_critical":60,"high_warning":50}},
    {"type":"esc_electronics","count":2},
    {"type":"sas_expanders","count":1}]}]},
  {"id":21,"luns":[{"type":"ses","enclosure":"shelf","naa":"5acde48000000f02"}]}]}]})";
constexpr LunAddress kSes[] = {{0, 20, 0}, {0, 21, 0}};
constexpr int kReaders = 4;
constexpr int kMinReads = 150;  // per reader
constexpr int kMutations = 300;

// Page bytes, or empty when the command did not succeed (a concurrent configuration change is
// not an error for a reader).
std::vector<std::uint8_t> fetch(Harness& h, const LunAddress& at, std::uint8_t page) {
  const Reply r = receive_page(h, at, page);
  EXPECT_TRUE(r.good()) << "page " << int{page};
  return r.data;
}

TEST(SesConcurrency, PagesStayConsistentWhileFaultsAreInjected) {
  Harness h(kScenario);
  ASSERT_TRUE(h.emu);
  std::atomic<bool> mutating{true};
  std::atomic<int> consistent_reads{0};

  const auto reader = [&](int id) {
    std::mt19937 rng(static_cast<unsigned>(id));
    for (int i = 0; i < kMinReads || mutating.load(); ++i) {
      const LunAddress at = kSes[rng() % 2];
      auto config = ses::parse_ses_config(fetch(h, at, 0x01));
      ASSERT_TRUE(config) << config.error().message();
      auto status = ses::parse_ses_status(fetch(h, at, 0x02), *config);
      ASSERT_TRUE(status) << status.error().message();
      auto descriptors = ses::parse_ses_element_descriptors(fetch(h, at, 0x07), *config);
      ASSERT_TRUE(descriptors) << descriptors.error().message();
      auto additional = ses::parse_ses_additional_status(fetch(h, at, 0x0a), *config);
      ASSERT_TRUE(additional) << additional.error().message();
      if (!status->generation_mismatch) {
        EXPECT_EQ(status->elements.size(), config->element_count());
        EXPECT_TRUE(status->warnings.empty()) << status->warnings.front();
      }
      if (!additional->generation_mismatch) {
        EXPECT_TRUE(additional->warnings.empty()) << additional->warnings.front();
        EXPECT_EQ(additional->descriptors.size(), config->types[0].possible_elements + 2U + 1U);
      }
      if (!status->generation_mismatch && !additional->generation_mismatch) {
        consistent_reads.fetch_add(1);
      }
      const auto view = h.emu->enclosure(at);
      ASSERT_TRUE(view);
      EXPECT_EQ(view->name, "shelf");
    }
  };

  // Locate LEDs on and off through SEND DIAGNOSTIC; a page built from a configuration that
  // changed in between is refused, which is the one acceptable failure.
  const auto controller = [&]() {
    std::mt19937 rng(99);
    for (int i = 0; i < kMinReads || mutating.load(); ++i) {
      const LunAddress at = kSes[rng() % 2];
      auto config = ses::parse_ses_config(fetch(h, at, 0x01));
      ASSERT_TRUE(config);
      auto status = ses::parse_ses_status(fetch(h, at, 0x02), *config);
      ASSERT_TRUE(status);
      if (status->generation_mismatch || config->types[0].possible_elements == 0) {
        continue;
      }
      const int slot = 1 + static_cast<int>(rng() % config->types[0].possible_elements);
      auto control = ses::slot_control(0x01, status->elements[slot], ses::SlotRequest::Ident,
                                       i % 2 == 0 ? ses::Turn::On : ses::Turn::Off);
      ASSERT_TRUE(control);
      const Reply r = send_page(h, at, control_page(*status, {{slot, *control}}));
      if (!r.good()) {
        EXPECT_EQ(r.sense_code(), (SenseCode{0x05, 0x26, 0x00}));
      }
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(kReaders + 1);
  for (int i = 0; i < kReaders; ++i) {
    threads.emplace_back(reader, i);
  }
  threads.emplace_back(controller);

  std::mt19937 rng(7);
  for (int i = 0; i < kMutations; ++i) {
    switch (rng() % 6) {
      case 0:
        EXPECT_TRUE(h.emu->set_sensor("shelf",
                                      EnclosureElement::of(ses::ElementType::TemperatureSensor, 0),
                                      static_cast<std::int32_t>(20 + rng() % 50)));
        break;
      case 1:
        EXPECT_TRUE(h.emu->set_element_status(
            "shelf", EnclosureElement::of(ses::ElementType::PowerSupply, 1),
            {static_cast<std::uint8_t>(1 + rng() % 2), 0, 0, 0x20}));
        break;
      case 2:
        EXPECT_TRUE(h.emu->set_sensor("shelf", EnclosureElement::of(ses::ElementType::Cooling, 2),
                                      static_cast<std::int32_t>(rng() % 10000)));
        break;
      case 3: {
        const int slot = static_cast<int>(rng() % 8);
        const auto view = h.emu->enclosure("shelf");
        ASSERT_TRUE(view);
        if (const auto* s = view->slot(slot); s != nullptr && s->disk) {
          EXPECT_TRUE(h.emu->pull_disk("shelf", slot));
        } else if (s != nullptr) {
          EXPECT_TRUE(h.emu->insert_disk(
              "shelf", slot, SlotDevice::disk({0, static_cast<std::uint32_t>(slot), 0})));
        }
        break;
      }
      case 4:
        EXPECT_TRUE(h.emu->reconfigure_enclosure("shelf", {{{0, 8}}}));  // generation only
        break;
      default:
        EXPECT_TRUE(h.emu->enclosure(kSes[1]));
        break;
    }
  }
  mutating.store(false);
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_GT(consistent_reads.load(), 0);

  // Every disk goes back to its own slot; the final state is what the pages say.
  for (int slot = 0; slot < 8; ++slot) {
    const auto view = h.emu->enclosure("shelf");
    if (!view->slot(slot)->disk) {
      ASSERT_TRUE(h.emu->insert_disk("shelf", slot,
                                     SlotDevice::disk({0, static_cast<std::uint32_t>(slot), 0})));
    }
  }
  const auto config = read_config(h, kSes[0]);
  const auto additional = read_additional(h, kSes[1], config);
  for (int slot = 0; slot < 8; ++slot) {
    const auto* d = additional.find(global_index(config, ses::ElementType::DeviceSlot, slot));
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->sas->phys[0].sas_address,
              target_port_address(h, {0, static_cast<std::uint32_t>(slot), 0}));
  }
}

}  // namespace
}  // namespace ucam::emu::testing
