// libucam-sg.so: the interposed libc entry points (docs/preload.md).
//
// A ucam path (under $UCAM_SG_PREFIX, default /dev/ucam/) opens as one new connection to ucamd
// plus an `open` RPC; the fd handed to the program is that connected socket, so the program's
// close() ends the session and each open gets exactly its own close. ioctl() and the fstat()
// family on such an fd are answered here (SG_IO as sg.io with binary data, the SG_* ioctls as
// sg.ioctl or locally, the fd as a character device 21:N); every other fd and path goes
// straight to the next definition (libc's), found with dlsym(RTLD_NEXT), after one lookup.
//
// The state is process-wide by nature (it shadows the kernel's file table): one FileTable,
// allocated on first use and never freed, so a close() from an atexit handler or a static
// destructor still finds it.
//
// dup(), dup2(), dup3() and fcntl(F_DUPFD*) of a ucam fd add the new fd to the same file, as
// the kernel shares one open file description: the `close` RPC goes when the last of them is
// closed, and the connection moves to a remaining fd when the one it uses is closed (shells
// open a redirection on some fd, dup2() it to the target and close the original).
//
// Locking: FileTable::m_lock (a shared mutex) guards the map from fd to file; each SgFile's
// m_lock serializes the calls on its connection (one request/reply at a time, as ucamd's
// framing needs). Order: never take the table lock while holding a file's lock. close() takes
// the file out of the table first, then its lock, so it waits for an ioctl in flight on the
// same fd before the socket goes (a kernel would let that ioctl finish too).
#undef _FORTIFY_SOURCE  // The fortified inline open() wrappers would clash with the definitions.

#include <dlfcn.h>
#include <fcntl.h>
#include <scsi/scsi.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "preload/connection.h"
#include "preload/path_map.h"
#include "preload/sg_translate.h"

// Linux's <scsi/sg.h> has it; glibc's copy of the header does not.
#ifndef SG_GET_ACCESS_COUNT
#define SG_GET_ACCESS_COUNT 0x2289
#endif

#define UCAM_EXPORT extern "C" __attribute__((visibility("default")))

namespace ucam::preload {
namespace {

// ---- The next definitions (libc's) ---------------------------------------------------------

template <class F>
F next_symbol(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}
#define UCAM_NEXT(name, type)                       \
  ([]() -> type {                                   \
    static const type fn = next_symbol<type>(name); \
    return fn;                                      \
  }())

using OpenFn = int (*)(const char*, int, ...);
using OpenatFn = int (*)(int, const char*, int, ...);
using Open2Fn = int (*)(const char*, int);
using Openat2Fn = int (*)(int, const char*, int);
using CloseFn = int (*)(int);
using DupFn = int (*)(int);
using Dup2Fn = int (*)(int, int);
using Dup3Fn = int (*)(int, int, int);
using FcntlFn = int (*)(int, int, ...);
using ReadFn = ssize_t (*)(int, void*, size_t);
using WriteFn = ssize_t (*)(int, const void*, size_t);
using IoctlFn = int (*)(int, unsigned long, ...);
using FstatFn = int (*)(int, struct stat*);
using Fstat64Fn = int (*)(int, struct stat64*);
using StatFn = int (*)(const char*, struct stat*);
using Stat64Fn = int (*)(const char*, struct stat64*);
using FstatatFn = int (*)(int, const char*, struct stat*, int);
using Fstatat64Fn = int (*)(int, const char*, struct stat64*, int);
using XstatFn = int (*)(int, const char*, struct stat*);
using Xstat64Fn = int (*)(int, const char*, struct stat64*);
using FxstatFn = int (*)(int, int, struct stat*);
using Fxstat64Fn = int (*)(int, int, struct stat64*);
using StatxFn = int (*)(int, const char*, int, unsigned, struct statx*);

// ---- Configuration -------------------------------------------------------------------------

// Read once: the environment a program starts with is the one it keeps for its opens.
const std::string& prefix() {
  static const std::string p = prefix_from_env(std::getenv("UCAM_SG_PREFIX"));
  return p;
}

bool debug() {
  static const bool d = [] {
    const char* e = std::getenv("UCAM_SG_DEBUG");
    return e != nullptr && *e != '\0' && *e != '0';
  }();
  return d;
}

// The node an absolute path names, if it is a ucam path.
std::optional<std::string> ucam_node(const char* path) {
  if (path == nullptr) {
    return std::nullopt;
  }
  return node_of(path, prefix());
}

// ---- Open files ----------------------------------------------------------------------------

struct SgFile {
  SgFile(Connection c, std::int64_t h, std::string n)
      : conn(std::move(c)), handle(h), node(std::move(n)) {}

