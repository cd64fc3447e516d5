// devices.list, device.inquiry, device.tur, pass.command, pass.get_device, da.*, pt.*, rescan;
// events.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "base/hex.h"
#include "periphs/da/da.h"
#include "periphs/enc/enc.h"
#include "periphs/pass/pass.h"
#include "periphs/pt/pt.h"
#include "scsi/inquiry.h"
#include "scsi/opcodes.h"
#include "scsi/sense.h"
#include "scsi/ses.h"
#include "scsi/vpd.h"
#include "service/json_writer.h"
#include "service/service.h"

namespace ucam::service {
namespace {

const char* scsi_status_name(cam::ScsiStatus s) {
  switch (s) {
    case cam::ScsiStatus::Good:
      return "GOOD";
    case cam::ScsiStatus::CheckCondition:
      return "CHECK CONDITION";
    case cam::ScsiStatus::ConditionMet:
      return "CONDITION MET";
    case cam::ScsiStatus::Busy:
      return "BUSY";
    case cam::ScsiStatus::ReservationConflict:
      return "RESERVATION CONFLICT";
    case cam::ScsiStatus::TaskSetFull:
      return "TASK SET FULL";
    case cam::ScsiStatus::AcaActive:
      return "ACA ACTIVE";
    case cam::ScsiStatus::TaskAborted:
      return "TASK ABORTED";
  }
  return "UNKNOWN";
}

json sense_json(const std::vector<std::uint8_t>& sense) {
  if (sense.empty()) {
    return nullptr;
  }
  json j;
  j["hex"] = hex_string(sense);
  if (auto parsed = scsi::parse_sense(sense)) {
    j["key"] = parsed->sense_key;
    j["key_name"] = scsi::sense_key_name(parsed->sense_key);
    j["asc"] = parsed->asc;
    j["ascq"] = parsed->ascq;
    j["text"] = scsi::asc_ascq_text(parsed->asc, parsed->ascq);
    j["description"] = scsi::describe_sense(*parsed);
  } else {
    j["description"] =
        "undecodable sense: " + parsed.error().message() + " (" + hex_string(sense) + ")";
  }
  return j;
}

json command_json(Session& session, const std::string& node, const pass::PassCommand& cmd,
                  std::span<const std::uint8_t> data_in, bool data_in_expected) {
  json out = {{"device", node},
              {"ok", cmd.status == CamStatus::ReqCmp},
              {"cam_status", static_cast<int>(cmd.status)},
              {"cam_status_text", cam_status_name(cmd.status)},
              {"scsi_status", static_cast<int>(cmd.scsi_status)},
              {"scsi_status_text", scsi_status_name(cmd.scsi_status)},
              {"resid", cmd.resid},
              {"sense", sense_json(cmd.sense)}};
  if (data_in_expected) {
    put_data_in(session, out, "data_in", {data_in.begin(), data_in.end()});
  }
  return out;
}

// Runs one CDB on an open node.
Result<pass::PassCommand> run_cdb(devfs::FileHandle& file, cam::CancelToken* cancel,
                                  std::vector<std::uint8_t> cdb, cam::DataDir dir,
                                  std::span<std::uint8_t> data, std::chrono::milliseconds timeout,
                                  cam::Recovery recovery) {
  pass::PassCommand cmd;
  cmd.cdb = std::move(cdb);
  cmd.dir = dir;
  cmd.data = data;
  cmd.timeout = timeout;
  cmd.recovery = recovery;
  cmd.cancel = cancel;
  if (auto r = file.ioctl(cmd); !r) {
    return fail(r.error());
  }
  return cmd;
}

Result<std::vector<std::uint8_t>> inquiry_page(devfs::FileHandle& file, cam::CancelToken* cancel,
                                               scsi::InquiryData evpd, std::uint8_t page) {
  std::vector<std::uint8_t> buf(evpd == scsi::InquiryData::Standard ? 255 : 1024);
  const auto cdb = scsi::inquiry(evpd, page, static_cast<std::uint16_t>(buf.size()));
  auto r = run_cdb(file, cancel, {cdb.bytes.begin(), cdb.bytes.begin() + cdb.len}, cam::DataDir::In,
                   buf, std::chrono::seconds(10), cam::Recovery::Standard);
  if (!r) {
    return fail(r.error());
  }
  if (r->status != CamStatus::ReqCmp) {
    std::string why(cam_status_name(r->status));
    if (!r->sense.empty()) {
      why = sense_json(r->sense)["description"].get<std::string>();
    }
    return fail(Error::from_cam(r->status, fmt::format("INQUIRY page 0x{:02x}: {}", page, why)));
  }
  buf.resize(buf.size() - std::min<std::size_t>(r->resid, buf.size()));
  return buf;
}

Result<json> inquiry(devfs::FileHandle& file, const std::string& node, cam::CancelToken* cancel) {
  auto std_data = inquiry_page(file, cancel, scsi::InquiryData::Standard, 0);
  if (!std_data) {
    return fail(named(std_data.error(), node));
  }
  auto inq = scsi::parse_standard_inquiry(*std_data);
  if (!inq) {
    return fail(Error::from_cam(CamStatus::ReqCmpErr,
                                node + ": standard INQUIRY data: " + inq.error().message()));
  }
  json raw = {{"standard", hex_string(*std_data)}};
  std::vector<std::uint8_t> pages;
  std::string serial;
  std::vector<scsi::Designator> designators;
  if (auto vpd0 = inquiry_page(file, cancel, scsi::InquiryData::VpdPage, 0x00)) {
    raw["vpd_00"] = hex_string(*vpd0);
    if (auto p = scsi::parse_supported_vpd_pages(*vpd0)) {
      pages = *p;
    }
  }
  const auto has = [&](std::uint8_t p) {
    return std::find(pages.begin(), pages.end(), p) != pages.end();
  };
  if (has(0x80)) {
    if (auto v = inquiry_page(file, cancel, scsi::InquiryData::VpdPage, 0x80)) {
      raw["vpd_80"] = hex_string(*v);
      if (auto s = scsi::parse_unit_serial_number(*v)) {
        serial = *s;
      }
    }
  }
  if (has(0x83)) {
    if (auto v = inquiry_page(file, cancel, scsi::InquiryData::VpdPage, 0x83)) {
      raw["vpd_83"] = hex_string(*v);
      if (auto d = scsi::parse_device_identification(*v)) {
        designators = *d;
      }
    }
  }
  json ids = json::array();
  for (const auto& d : designators) {
    ids.push_back({{"association", scsi::association_name(d.association)},
                   {"type", scsi::designator_type_name(d.type)},
                   {"code_set", scsi::code_set_name(d.code_set)},
                   {"piv", d.piv},
                   {"protocol", d.piv ? json(scsi::protocol_id_name(d.protocol_id)) : json()},
                   {"value", scsi::designator_value_text(d)}});
  }
  return json{{"device", node},
              {"vendor", inq->vendor},
              {"product", inq->product},
              {"revision", inq->revision},
              {"peripheral_qualifier", inq->peripheral_qualifier},
              {"device_type", inq->device_type},
              {"device_type_name", scsi::peripheral_type_name(inq->device_type)},
              {"version", inq->version},
              {"rmb", inq->rmb},
              {"encserv", inq->encserv},
              {"multip", inq->multip},
              {"cmdque", inq->cmdque},
              {"hisup", inq->hisup},
              {"tpgs", inq->tpgs},
              {"protect", inq->protect},
              {"supported_vpd_pages", pages},
              {"serial", serial},
              {"designators", ids},
              {"raw", raw}};
}

// One devices.list entry (pass.get_device adds the `node` it was asked through), written as
// text with its members in the order json::dump() sorts them (JsonWriter's contract).
void write_device(JsonWriter& w, Stack& stack, const cam::DeviceInfo& d,
                  const std::string* node = nullptr) {
  w.begin_object();
  w.key("bus").unsigned_number(d.path.bus);
  w.key("device_type").unsigned_number(d.device_type);
  w.key("device_type_name").string(scsi::peripheral_type_name(d.device_type));
  w.key("lun").unsigned_number(d.path.lun);
  if (node != nullptr) {
    w.key("node").string(*node);
  }
  w.key("periphs").begin_array();
  for (const auto& name : stack.periphs().names_for(d.path)) {
    w.string(name);
  }
  w.end_array();
  // The enclosure slot, when an enclosure has published one (FreeBSD's physical path).
  w.key("physical_path");
  if (const auto phys = d.advinfo.find(cam::AdvinfoType::PhysPath); phys != d.advinfo.end()) {
    w.string({reinterpret_cast<const char*>(phys->second.data()), phys->second.size()});
  } else {
    w.null();
  }
  w.key("product").string(d.product);
  w.key("revision").string(d.revision);
  w.key("serial").string(d.serial);
  w.key("sim").string(fmt::format("{}{}", d.sim_name, d.sim_unit));
  w.key("sim_bus").unsigned_number(d.sim_bus);
  w.key("target").unsigned_number(d.path.target);
  w.key("vendor").string(d.vendor);
  w.end_object();
}

// An enclosure event's payload. Every event the enc driver posts carries one; an event posted
// without (or with another driver's) reads as the enclosure with status 0, which is what the
// JSON said before the payload left cam::AsyncEvent.
const enc::ElementEvent& enclosure_payload(const cam::AsyncEvent& event) {
  static const enc::ElementEvent kNone(-1, 0, 0);
  const auto* payload = event.payload_as<enc::ElementEvent>();
  return payload != nullptr ? *payload : kNone;
}

}  // namespace

json event_json(Stack& stack, const cam::AsyncEvent& event, const std::vector<std::string>* names) {
  json j = {
      {"event", cam::async_code_name(event.code)},
      {"time",
       std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()}};
  if (event.path.bus != cam::Path::kWildcardBus) {
    j["bus"] = event.path.bus;
  }
  if (event.path.target != cam::Path::kWildcardTarget) {
    j["target"] = event.path.target;
  }
  if (event.path.lun != cam::Path::kWildcardLun) {
    j["lun"] = event.path.lun;
  }
  j["periphs"] = names != nullptr ? *names : stack.periphs().names_for(event.path);
  switch (event.code) {
    case cam::AsyncCode::UnitAttention:
      j["sense_key"] = event.sense_key;
      j["asc"] = event.asc;
      j["ascq"] = event.ascq;
      j["text"] = scsi::asc_ascq_text(event.asc, event.ascq);
      break;
    case cam::AsyncCode::AdvinfoChanged:
      j["advinfo"] = static_cast<int>(event.advinfo);
      if (event.advinfo == cam::AdvinfoType::PhysPath) {
        if (auto d = stack.xpt().device(event.path)) {
          const auto phys = d->advinfo.find(cam::AdvinfoType::PhysPath);
          j["physical_path"] = phys == d->advinfo.end()
                                   ? json()
                                   : json(std::string(phys->second.begin(), phys->second.end()));
        }
      }
      break;
    case cam::AsyncCode::ElementStatusChanged:
      j["element"] = enclosure_payload(event).element;
      j["old_status"] = scsi::ses::element_status_name(enclosure_payload(event).old_status);
      j["new_status"] = scsi::ses::element_status_name(enclosure_payload(event).new_status);
      break;
    case cam::AsyncCode::EnclosureStatusChanged:
      j["old_flags"] = enclosure_payload(event).old_status;
      j["new_flags"] = enclosure_payload(event).new_status;
      break;
    case cam::AsyncCode::SlotDeviceChanged:
      j["element"] = enclosure_payload(event).element;
      break;
    default:
      break;
  }
  return j;
}

void register_device_methods(Service& service) {
  Stack& stack = service.stack();
  service.add_method(
      "devices.list", Right::Read,
      "Every device in the XPT database: path, SIM, inquiry strings, periphs, physical path.", {},
      [&stack](Session& session, const json& /*params*/) -> Result<json> {
        // Written as text, not built as a tree: with 100,000 LUNs the tree (a std::map per
        // device) was the largest thing in the process after the devices themselves.
        // A device's entry is about 400 bytes; room for more costs nothing until written,
        // while growing the text as it comes copies it (twice its size at a time).
        constexpr std::size_t kRoomPerDevice = 1024;
        JsonWriter w;
        w.reserve(stack.xpt().device_entries() * kRoomPerDevice + 4096);
        w.begin_array();
        // One device copied at a time: a copy of all was 40 MB on 100,000 LUNs.
        stack.xpt().for_each_device([&](const cam::DeviceInfo& d) { write_device(w, stack, d); });
        w.end_array();
        session.set_result_text(w.take());
        return json();
      });
  service.add_method(
      "device.inquiry", Right::Read,
      "Standard INQUIRY and VPD pages 0x00, 0x80, 0x83 of `device` (or `handle`), decoded.",
      {{"device", ParamType::String}, {"handle", ParamType::Integer}},
      [&service](Session& session, const json& params) -> Result<json> {
        return with_node(
            service, session, params, "device",
            [&session](devfs::FileHandle& file, const std::string& node) {
              return inquiry(file, node, &session.cancel_token());
            },
            Resolve::Pass);
      });
  service.add_method(
      "device.tur", Right::Read, "TEST UNIT READY on `device` (or `handle`), with recovery.",
      {{"device", ParamType::String}, {"handle", ParamType::Integer}},
      [&service](Session& session, const json& params) -> Result<json> {
        return with_node(
            service, session, params, "device",
            [&session](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              auto r =
                  run_cdb(file, &session.cancel_token(), {0, 0, 0, 0, 0, 0}, cam::DataDir::None, {},
                          std::chrono::seconds(10), cam::Recovery::Standard);
              if (!r) {
                return fail(named(r.error(), node));
              }
              return command_json(session, node, *r, {}, false);
            },
            Resolve::Pass);
      });
  service.add_method(
      "pass.command", Right::Admin,
      "Runs a raw CDB (hex) on `device` or `handle`; data in (`data_in_length`) or out "
      "(`data_out`, hex, or binary data after the request; binary_reply for data in).",
      {{"device", ParamType::String},
       {"handle", ParamType::Integer},
       {"cdb", ParamType::String},
       {"data_in_length", ParamType::Integer},
       {"data_out", ParamType::String},
       {"timeout_ms", ParamType::Integer},
       {"recover", ParamType::Boolean}},
      [&service](Session& session, const json& params) -> Result<json> {
        auto cdb_text = param_string(params, "cdb");
        if (!cdb_text) {
          return fail(cdb_text.error());
        }
        auto cdb = parse_hex(*cdb_text, HexTokens::AllowRuns);
        if (!cdb) {
          return fail(Error::invalid("params.cdb: " + cdb.error().message()));
        }
        if (cdb->empty() || cdb->size() > cam::Ccb::kMaxCdb) {
          return fail_invalid(
              fmt::format("params.cdb: {} bytes; a CDB is 1 to 32 bytes", cdb->size()));
        }
        // Hex in JSON is capped at 16 MiB; binary data at max_binary_bytes.
        const std::int64_t in_limit =
            session.binary_reply() ? static_cast<std::int64_t>(service.limits().max_binary_bytes)
                                   : 16 * 1024 * 1024;
        auto in_len = param_optional_int(params, "data_in_length", 1, in_limit);
        auto out = data_out(session, params, "data_out");
        auto timeout = param_optional_int(params, "timeout_ms", 1, 3'600'000);
        auto recover = param_bool(params, "recover", false);
        for (const Error* e :
             {in_len ? nullptr : &in_len.error(), out ? nullptr : &out.error(),
              timeout ? nullptr : &timeout.error(), recover ? nullptr : &recover.error()}) {
          if (e != nullptr) {
            return fail(*e);
          }
        }
        std::vector<std::uint8_t> out_data = std::move(*out).value_or(std::vector<std::uint8_t>());
        if (*in_len && !out_data.empty()) {
          return fail_invalid(
              "params: data_in_length and data_out are exclusive (one data direction)");
        }
        std::vector<std::uint8_t> in_data(static_cast<std::size_t>(in_len->value_or(0)));
        const auto dir = !in_data.empty()
                             ? cam::DataDir::In
                             : (out_data.empty() ? cam::DataDir::None : cam::DataDir::Out);
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              std::span<std::uint8_t> data = dir == cam::DataDir::In
                                                 ? std::span<std::uint8_t>(in_data)
                                                 : std::span<std::uint8_t>(out_data);
              auto r = run_cdb(file, &session.cancel_token(), *cdb, dir, data,
                               std::chrono::milliseconds(timeout->value_or(60'000)),
                               *recover ? cam::Recovery::Standard : cam::Recovery::None);
              if (!r) {
                return fail(named(r.error(), node));
              }
              std::span<const std::uint8_t> shown;
              if (dir == cam::DataDir::In) {
                shown = std::span<const std::uint8_t>(in_data).first(
                    in_data.size() - std::min<std::size_t>(r->resid, in_data.size()));
              }
              return command_json(session, node, *r, shown, dir == cam::DataDir::In);
            },
            Resolve::Pass);
      },
      BinaryUse::InOut);
  service.add_method(
      "pass.get_device", Right::Read,
      "The device behind `device` or `handle` (XPT_GDEV_TYPE): as one devices.list entry.",
      {{"device", ParamType::String}, {"handle", ParamType::Integer}},
      [&service, &stack](Session& session, const json& params) -> Result<json> {
        return with_node(
            service, session, params, "device",
            [&stack, &session](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              pass::PassGetDevice get;
              if (auto r = file.ioctl(get); !r) {
                return fail(named(r.error(), node));
              }
              JsonWriter w;
              write_device(w, stack, get.device, &node);
              session.set_result_text(w.take());
              return json();
            },
            Resolve::Pass);
      });
  service.add_method("da.geometry", Right::Read,
                     "Block length and count of disk `device` (daN, or any name of the disk) or "
                     "`handle`.",
                     {{"device", ParamType::String}, {"handle", ParamType::Integer}},
                     [&service](Session& session, const json& params) -> Result<json> {
                       return with_node(
                           service, session, params, "device",
                           [](devfs::FileHandle& file, const std::string& node) -> Result<json> {
                             da::DaGetGeometry g;
                             if (auto r = file.ioctl(g); !r) {
                               return fail(named(r.error(), node));
                             }
                             return json{{"device", node},
                                         {"block_length", g.block_length},
                                         {"block_count", g.block_count},
                                         {"bytes", g.block_count * g.block_length}};
                           });
                     });
  service.add_method(
      "da.read", Right::Admin,
      "Reads `blocks` blocks from `lba` of disk `device` or `handle`: as hex (at most 256 "
      "blocks), or with binary_reply as the bytes after the reply (up to max_binary_bytes).",
      {{"device", ParamType::String},
       {"handle", ParamType::Integer},
       {"lba", ParamType::Integer},
       {"blocks", ParamType::Integer}},
      [&service](Session& session, const json& params) -> Result<json> {
        auto lba = param_int(params, "lba", 0, INT64_MAX);
        auto blocks = param_int(params, "blocks", 1, session.binary_reply() ? UINT32_MAX : 256);
        if (!lba || !blocks) {
          return fail(!lba ? lba.error() : blocks.error());
        }
        const auto limit = service.limits().max_binary_bytes;
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              da::DaGetGeometry g;
              if (auto r = file.ioctl(g); !r) {
                return fail(named(r.error(), node));
              }
              const auto bytes = static_cast<std::uint64_t>(*blocks) * g.block_length;
              if (session.binary_reply() && bytes > limit) {
                return fail(Error::described(
                    E2BIG, fmt::format("params.blocks: {} blocks are {} bytes, over the limit of "
                                       "{} (max_binary_bytes)",
                                       *blocks, bytes, limit)));
              }
              std::vector<std::uint8_t> data(static_cast<std::size_t>(bytes));
              da::DaIo io(da::DaIo::kRead);
              io.lba = static_cast<std::uint64_t>(*lba);
              io.blocks = static_cast<std::uint32_t>(*blocks);
              io.data = data;
              io.cancel = &session.cancel_token();
              if (auto r = file.ioctl(io); !r) {
                return fail(r.error());
              }
              json out = {{"device", node}, {"lba", *lba}, {"blocks", *blocks}};
              put_data_in(session, out, "data", std::move(data));
              return out;
            });
      },
      BinaryUse::In);
  service.add_method(
      "da.write", Right::Admin,
      "Writes whole blocks (`data`, hex, or binary data after the request) at "
      "`lba` of disk `device` or `handle`.",
      {{"device", ParamType::String},
       {"handle", ParamType::Integer},
       {"lba", ParamType::Integer},
       {"data", ParamType::String}},
      [&service](Session& session, const json& params) -> Result<json> {
        auto lba = param_int(params, "lba", 0, INT64_MAX);
        auto given = data_out(session, params, "data");
        if (!lba || !given) {
          return fail(!lba ? lba.error() : given.error());
        }
        if (!*given) {
          return fail_invalid("params.data: required (hex), or binary data after the request");
        }
        auto& bytes = *given;
        return with_node(service, session, params, "device",
                         [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
                           da::DaGetGeometry g;
                           if (auto r = file.ioctl(g); !r) {
                             return fail(named(r.error(), node));
                           }
                           if (bytes->empty() || bytes->size() % g.block_length != 0) {
                             return fail_invalid(fmt::format(
                                 "params.data: {} bytes is not a whole number of {}-byte blocks",
                                 bytes->size(), g.block_length));
                           }
                           da::DaIo io(da::DaIo::kWrite);
                           io.lba = static_cast<std::uint64_t>(*lba);
                           io.blocks = static_cast<std::uint32_t>(bytes->size() / g.block_length);
                           io.data = *bytes;
                           io.cancel = &session.cancel_token();
                           if (auto r = file.ioctl(io); !r) {
                             return fail(r.error());
                           }
                           return json{{"device", node}, {"blocks", io.blocks}};
                         });
      },
      BinaryUse::Out);
  // pt: one SEND or RECEIVE per call. A device name is mapped to its pt node ("pass4" and
  // "0:8:0" name pt0 too) and opened for the call; pt allows one opener, so a name fails with
  // Busy while any session holds the node open (use that session's handle).
  service.add_method(
      "pt.send", Right::Admin,
      "Sends one message (`data`, hex, or binary data after the request; may be empty) to "
      "processor device `device` (ptN, or any name of the device) or `handle`: one SEND command.",
      {{"device", ParamType::String},
       {"handle", ParamType::Integer},
       {"data", ParamType::String},
       {"timeout_ms", ParamType::Integer}},
      [&service](Session& session, const json& params) -> Result<json> {
        auto given = data_out(session, params, "data");
        auto timeout = param_optional_int(params, "timeout_ms", 1, 3'600'000);
        if (!given || !timeout) {
          return fail(!given ? given.error() : timeout.error());
        }
        if (!*given) {
          return fail_invalid("params.data: required (hex), or binary data after the request");
        }
        auto& bytes = *given;
        if (bytes->size() > pt::kMaxTransfer) {
          return fail_invalid(
              fmt::format("params.data: {} bytes; SEND carries at most {} (24-bit transfer length)",
                          bytes->size(), pt::kMaxTransfer));
        }
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              pt::PtIo io(pt::PtIo::kSend);
              io.data = *bytes;
              io.timeout = std::chrono::milliseconds(timeout->value_or(60'000));
              io.cancel = &session.cancel_token();
              if (auto r = file.ioctl(io); !r) {
                return fail(named(r.error(), node));
              }
              return json{{"device", node}, {"sent", io.transferred}};
            },
            Resolve::Pt);
      },
      BinaryUse::Out);
  service.add_method(
      "pt.receive", Right::Admin,
      "Receives one message of at most `length` bytes (default 4096, at most 16777215) from "
      "processor device `device` or `handle`: one RECEIVE command; `data` (hex, or with "
      "binary_reply the bytes after the reply) is empty when the device had none.",
      {{"device", ParamType::String},
       {"handle", ParamType::Integer},
       {"length", ParamType::Integer},
       {"timeout_ms", ParamType::Integer}},
      [&service](Session& session, const json& params) -> Result<json> {
        auto length = param_optional_int(params, "length", 0, pt::kMaxTransfer);
        auto timeout = param_optional_int(params, "timeout_ms", 1, 3'600'000);
        if (!length || !timeout) {
          return fail(!length ? length.error() : timeout.error());
        }
        std::vector<std::uint8_t> buf(static_cast<std::size_t>(length->value_or(4096)));
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              pt::PtIo io(pt::PtIo::kReceive);
              io.data = buf;
              io.timeout = std::chrono::milliseconds(timeout->value_or(60'000));
              io.cancel = &session.cancel_token();
              if (auto r = file.ioctl(io); !r) {
                return fail(named(r.error(), node));
              }
              json out = {{"device", node}, {"length", buf.size()}, {"received", io.transferred}};
              buf.resize(io.transferred);
              put_data_in(session, out, "data", std::move(buf));
              return out;
            },
            Resolve::Pt);
      },
      BinaryUse::In);
  service.add_method(
      "rescan", Right::Admin,
      "Rescans every bus, or `bus` (XPT path id), and waits until periphs have settled.",
      {{"bus", ParamType::Integer}}, [&stack](Session&, const json& params) -> Result<json> {
        auto bus = param_optional_int(params, "bus", 0, UINT32_MAX - 1);
        if (!bus) {
          return fail(bus.error());
        }
        Result<void> r =
            *bus ? stack.xpt().scan({static_cast<std::uint32_t>(**bus), cam::Path::kWildcardTarget,
                                     cam::Path::kWildcardLun})
                 : stack.xpt().scan_all();
        if (!r) {
          return fail(r.error());
        }
        stack.settle();
        return json{{"devices", stack.xpt().devices().size()}};
      });
}

}  // namespace ucam::service
