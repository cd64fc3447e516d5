// ucamctl's human output, rendered from the service's JSON results (so the text is the same
// whether the answer came from ucamd or from the in-process stack).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "service/rpc.h"

namespace ucam::cli {

using service::json;

std::string render_devlist(const json& devices, bool verbose);

// devlist's text one device at a time, for a result that is never held whole
// (Client::call_each): the devices given to next() in order make render_devlist's text.
class DevlistRenderer {
 public:
  explicit DevlistRenderer(bool verbose) : m_verbose(verbose) {}
  // The device's line, after a line for its bus when verbose and the bus is new.
  std::string next(const json& device);

 private:
  bool m_verbose;
  std::optional<std::uint32_t> m_last_bus;
};

// An array's dump(2) one element at a time: the elements given to next() in order, then
// finish(), make the text json(array).dump(2) gives (without a final newline).
class PrettyArrayWriter {
 public:
  std::string next(const json& element);
  std::string finish();

 private:
  bool m_empty = true;
};
std::string render_inquiry(const json& inquiry);
std::string render_command(const json& result);
std::string render_tur(const json& result);
std::string render_pt_send(const json& result);
std::string render_pt_receive(const json& result);
std::string render_enc_list(const json& list);
std::string render_enc_map(const json& map);
std::string render_enc_show(const json& show);
std::string render_enc_status(const json& status);
std::string render_enc_led(const json& leds, bool fault);
std::string render_event(const json& event);
std::string render_status(const json& status);

}  // namespace ucam::cli