  std::mutex m_lock;
  Connection conn;  // Guarded by m_lock.
  const std::int64_t handle;
  const std::string node;
  const pid_t owner = ::getpid();  // A child after fork() must not close the parent's handle.
  std::vector<int> fds;            // The program's fds for it. Guarded by FileTable::m_lock.
  // What Linux keeps per fd and ucamd has no use for (no write()/read() interface).
  int command_q = 0;      // Guarded by m_lock.
  int force_pack_id = 0;  // Guarded by m_lock.
  int keep_orphan = 0;    // Guarded by m_lock.
};

// A file taken out of the table for one fd, and the fds it still has.
struct Taken {
  std::shared_ptr<SgFile> file;
  std::vector<int> remaining;
};

class FileTable {
 public:
  static FileTable& get() {
    static FileTable* table = new FileTable();  // Never freed: see the file comment.
    return *table;
  }

  // The file behind `fd`, or nullptr. One atomic load when no ucam fd is open.
  std::shared_ptr<SgFile> find(int fd) {
    if (m_count.load(std::memory_order_acquire) == 0) {
      return nullptr;
    }
    std::shared_lock lock(m_lock);
    const auto it = m_files.find(fd);
    return it == m_files.end() ? nullptr : it->second;
  }

  // Makes `fd` one of `file`'s fds. An entry `fd` still had is dropped: the kernel reused the
  // number, so that fd was closed behind our back.
  Taken insert(int fd, const std::shared_ptr<SgFile>& file) {
    std::unique_lock lock(m_lock);
    Taken old = take_locked(fd);
    m_files.emplace(fd, file);
    file->fds.push_back(fd);
    m_count.fetch_add(1, std::memory_order_release);
    return old;
  }

  // Removes `fd` (nothing if it is not ours).
  Taken take(int fd) {
    if (m_count.load(std::memory_order_acquire) == 0) {
      return {};
    }
    std::unique_lock lock(m_lock);
    return take_locked(fd);
  }

 private:
  FileTable() = default;

  Taken take_locked(int fd) {
    const auto it = m_files.find(fd);
    if (it == m_files.end()) {
      return {};
    }
    Taken out{std::move(it->second), {}};
    m_files.erase(it);
    m_count.fetch_sub(1, std::memory_order_release);
    std::erase(out.file->fds, fd);
    out.remaining = out.file->fds;
    return out;
  }

