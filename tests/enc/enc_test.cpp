// The enclosure driver end to end: the stack on the emulated SIM with an emulated SES
// enclosure whose slots hold emulated disks.
#include "periphs/enc/enc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "periphs/pass/pass.h"
#include "scsi/ses.h"
#include "scsi/ses_element.h"
#include "stack/stack.h"
#include "tests/wait.h"

namespace ucam::enc {
namespace {

namespace ses = scsi::ses;
using testing::wait_until;

constexpr const char* kScenario = R"({
  "name": "enc-test",
  "buses": [{
    "max_target": 15,
    "targets": [
      {"id": 0, "sas_address": "5000c50000000100", "luns": [{"type": "disk", "serial": "D0"}]},
      {"id": 1, "sas_address": "5000c50000000101", "luns": [{"type": "disk", "serial": "D1"}]},
      {"id": 2, "sas_address": "5000c50000000102", "luns": [{"type": "disk", "serial": "D2"}]},
      {"id": 8, "sas_address": "5000c50000000108",
       "luns": [{"type": "ses", "vendor": "ACME", "product": "TESTJBOD", "revision": "0001",
                 "naa": "5000c50012345678", "enclosure": "jbod",
                 "elements": {
                   "slots": {"count": 4, "descriptor": "Slot {:02}", "disks": "auto",
                             "targets": [0, 1, 2]},
                   "power_supplies": {"count": 2, "descriptor": ["PSU A", "PSU B"]},
                   "fans": {"count": 2, "rpm": 5000, "descriptor": "Fan {}"},
                   "temperature_sensors": {"count": 1, "celsius": 30, "descriptor": ["Ambient"]}
                 }}]}
    ]
  }]
})";

struct Events {
  std::mutex m;
  std::vector<cam::AsyncEvent> seen;
  std::unique_ptr<cam::Subscription> sub;
  explicit Events(cam::Xpt& xpt) {
    sub =
        xpt.subscribe(cam::kAllAsyncCodes, cam::Path::wildcard(), [this](const cam::AsyncEvent& e) {
          std::lock_guard lock(m);
          seen.push_back(e);
        });
  }
  std::size_t count(cam::AsyncCode code) {
    std::lock_guard lock(m);
    std::size_t n = 0;
    for (const auto& e : seen) {
      n += e.code == code ? 1 : 0;
    }
    return n;
  }
  std::optional<cam::AsyncEvent> find(cam::AsyncCode code, int element) {
    std::lock_guard lock(m);
    for (const auto& e : seen) {
      const auto* payload = e.payload_as<ElementEvent>();
      if (e.code == code && payload != nullptr && payload->element == element) {
        return e;
      }
    }
    return std::nullopt;
  }
};

class EncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scenario = emu::parse_scenario(kScenario, "enc-test");
    ASSERT_TRUE(scenario) << scenario.error().message();
    StackOptions options;
    options.xpt.timer_tick = std::chrono::milliseconds(2);
    options.enc.poll_interval = std::chrono::milliseconds(20);
    auto s = Stack::create_emulated(*scenario, options);
    ASSERT_TRUE(s) << s.error().message();
    stack = std::move(*s);
  }

  std::string physpath(std::uint32_t target) {
    auto info = stack->xpt().device({0, target, 0});
    if (!info) {
      return "<gone>";
    }
    auto it = info->advinfo.find(cam::AdvinfoType::PhysPath);
    return it == info->advinfo.end() ? "" : std::string(it->second.begin(), it->second.end());
  }

  std::shared_ptr<const EncState> state() {
    auto h = stack->devfs().open("ses0");
    if (!h) {
      return nullptr;
    }
    EncGetState get;
    return h->ioctl(get) ? get.state : nullptr;
  }

  // Waits for `condition` on freshly read states.
  template <class F>
  bool wait_state(F condition) {
    return wait_until([&] {
      auto s = state();
      return s && condition(*s);
    });
  }

  std::unique_ptr<Stack> stack;
};

