#include "devfs/devfs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/errno_of.h"

namespace ucam::devfs {
namespace {

// A driver that counts opens and closes and can park a thread inside ioctl.
class CountingDriver : public CdevSw {
 public:
  Result<void> open(Node&, OpenFile&) override {
    if (fail_opens) {
      return fail_errno(EIO, "refused");
    }
    opens.fetch_add(1);
    return {};
  }
  void close(Node&, OpenFile&, CloseReason reason) override {
    closes.fetch_add(1);
    if (reason == CloseReason::Revoke) {
      revokes.fetch_add(1);
    }
  }
  Result<void> ioctl(Node&, OpenFile&, Ioctl&) override {
    std::unique_lock lock(m);
    inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release_ioctl; });
    inside = false;
    return {};
  }
  void gone(Node&) override {
    // Everything must be closed before gone() and nobody inside.
    gone_with_opens_outstanding = opens.load() - closes.load();
    gone_calls.fetch_add(1);
  }

  std::atomic<int> opens{0}, closes{0}, revokes{0}, gone_calls{0};
  int gone_with_opens_outstanding = -1;
  bool fail_opens = false;
  std::mutex m;
  std::condition_variable cv;
  bool inside = false, release_ioctl = false;
};

struct Probe : Ioctl {
  Probe() : Ioctl(1) {}
};

TEST(DevfsOpen, FailsWithEnoentForUnknownName) {
  auto devfs = Devfs::create();
  auto h = devfs->open("pass9");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().errno_value(), ENOENT);
}

TEST(DevfsMakeNode, RefusesDuplicateNames) {
  CountingDriver drv;  // Outlives devfs, which destroys its remaining nodes through it.
  auto devfs = Devfs::create();
  ASSERT_TRUE(devfs->make_node("pass0", drv, nullptr));
  auto dup = devfs->make_node("pass0", drv, nullptr);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().errno_value(), EEXIST);
}

TEST(DevfsClose, EveryOpenGetsExactlyItsOwnClose) {
  CountingDriver drv;  // Outlives devfs, which destroys its remaining nodes through it.
  auto devfs = Devfs::create();
  ASSERT_TRUE(devfs->make_node("pass0", drv, nullptr));
  {
    auto a = devfs->open("pass0");
    auto b = devfs->open("pass0");
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->close());
    EXPECT_EQ(drv.closes.load(), 1);
    auto again = a->close();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().errno_value(), EBADF);
    EXPECT_EQ(drv.closes.load(), 1);
  }  // b closes in its destructor.
  EXPECT_EQ(drv.opens.load(), 2);
  EXPECT_EQ(drv.closes.load(), 2);
  EXPECT_EQ(devfs->stats().opens, 0U);
}

TEST(DevfsOpen, DriverErrorIsReturnedAndNoCloseFollows) {
  CountingDriver drv;  // Outlives devfs, which destroys its remaining nodes through it.
  auto devfs = Devfs::create();
  drv.fail_opens = true;
  ASSERT_TRUE(devfs->make_node("pass0", drv, nullptr));
  auto h = devfs->open("pass0");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().errno_value(), EIO);
  devfs.reset();
  EXPECT_EQ(drv.closes.load(), 0);
}

TEST(DevfsOpen, ExclusiveNodeRefusesSecondOpenWithEbusy) {
  CountingDriver drv;  // Outlives devfs, which destroys its remaining nodes through it.
  auto devfs = Devfs::create();
  NodeOptions opts;
  opts.exclusive = true;
  ASSERT_TRUE(devfs->make_node("pt0", drv, nullptr, opts));
  auto first = devfs->open("pt0");
  ASSERT_TRUE(first);
  auto second = devfs->open("pt0");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().errno_value(), EBUSY);
  ASSERT_TRUE(first->close());
  EXPECT_TRUE(devfs->open("pt0"));
}

