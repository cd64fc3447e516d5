#include "devfs/devfs.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "base/check.h"
#include "base/log.h"

namespace ucam::devfs {

// ---------------------------------------------------------------------------------------------
// Node

std::size_t Node::open_count() const {
  std::lock_guard lock(m_lock);
  return m_opens.size();
}

bool Node::dying() const {
  std::lock_guard lock(m_lock);
  return m_dying;
}

Result<void> Node::enter() {
  std::lock_guard lock(m_lock);
  if (m_dying) {
    return fail_errno(ENXIO, m_name);
  }
  ++m_threads;
  return {};
}

void Node::leave() {
  std::lock_guard lock(m_lock);
  if (--m_threads == 0 && m_dying) {
    m_cv.notify_all();
  }
}

// ---------------------------------------------------------------------------------------------
// FileHandle

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
  if (this != &other) {
    (void)close();
    m_node = std::move(other.m_node);
    m_file = std::move(other.m_file);
  }
  return *this;
}

FileHandle::~FileHandle() {
  (void)close();
}

const std::string& FileHandle::node_name() const {
  static const std::string kNone;
  return m_node ? m_node->name() : kNone;
}

Result<void> FileHandle::close() {
  if (!m_node) {
    return fail_errno(EBADF, "close: handle is not open");
  }
  auto node = std::move(m_node);
  auto file = std::move(m_file);
  if (!node->enter()) {
    // Being destroyed: the destroyer closes (revokes) this open for the driver, exactly once.
    return {};
  }
  {
    std::lock_guard lock(node->m_lock);
    file->m_state = OpenFile::State::Closed;
    auto& opens = node->m_opens;
    opens.erase(std::remove(opens.begin(), opens.end(), file), opens.end());
  }
  node->m_sw->close(*node, *file, CloseReason::Normal);
  node->m_devfs->closed(false);
  node->leave();
  return {};
}

