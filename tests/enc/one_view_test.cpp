// One enclosure, one view: builtin:jbod-24 is one enclosure seen through two SES devices (ESM A
// at 0:100:0, ESM B at 0:101:0). What one of them changes or sees, the other shows at once, not
// at its next poll (60 s here, the default), and when one fails the other still reads and
// controls the enclosure, and the failed one shows what the other reads.
#include <gtest/gtest.h>

#include "periphs/enc/enc.h"
#include "scsi/ses.h"
#include "scsi/ses_element.h"
#include "stack/stack.h"
#include "tests/wait.h"

namespace ucam::enc {
namespace {

namespace ses = scsi::ses;
using testing::wait_until;

// "Within 2 s": a deadline for the condition, not a measurement.
constexpr std::chrono::milliseconds kOneView{2000};
constexpr emu::LunAddress kEsmA{0, 100, 0};

class OneView : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scenario = load_scenario("builtin:jbod-24");
    ASSERT_TRUE(scenario) << scenario.error().message();
    StackOptions options;
    options.enc.poll_interval = std::chrono::minutes(10);  // No poll comes to the rescue.
    auto s = Stack::create_emulated(*scenario, options);
    ASSERT_TRUE(s) << s.error().message();
    stack = std::move(*s);
    esm_a = ses_node({0, 100, 0});
    esm_b = ses_node({0, 101, 0});
    ASSERT_FALSE(esm_a.empty());
    ASSERT_FALSE(esm_b.empty());
    auto st = state(esm_a);
    ASSERT_TRUE(st);
    for (const auto& e : st->elements) {
      if (ses::is_slot_type(e.element_type) &&
          ses::element_descriptor_text(e.descriptor) == "Slot 07") {
        slot07 = e.index;
      }
    }
    ASSERT_GE(slot07, 0);
  }

  std::string ses_node(const cam::Path& path) {
    for (const auto& name : stack->periphs().names_for(path)) {
      if (name.starts_with("ses")) {
        return name;
      }
    }
    return "";
  }

  std::shared_ptr<const EncState> state(const std::string& node) {
    auto h = stack->devfs().open(node);
    if (!h) {
      return nullptr;
    }
    EncGetState get;
    return h->ioctl(get) ? get.state : nullptr;
  }

  std::optional<bool> ident(const std::string& node, int element) {
    auto s = state(node);
    if (!s || static_cast<std::size_t>(element) >= s->elements.size()) {
      return std::nullopt;
    }
    const auto& e = s->elements[static_cast<std::size_t>(element)];
    return ses::decode_slot_status(e.element_type, e.status).ident;
  }

  // SETELMSTAT through `node`: the slot's IDENT on or off.
  Result<void> locate(const std::string& node, int element, bool on) {
    auto s = state(node);
    if (!s) {
      return fail_errno(ENXIO, node);
    }
    const auto& e = s->elements[static_cast<std::size_t>(element)];
    auto control = ses::slot_control(e.element_type, e.status, ses::SlotRequest::Ident,
                                     on ? ses::Turn::On : ses::Turn::Off);
    if (!control) {
      return fail(control.error());
    }
    auto h = stack->devfs().open(node, devfs::kOpenRead | devfs::kOpenWrite);
    if (!h) {
      return fail(h.error());
    }
    EncSetElementStatus set;
    set.index = element;
    set.control = *control;
    return h->ioctl(set);
  }

  bool every_path_shows(int element, bool on) {
    return wait_until([&] { return ident(esm_a, element) == on && ident(esm_b, element) == on; },
                      kOneView);
  }

  std::unique_ptr<Stack> stack;
  std::string esm_a, esm_b;
  int slot07 = -1;
};

TEST_F(OneView, AControlThroughOnePathIsSeenThroughEveryPathAtOnce) {
  ASSERT_EQ(ident(esm_b, slot07), false);
  ASSERT_TRUE(locate(esm_a, slot07, true));
  EXPECT_TRUE(every_path_shows(slot07, true));
  ASSERT_TRUE(locate(esm_b, slot07, false));
  EXPECT_TRUE(every_path_shows(slot07, false));
}

// A change the enclosure makes by itself, seen by one path's read, reaches the other path too.
TEST_F(OneView, AChangeOnePathReadsIsReadThroughTheOthers) {
  auto* emu = stack->emulator();
  ASSERT_NE(emu, nullptr);
  const auto psu_b = emu::EnclosureElement::of(ses::ElementType::PowerSupply, 1);
  ASSERT_TRUE(emu->set_element_status("jbod24", psu_b, {0x02, 0x00, 0x00, 0x41}));  // Critical
  auto h = stack->devfs().open(esm_a);
  ASSERT_TRUE(h);
  EncRefresh refresh;
  ASSERT_TRUE(h->ioctl(refresh));
  auto critical = [&](const std::string& node) {
    auto s = state(node);
    if (!s) {
      return false;
    }
    for (const auto& e : s->elements) {
      if (e.element_type == 0x02 && e.index_in_type == 1) {
        return ses::status_code(e.status) == 2;
      }
    }
    return false;
  };
  EXPECT_TRUE(critical(esm_a));
  EXPECT_TRUE(wait_until([&] { return critical(esm_b); }, kOneView));
}

// ESM A's LUN fails every command: the enclosure is still controlled through ESM B, and ESM A
// shows ESM B's reading of it, saying so.
TEST_F(OneView, WhenOnePathFailsTheOtherControlsAndBothShowTheChange) {
  auto* emu = stack->emulator();
  ASSERT_NE(emu, nullptr);
  ASSERT_TRUE(emu->inject(
      kEsmA, emu::Fault::check_condition({0x04, 0x44, 0x00}, emu::Fault::kEveryCommand)));
  auto through_a = locate(esm_a, slot07, true);
  ASSERT_FALSE(through_a);
  EXPECT_EQ(through_a.error().errno_value(), EIO);

  ASSERT_TRUE(locate(esm_b, slot07, true));
  EXPECT_TRUE(every_path_shows(slot07, true));
  auto a = state(esm_a);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->path_error.empty());
  EXPECT_EQ(a->status_via, esm_b);
  auto b = state(esm_b);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->path_error, "");
  EXPECT_EQ(b->status_via, "");

  // Back to health: ESM A shows its own reading again.
  ASSERT_TRUE(emu->clear_faults(kEsmA));
  ASSERT_TRUE(locate(esm_a, slot07, false));
  EXPECT_TRUE(every_path_shows(slot07, false));
  EXPECT_TRUE(wait_until(
      [&] {
        auto s = state(esm_a);
        return s && s->path_error.empty() && s->status_via.empty();
      },
      kOneView));
}

}  // namespace
}  // namespace ucam::enc
