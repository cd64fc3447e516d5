// The ch driver on the emulated changer: which devices it takes, paged READ ELEMENT STATUS on a
// 1,000-slot library, moves, exchanges and positions seen by the next status, the sense of a
// refused move, parameters and picker, drive-to-device links, read-only opens, and departure.
#include "periphs/ch/ch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cam/cancel.h"
#include "cam/periph.h"
#include "devfs/devfs.h"
#include "sims/emu/models/tape.h"
#include "stack/stack.h"
#include "tests/errno_of.h"

namespace ucam::ch {
namespace {

using testing::errno_of;
namespace smc = scsi::smc;

std::unique_ptr<Stack> stack_for(std::string_view spec) {
  auto scenario =
      spec.starts_with("{") ? emu::parse_scenario(spec, "ch.json") : load_scenario(spec);
  EXPECT_TRUE(scenario.has_value()) << scenario.error().message();
  auto s = Stack::create_emulated(*scenario, {});
  EXPECT_TRUE(s.has_value()) << s.error().message();
  return std::move(*s);
}

std::unique_ptr<Stack> library() {
  return stack_for("builtin:library-1000");
}

Result<std::vector<ChElementStatus>> status(devfs::FileHandle& h,
                                            ElementType type = ElementType::All,
                                            std::uint32_t* reads = nullptr,
                                            std::uint32_t allocation = kStatusAllocation) {
  ChGetElementStatus g;
  g.type = type;
  g.allocation = allocation;
  if (auto r = h.ioctl(g); !r) {
    return fail(r.error());
  }
  if (reads != nullptr) {
    *reads = g.reads;
  }
  return std::move(g.elements);
}

const ChElementStatus& element(const std::vector<ChElementStatus>& all, ElementType type,
                               std::uint16_t unit) {
  auto it = std::find_if(all.begin(), all.end(), [&](const ChElementStatus& e) {
    return e.element.type == type && e.element.unit == unit;
  });
  EXPECT_NE(it, all.end());
  return *it;
}

std::string tag(const ChElementStatus& e) {
  return e.primary_tag ? e.primary_tag->identifier : "<none>";
}

Result<void> move(devfs::FileHandle& h, ChElement from, ChElement to) {
  ChMove m;
  m.from = from;
  m.to = to;
  return h.ioctl(m);
}

TEST(ChDriver, AttachesToTheChangerOnly) {
  auto stack = library();
  EXPECT_EQ(stack->periphs().names_for({0, 0, 0}),
            (std::vector<std::string>{"pass0", "ch0", "sg0"}));
  EXPECT_EQ(*stack->resolve_ch("pass0"), "ch0");
  auto disks = stack_for(R"({"buses":[{"targets":[{}]}]})");
  for (const auto& n : disks->devfs().names()) {
    EXPECT_FALSE(n.starts_with("ch")) << n;
  }
}

TEST(ChDriver, ParamsComeFromModePages1DhAnd1Fh) {
  auto stack = library();
  auto h = stack->devfs().open("ch0", devfs::kOpenRead);
  ASSERT_TRUE(h.has_value()) << h.error().message();
  ChGetParams p;
  ASSERT_TRUE(h->ioctl(p));
  EXPECT_EQ(p.count(ElementType::MediumTransport), 1);
  EXPECT_EQ(p.count(ElementType::Storage), 1000);
  EXPECT_EQ(p.count(ElementType::ImportExport), 10);
  EXPECT_EQ(p.count(ElementType::DataTransfer), 4);
  EXPECT_EQ(p.assignment.storage.first, 0x1000);
  EXPECT_TRUE(p.capabilities.can_move(ElementType::Storage, ElementType::DataTransfer));
  EXPECT_EQ(p.picker, 0);
}

TEST(ChDriver, StatusPagesThroughAllThousandSlotsWithBoundedReads) {
  auto stack = library();
  auto h = stack->devfs().open("ch0", devfs::kOpenRead);
  ASSERT_TRUE(h.has_value());
  std::uint32_t reads = 0;
  auto whole = status(*h, ElementType::Storage, &reads);
  ASSERT_TRUE(whole.has_value()) << whole.error().message();
  EXPECT_EQ(whole->size(), 1000U);
  EXPECT_EQ(reads, 1U);  // 1,000 descriptors of 48 bytes fit in one 64 KiB read.
  // With 4 KiB reads the driver pages: 85 descriptors per read.
  auto slots = status(*h, ElementType::Storage, &reads, 4096);
  ASSERT_TRUE(slots.has_value()) << slots.error().message();
  ASSERT_EQ(slots->size(), 1000U);
  EXPECT_EQ(reads, 12U);
  std::set<std::string> tags;
  for (std::uint16_t i = 0; i < 1000; ++i) {
    const auto& e = (*slots)[i];
    EXPECT_EQ(e.element.type, ElementType::Storage);
    EXPECT_EQ(e.element.unit, i);
    EXPECT_EQ(e.element.address, 0x1000 + i);
    EXPECT_EQ(e.full, i < 900) << i;
    if (e.full) {
      tags.insert(tag(e));
    }
  }
  EXPECT_EQ(tags.size(), 900U);
  EXPECT_EQ(tag((*slots)[0]), "UCAM001L6");
  EXPECT_EQ(tag((*slots)[899]), "UCAM900L6");

  auto all = status(*h);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 1U + 1000U + 10U + 4U);
  EXPECT_EQ(all->front().element.type, ElementType::MediumTransport);
  EXPECT_EQ(all->back().element.type, ElementType::DataTransfer);
  // The drives are the emulated tape LUNs at targets 1-4: their NAA is the DVCID identifier.
  for (std::uint16_t unit = 0; unit < 4; ++unit) {
    const auto& drive = element(*all, ElementType::DataTransfer, unit);
    ASSERT_TRUE(drive.identifier.has_value());
    EXPECT_EQ(drive.identifier->identifier_type, 3);  // NAA.
    EXPECT_EQ(drive.identifier->identifier.size(), 8U);
    const std::vector<std::string> tape =
        stack->periphs().names_for({0, static_cast<std::uint32_t>(unit + 1), 0});
    EXPECT_FALSE(tape.empty());
    EXPECT_EQ(drive.devices, tape) << unit;
  }
}

TEST(ChDriver, StatusOfARangeOfUnits) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  ChGetElementStatus g;
  g.type = ElementType::Storage;
  g.first = 895;
  g.count = 10;
  ASSERT_TRUE(h->ioctl(g));
  ASSERT_EQ(g.elements.size(), 10U);
  EXPECT_EQ(g.elements[0].element.unit, 895);
  EXPECT_TRUE(g.elements[4].full);
  EXPECT_FALSE(g.elements[5].full);
  g.first = 1000;
  EXPECT_EQ(errno_of(h->ioctl(g)), ENODEV);
}

