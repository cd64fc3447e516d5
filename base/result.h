// Errors as values: the one error channel across layers.
//
// `Result<T>` is the return type of every fallible call that crosses a layer boundary. No
// exception crosses a layer. An `Error` carries exactly one cause (an errno, a CAM status or
// SCSI sense) plus a short context string a user can act on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace ucam {

// CAM status codes (FreeBSD cam.h `cam_status`, values kept so logs map one to one).
enum class CamStatus : std::uint8_t {
  ReqInProg = 0x00,
  ReqCmp = 0x01,
  ReqAborted = 0x02,
  UaAbort = 0x03,
  ReqCmpErr = 0x04,
  Busy = 0x05,
  ReqInvalid = 0x06,
  PathInvalid = 0x07,
  DevNotThere = 0x08,
  UaTerm = 0x09,
  SelTimeout = 0x0a,
  CmdTimeout = 0x0b,
  ScsiStatusError = 0x0c,
  MsgRejectRec = 0x0d,
  ScsiBusReset = 0x0e,
  UncorParity = 0x0f,
  AutosenseFail = 0x10,
  NoHba = 0x11,
  DataRunErr = 0x12,
  UnexpBusfree = 0x13,
  SequenceFail = 0x14,
  CcbLenErr = 0x15,
  ProvideFail = 0x16,
  BdrSent = 0x17,
  ReqTerminated = 0x18,
  Unrecoverable = 0x19,
  ResrcUnavail = 0x1a,
  Requeue = 0x1b,
  ScsiBusy = 0x1c,
  ReqTooBig = 0x1d,  // The transfer exceeds the bus's maximum (PathInquiry::maxio); not sent.
};

std::string_view cam_status_name(CamStatus status);

// A SCSI sense triple.
struct SenseCode {
  std::uint8_t key = 0;
  std::uint8_t asc = 0;
  std::uint8_t ascq = 0;
  friend bool operator==(const SenseCode&, const SenseCode&) = default;
};

class Error {
 public:
  enum class Kind : std::uint8_t { Errno, Cam, Sense };

  static Error from_errno(int errnum, std::string context) {
    return Error(Kind::Errno, errnum, CamStatus::ReqCmpErr, {}, std::move(context));
  }
  static Error from_cam(CamStatus status, std::string context) {
    return Error(Kind::Cam, 0, status, {}, std::move(context));
  }
  static Error from_sense(SenseCode sense, std::string context) {
    return Error(Kind::Sense, 0, CamStatus::ScsiStatusError, sense, std::move(context));
  }
  // An errno whose context is already the whole message for a user (no strerror appended).
  static Error described(int errnum, std::string message) {
    Error e = from_errno(errnum, std::move(message));
    e.m_described = true;
    return e;
  }
  // Bad input from outside (files, arguments, device bytes): EINVAL with a message that says
  // what is wrong and where.
  static Error invalid(std::string message) {
    return described(22 /* EINVAL */, std::move(message));
  }

  Kind kind() const { return m_kind; }
  // The errno a system-call-like interface returns for this error. CAM statuses and sense map
  // onto the errno FreeBSD's cam_periph_error would choose (EIO by default).
  int errno_value() const;
  CamStatus cam_status() const { return m_cam; }
  SenseCode sense() const { return m_sense; }
  const std::string& context() const { return m_context; }
  // "context: cause", e.g. "pass0: open: Device not configured".
  std::string message() const;

  Error with_context(std::string_view outer) const {
    Error e = *this;
    e.m_context = std::string(outer) + (m_context.empty() ? "" : ": " + m_context);
    return e;
  }

 private:
  Error(Kind kind, int errnum, CamStatus cam, SenseCode sense, std::string context)
      : m_kind(kind), m_errno(errnum), m_cam(cam), m_sense(sense), m_context(std::move(context)) {}

  Kind m_kind;
  int m_errno;
  CamStatus m_cam;
  SenseCode m_sense;
  std::string m_context;
  bool m_described = false;
};

// Switching to std::expected is this one line (and the two below).
template <class T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(Error error) {
  return tl::unexpected<Error>(std::move(error));
}
inline tl::unexpected<Error> fail_errno(int errnum, std::string context) {
  return fail(Error::from_errno(errnum, std::move(context)));
}
inline tl::unexpected<Error> fail_invalid(std::string context) {
  return fail(Error::invalid(std::move(context)));
}

}  // namespace ucam

// Propagating a failure as it is, in a function that returns a Result:
//   UCAM_TRY(node.ioctl(request));            // Result<anything>: return its error if it failed
//   UCAM_TRY_ASSIGN(auto name, read_name());  // and keep the value: `name` is a T, not a Result
// Use them where the error needs no context added; `return fail(named(r.error(), ...))` and
// the like stay as they are.
#define UCAM_TRY(...)                                               \
  do {                                                              \
    if (auto ucam_try_result_ = (__VA_ARGS__); !ucam_try_result_) { \
      return ::ucam::fail(std::move(ucam_try_result_).error());     \
    }                                                               \
  } while (false)
#define UCAM_TRY_ASSIGN(lhs, ...) \
  UCAM_TRY_ASSIGN_IMPL_(UCAM_TRY_CONCAT_(ucam_try_value_, __LINE__), lhs, __VA_ARGS__)
#define UCAM_TRY_CONCAT_(a, b) UCAM_TRY_CONCAT_INNER_(a, b)
#define UCAM_TRY_CONCAT_INNER_(a, b) a##b
#define UCAM_TRY_ASSIGN_IMPL_(tmp, lhs, ...)     \
  auto tmp = (__VA_ARGS__);                      \
  if (!tmp) {                                    \
    return ::ucam::fail(std::move(tmp).error()); \
  }                                              \
  lhs = std::move(*tmp)
