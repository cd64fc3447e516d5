// sg.io and sg.ioctl: Linux's sg v3 interface on ucam's sgN nodes (periphs/sg/sg.h), as RPC.
// What libucam-sg.so (LD_PRELOAD) turns a program's ioctl(SG_IO) and SG_* ioctls into. The
// fields keep the names and units of struct sg_io_hdr; the data goes as hex or, on ucamd's
// socket, as binary data (docs/api.md, "Binary data").
#include <fmt/format.h>

#include <cerrno>

#include "base/hex.h"
#include "periphs/sg/sg.h"
#include "service/service.h"

namespace ucam::service {
namespace {

struct IoctlName {
  const char* name;
  std::uint32_t code;
};
constexpr IoctlName kIoctls[] = {
    {"SG_GET_VERSION_NUM", sgp::SgGetVersionNum::kCode},
    {"SG_GET_SCSI_ID", sgp::SgGetScsiId::kCode},
    {"SG_GET_TIMEOUT", sgp::SgGetTimeout::kCode},
    {"SG_SET_TIMEOUT", sgp::SgSetTimeout::kCode},
    {"SG_GET_RESERVED_SIZE", sgp::SgGetReservedSize::kCode},
    {"SG_SET_RESERVED_SIZE", sgp::SgSetReservedSize::kCode},
    {"SG_EMULATED_HOST", sgp::SgEmulatedHost::kCode},
    {"SG_GET_SG_TABLESIZE", sgp::SgGetSgTablesize::kCode},
    {"SG_GET_ACCESS_COUNT", sgp::SgGetAccessCount::kCode},
    {"SCSI_IOCTL_GET_IDLUN", sgp::ScsiGetIdlun::kCode},
    {"SCSI_IOCTL_GET_BUS_NUMBER", sgp::ScsiGetBusNumber::kCode},
};

// An int-valued ioctl: `value` in (set) or out (get).
template <class Ioctl>
Result<json> int_ioctl(devfs::FileHandle& file, const std::string& node,
                       std::optional<std::int64_t> value) {
  Ioctl io;
  if (value) {
    io.value = static_cast<int>(*value);
  }
  if (auto r = file.ioctl(io); !r) {
    return fail(named(r.error(), node));
  }
  return json{{"device", node}, {"value", io.value}};
}

}  // namespace

void register_sg_methods(Service& service) {
  service.add_method(
      "sg.io", Right::Admin,
      "SG_IO on an sg node (`handle`, or `device` sgN): the fields of struct sg_io_hdr. Data "
      "out as `data` (hex) or binary data after the request; data in (`dxfer_len` bytes) as "
      "`data` (hex) or, with binary_reply, the bytes after the reply.",
      {{"device", ParamType::String},
       {"handle", ParamType::Integer},
       {"cdb", ParamType::String},
       {"dxfer_direction", ParamType::Integer},
       {"dxfer_len", ParamType::Integer},
       {"data", ParamType::String},
       {"mx_sb_len", ParamType::Integer},
       {"timeout_ms", ParamType::Integer},
       {"flags", ParamType::Integer},
       {"pack_id", ParamType::Integer},
       {"interface_id", ParamType::Integer}},
      [&service](Session& session, const json& params) -> Result<json> {
        auto cdb_text = param_string(params, "cdb");
        if (!cdb_text) {
          return fail(cdb_text.error());
        }
        auto cdb = parse_hex(*cdb_text, HexTokens::AllowRuns);
        if (!cdb) {
          return fail(Error::invalid("params.cdb: " + cdb.error().message()));
        }
        const auto limit = static_cast<std::int64_t>(service.limits().max_binary_bytes);
        auto dir =
            param_optional_int(params, "dxfer_direction", sgp::kDxferUnknown, sgp::kDxferNone);
        auto len = param_optional_int(params, "dxfer_len", 0, limit);
        auto sb = param_optional_int(params, "mx_sb_len", 0, 255);
        auto timeout = param_optional_int(params, "timeout_ms", 0, UINT32_MAX);
        auto flags = param_optional_int(params, "flags", 0, UINT32_MAX);
        auto pack_id = param_optional_int(params, "pack_id", INT32_MIN, INT32_MAX);
        auto interface_id = param_optional_int(params, "interface_id", INT32_MIN, INT32_MAX);
        auto out = data_out(session, params, "data");
        for (const Error* e :
             {dir ? nullptr : &dir.error(), len ? nullptr : &len.error(),
              sb ? nullptr : &sb.error(), timeout ? nullptr : &timeout.error(),
              flags ? nullptr : &flags.error(), pack_id ? nullptr : &pack_id.error(),
              interface_id ? nullptr : &interface_id.error(), out ? nullptr : &out.error()}) {
          if (e != nullptr) {
            return fail(*e);
          }
        }
        const int direction = static_cast<int>(dir->value_or(sgp::kDxferNone));
        const bool sends = direction == sgp::kDxferToDev || direction == sgp::kDxferToFromDev;
        // The buffer: what is sent, or dxfer_len bytes to fill (TO_FROM_DEV: sent, then
        // filled, as Linux's indirect IO does).
        std::vector<std::uint8_t> data = std::move(*out).value_or(std::vector<std::uint8_t>());
        if (!sends && !data.empty()) {
          return fail_invalid(
              fmt::format("params.data: data out with dxfer_direction {}", direction));
        }
        if (len->has_value()) {
          if (sends && !data.empty() && static_cast<std::size_t>(**len) != data.size()) {
            return fail_invalid(fmt::format("params.dxfer_len: {} but {} bytes of data were given",
                                            **len, data.size()));
          }
          data.resize(static_cast<std::size_t>(**len));
        }
        return with_node(service, session, params, "device",
                         [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
                           sgp::SgIo io;
                           io.request.interface_id = static_cast<int>(interface_id->value_or('S'));
                           io.request.dxfer_direction = direction;
                           io.request.cdb = *cdb;
                           io.request.mx_sb_len = static_cast<std::uint8_t>(sb->value_or(32));
                           io.request.data = data;
                           io.request.timeout_ms = static_cast<std::uint32_t>(timeout->value_or(0));
                           io.request.flags = static_cast<std::uint32_t>(flags->value_or(0));
                           io.request.pack_id = static_cast<int>(pack_id->value_or(0));
                           io.cancel = &session.cancel_token();
                           if (auto r = file.ioctl(io); !r) {
                             return fail(named(r.error(), node));
                           }
                           const auto& rep = io.reply;
                           json result = {{"device", node},
                                          {"status", rep.status},
                                          {"masked_status", rep.masked_status},
                                          {"msg_status", rep.msg_status},
                                          {"sb_len_wr", rep.sb_len_wr},
                                          {"host_status", rep.host_status},
                                          {"driver_status", rep.driver_status},
                                          {"resid", rep.resid},
                                          {"duration", rep.duration_ms},
                                          {"info", rep.info},
                                          {"pack_id", rep.pack_id},
                                          {"sense", hex_string(rep.sense)}};
                           // Data in (TO_FROM_DEV too): the whole buffer, as the kernel
                           // leaves it; resid says how much is valid.
                           if (direction != sgp::kDxferNone && direction != sgp::kDxferToDev) {
                             put_data_in(session, result, "data", std::move(data));
                           }
                           return result;
                         });
      },
      BinaryUse::InOut);

  service.add_method(
      "sg.ioctl", Right::Read,
      "An SG_* ioctl on an sg node (`handle`, or `device` sgN): `request` is its name "
      "(SG_GET_VERSION_NUM, SG_GET_SCSI_ID, SG_GET_TIMEOUT, SG_SET_TIMEOUT, "
      "SG_GET_RESERVED_SIZE, SG_SET_RESERVED_SIZE, SG_EMULATED_HOST, SG_GET_SG_TABLESIZE, "
      "SG_GET_ACCESS_COUNT, SCSI_IOCTL_GET_IDLUN, SCSI_IOCTL_GET_BUS_NUMBER) or its number; "
      "`value` for the SET ones.",
      {{"device", ParamType::String},
       {"handle", ParamType::Integer},
       {"request", ParamType::StringOrInteger},
       {"value", ParamType::Integer}},
      [&service](Session& session, const json& params) -> Result<json> {
        const auto r = params.find("request");
        std::optional<std::uint32_t> code;
        if (r != params.end() && r->is_string()) {
          for (const auto& i : kIoctls) {
            if (r->get<std::string>() == i.name) {
              code = i.code;
            }
          }
        } else if (r != params.end() && r->is_number_unsigned()) {
          code = r->get<std::uint32_t>();
        }
        if (!code) {
          return fail_invalid(
              "params.request: required, an SG_* ioctl's name or number (sg.ioctl's summary "
              "lists them)");
        }
        auto value = param_optional_int(params, "value", INT32_MIN, INT32_MAX);
        if (!value) {
          return fail(value.error());
        }
        return with_node(
            service, session, params, "device",
            [&](devfs::FileHandle& file, const std::string& node) -> Result<json> {
              switch (*code) {
                case sgp::SgGetVersionNum::kCode:
                  return int_ioctl<sgp::SgGetVersionNum>(file, node, std::nullopt);
                case sgp::SgGetTimeout::kCode:
                  return int_ioctl<sgp::SgGetTimeout>(file, node, std::nullopt);
                case sgp::SgSetTimeout::kCode:
                  return int_ioctl<sgp::SgSetTimeout>(file, node, value->value_or(0));
                case sgp::SgGetReservedSize::kCode:
                  return int_ioctl<sgp::SgGetReservedSize>(file, node, std::nullopt);
                case sgp::SgSetReservedSize::kCode:
                  return int_ioctl<sgp::SgSetReservedSize>(file, node, value->value_or(0));
                case sgp::SgEmulatedHost::kCode:
                  return int_ioctl<sgp::SgEmulatedHost>(file, node, std::nullopt);
                case sgp::SgGetSgTablesize::kCode:
                  return int_ioctl<sgp::SgGetSgTablesize>(file, node, std::nullopt);
                case sgp::SgGetAccessCount::kCode:
                  return int_ioctl<sgp::SgGetAccessCount>(file, node, std::nullopt);
                case sgp::ScsiGetBusNumber::kCode:
                  return int_ioctl<sgp::ScsiGetBusNumber>(file, node, std::nullopt);
                case sgp::SgGetScsiId::kCode: {
                  sgp::SgGetScsiId io;
                  if (auto res = file.ioctl(io); !res) {
                    return fail(named(res.error(), node));
                  }
                  return json{{"device", node},
                              {"host_no", io.id.host_no},
                              {"channel", io.id.channel},
                              {"scsi_id", io.id.scsi_id},
                              {"lun", io.id.lun},
                              {"scsi_type", io.id.scsi_type},
                              {"h_cmd_per_lun", io.id.h_cmd_per_lun},
                              {"d_queue_depth", io.id.d_queue_depth}};
                }
                case sgp::ScsiGetIdlun::kCode: {
                  sgp::ScsiGetIdlun io;
                  if (auto res = file.ioctl(io); !res) {
                    return fail(named(res.error(), node));
                  }
                  return json{{"device", node},
                              {"dev_id", io.dev_id},
                              {"host_unique_id", io.host_unique_id}};
                }
                default:
                  return fail(Error::described(
                      ENOTTY, fmt::format("{}: ioctl 0x{:x} is not an sg request ucam knows", node,
                                          *code)));
              }
            });
      });
}

}  // namespace ucam::service
