#include "service/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "base/hex.h"
#include "base/log.h"
#include "scsi/inquiry.h"
#include "service/request_parser.h"

namespace ucam::service {

std::string_view right_name(Right right) {
  return right == Right::Admin ? "admin" : "read";
}

// ---- Session ------------------------------------------------------------------------------

Session::~Session() = default;

std::size_t Session::handle_count() const {
  std::lock_guard lock(m_lock);
  return m_handles.size();
}

bool Session::subscribed() const {
  return m_event_mask.load() != 0;
}

Result<std::shared_ptr<Session::OpenHandle>> Session::find_handle(std::int64_t id) const {
  std::lock_guard lock(m_lock);
  auto it = m_handles.find(id);
  if (it == m_handles.end()) {
    return fail(Error::described(EBADF, fmt::format("handle {}: not open in this session", id)));
  }
  return it->second;
}

Result<std::int64_t> Session::add_handle(std::string node, devfs::FileHandle file,
                                         std::size_t limit) {
  auto handle = std::make_shared<OpenHandle>();
  handle->node = std::move(node);
  handle->file = std::move(file);
  std::lock_guard lock(m_lock);
  if (m_ended) {
    return fail(Error::described(ESHUTDOWN, "session ended"));
  }
  if (m_handles.size() >= limit) {
    // `handle` goes out of scope here: the open is closed again, exactly once.
    return fail(Error::described(
        EMFILE, fmt::format("too many open handles: this session holds {}, the limit is {}",
                            m_handles.size(), limit)));
  }
  const auto id = m_next_handle++;
  m_handles.emplace(id, std::move(handle));
  return id;
}

Result<std::shared_ptr<Session::OpenHandle>> Session::remove_handle(std::int64_t id) {
  std::lock_guard lock(m_lock);
  auto it = m_handles.find(id);
  if (it == m_handles.end()) {
    return fail(Error::described(EBADF, fmt::format("handle {}: not open in this session", id)));
  }
  auto handle = std::move(it->second);
  m_handles.erase(it);
  return handle;
}

std::vector<std::pair<std::int64_t, std::string>> Session::handles() const {
  std::lock_guard lock(m_lock);
  std::vector<std::pair<std::int64_t, std::string>> out;
  for (const auto& [id, h] : m_handles) {
    out.emplace_back(id, h->node);
  }
  return out;
}

// ---- Service ------------------------------------------------------------------------------

Service::Service(Stack& stack, AccessPolicy policy, ServiceLimits limits)
    : m_stack(stack), m_policy(std::move(policy)), m_limits(limits) {
  register_service_methods();
  register_device_methods(*this);
  register_enc_methods(*this);
  register_sg_methods(*this);
  register_emu_methods(*this);
  register_ch_methods(*this);
  // One device at a time (a copy of every DeviceInfo was 33 MB on 100,000 LUNs), in path
  // order: each goes at the end of m_names.
  m_stack.xpt().for_each_device([this](const cam::DeviceInfo& d) {
    m_names.emplace_hint(m_names.end(), d.path, m_stack.periphs().names_for(d.path));
  });
  m_events = m_stack.xpt().subscribe(cam::kAllAsyncCodes, cam::Path::wildcard(),
                                     [this](const cam::AsyncEvent& event) { deliver(event); });
}

Service::~Service() {
  m_events.reset();  // Waits for a delivery in progress.
}

void Service::deliver(const cam::AsyncEvent& event) {
  std::optional<std::vector<std::string>> departed;
  if (event.code == cam::AsyncCode::FoundDevice || event.code == cam::AsyncCode::InquiryChanged) {
    // The periph manager subscribed first: its drivers have attached by now.
    auto names = m_stack.periphs().names_for(event.path);
    std::lock_guard lock(m_names_lock);
    m_names[event.path] = std::move(names);
  } else if (event.code == cam::AsyncCode::LostDevice) {
    std::lock_guard lock(m_names_lock);
    if (auto it = m_names.find(event.path); it != m_names.end()) {
      departed = std::move(it->second);
      m_names.erase(it);
    }
  }
  const auto wants = [&](const Session& s) {
    return (s.m_event_mask.load(std::memory_order_relaxed) &
            static_cast<std::uint32_t>(event.code)) != 0;
  };
  {
    std::lock_guard lock(m_lock);
    if (std::none_of(m_sessions.begin(), m_sessions.end(),
                     [&](const auto& entry) { return wants(*entry.second); })) {
      return;  // Most events have no subscriber: render nothing.
    }
  }
  // Rendered once, outside the lock, with one timestamp for every subscriber.
  const std::string line =
      notification("event", event_json(m_stack, event, departed ? &*departed : nullptr))
          .dump(-1, ' ', false, json::error_handler_t::replace);
  std::lock_guard lock(m_lock);
  for (const auto& [id, session] : m_sessions) {
    if (wants(*session)) {
      session->m_sink(line);  // Queues; never blocks.
    }
  }
}

void Service::add_method(std::string name, Right right, std::string summary, ParamSpecs params,
                         Handler handler, BinaryUse binary) {
  m_methods[std::move(name)] =
      Method{right, std::move(summary), std::move(params), std::move(handler), binary};
}

ServiceLimits Service::limits() const {
  std::lock_guard lock(m_lock);
  return m_limits;
}

std::optional<std::span<const std::uint8_t>> Session::binary_in() const {
  if (!m_binary_in || m_payload == nullptr) {
    return std::nullopt;
  }
  return std::span<const std::uint8_t>(m_payload->in);
}

void Session::set_binary_out(std::vector<std::uint8_t> bytes) {
  if (m_payload != nullptr) {
    m_payload->out = std::move(bytes);
  }
}

bool Service::is_admin(const Peer& peer) const {
  std::lock_guard lock(m_lock);
  if (peer.uid == 0 || peer.uid == m_policy.owner_uid) {
    return true;
  }
  for (gid_t g : m_policy.admin_gids) {
    if (peer.gid == g ||
        std::find(peer.groups.begin(), peer.groups.end(), g) != peer.groups.end()) {
      return true;
    }
  }
  return false;
}

void Service::set_policy(AccessPolicy policy) {
  std::lock_guard lock(m_lock);
  m_policy = std::move(policy);
}

void Service::set_limits(ServiceLimits limits) {
  std::lock_guard lock(m_lock);
  m_limits = limits;
}

void Service::set_status_hook(StatusHook hook) {
  std::lock_guard lock(m_lock);
  m_status_hook = std::move(hook);
}

std::shared_ptr<Session> Service::begin_session(const Peer& peer, EventSink sink) {
  const bool admin = is_admin(peer);
  std::lock_guard lock(m_lock);
  std::shared_ptr<Session> session(new Session(m_next_session++, peer, admin, std::move(sink)));
  m_sessions.emplace(session->id(), session.get());
  return session;
}

std::size_t Service::end_session(Session& session) {
  std::map<std::int64_t, std::shared_ptr<Session::OpenHandle>> handles;
  {
    std::lock_guard lock(session.m_lock);
    if (session.m_ended) {
      return 0;
    }
    session.m_ended = true;
    handles.swap(session.m_handles);
  }
  {
    // Events are delivered under m_lock: once out of the table, the sink is never called again.
    std::lock_guard lock(m_lock);
    m_sessions.erase(session.id());
  }
  session.m_event_mask = 0;
  const auto closed = handles.size();
  m_handles_closed.fetch_add(closed, std::memory_order_relaxed);
  handles.clear();  // Each FileHandle closes here (or when an in-flight call lets go of it).
  if (closed > 0) {
    log_info("session {} (pid {} uid {}): closed {} handle(s) left open", session.id(),
             session.peer().pid, session.peer().uid, closed);
  }
  return closed;
}

void Service::cancel_session(Session& session) {
  session.m_cancel.cancel();
}

namespace {

// Invalid UTF-8 from a device string must not break a reply: replace, do not throw.
std::string render(const json& response) {
  return response.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A response with the id written as `raw_id`, the id's text as the request had it, and the
// result as `result_text`, already JSON text (nullptr: each as its JSON value), which is used
// up: the reply is built in its buffer, not copied (devices.list on 100,000 LUNs is 50 MB).
// Members in json's order, so that the text is what dump() would give.
std::string render(const json& response, const std::string* raw_id,
                   std::string* result_text = nullptr) {
  if (!response.is_object() || ((raw_id == nullptr || !response.contains("id")) &&
                                (result_text == nullptr || !response.contains("result")))) {
    return render(response);
  }
  std::string out = "{";
  std::string after;  // The members after a result given as text.
  bool text_result = false;
  for (const auto& [key, value] : response.items()) {
    std::string& o = text_result ? after : out;
    o += o.size() > 1 || text_result ? "," : "";
    o += render(json(key));
    o += ':';
    if (key == "id" && raw_id != nullptr) {
      o += *raw_id;
    } else if (key == "result" && result_text != nullptr) {
      text_result = true;
    } else {
      o += render(value);
    }
  }
  if (!text_result) {
    return out + "}";
  }
  result_text->insert(0, out);
  *result_text += after;
  *result_text += '}';
  return std::move(*result_text);
}

const std::string* raw_id_of(const std::map<std::size_t, std::string>& raw_ids, std::size_t index) {
  const auto it = raw_ids.find(index);
  return it == raw_ids.end() ? nullptr : &it->second;
}

// The id a reply to `request` carries: its own when it is a valid one (JSON-RPC 2.0: null
// otherwise).
json reply_id(const json& request) {
  if (request.is_object()) {
    const auto it = request.find("id");
    if (it != request.end() && (it->is_string() || it->is_number())) {
      return *it;
    }
  }
  return nullptr;
}

// A request that gets no reply: a well-formed object without "id".
bool is_notification(const json& request) {
  return request.is_object() && !request.contains("id");
}

RpcError reply_too_large(std::string message) {
  return rpc_error(RpcCode::LimitExceeded, std::move(message), {{"limit", "max_reply_bytes"}});
}

}  // namespace

std::string Service::handle_line(Session& session, std::string_view line) {
  Payload none;
  return handle_line(session, line, none, false);
}

std::string Service::handle_line(Session& session, std::string_view line, Payload& payload) {
  return handle_line(session, line, payload, true);
}

std::string Service::handle_line(Session& session, std::string_view line, Payload& payload,
                                 bool with_payload) {
  payload.out.clear();
  RequestLine request = parse_request_line(line);
  if (request.error) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    return render(error_response(nullptr, *request.error));
  }
  const json& message = request.message;
  if (message.is_array()) {
    return handle_batch(session, message, request.raw_ids);
  }
  const std::string* raw_id = raw_id_of(request.raw_ids, 0);
  json response = handle_one(session, message, with_payload ? &payload : nullptr);
  if (response.is_null()) {
    payload.out.clear();
    session.m_result_text.reset();
    return {};
  }
  if (response.contains("result") && message.value("binary_reply", false)) {
    response["binary"] = payload.out.size();  // The bytes that follow the reply line.
  } else {
    payload.out.clear();
  }
  std::string reply =
      render(response, raw_id, session.m_result_text ? &*session.m_result_text : nullptr);
  session.m_result_text.reset();
  std::size_t limit = 0;
  {
    std::lock_guard lock(m_lock);
    limit = m_limits.max_reply_bytes;
  }
  if (reply.size() > limit) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    payload.out.clear();
    return render(
        error_response(reply_id(message), reply_too_large(fmt::format(
                                              "the reply is {} bytes, over the limit of {} "
                                              "(max_reply_bytes): ask for less at a time (e.g. one "
                                              "enclosure)",
                                              reply.size(), limit))),
        raw_id);
  }
  return reply;
}