TEST(DevfsDestroy, RevokesOutstandingOpensThenCallsGone) {
  CountingDriver drv;  // Outlives devfs, which destroys its remaining nodes through it.
  auto devfs = Devfs::create();
  auto node = devfs->make_node("pass0", drv, nullptr);
  ASSERT_TRUE(node);
  auto a = devfs->open("pass0");
  auto b = devfs->open("pass0");
  ASSERT_TRUE(a && b);
  devfs->destroy_node(*node);
  EXPECT_EQ(drv.revokes.load(), 2);
  EXPECT_EQ(drv.gone_calls.load(), 1);
  EXPECT_EQ(drv.gone_with_opens_outstanding, 0);
  // Closing a revoked handle succeeds and does not reach the driver again.
  EXPECT_TRUE(a->close());
  EXPECT_EQ(drv.closes.load(), 2);
  // Calls on the remaining handle fail with ENXIO; the name is gone.
  Probe p;
  auto r = b->ioctl(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value(), ENXIO);
  EXPECT_EQ(testing::errno_of(devfs->open("pass0")), ENOENT);
}

TEST(DevfsDestroy, NewEntriesFailWithEnxioAtOnceAndDestroyWaitsForThreadsInside) {
  CountingDriver drv;  // Outlives devfs, which destroys its remaining nodes through it.
  auto devfs = Devfs::create();
  auto node = devfs->make_node("pass0", drv, nullptr);
  ASSERT_TRUE(node);
  auto h = devfs->open("pass0");
  ASSERT_TRUE(h);
  std::thread caller([&] {
    Probe p;
    EXPECT_TRUE(h->ioctl(p));
  });
  {
    std::unique_lock lock(drv.m);
    ASSERT_TRUE(drv.cv.wait_for(lock, std::chrono::seconds(10), [&] { return drv.inside; }));
  }
  devfs->destroy_node_async(*node);
  // Scheduled: new opens fail with ENXIO while the thread is still inside.
  auto late = devfs->open("pass0");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().errno_value(), ENXIO);
  EXPECT_EQ(drv.gone_calls.load(), 0);
  EXPECT_EQ(drv.revokes.load(), 0);  // Not while a thread is inside.
  {
    std::lock_guard lock(drv.m);
    drv.release_ioctl = true;
  }
  drv.cv.notify_all();
  caller.join();
  devfs->drain();
  EXPECT_EQ(drv.gone_calls.load(), 1);
  EXPECT_EQ(drv.revokes.load(), 1);
  EXPECT_TRUE(h->close());
  EXPECT_EQ(drv.closes.load(), 1);
}

// The worker is woken only when it sleeps, and drain() only when the queue empties: queued from
// several threads at once, every node is still destroyed, and drain() waits for the last one.
TEST(DevfsDrain, WaitsForEveryNodeQueuedFromSeveralThreads) {
  CountingDriver drv;
  auto devfs = Devfs::create();
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<std::shared_ptr<Node>> nodes;
  for (int i = 0; i < kThreads * kEach; ++i) {
    auto node = devfs->make_node("pass" + std::to_string(i), drv, nullptr);
    ASSERT_TRUE(node);
    nodes.push_back(*node);
  }
  std::vector<std::thread> destroyers;
  for (int t = 0; t < kThreads; ++t) {
    destroyers.emplace_back([&, t] {
      for (int i = t * kEach; i < (t + 1) * kEach; ++i) {
        devfs->destroy_node_async(nodes[static_cast<std::size_t>(i)]);
        if (i % 64 == 0) {
          std::this_thread::yield();  // Let the worker empty the queue and sleep now and then.
        }
      }
    });
  }
  for (auto& d : destroyers) {
    d.join();
  }
  devfs->drain();
  EXPECT_EQ(drv.gone_calls.load(), kThreads * kEach);
  EXPECT_TRUE(devfs->names().empty());
}

TEST(DevfsRace, ConcurrentOpensClosesAndDestroyBalanceExactly) {
  for (int round = 0; round < 20; ++round) {
    CountingDriver drv;
    auto devfs = Devfs::create();
    auto node = devfs->make_node("pass0", drv, nullptr);
    ASSERT_TRUE(node);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        while (!go.load()) {
        }
        for (int i = 0; i < 200; ++i) {
          auto h = devfs->open("pass0");
          if (!h) {
            const int e = h.error().errno_value();
            EXPECT_TRUE(e == ENXIO || e == ENOENT) << e;
            continue;
          }
          (void)h->close();
        }
      });
    }
    go = true;
    devfs->destroy_node_async(*node);
    for (auto& t : threads) {
      t.join();
    }
    devfs->drain();
    EXPECT_EQ(drv.opens.load(), drv.closes.load());
    EXPECT_EQ(drv.gone_calls.load(), 1);
    EXPECT_EQ(drv.gone_with_opens_outstanding, 0);
  }
}

}  // namespace
}  // namespace ucam::devfs
