// The enclosure events' payload travels through the XPT untouched: cam::AsyncEvent carries the
// enc driver's ElementEvent without knowing it, events without a payload stay without one, and
// a subscriber that asks for ElementEvent gets nullptr from another driver's payload.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "cam/xpt.h"
#include "periphs/enc/enc.h"

namespace ucam::enc {
namespace {

// Some other driver's payload.
struct OtherPayload final : cam::AsyncPayload {
  int value = 7;
};

class EventPayload : public ::testing::Test {
 protected:
  void SetUp() override {
    xpt = cam::Xpt::create();
    sub = xpt->subscribe(cam::kAllAsyncCodes, cam::Path::wildcard(),
                         [this](const cam::AsyncEvent& e) {
                           std::lock_guard lock(m);
                           seen.push_back(e);
                         });
  }
  // Posts `event` and returns it as the subscriber got it (drain() waits for the delivery).
  cam::AsyncEvent round_trip(const cam::AsyncEvent& event) {
    xpt->post_async(event);
    xpt->drain();
    std::lock_guard lock(m);
    EXPECT_EQ(seen.size(), 1U);
    return seen.empty() ? cam::AsyncEvent{} : seen.back();
  }
  void TearDown() override {
    sub.reset();
    xpt.reset();
  }

  std::unique_ptr<cam::Xpt> xpt;
  std::unique_ptr<cam::Subscription> sub;
  std::mutex m;
  std::vector<cam::AsyncEvent> seen;  // Guarded by m.
};

TEST_F(EventPayload, AnEventWithoutPayloadArrivesWithoutOne) {
  const auto got = round_trip({cam::AsyncCode::BusReset, {0, 1, 2}});
  EXPECT_EQ(got.code, cam::AsyncCode::BusReset);
  EXPECT_EQ(got.path, (cam::Path{0, 1, 2}));
  EXPECT_EQ(got.payload, nullptr);
  EXPECT_EQ(got.payload_as<ElementEvent>(), nullptr);
}

TEST_F(EventPayload, AnElementEventArrivesAsPostedAndShared) {
  cam::AsyncEvent event{cam::AsyncCode::ElementStatusChanged, {0, 3, 0}};
  auto payload = std::make_shared<const ElementEvent>(7, 1, 2);
  event.payload = payload;
  const auto got = round_trip(event);
  EXPECT_EQ(got.code, cam::AsyncCode::ElementStatusChanged);
  const auto* element = got.payload_as<ElementEvent>();
  ASSERT_NE(element, nullptr);
  EXPECT_EQ(element, payload.get());  // Carried, not copied.
  EXPECT_EQ(element->element, 7);
  EXPECT_EQ(element->old_status, 1);
  EXPECT_EQ(element->new_status, 2);
}

TEST_F(EventPayload, AnotherDriversPayloadIsNotAnElementEvent) {
  cam::AsyncEvent event{cam::AsyncCode::ElementStatusChanged, {0, 3, 0}};
  event.payload = std::make_shared<const OtherPayload>();
  const auto got = round_trip(event);
  EXPECT_EQ(got.payload_as<ElementEvent>(), nullptr);
  ASSERT_NE(got.payload_as<OtherPayload>(), nullptr);
  EXPECT_EQ(got.payload_as<OtherPayload>()->value, 7);
}

}  // namespace
}  // namespace ucam::enc
