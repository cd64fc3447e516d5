// Service::metrics_text(): the Prometheus text exposition format, version 0.0.4.
#include <fmt/format.h>

#include <map>

#include "periphs/enc/enc.h"
#include "scsi/inquiry.h"
#include "scsi/ses.h"
#include "scsi/ses_element.h"
#include "service/service.h"

namespace ucam::service {
namespace ses = scsi::ses;

namespace {

// Label values escape backslash, double quote and newline.
std::string escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Exposition {
 public:
  // Starts a family; samples follow with sample().
  void family(std::string_view name, std::string_view type, std::string_view help) {
    m_text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
              double value) {
    m_text += name;
    if (!labels.empty()) {
      m_text += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        m_text += fmt::format("{}{}=\"{}\"", first ? "" : ",", k, escape(v));
        first = false;
      }
      m_text += '}';
    }
    m_text += fmt::format(" {}\n", value);
  }
  std::string take() { return std::move(m_text); }

 private:
  std::string m_text;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

}  // namespace

std::string Service::metrics_text() {
  Exposition x;
  const json st = status();

  x.family("ucam_clients", "gauge", "Connected clients (sessions).");
  x.sample("ucam_clients", {}, static_cast<double>(st["sessions"].size()));
  x.family("ucam_open_handles", "gauge", "Handles clients hold open.");
  x.sample("ucam_open_handles", {}, st["handles"].get<double>());
  x.family("ucam_devfs_opens", "gauge", "Outstanding opens of device nodes (all users).");
  x.sample("ucam_devfs_opens", {}, st["devfs"]["opens"].get<double>());
  x.family("ucam_requests_total", "counter", "JSON-RPC requests handled.");
  x.sample("ucam_requests_total", {}, st["requests_total"].get<double>());
  x.family("ucam_request_errors_total", "counter", "JSON-RPC requests answered with an error.");
  x.sample("ucam_request_errors_total", {}, st["request_errors_total"].get<double>());

  x.family("ucam_transport_up", "gauge",
           "1 while a transport (SIM) serves commands: an iSCSI session logged in.");
  for (const auto& t : st["transports"]) {
    x.sample("ucam_transport_up",
             {{"kind", t["kind"].get<std::string>()}, {"spec", t["spec"].get<std::string>()}},
             t["up"].get<bool>() ? 1 : 0);
  }
  x.family("ucam_transport_problems", "gauge",
           "Devices a transport lists but cannot use (an sg device held O_EXCL elsewhere).");
  for (const auto& t : st["transports"]) {
    x.sample("ucam_transport_problems",
             {{"kind", t["kind"].get<std::string>()}, {"spec", t["spec"].get<std::string>()}},
             static_cast<double>(t["problems"].size()));
  }

  // Devices per peripheral type.
  std::map<std::string, int> per_type;
  for (const auto& d : m_stack.xpt().devices()) {
    ++per_type[scsi::peripheral_type_name(d.device_type)];
  }
  x.family("ucam_devices", "gauge", "Devices in the XPT database, by peripheral device type.");
  for (const auto& [type, n] : per_type) {
    x.sample("ucam_devices", {{"type", type}}, n);
  }
  std::map<std::string, int> per_driver;
  for (const auto& p : st["periphs"]) {  // status() already took the snapshot.
    std::string driver = p["name"].get<std::string>();
    while (!driver.empty() && std::isdigit(static_cast<unsigned char>(driver.back()))) {
      driver.pop_back();
    }
    ++per_driver[driver];
  }
  x.family("ucam_periphs", "gauge", "Peripheral driver instances, by driver.");
  for (const auto& [driver, n] : per_driver) {
    x.sample("ucam_periphs", {{"driver", driver}}, n);
  }

  // Per SIM (bus): CCBs, errors, timeouts, retries, latency.
  const auto sims = m_stack.xpt().sim_stats();
  auto sim_labels = [](const cam::SimStats& s) {
    return Labels{{"sim", fmt::format("{}{}", s.sim_name, s.sim_unit)},
                  {"bus", std::to_string(s.path_id)}};
  };
  x.family("ucam_ccbs_total", "counter", "SCSI I/O CCBs completed, per SIM bus.");
  for (const auto& s : sims) {
    x.sample("ucam_ccbs_total", sim_labels(s), static_cast<double>(s.ccbs));
  }
  x.family("ucam_ccb_errors_total", "counter",
           "SCSI I/O CCBs that ended with a CAM status other than REQ_CMP, per SIM bus.");
  for (const auto& s : sims) {
    x.sample("ucam_ccb_errors_total", sim_labels(s), static_cast<double>(s.errors));
  }
  x.family("ucam_ccb_timeouts_total", "counter", "CCBs the XPT timed out, per SIM bus.");
  for (const auto& s : sims) {
    x.sample("ucam_ccb_timeouts_total", sim_labels(s), static_cast<double>(s.timeouts));
  }
  x.family("ucam_ccb_retries_total", "counter", "CCB retries by error recovery, per SIM bus.");
  for (const auto& s : sims) {
    x.sample("ucam_ccb_retries_total", sim_labels(s), static_cast<double>(s.retries));
  }
  x.family("ucam_ccb_latency_seconds", "histogram",
           "SCSI I/O latency from the XPT accepting a CCB to its completion, per SIM bus.");
  for (const auto& s : sims) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < s.latency_buckets.size(); ++i) {
      cumulative += s.latency_buckets[i];
      auto labels = sim_labels(s);
      labels.emplace_back("le", i < cam::kLatencyBounds.size()
                                    ? fmt::format("{}", cam::kLatencyBounds[i])
                                    : std::string("+Inf"));
      x.sample("ucam_ccb_latency_seconds_bucket", labels, static_cast<double>(cumulative));
    }
    x.sample("ucam_ccb_latency_seconds_sum", sim_labels(s), s.latency_sum_seconds);
    x.sample("ucam_ccb_latency_seconds_count", sim_labels(s), static_cast<double>(cumulative));
  }

  // Enclosures: the enc daemons' published caches (no device I/O here).
  struct Reading {
    Labels labels;
    double value;
  };
  std::vector<Reading> temps, fans, volts, amps, statuses;
  std::vector<Reading> overall;
  for (const auto& name : m_stack.devfs().names()) {
    if (!name.starts_with("ses")) {
      continue;
    }
    auto h = m_stack.devfs().open(name);
    if (!h) {
      continue;
    }
    enc::EncGetState get;
    if (!h->ioctl(get) || !get.state) {
      continue;
    }
    overall.push_back({{{"enclosure", name}, {"id", ses::hex64(get.state->logical_id)}},
                       static_cast<double>(get.state->enclosure_status)});
    for (const auto& el : get.state->elements) {
      if (el.index_in_type < 0) {
        continue;
      }
      const auto code = ses::status_code(el.status);
      // Unsupported and Not Installed elements have no reading; the status of slots, PSUs and
      // fans is reported all the same.
      const bool no_reading = code == 0 || code == 5;
      const bool status_always =
          ses::is_slot_type(el.element_type) || el.element_type == 0x02 || el.element_type == 0x03;
      if (no_reading && !status_always) {
        continue;
      }
      Labels labels = {{"enclosure", name},
                       {"element", std::to_string(el.index)},
                       {"type", std::string(ses::element_type_name(el.element_type))},
                       {"descriptor", ses::element_descriptor_text(el.descriptor)}};
      statuses.push_back({labels, static_cast<double>(code)});
      if (no_reading) {
        continue;
      }
      switch (el.element_type) {
        case 0x04:
          if (auto t = ses::decode_temperature_status(el.status).temperature_c) {
            temps.push_back({labels, static_cast<double>(*t)});
          }
          break;
        case 0x03:
          fans.push_back({labels, static_cast<double>(
                                      ses::decode_cooling_status(el.status).actual_speed_rpm)});
          break;
        case 0x12:
          volts.push_back({labels, ses::decode_voltage_status(el.status).millivolts / 1000.0});
          break;
        case 0x13:
          amps.push_back({labels, ses::decode_current_status(el.status).milliamps / 1000.0});
          break;
        default:
          break;
      }
    }
  }
  auto emit = [&](const char* name, const char* help, const std::vector<Reading>& readings) {
    x.family(name, "gauge", help);
    for (const auto& r : readings) {
      x.sample(name, r.labels, r.value);
    }
  };
  emit("ucam_enclosure_status_flags",
       "Overall enclosure status bits (1 INFO, 2 NONCRITICAL, 4 CRITICAL, 8 UNRECOV, 16 INVOP); "
       "0 is OK.",
       overall);
  emit("ucam_enclosure_element_status",
       "SES element status code (0 Unsupported, 1 OK, 2 Critical, 3 Noncritical, 4 "
       "Unrecoverable, 5 Not Installed, 6 Unknown, 7 Not Available, 8 No Access Allowed).",
       statuses);
  emit("ucam_enclosure_temperature_celsius", "Temperature sensor reading in degrees Celsius.",
       temps);
  emit("ucam_enclosure_fan_speed_rpm", "Cooling element actual speed in rpm.", fans);
  emit("ucam_enclosure_voltage_volts", "Voltage sensor reading in volts.", volts);
  emit("ucam_enclosure_current_amperes", "Current sensor reading in amperes.", amps);
  return x.take();
}

}  // namespace ucam::service
