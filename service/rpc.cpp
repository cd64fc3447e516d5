#include "service/rpc.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

namespace ucam::service {

std::string errno_name(int errnum) {
  // strerrorname_np is glibc 2.32+, which Debian 12 has.
  const char* name = strerrorname_np(errnum);
  return name != nullptr ? name : fmt::format("errno {}", errnum);
}

RpcError rpc_error(RpcCode code, std::string message, json data) {
  return RpcError{static_cast<int>(code), std::move(message), std::move(data)};
}

RpcError rpc_error_from(const Error& error) {
  RpcCode code = RpcCode::Failed;
  json data = json::object();
  const int e = error.errno_value();
  if (error.kind() != Error::Kind::Errno) {
    code = RpcCode::DeviceError;
    data["cam_status"] = static_cast<int>(error.cam_status());
    data["cam_status_text"] = cam_status_name(error.cam_status());
    if (error.kind() == Error::Kind::Sense) {
      data["sense_key"] = error.sense().key;
      data["asc"] = error.sense().asc;
      data["ascq"] = error.sense().ascq;
    }
  } else {
    switch (e) {
      case EINVAL:
        code = RpcCode::InvalidParams;
        break;
      case EACCES:
      case EPERM:
        code = RpcCode::PermissionDenied;
        break;
      case ENOENT:
      case ENODEV:
      case ENXIO:
        code = RpcCode::NoSuchDevice;
        break;
      case EMFILE:
      case ENFILE:
      case E2BIG:
        code = RpcCode::LimitExceeded;
        break;
      case ESTALE:
        code = RpcCode::StaleGeneration;
        break;
      case EBUSY:
        code = RpcCode::Busy;
        break;
      case EIO:
      case ETIMEDOUT:
        code = RpcCode::DeviceError;
        break;
      default:
        break;
    }
  }
  data["errno"] = e;
  data["errno_name"] = errno_name(e);
  return RpcError{static_cast<int>(code), error.message(), std::move(data)};
}

json error_response(const json& id, const RpcError& error) {
  json err = {{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) {
    err["data"] = error.data;
  }
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

json result_response(const json& id, json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json notification(std::string_view method, json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

namespace {

const char* type_of(const json& v) {
  return v.type_name();
}

const json* member(const json& params, const char* name) {
  if (!params.is_object()) {
    return nullptr;
  }
  auto it = params.find(name);
  return it == params.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

Result<std::optional<std::string>> param_optional_string(const json& params, const char* name) {
  const json* v = member(params, name);
  if (v == nullptr) {
    return std::optional<std::string>();
  }
  if (!v->is_string()) {
    return fail_invalid(fmt::format("params.{}: expected a string, got {}", name, type_of(*v)));
  }
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::string> param_string(const json& params, const char* name) {
  auto v = param_optional_string(params, name);
  if (!v) {
    return fail(v.error());
  }
  if (!*v) {
    return fail_invalid(fmt::format("params.{}: required", name));
  }
  return **v;
}

Result<std::optional<std::int64_t>> param_optional_int(const json& params, const char* name,
                                                       std::int64_t min, std::int64_t max) {
  const json* v = member(params, name);
  if (v == nullptr) {
    return std::optional<std::int64_t>();
  }
  if (!v->is_number_integer()) {
    return fail_invalid(fmt::format("params.{}: expected an integer, got {}", name, type_of(*v)));
  }
  std::int64_t value = 0;
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return fail_invalid(fmt::format("params.{}: {} is out of range {}..{}", name, u, min, max));
    }
    value = static_cast<std::int64_t>(u);
  } else {
    value = v->get<std::int64_t>();
  }
  if (value < min || value > max) {
    return fail_invalid(fmt::format("params.{}: {} is out of range {}..{}", name, value, min, max));
  }
  return std::optional<std::int64_t>(value);
}

Result<std::int64_t> param_int(const json& params, const char* name, std::int64_t min,
                               std::int64_t max) {
  auto v = param_optional_int(params, name, min, max);
  if (!v) {
    return fail(v.error());
  }
  if (!*v) {
    return fail_invalid(fmt::format("params.{}: required", name));
  }
  return **v;
}

Result<bool> param_bool(const json& params, const char* name, bool fallback) {
  const json* v = member(params, name);
  if (v == nullptr) {
    return fallback;
  }
  if (!v->is_boolean()) {
    return fail_invalid(
        fmt::format("params.{}: expected true or false, got {}", name, type_of(*v)));
  }
  return v->get<bool>();
}

std::string_view param_type_name(ParamType type) {
  switch (type) {
    case ParamType::String:
      return "a string";
    case ParamType::Integer:
      return "an integer";
    case ParamType::Boolean:
      return "true or false";
    case ParamType::Array:
      return "an array";
    case ParamType::StringOrInteger:
      return "a string or an integer";
    case ParamType::StringOrArray:
      return "a string or an array";
  }
  return "a value";
}

namespace {

bool has_type(const json& v, ParamType type) {
  switch (type) {
    case ParamType::String:
      return v.is_string();
    case ParamType::Integer:
      return v.is_number_integer();
    case ParamType::Boolean:
      return v.is_boolean();
    case ParamType::Array:
      return v.is_array();
    case ParamType::StringOrInteger:
      return v.is_string() || v.is_number_integer();
    case ParamType::StringOrArray:
      return v.is_string() || v.is_array();
  }
  return false;
}

}  // namespace

Result<void> check_params(const json& params, const ParamSpecs& specs) {
  if (!params.is_object()) {
    return {};
  }
  for (const auto& item : params.items()) {
    // Not a structured binding: clang 14 (the fuzz preset) cannot capture one in the lambda.
    const std::string& key = item.key();
    const json& value = item.value();
    const auto spec =
        std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& p) { return key == p.name; });
    if (spec == specs.end()) {
      std::string list;
      for (const auto& p : specs) {
        list += (list.empty() ? "" : ", ") + std::string(p.name);
      }
      return fail_invalid(fmt::format("params.{}: unknown parameter (this method takes: {})", key,
                                      list.empty() ? "none" : list));
    }
    if (!value.is_null() && !has_type(value, spec->type)) {
      return fail_invalid(fmt::format("params.{}: expected {}, got {}", key,
                                      param_type_name(spec->type), type_of(value)));
    }
  }
  return {};
}

}  // namespace ucam::service