  std::shared_mutex m_lock;
  std::unordered_map<int, std::shared_ptr<SgFile>> m_files;  // Guarded by m_lock.
  std::atomic<std::size_t> m_count{0};  // m_files.size(), read without the lock.
};

// After `fd` left the table (`taken`): the connection moves off it if other fds remain; with
// none left, `send_close` says whether to end the handle with a `close` RPC (only while `fd`
// is still this socket, and only in the process that opened it).
void release(int fd, Taken& taken, bool send_close);

// An fd the kernel just handed out for something else cannot be one of ours any more: the
// program closed ours behind our back (close_range(), a raw system call). Forget it.
int forget_stale(int fd) {
  if (fd >= 0) {
    Taken stale = FileTable::get().take(fd);
    if (stale.file) {
      release(fd, stale, false);
    }
  }
  return fd;
}

constexpr int kControlTimeoutMs = 30'000;  // open/close/ioctl RPCs (not SG_IO: its own timeout).

// Opens `node`: a new connection to ucamd, then `open`. The fd, or -1 with errno.
int open_ucam(const std::string& node, int flags) {
  auto fd = connect_socket(socket_from_env(std::getenv("UCAM_SOCKET")), (flags & O_CLOEXEC) != 0);
  if (!fd) {
    errno = fd.error();
    return -1;
  }
  Connection conn(*fd);
  auto reply = conn.call("open", json{{"node", node}}, {}, false, kControlTimeoutMs);
  int err = 0;
  std::int64_t handle = -1;
  if (!reply) {
    err = ENXIO;  // Connected, then lost: ucamd is going away.
  } else if (reply->error) {
    err = errno_of(*reply->error);
  } else if (const auto h = reply->result.find("handle");
             h == reply->result.end() || !h->is_number_integer()) {
    err = EIO;
  } else {
    handle = h->get<std::int64_t>();
  }
  if (err != 0) {
    if (debug()) {
      std::fprintf(stderr, "libucam-sg: open %s: %s\n", node.c_str(),
                   reply && reply->error ? reply->error->dump().c_str() : std::strerror(err));
    }
    close_raw(*fd);
    errno = err;
    return -1;
  }
  // The connection goes on as the file's (its request ids continue).
  Taken stale =
      FileTable::get().insert(*fd, std::make_shared<SgFile>(std::move(conn), handle, node));
  if (stale.file) {
    release(*fd, stale, false);
  }
  return *fd;
}

// ---- ioctl ---------------------------------------------------------------------------------

// An sg.ioctl RPC: its result, or -1 with errno. Called with file.m_lock held.
std::optional<json> sg_ioctl_rpc(SgFile& file, const char* request, std::optional<int> value) {
  json params = {{"handle", file.handle}, {"request", request}};
  if (value) {
    params["value"] = *value;
  }
  auto reply = file.conn.call("sg.ioctl", params, {}, false, kControlTimeoutMs);
  if (!reply) {
    errno = EIO;
    return std::nullopt;
  }
  if (reply->error) {
    errno = errno_of(*reply->error);
    return std::nullopt;
  }
  return std::move(reply->result);
}

int int_of(const json& result, const char* field) {
  const auto f = result.find(field);
  return f != result.end() && f->is_number_integer() ? f->get<int>() : 0;
}

int do_sg_io(SgFile& file, sg_io_hdr_t* hdr) {
  if (hdr == nullptr) {
    errno = EFAULT;
    return -1;
  }
  auto call = sg_io_call(*hdr, file.handle);
  if (!call) {
    errno = call.error();
    return -1;
  }
  auto reply = file.conn.call("sg.io", call->params, call->data_out, call->binary_reply);
  if (!reply) {
    errno = EIO;
    return -1;
  }
  if (reply->error) {
    errno = errno_of(*reply->error);
    return -1;
  }
  if (auto r = apply_sg_io_result(*hdr, reply->result, reply->binary); !r) {
    errno = r.error();
    return -1;
  }
  return 0;
}

// An int-valued ioctl answered by ucamd: the value through `arg`.
int get_int(SgFile& file, const char* name, void* arg) {
  if (arg == nullptr) {
    errno = EFAULT;
    return -1;
  }
  auto result = sg_ioctl_rpc(file, name, std::nullopt);
  if (!result) {
    return -1;
  }
  *static_cast<int*>(arg) = int_of(*result, "value");
  return 0;
}

int set_int(SgFile& file, const char* name, void* arg) {
  if (arg == nullptr) {
    errno = EFAULT;
    return -1;
  }
  return sg_ioctl_rpc(file, name, *static_cast<int*>(arg)) ? 0 : -1;
}

// An int the fd keeps here: SET stores *arg, GET returns it through arg.
int local_int(int& field, void* arg, bool set) {
  if (arg == nullptr) {
    errno = EFAULT;
    return -1;
  }
  if (set) {
    field = *static_cast<int*>(arg) != 0 ? 1 : 0;
  } else {
    *static_cast<int*>(arg) = field;
  }
  return 0;
}

int do_ioctl(SgFile& file, unsigned long request, void* arg) {
  std::lock_guard lock(file.m_lock);
  switch (request) {
    case SG_IO:
      return do_sg_io(file, static_cast<sg_io_hdr_t*>(arg));
    case SG_GET_VERSION_NUM:
      return get_int(file, "SG_GET_VERSION_NUM", arg);
    case SG_GET_RESERVED_SIZE:
      return get_int(file, "SG_GET_RESERVED_SIZE", arg);
    case SG_SET_RESERVED_SIZE:
      return set_int(file, "SG_SET_RESERVED_SIZE", arg);
    case SG_SET_TIMEOUT:
      return set_int(file, "SG_SET_TIMEOUT", arg);
    case SG_GET_TIMEOUT: {
      // As Linux: the value is the ioctl's return value, arg unused.
      auto result = sg_ioctl_rpc(file, "SG_GET_TIMEOUT", std::nullopt);
      return result ? int_of(*result, "value") : -1;
    }
    case SG_EMULATED_HOST:
      return get_int(file, "SG_EMULATED_HOST", arg);
    case SG_GET_SG_TABLESIZE:
      return get_int(file, "SG_GET_SG_TABLESIZE", arg);
    case SG_GET_ACCESS_COUNT:
      return get_int(file, "SG_GET_ACCESS_COUNT", arg);
    case SCSI_IOCTL_GET_BUS_NUMBER:
      return get_int(file, "SCSI_IOCTL_GET_BUS_NUMBER", arg);
    case SG_GET_SCSI_ID: {
      if (arg == nullptr) {
        errno = EFAULT;
        return -1;
      }
      auto r = sg_ioctl_rpc(file, "SG_GET_SCSI_ID", std::nullopt);
      if (!r) {
        return -1;
      }
      auto* id = static_cast<sg_scsi_id*>(arg);
      std::memset(id, 0, sizeof(*id));
      id->host_no = int_of(*r, "host_no");
      id->channel = int_of(*r, "channel");
      id->scsi_id = int_of(*r, "scsi_id");
      id->lun = int_of(*r, "lun");
      id->scsi_type = int_of(*r, "scsi_type");
      id->h_cmd_per_lun = static_cast<short>(int_of(*r, "h_cmd_per_lun"));
      id->d_queue_depth = static_cast<short>(int_of(*r, "d_queue_depth"));
      return 0;
    }
    case SCSI_IOCTL_GET_IDLUN: {
      if (arg == nullptr) {
        errno = EFAULT;
        return -1;
      }
      auto r = sg_ioctl_rpc(file, "SCSI_IOCTL_GET_IDLUN", std::nullopt);
      if (!r) {
        return -1;
      }
      // struct scsi_idlun { int dev_id; int host_unique_id; } (the kernel's layout).
      auto* out = static_cast<int*>(arg);
      out[0] = int_of(*r, "dev_id");
      out[1] = int_of(*r, "host_unique_id");
      return 0;
    }
    // Answered here: settings of Linux's queued write()/read() interface, which ucam does not
    // offer (SG_IO is synchronous), kept per fd so a program reads back what it set.
    case SG_SET_COMMAND_Q:
      return local_int(file.command_q, arg, true);
    case SG_GET_COMMAND_Q:
      return local_int(file.command_q, arg, false);
    case SG_SET_FORCE_PACK_ID:
      return local_int(file.force_pack_id, arg, true);
    case SG_SET_KEEP_ORPHAN:
      return local_int(file.keep_orphan, arg, true);
    case SG_GET_KEEP_ORPHAN:
      return local_int(file.keep_orphan, arg, false);
    case SG_GET_PACK_ID:  // Nothing waits to be read(): -1, as Linux with an empty queue.
    case SG_GET_NUM_WAITING:
    case SG_GET_LOW_DMA: {
      if (arg == nullptr) {
        errno = EFAULT;
        return -1;
      }
      *static_cast<int*>(arg) = request == SG_GET_PACK_ID ? -1 : 0;
      return 0;
    }
    case SG_SET_DEBUG:  // Accepted and ignored (Linux's only changes kernel logging).
      return 0;
    default:
      errno = ENOTTY;
      return -1;
  }
}

// ---- stat ----------------------------------------------------------------------------------

// The fd or path as Linux shows an sg node: a character device 21:N (sgN), mode 0660 root.
// A ucam node that is not sgN shows as a character device with major 0: nothing that checks
// for sg will take it.
template <class Stat>
void fill_stat(Stat* st, const std::string& node) {
  std::memset(st, 0, sizeof(*st));
  const auto minor = sg_minor(node);
  st->st_mode = S_IFCHR | 0660;
  st->st_rdev = minor ? makedev(kScsiGenericMajor, *minor) : makedev(0, 0);
  st->st_dev = makedev(0, 5);  // devtmpfs-like; nothing interprets it.
  st->st_ino = minor ? 0x75630000 + *minor : 0x75630000;
  st->st_nlink = 1;
  st->st_blksize = 4096;
}

void fill_statx(struct statx* stx, const std::string& node) {
  std::memset(stx, 0, sizeof(*stx));
  const auto minor = sg_minor(node);
  stx->stx_mask = STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID | STATX_INO;
  stx->stx_mode = S_IFCHR | 0660;
  stx->stx_nlink = 1;
  stx->stx_blksize = 4096;
  stx->stx_ino = minor ? 0x75630000 + *minor : 0x75630000;
  stx->stx_rdev_major = minor ? kScsiGenericMajor : 0;
  stx->stx_rdev_minor = minor.value_or(0);
  stx->stx_dev_minor = 5;
}

// For the path stat()s: a ucam path that names sgN (no RPC: the node need not exist; opening
// it is what asks ucamd). Anything else under the prefix falls through to the file system.
std::optional<std::string> stat_node(const char* path) {
  auto node = ucam_node(path);
  if (!node || !sg_minor(*node)) {
    return std::nullopt;
  }
  return node;
}

template <class Stat>
bool stat_fd(int fd, Stat* st) {
  if (auto file = FileTable::get().find(fd)) {
    fill_stat(st, file->node);
    return true;
  }
  return false;
}

template <class Stat>
bool stat_path(const char* path, Stat* st) {
  if (auto node = stat_node(path)) {
    fill_stat(st, *node);
    return true;
  }
  return false;
}

template <class Stat>
bool stat_at(int dirfd, const char* path, Stat* st, int flags) {
  if (path != nullptr && *path == '\0' && (flags & AT_EMPTY_PATH) != 0) {
    return stat_fd(dirfd, st);
  }
  return path != nullptr && *path == '/' && stat_path(path, st);
}

// Never let an exception (std::bad_alloc, a json type error) out into C code.
template <class F>
int guarded(F f) {
  try {
    return f();
  } catch (...) {
    errno = EIO;
    return -1;
  }
}

void release(int fd, Taken& taken, bool send_close) {
  (void)guarded([&] {
    std::lock_guard lock(taken.file->m_lock);  // After an ioctl in flight on this file.
    if (!taken.remaining.empty()) {
      if (taken.file->conn.fd() == fd) {
        taken.file->conn.set_fd(taken.remaining.front());
      }
    } else if (send_close && taken.file->owner == ::getpid()) {
      // So that when close() returns, ucamd has closed the handle (the disconnect alone would
      // do it, but later). A forked child only drops its copy of the fd.
      (void)taken.file->conn.call("close", json{{"handle", taken.file->handle}}, {}, false,
                                  kControlTimeoutMs);
    }
    return 0;
  });
}

// After a successful dup of `old` to `fd`: `fd` joins old's file (if old is ours), and what
// `fd` was before (dup2() closes it implicitly) is released.
int after_dup(int old, int fd) {
  if (fd < 0) {
    return fd;
  }
  auto& table = FileTable::get();
  auto file = table.find(old);
  Taken before = file ? table.insert(fd, file) : table.take(fd);
  if (before.file && before.file != file) {
    release(fd, before, false);  // The kernel closed that socket fd: no RPC through it.
  }
  return fd;
}

int open_common(const char* path, int flags, auto real) {
  if (auto node = ucam_node(path)) {
    return guarded([&] { return open_ucam(*node, flags); });
  }
  return forget_stale(real());
}

mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

}  // namespace
}  // namespace ucam::preload