TEST_F(EncTest, AttachesAndCachesTheEnclosureBeforeTheStackSettles) {
  auto s = state();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->configured);
  EXPECT_EQ(s->name, "ACME TESTJBOD 0001");
  EXPECT_EQ(s->logical_id, 0x5000c50012345678ULL);
  ASSERT_GE(s->elements.size(), 5U);
  EXPECT_EQ(s->elements[1].descriptor, "Slot 00");
  EXPECT_EQ(s->elements[1].element_type, 0x01);
  EXPECT_EQ(ses::element_status_name(ses::status_code(s->elements[4].status)), "Not installed");
  EXPECT_EQ(s->elements[1].devices, (std::vector<cam::Path>{{0, 0, 0}}));
  EXPECT_GT(s->commands, 0U);
}

TEST_F(EncTest, PublishesFreeBsdPhysicalPathsOnTheDisksInItsSlots) {
  EXPECT_EQ(physpath(0), "id1,enc@n5000c50012345678/type@0/slot@1/elmdesc@Slot_00");
  EXPECT_EQ(physpath(1), "id1,enc@n5000c50012345678/type@0/slot@2/elmdesc@Slot_01");
  EXPECT_EQ(physpath(2), "id1,enc@n5000c50012345678/type@0/slot@3/elmdesc@Slot_02");
}

TEST_F(EncTest, PhysicalPathFollowsADiskMovedToAnotherSlotAndVanishesWhenPulled) {
  Events events(stack->xpt());
  auto* emu = stack->emulator();
  ASSERT_TRUE(emu->move_disk("jbod", 0, 3));
  ASSERT_TRUE(wait_until([&] {
    return physpath(0) == "id1,enc@n5000c50012345678/type@0/slot@4/elmdesc@Slot_03";
  })) << physpath(0);
  ASSERT_TRUE(emu->pull_disk("jbod", 1));
  ASSERT_TRUE(wait_until([&] { return physpath(1) == "<gone>"; }));
  EXPECT_TRUE(wait_until([&] { return events.count(cam::AsyncCode::AdvinfoChanged) >= 1; }));
  // Put it back in another bay: a new path, on the device as it returns.
  ASSERT_TRUE(emu->insert_disk("jbod", 1, emu::SlotDevice::disk({0, 1, 0})));
  EXPECT_TRUE(wait_until([&] {
    return physpath(1) == "id1,enc@n5000c50012345678/type@0/slot@2/elmdesc@Slot_01";
  })) << physpath(1);
}

TEST_F(EncTest, InjectedStatusChangesRaiseEventsWithinAPoll) {
  Events events(stack->xpt());
  auto* emu = stack->emulator();
  auto psu = ses::ElementBytes{0x02, 0x00, 0x00, 0x40};  // Critical, FAIL.
  ASSERT_TRUE(emu->set_element_status(
      "jbod", emu::EnclosureElement::of(ses::ElementType::PowerSupply, 1), psu));
  // Global index: slots overall 0, slots 1-4, PSU overall 5, PSU 6-7.
  ASSERT_TRUE(
      wait_until([&] { return events.find(cam::AsyncCode::ElementStatusChanged, 7).has_value(); }));
  auto e = *events.find(cam::AsyncCode::ElementStatusChanged, 7);
  ASSERT_NE(e.payload_as<ElementEvent>(), nullptr);
  EXPECT_EQ(e.payload_as<ElementEvent>()->old_status, 1);
  EXPECT_EQ(e.payload_as<ElementEvent>()->new_status, 2);
  ASSERT_TRUE(emu->set_sensor(
      "jbod", emu::EnclosureElement::of(ses::ElementType::TemperatureSensor, 0), 61));
  EXPECT_TRUE(wait_state([](const EncState& s) {
    for (const auto& el : s.elements) {
      if (el.element_type == 0x04 && el.index_in_type == 0) {
        return ses::decode_temperature_status(el.status).temperature_c == 61;
      }
    }
    return false;
  }));
}

