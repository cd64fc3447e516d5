// libiscsi, loaded when the first iSCSI SIM is created rather than when the process starts:
// ucamctl and ucamd map libiscsi (and what it pulls in: libibverbs, librdmacm, libnl) only when
// they talk iSCSI, and a machine without libiscsi7 runs everything else.
//
// The SIM calls libiscsi through a table of function pointers resolved with dlopen + dlsym.
// Each pointer's type is taken from libiscsi's own prototype (decltype), so calls are checked
// against the headers as if they were direct; the headers are still needed at build time.
// Internal to sims/iscsi (its users never see libiscsi's headers).
#pragma once

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "base/result.h"

// Every libiscsi function the SIM calls: X(name) for each.
#define UCAM_LIBISCSI_FUNCTIONS(X)    \
  X(iscsi_create_context)             \
  X(iscsi_destroy_context)            \
  X(iscsi_set_noautoreconnect)        \
  X(iscsi_set_reconnect_max_retries)  \
  X(iscsi_set_session_type)           \
  X(iscsi_set_header_digest)          \
  X(iscsi_set_targetname)             \
  X(iscsi_set_initiator_username_pwd) \
  X(iscsi_set_target_username_pwd)    \
  X(iscsi_connect_async)              \
  X(iscsi_login_async)                \
  X(iscsi_logout_async)               \
  X(iscsi_scsi_command_async)         \
  X(iscsi_nop_out_async)              \
  X(iscsi_get_nops_in_flight)         \
  X(iscsi_get_fd)                     \
  X(iscsi_which_events)               \
  X(iscsi_service)                    \
  X(iscsi_get_error)                  \
  X(scsi_create_task)                 \
  X(scsi_free_scsi_task)              \
  X(scsi_task_add_data_in_buffer)     \
  X(scsi_task_add_data_out_buffer)

namespace ucam::iscsi {

// One member per function, named like it: lib.iscsi_service(context, revents).
struct LibiscsiApi {
#define UCAM_LIBISCSI_MEMBER(name) decltype(&::name) name = nullptr;
  UCAM_LIBISCSI_FUNCTIONS(UCAM_LIBISCSI_MEMBER)
#undef UCAM_LIBISCSI_MEMBER
};

// The library the SIM loads (Debian package libiscsi7).
inline constexpr const char* kLibiscsiSoname = "libiscsi.so.7";

// Loads `soname` (dlopen, RTLD_NOW | RTLD_LOCAL) and resolves every function. On success the
// library stays loaded for the life of the process and the table is the caller's. Errors
// (ELIBACC, with a message naming the library, what is missing and the Debian package): the
// library cannot be loaded, or lacks one of the functions (then it is unloaded again).
// Thread-safe. For tests and libiscsi() below; the SIM uses libiscsi().
Result<LibiscsiApi> load_libiscsi(const char* soname);

// The process's table: load_libiscsi(kLibiscsiSoname) until it succeeds (thread-safe), the
// same table ever after. The pointer stays valid until the process exits.
Result<const LibiscsiApi*> libiscsi();

}  // namespace ucam::iscsi