std::string Service::handle_batch(Session& session, const json& batch,
                                  const std::map<std::size_t, std::string>& raw_ids) {
  std::size_t max_requests = 0;
  std::size_t max_bytes = 0;
  {
    std::lock_guard lock(m_lock);
    max_requests = m_limits.max_batch_requests;
    max_bytes = m_limits.max_reply_bytes;
  }
  if (batch.empty()) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    return render(error_response(
        nullptr, rpc_error(RpcCode::InvalidRequest, "empty batch: send 1 or more requests")));
  }
  if (batch.size() > max_requests) {
    // Refused whole, before anything runs: one error, as for any batch that is not acceptable.
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    return render(error_response(
        nullptr, rpc_error(RpcCode::LimitExceeded,
                           fmt::format("a batch of {} requests is over the limit of {} "
                                       "(max_batch_requests); nothing was run: send at most {} "
                                       "per batch",
                                       batch.size(), max_requests, max_requests),
                           {{"limit", "max_batch_requests"}})));
  }
  // Each reply is rendered as it comes, so only text is kept, never every reply's JSON at once;
  // the text is bounded by max_bytes.
  std::string out = "[";
  bool full = false;  // The replies reached max_bytes: the rest is not run.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const json& request = batch[i];
    const std::string* raw_id = raw_id_of(raw_ids, i);
    std::string reply;
    if (full) {
      if (!is_notification(request)) {
        m_request_errors.fetch_add(1, std::memory_order_relaxed);
        reply =
            render(error_response(reply_id(request),
                                  reply_too_large(fmt::format("not run: the replies to this batch "
                                                              "reached the limit of {} bytes "
                                                              "(max_reply_bytes)",
                                                              max_bytes))),
                   raw_id);
      }
    } else if (json response = handle_one(session, request); !response.is_null()) {
      if (session.m_result_text) {
        // Batches are small requests: the text goes back into the tree.
        response["result"] = json::parse(*session.m_result_text);
        session.m_result_text.reset();
      }
      reply = render(response, raw_id);
      // With a comma unless first, and the closing bracket.
      const std::size_t bytes = out.size() + (out.size() > 1 ? 1 : 0) + reply.size() + 1;
      if (bytes > max_bytes) {
        full = true;
        m_request_errors.fetch_add(1, std::memory_order_relaxed);
        reply = render(
            error_response(reply_id(request),
                           reply_too_large(fmt::format("this reply would make the batch's {} "
                                                       "bytes, over the limit of {} "
                                                       "(max_reply_bytes): send fewer requests "
                                                       "per batch",
                                                       bytes, max_bytes))),
            raw_id);
      }
    }
    if (!reply.empty()) {
      out += out.size() > 1 ? "," : "";
      out += reply;
    }
    if (session.cancel_token().cancelled()) {
      return {};  // Its client is gone: nobody reads the rest.
    }
  }
  if (out.size() == 1) {
    return {};  // Notifications only.
  }
  out += ']';
  return out;
}

