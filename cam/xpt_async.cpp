// Async event delivery and subscriptions (xpt_async / xpt_register_async).
#include <algorithm>
#include <utility>

#include "base/check.h"
#include "cam/xpt.h"

namespace ucam::cam {

std::string_view async_code_name(AsyncCode code) {
  switch (code) {
    case AsyncCode::BusReset:
      return "BusReset";
    case AsyncCode::SentBdr:
      return "SentBdr";
    case AsyncCode::PathRegistered:
      return "PathRegistered";
    case AsyncCode::PathDeregistered:
      return "PathDeregistered";
    case AsyncCode::FoundDevice:
      return "FoundDevice";
    case AsyncCode::LostDevice:
      return "LostDevice";
    case AsyncCode::InquiryChanged:
      return "InquiryChanged";
    case AsyncCode::AdvinfoChanged:
      return "AdvinfoChanged";
    case AsyncCode::UnitAttention:
      return "UnitAttention";
    case AsyncCode::ElementStatusChanged:
      return "ElementStatusChanged";
    case AsyncCode::EnclosureStatusChanged:
      return "EnclosureStatusChanged";
    case AsyncCode::SlotDeviceChanged:
      return "SlotDeviceChanged";
    case AsyncCode::ScsiAen:
      return "ScsiAen";
  }
  return "Unknown";
}

struct Xpt::Subscriber {
  std::uint32_t mask = 0;
  Path filter;
  AsyncCallback callback;
  bool removed = false;  // Guarded by Xpt::m_event_lock.
};

class Xpt::SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(Xpt& xpt, std::shared_ptr<Subscriber> sub) : m_xpt(xpt), m_sub(std::move(sub)) {}
  ~SubscriptionImpl() override { unsubscribe(); }
  SubscriptionImpl(const SubscriptionImpl&) = delete;
  SubscriptionImpl& operator=(const SubscriptionImpl&) = delete;

  void unsubscribe() override {
    std::unique_lock lock(m_xpt.m_event_lock);
    if (m_sub->removed) {
      return;
    }
    m_sub->removed = true;
    auto& subs = m_xpt.m_subscribers;
    subs.erase(std::remove(subs.begin(), subs.end(), m_sub), subs.end());
    if (std::this_thread::get_id() == m_xpt.m_event_thread_id) {
      return;  // From inside a callback (this one or another): nothing can be running.
    }
    assert_may_block("Subscription::unsubscribe");
    ++m_xpt.m_unsubscribe_waiters;
    m_xpt.m_unsubscribe_cv.wait(lock, [&] { return m_xpt.m_running_subscriber != m_sub.get(); });
    --m_xpt.m_unsubscribe_waiters;
  }

 private:
  Xpt& m_xpt;  // Must outlast the subscription.
  std::shared_ptr<Subscriber> m_sub;
};

std::unique_ptr<Subscription> Xpt::subscribe(std::uint32_t mask, const Path& filter,
                                             AsyncCallback callback) {
  auto sub = std::make_shared<Subscriber>();
  sub->mask = mask;
  sub->filter = filter;
  sub->callback = std::move(callback);
  {
    std::lock_guard lock(m_event_lock);
    m_subscribers.push_back(sub);
  }
  return std::make_unique<SubscriptionImpl>(*this, std::move(sub));
}

void Xpt::post_async(const AsyncEvent& event) {
  bool wake = false;
  {
    std::lock_guard lock(m_event_lock);
    m_events.push_back(event);
    // Only a waiting event thread needs the notify (a busy one finds the event when it looks
    // at the queue again), and only once: the first post after it went to sleep clears the flag.
    wake = std::exchange(m_event_thread_waiting, false);
  }
  if (wake) {
    m_event_cv.notify_one();
  }
}

void Xpt::event_thread_main() {
  std::unique_lock lock(m_event_lock);
  for (;;) {
    while (!m_stopping && m_events.empty()) {
      m_event_thread_waiting = true;
      m_event_cv.wait(lock);
    }
    m_event_thread_waiting = false;
    if (m_events.empty()) {
      return;
    }
    const AsyncEvent event = m_events.front();
    m_events.pop_front();
    m_event_busy = true;
    const auto subscribers = m_subscribers;  // Callbacks may (un)subscribe.
    for (const auto& sub : subscribers) {
      if (sub->removed || (sub->mask & static_cast<std::uint32_t>(event.code)) == 0 ||
          !(sub->filter.matches(event.path) || event.path.matches(sub->filter))) {
        continue;
      }
      m_running_subscriber = sub.get();
      lock.unlock();
      sub->callback(event);
      lock.lock();
      m_running_subscriber = nullptr;
      if (m_unsubscribe_waiters != 0) {
        m_unsubscribe_cv.notify_all();
      }
    }
    m_event_busy = false;
    if (m_events.empty()) {
      m_event_idle_cv.notify_all();  // drain() waits for this, not for each event.
    }
  }
}

void Xpt::request_rescan(const Path& path) {
  {
    std::lock_guard lock(m_scan_lock);
    if (std::find(m_scan_requests.begin(), m_scan_requests.end(), path) == m_scan_requests.end()) {
      m_scan_requests.push_back(path);
    }
  }
  m_scan_cv.notify_all();
}

void Xpt::scan_thread_main() {
  std::unique_lock lock(m_scan_lock);
  for (;;) {
    m_scan_cv.wait(lock, [&] { return m_stopping || !m_scan_requests.empty(); });
    if (m_stopping) {
      m_scan_requests.clear();
      m_scan_busy = false;
      m_scan_cv.notify_all();
      return;
    }
    const Path path = m_scan_requests.front();
    m_scan_requests.pop_front();
    m_scan_busy = true;
    lock.unlock();
    (void)scan(path);  // Failures are logged by scan(); a rescan is best effort.
    lock.lock();
    m_scan_busy = false;
    m_scan_cv.notify_all();
  }
}

void Xpt::drain() {
  if (std::this_thread::get_id() == m_event_thread_id) {
    return;
  }
  assert_may_block("Xpt::drain");
  // Scans post events and event handlers may request scans: loop until both are idle at once.
  for (;;) {
    {
      std::unique_lock lock(m_scan_lock);
      m_scan_cv.wait(lock, [&] { return m_scan_requests.empty() && !m_scan_busy; });
    }
    {
      std::unique_lock lock(m_event_lock);
      m_event_idle_cv.wait(lock, [&] { return m_events.empty() && !m_event_busy; });
    }
    std::lock_guard lock(m_scan_lock);
    if (m_scan_requests.empty() && !m_scan_busy) {
      std::lock_guard elock(m_event_lock);
      if (m_events.empty() && !m_event_busy) {
        return;
      }
    }
  }
}

}  // namespace ucam::cam