TEST(ChDriver, MoveExchangeAndPositionShowInTheNextStatus) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(move(*h, ChElement::at(ElementType::Storage, 12),
                   ChElement::at(ElementType::DataTransfer, 0)));
  auto s = status(*h);
  ASSERT_TRUE(s.has_value());
  const auto& drive = element(*s, ElementType::DataTransfer, 0);
  EXPECT_TRUE(drive.full);
  EXPECT_EQ(tag(drive), "UCAM013L6");
  ASSERT_TRUE(drive.source.has_value());
  EXPECT_EQ(drive.source->type, ElementType::Storage);
  EXPECT_EQ(drive.source->unit, 12);
  EXPECT_FALSE(element(*s, ElementType::Storage, 12).full);

  // By raw address: slot 950 is 0x1000 + 950.
  ASSERT_TRUE(
      move(*h, ChElement::at(ElementType::DataTransfer, 0), ChElement::address(0x1000 + 950)));
  s = status(*h, ElementType::Storage);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(tag((*s)[950]), "UCAM013L6");

  ChExchange x;
  x.source = ChElement::at(ElementType::Storage, 0);
  x.first = ChElement::at(ElementType::Storage, 950);
  ASSERT_TRUE(h->ioctl(x)) << "";
  s = status(*h, ElementType::Storage);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(tag((*s)[950]), "UCAM001L6");
  EXPECT_EQ(tag((*s)[0]), "UCAM013L6");

  ChPosition p;
  p.to = ChElement::at(ElementType::ImportExport, 3);
  EXPECT_TRUE(h->ioctl(p));
  ChInitElementStatus init;
  EXPECT_TRUE(h->ioctl(init));
  init.range = ChElement::at(ElementType::Storage, 0);
  init.count = 5;
  EXPECT_TRUE(h->ioctl(init));
}