json Service::handle_one(Session& session, const json& request, Payload* payload) {
  m_requests.fetch_add(1, std::memory_order_relaxed);
  session.m_result_text.reset();
  auto invalid = [&](std::string why) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    return error_response(reply_id(request), rpc_error(RpcCode::InvalidRequest, std::move(why)));
  };
  if (!request.is_object()) {
    return invalid(fmt::format("a request is a JSON object, got {}", request.type_name()));
  }
  if (request.value("jsonrpc", json()) != "2.0") {
    return invalid("\"jsonrpc\": \"2.0\" is required");
  }
  const bool has_id = request.contains("id");
  const json id = has_id ? request["id"] : json();
  if (has_id && !(id.is_string() || id.is_number() || id.is_null())) {
    return invalid("\"id\" must be a string, a number or null");
  }
  auto m = request.find("method");
  if (m == request.end() || !m->is_string()) {
    return invalid("\"method\" must be a string");
  }
  static const json kNoParams = json::object();
  const auto p = request.find("params");
  const json& params = p == request.end() || (p->is_array() && p->empty()) ? kNoParams : *p;
  if (!params.is_object()) {
    return invalid(params.is_array()
                       ? "positional params are not supported: pass \"params\" as an object"
                       : "\"params\" must be an object");
  }
  const std::string method = m->get<std::string>();
  // Binary data (docs/api.md, "Binary data"): "binary": N, the bytes after the line;
  // "binary_reply": true, the reply's data after the reply line.
  const auto b = request.find("binary");
  const auto br = request.find("binary_reply");
  if (b != request.end() && !b->is_number_unsigned()) {
    return invalid("\"binary\" is the number of bytes that follow the request line");
  }
  if (br != request.end() && !br->is_boolean()) {
    return invalid("\"binary_reply\" must be true or false");
  }
  const bool binary_in = b != request.end();
  const bool binary_reply = br != request.end() && br->get<bool>();
  if ((binary_in || binary_reply) && payload == nullptr) {
    return invalid(
        "binary data goes with a single request on ucamd's socket, not in a batch or in-process");
  }
  json response;
  auto it = m_methods.find(method);
  const BinaryUse use = it == m_methods.end() ? BinaryUse::None : it->second.binary;
  if (it == m_methods.end()) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    response = error_response(
        id, rpc_error(RpcCode::MethodNotFound,
                      fmt::format("unknown method '{}' (rpc.methods lists them)", method)));
  } else if (it->second.right == Right::Admin && !session.admin()) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    std::string groups;
    {
      std::lock_guard lock(m_lock);
      groups = m_policy.admin_group_names;
    }
    response = error_response(
        id, rpc_error(RpcCode::PermissionDenied,
                      fmt::format("permission denied: {} needs the admin right (root{}); "
                                  "uid {} has only the read right",
                                  method, groups.empty() ? "" : " or group " + groups,
                                  session.peer().uid),
                      {{"required", "admin"}, {"method", method}}));
  } else if (auto checked = check_params(params, it->second.params); !checked) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    response = error_response(id, rpc_error_from(checked.error()));
  } else if ((binary_in && use != BinaryUse::Out && use != BinaryUse::InOut) ||
             (binary_reply && use != BinaryUse::In && use != BinaryUse::InOut)) {
    m_request_errors.fetch_add(1, std::memory_order_relaxed);
    response = error_response(
        id, rpc_error(RpcCode::InvalidParams,
                      fmt::format("{} takes no binary {} (docs/api.md, \"Binary data\")", method,
                                  binary_in ? "data after the request" : "reply")));
  } else {
    Result<json> result = fail(Error::described(EIO, "internal error"));
    session.m_payload = payload;
    session.m_binary_in = binary_in;
    session.m_binary_reply = binary_reply;
    try {
      result = it->second.handler(session, params);
    } catch (const std::exception& e) {
      // A method must not throw; if one does, the request fails and the daemon lives on.
      log_error("{}: internal error: {}", method, e.what());
      result = fail(Error::described(EIO, fmt::format("{}: internal error: {}", method, e.what())));
    }
    session.m_payload = nullptr;
    session.m_binary_in = session.m_binary_reply = false;
    if (result) {
      response = result_response(id, std::move(*result));
    } else {
      session.m_result_text.reset();
      m_request_errors.fetch_add(1, std::memory_order_relaxed);
      response = error_response(id, rpc_error_from(result.error()));
    }
  }
  if (!has_id) {
    return json();  // A notification gets no answer, not even an error.
  }
  return response;  // Moved, not copied (a conditional expression here copied every reply).
}