TEST_F(EncTest, LocateAndFaultRequestsChangeTheSlotAndReadBack) {
  auto h = stack->devfs().open("ses0");
  ASSERT_TRUE(h);
  auto s = state();
  const auto& slot = s->elements[2];
  auto control =
      ses::slot_control(slot.element_type, slot.status, ses::SlotRequest::Ident, ses::Turn::On);
  ASSERT_TRUE(control);
  EncSetElementStatus set;
  set.index = 2;
  set.control = *control;
  set.generation = s->generation;
  ASSERT_TRUE(h->ioctl(set));
  EncRefresh refresh;
  ASSERT_TRUE(h->ioctl(refresh));
  EXPECT_TRUE(ses::decode_slot_status(0x01, state()->elements[2].status).ident);
  auto view = stack->emulator()->enclosure("jbod");
  ASSERT_TRUE(view);
}

// A control page sent by someone else through the enclosure's pass node (sg_ses through sg
// works the same way) makes the daemon re-read at once (ScsiAen), though its poll is an hour
// away; a RECEIVE DIAGNOSTIC through the node changes nothing and posts nothing.
TEST(EncPassthrough, AControlSentThroughThePassNodeIsSeenWithoutWaitingForThePoll) {
  auto scenario = emu::parse_scenario(kScenario, "enc-test");
  ASSERT_TRUE(scenario) << scenario.error().message();
  StackOptions options;
  options.enc.poll_interval = std::chrono::hours(1);
  auto created = Stack::create_emulated(*scenario, options);
  ASSERT_TRUE(created) << created.error().message();
  auto& stack = **created;
  Events events(stack.xpt());
  std::string pass;
  for (const auto& p : stack.periphs().periphs()) {
    if (p.path == cam::Path{0, 8, 0} && p.name.starts_with("pass")) {
      pass = p.name;
    }
  }
  ASSERT_FALSE(pass.empty());
  auto node = stack.devfs().open(pass);
  ASSERT_TRUE(node);
  const auto receive = [&](std::uint8_t page) {
    std::vector<std::uint8_t> data(4096);
    pass::PassCommand cmd;
    cmd.cdb = {0x1c, 0x01, page, 0x10, 0x00, 0x00};
    cmd.dir = cam::DataDir::In;
    cmd.data = data;
    EXPECT_TRUE(node->ioctl(cmd));
    EXPECT_EQ(cmd.status, CamStatus::ReqCmp);
    data.resize(data.size() - cmd.resid);
    return data;
  };
  auto config = ses::parse_ses_config(receive(0x01));
  ASSERT_TRUE(config) << config.error().message();
  auto status = ses::parse_ses_status(receive(0x02), *config);
  ASSERT_TRUE(status) << status.error().message();
  EXPECT_EQ(events.count(cam::AsyncCode::ScsiAen), 0U);

  // Global index 2: the second slot.
  auto ident = ses::slot_control(0x01, status->elements[2], ses::SlotRequest::Ident, ses::Turn::On);
  ASSERT_TRUE(ident);
  const std::vector<ses::ElementChange> changes{{2, *ident}};
  auto page = ses::encode_ses_control(*status, status->generation, 0, changes);
  ASSERT_TRUE(page) << page.error().message();
  pass::PassCommand send;
  send.cdb = {0x1d,
              0x10,
              0x00,
              static_cast<std::uint8_t>(page->size() >> 8),
              static_cast<std::uint8_t>(page->size()),
              0x00};
  send.dir = cam::DataDir::Out;
  send.data = *page;
  ASSERT_TRUE(node->ioctl(send));
  ASSERT_EQ(send.status, CamStatus::ReqCmp);

  auto ses0 = stack.devfs().open("ses0");
  ASSERT_TRUE(ses0);
  EXPECT_TRUE(wait_until([&] {
    EncGetState get;
    return ses0->ioctl(get) && get.state->elements.size() > 2 &&
           ses::decode_slot_status(0x01, get.state->elements[2].status).ident;
  }));
  EXPECT_EQ(events.count(cam::AsyncCode::ScsiAen), 1U);
}

