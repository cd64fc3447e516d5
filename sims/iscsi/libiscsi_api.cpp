#include "sims/iscsi/libiscsi_api.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <string>

namespace ucam::iscsi {
namespace {

constexpr const char* kPackageHint = "install Debian's libiscsi7 package";

// dlerror() is per thread, so reading it right after the failing call is safe.
std::string last_dl_error() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown error";
}

}  // namespace

Result<LibiscsiApi> load_libiscsi(const char* soname) {
  void* handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return fail(Error::described(
        ELIBACC, fmt::format("iSCSI needs {} ({}): {}", soname, kPackageHint, last_dl_error())));
  }
  LibiscsiApi api;
  std::string missing;
  // dlsym() gives a void*; POSIX guarantees it converts to a function pointer.
#define UCAM_LIBISCSI_RESOLVE(name)                                        \
  if (missing.empty()) {                                                   \
    api.name = reinterpret_cast<decltype(api.name)>(dlsym(handle, #name)); \
    if (api.name == nullptr) {                                             \
      missing = #name;                                                     \
    }                                                                      \
  }
  UCAM_LIBISCSI_FUNCTIONS(UCAM_LIBISCSI_RESOLVE)
#undef UCAM_LIBISCSI_RESOLVE
  if (!missing.empty()) {
    dlclose(handle);
    return fail(Error::described(
        ELIBACC, fmt::format("iSCSI: {} has no {} ({})", soname, missing, kPackageHint)));
  }
  return api;  // The handle is never closed: the table points into the library.
}

Result<const LibiscsiApi*> libiscsi() {
  // A success is kept for the life of the process; a failure is not, so a long-running ucamd
  // finds libiscsi7 once the administrator installs it, as the error message asks.
  static std::mutex lock;
  static std::optional<LibiscsiApi> loaded;
  const std::lock_guard guard(lock);
  if (!loaded) {
    auto api = load_libiscsi(kLibiscsiSoname);
    if (!api) {
      return fail(api.error());
    }
    loaded = *api;
  }
  return &*loaded;
}

}  // namespace ucam::iscsi
