// libFuzzer target for ucamd's request parsing (service/request_parser.h): the input is one line
// a client sends on the socket. It must give a message or an error, never throw, crash or
// recurse without bound (the nesting limit). A message must stay within that limit, keep raw id
// text only for requests that exist, and dump to JSON text that parses back to the same value;
// each request's params then go through the parameter checks every method uses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/json_nesting.h"
#include "fuzz/fuzz_check.h"
#include "service/request_parser.h"
#include "service/rpc.h"

namespace service = ucam::service;
using service::json;

namespace {

using ucam::fuzz::check;

// A spec of each parameter type, as methods declare them.
const service::ParamSpecs& specs() {
  static const service::ParamSpecs kSpecs = {
      {"device", service::ParamType::String},        {"handle", service::ParamType::Integer},
      {"binary_reply", service::ParamType::Boolean}, {"cdb", service::ParamType::Array},
      {"type", service::ParamType::StringOrInteger}, {"sense", service::ParamType::StringOrArray},
  };
  return kSpecs;
}

void fuzz_request(const json& request) {
  if (!request.is_object()) {
    return;
  }
  const auto params = request.find("params");
  if (params == request.end()) {
    return;
  }
  (void)service::check_params(*params, specs());
  (void)service::param_string(*params, "device");
  (void)service::param_optional_string(*params, "device");
  (void)service::param_int(*params, "handle", -1, 1 << 20);
  (void)service::param_optional_int(*params, "handle", 0, INT64_MAX);
  (void)service::param_bool(*params, "binary_reply", false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto request = service::parse_request_line(line);
  if (request.error) {
    return 0;
  }
  const json& message = request.message;
  for (const auto& [index, text] : request.raw_ids) {
    check(message.is_array() ? index < message.size() : index == 0);
    check(!text.empty());
  }
  const auto text = message.dump(-1, ' ', false, json::error_handler_t::replace);
  check(ucam::json_nesting(text).deepest <= ucam::kMaxJsonNesting);
  check(json::parse(text) == message);
  if (message.is_array()) {
    for (const auto& member : message) {
      fuzz_request(member);
    }
  } else {
    fuzz_request(message);
  }
  return 0;
}
