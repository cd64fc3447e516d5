// Test harness: an Emulator on a FakeXpt, and helpers to run one CDB and look at the reply.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scsi/cdb.h"
#include "sims/emu/emu.h"
#include "tests/emu/fake_xpt.h"

namespace ucam::emu::testing {

// The outcome of one command, copied out of its CCB.
struct Reply {
  CamStatus status = CamStatus::ReqInProg;
  cam::ScsiStatus scsi_status = cam::ScsiStatus::Good;
  std::uint32_t resid = 0;
  std::vector<std::uint8_t> data;   // The bytes transferred (dxfer_len - resid), data-in only.
  std::vector<std::uint8_t> sense;  // Autosense.
  bool autosense_valid = false;

  bool good() const { return status == CamStatus::ReqCmp && scsi_status == cam::ScsiStatus::Good; }
  bool check_condition() const {
    return status == CamStatus::ScsiStatusError && scsi_status == cam::ScsiStatus::CheckCondition;
  }
  // Sense key/ASC/ASCQ of fixed (70h/71h) or descriptor (72h/73h) sense; {0xff,..} if none.
  SenseCode sense_code() const { return decode_sense_code(sense); }
  bool descriptor_sense() const { return !sense.empty() && (sense[0] & 0x7f) >= 0x72; }
  // The CDB field pointer of the sense-key-specific bytes, if SKSV is set.
  std::optional<scsi::CdbFieldPointer> field_pointer() const;

  static SenseCode decode_sense_code(const std::vector<std::uint8_t>& sense);
};

inline SenseCode Reply::decode_sense_code(const std::vector<std::uint8_t>& sense) {
  if (sense.size() < 4) {
    return {0xff, 0xff, 0xff};
  }
  const std::uint8_t code = sense[0] & 0x7f;
  if (code == 0x72 || code == 0x73) {
    return {static_cast<std::uint8_t>(sense[1] & 0x0f), sense[2], sense[3]};
  }
  if (sense.size() < 14) {
    return {0xff, 0xff, 0xff};
  }
  return {static_cast<std::uint8_t>(sense[2] & 0x0f), sense[12], sense[13]};
}

// SPC-5 4.4.2.4.2 field pointer: byte 0 SKSV (7), C/D (6), BPV (3), BIT POINTER (2:0); bytes
// 1-2 FIELD POINTER. Fixed format: sense bytes 15-17. Descriptor format: descriptor 02h, bytes
// 4-6.
inline std::optional<scsi::CdbFieldPointer> Reply::field_pointer() const {
  const std::uint8_t* sks = nullptr;
  if (descriptor_sense()) {
    for (std::size_t at = 8; at + 2 <= sense.size();) {
      const std::size_t length = std::size_t{sense[at + 1]} + 2;
      if (sense[at] == 0x02 && at + 7 <= sense.size()) {
        sks = &sense[at + 4];
        break;
      }
      at += length;
    }
  } else if (sense.size() >= 18) {
    sks = &sense[15];
  }
  if (sks == nullptr || (sks[0] & 0x80) == 0) {
    return std::nullopt;
  }
  scsi::CdbFieldPointer pointer;
  pointer.byte = static_cast<std::uint16_t>(sks[1] << 8 | sks[2]);
  if ((sks[0] & 0x08) != 0) {
    pointer.bit = static_cast<std::uint8_t>(sks[0] & 0x07);
  }
  return pointer;
}

// A CCB with its own data buffer.
struct Request {
  cam::Ccb ccb;
  std::vector<std::uint8_t> buffer;

  Request(cam::Path path, const scsi::Cdb& cdb, cam::DataDir dir, std::vector<std::uint8_t> data) {
    ccb.path = path;
    ccb.set_cdb(cdb.span());
    ccb.dir = dir;
    buffer = std::move(data);
    ccb.data = buffer.empty() ? nullptr : buffer.data();
    ccb.dxfer_len = static_cast<std::uint32_t>(buffer.size());
  }