TEST(ChDriver, EmptySourceAndFullDestinationCarryTheSense) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  auto empty = move(*h, ChElement::at(ElementType::Storage, 950),
                    ChElement::at(ElementType::DataTransfer, 0));
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().kind(), Error::Kind::Sense);
  EXPECT_EQ(empty.error().sense(), (SenseCode{0x05, 0x3b, 0x0e}));
  EXPECT_NE(empty.error().message().find("Medium source element empty"), std::string::npos)
      << empty.error().message();
  EXPECT_NE(empty.error().message().find("slot 950 -> drive 0"), std::string::npos)
      << empty.error().message();
  auto full =
      move(*h, ChElement::at(ElementType::Storage, 1), ChElement::at(ElementType::Storage, 2));
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().sense(), (SenseCode{0x05, 0x3b, 0x0d}));
  EXPECT_NE(full.error().message().find("Medium destination element full"), std::string::npos)
      << full.error().message();
  // Checked before anything is sent.
  EXPECT_EQ(errno_of(move(*h, ChElement::at(ElementType::Storage, 1000),
                          ChElement::at(ElementType::DataTransfer, 0))),
            ENODEV);
  EXPECT_EQ(
      errno_of(move(*h, ChElement::address(0x0fff), ChElement::at(ElementType::DataTransfer, 0))),
      ENODEV);
  EXPECT_EQ(errno_of(move(*h, ChElement::at(static_cast<ElementType>(7), 1),
                          ChElement::at(ElementType::DataTransfer, 0))),
            EINVAL);
}

TEST(ChDriver, PickerGetAndSet) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  ChSetPicker set;
  set.unit = 0;
  EXPECT_TRUE(h->ioctl(set));
  set.unit = 1;
  EXPECT_EQ(errno_of(h->ioctl(set)), EINVAL);  // One picker.
  ChGetPicker get;
  ASSERT_TRUE(h->ioctl(get));
  EXPECT_EQ(get.unit, 0);
}

TEST(ChDriver, ReadOnlyOpensMayOnlyLook) {
  auto stack = library();
  auto h = stack->devfs().open("ch0", devfs::kOpenRead);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(status(*h, ElementType::DataTransfer).has_value());
  EXPECT_EQ(errno_of(move(*h, ChElement::at(ElementType::Storage, 0),
                          ChElement::at(ElementType::DataTransfer, 0))),
            EBADF);
  ChSetPicker set;
  EXPECT_EQ(errno_of(h->ioctl(set)), EBADF);
  // Several opens at once.
  auto other = stack->devfs().open("ch0");
  EXPECT_TRUE(other.has_value());
}

TEST(ChDriver, ADriveIsLinkedToTheDeviceWhoseDesignatorItReports) {
  auto stack = stack_for(R"({"name":"linked","buses":[{"targets":[
    {"id":0,"luns":[{"type":"changer","slots":4,"full_slots":2,
                     "drives":[{"bus":0,"target":1,"lun":0},{"identifier":"NOBODY"}]}]},
    {"id":1,"luns":[{"type":"disk","capacity":2048}]}]}]})");
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value()) << h.error().message();
  auto drives = status(*h, ElementType::DataTransfer);
  ASSERT_TRUE(drives.has_value()) << drives.error().message();
  ASSERT_EQ(drives->size(), 2U);
  EXPECT_EQ((*drives)[0].devices, stack->periphs().names_for({0, 1, 0}));
  EXPECT_FALSE((*drives)[0].devices.empty());
  EXPECT_TRUE((*drives)[1].devices.empty());
}

TEST(ChDriver, PassAttachesToTheLibrarysTapeDrives) {
  auto stack = library();
  for (std::uint32_t target = 1; target <= 4; ++target) {
    const auto names = stack->periphs().names_for({0, target, 0});
    EXPECT_TRUE(std::any_of(names.begin(), names.end(), [](const std::string& n) {
      return n.starts_with("pass");
    })) << target;
    EXPECT_FALSE(std::any_of(names.begin(), names.end(), [](const std::string& n) {
      return n.starts_with("ch");
    })) << target;
  }
}