TEST_F(EncTest, ASetNamingAStaleGenerationIsRefused) {
  auto h = stack->devfs().open("ses0");
  ASSERT_TRUE(h);
  auto s = state();
  ASSERT_TRUE(stack->emulator()->reconfigure_enclosure("jbod", {{{1, 3}}}));  // 3 PSUs now.
  ASSERT_TRUE(wait_state([&](const EncState& now) { return now.generation != s->generation; }));
  EncSetElementStatus set;
  set.index = 2;
  set.control =
      *ses::slot_control(0x01, s->elements[2].status, ses::SlotRequest::Fault, ses::Turn::On);
  set.generation = s->generation;
  auto r = h->ioctl(set);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), ESTALE);
  EXPECT_EQ(state()->elements.size(), s->elements.size() + 1);
}

// What a refresh may skip, and what makes it redo it. The daemon never polls by itself here:
// every read is an EncRefresh.
class EncRefreshCache : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scenario = emu::parse_scenario(kScenario, "enc-cache");
    ASSERT_TRUE(scenario) << scenario.error().message();
    StackOptions options;
    options.xpt.timer_tick = std::chrono::milliseconds(2);
    options.enc.poll_interval = std::chrono::hours(1);
    auto s = Stack::create_emulated(*scenario, options);
    ASSERT_TRUE(s) << s.error().message();
    stack = std::move(*s);
    auto h = stack->devfs().open("ses0");
    ASSERT_TRUE(h);
    node = std::move(*h);
  }

  // Refreshes and returns the state it published.
  std::shared_ptr<const EncState> refresh() {
    EncRefresh r;
    EXPECT_TRUE(node->ioctl(r));
    EncGetState get;
    EXPECT_TRUE(node->ioctl(get));
    return get.state;
  }

  std::unique_ptr<Stack> stack;
  std::optional<devfs::FileHandle> node;
};

// Element descriptors (page 0x07) belong to the configuration: a refresh reads the status and
// additional element status pages only, until the generation code moves; then the
// configuration and the descriptors are read again, and the new elements have theirs.
TEST_F(EncRefreshCache, DescriptorsAreReadOncePerConfigurationAndAgainWhenItsGenerationMoves) {
  auto before = refresh();
  auto after = refresh();
  EXPECT_EQ(after->commands - before->commands, 2U);  // Pages 0x02 and 0x0a.
  ASSERT_EQ(after->elements.size(), 13U);             // 1+4 slots, 1+2 PSUs, 1+2 fans, 1+1 sensor.

  ASSERT_TRUE(stack->emulator()->reconfigure_enclosure("jbod", {{{0, 6}}}));  // 6 slots now.
  auto moved = refresh();
  EXPECT_NE(moved->generation, after->generation);
  ASSERT_EQ(moved->elements.size(), 15U);
  EXPECT_EQ(moved->elements[5].descriptor, "Slot 04");
  EXPECT_EQ(moved->elements[6].descriptor, "Slot 05");
  EXPECT_EQ(moved->elements[8].descriptor, "PSU A");  // Moved down by two.
  // Status (which found the new generation code), configuration, status, descriptors,
  // additional element status.
  EXPECT_EQ(moved->commands - after->commands, 5U);
  auto again = refresh();
  EXPECT_EQ(again->commands - moved->commands, 2U);
  EXPECT_EQ(again->elements[6].descriptor, "Slot 05");
}

