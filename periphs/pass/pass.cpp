#include "periphs/pass/pass.h"

#include <fmt/format.h>

#include <cerrno>

namespace ucam::pass {

bool PassDriver::matches(const cam::DeviceInfo& /*device*/) const {
  return true;
}

Result<void> PassDriver::ioctl(devfs::Node& node, devfs::OpenFile& /*file*/,
                               devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  switch (request.code()) {
    case PassCommand::kCode: {
      auto& cmd = static_cast<PassCommand&>(request);
      if (cmd.cdb.empty() || cmd.cdb.size() > cam::Ccb::kMaxCdb) {
        return fail_errno(EINVAL, periph.name() + ": CDB must be 1 to 32 bytes");
      }
      if ((cmd.dir == cam::DataDir::None) != cmd.data.empty()) {
        return fail_errno(EINVAL, periph.name() + ": data direction and buffer disagree");
      }
      cam::Ccb ccb;
      ccb.path = periph.path();
      ccb.set_cdb(cmd.cdb);
      ccb.dir = cmd.dir;
      ccb.data = cmd.data.data();
      ccb.dxfer_len = static_cast<std::uint32_t>(cmd.data.size());
      ccb.timeout = cmd.timeout;
      ccb.recovery = cmd.recovery;
      ccb.retry_count = cmd.retry_count;
      periph.xpt().run_sync(ccb, cmd.cancel);
      periph::note_passthrough(periph, ccb);
      if (ccb.status == CamStatus::ReqTooBig) {
        // Refused by the XPT, never sent; FreeBSD's pass says E2BIG (cam_periph_mapmem).
        const auto info = periph.xpt().device(periph.path());
        return fail(Error::described(
            E2BIG, fmt::format("{}: a {}-byte transfer exceeds the {} bytes its bus carries "
                               "per command (maxio)",
                               periph.name(), cmd.data.size(), info ? info->maxio : 0)));
      }
      cmd.status = ccb.status;
      cmd.scsi_status = ccb.scsi_status;
      cmd.resid = ccb.resid;
      cmd.sense.assign(ccb.sense_data.begin(), ccb.sense_data.begin() + ccb.sense_len);
      return {};
    }
    case PassGetDevice::kCode: {
      auto& get = static_cast<PassGetDevice&>(request);
      auto info = periph.xpt().device(periph.path());
      if (!info) {
        return fail_errno(ENXIO, periph.name() + ": device is gone");
      }
      get.periph_name = periph.name();
      get.device = std::move(*info);
      return {};
    }
    default:
      return fail_errno(ENOTTY, periph.name() + ": unknown ioctl");
  }
}

}  // namespace ucam::pass
