// Linux's struct sg_io_hdr (from <scsi/sg.h>) to ucamd's sg.io request and back, and RPC errors to
// errno. Pure: no I/O; the only memory touched is what the header points at (the CDB, the data
// buffer or its iovecs, the sense buffer), as the kernel would.
#pragma once

#include <scsi/sg.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

// glibc's <scsi/sg.h> stops at -4; the kernel's also has SG_DXFER_UNKNOWN (data-in, or none).
#ifndef SG_DXFER_UNKNOWN
#define SG_DXFER_UNKNOWN -5
#endif

namespace ucam::preload {

using json = nlohmann::json;

// The errno a JSON-RPC error object stands for: data.errno when present, else by code
// (-32001 permission: EPERM, as Linux's SG_IO without the right; -32602: EINVAL; -32002:
// ENXIO; -32004: EMFILE; -32006: EBUSY; -32005: ESTALE); EIO for anything else.
int errno_of(const json& error);

// One SG_IO as an sg.io call: its params, the data-out bytes (sent as binary data; empty for
// none) and whether the reply should carry data in as binary data.
struct SgIoCall {
  json params;
  std::vector<std::uint8_t> data_out;
  bool binary_reply = false;
};

// Builds the call for `hdr` on `handle`. Data out (SG_DXFER_TO_DEV, SG_DXFER_TO_FROM_DEV) is
// gathered from dxferp, or from the iovec_count sg_iovec_t entries dxferp points at (up to
// dxfer_len bytes in all). A data-out direction with dxfer_len 0 goes as SG_DXFER_NONE (Linux
// moves no data then either; ucam's sg node would refuse it). Fails with EFAULT for a null cmdp, or
// a null buffer with data to send; everything else Linux checks (interface_id, cmd_len, direction,
// sizes) ucamd checks and answers with Linux's errno.
tl::expected<SgIoCall, int> sg_io_call(const sg_io_hdr_t& hdr, std::int64_t handle);

// Fills hdr's output fields from sg.io's `result`, copies data in (`data`: the binary reply, at
// most dxfer_len bytes, scattered over the iovecs; not with SG_FLAG_NO_DXFER) and the sense
// bytes into sbp (at most mx_sb_len; sb_len_wr says how many). EIO for a malformed result.
tl::expected<void, int> apply_sg_io_result(sg_io_hdr_t& hdr, const json& result,
                                           std::string_view data);

// Lower-case hex without separators ("120000002400"), and back (ucamd's spaced "70 00 05" or
// run-together digits; EIO for anything else).
std::string to_hex(const std::uint8_t* data, std::size_t size);
tl::expected<std::vector<std::uint8_t>, int> from_hex(std::string_view text);

}  // namespace ucam::preload
