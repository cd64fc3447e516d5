// The wire side of libucam-sg.so: a connected stream socket to ucamd, one JSON-RPC request at a
// time, with the binary data path both ways (docs/api.md, "Binary data").
//
// The socket fd is the program's fd (what open() returned), so this class does not own it: the
// interposer closes it when the program calls close(). Not thread-safe: the interposer holds the
// file's mutex around every call().
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace ucam::preload {

using json = nlohmann::json;

// An errno on failure: what the interposed call then sets.
template <class T>
using ErrnoResult = tl::expected<T, int>;

// A reply: `result` when the call succeeded, else `error` (the JSON-RPC error object). `binary`
// holds the raw bytes that followed the reply line (top-level "binary": M).
struct Reply {
  json result;
  std::optional<json> error;
  std::string binary;
};

// Connects a new AF_UNIX stream socket to `path` (SOCK_CLOEXEC if `cloexec`). The fd, or the
// errno of socket()/connect() (ENOENT: no socket there; ECONNREFUSED: nobody listening).
ErrnoResult<int> connect_socket(const std::string& path, bool cloexec);

// Closes an fd without going through the interposed close() (for the failure paths).
void close_raw(int fd);

class Connection {
 public:
  explicit Connection(int fd) : m_fd(fd) {}

  // Sends one request, then reads its reply. `binary_out`, when not empty, follows the request
  // line as raw bytes ("binary": N); `binary_reply` asks for data as raw bytes after the reply.
  // `timeout_ms` < 0 waits as long as ucamd takes (an SG_IO may legitimately take its whole
  // command timeout). Fails with EIO when the connection is lost or the reply is not JSON-RPC,
  // ETIMEDOUT after `timeout_ms`; an RPC error is a Reply with `error`, not a failure.
  ErrnoResult<Reply> call(std::string_view method, const json& params,
                          std::span<const std::uint8_t> binary_out, bool binary_reply,
                          int timeout_ms = -1);

  int fd() const { return m_fd; }
  // Moves the connection to another fd of the same socket (a dup(), when the program closes the
  // one in use).
  void set_fd(int fd) { m_fd = fd; }

 private:
  ErrnoResult<void> send_all(const char* data, std::size_t size);
  // Reads until m_buffer holds `n` bytes.
  ErrnoResult<void> fill(std::size_t n, int timeout_ms);
  ErrnoResult<std::string> read_line(int timeout_ms);

  int m_fd;
  std::int64_t m_id = 0;
  std::string m_buffer;  // Bytes read past the last reply (none in practice: one call at a time).
};

}  // namespace ucam::preload