using namespace ucam::preload;  // NOLINT: the C entry points below only.

// ---- open ----------------------------------------------------------------------------------

UCAM_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_common(path, flags, [&] { return UCAM_NEXT("open", OpenFn)(path, flags, mode); });
}

UCAM_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_common(path, flags, [&] { return UCAM_NEXT("open64", OpenFn)(path, flags, mode); });
}

UCAM_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_common(path, flags,
                     [&] { return UCAM_NEXT("openat", OpenatFn)(dirfd, path, flags, mode); });
}

UCAM_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_common(path, flags,
                     [&] { return UCAM_NEXT("openat64", OpenatFn)(dirfd, path, flags, mode); });
}

// glibc's _FORTIFY_SOURCE entry points (libsgutils2 calls __open64_2).
UCAM_EXPORT int __open_2(const char* path, int flags) {
  return open_common(path, flags, [&] { return UCAM_NEXT("__open_2", Open2Fn)(path, flags); });
}

UCAM_EXPORT int __open64_2(const char* path, int flags) {
  return open_common(path, flags, [&] { return UCAM_NEXT("__open64_2", Open2Fn)(path, flags); });
}

UCAM_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  return open_common(path, flags,
                     [&] { return UCAM_NEXT("__openat_2", Openat2Fn)(dirfd, path, flags); });
}

