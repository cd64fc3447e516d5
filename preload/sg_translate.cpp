#include "preload/sg_translate.h"

#include <cerrno>
#include <cstring>

#include "base/hex.h"

namespace ucam::preload {

int errno_of(const json& error) {
  if (!error.is_object()) {
    return EIO;
  }
  const auto data = error.find("data");
  if (data != error.end() && data->is_object()) {
    const auto e = data->find("errno");
    if (e != data->end() && e->is_number_integer() && e->get<int>() > 0) {
      return e->get<int>();
    }
  }
  const auto code = error.find("code");
  if (code == error.end() || !code->is_number_integer()) {
    return EIO;
  }
  switch (code->get<int>()) {
    case -32001:
      return EPERM;
    case -32602:
    case -32600:
      return EINVAL;
    case -32002:
      return ENXIO;
    case -32004:
      return EMFILE;
    case -32005:
      return ESTALE;
    case -32006:
      return EBUSY;
    default:
      return EIO;
  }
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

namespace {

bool is_data_out(int direction) {
  return direction == SG_DXFER_TO_DEV || direction == SG_DXFER_TO_FROM_DEV;
}

bool is_data_in(int direction) {
  return direction == SG_DXFER_FROM_DEV || direction == SG_DXFER_TO_FROM_DEV ||
         direction == SG_DXFER_UNKNOWN;
}

// Walks the data buffer of `hdr` (flat, or its iovecs) up to dxfer_len bytes, calling
// `f(pointer, length)` per piece. False if the buffer is null where bytes are due.
template <class F>
bool for_each_piece(const sg_io_hdr_t& hdr, std::size_t total, F f) {
  if (total == 0) {
    return true;
  }
  if (hdr.dxferp == nullptr) {
    return false;
  }
  if (hdr.iovec_count == 0) {
    f(static_cast<std::uint8_t*>(hdr.dxferp), total);
    return true;
  }
  const auto* iov = static_cast<const sg_iovec_t*>(hdr.dxferp);
  for (unsigned i = 0; i < hdr.iovec_count && total > 0; ++i) {
    const std::size_t n = std::min(total, iov[i].iov_len);
    if (n > 0 && iov[i].iov_base == nullptr) {
      return false;
    }
    f(static_cast<std::uint8_t*>(iov[i].iov_base), n);
    total -= n;
  }
  return true;  // Iovecs shorter than dxfer_len: the rest is not transferred (as Linux).
}

}  // namespace

tl::expected<std::vector<std::uint8_t>, int> from_hex(std::string_view text) {
  // ucamd writes bytes spaced ("70 00 05"); pairs of digits may also run together.
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  int high = -1;
  for (const char c : text) {
    if (c == ' ') {
      if (high >= 0) {
        return tl::unexpected(EIO);  // A lone digit.
      }
      continue;
    }
    const int n = ucam::hex_digit(c);
    if (n < 0) {
      return tl::unexpected(EIO);
    }
    if (high < 0) {
      high = n;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | n));
      high = -1;
    }
  }
  if (high >= 0) {
    return tl::unexpected(EIO);
  }
  return out;
}

tl::expected<SgIoCall, int> sg_io_call(const sg_io_hdr_t& hdr, std::int64_t handle) {
  if (hdr.cmdp == nullptr) {
    return tl::unexpected(EFAULT);
  }
  SgIoCall call;
  call.params = {{"handle", handle},
                 {"cdb", to_hex(hdr.cmdp, hdr.cmd_len)},
                 {"dxfer_direction", hdr.dxfer_direction},
                 {"dxfer_len", hdr.dxfer_len},
                 {"mx_sb_len", hdr.mx_sb_len},
                 {"timeout_ms", hdr.timeout},
                 {"flags", hdr.flags},
                 {"pack_id", hdr.pack_id},
                 {"interface_id", hdr.interface_id}};
  if (is_data_out(hdr.dxfer_direction) && hdr.dxfer_len > 0) {
    call.data_out.reserve(hdr.dxfer_len);
    if (!for_each_piece(hdr, hdr.dxfer_len, [&](const std::uint8_t* p, std::size_t n) {
          call.data_out.insert(call.data_out.end(), p, p + n);
        })) {
      return tl::unexpected(EFAULT);
    }
    // Short iovecs: send what they hold and say so, rather than sending a short buffer that
    // ucamd would refuse against dxfer_len.
    call.params["dxfer_len"] = call.data_out.size();
  }
  // Linux moves no data when dxfer_len is 0, whatever the direction says (mtx sends MOVE MEDIUM
  // as SG_DXFER_TO_DEV with no buffer); ucam's sg node does the same, and such a request goes
  // as what it is, SG_DXFER_NONE, so that no binary data is announced for it.
  if (is_data_out(hdr.dxfer_direction) && call.data_out.empty()) {
    call.params["dxfer_direction"] = SG_DXFER_NONE;
    call.params["dxfer_len"] = 0;
  }
  call.binary_reply = is_data_in(hdr.dxfer_direction) && hdr.dxfer_len > 0;
  return call;
}

tl::expected<void, int> apply_sg_io_result(sg_io_hdr_t& hdr, const json& result,
                                           std::string_view data) {
  if (!result.is_object()) {
    return tl::unexpected(EIO);
  }
  const auto get = [&](const char* name) -> std::int64_t {
    const auto f = result.find(name);
    return f != result.end() && f->is_number_integer() ? f->get<std::int64_t>() : 0;
  };
  hdr.status = static_cast<unsigned char>(get("status"));
  hdr.masked_status = static_cast<unsigned char>(get("masked_status"));
  hdr.msg_status = static_cast<unsigned char>(get("msg_status"));
  hdr.host_status = static_cast<unsigned short>(get("host_status"));
  hdr.driver_status = static_cast<unsigned short>(get("driver_status"));
  hdr.resid = static_cast<int>(get("resid"));
  hdr.duration = static_cast<unsigned int>(get("duration"));
  hdr.info = static_cast<unsigned int>(get("info"));
  hdr.pack_id = static_cast<int>(get("pack_id"));

  std::vector<std::uint8_t> sense;
  if (const auto s = result.find("sense"); s != result.end() && s->is_string()) {
    auto parsed = from_hex(s->get<std::string>());
    if (!parsed) {
      return tl::unexpected(parsed.error());
    }
    sense = std::move(*parsed);
  }
  std::size_t sb = std::min<std::size_t>(
      {sense.size(), hdr.mx_sb_len, static_cast<std::size_t>(get("sb_len_wr"))});
  if (hdr.sbp == nullptr) {
    sb = 0;
  }
  if (sb > 0) {
    std::memcpy(hdr.sbp, sense.data(), sb);
  }
  hdr.sb_len_wr = static_cast<unsigned char>(sb);

  if (is_data_in(hdr.dxfer_direction) && (hdr.flags & SG_FLAG_NO_DXFER) == 0) {
    std::size_t offset = 0;
    const std::size_t total = std::min<std::size_t>(data.size(), hdr.dxfer_len);
    (void)for_each_piece(hdr, total, [&](std::uint8_t* p, std::size_t n) {
      std::memcpy(p, data.data() + offset, n);
      offset += n;
    });
  }
  return {};
}

}  // namespace ucam::preload