// The data-out of a method that takes binary data: the bytes that followed the request, else
// the hex string params.<name> (nullopt when neither was given). Both at once is an error.
Result<std::optional<std::vector<std::uint8_t>>> data_out(Session& session, const json& params,
                                                          const char* name) {
  auto text = param_optional_string(params, name);
  if (!text) {
    return fail(text.error());
  }
  if (auto bytes = session.binary_in()) {
    if (*text) {
      return fail_invalid(
          fmt::format("params.{}: give the data as hex or as binary data after "
                      "the request, not both",
                      name));
    }
    return std::optional<std::vector<std::uint8_t>>(std::in_place, bytes->begin(), bytes->end());
  }
  if (!*text) {
    return std::optional<std::vector<std::uint8_t>>();
  }
  auto parsed = parse_hex(**text, HexTokens::AllowRuns);
  if (!parsed) {
    return fail(Error::invalid(fmt::format("params.{}: {}", name, parsed.error().message())));
  }
  return std::optional<std::vector<std::uint8_t>>(std::move(*parsed));
}

void put_data_in(Session& session, json& out, const char* key, std::vector<std::uint8_t> data) {
  if (session.binary_reply()) {
    session.set_binary_out(std::move(data));
  } else {
    out[key] = hex_string(data);
  }
}