UCAM_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  return open_common(path, flags,
                     [&] { return UCAM_NEXT("__openat64_2", Openat2Fn)(dirfd, path, flags); });
}

// ---- close ---------------------------------------------------------------------------------

UCAM_EXPORT int close(int fd) {
  Taken taken = FileTable::get().take(fd);
  if (taken.file) {
    release(fd, taken, true);
  }
  return UCAM_NEXT("close", CloseFn)(fd);
}

// ---- dup -----------------------------------------------------------------------------------

UCAM_EXPORT int dup(int old) noexcept {
  return after_dup(old, UCAM_NEXT("dup", DupFn)(old));
}

UCAM_EXPORT int dup2(int old, int fd) noexcept {
  const int r = UCAM_NEXT("dup2", Dup2Fn)(old, fd);
  return r >= 0 && r != old ? after_dup(old, r) : r;
}

UCAM_EXPORT int dup3(int old, int fd, int flags) noexcept {
  return after_dup(old, UCAM_NEXT("dup3", Dup3Fn)(old, fd, flags));
}

static int fcntl_common(int fd, int cmd, void* arg, FcntlFn real) {
  const int r = real(fd, cmd, arg);
  if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0) {
    return after_dup(fd, r);
  }
  return r;
}

UCAM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(fd, cmd, arg, UCAM_NEXT("fcntl", FcntlFn));
}

