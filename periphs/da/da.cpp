#include "periphs/da/da.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "scsi/cdb.h"
#include "scsi/read_capacity.h"
#include "scsi/sense.h"

namespace ucam::da {
namespace {

Result<DaGetGeometry> geometry(cam::Periph& periph) {
  auto info = periph.xpt().device(periph.path());
  if (!info) {
    return fail_errno(ENXIO, periph.name() + ": device is gone");
  }
  auto cap = info->advinfo.find(cam::AdvinfoType::Rcaplong);
  if (cap == info->advinfo.end()) {
    return fail(Error::described(ENODATA, periph.name() + ": no READ CAPACITY data (no medium?)"));
  }
  auto rc = scsi::parse_read_capacity16(cap->second);
  if (!rc || rc->block_length == 0) {
    return fail(Error::described(EIO, periph.name() + ": unusable READ CAPACITY data"));
  }
  DaGetGeometry g;
  g.block_length = rc->block_length;
  g.block_count = rc->block_count();
  g.max_transfer = info->maxio;
  return g;
}

// One READ(16) or WRITE(16) of `blocks` blocks at `lba`; `data` holds exactly those blocks.
// `cancel` (may be null) lets another thread abort it.
Result<void> transfer(cam::Periph& periph, bool write, std::uint64_t lba, std::uint32_t blocks,
                      std::span<std::uint8_t> data, std::chrono::milliseconds timeout,
                      cam::CancelToken* cancel) {
  const auto cdb = write ? scsi::write16(lba, blocks) : scsi::read16(lba, blocks);
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb({cdb.bytes.data(), cdb.len});
  ccb.dir = write ? cam::DataDir::Out : cam::DataDir::In;
  ccb.data = data.data();
  ccb.dxfer_len = static_cast<std::uint32_t>(data.size());
  ccb.timeout = timeout;
  ccb.recovery = cam::Recovery::Standard;  // da retries as FreeBSD's daerror() does.
  periph.xpt().run_sync(ccb, cancel);
  if (ccb.status == CamStatus::ReqCmp) {
    return {};
  }
  const std::string what = fmt::format("{}: {} of blocks {}..{}", periph.name(),
                                       write ? "WRITE(16)" : "READ(16)", lba, lba + blocks - 1);
  if (ccb.sense_len > 0) {
    if (auto s = scsi::parse_sense({ccb.sense_data.data(), ccb.sense_len})) {
      return fail(Error::from_sense({s->sense_key, s->asc, s->ascq},
                                    what + ": " + scsi::describe_sense(*s)));
    }
  }
  if (ccb.status == CamStatus::DevNotThere || ccb.status == CamStatus::SelTimeout) {
    return fail_errno(ENXIO, what + ": device is gone");
  }
  return fail(Error::from_cam(ccb.status, what));
}

}  // namespace

bool DaDriver::matches(const cam::DeviceInfo& device) const {
  return device.device_type == 0x00 || device.device_type == 0x0e;
}

Result<void> DaDriver::ioctl(devfs::Node& node, devfs::OpenFile& /*file*/, devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  switch (request.code()) {
    case DaGetGeometry::kCode: {
      auto g = geometry(periph);
      if (!g) {
        return fail(g.error());
      }
      auto& out = static_cast<DaGetGeometry&>(request);
      out.block_length = g->block_length;
      out.block_count = g->block_count;
      out.max_transfer = g->max_transfer;
      return {};
    }
    case DaIo::kRead:
    case DaIo::kWrite: {
      auto& io = static_cast<DaIo&>(request);
      const bool write = request.code() == DaIo::kWrite;
      auto g = geometry(periph);
      if (!g) {
        return fail(g.error());
      }
      if (io.blocks == 0 || io.lba >= g->block_count || io.blocks > g->block_count - io.lba) {
        return fail_invalid(fmt::format("{}: blocks {}..{} are outside 0..{}", periph.name(),
                                        io.lba, io.lba + io.blocks - 1, g->block_count - 1));
      }
      if (io.data.size() != static_cast<std::size_t>(io.blocks) * g->block_length) {
        return fail_invalid(fmt::format(
            "{}: {} blocks of {} bytes need a {}-byte buffer, got {}", periph.name(), io.blocks,
            g->block_length, std::uint64_t{io.blocks} * g->block_length, io.data.size()));
      }
      // The bus carries at most maxio bytes per command (and a CCB at most 4 GiB - 1): split
      // into whole-block commands.
      std::uint32_t per_command =
          std::min(io.blocks, std::numeric_limits<std::uint32_t>::max() / g->block_length);
      if (g->max_transfer != 0) {
        per_command = std::min(per_command, g->max_transfer / g->block_length);
        if (per_command == 0) {
          return fail(Error::described(
              EINVAL, fmt::format("{}: the bus carries at most {} bytes per command, less than "
                                  "one {}-byte block",
                                  periph.name(), g->max_transfer, g->block_length)));
        }
      }
      for (std::uint32_t done = 0; done < io.blocks;) {
        const std::uint32_t n = std::min(per_command, io.blocks - done);
        const std::size_t offset = static_cast<std::size_t>(done) * g->block_length;
        auto r = transfer(periph, write, io.lba + done, n,
                          io.data.subspan(offset, static_cast<std::size_t>(n) * g->block_length),
                          io.timeout, io.cancel);
        if (!r) {
          return r;
        }
        done += n;
      }
      return {};
    }
    default:
      return fail_errno(ENOTTY, periph.name() + ": unknown ioctl (raw CDBs go to the pass node)");
  }
}

}  // namespace ucam::da
