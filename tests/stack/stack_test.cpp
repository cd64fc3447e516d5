// The Stack over a list of transports: what it hosts, what it refuses, and how it reports them.
#include "stack/stack.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ucam {
namespace {

std::vector<SimSpec> emulated(std::string_view source) {
  auto spec = emu_spec(source);
  EXPECT_TRUE(spec.has_value()) << (spec ? "" : spec.error().message());
  std::vector<SimSpec> sims;
  sims.emplace_back(std::move(*spec));
  return sims;
}

TEST(StackCreate, HostsNoTransportAtAll) {
  auto stack = Stack::create({});
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  EXPECT_TRUE((*stack)->xpt().devices().empty());
  EXPECT_TRUE((*stack)->transports().empty());
  EXPECT_EQ((*stack)->emulator(), nullptr);
}

TEST(StackCreate, DescribesItsEmulatorAndFindsItsDevices) {
  auto stack = Stack::create(emulated("builtin:jbod-24"));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  ASSERT_NE((*stack)->emulator(), nullptr);
  const auto transports = (*stack)->transports();
  ASSERT_EQ(transports.size(), 1U);
  EXPECT_EQ(transports[0].kind, "emu");
  EXPECT_EQ(transports[0].spec, "builtin:jbod-24");
  ASSERT_FALSE(transports[0].details.empty());
  EXPECT_EQ(transports[0].details[0],
            (std::pair<std::string, std::string>{
                "buses", std::to_string((*stack)->emulator()->bus_count())}));
  // Every device of the scenario was scanned before create() returned.
  std::size_t luns = 0;
  for (const auto& bus : (*stack)->emulator()->scenario().buses) {
    for (const auto& target : bus.targets) {
      luns += target.luns.size();
    }
  }
  EXPECT_EQ((*stack)->xpt().devices().size(), luns);
}

TEST(StackCreate, RefusesASecondEmulator) {
  auto sims = emulated("builtin:minimal");
  auto more = emulated("builtin:minimal");
  sims.push_back(std::move(more[0]));
  auto stack = Stack::create(std::move(sims));
  ASSERT_FALSE(stack.has_value());
  EXPECT_EQ(stack.error().errno_value(), EINVAL);
  EXPECT_NE(stack.error().message().find("at most one emulated SIM"), std::string::npos);
}

TEST(StackStop, StopsEveryTransportAndLosesTheirDevices) {
  auto stack = Stack::create(emulated("builtin:minimal"));
  ASSERT_TRUE(stack.has_value()) << stack.error().message();
  ASSERT_FALSE((*stack)->xpt().devices().empty());
  (*stack)->stop_sims();
  (*stack)->settle();
  EXPECT_TRUE((*stack)->xpt().devices().empty());
  (*stack)->stop_sims();  // Idempotent.
}

TEST(EmuSpec, NamesTheBuiltInsWhenOneIsUnknown) {
  auto spec = emu_spec("builtin:no-such");
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().errno_value(), EINVAL);
  EXPECT_NE(spec.error().message().find("jbod-24"), std::string::npos);
}

}  // namespace
}  // namespace ucam
