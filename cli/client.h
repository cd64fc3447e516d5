// How ucamctl reaches the ucam service: ucamd's Unix socket (the default), or a stack built in
// this process (--emulate). Both speak the same JSON-RPC (service/rpc.h), so every command
// prints the same either way.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "service/rpc.h"
#include "stack/transport.h"

namespace ucam::cli {

using service::json;
using RpcResult = tl::expected<json, service::RpcError>;
// Takes one element of a result array (Client::call_each).
using ElementSink = std::function<void(const json& element)>;

class Client {
 public:
  virtual ~Client() = default;
  // One request; the result, or the error the service answered.
  RpcResult call(const std::string& method, json params = json::object()) {
    return request(method, std::move(params), nullptr);
  }
  // As call(), for a result that is a long array (devices.list on 100,000 LUNs): each element
  // goes to `each` as soon as it is parsed, in order, and is not kept, so that at most one
  // element's tree exists at a time. On success the result returned is an empty array when the
  // result was an array (its elements went to `each`), else the result as call() gives it. On
  // an error, `each` was not called, except when the reply turned out not to be valid JSON
  // after some elements (a broken daemon).
  RpcResult call_each(const std::string& method, json params, const ElementSink& each) {
    return request(method, std::move(params), &each);
  }
  // The next "event"-style notification, waiting up to `timeout`; nullopt on timeout. An
  // error when the connection is gone.
  virtual Result<std::optional<json>> next_notification(std::chrono::milliseconds timeout) = 0;
  // Where we are connected ("ucamd at /run/ucam/ucamd.sock", "in-process builtin:default").
  virtual std::string describe() const = 0;

 protected:
  // call() (`each` null) and call_each().
  virtual RpcResult request(const std::string& method, json params, const ElementSink* each) = 0;
};

// Connects to ucamd. ECONNREFUSED/ENOENT errors say how to start it or use --emulate.
Result<std::unique_ptr<Client>> connect_daemon(const std::string& socket_path);

// Builds the stack in this process on `sims` (ucam::make_specs; `name` says what the user gave,
// for describe()). EINVAL when a scenario is inconsistent (found when the SIM starts) or an
// iSCSI setting is wrong; other errors are the stack's (no sg driver, a target not answering).
Result<std::unique_ptr<Client>> start_in_process(std::vector<SimSpec> sims,
                                                 const std::string& name);

// `text`, one JSON-RPC message (json::exception when it is not JSON). With `each`, when the
// message is the reply with id `id`, the elements of its "result" array go to `each` in order,
// as they are parsed when the id comes before the result (as the service writes it), and the
// "result" of the value returned is then an empty array.
json parse_message(std::string_view text, std::int64_t id, const ElementSink* each);

// The socket ucamctl uses by default: $UCAM_SOCKET, else /run/ucam/ucamd.sock.
std::string default_socket();

}  // namespace ucam::cli
