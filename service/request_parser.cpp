#include "service/request_parser.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include "base/json_nesting.h"

namespace ucam::service {

namespace {

// Parses a request line as json::parse does, and keeps the text of each request's id when
// it is a number json cannot hold exactly: an integer beyond 64 bits would come back as
// 1e+30, 1.50 as 1.5. JSON-RPC echoes the id, so the reply carries that text.
class RequestParser final : public nlohmann::json_sax<json> {
 public:
  json root;
  std::map<std::size_t, std::string> raw_ids;  // Request (batch index, 0 alone) -> id text.
  std::string error;

  bool null() override { return add(nullptr); }
  bool boolean(bool value) override { return add(value); }
  bool number_integer(number_integer_t value) override { return add(value); }
  bool number_unsigned(number_unsigned_t value) override { return add(value); }
  bool number_float(number_float_t value, const string_t& text) override {
    add(value);
    if (at_request_id()) {
      raw_ids[request_index()] = text;
    }
    return true;
  }
  bool string(string_t& value) override { return add(std::move(value)); }
  bool binary(binary_t& value) override { return add(json::binary(std::move(value))); }
  bool start_object(std::size_t /*elements*/) override { return open(json::object()); }
  bool key(string_t& key) override {
    m_key = std::move(key);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t /*elements*/) override { return open(json::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const json::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  // The value now read is the "id" member of a request: of the top object, or of an object
  // in the top array (a batch).
  bool at_request_id() const {
    return m_key == "id" && ((m_stack.size() == 1 && m_stack[0]->is_object()) ||
                             (m_stack.size() == 2 && m_stack[0]->is_array()));
  }
  std::size_t request_index() const { return m_stack[0]->is_array() ? m_stack[0]->size() - 1 : 0; }
  // Puts `value` where the parser is (the root, the next element, the member m_key) and
  // returns where it went. A later member of the same name replaces an earlier one, id too.
  json* place(json value) {
    if (at_request_id()) {
      raw_ids.erase(request_index());
    }
    if (m_stack.empty()) {
      root = std::move(value);
      return &root;
    }
    json& parent = *m_stack.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& member = parent[m_key];
    member = std::move(value);
    return &member;
  }
  bool add(json value) {
    place(std::move(value));
    return true;
  }
  // Only the innermost open container grows, so the pointers held in m_stack stay valid.
  bool open(json container) {
    m_stack.push_back(place(std::move(container)));
    return true;
  }
  bool close() {
    m_stack.pop_back();
    return true;
  }

  std::vector<json*> m_stack;  // The open containers, outermost first.
  std::string m_key;
};

}  // namespace

RequestLine parse_request_line(std::string_view line) {
  RequestLine request;
  // Requests nest a few levels; a client sending [[[[...]]]] 100,000 deep must not make the
  // daemon recurse.
  if (const auto nesting = json_nesting(line); nesting.beyond_limit) {
    request.error = rpc_error(
        RpcCode::InvalidRequest,
        fmt::format("JSON nested {} deep; the limit is {}", nesting.deepest, kMaxJsonNesting));
    return request;
  }
  RequestParser parser;
  bool parsed = false;
  try {
    parsed = json::sax_parse(line, &parser);
  } catch (const json::exception& e) {
    parser.error = e.what();
  }
  if (!parsed) {
    request.error = rpc_error(RpcCode::ParseError, fmt::format("not valid JSON: {}", parser.error));
    return request;
  }
  request.message = std::move(parser.root);
  request.raw_ids = std::move(parser.raw_ids);
  return request;
}

}  // namespace ucam::service