  Reply reply() const {
    Reply r;
    r.status = ccb.status;
    r.scsi_status = ccb.scsi_status;
    r.resid = ccb.resid;
    if (ccb.dir == cam::DataDir::In && ccb.resid <= buffer.size()) {
      r.data.assign(buffer.begin(),
                    buffer.begin() + static_cast<std::ptrdiff_t>(buffer.size() - ccb.resid));
    }
    r.sense.assign(ccb.sense_data.begin(), ccb.sense_data.begin() + ccb.sense_len);
    r.autosense_valid = (ccb.flags & cam::kCcbAutosenseValid) != 0;
    return r;
  }
};

class Harness {
 public:
  explicit Harness(std::string_view json, EmulatorOptions options = {}) {
    auto scenario = parse_scenario(json, "test.json");
    if (!scenario) {
      ADD_FAILURE() << scenario.error().message();
      return;
    }
    auto created = Emulator::create(*scenario, xpt, options);
    if (!created) {
      ADD_FAILURE() << created.error().message();
      return;
    }
    emu = std::move(*created);
  }

  // The CAM path of a scenario address (path id 0xdead when the bus is not registered).
  cam::Path path(const LunAddress& at) const {
    return cam::Path{emu->path_id(at.bus).value_or(0xdead), at.target, at.lun};
  }

  std::unique_ptr<Request> make(const LunAddress& at, const scsi::Cdb& cdb,
                                cam::DataDir dir = cam::DataDir::None,
                                std::vector<std::uint8_t> data = {}) const {
    return std::make_unique<Request>(path(at), cdb, dir, std::move(data));
  }

  // Starts a request on the scenario bus's Sim without waiting.
  void submit(std::uint32_t bus, Request& request) { emu->sim(bus)->action(request.ccb); }

  // Runs a command and waits (with a deadline) for its completion.
  Reply run(const LunAddress& at, const scsi::Cdb& cdb, cam::DataDir dir,
            std::vector<std::uint8_t> data) {
    auto request = make(at, cdb, dir, std::move(data));
    xpt.forget(request->ccb);  // The allocator may hand out an address seen before.
    submit(at.bus, *request);
    if (!xpt.wait_done(request->ccb)) {
      ADD_FAILURE() << "command did not complete";
      // Never leave a CCB the emulator may still hold; it dies with the test.
      emu->sim(at.bus)->abort(request->ccb);
      return {};
    }
    EXPECT_EQ(xpt.done_count(request->ccb), 1);
    xpt.forget(request->ccb);
    return request->reply();
  }
  Reply run(const LunAddress& at, const scsi::Cdb& cdb) {
    return run(at, cdb, cam::DataDir::None, {});
  }
  Reply read(const LunAddress& at, const scsi::Cdb& cdb, std::size_t length) {
    return run(at, cdb, cam::DataDir::In, std::vector<std::uint8_t>(length, 0xee));
  }
  Reply write(const LunAddress& at, const scsi::Cdb& cdb, std::vector<std::uint8_t> data) {
    return run(at, cdb, cam::DataDir::Out, std::move(data));
  }

  FakeXpt xpt;
  std::unique_ptr<Emulator> emu;
};

// Raw CDB from bytes (for fields the builders cannot express).
inline scsi::Cdb raw_cdb(std::initializer_list<std::uint8_t> bytes) {
  scsi::Cdb cdb;
  for (const auto b : bytes) {
    cdb.bytes[cdb.len++] = b;
  }
  return cdb;
}

inline std::string ascii(const std::vector<std::uint8_t>& data, std::size_t offset,
                         std::size_t length) {
  if (offset + length > data.size()) {
    return "<short>";
  }
  return std::string(data.begin() + static_cast<std::ptrdiff_t>(offset),
                     data.begin() + static_cast<std::ptrdiff_t>(offset + length));
}

inline bool operator==(const scsi::CdbFieldPointer& a, const scsi::CdbFieldPointer& b) {
  return a.byte == b.byte && a.bit == b.bit;
}

}  // namespace ucam::emu::testing
