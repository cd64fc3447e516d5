// The first step of every ucamd request: one line of text to the JSON value it holds, before
// any method runs. Pure (no Service, no Stack, no I/O), so fuzz/rpc_request_fuzz.cpp can feed it
// any bytes a client might send.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "service/rpc.h"

namespace ucam::service {

struct RequestLine {
  json message;  // The request, or a batch (an array of requests).
  // The text of each request's id, by request (batch index; 0 for a single request), when it
  // is a number json cannot hold exactly: an integer beyond 64 bits would come back as 1e+30,
  // 1.50 as 1.5. JSON-RPC echoes the id, so the reply carries that text.
  std::map<std::size_t, std::string> raw_ids;
  // Set when the line is refused before any request in it runs: nested deeper than
  // kMaxJsonNesting (InvalidRequest) or not valid JSON (ParseError). The reply is this error
  // with a null id.
  std::optional<RpcError> error;
};

// Never throws; any byte string gives either a message or an error.
RequestLine parse_request_line(std::string_view line);

}  // namespace ucam::service
