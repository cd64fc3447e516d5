// The Prometheus endpoint: GET /metrics on a loopback HTTP port (cpp-httplib, Debian's
// libcpp-httplib-dev). Off unless configured.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "base/result.h"
#include "service/service.h"

namespace httplib {
class Server;
}

namespace ucam::daemon {

class MetricsHttp {
 public:
  // Binds `listen` ("127.0.0.1:9477"; port 0 picks one) and serves until destroyed.
  // `service` must outlast this object.
  static Result<std::unique_ptr<MetricsHttp>> create(service::Service& service,
                                                     const std::string& listen);
  ~MetricsHttp();
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  // The bound address, with the actual port ("127.0.0.1:40123").
  const std::string& address() const { return m_address; }

 private:
  MetricsHttp() = default;
  std::unique_ptr<httplib::Server> m_server;
  std::thread m_thread;
  std::string m_address;
};

}  // namespace ucam::daemon
