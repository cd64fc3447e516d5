// JSON-RPC 2.0 framing shared by ucamd, its clients and the in-process mode of ucamctl.
//
// Transport: newline-delimited JSON. Each request, response and notification is one JSON text
// on one line (JSON escapes every newline inside strings, so a line is a message). Batches
// (arrays of requests) are accepted. See docs/api.md for the methods.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace ucam::service {

using nlohmann::json;

// Error codes. -32700..-32600 are JSON-RPC 2.0's; -32001.. are ucam's ("server errors").
enum class RpcCode : int {
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,
  Failed = -32000,            // An errno that has no code of its own (data.errno says which).
  PermissionDenied = -32001,  // The caller lacks the right the method needs (data.required).
  NoSuchDevice = -32002,      // ENOENT / ENODEV / ENXIO: no such node, or it departed.
  DeviceError = -32003,       // The device or transport failed the command (data.cam_status).
  LimitExceeded = -32004,     // Too many clients or handles, or a request too large.
  StaleGeneration = -32005,   // ESTALE: the enclosure's configuration changed; re-read.
  Busy = -32006,              // EBUSY: exclusive node already open, or slot occupied.
};

struct RpcError {
  int code = static_cast<int>(RpcCode::InternalError);
  std::string message;
  json data;  // null or an object: errno, errno_name, required, cam_status...
};

// The JSON-RPC error for a ucam Error (the code from its errno / kind).
RpcError rpc_error_from(const Error& error);
RpcError rpc_error(RpcCode code, std::string message, json data = nullptr);

json error_response(const json& id, const RpcError& error);
json result_response(const json& id, json result);
json notification(std::string_view method, json params);

// "ENOENT" for ENOENT; "errno N" when unknown.
std::string errno_name(int errnum);

// --- Parameter access with errors that name the parameter -----------------------------------
// Each returns InvalidParams-coded errors (EINVAL) such as "params.timeout_ms: expected an
// unsigned integer, got string".
Result<std::string> param_string(const json& params, const char* name);
Result<std::optional<std::string>> param_optional_string(const json& params, const char* name);
Result<std::int64_t> param_int(const json& params, const char* name, std::int64_t min,
                               std::int64_t max);
Result<std::optional<std::int64_t>> param_optional_int(const json& params, const char* name,
                                                       std::int64_t min, std::int64_t max);
Result<bool> param_bool(const json& params, const char* name, bool fallback);

// What a method takes: each parameter's name and JSON type. The service checks every request
// against its method's list before the method runs, as scenario files are checked: a member
// not in the list (a typo such as "handel") or of the wrong type is an InvalidParams error
// naming it. null counts as absent. Ranges, and which parameters go together, are the
// method's to check.
enum class ParamType : std::uint8_t {
  String,
  Integer,
  Boolean,
  Array,
  StringOrInteger,  // An SES element type: 3 or "Cooling".
  StringOrArray,    // Sense: "05/24/00" or [5, 36, 0].
};
std::string_view param_type_name(ParamType type);
struct ParamSpec {
  const char* name;
  ParamType type;
};
using ParamSpecs = std::vector<ParamSpec>;
Result<void> check_params(const json& params, const ParamSpecs& specs);

}  // namespace ucam::service
