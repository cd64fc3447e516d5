// ucamctl's human output, rendered from the service's JSON results (so the text is the same
// whether the answer came from ucamd or from the in-process stack).
#pragma once

#include <string>

#include "service/rpc.h"

namespace ucam::cli {

using service::json;

std::string render_devlist(const json& devices, bool verbose);
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
