#include "daemon/metrics_http.h"

#include <httplib.h>

#include <cerrno>

#include "base/log.h"
#include "daemon/config.h"

namespace ucam::daemon {

Result<std::unique_ptr<MetricsHttp>> MetricsHttp::create(service::Service& service,
                                                         const std::string& listen) {
  auto hp = parse_listen(listen);
  if (!hp) {
    return fail(hp.error());
  }
  const auto& [host, port] = *hp;
  if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
    log_warning("metrics: listening on {}, which is not a loopback address", host);
  }
  std::unique_ptr<MetricsHttp> m(new MetricsHttp());
  m->m_server = std::make_unique<httplib::Server>();
  m->m_server->Get("/metrics", [&service](const httplib::Request&, httplib::Response& res) {
    res.set_content(service.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  m->m_server->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ucamd: metrics are at /metrics\n", "text/plain");
  });
  int bound = port;
  if (port == 0) {
    bound = m->m_server->bind_to_any_port(host);
  } else if (!m->m_server->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0) {
    return fail(Error::described(EADDRNOTAVAIL, "metrics: cannot listen on " + listen));
  }
  m->m_address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, bound)
                                                     : fmt::format("{}:{}", host, bound);
  m->m_thread = std::thread([s = m->m_server.get()] { s->listen_after_bind(); });
  // stop() is a no-op until the server runs; wait for it so that the destructor cannot hang.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!m->m_server->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  log_info("metrics: serving http://{}/metrics", m->m_address);
  return m;
}

MetricsHttp::~MetricsHttp() {
  if (m_server) {
    m_server->stop();
  }
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

}  // namespace ucam::daemon