Result<void> set_voltag(devfs::FileHandle& h, ChElement element, ChVolTagAction action,
                        std::string tag, ChVolTag which = ChVolTag::Primary) {
  ChSetVolTag v;
  v.element = element;
  v.action = action;
  v.tag = std::move(tag);
  v.which = which;
  return h.ioctl(v);
}

Result<ChFindVolume> find(devfs::FileHandle& h, std::string pattern,
                          ElementType type = ElementType::All,
                          std::uint32_t allocation = kStatusAllocation) {
  ChFindVolume f;
  f.pattern = std::move(pattern);
  f.type = type;
  f.allocation = allocation;
  if (auto r = h.ioctl(f); !r) {
    return fail(r.error());
  }
  return f;
}

TEST(ChDriver, SetVolTagAssertsReplacesAndClears) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  const auto slot0 = ChElement::at(ElementType::Storage, 0);
  // Assert on a tagged medium: the changer refuses (ILLEGAL REQUEST, COMMAND SEQUENCE ERROR).
  auto refused = set_voltag(*h, slot0, ChVolTagAction::Assert, "NEW001L6");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), Error::Kind::Sense);
  EXPECT_EQ(refused.error().sense(), (SenseCode{0x05, 0x2c, 0x00}));
  ASSERT_TRUE(set_voltag(*h, slot0, ChVolTagAction::Replace, "NEW001L6"));
  auto all = status(*h, ElementType::Storage);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(tag(element(*all, ElementType::Storage, 0)), "NEW001L6");
  ASSERT_TRUE(set_voltag(*h, slot0, ChVolTagAction::Clear, ""));
  all = status(*h, ElementType::Storage);
  ASSERT_TRUE(all.has_value());
  const auto& cleared = element(*all, ElementType::Storage, 0);
  EXPECT_TRUE(cleared.full);
  EXPECT_TRUE(cleared.primary_tag && cleared.primary_tag->blank());
  EXPECT_TRUE(set_voltag(*h, slot0, ChVolTagAction::Assert, "ASR001L6"));
  // An empty slot: MEDIUM SOURCE ELEMENT EMPTY.
  auto empty =
      set_voltag(*h, ChElement::at(ElementType::Storage, 950), ChVolTagAction::Replace, "X");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().sense(), (SenseCode{0x05, 0x3b, 0x0e}));
  // library-1000 keeps no alternate tags: INVALID FIELD IN CDB.
  auto alternate = set_voltag(*h, slot0, ChVolTagAction::Replace, "ALT", ChVolTag::Alternate);
  ASSERT_FALSE(alternate);
  EXPECT_EQ(alternate.error().sense(), (SenseCode{0x05, 0x24, 0x00}));
}

TEST(ChDriver, SetVolTagRejectsBadTagsBeforeSendingAnything) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  const auto slot0 = ChElement::at(ElementType::Storage, 0);
  for (const char* bad : {"", "A*", "A?B", "0123456789012345678901234567890123", "TAB\tX"}) {
    EXPECT_EQ(errno_of(set_voltag(*h, slot0, ChVolTagAction::Replace, bad)), EINVAL) << bad;
  }
  EXPECT_EQ(errno_of(set_voltag(*h, ChElement::at(ElementType::Storage, 1000),
                                ChVolTagAction::Replace, "X")),
            ENODEV);
  auto all = status(*h, ElementType::Storage);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(tag(element(*all, ElementType::Storage, 0)), "UCAM001L6");
  // A read-only open may search but not set.
  auto ro = stack->devfs().open("ch0", devfs::kOpenRead);
  ASSERT_TRUE(ro.has_value());
  EXPECT_EQ(errno_of(set_voltag(*ro, slot0, ChVolTagAction::Replace, "X")), EBADF);
  EXPECT_TRUE(find(*ro, "UCAM001L6").has_value());
}

