// Many submitters against one emulator while another thread changes the topology and arms
// faults. Meant to run under ThreadSanitizer too: every completion must happen exactly once,
// every status must be one a real HBA could report, and data read back must be whole.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "scsi/cdb.h"
#include "scsi/sense.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

constexpr const char* kScenario = R"({"buses":[
  {"targets":{"count":4,"luns_per_target":4,"template":{"capacity":4096}}},
  {"targets":[{"id":0,"luns":[{"lun":0,"capacity":4096},{"lun":1,"type":"processor"}]}]}
]})";
constexpr int kThreads = 16;
constexpr int kIterations = 600;     // Per submitter, at least.
constexpr int kMinMutations = 1500;  // Submitters keep going until the mutator did this many.
constexpr std::uint32_t kBlock = 512;

// Completion bookkeeping for one CCB, filled by its done callback.
struct Completion {
  std::mutex lock;
  std::condition_variable changed;
  int count = 0;

  static void on_done(cam::Ccb& /*ccb*/, void* arg) {
    auto* self = static_cast<Completion*>(arg);
    // Notify under the lock: the owner may destroy the Completion as soon as it sees the count.
    std::lock_guard guard(self->lock);
    ++self->count;
    self->changed.notify_all();
  }
  bool wait_for(int expected, std::chrono::milliseconds timeout) {
    std::unique_lock guard(lock);
    return changed.wait_for(guard, timeout, [&] { return count >= expected; });
  }
  int value() {
    std::lock_guard guard(lock);
    return count;
  }
};

std::uint8_t pattern_byte(int thread, std::uint64_t lba, std::size_t i) {
  return static_cast<std::uint8_t>(thread * 31 + lba * 7 + i + 1);
}

LunAddress pick_lun(std::mt19937& rng) {
  const std::uint32_t n = rng() % 18;
  if (n < 16) {
    return {0, n / 4, n % 4};
  }
  return {1, 0, n - 16};
}