// A published state is never changed: the next one has a new element where the status moved and
// shares every other element with the state before it.
TEST_F(EncRefreshCache, AChangedElementIsNewInTheNextStateAndTheOthersAreShared) {
  auto before = refresh();
  const auto old_status = before->elements[7].status;
  auto psu = ses::ElementBytes{0x02, 0x00, 0x00, 0x40};  // Critical, FAIL.
  ASSERT_TRUE(stack->emulator()->set_element_status(
      "jbod", emu::EnclosureElement::of(ses::ElementType::PowerSupply, 1), psu));
  auto after = refresh();
  ASSERT_EQ(after->elements.size(), before->elements.size());
  EXPECT_EQ(ses::status_code(after->elements[7].status), 2);
  EXPECT_EQ(before->elements[7].status, old_status);  // The old state still shows the old one.
  for (std::size_t i = 0; i < after->elements.size(); ++i) {
    EXPECT_EQ(after->elements.same_element(before->elements, i), i != 7) << i;
  }
  // Nothing changed: every element is shared, the slots' disks and paths included.
  auto same = refresh();
  EXPECT_GT(same->refresh, after->refresh);
  for (std::size_t i = 0; i < same->elements.size(); ++i) {
    EXPECT_TRUE(same->elements.same_element(after->elements, i)) << i;
  }
  EXPECT_EQ(same->elements[1].devices, (std::vector<cam::Path>{{0, 0, 0}}));
  EXPECT_EQ(same->elements[1].physical_path,
            "id1,enc@n5000c50012345678/type@0/slot@1/elmdesc@Slot_00");
}

// A disk that arrives changes the XPT's device table: the next refresh matches the slots again
// (the match is skipped only while the table and the slots' addresses stay the same).
TEST_F(EncRefreshCache, ADiskInsertedIntoAnEmptySlotIsMatchedOnTheNextRefresh) {
  auto before = refresh();
  EXPECT_TRUE(before->elements[4].devices.empty());  // Slot 3 is empty.
  ASSERT_TRUE(stack->emulator()->pull_disk("jbod", 2));
  ASSERT_TRUE(wait_until([&] { return !stack->xpt().device({0, 2, 0}); }));
  ASSERT_TRUE(stack->emulator()->insert_disk("jbod", 3, emu::SlotDevice::disk({0, 2, 0})));
  ASSERT_TRUE(wait_until([&] { return stack->xpt().device({0, 2, 0}).has_value(); }));
  EXPECT_TRUE(wait_until([&] {
    auto s = refresh();
    return s->elements[4].devices == std::vector<cam::Path>{{0, 2, 0}} &&
           s->elements[3].devices.empty();
  }));
  auto info = stack->xpt().device({0, 2, 0});
  ASSERT_TRUE(info);
  const auto& path = info->advinfo.at(cam::AdvinfoType::PhysPath);
  EXPECT_EQ(std::string(path.begin(), path.end()),
            "id1,enc@n5000c50012345678/type@0/slot@4/elmdesc@Slot_03");
}

TEST_F(EncTest, DeviceNamesPerElementAndEnodevForEmptySlots) {
  auto h = stack->devfs().open("ses0");
  ASSERT_TRUE(h);
  EncGetElementDevnames names;
  names.index = 1;
  ASSERT_TRUE(h->ioctl(names));
  EXPECT_EQ(names.names, "pass0,da0,sg0");  // Every periph of the disk, FreeBSD style.
  names.index = 4;
  auto r = h->ioctl(names);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), ENODEV);
}

TEST_F(EncTest, EnclosureRemovedClearsItsPathsAndItsPeriphIsFreed) {
  auto open = stack->devfs().open("ses0");
  ASSERT_TRUE(open);
  ASSERT_TRUE(stack->emulator()->remove_enclosure("jbod"));
  EXPECT_TRUE(wait_until([&] { return physpath(0).empty() && physpath(1).empty(); }))
      << physpath(0);
  // The node goes (asynchronously): new opens fail, and calls on the open handle get ENXIO.
  ASSERT_TRUE(wait_until([&] { return !stack->devfs().open("ses0").has_value(); }));
  EncGetState get;
  auto r = open->ioctl(get);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), ENXIO);
  EXPECT_TRUE(open->close());
  // Only the pass periphs of the four devices that remain... the enclosure's are freed.
  EXPECT_TRUE(wait_until([&] {
    for (const auto& p : stack->periphs().periphs()) {
      if (p.name.starts_with("ses")) {
        return false;
      }
    }
    return true;
  }));
  EXPECT_EQ(stack->periphs().stats().underflows, 0U);
}