TEST(ChDriver, FindVolumeListsTheMatchingElementsPaged) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  auto one = find(*h, "UCAM013L6");
  ASSERT_TRUE(one.has_value()) << one.error().message();
  ASSERT_EQ(one->elements.size(), 1U);
  EXPECT_EQ(one->elements[0].element, (ChLocation{ElementType::Storage, 12, 0x100c}));
  EXPECT_EQ(tag(one->elements[0]), "UCAM013L6");
  auto tens = find(*h, "UCAM01?L6");
  ASSERT_TRUE(tens.has_value());
  ASSERT_EQ(tens->elements.size(), 10U);
  EXPECT_EQ(tag(tens->elements.front()), "UCAM010L6");
  EXPECT_EQ(tag(tens->elements.back()), "UCAM019L6");
  EXPECT_TRUE(find(*h, "NOPE*")->elements.empty());
  // Every medium, in 1 KiB reads: the driver pages.
  auto every = find(*h, "*", ElementType::All, 1024);
  ASSERT_TRUE(every.has_value()) << every.error().message();
  EXPECT_EQ(every->elements.size(), 900U);
  EXPECT_GT(every->reads, 10U);
  std::set<std::uint16_t> addresses;
  for (const auto& e : every->elements) {
    EXPECT_TRUE(addresses.insert(e.element.address).second);
  }
  // A medium moved to a drive is found there; type limits the search.
  ASSERT_TRUE(move(*h, ChElement::at(ElementType::Storage, 12),
                   ChElement::at(ElementType::DataTransfer, 1)));
  auto moved = find(*h, "UCAM013L6");
  ASSERT_TRUE(moved.has_value());
  ASSERT_EQ(moved->elements.size(), 1U);
  EXPECT_EQ(moved->elements[0].element.type, ElementType::DataTransfer);
  EXPECT_EQ(moved->elements[0].element.unit, 1);
  EXPECT_EQ(moved->elements[0].devices, stack->periphs().names_for({0, 2, 0}));  // Its tape.
  EXPECT_FALSE(moved->elements[0].devices.empty());
  EXPECT_TRUE(find(*h, "UCAM013L6", ElementType::Storage)->elements.empty());
  EXPECT_EQ(errno_of(find(*h, "")), EINVAL);
}

TEST(ChDriver, AlternateTagsAreSetAndSearchedWhenTheChangerHasThem) {
  auto stack = stack_for(R"({"buses":[{"targets":[{"id":0,"luns":[{"type":"changer",
    "slots":4,"full_slots":3,"alternate_tags":true}]}]}]})");
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value()) << h.error().message();
  const auto slot1 = ChElement::at(ElementType::Storage, 1);
  ChSetVolTag v;
  v.element = slot1;
  v.which = ChVolTag::Alternate;
  v.tag = "OFFSITE-7";
  v.sequence = 3;
  ASSERT_TRUE(h->ioctl(v));
  auto all = status(*h, ElementType::Storage);
  ASSERT_TRUE(all.has_value());
  const auto& e = element(*all, ElementType::Storage, 1);
  ASSERT_TRUE(e.alternate_tag.has_value());
  EXPECT_EQ(e.alternate_tag->identifier, "OFFSITE-7");
  EXPECT_EQ(e.alternate_tag->sequence, 3);
  EXPECT_EQ(tag(e), "UCAM002L6");  // The primary tag is untouched.
  ChFindVolume f;
  f.pattern = "OFFSITE*";
  f.which = ChVolTag::Alternate;
  ASSERT_TRUE(h->ioctl(f));
  ASSERT_EQ(f.elements.size(), 1U);
  EXPECT_EQ(f.elements[0].element.address, 0x1001);
  f.which = ChVolTag::Primary;  // No primary tag matches.
  ASSERT_TRUE(h->ioctl(f));
  EXPECT_TRUE(f.elements.empty());
}

TEST(ChDriver, MoveIntoALibraryDriveLoadsItsTapeDevice) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(move(*h, ChElement::at(ElementType::Storage, 0),
                   ChElement::at(ElementType::DataTransfer, 2)));
  auto tape = stack->emulator()->changer({0, 0, 0});
  ASSERT_TRUE(tape.has_value());
  const auto elements = (*tape)->elements();
  auto drive = std::find_if(elements.begin(), elements.end(),
                            [](const auto& e) { return e.address == 0x0102; });
  ASSERT_NE(drive, elements.end());
  ASSERT_NE(drive->tape, nullptr);
  EXPECT_EQ(drive->tape->medium_tag(), "UCAM001L6");
  ASSERT_TRUE(move(*h, ChElement::at(ElementType::DataTransfer, 2),
                   ChElement::at(ElementType::Storage, 0)));
  EXPECT_EQ(drive->tape->medium_tag(), "");
}