UCAM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(fd, cmd, arg, UCAM_NEXT("fcntl64", FcntlFn));
}

// ---- read, write ---------------------------------------------------------------------------

// Linux's queued sg interface (write() a request, read() its reply) is not offered: the bytes
// would reach ucamd's socket as garbage and end the session. Refused with ENOSYS instead, the
// fd stays usable for SG_IO.
UCAM_EXPORT ssize_t read(int fd, void* buf, size_t size) {
  if (FileTable::get().find(fd)) {
    errno = ENOSYS;
    return -1;
  }
  return UCAM_NEXT("read", ReadFn)(fd, buf, size);
}

UCAM_EXPORT ssize_t write(int fd, const void* buf, size_t size) {
  if (FileTable::get().find(fd)) {
    errno = ENOSYS;
    return -1;
  }
  return UCAM_NEXT("write", WriteFn)(fd, buf, size);
}

// ---- ioctl ---------------------------------------------------------------------------------

UCAM_EXPORT int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (auto file = FileTable::get().find(fd)) {
    const int r = guarded([&] { return do_ioctl(*file, request, arg); });
    if (debug()) {
      const int e = errno;
      std::fprintf(stderr, "libucam-sg: ioctl(%s, 0x%lx) = %d%s%s\n", file->node.c_str(), request,
                   r, r < 0 ? " " : "", r < 0 ? std::strerror(e) : "");
      errno = e;
    }
    return r;
  }
  return UCAM_NEXT("ioctl", IoctlFn)(fd, request, arg);
}