// One enclosure served by two SES devices (two enclosure service processes): one physical path
// per disk, and the disk keeps a path when one of the two goes away.
// String In runs on the caller's thread, beside the enclosure's daemon, which polls every
// 20 ms here: each read must get a buffer of its own (under TSan, a shared one is a race).
TEST_F(EncTest, StringInFromManyThreadsWhileTheDaemonPolls) {
  {
    auto h = stack->devfs().open("ses0");
    ASSERT_TRUE(h);
    EncString set(EncString::kSet);
    set.data = {'u', 'c', 'a', 'm'};
    ASSERT_TRUE(h->ioctl(set));
  }
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto h = stack->devfs().open("ses0");
      if (!h) {
        return;
      }
      for (int i = 0; i < 40; ++i) {
        EncString get(EncString::kGet);
        if (h->ioctl(get) && get.data.size() >= 8 && get.data[0] == 0x04 &&
            std::string(get.data.begin() + 4, get.data.begin() + 8) == "ucam") {
          ++good;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(good.load(), 4 * 40);
}

TEST(EncTwoProcesses, OneEnclosureThroughTwoSesDevicesGivesOnePathPerDisk) {
  std::string text = kScenario;
  const std::string second =
      R"({"id": 9, "sas_address": "5000c50000000109",
          "luns": [{"type": "ses", "naa": "5000c50012345699", "enclosure": "jbod"}]},)";
  text.insert(text.find(R"({"id": 8)"), second);
  auto scenario = emu::parse_scenario(text, "enc-two");
  ASSERT_TRUE(scenario) << scenario.error().message();
  StackOptions options;
  options.xpt.timer_tick = std::chrono::milliseconds(2);
  options.enc.poll_interval = std::chrono::milliseconds(20);
  auto stack = Stack::create_emulated(*scenario, options);
  ASSERT_TRUE(stack) << stack.error().message();
  auto& st = **stack;
  auto path_of = [&](std::uint32_t target) {
    auto info = st.xpt().device({0, target, 0});
    if (!info || info->advinfo.count(cam::AdvinfoType::PhysPath) == 0) {
      return std::string();
    }
    const auto& v = info->advinfo.at(cam::AdvinfoType::PhysPath);
    return std::string(v.begin(), v.end());
  };
  Events events(st.xpt());
  EXPECT_TRUE(st.devfs().open("ses0"));
  EXPECT_TRUE(st.devfs().open("ses1"));
  EXPECT_EQ(path_of(0), "id1,enc@n5000c50012345678/type@0/slot@1/elmdesc@Slot_00");
  // Both daemons keep refreshing; the path never flips between their two ids.
  auto h = st.devfs().open("ses1");
  ASSERT_TRUE(h);
  for (int i = 0; i < 5; ++i) {
    EncRefresh refresh;
    ASSERT_TRUE(h->ioctl(refresh));
  }
  EXPECT_EQ(events.count(cam::AsyncCode::AdvinfoChanged), 0U);
  // The first process leaves: the other one carries on under its own id.
  ASSERT_TRUE(st.emulator()->remove_lun({0, 8, 0}));
  EXPECT_TRUE(wait_until([&] {
    return path_of(0) == "id1,enc@n5000c50012345699/type@0/slot@1/elmdesc@Slot_00";
  })) << path_of(0);
}

