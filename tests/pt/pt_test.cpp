// The pt driver: which devices it takes, SEND/RECEIVE on the emulated processor device (message
// order, empty queue, BUSY when the queue is full), transfer limits and the CDBs on a fake SIM,
// the single-opener rule, and the node's lifecycle when the device departs.
#include "periphs/pt/pt.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "base/hex.h"
#include "cam/periph.h"
#include "cam/xpt.h"
#include "devfs/devfs.h"
#include "stack/stack.h"
#include "tests/cam/fake_sim.h"
#include "tests/errno_of.h"
#include "tests/wait.h"

namespace ucam::pt {
namespace {

using testing::errno_of;
using testing::FakeSim;

// Bus 0: a processor whose queue holds two messages (target 1), a SAF-TE enclosure (a
// processor too, target 2) and a disk (target 3).
constexpr const char* kScenario = R"({"name":"pt","buses":[{"targets":[
  {"id":1,"luns":[{"type":"processor","message_limit":2}]},
  {"id":2,"luns":[{"type":"safte"}]},
  {"id":3,"luns":[{"type":"disk","capacity":2048}]}]}]})";

std::unique_ptr<Stack> emulated_stack() {
  auto scenario = emu::parse_scenario(kScenario, "pt.json");
  EXPECT_TRUE(scenario.has_value()) << scenario.error().message();
  StackOptions options;
  options.xpt.busy_retry_delay = std::chrono::milliseconds(1);  // BUSY retries are quick.
  auto s = Stack::create_emulated(*scenario, options);
  EXPECT_TRUE(s.has_value());
  return std::move(*s);
}

std::span<std::uint8_t> bytes_of(std::string& s) {
  return {reinterpret_cast<std::uint8_t*>(s.data()), s.size()};
}

Result<void> send(devfs::FileHandle& h, std::string message) {
  PtIo io(PtIo::kSend);
  io.data = bytes_of(message);
  auto r = h.ioctl(io);
  if (r) {
    EXPECT_EQ(io.transferred, message.size());
  }
  return r;
}

Result<std::string> receive(devfs::FileHandle& h, std::size_t length) {
  std::string buf(length, '\0');
  PtIo io(PtIo::kReceive);
  io.data = bytes_of(buf);
  if (auto r = h.ioctl(io); !r) {
    return fail(r.error());
  }
  buf.resize(io.transferred);
  return buf;
}

TEST(PtDriver, AttachesToProcessorsButNotToSafteEnclosuresOrDisks) {
  auto stack = emulated_stack();
  EXPECT_EQ(stack->periphs().names_for({0, 1, 0}), (std::vector<std::string>{"pass0", "pt0", "sg0"}));
  for (const auto& n : stack->periphs().names_for({0, 2, 0})) {
    EXPECT_FALSE(n.starts_with("pt")) << n << ": SAF-TE belongs to enc";
  }
  EXPECT_EQ(stack->periphs().names_for({0, 3, 0}), (std::vector<std::string>{"pass2", "da0", "sg2"}));
  EXPECT_EQ(*stack->resolve_pass("pt0"), "pass0");
}

TEST(PtDriver, SentMessagesAreReceivedInOrder) {
  auto stack = emulated_stack();
  auto h = stack->devfs().open("pt0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(send(*h, "hello"));
  ASSERT_TRUE(send(*h, "processor world"));
  EXPECT_EQ(*receive(*h, 64), "hello");
  EXPECT_EQ(*receive(*h, 64), "processor world");
}

TEST(PtDriver, ReceiveOnAnEmptyQueueReturnsNoData) {
  auto stack = emulated_stack();
  auto h = stack->devfs().open("pt0");
  ASSERT_TRUE(h.has_value());
  auto r = receive(*h, 128);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "");
}