Result<void> FileHandle::ioctl(Ioctl& request) {
  if (!m_node) {
    return fail_errno(EBADF, "ioctl: handle is not open");
  }
  if (auto r = m_node->enter(); !r) {
    return r;
  }
  auto result = m_node->m_sw->ioctl(*m_node, *m_file, request);
  m_node->leave();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Devfs

std::unique_ptr<Devfs> Devfs::create() {
  std::unique_ptr<Devfs> devfs(new Devfs());
  devfs->m_worker = std::thread([p = devfs.get()] { p->worker_main(); });
  return devfs;
}

Devfs::~Devfs() {
  std::vector<std::shared_ptr<Node>> remaining;
  {
    std::lock_guard lock(m_lock);
    for (auto& [name, node] : m_nodes) {
      remaining.push_back(node);
    }
  }
  for (auto& node : remaining) {
    destroy_node_async(node);
  }
  drain();
  {
    std::lock_guard lock(m_lock);
    m_stopping = true;
  }
  m_work_cv.notify_all();
  m_worker.join();
}

Result<std::shared_ptr<Node>> Devfs::make_node(std::string name, CdevSw& sw, void* drv1,
                                               NodeOptions options) {
  std::shared_ptr<Node> node(new Node(name, sw, drv1, std::move(options)));
  node->m_devfs = this;
  std::lock_guard lock(m_lock);
  if (!m_nodes.emplace(name, node).second) {
    return fail_errno(EEXIST, "make_node " + name);
  }
  return node;
}

void Devfs::destroy_node_async(const std::shared_ptr<Node>& node) {
  {
    std::lock_guard nlock(node->m_lock);
    if (node->m_dying) {
      return;
    }
    node->m_dying = true;  // CDP_SCHED_DTR: new entries fail from now on.
  }
  bool wake = false;
  {
    std::lock_guard lock(m_lock);
    m_destroy_queue.push_back(node);
    wake = std::exchange(m_worker_waiting, false);  // Once per sleep, not per node.
  }
  if (wake) {
    m_work_cv.notify_one();
  }
}

void Devfs::destroy_node(const std::shared_ptr<Node>& node) {
  assert_may_block("Devfs::destroy_node");
  destroy_node_async(node);
  drain();
}

// destroy_devl: wait for threads inside the driver, revoke outstanding opens, tell the driver.
void Devfs::finish_destroy(const std::shared_ptr<Node>& node) {
  std::vector<std::shared_ptr<OpenFile>> opens;
  {
    std::unique_lock lock(node->m_lock);
    node->m_cv.wait(lock, [&] { return node->m_threads == 0; });
    opens.swap(node->m_opens);
    for (auto& f : opens) {
      f->m_state = OpenFile::State::Revoked;
    }
  }
  for (auto& f : opens) {
    node->m_sw->close(*node, *f, CloseReason::Revoke);
    closed(true);
  }
  // The name goes before gone(): gone() may free the periph, and a replacement periph attached
  // right after may want the same name (unit numbers are reused once freed).
  {
    std::lock_guard lock(m_lock);
    auto it = m_nodes.find(node->name());
    if (it != m_nodes.end() && it->second == node) {
      m_nodes.erase(it);
    }
  }
  node->m_sw->gone(*node);
}

void Devfs::worker_main() {
  std::unique_lock lock(m_lock);
  for (;;) {
    while (!m_stopping && m_destroy_queue.empty()) {
      m_worker_waiting = true;
      m_work_cv.wait(lock);
    }
    m_worker_waiting = false;
    if (m_destroy_queue.empty()) {
      return;
    }
    auto node = std::move(m_destroy_queue.front());
    m_destroy_queue.pop_front();
    m_worker_busy = true;
    lock.unlock();
    finish_destroy(node);
    lock.lock();
    m_worker_busy = false;
    if (m_destroy_queue.empty()) {
      m_idle_cv.notify_all();
    }
  }
}

void Devfs::drain() {
  assert_may_block("Devfs::drain");
  std::unique_lock lock(m_lock);
  m_idle_cv.wait(lock, [&] { return m_destroy_queue.empty() && !m_worker_busy; });
}

Result<FileHandle> Devfs::open(std::string_view name, std::uint32_t flags) {
  std::shared_ptr<Node> node;
  {
    std::lock_guard lock(m_lock);
    auto it = m_nodes.find(name);
    if (it == m_nodes.end()) {
      return fail_errno(ENOENT, std::string(name));
    }
    node = it->second;
  }
  if (auto r = node->enter(); !r) {
    return fail(r.error());
  }
  const bool exclusive = node->m_options.exclusive;
  if (exclusive) {
    std::lock_guard lock(node->m_lock);
    if (!node->m_opens.empty() || node->m_opening) {
      node->m_threads--;  // leave() without the notify dance: we hold the lock.
      if (node->m_threads == 0 && node->m_dying) {
        node->m_cv.notify_all();
      }
      return fail_errno(EBUSY, std::string(name) + ": exclusive device already open");
    }
    node->m_opening = true;
  }
  auto file = std::make_shared<OpenFile>(flags);
  auto r = node->m_sw->open(*node, *file);
  {
    std::lock_guard lock(node->m_lock);
    node->m_opening = false;
    if (r) {
      node->m_opens.push_back(file);
    }
  }
  if (r) {
    std::lock_guard lock(m_lock);
    ++m_counters.opens_total;
    ++m_counters.opens;
  }
  node->leave();
  if (!r) {
    return fail(r.error());
  }
  return FileHandle(std::move(node), std::move(file));
}

void Devfs::closed(bool revoked) {
  std::lock_guard lock(m_lock);
  ++m_counters.closes_total;
  --m_counters.opens;
  if (revoked) {
    ++m_counters.revokes_total;
  }
}

std::vector<std::string> Devfs::names() const {
  std::lock_guard lock(m_lock);
  std::vector<std::string> out;
  for (const auto& [name, node] : m_nodes) {
    out.push_back(name);
  }
  return out;
}

DevfsStats Devfs::stats() const {
  std::lock_guard lock(m_lock);
  DevfsStats s = m_counters;
  s.nodes = m_nodes.size();
  return s;
}

}  // namespace ucam::devfs