// Every call that waits on the enclosure (its daemon, or a command of its own) ends as soon as
// its CancelToken fires, as an aborted command does, and leaves no reference behind: ucamd
// cancels the token of a client that hung up inside one. The enclosure hangs every command,
// so without the token each call would wait for a 30-60 s timeout.
TEST(EncCancel, WaitsOnAHungEnclosureEndWhenTheirTokenIsCancelled) {
  auto scenario = emu::parse_scenario(kScenario, "enc-cancel");
  ASSERT_TRUE(scenario) << scenario.error().message();
  StackOptions options;
  options.xpt.timer_tick = std::chrono::milliseconds(2);
  options.enc.poll_interval = std::chrono::hours(1);  // The daemon moves only when asked.
  auto created = Stack::create_emulated(*scenario, options);
  ASSERT_TRUE(created) << created.error().message();
  auto& st = **created;
  auto refcount = [&] {
    for (const auto& p : st.periphs().periphs()) {
      if (p.name == "ses0") {
        return p.refcount;
      }
    }
    return 0U;
  };
  const auto start = refcount();
  ASSERT_GT(start, 0U);
  emu::Fault hang;
  hang.action = emu::Fault::Action::Hang;
  hang.count = emu::Fault::kEveryCommand;
  ASSERT_TRUE(st.emulator()->inject({0, 8, 0}, hang).has_value());
  const auto slot_status = [&] {
    auto h = st.devfs().open("ses0");
    EncGetState get;
    return h && h->ioctl(get) ? get.state->elements[2].status : std::array<std::uint8_t, 4>{};
  }();
  struct Call {
    const char* what;
    std::function<Result<void>(devfs::FileHandle&, cam::CancelToken&)> run;
  };
  const std::vector<Call> calls = {
      // First: the daemon takes it and its SEND DIAGNOSTIC hangs; the daemon stays stuck in it,
      // so the later controls and the refresh wait in its queue.
      {"set element",
       [&](devfs::FileHandle& h, cam::CancelToken& token) {
         EncSetElementStatus set;
         set.index = 2;
         set.control =
             *ses::slot_control(0x01, slot_status, ses::SlotRequest::Ident, ses::Turn::On);
         set.cancel = &token;
         return h.ioctl(set);
       }},
      {"set enclosure status",
       [](devfs::FileHandle& h, cam::CancelToken& token) {
         EncSetEnclosureStatus set;
         set.flags = 1;
         set.cancel = &token;
         return h.ioctl(set);
       }},
      {"refresh",
       [](devfs::FileHandle& h, cam::CancelToken& token) {
         EncRefresh refresh;
         refresh.cancel = &token;
         return h.ioctl(refresh);
       }},
      {"String In",
       [](devfs::FileHandle& h, cam::CancelToken& token) {
         EncString get(EncString::kGet);
         get.cancel = &token;
         return h.ioctl(get);
       }},
      {"String Out",
       [](devfs::FileHandle& h, cam::CancelToken& token) {
         EncString set(EncString::kSet);
         set.data = {'h', 'i'};
         set.cancel = &token;
         return h.ioctl(set);
       }},
  };
  for (const auto& call : calls) {
    SCOPED_TRACE(call.what);
    auto h = st.devfs().open("ses0");
    ASSERT_TRUE(h);
    cam::CancelToken token;
    Result<void> result;
    std::atomic<bool> returned{false};
    const auto outstanding = st.xpt().stats().ccbs_outstanding;
    std::thread caller([&] {
      result = call.run(*h, token);
      returned = true;
    });
    if (call.what == std::string("set element") || call.what == std::string("String In") ||
        call.what == std::string("String Out")) {
      // A command of its own (or of the daemon, for it) is hung on the enclosure.
      EXPECT_TRUE(wait_until([&] { return st.xpt().stats().ccbs_outstanding == outstanding + 1; }));
    }
    EXPECT_FALSE(returned);
    token.cancel();
    const bool prompt = wait_until([&] { return returned.load(); }, std::chrono::seconds(5));
    EXPECT_TRUE(prompt) << "still waiting 5 s after the cancel";
    caller.join();
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().cam_status(), CamStatus::ReqAborted) << result.error().message();
    EXPECT_TRUE(h->close());
  }
  EXPECT_EQ(refcount(), start);
  EXPECT_EQ(st.periphs().stats().underflows, 0U);
}

}  // namespace
}  // namespace ucam::enc
