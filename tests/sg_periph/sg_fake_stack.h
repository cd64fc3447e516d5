// The stack the sg driver's fake-SIM tests run in: XPT, devfs, the pass and sg drivers (two
// periphs per device, as in the real driver table) and a fake SIM.
#pragma once

#include "periphs/sg/sg.h"
#include "tests/pass/pass_stack.h"

namespace ucam::testing {

struct SgFakeStack : PassStack {
  explicit SgFakeStack(std::uint32_t max_target = 3)
      : PassStack(max_target, [](devfs::Devfs& devfs, auto& drivers) {
          drivers.push_back(std::make_unique<sgp::SgDriver>(devfs));
        }) {}
};

// TEST UNIT READY as an SG_IO request.
inline sgp::SgIo sg_tur() {
  sgp::SgIo io;
  io.request.cdb = {0, 0, 0, 0, 0, 0};
  io.request.mx_sb_len = 32;
  return io;
}

}  // namespace ucam::testing