Result<json> with_node(Service& service, Session& session, const json& params,
                       const char* name_param, const NodeFn& fn, Resolve resolve) {
  auto handle_id = param_optional_int(params, "handle", 1, INT64_MAX);
  if (!handle_id) {
    return fail(handle_id.error());
  }
  if (*handle_id && params.contains(name_param) && !params[name_param].is_null()) {
    return fail_invalid(
        fmt::format("params.{}: give \"handle\" or \"{}\", not both", name_param, name_param));
  }
  if (*handle_id) {
    auto h = session.find_handle(**handle_id);
    if (!h) {
      return fail(h.error());
    }
    std::lock_guard lock((*h)->lock);
    return fn((*h)->file, (*h)->node);
  }
  auto name = param_optional_string(params, name_param);
  if (!name) {
    return fail(name.error());
  }
  if (!*name) {
    return fail_invalid(fmt::format("params: give \"handle\" or \"{}\"", name_param));
  }
  auto node = resolve == Resolve::Pass ? service.stack().resolve_pass(**name)
              : resolve == Resolve::Pt ? service.stack().resolve_pt(**name)
              : resolve == Resolve::Ch ? service.stack().resolve_ch(**name)
                                       : service.stack().resolve(**name);
  if (!node) {
    return fail(node.error());
  }
  auto file = service.stack().devfs().open(*node);
  if (!file) {
    return fail(named(file.error(), *node));
  }
  return fn(*file, *node);
}

