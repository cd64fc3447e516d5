// Device nodes (FreeBSD devfs + kern_conf.c, as ucam needs them).
//
// A driver creates named nodes with a `CdevSw` (its open/close/ioctl methods). Processes (the
// CLI in-process, or ucamd on behalf of clients) open nodes and get a `FileHandle`.
//
// Track-close: every successful open gets exactly one close. A FileHandle is move-only; its
// close() (or its destructor) closes it once. When a node is destroyed while handles are still
// open, devfs closes them for the driver (CloseReason::Revoke) after every thread has left the
// driver's methods; a later close() of such a handle succeeds without calling the driver. So
// the driver sees exactly one close per successful open, whatever the interleaving.
//
// Destruction (destroy_dev): new entries fail with ENXIO at once; devfs waits for threads
// inside driver methods to leave; revokes outstanding opens; calls CdevSw::gone() (the driver
// drops the node's own reference there); then removes the name.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"

namespace ucam::devfs {

class Devfs;
class Node;
class OpenFile;

enum OpenFlag : std::uint32_t {
  kOpenRead = 1U << 0,
  kOpenWrite = 1U << 1,
  kOpenNonBlock = 1U << 2,
};

enum class CloseReason : std::uint8_t {
  Normal,  // The holder closed it.
  Revoke,  // The node was destroyed with the open outstanding (FREVOKE).
};

// Base of every ioctl-style request; drivers define one struct per request code.
class Ioctl {
 public:
  explicit Ioctl(std::uint32_t code) : m_code(code) {}
  virtual ~Ioctl() = default;
  std::uint32_t code() const { return m_code; }

 protected:
  Ioctl(const Ioctl&) = default;
  Ioctl& operator=(const Ioctl&) = default;

 private:
  std::uint32_t m_code;
};

// Per-open state. Drivers may hang their own data on it.
class OpenFile {
 public:
  explicit OpenFile(std::uint32_t flags) : m_flags(flags) {}
  std::uint32_t flags() const { return m_flags; }
  void* driver_data = nullptr;  // Owned by the driver; set in open, cleared in close.

 private:
  friend class Devfs;
  friend class FileHandle;
  enum class State : std::uint8_t { Open, Closed, Revoked };
  std::uint32_t m_flags;
  State m_state = State::Open;  // Guarded by the node's lock.
};

// The driver's methods (cdevsw). Each runs with the node entered (destroy waits for it).
class CdevSw {
 public:
  virtual ~CdevSw() = default;
  virtual Result<void> open(Node& node, OpenFile& file) = 0;
  // Called exactly once for every successful open. Must not fail.
  virtual void close(Node& node, OpenFile& file, CloseReason reason) = 0;
  virtual Result<void> ioctl(Node& node, OpenFile& file, Ioctl& request) = 0;
  // The node is gone: no thread is inside and every open has been closed (devgonecb).
  virtual void gone(Node& node) = 0;
};

struct NodeOptions {
  bool exclusive = false;     // A second concurrent open fails with EBUSY.
  std::uint32_t mode = 0600;  // Informational permissions (ucamd enforces access).
  std::string group = "operator";
};

class Node {
 public:
  const std::string& name() const { return m_name; }
  void* drv1() const { return m_drv1; }  // Driver cookie (FreeBSD si_drv1), e.g. the Periph.
  const NodeOptions& options() const { return m_options; }
  std::size_t open_count() const;
  bool dying() const;

 private:
  friend class Devfs;
  friend class FileHandle;
  Node(std::string name, CdevSw& sw, void* drv1, NodeOptions options)
      : m_name(std::move(name)), m_sw(&sw), m_drv1(drv1), m_options(std::move(options)) {}

  // dev_refthread / dev_relthread.
  Result<void> enter();
  void leave();

