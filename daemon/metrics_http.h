// The Prometheus endpoint: GET /metrics on a loopback HTTP port. Off unless configured.
//
// One request per connection (HTTP/1.1 with "Connection: close"), served by one thread that
// polls every connection, so a connection that sends nothing, or half a request, costs a file
// descriptor and a small buffer, never a thread, and never delays a scrape. Bounds: at most
// kMaxConnections at once (a new one evicts the connection that has waited longest for its
// request), kRequestTimeout to send the request head, at most kMaxRequestBytes of it, and
// kWriteTimeout to take the response.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "base/result.h"
#include "service/service.h"

namespace ucam::daemon {

class MetricsHttp {
 public:
  static constexpr std::size_t kMaxConnections = 32;
  static constexpr std::size_t kMaxRequestBytes = 8192;
  static constexpr std::chrono::milliseconds kRequestTimeout{5000};
  static constexpr std::chrono::milliseconds kWriteTimeout{10'000};

  // Binds `listen` ("127.0.0.1:9477", "[::1]:9477"; port 0 picks one) and serves until
  // destroyed. `service` must outlast this object.
  static Result<std::unique_ptr<MetricsHttp>> create(service::Service& service,
                                                     const std::string& listen);
  // Stops the thread and closes every connection.
  ~MetricsHttp();
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  // The bound address, with the actual port ("127.0.0.1:40123").
  const std::string& address() const { return m_address; }

 private:
  struct Connection;
  explicit MetricsHttp(service::Service& service) : m_service(service) {}
  void serve();  // The thread.
  // The response to one request head (the text up to its blank line).
  std::string respond(std::string_view head);

  service::Service& m_service;
  int m_listen_fd = -1;
  int m_stop_fd = -1;  // eventfd: wakes the thread to stop.
  std::thread m_thread;
  std::string m_address;
};

}  // namespace ucam::daemon