void Service::register_service_methods() {
  add_method("rpc.methods", Right::Read, "Lists every method with the right it needs.", {},
             [this](Session& session, const json& /*params*/) -> Result<json> {
               json out = json::array();
               for (const auto& [name, m] : m_methods) {
                 json params = json::array();
                 for (const auto& p : m.params) {
                   params.push_back({{"name", p.name}, {"type", param_type_name(p.type)}});
                 }
                 out.push_back({{"method", name},
                                {"right", right_name(m.right)},
                                {"allowed", m.right == Right::Read || session.admin()},
                                {"summary", m.summary},
                                {"params", std::move(params)}});
               }
               return out;
             });
  add_method("session.info", Right::Read, "This session: id, peer credentials, rights, handles.",
             {}, [](Session& session, const json& /*params*/) -> Result<json> {
               json handles = json::array();
               for (const auto& [id, node] : session.handles()) {
                 handles.push_back({{"handle", id}, {"node", node}});
               }
               return json{{"session", session.id()},
                           {"uid", session.peer().uid},
                           {"gid", session.peer().gid},
                           {"pid", session.peer().pid},
                           {"rights", session.admin() ? json::array({"read", "admin"})
                                                      : json::array({"read"})},
                           {"handles", handles},
                           {"subscribed", session.subscribed()}};
             });
  add_method("open", Right::Read,
             "Opens a node (passN, sesN, /dev/..., or bus:target:lun) and returns a handle.",
             {{"node", ParamType::String}},
             [this](Session& session, const json& params) -> Result<json> {
               auto name = param_string(params, "node");
               if (!name) {
                 return fail(name.error());
               }
               auto node = m_stack.resolve(*name);
               if (!node) {
                 return fail(node.error());
               }
               auto file = m_stack.devfs().open(*node);
               if (!file) {
                 return fail(named(file.error(), *node));
               }
               std::size_t limit = 0;
               {
                 std::lock_guard lock(m_lock);
                 limit = m_limits.max_handles_per_session;
               }
               auto id = session.add_handle(*node, std::move(*file), limit);
               if (!id) {
                 return fail(id.error());
               }
               m_handles_opened.fetch_add(1, std::memory_order_relaxed);
               return json{{"handle", *id}, {"node", *node}};
             });
  add_method("close", Right::Read, "Closes a handle. Succeeds even if its node has departed.",
             {{"handle", ParamType::Integer}},
             [this](Session& session, const json& params) -> Result<json> {
               auto id = param_int(params, "handle", 1, INT64_MAX);
               if (!id) {
                 return fail(id.error());
               }
               auto h = session.remove_handle(*id);
               if (!h) {
                 return fail(h.error());
               }
               m_handles_closed.fetch_add(1, std::memory_order_relaxed);
               return json::object();
             });
  add_method(
      "events.subscribe", Right::Read,
      "Pushes an \"event\" notification for every async event (optionally only `codes`).",
      {{"codes", ParamType::Array}}, [this](Session& session, const json& params) -> Result<json> {
        std::uint32_t mask = cam::kAllAsyncCodes;
        if (params.contains("codes") && !params["codes"].is_null()) {
          const auto& codes = params["codes"];
          if (!codes.is_array()) {
            return fail_invalid("params.codes: expected an array of event names");
          }
          mask = 0;
          for (const auto& c : codes) {
            bool found = false;
            for (std::uint32_t bit = 1;
                 bit != 0 && bit <= static_cast<std::uint32_t>(cam::kLastAsyncCode); bit <<= 1) {
              if (c.is_string() &&
                  c.get<std::string>() == cam::async_code_name(static_cast<cam::AsyncCode>(bit))) {
                mask |= bit;
                found = true;
              }
            }
            if (!found) {
              return fail_invalid(fmt::format("params.codes: unknown event {}", c.dump()));
            }
          }
        }
        std::lock_guard lock(session.m_lock);
        if (session.m_ended) {
          return fail(Error::described(ESHUTDOWN, "session ended"));
        }
        session.m_event_mask = mask;
        return json{{"subscribed", true}};
      });
  add_method("events.unsubscribe", Right::Read, "Stops event notifications.", {},
             [](Session& session, const json& /*params*/) -> Result<json> {
               session.m_event_mask = 0;
               return json{{"subscribed", false}};
             });
  add_method("daemon.status", Right::Read,
             "Introspection: sessions and their handles, periph references, devfs and XPT "
             "counters.",
             {}, [this](Session&, const json& /*params*/) -> Result<json> { return status(); });
  add_method("metrics", Right::Read, "The Prometheus text exposition, as a string.", {},
             [this](Session&, const json& /*params*/) -> Result<json> {
               return json{{"text", metrics_text()}};
             });
}