TEST(PtDriver, ZeroLengthSendAndReceiveCarryNoData) {
  auto stack = emulated_stack();
  auto h = stack->devfs().open("pt0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(send(*h, "kept"));
  EXPECT_EQ(*receive(*h, 0), "");  // Allocation length 0: nothing taken off the queue.
  EXPECT_EQ(*receive(*h, 16), "kept");
  ASSERT_TRUE(send(*h, ""));  // Transfer length 0.
}

TEST(PtDriver, ALongerMessageIsCutToTheBuffer) {
  auto stack = emulated_stack();
  auto h = stack->devfs().open("pt0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(send(*h, "0123456789"));
  EXPECT_EQ(*receive(*h, 4), "0123");
  EXPECT_EQ(*receive(*h, 16), "");  // The device consumed it whole.
}

TEST(PtDriver, FullQueueSurfacesAsEbusyNamingTheQueue) {
  auto stack = emulated_stack();
  auto h = stack->devfs().open("pt0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(send(*h, "one"));
  ASSERT_TRUE(send(*h, "two"));
  auto full = send(*h, "three");
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().errno_value(), EBUSY);
  EXPECT_NE(full.error().message().find("pt0: SEND of 5 bytes: the device is busy"),
            std::string::npos)
      << full.error().message();
  EXPECT_NE(full.error().message().find("message queue"), std::string::npos);
  // Taking a message off makes room again.
  EXPECT_EQ(*receive(*h, 16), "one");
  ASSERT_TRUE(send(*h, "three"));
  EXPECT_EQ(*receive(*h, 16), "two");
  EXPECT_EQ(*receive(*h, 16), "three");
}

TEST(PtDriver, SecondOpenerGetsEbusyUntilTheFirstCloses) {
  auto stack = emulated_stack();
  auto ref = stack->periphs().acquire("pt0");
  ASSERT_TRUE(ref);
  const auto refs = ref->refcount();
  auto first = stack->devfs().open("pt0");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(ref->refcount(), refs + 1);
  auto second = stack->devfs().open("pt0");
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().errno_value(), EBUSY);
  EXPECT_NE(second.error().message().find("pt0: already open; pt allows one opener"),
            std::string::npos)
      << second.error().message();
  EXPECT_EQ(ref->refcount(), refs + 1) << "the refused open left a reference behind";
  // The pass node of the same device is not exclusive.
  auto pass = stack->devfs().open("pass0");
  EXPECT_TRUE(pass.has_value());
  ASSERT_TRUE(first->close());
  EXPECT_EQ(ref->refcount(), refs);
  auto third = stack->devfs().open("pt0");
  ASSERT_TRUE(third.has_value());
  ASSERT_TRUE(third->close());
  EXPECT_EQ(ref->refcount(), refs);
  EXPECT_EQ(stack->periphs().stats().underflows, 0U);
}

TEST(PtDriver, DepartureFailsTheOpenHandleWithEnxioAndTheReturnedDeviceOpens) {
  auto stack = emulated_stack();
  auto h = stack->devfs().open("pt0");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(send(*h, "lost"));
  ASSERT_TRUE(stack->emulator()->remove_lun({0, 1, 0}).has_value());
  stack->settle();
  EXPECT_EQ(errno_of(send(*h, "more")), ENXIO);
  EXPECT_EQ(errno_of(receive(*h, 16)), ENXIO);
  PtGetLimits limits;
  EXPECT_EQ(errno_of(h->ioctl(limits)), ENXIO);
  EXPECT_EQ(errno_of(stack->devfs().open("pt0")), ENOENT);  // The name is gone.
  EXPECT_TRUE(h->close());
  EXPECT_EQ(stack->devfs().stats().opens, 0U);
  // Back again: a new periph, its own claim (the revoked open did not keep the old one).
  ASSERT_TRUE(stack->emulator()->insert_lun({0, 1, 0}).has_value());
  stack->settle();
  auto again = stack->devfs().open("pt0");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_TRUE(send(*again, "new"));
  EXPECT_EQ(stack->periphs().stats().underflows, 0U);
}

// ---- On a fake SIM: the CDBs, maxio, and departure while a thread is inside the driver ------

struct FakeStack {
  explicit FakeStack(std::uint32_t maxio) {
    cam::XptConfig config;
    config.timer_tick = std::chrono::milliseconds(2);
    config.busy_retry_delay = std::chrono::milliseconds(1);
    xpt = cam::Xpt::create(config);
    devfs = devfs::Devfs::create();
    sim = std::make_unique<FakeSim>(*xpt, 1);
    sim->set_maxio(maxio);
    sim->add_lun(0, 0, 0x03, "PROC");
    sim->add_lun(1, 0, 0x00, "DISK");
    std::vector<std::unique_ptr<cam::PeriphDriver>> drivers;
    drivers.push_back(std::make_unique<PtDriver>(*devfs));
    periphs = cam::PeriphManager::create(*xpt, std::move(drivers));
    bus = sim->register_bus();
    EXPECT_TRUE(xpt->scan_all());
    xpt->drain();
    devfs->drain();
  }
  ~FakeStack() {
    xpt->deregister_bus(bus);
    xpt->drain();
    periphs.reset();
    devfs.reset();
    sim.reset();
    xpt.reset();
  }
  // The CDBs (hex) and transfer lengths of the SEND and RECEIVE commands the SIM received.
  std::vector<std::pair<std::string, std::uint32_t>> transfers() const {
    std::vector<std::pair<std::string, std::uint32_t>> out;
    for (const auto& c : sim->commands()) {
      if (c.cdb[0] == 0x0a || c.cdb[0] == 0x08) {
        out.emplace_back(hex_string(c.cdb), c.dxfer_len);
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

TEST(PtLimits, SendAndReceiveUseSixByteCdbsWithA24BitLength) {
  FakeStack stack(0);
  EXPECT_EQ(stack.devfs->names(), std::vector<std::string>{"pt0"});  // Not the disk.
  auto h = stack.devfs->open("pt0");
  ASSERT_TRUE(h.has_value());
  PtGetLimits limits;
  ASSERT_TRUE(h->ioctl(limits));
  EXPECT_EQ(limits.max_transfer, 16'777'215U);
  std::vector<std::uint8_t> big(kMaxTransfer);
  PtIo out(PtIo::kSend);
  out.data = big;
  ASSERT_TRUE(h->ioctl(out));
  EXPECT_EQ(out.transferred, kMaxTransfer);
  PtIo in(PtIo::kReceive);
  in.data = std::span(big).first(0x1234);
  ASSERT_TRUE(h->ioctl(in));
  PtIo none(PtIo::kSend);
  ASSERT_TRUE(h->ioctl(none));
  using T = std::pair<std::string, std::uint32_t>;
  EXPECT_EQ(stack.transfers(), (std::vector<T>{{"0a 00 ff ff ff 00", kMaxTransfer},
                                               {"08 00 00 12 34 00", 0x1234U},
                                               {"0a 00 00 00 00 00", 0U}}));
}

TEST(PtLimits, MoreThanTheLengthFieldCarriesIsRefusedUnsent) {
  FakeStack stack(0);
  auto h = stack.devfs->open("pt0");
  ASSERT_TRUE(h.has_value());
  std::vector<std::uint8_t> too_big(kMaxTransfer + 1);
  for (const auto code : {PtIo::kSend, PtIo::kReceive}) {
    PtIo io(code);
    io.data = too_big;
    auto r = h->ioctl(io);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errno_value(), EINVAL);
    EXPECT_NE(r.error().message().find("24-bit length field"), std::string::npos)
        << r.error().message();
  }
  EXPECT_TRUE(stack.transfers().empty());
}

TEST(PtLimits, TheBusMaxioBoundsAMessageWhichIsNeverSplit) {
  FakeStack stack(4096);
  auto h = stack.devfs->open("pt0");
  ASSERT_TRUE(h.has_value());
  PtGetLimits limits;
  ASSERT_TRUE(h->ioctl(limits));
  EXPECT_EQ(limits.max_transfer, 4096U);
  std::vector<std::uint8_t> buf(4097);
  for (const auto code : {PtIo::kSend, PtIo::kReceive}) {
    PtIo io(code);
    io.data = buf;
    auto r = h->ioctl(io);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errno_value(), E2BIG);
    EXPECT_NE(r.error().message().find("4096 bytes its bus carries"), std::string::npos)
        << r.error().message();
  }
  EXPECT_TRUE(stack.transfers().empty());
  PtIo fits(PtIo::kSend);
  fits.data = std::span(buf).first(4096);
  ASSERT_TRUE(h->ioctl(fits));
  using T = std::pair<std::string, std::uint32_t>;
  EXPECT_EQ(stack.transfers(), (std::vector<T>{{"0a 00 00 10 00 00", 4096U}}));
}

TEST(PtLimits, CheckConditionIsReturnedAsSense) {
  FakeStack stack(0);
  auto h = stack.devfs->open("pt0");
  ASSERT_TRUE(h.has_value());
  stack.sim->script(0, 0, {FakeSim::Outcome::CheckCondition, 0x05, 0x24, 0x00});
  std::vector<std::uint8_t> buf(8);
  PtIo io(PtIo::kSend);
  io.data = buf;
  auto r = h->ioctl(io);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind(), Error::Kind::Sense);
  EXPECT_NE(r.error().message().find("pt0: SEND of 8 bytes"), std::string::npos)
      << r.error().message();
}

// A node whose ioctl blocks until released: while a thread is inside it, its destruction (and
// every destruction queued behind it on devfs' worker) waits, so a departed pt node stays in
// the dying state, name present, for as long as the test needs.
class BlockerSw final : public devfs::CdevSw {
 public:
  Result<void> open(devfs::Node&, devfs::OpenFile&) override { return {}; }
  void close(devfs::Node&, devfs::OpenFile&, devfs::CloseReason) override {}
  Result<void> ioctl(devfs::Node&, devfs::OpenFile&, devfs::Ioctl&) override {
    std::unique_lock lock(m_lock);
    m_inside = true;
    m_cv.notify_all();
    m_cv.wait(lock, [&] { return m_released; });
    return {};
  }
  void gone(devfs::Node&) override {}
  void wait_inside() {
    std::unique_lock lock(m_lock);
    m_cv.wait(lock, [&] { return m_inside; });
  }
  void release() {
    std::lock_guard lock(m_lock);
    m_released = true;
    m_cv.notify_all();
  }

 private:
  std::mutex m_lock;
  std::condition_variable m_cv;
  bool m_inside = false;    // Guarded by m_lock.
  bool m_released = false;  // Guarded by m_lock.
};

TEST(PtLifecycle, NewOpensAndCallsFailWithEnxioOnceTheDeviceHasDeparted) {
  FakeStack stack(0);
  auto h = stack.devfs->open("pt0");
  ASSERT_TRUE(h.has_value());
  BlockerSw blocker_sw;
  auto blocker = stack.devfs->make_node("blocker", blocker_sw, nullptr);
  ASSERT_TRUE(blocker.has_value());
  auto bh = stack.devfs->open("blocker");
  ASSERT_TRUE(bh.has_value());
  struct Any : devfs::Ioctl {
    Any() : Ioctl(1) {}
  };
  std::thread inside([&] {
    Any any;
    EXPECT_TRUE(bh->ioctl(any));
  });
  blocker_sw.wait_inside();
  stack.devfs->destroy_node_async(*blocker);  // The worker now waits for `inside`.

  stack.sim->remove_lun(0, 0);
  ASSERT_TRUE(stack.xpt->scan({stack.bus, 0, cam::Path::kWildcardLun}));
  stack.xpt->drain();
  // Invalidated: the node is dying (its destruction queued), its name still there.
  EXPECT_EQ(stack.devfs->names(), (std::vector<std::string>{"blocker", "pt0"}));
  EXPECT_EQ(errno_of(stack.devfs->open("pt0")), ENXIO);
  PtGetLimits limits;
  EXPECT_EQ(errno_of(h->ioctl(limits)), ENXIO);
  std::vector<std::uint8_t> buf(8);
  PtIo io(PtIo::kSend);
  io.data = buf;
  EXPECT_EQ(errno_of(h->ioctl(io)), ENXIO);
  EXPECT_TRUE(stack.transfers().empty()) << "a SEND reached the departed device";

  blocker_sw.release();
  inside.join();
  stack.devfs->drain();
  EXPECT_TRUE(stack.devfs->names().empty());
  EXPECT_EQ(errno_of(stack.devfs->open("pt0")), ENOENT);
  EXPECT_TRUE(h->close());  // Revoked already: succeeds without the driver.
  EXPECT_TRUE(stack.periphs->wait_all_freed(std::chrono::seconds(10)));
  EXPECT_EQ(stack.periphs->stats().underflows, 0U);
}

}  // namespace
}  // namespace ucam::pt