TEST(EmuConcurrency, SubmittersRaceTopologyChangesAndFaults) {
  Harness h(kScenario);
  ASSERT_TRUE(h.emu);
  std::atomic<int> running{kThreads};
  std::atomic<int> failures{0};
  std::atomic<std::uint64_t> good{0};
  std::atomic<std::uint64_t> aborted{0};
  std::atomic<int> mutations{0};

  auto submitter = [&](int thread) {
    std::mt19937 rng(static_cast<std::uint32_t>(thread * 7919 + 1));
    Completion completion;
    int expected = 0;
    std::vector<std::uint8_t> buffer(2 * kBlock);
    for (int i = 0; i < kIterations || mutations.load() < kMinMutations; ++i) {
      const LunAddress at = pick_lun(rng);
      const std::uint64_t lba = static_cast<std::uint64_t>(thread) * 8 + rng() % 8;
      scsi::Cdb cdb;
      cam::DataDir dir = cam::DataDir::None;
      std::uint32_t length = 0;
      const bool is_write = rng() % 4 == 0;
      const bool is_read = !is_write && rng() % 3 == 0;
      switch (rng() % 4) {
        case 0:
          cdb = scsi::test_unit_ready();
          break;
        case 1:
          cdb = scsi::inquiry(scsi::InquiryData::Standard, 0, 96);
          dir = cam::DataDir::In;
          length = 96;
          break;
        case 2:
          cdb = scsi::report_luns(scsi::SelectReport::All, 256);
          dir = cam::DataDir::In;
          length = 256;
          break;
        default:
          cdb = scsi::inquiry(scsi::InquiryData::VpdPage, 0x83, 255);
          dir = cam::DataDir::In;
          length = 255;
          break;
      }
      if (is_write) {
        cdb = scsi::write10(static_cast<std::uint32_t>(lba), 1);
        dir = cam::DataDir::Out;
        length = kBlock;
        for (std::size_t b = 0; b < kBlock; ++b) {
          buffer[b] = pattern_byte(thread, lba, b);
        }
      } else if (is_read) {
        cdb = scsi::read10(static_cast<std::uint32_t>(lba), 1);
        dir = cam::DataDir::In;
        length = kBlock;
      }
      Request request(h.path(at), cdb, dir, {});
      request.ccb.data = length > 0 ? buffer.data() : nullptr;
      request.ccb.dxfer_len = length;
      request.ccb.done = &Completion::on_done;
      request.ccb.done_arg = &completion;
      h.emu->sim(at.bus)->action(request.ccb);

      // Like the XPT's timeout: give up on a held command after a short while and abort it.
      bool done = completion.wait_for(expected + 1, std::chrono::milliseconds(rng() % 3));
      if (!done && h.emu->sim(at.bus)->abort(request.ccb)) {
        ++aborted;
        continue;  // Ours again; it must never complete.
      }
      if (!done && !completion.wait_for(expected + 1, std::chrono::seconds(30))) {
        ++failures;
        ADD_FAILURE() << "thread " << thread << ": command " << i << " never completed";
        h.emu->sim(at.bus)->abort(request.ccb);
        break;
      }
      ++expected;
      const CamStatus status = request.ccb.status;
      const bool allowed = status == CamStatus::ReqCmp || status == CamStatus::ScsiStatusError ||
                           status == CamStatus::SelTimeout || status == CamStatus::DevNotThere ||
                           status == CamStatus::BdrSent || status == CamStatus::ScsiBusReset;
      if (!allowed) {
        ++failures;
        ADD_FAILURE() << "unexpected status " << cam_status_name(status);
      }
      if (status == CamStatus::ReqCmp) {
        ++good;
      }
      if (is_read && status == CamStatus::ReqCmp && at.bus == 0) {
        bool zeros = true;
        bool written = true;
        for (std::size_t b = 0; b < kBlock; ++b) {
          zeros = zeros && buffer[b] == 0;
          written = written && buffer[b] == pattern_byte(thread, lba, b);
        }
        if (!zeros && !written) {
          ++failures;
          ADD_FAILURE() << "torn or foreign block at lba " << lba;
        }
      }
    }
    if (completion.value() != expected) {
      ++failures;
      ADD_FAILURE() << "thread " << thread << ": " << completion.value() << " completions for "
                    << expected << " commands";
    }
    --running;
  };

  auto mutator = [&] {
    std::mt19937 rng(12345);
    Request reset(h.path({0, 0, 0}), scsi::Cdb{}, cam::DataDir::None, {});
    Completion reset_done;
    int resets = 0;
    for (; running.load() > 0; ++mutations) {
      const LunAddress at = pick_lun(rng);
      switch (rng() % 10) {
        case 0:
          EXPECT_TRUE(h.emu->remove_lun(at));
          EXPECT_TRUE(
              h.emu->insert_lun(at, rng() % 2 ? Insertion::Quiet : Insertion::PowerOnAttention));
          break;
        case 1:
          EXPECT_TRUE(h.emu->remove_target(at.bus, at.target));
          std::this_thread::yield();
          EXPECT_TRUE(h.emu->insert_target(at.bus, at.target));
          break;
        case 2:
          EXPECT_TRUE(
              h.emu->remove_bus(1, rng() % 2 ? BusRemoval::LinkDown : BusRemoval::Deregister));
          std::this_thread::yield();
          EXPECT_TRUE(h.emu->insert_bus(1));
          break;
        case 3:
          EXPECT_TRUE(h.emu->inject(at, Fault::hang()));
          break;
        case 4:
          EXPECT_TRUE(h.emu->inject(at, Fault::delayed(std::chrono::microseconds(rng() % 500))));
          break;
        case 5:
          EXPECT_TRUE(h.emu->inject(at, Fault::check_condition({0x03, 0x11, 0x00})));
          break;
        case 6:
          EXPECT_TRUE(h.emu->set_unit_attention(at, scsi::kPowerOnReset));
          break;
        case 7:
          EXPECT_TRUE(h.emu->set_selection_timeout(at.bus, at.target, SelectionTimeout::On));
          std::this_thread::yield();
          EXPECT_TRUE(h.emu->set_selection_timeout(at.bus, at.target, SelectionTimeout::Off));
          break;
        case 8: {
          reset.ccb.reset_result();
          reset.ccb.func = rng() % 2 ? cam::FuncCode::ResetDev : cam::FuncCode::ResetBus;
          reset.ccb.path = h.path({0, at.target, 0});
          reset.ccb.done = &Completion::on_done;
          reset.ccb.done_arg = &reset_done;
          h.emu->sim(0)->action(reset.ccb);
          EXPECT_TRUE(reset_done.wait_for(++resets, std::chrono::seconds(10)));
          break;
        }
        default:
          EXPECT_TRUE(h.emu->clear_faults(at));
          break;
      }
    }
    // Release whatever is still hung so that the last submitters finish.
    for (std::uint32_t t = 0; t < 4; ++t) {
      EXPECT_TRUE(h.emu->remove_target(0, t));
      EXPECT_TRUE(h.emu->insert_target(0, t));
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(submitter, t);
  }
  std::thread changer(mutator);
  // While submitters run, the mutator keeps flushing: nothing stays held for long.
  for (auto& t : threads) {
    t.join();
  }
  changer.join();
  h.emu->stop();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(good.load(), 0U);
  EXPECT_EQ(h.emu->held_commands(), 0U);
  RecordProperty("good_completions", static_cast<int>(good.load()));
  EXPECT_GE(mutations.load(), kMinMutations);
  RecordProperty("aborted", static_cast<int>(aborted.load()));
  RecordProperty("mutations", mutations.load());
}

// Whole-block atomicity of the medium: concurrent writers of distinct patterns to one block,
// readers that must always see exactly one of them (or zeros before the first write).
TEST(EmuConcurrency, ConcurrentWritesToOneBlockNeverTear) {
  Harness h(R"({"buses":[{"targets":[{"luns":[{"capacity":1024}]}]}]})");
  ASSERT_TRUE(h.emu);
  constexpr int kWriters = 4;
  constexpr int kReaders = 4;
  constexpr int kRounds = 300;
  constexpr std::uint32_t kBlocks = 160;  // Spans three 64 KiB chunks.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::vector<std::uint8_t> data(kBlocks * kBlock, static_cast<std::uint8_t>(w + 1));
      for (int i = 0; i < kRounds; ++i) {
        Request request(h.path({0, 0, 0}), scsi::write10(0, kBlocks), cam::DataDir::Out, data);
        h.submit(0, request);  // Synchronous: done before action() returns.
        if (request.ccb.status != CamStatus::ReqCmp) {
          ++failures;
        }
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        Request request(h.path({0, 0, 0}), scsi::read10(0, kBlocks), cam::DataDir::In,
                        std::vector<std::uint8_t>(kBlocks * kBlock, 0xee));
        h.submit(0, request);
        const auto& data = request.buffer;
        const bool uniform =
            std::all_of(data.begin(), data.end(), [&](std::uint8_t b) { return b == data[0]; });
        if (request.ccb.status != CamStatus::ReqCmp || !uniform || data[0] > kWriters) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace ucam::emu::testing