// ---- stat family ---------------------------------------------------------------------------

UCAM_EXPORT int fstat(int fd, struct stat* st) noexcept {
  return stat_fd(fd, st) ? 0 : UCAM_NEXT("fstat", FstatFn)(fd, st);
}

UCAM_EXPORT int fstat64(int fd, struct stat64* st) noexcept {
  return stat_fd(fd, st) ? 0 : UCAM_NEXT("fstat64", Fstat64Fn)(fd, st);
}

UCAM_EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) noexcept {
  return stat_at(dirfd, path, st, flags) ? 0
                                         : UCAM_NEXT("fstatat", FstatatFn)(dirfd, path, st, flags);
}

UCAM_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) noexcept {
  return stat_at(dirfd, path, st, flags)
             ? 0
             : UCAM_NEXT("fstatat64", Fstatat64Fn)(dirfd, path, st, flags);
}

UCAM_EXPORT int stat(const char* path, struct stat* st) noexcept {
  return stat_path(path, st) ? 0 : UCAM_NEXT("stat", StatFn)(path, st);
}

UCAM_EXPORT int stat64(const char* path, struct stat64* st) noexcept {
  return stat_path(path, st) ? 0 : UCAM_NEXT("stat64", Stat64Fn)(path, st);
}

UCAM_EXPORT int lstat(const char* path, struct stat* st) noexcept {
  return stat_path(path, st) ? 0 : UCAM_NEXT("lstat", StatFn)(path, st);
}

UCAM_EXPORT int lstat64(const char* path, struct stat64* st) noexcept {
  return stat_path(path, st) ? 0 : UCAM_NEXT("lstat64", Stat64Fn)(path, st);
}

// glibc declares `path` nonnull; callers break that promise, so it is checked all the same.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnonnull-compare"
UCAM_EXPORT int statx(int dirfd, const char* path, int flags, unsigned mask,
                      struct statx* stx) noexcept {
  if (path != nullptr && *path == '\0' && (flags & AT_EMPTY_PATH) != 0) {
    if (auto file = FileTable::get().find(dirfd)) {
      fill_statx(stx, file->node);
      return 0;
    }
  } else if (path != nullptr && *path == '/') {
    if (auto node = stat_node(path)) {
      fill_statx(stx, *node);
      return 0;
    }
  }
  return UCAM_NEXT("statx", StatxFn)(dirfd, path, flags, mask, stx);
}
#pragma GCC diagnostic pop

// The pre-2.33 names (binaries linked against an older glibc call these).
UCAM_EXPORT int __fxstat(int ver, int fd, struct stat* st) {
  return stat_fd(fd, st) ? 0 : UCAM_NEXT("__fxstat", FxstatFn)(ver, fd, st);
}

UCAM_EXPORT int __fxstat64(int ver, int fd, struct stat64* st) {
  return stat_fd(fd, st) ? 0 : UCAM_NEXT("__fxstat64", Fxstat64Fn)(ver, fd, st);
}

UCAM_EXPORT int __xstat(int ver, const char* path, struct stat* st) {
  return stat_path(path, st) ? 0 : UCAM_NEXT("__xstat", XstatFn)(ver, path, st);
}

UCAM_EXPORT int __xstat64(int ver, const char* path, struct stat64* st) {
  return stat_path(path, st) ? 0 : UCAM_NEXT("__xstat64", Xstat64Fn)(ver, path, st);
}

UCAM_EXPORT int __lxstat(int ver, const char* path, struct stat* st) {
  return stat_path(path, st) ? 0 : UCAM_NEXT("__lxstat", XstatFn)(ver, path, st);
}

UCAM_EXPORT int __lxstat64(int ver, const char* path, struct stat64* st) {
  return stat_path(path, st) ? 0 : UCAM_NEXT("__lxstat64", Xstat64Fn)(ver, path, st);
}