TEST(ChDriver, DepartureMakesCallsAndNewOpensFailWithEnxio) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(stack->emulator()->remove_lun({0, 0, 0}).has_value());
  stack->settle();
  ChGetParams p;
  EXPECT_EQ(errno_of(h->ioctl(p)), ENXIO);
  EXPECT_EQ(errno_of(status(*h)), ENXIO);
  auto again = stack->devfs().open("ch0");
  ASSERT_FALSE(again.has_value());
  EXPECT_TRUE(again.error().errno_value() == ENXIO || again.error().errno_value() == ENOENT);
  EXPECT_TRUE(h->close());
  ASSERT_TRUE(stack->emulator()->insert_lun({0, 0, 0}).has_value());
  stack->settle();
  auto back = stack->devfs().open("ch0");
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(stack->periphs().stats().underflows, 0U);
}

TEST(ChDriver, ACancelledTokenAbortsTheRequestAndMovesNothing) {
  auto stack = library();
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value());
  cam::CancelToken token;
  token.cancel();
  ChMove m;
  m.from = ChElement::at(ElementType::Storage, 0);
  m.to = ChElement::at(ElementType::DataTransfer, 0);
  m.cancel = &token;
  auto r = h->ioctl(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cam_status(), CamStatus::ReqAborted);
  ChGetElementStatus g;
  g.cancel = &token;
  EXPECT_EQ(errno_of(h->ioctl(g)), EINTR);
  auto s = status(*h, ElementType::Storage);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE((*s)[0].full);
}

// The lifecycle race on the emulated changer (the fake SIM of tests/pass answers no MODE SENSE
// data, which ch needs to attach): threads open ch0, read its parameters and drive status and
// close, while the changer departs and returns. Every call answers or fails with ENXIO, every
// open succeeds or finds the node gone, and the counts are exact at the end.
TEST(ChLifecycleRace, OpensAndStatusRaceWithDepartureAndReturn) {
  auto stack = library();
  constexpr int kThreads = 8;
  constexpr int kCycles = 40;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> opened{0}, answered{0}, failed_open{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto h = stack->devfs().open("ch0");
        if (!h) {
          const int e = h.error().errno_value();
          unexpected += (e == ENOENT || e == ENXIO || e == EIO) ? 0 : 1;
          ++failed_open;
          continue;
        }
        ++opened;
        ChGetParams p;
        ChGetElementStatus g;
        g.type = ElementType::DataTransfer;
        for (devfs::Ioctl* request :
             {static_cast<devfs::Ioctl*>(&p), static_cast<devfs::Ioctl*>(&g)}) {
          auto r = h->ioctl(*request);
          if (r) {
            ++answered;
          } else if (r.error().errno_value() != ENXIO && r.error().errno_value() != EIO) {
            ++unexpected;
          }
        }
        EXPECT_TRUE(h->close());
      }
    });
  }
  for (int c = 0; c < kCycles; ++c) {
    ASSERT_TRUE(stack->emulator()->remove_lun({0, 0, 0}).has_value());
    stack->settle();
    ASSERT_TRUE(stack->emulator()->insert_lun({0, 0, 0}).has_value());
    stack->settle();
  }
  stop = true;
  for (auto& t : threads) {
    t.join();
  }
  stack->settle();
  EXPECT_EQ(unexpected.load(), 0U);
  EXPECT_GT(opened.load(), 0U);
  EXPECT_EQ(stack->devfs().stats().opens, 0U);
  EXPECT_EQ(stack->periphs().stats().underflows, 0U);
  auto h = stack->devfs().open("ch0");
  ASSERT_TRUE(h.has_value()) << h.error().message();
  auto s = status(*h, ElementType::DataTransfer);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->size(), 4U);
}

}  // namespace
}  // namespace ucam::ch