  const std::string m_name;
  Devfs* m_devfs = nullptr;  // Set by make_node; the Devfs outlives entries into the node.
  CdevSw* m_sw;              // Valid until gone() returns.
  void* m_drv1;
  const NodeOptions m_options;
  mutable std::mutex m_lock;
  std::condition_variable m_cv;
  std::uint32_t m_threads = 0;  // Threads inside driver methods. Guarded by m_lock.
  bool m_dying = false;         // Destroy scheduled. Guarded by m_lock.
  bool m_opening = false;       // An exclusive open is in progress. Guarded by m_lock.
  std::vector<std::shared_ptr<OpenFile>> m_opens;  // Guarded by m_lock.
};

// One open of a node. Move-only: exactly one close.
class FileHandle {
 public:
  FileHandle() = default;
  FileHandle(FileHandle&& other) noexcept = default;
  FileHandle& operator=(FileHandle&& other) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle();

  // Closes. Succeeds (without calling the driver) if the node was destroyed meanwhile.
  Result<void> close();
  // Fails with ENXIO once the node is being destroyed, EBADF after close().
  Result<void> ioctl(Ioctl& request);
  bool is_open() const { return m_node != nullptr; }
  const std::string& node_name() const;
  // The node this handle opened (nullptr after close()): identifies it even when a node of the
  // same name replaced it (a departed device that returned). The handle keeps it alive.
  const Node* node() const { return m_node.get(); }

 private:
  friend class Devfs;
  FileHandle(std::shared_ptr<Node> node, std::shared_ptr<OpenFile> file)
      : m_node(std::move(node)), m_file(std::move(file)) {}
  std::shared_ptr<Node> m_node;
  std::shared_ptr<OpenFile> m_file;
};

struct DevfsStats {
  std::size_t nodes = 0;  // Named nodes, dying ones included.
  std::size_t opens = 0;  // Outstanding opens across nodes.
  std::uint64_t opens_total = 0;
  std::uint64_t closes_total = 0;  // Normal closes + revokes.
  std::uint64_t revokes_total = 0;
};

class Devfs {
 public:
  // Starts the destroy worker (destroy_dev_sched's taskqueue).
  static std::unique_ptr<Devfs> create();
  // Destroys every remaining node, then stops the worker.
  ~Devfs();
  Devfs(const Devfs&) = delete;
  Devfs& operator=(const Devfs&) = delete;

  // make_dev: fails with EEXIST if the name is taken. `sw` must stay valid until gone().
  Result<std::shared_ptr<Node>> make_node(std::string name, CdevSw& sw, void* drv1,
                                          NodeOptions options = {});
  // destroy_dev_sched_cb: new entries fail with ENXIO from now on; the rest runs on the destroy
  // worker. Never blocks; safe from event callbacks. Idempotent.
  void destroy_node_async(const std::shared_ptr<Node>& node);
  // destroy_dev: the same, synchronously. Blocks; never call from inside the node's methods.
  void destroy_node(const std::shared_ptr<Node>& node);

  // Opens by name: ENOENT if no such node, ENXIO if it is being destroyed, EBUSY for a second
  // open of an exclusive node, or the driver's error.
  Result<FileHandle> open(std::string_view name, std::uint32_t flags = kOpenRead | kOpenWrite);

  std::vector<std::string> names() const;
  DevfsStats stats() const;
  // Waits until the destroy worker has nothing queued or running.
  void drain();

 private:
  friend class FileHandle;
  Devfs() = default;
  void worker_main();
  void finish_destroy(const std::shared_ptr<Node>& node);
  void closed(bool revoked);

  mutable std::mutex m_lock;
  // The worker waits on m_work_cv, drain() on m_idle_cv: a node queued for destruction wakes
  // the worker only if it sleeps (m_worker_waiting), and the worker wakes drain() only when the
  // queue is empty, not after each node (a teardown of 100,000 LUNs queues 200,000 nodes).
  std::condition_variable m_work_cv;
  std::condition_variable m_idle_cv;
  std::map<std::string, std::shared_ptr<Node>, std::less<>> m_nodes;  // Guarded by m_lock.
  std::deque<std::shared_ptr<Node>> m_destroy_queue;                  // Guarded by m_lock.
  bool m_worker_busy = false;                                         // Guarded by m_lock.
  bool m_worker_waiting = false;  // In m_work_cv.wait(). Guarded by m_lock.
  bool m_stopping = false;        // Guarded by m_lock.
  DevfsStats m_counters;          // Guarded by m_lock.
  std::thread m_worker;
};

}  // namespace ucam::devfs