json Service::status() {
  json sessions = json::array();
  std::size_t handles = 0;
  {
    std::lock_guard lock(m_lock);
    for (const auto& [id, s] : m_sessions) {
      const auto n = s->handle_count();
      handles += n;
      sessions.push_back({{"session", id},
                          {"uid", s->peer().uid},
                          {"pid", s->peer().pid},
                          {"admin", s->admin()},
                          {"handles", n},
                          {"subscribed", s->subscribed()}});
    }
  }
  json periphs = json::array();
  for (const auto& p : m_stack.periphs().periphs()) {
    periphs.push_back({{"name", p.name},
                       {"path", cam::to_string(p.path)},
                       {"refcount", p.refcount},
                       {"invalid", p.invalid}});
  }
  json transports = json::array();
  for (const auto& t : m_stack.transports()) {
    json details = json::object();
    for (const auto& [key, value] : t.details) {
      details[key] = value;
    }
    transports.push_back({{"kind", t.kind},
                          {"spec", t.spec},
                          {"up", t.up},
                          {"details", details},
                          {"problems", t.problems}});
  }
  const auto ps = m_stack.periphs().stats();
  const auto ds = m_stack.devfs().stats();
  const auto xs = m_stack.xpt().stats();
  json out = {{"uptime_seconds",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count()},
              {"sessions", sessions},
              {"handles", handles},
              {"handles_opened_total", m_handles_opened.load()},
              {"handles_closed_total", m_handles_closed.load()},
              {"requests_total", m_requests.load()},
              {"request_errors_total", m_request_errors.load()},
              {"transports", transports},
              {"periphs", periphs},
              {"periph_stats",
               {{"created", ps.created},
                {"freed", ps.freed},
                {"live", ps.live},
                {"underflows", ps.underflows}}},
              {"devfs",
               {{"nodes", ds.nodes},
                {"opens", ds.opens},
                {"opens_total", ds.opens_total},
                {"closes_total", ds.closes_total},
                {"revokes_total", ds.revokes_total}}},
              {"xpt",
               {{"ccbs_started", xs.ccbs_started},
                {"ccbs_completed", xs.ccbs_completed},
                {"ccbs_outstanding", xs.ccbs_outstanding},
                {"retries", xs.retries},
                {"timeouts", xs.timeouts},
                {"buses", xs.buses},
                {"devices", xs.devices},
                {"generation", xs.generation}}}};
  StatusHook hook;
  {
    std::lock_guard lock(m_lock);
    hook = m_status_hook;
  }
  if (hook) {
    hook(out);
  }
  return out;
}

}  // namespace ucam::service
