// The SG SIM against a real Linux kernel: run inside the VM by tests/sg/guest_scsi_debug.sh
// (SgKernel: scsi_debug, two hosts, each with two targets of two disk LUNs) and
// tests/sg/guest_tgt.sh (SgTgt: tgt's disk, tapes and changer over the kernel's iSCSI), never
// on the host (they skip there). Their oracles are the kernel's sysfs, lsscsi, sg_inq, sg_vpd
// and dd, none of them ucam code. The SgKernel tests run in file order: the last one deletes
// and adds devices.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "scsi/inquiry.h"
#include "scsi/vpd.h"
#include "tests/errno_of.h"
#include "tests/scsi/oracle.h"
#include "tests/sg/sg_stack.h"
#include "tests/wait.h"

namespace ucam::sg {
namespace {

namespace fs = std::filesystem;
using testing::SgStack;
using ucam::testing::errno_of;
using ucam::testing::wait_until;

constexpr auto kKernelWait = std::chrono::seconds(90);  // An emulated guest is slow.
const char* const kDebugDriver = "/sys/bus/pseudo/drivers/scsi_debug";

// The scenario the guest script set up ("scsi_debug", "tgt"), or "" outside the VM.
std::string scenario() {
  const char* env = std::getenv("UCAM_SG_VM");
  return env != nullptr ? env : "";
}

bool has_scsi_debug() {
  return fs::exists(kDebugDriver) && fs::exists("/sys/class/scsi_generic");
}

// Outside its scenario's VM a test is skipped. Inside it, a missing peer is a failure, never a
// skip that would count as a pass.
#define SKIP_OUTSIDE(name, present)                                                              \
  if (scenario() != (name)) {                                                                    \
    GTEST_SKIP() << "runs inside the Linux VM, scenario " << (name) << " (tests/sg/vm_test.sh)"; \
  }                                                                                              \
  if (!(present)) {                                                                              \
    FAIL() << "scenario " << (name) << ": its devices are missing";                              \
  }
#define SKIP_OUTSIDE_THE_VM() SKIP_OUTSIDE("scsi_debug", has_scsi_debug())

// Runs argv and returns its standard output (binary-safe); stderr passes through.
std::string output_of(const std::vector<std::string>& argv, int* exit_code = nullptr) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return {};
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) {
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (exit_code != nullptr) {
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return out;
}

void write_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.close();
  ASSERT_TRUE(out) << "writing " << value << " to " << path;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) {
    s.pop_back();
  }
  const auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first);
}

// The text after "label" up to the end of its line, trimmed.
std::string line_after(const std::string& text, const std::string& label) {
  const auto at = text.find(label);
  if (at == std::string::npos) {
    return "<no '" + label + "'>";
  }
  const auto start = at + label.size();
  return trim(text.substr(start, text.find('\n', start) - start));
}

SgOptions kernel_options() {
  SgOptions options;
  options.filter = {"scsi_debug"};
  return options;
}

cam::XptConfig xpt_config() {
  cam::XptConfig config;
  config.probe_timeout = std::chrono::seconds(30);
  return config;
}

// A raw command through a pass node, without error recovery.
pass::PassCommand command(std::vector<std::uint8_t> cdb, std::span<std::uint8_t> data = {},
                          cam::DataDir dir = cam::DataDir::In) {
  pass::PassCommand c;
  c.cdb = std::move(cdb);
  c.data = data;
  c.dir = data.empty() ? cam::DataDir::None : dir;
  c.timeout = std::chrono::seconds(30);
  c.recovery = cam::Recovery::None;
  return c;
}

std::vector<std::uint8_t> inquiry(devfs::FileHandle& h, bool evpd, std::uint8_t page) {
  std::vector<std::uint8_t> data(252);
  auto c = command({0x12, static_cast<std::uint8_t>(evpd ? 1 : 0), page, 0, 252, 0}, data);
  EXPECT_TRUE(h.ioctl(c));
  EXPECT_EQ(c.status, CamStatus::ReqCmp);
  data.resize(252 - c.resid);
  return data;
}

std::string sg_path(const SgDeviceView& d) {
  return d.entry.dev_path;
}

// /proc/self/fd entries that point at `dev_path`.
int open_descriptors_of(const std::string& dev_path) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
    std::error_code e;
    if (fs::read_symlink(entry.path(), e) == dev_path) {
      ++n;
    }
  }
  return n;
}

TEST(SgKernel, UcamListsExactlyWhatSysfsAndLsscsiShow) {
  SKIP_OUTSIDE_THE_VM();
  SgStack stack(kernel_options(), xpt_config());
  ASSERT_TRUE(stack.sim);
  EXPECT_TRUE(stack.sim->problems().empty());

  // ucam: the XPT's device database, addressed back to Linux.
  std::set<std::pair<std::string, int>> ucam;
  for (const auto& d : stack.xpt->devices()) {
    const auto address = stack.sim->linux_address(d.path);
    ASSERT_TRUE(address) << cam::to_string(d.path);
    ucam.insert({address->text(), d.device_type});
  }
  // sysfs, read here independently of the SIM.
  std::set<std::pair<std::string, int>> sysfs;
  for (const auto& entry : fs::directory_iterator("/sys/class/scsi_generic")) {
    const auto device = fs::canonical(entry.path() / "device");
    std::ifstream type(device / "type");
    int t = -1;
    type >> t;
    sysfs.insert({device.filename().string(), t});
  }
  // lsscsi -g: "[0:0:0:0]    disk    Linux    scsi_debug    0191  /dev/sda   /dev/sg0".
  std::set<std::pair<std::string, int>> lsscsi;
  std::istringstream lines(output_of({"lsscsi", "-g"}));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string hctl, type;
    words >> hctl >> type;
    const int code = type == "disk" ? 0 : type == "tape" ? 1 : -1;
    lsscsi.insert({hctl.substr(1, hctl.size() - 2), code});
  }
  EXPECT_EQ(ucam.size(), 8U);
  EXPECT_EQ(ucam, sysfs);
  EXPECT_EQ(ucam, lsscsi);

  // Disks get pass and da; the SIM knows the kernel's block device beside each.
  for (const auto& d : stack.sim->devices()) {
    EXPECT_FALSE(stack.node(d.path, "pass").empty()) << d.entry.name;
    EXPECT_EQ(stack.node(d.path, "da").empty(), d.entry.type != 0) << d.entry.name;
    EXPECT_TRUE(d.entry.block.starts_with("sd")) << d.entry.name;
    EXPECT_EQ(d.entry.model, "scsi_debug");
    EXPECT_GE(d.max_transfer, 64U * 1024) << d.entry.name;
    EXPECT_EQ(stack.xpt->device(d.path)->sim_unit, d.entry.address.host);
  }
  EXPECT_EQ(stack.xpt->buses().size(), 2U);  // host0 and host1, channel 0 each.
}

TEST(SgKernel, InquiryAndVpdAgreeWithSgInqAndSgVpdFieldByField) {
  SKIP_OUTSIDE_THE_VM();
  SgStack stack(kernel_options(), xpt_config());
  for (const auto& d : stack.sim->devices()) {
    SCOPED_TRACE(d.entry.name);
    auto h = stack.devfs->open(stack.node(d.path, "pass"));
    ASSERT_TRUE(h);

    const auto info = stack.xpt->device(d.path);
    ASSERT_TRUE(info);

    // Standard INQUIRY: the same bytes, and the same fields as sg_inq decodes them.
    const auto bytes = inquiry(*h, false, 0);
    EXPECT_EQ(bytes, info->inquiry_data);
    const auto raw = output_of({"sg_inq", "--raw", sg_path(d)});
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), raw);
    auto parsed = scsi::parse_standard_inquiry(bytes);
    ASSERT_TRUE(parsed);
    const auto text = output_of({"sg_inq", sg_path(d)});
    std::map<std::string, std::uint64_t> fields;
    for (const auto& [k, v] : scsi::test::key_values(text)) {
      fields.emplace(k, v);
    }
    EXPECT_EQ(fields.at("PQual"), parsed->peripheral_qualifier);
    EXPECT_EQ(fields.at("PDT"), parsed->device_type);
    EXPECT_EQ(fields.at("RMB"), parsed->rmb ? 1U : 0U);
    EXPECT_EQ(fields.at("LU_CONG"), parsed->lu_cong ? 1U : 0U);
    EXPECT_EQ(fields.at("version"), parsed->version);
    EXPECT_EQ(fields.at("NormACA"), parsed->normaca ? 1U : 0U);
    EXPECT_EQ(fields.at("HiSUP"), parsed->hisup ? 1U : 0U);
    EXPECT_EQ(fields.at("Resp_data_format"), parsed->response_data_format);
    EXPECT_EQ(fields.at("SCCS"), parsed->sccs ? 1U : 0U);
    EXPECT_EQ(fields.at("ACC"), parsed->acc ? 1U : 0U);
    EXPECT_EQ(fields.at("TPGS"), parsed->tpgs);
    EXPECT_EQ(fields.at("3PC"), parsed->third_party_copy ? 1U : 0U);
    EXPECT_EQ(fields.at("Protect"), parsed->protect ? 1U : 0U);
    EXPECT_EQ(fields.at("EncServ"), parsed->encserv ? 1U : 0U);
    EXPECT_EQ(fields.at("MultiP"), parsed->multip ? 1U : 0U);
    EXPECT_EQ(fields.at("CmdQue"), parsed->cmdque ? 1U : 0U);
    EXPECT_EQ(fields.at("length"), bytes.size());
    EXPECT_EQ(line_after(text, "Vendor identification:"), parsed->vendor);
    EXPECT_EQ(line_after(text, "Product identification:"), parsed->product);
    EXPECT_EQ(line_after(text, "Product revision level:"), parsed->revision);
    EXPECT_EQ(info->vendor, parsed->vendor);
    EXPECT_EQ(info->product, parsed->product);

    // VPD 0x80.
    const auto serial_page = inquiry(*h, true, 0x80);
    EXPECT_EQ(std::string(serial_page.begin(), serial_page.end()),
              output_of({"sg_vpd", "--page=sn", "--raw", sg_path(d)}));
    auto serial = scsi::parse_unit_serial_number(serial_page);
    ASSERT_TRUE(serial);
    EXPECT_EQ(line_after(output_of({"sg_vpd", "--page=sn", sg_path(d)}), "Unit serial number:"),
              *serial);
    EXPECT_EQ(info->serial, *serial);

    // VPD 0x83: the same bytes; every designator sg_vpd lists, with its value.
    const auto id_page = inquiry(*h, true, 0x83);
    EXPECT_EQ(std::string(id_page.begin(), id_page.end()),
              output_of({"sg_vpd", "--page=di", "--raw", sg_path(d)}));
    EXPECT_EQ(info->devid, id_page);
    auto designators = scsi::parse_device_identification(id_page);
    ASSERT_TRUE(designators);
    const auto id_text = output_of({"sg_vpd", "--page=di", sg_path(d)});
    std::size_t listed = 0;
    for (auto at = id_text.find("designator type:"); at != std::string::npos;
         at = id_text.find("designator type:", at + 1)) {
      ++listed;
    }
    EXPECT_EQ(listed, designators->size());
    for (const auto& designator : *designators) {
      if (designator.type == scsi::DesignatorType::Naa) {
        const auto naa = scsi::naa_u64(designator);
        ASSERT_TRUE(naa);
        EXPECT_NE(id_text.find(fmt::format("0x{:016x}", *naa)), std::string::npos)
            << fmt::format("0x{:016x}", *naa);
      }
      if (designator.type == scsi::DesignatorType::T10VendorId) {
        auto t10 = scsi::parse_t10_vendor_id(designator);
        ASSERT_TRUE(t10);
        EXPECT_EQ(line_after(id_text, "vendor id:"), trim(t10->vendor));
        EXPECT_EQ(line_after(id_text, "vendor specific:"), trim(t10->vendor_specific));
      }
    }
  }
}

// The product path on the real kernel: `ucamctl --sg` in-process and ucamd configured with the
// sg SIM list the devices lsscsi shows, and `ucamctl inquiry` agrees with sg_inq on each.
TEST(SgKernel, UcamctlAndUcamdOnTheSgSimAgreeWithSgInq) {
  SKIP_OUTSIDE_THE_VM();
  const std::string ucamctl = std::string(UCAM_TEST_BINARY_DIR) + "/cli/ucamctl";
  const std::string ucamd = std::string(UCAM_TEST_BINARY_DIR) + "/daemon/ucamd";
  int rc = -1;
  const auto list = nlohmann::json::parse(
      output_of({ucamctl, "--sg=scsi_debug", "--json", "devlist"}, &rc), nullptr, false);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(list.is_array()) << list.dump();
  ASSERT_EQ(list.size(), 8U) << list.dump();
  // Linux's address of each sg node, from sysfs.
  std::map<std::string, std::string> sg_of;  // "H:C:T:L" -> "/dev/sgN"
  for (const auto& entry : fs::directory_iterator("/sys/class/scsi_generic")) {
    sg_of[fs::canonical(entry.path() / "device").filename().string()] =
        "/dev/" + entry.path().filename().string();
  }
  std::set<std::string> seen;
  for (const auto& d : list) {
    // The sg SIM's bus is "sg<host>" with the channel as sim_bus.
    const auto sim = d["sim"].get<std::string>();
    ASSERT_TRUE(sim.starts_with("sg")) << sim;
    const auto address = fmt::format("{}:{}:{}:{}", sim.substr(2), d["sim_bus"].get<int>(),
                                     d["target"].get<int>(), d["lun"].get<int>());
    SCOPED_TRACE(address);
    ASSERT_EQ(sg_of.count(address), 1U);
    seen.insert(address);
    const auto device =
        fmt::format("{}:{}:{}", d["bus"].get<int>(), d["target"].get<int>(), d["lun"].get<int>());
    const auto inquiry = nlohmann::json::parse(
        output_of({ucamctl, "--sg=scsi_debug", "--json", "inquiry", device}, &rc), nullptr, false);
    ASSERT_EQ(rc, 0);
    const auto text = output_of({"sg_inq", sg_of[address]});
    EXPECT_EQ(inquiry["vendor"], line_after(text, "Vendor identification:"));
    EXPECT_EQ(inquiry["product"], line_after(text, "Product identification:"));
    EXPECT_EQ(inquiry["revision"], line_after(text, "Product revision level:"));
    EXPECT_EQ(inquiry["serial"], line_after(output_of({"sg_vpd", "--page=sn", sg_of[address]}),
                                            "Unit serial number:"));
    // The raw standard INQUIRY, byte for byte.
    const auto raw = output_of({"sg_inq", "--raw", sg_of[address]});
    std::string hex;
    for (const unsigned char c : raw) {
      hex += fmt::format("{}{:02x}", hex.empty() ? "" : " ", c);
    }
    EXPECT_EQ(inquiry["raw"]["standard"], hex);
  }
  EXPECT_EQ(seen.size(), 8U);

  // ucamd with the sg SIM serves the same devices.
  const std::string socket = "/tmp/ucamd-vm.sock";
  const pid_t daemon = ::fork();
  if (daemon == 0) {
    ::execl(ucamd.c_str(), ucamd.c_str(), "--sg=scsi_debug", "--socket", socket.c_str(),
            "--log-level", "warning", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(daemon, 0);
  ASSERT_TRUE(wait_until(
      [&] {
        output_of({ucamctl, "--socket", socket, "status"}, &rc);
        return rc == 0;
      },
      kKernelWait));
  const auto served = nlohmann::json::parse(
      output_of({ucamctl, "--socket", socket, "--json", "devlist"}, &rc), nullptr, false);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(served.size(), list.size());
  const auto status = nlohmann::json::parse(
      output_of({ucamctl, "--socket", socket, "--json", "status"}, &rc), nullptr, false);
  ASSERT_EQ(status["transports"].size(), 1U) << status.dump();
  EXPECT_EQ(status["transports"][0]["kind"], "sg");
  EXPECT_EQ(status["transports"][0]["spec"], "scsi_debug");
  EXPECT_EQ(status["transports"][0]["details"]["devices"], "8");
  ::kill(daemon, SIGTERM);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(daemon, &wstatus, 0), daemon);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
}

TEST(SgKernel, WritesThroughDaLandOnTheKernelsBlockDevice) {
  SKIP_OUTSIDE_THE_VM();
  SgStack stack(kernel_options(), xpt_config());
  const auto devices = stack.sim->devices();
  const auto disk = std::find_if(devices.begin(), devices.end(),
                                 [](const SgDeviceView& d) { return d.entry.type == 0; });
  ASSERT_NE(disk, devices.end());
  const std::string block = "/dev/" + disk->entry.block;
  auto h = stack.devfs->open(stack.node(disk->path, "da"));
  ASSERT_TRUE(h);

  // ucam writes, the kernel's sd reads (O_DIRECT: not from its page cache).
  std::vector<std::uint8_t> out(8 * 512);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>((i * 31 + 7) ^ (i >> 9));
  }
  da::DaIo write(da::DaIo::kWrite);
  write.lba = 2048;
  write.blocks = 8;
  write.data = out;
  ASSERT_TRUE(h->ioctl(write));
  const std::string file = "/tmp/ucam-sg-dd.bin";
  int rc = 0;
  output_of({"dd", "if=" + block, "of=" + file, "bs=512", "skip=2048", "count=8", "iflag=direct",
             "status=none"},
            &rc);
  ASSERT_EQ(rc, 0);
  std::ifstream in(file, std::ios::binary);
  const std::vector<std::uint8_t> got((std::istreambuf_iterator<char>(in)),
                                      std::istreambuf_iterator<char>());
  EXPECT_EQ(got, out);

  // The kernel writes, ucam reads.
  std::vector<std::uint8_t> pattern(8 * 512);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    pattern[i] = static_cast<std::uint8_t>(255 - (i % 251));
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(pattern.data()),  // NOLINT
             static_cast<std::streamsize>(pattern.size()));
  output_of({"dd", "if=" + file, "of=" + block, "bs=512", "seek=4096", "count=8", "oflag=direct",
             "conv=notrunc", "status=none"},
            &rc);
  ASSERT_EQ(rc, 0);
  std::vector<std::uint8_t> back(8 * 512);
  da::DaIo read(da::DaIo::kRead);
  read.lba = 4096;
  read.blocks = 8;
  read.data = back;
  ASSERT_TRUE(h->ioctl(read));
  EXPECT_EQ(back, pattern);
  std::remove(file.c_str());
}

// scsi_debug's own error injection (its opts and every_nth parameters), seen through ucam.
class Injection {
 public:
  Injection(unsigned opts, int every_nth) {
    write_file(std::string(kDebugDriver) + "/every_nth", std::to_string(every_nth));
    write_file(std::string(kDebugDriver) + "/opts", std::to_string(opts));
  }
  ~Injection() {
    write_file(std::string(kDebugDriver) + "/opts", "0");
    write_file(std::string(kDebugDriver) + "/every_nth", "0");
  }
};

TEST(SgKernel, ScsiDebugErrorInjectionGivesTheRightCamStatus) {
  SKIP_OUTSIDE_THE_VM();
  SgStack stack(kernel_options(), xpt_config());
  const auto devices = stack.sim->devices();
  const auto disk = std::find_if(devices.begin(), devices.end(),
                                 [](const SgDeviceView& d) { return d.entry.type == 0; });
  ASSERT_NE(disk, devices.end());
  auto h = stack.devfs->open(stack.node(disk->path, "pass"));
  ASSERT_TRUE(h);
  std::vector<std::uint8_t> data(4096);
  const std::vector<std::uint8_t> read_10 = {0x28, 0, 0, 0, 0, 0x10, 0, 0, 8, 0};

  {  // opts=2: reads of blocks 0x1234.. fail with MEDIUM ERROR, UNRECOVERED READ ERROR.
    Injection medium(2, 0);
    auto c = command({0x28, 0, 0, 0, 0x12, 0x34, 0, 0, 1, 0}, {data.data(), 512});
    ASSERT_TRUE(h->ioctl(c));
    EXPECT_EQ(c.status, CamStatus::ScsiStatusError);
    EXPECT_EQ(c.scsi_status, cam::ScsiStatus::CheckCondition);
    ASSERT_GE(c.sense.size(), 14U);
    EXPECT_EQ(c.sense[2] & 0x0f, 0x03);
    EXPECT_EQ(c.sense[12], 0x11);
    // Through da too (its own error: EIO carrying the sense).
    auto d = stack.devfs->open(stack.node(disk->path, "da"));
    ASSERT_TRUE(d);
    da::DaIo read(da::DaIo::kRead);
    read.lba = 0x1234;
    read.blocks = 1;
    read.data = {data.data(), 512};
    const auto r = d->ioctl(read);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().sense().key, 0x03);
  }
  {  // opts=8: RECOVERED ERROR, with the data.
    Injection recovered(8, 1);
    auto c = command(read_10, data);
    ASSERT_TRUE(h->ioctl(c));
    EXPECT_EQ(c.status, CamStatus::ScsiStatusError);
    ASSERT_GE(c.sense.size(), 14U);
    EXPECT_EQ(c.sense[2] & 0x0f, 0x01);
    EXPECT_EQ(c.resid, 0U);
  }
  {  // opts=16: ABORTED COMMAND, ACK/NAK TIMEOUT (a transport error).
    Injection transport(16, 1);
    auto c = command(read_10, data);
    ASSERT_TRUE(h->ioctl(c));
    EXPECT_EQ(c.status, CamStatus::ScsiStatusError);
    ASSERT_GE(c.sense.size(), 14U);
    EXPECT_EQ(c.sense[2] & 0x0f, 0x0b);
    EXPECT_EQ(c.sense[12], 0x4b);
  }
  {  // opts=0x100: a short transfer: good status and a residual.
    Injection short_transfer(0x100, 1);
    auto c = command(read_10, data);
    ASSERT_TRUE(h->ioctl(c));
    EXPECT_EQ(c.status, CamStatus::ReqCmp);
    EXPECT_GT(c.resid, 0U);
    EXPECT_LT(c.resid, 4096U);
  }
  {  // opts=4: the device ignores the command: CmdTimeout, and the SIM frees the slot once the
     // kernel's error handler gives the command back.
    Injection timeout(4, 1);
    auto c = command({0, 0, 0, 0, 0, 0});
    c.timeout = std::chrono::seconds(3);
    ASSERT_TRUE(h->ioctl(c));
    EXPECT_EQ(c.status, CamStatus::CmdTimeout);
  }
  ASSERT_TRUE(wait_until([&] { return stack.sim->stats().in_kernel == 0; }, kKernelWait));
  auto c = command(read_10, data);
  ASSERT_TRUE(h->ioctl(c));
  EXPECT_EQ(c.status, CamStatus::ReqCmp);
}

TEST(SgKernel, ADeviceAnotherOpenHoldsExclusivelyIsLeftOutWithAClearError) {
  SKIP_OUTSIDE_THE_VM();
  std::string held_name;
  for (const auto& entry : fs::directory_iterator("/sys/class/scsi_generic")) {
    if (fs::canonical(entry.path() / "device").filename() == "0:0:0:1") {
      held_name = entry.path().filename().string();
    }
  }
  ASSERT_FALSE(held_name.empty());
  const std::string held = "/dev/" + held_name;
  // As another program would (sg_dd, a vendor tool): the kernel's sg driver refuses other
  // opens while it is held, and O_NONBLOCK ones with EBUSY.
  const int fd = ::open(held.c_str(), O_RDWR | O_EXCL | O_CLOEXEC);  // NOLINT
  ASSERT_GE(fd, 0) << std::strerror(errno);
  SgStack stack(kernel_options(), xpt_config());
  const auto problems = stack.sim->problems();
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].name, held_name);
  EXPECT_EQ(problems[0].error.errno_value(), EBUSY);
  const auto message = problems[0].error.message();
  EXPECT_NE(message.find(held_name + " (0:0:0:1)"), std::string::npos) << message;
  EXPECT_NE(message.find("O_EXCL"), std::string::npos) << message;
  EXPECT_EQ(stack.xpt->devices().size(), 7U);
  // The holder lets go: the next rescan takes the device.
  ::close(fd);
  ASSERT_TRUE(stack.sim->rescan());
  stack.settle();
  EXPECT_TRUE(stack.sim->problems().empty());
  EXPECT_EQ(stack.xpt->devices().size(), 8U);
}

TEST(SgKernel, DeletionWhileOpenDepartsCleanlyAndNewHostsArriveByUevent) {
  SKIP_OUTSIDE_THE_VM();
  SgStack stack(kernel_options(), xpt_config());
  std::atomic<int> lost{0}, found{0};
  auto subscription = stack.xpt->subscribe(
      cam::AsyncCode::LostDevice | cam::AsyncCode::FoundDevice, cam::Path::wildcard(),
      [&](const cam::AsyncEvent& e) { ++(e.code == cam::AsyncCode::LostDevice ? lost : found); });
  const LinuxAddress victim{0, 0, 1, 1};
  const auto devices = stack.sim->devices();
  const auto it = std::find_if(devices.begin(), devices.end(),
                               [&](const SgDeviceView& d) { return d.entry.address == victim; });
  ASSERT_NE(it, devices.end());
  const SgDeviceView gone = *it;
  const auto before = stack.sim->stats();
  EXPECT_EQ(open_descriptors_of(gone.entry.dev_path), 1);
  auto da_handle = stack.devfs->open(stack.node(gone.path, "da"));
  auto pass_handle = stack.devfs->open(stack.node(gone.path, "pass"));
  ASSERT_TRUE(da_handle && pass_handle);

  // Reads in flight while the device goes: each ends (data or an error), none hangs.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, errors{0};
  std::thread reader([&] {
    std::vector<std::uint8_t> buffer(4096);
    auto h = stack.devfs->open(stack.node(gone.path, "da"));
    if (!h) {
      return;
    }
    while (!stop.load()) {
      da::DaIo read(da::DaIo::kRead);
      read.lba = 0;
      read.blocks = 8;
      read.data = buffer;
      if (h->ioctl(read)) {
        ++reads;
      } else {
        ++errors;
        if (errno_of(h->ioctl(read)) == ENXIO) {
          break;
        }
      }
    }
  });
  ASSERT_TRUE(wait_until([&] { return reads.load() > 5; }, kKernelWait));
  write_file("/sys/class/scsi_device/" + victim.text() + "/device/delete", "1");
  ASSERT_TRUE(wait_until([&] { return lost.load() == 1; }, kKernelWait));
  stop.store(true);
  reader.join();
  stack.settle();

  EXPECT_FALSE(stack.xpt->device(gone.path));
  da::DaGetGeometry g;
  EXPECT_EQ(errno_of(da_handle->ioctl(g)), ENXIO);
  auto tur = command({0, 0, 0, 0, 0, 0});
  EXPECT_EQ(errno_of(pass_handle->ioctl(tur)), ENXIO);
  EXPECT_TRUE(da_handle->close());
  EXPECT_TRUE(pass_handle->close());
  EXPECT_EQ(stack.devfs->stats().opens, 0U);
  EXPECT_EQ(stack.periphs->stats().underflows, 0U);
  // The SIM closed its descriptor; nothing of the device is left in the kernel or here.
  ASSERT_TRUE(
      wait_until([&] { return open_descriptors_of(gone.entry.dev_path) == 0; }, kKernelWait));
  EXPECT_EQ(stack.sim->stats().open_devices, before.open_devices - 1);
  EXPECT_EQ(stack.sim->stats().in_kernel, 0U);
  EXPECT_EQ(stack.xpt->devices().size(), 7U);
  EXPECT_EQ(stack.xpt->stats().ccbs_outstanding, 0U);

  // A new host with four disks: the kernel's uevents bring them in, no rescan asked for.
  write_file(std::string(kDebugDriver) + "/add_host", "1");
  ASSERT_TRUE(wait_until([&] { return found.load() == 4; }, kKernelWait))
      << found.load() << " found";
  stack.settle();
  EXPECT_EQ(stack.xpt->devices().size(), 11U);
  EXPECT_EQ(stack.xpt->buses().size(), 3U);
  // ... and go again when the host is removed: its bus is deregistered.
  write_file(std::string(kDebugDriver) + "/add_host", "-1");
  ASSERT_TRUE(wait_until([&] { return lost.load() == 5; }, kKernelWait)) << lost.load();
  ASSERT_TRUE(wait_until([&] { return stack.sim->stats().buses == 2; }, kKernelWait));
  stack.settle();
  EXPECT_EQ(stack.xpt->devices().size(), 7U);
  EXPECT_EQ(stack.xpt->buses().size(), 2U);
  EXPECT_EQ(stack.sim->stats().open_devices, before.open_devices - 1);
}

// tgt's target (../shared/peers/tgt-changer.sh) through the kernel's iSCSI initiator: the SIM
// serves the kernel's view of it, with the upper-level devices the kernel attached.
TEST(SgTgt, SeesTheDiskTapesAndChangerOfAnIscsiTargetAsKernelDevices) {
  SKIP_OUTSIDE("tgt", fs::exists("/sys/class/iscsi_host"));
  SgOptions options;
  options.filter = {"iscsi_tcp"};
  SgStack stack(options, xpt_config());
  ASSERT_TRUE(stack.sim);
  EXPECT_TRUE(stack.sim->problems().empty());

  // The kernel's view, read here: every sg device on an iSCSI host.
  std::set<std::pair<std::string, int>> sysfs;
  for (const auto& entry : fs::directory_iterator("/sys/class/scsi_generic")) {
    const auto device = fs::canonical(entry.path() / "device");
    const auto address = LinuxAddress::parse(device.filename().string());
    ASSERT_TRUE(address);
    if (!fs::exists("/sys/class/iscsi_host/host" + std::to_string(address->host))) {
      continue;
    }
    std::ifstream type(device / "type");
    int t = -1;
    type >> t;
    sysfs.insert({address->text(), t});
  }
  std::set<std::pair<std::string, int>> ucam;
  std::multiset<int> types;
  for (const auto& d : stack.xpt->devices()) {
    const auto address = stack.sim->linux_address(d.path);
    ASSERT_TRUE(address);
    ucam.insert({address->text(), d.device_type});
    types.insert(d.device_type);
  }
  EXPECT_EQ(ucam, sysfs);
  // tgt: LUN 0 its controller (type 0Ch), a disk, two tape drives, a media changer.
  EXPECT_EQ(types.count(0x00), 1U);
  EXPECT_EQ(types.count(0x01), 2U);
  EXPECT_EQ(types.count(0x08), 1U);

  int changers = 0, tapes = 0, disks = 0;
  const auto buses = stack.xpt->buses();
  for (const auto& d : stack.sim->devices()) {
    SCOPED_TRACE(d.entry.name);
    const auto bus = std::find_if(buses.begin(), buses.end(),
                                  [&](const cam::BusInfo& b) { return b.path_id == d.path.bus; });
    ASSERT_NE(bus, buses.end());
    EXPECT_EQ(bus->inquiry.transport, "iSCSI");
    EXPECT_EQ(bus->inquiry.hba_vendor, "iscsi_tcp");
    EXPECT_FALSE(stack.node(d.path, "pass").empty());
    EXPECT_EQ(stack.node(d.path, "da").empty(), d.entry.type != 0);
    if (d.entry.type == 8) {
      ++changers;
      EXPECT_TRUE(d.entry.changer.starts_with("sch")) << d.entry.changer;
    }
    if (d.entry.type == 1) {
      ++tapes;
      EXPECT_TRUE(d.entry.tape.starts_with("st")) << d.entry.tape;
    }
    if (d.entry.type == 0) {
      ++disks;
      EXPECT_TRUE(d.entry.block.starts_with("sd")) << d.entry.block;
    }
    // Each answers INQUIRY through ucam with exactly the bytes sg_inq gets.
    auto h = stack.devfs->open(stack.node(d.path, "pass"));
    ASSERT_TRUE(h);
    const auto bytes = inquiry(*h, false, 0);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()),
              output_of({"sg_inq", "--raw", d.entry.dev_path}));
  }
  EXPECT_EQ(changers, 1);
  EXPECT_EQ(tapes, 2);
  EXPECT_EQ(disks, 1);

  // The disk: geometry from tgt's 100 MiB backing file; blocks round-trip through da.
  const auto devices = stack.sim->devices();
  const auto disk = std::find_if(devices.begin(), devices.end(),
                                 [](const SgDeviceView& d) { return d.entry.type == 0; });
  ASSERT_NE(disk, devices.end());
  auto h = stack.devfs->open(stack.node(disk->path, "da"));
  ASSERT_TRUE(h);
  da::DaGetGeometry g;
  ASSERT_TRUE(h->ioctl(g));
  EXPECT_EQ(static_cast<std::uint64_t>(g.block_count) * g.block_length, 100ULL << 20);
  std::vector<std::uint8_t> out(g.block_length * 4), in(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(i * 17 + 5);
  }
  da::DaIo write(da::DaIo::kWrite);
  write.lba = 100;
  write.blocks = 4;
  write.data = out;
  ASSERT_TRUE(h->ioctl(write));
  da::DaIo read(da::DaIo::kRead);
  read.lba = 100;
  read.blocks = 4;
  read.data = in;
  ASSERT_TRUE(h->ioctl(read));
  EXPECT_EQ(in, out);
}

// ---- tgt's changer seen three ways: the kernel (mtx on its sg node), ucamctl on the SG_IO SIM
// (the same kernel device through ucam) and ucamctl on the iSCSI SIM (its own session to tgt).

const std::string kUcamctl = std::string(UCAM_TEST_BINARY_DIR) + "/cli/ucamctl";
const std::string kUcamd = std::string(UCAM_TEST_BINARY_DIR) + "/daemon/ucamd";
const std::string kPreload = std::string(UCAM_TEST_BINARY_DIR) + "/preload/libucam-sg.so";
constexpr const char* kTgtFilter = "--sg=iscsi_tcp";  // The kernel's devices on iSCSI hosts.

// The target guest_tgt.sh logged into (it exports tgt-changer.sh's TGT_IQN).
std::string tgt_url() {
  const char* iqn = std::getenv("TGT_IQN");
  return std::string("iscsi://127.0.0.1:3260/") +
         (iqn != nullptr && *iqn != '\0' ? iqn : "iqn.2003-01.test.local:changer");
}

// "H:C:T:L" -> "/dev/sgN" for every sg node of an iSCSI host, and each one's device type.
struct KernelSg {
  std::string dev;
  int type = -1;
};
std::map<std::string, KernelSg> iscsi_sg_nodes() {
  std::map<std::string, KernelSg> out;
  for (const auto& entry : fs::directory_iterator("/sys/class/scsi_generic")) {
    const auto device = fs::canonical(entry.path() / "device");
    const auto address = LinuxAddress::parse(device.filename().string());
    if (!address || !fs::exists("/sys/class/iscsi_host/host" + std::to_string(address->host))) {
      continue;
    }
    KernelSg sg;
    sg.dev = "/dev/" + entry.path().filename().string();
    std::ifstream(device / "type") >> sg.type;
    out[address->text()] = sg;
  }
  return out;
}

// The kernel's sg node of tgt's changer (device type 08h), or "".
std::string changer_sg() {
  for (const auto& [address, sg] : iscsi_sg_nodes()) {
    if (sg.type == 8) {
      return sg.dev;
    }
  }
  return "";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += "    " + l + "\n";
  }
  return out;
}

// Empty when `a` and `b` hold the same lines; else each line that differs (numbered from 1)
// and both texts in full.
std::string line_diff(const std::vector<std::string>& a, const std::vector<std::string>& b,
                      const std::string& a_name, const std::string& b_name) {
  std::string diff;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string left = i < a.size() ? a[i] : "<no line>";
    const std::string right = i < b.size() ? b[i] : "<no line>";
    if (left != right) {
      diff += fmt::format("  line {}:\n    {:>8}: '{}'\n    {:>8}: '{}'\n", i + 1, a_name, left,
                          b_name, right);
    }
  }
  if (diff.empty()) {
    return "";
  }
  return diff + "--- " + a_name + ":\n" + joined(a) + "--- " + b_name + ":\n" + joined(b);
}

// A changer's inventory in words every view can be put into: one line per drive, storage
// element and import/export element (type order, then address order), "drive 0: Full T00001L6
// from storage 0" / "storage 3: Empty" / "portal 0: Full T00007L6". The picker is left out (mtx
// does not show it). `error` says why a view could not be made.
struct Inventory {
  std::vector<std::string> lines;
  std::string error;
  std::size_t count(const std::string& type) const {
    return static_cast<std::size_t>(std::count_if(
        lines.begin(), lines.end(), [&](const auto& l) { return l.starts_with(type + " "); }));
  }
};

std::string inventory_line(const std::string& type, std::size_t ordinal, bool full,
                           const std::string& tag, const std::string& source) {
  std::string line = fmt::format("{} {}: {}", type, ordinal, full ? "Full" : "Empty");
  if (!tag.empty()) {
    line += " " + tag;
  }
  if (type == "drive" && full) {
    line += " from " + (source.empty() ? std::string("unknown") : source);
  }
  return line;
}

// From `ucamctl --json ch status`: elements ordered by address within each type (the order mtx
// numbers them in), a drive's source named by looking its address up among them.
Inventory inventory_of_ucamctl(const nlohmann::json& status) {
  Inventory inv;
  if (!status.is_object() || !status["elements"].is_array()) {
    inv.error = "not a ch status: " + status.dump();
    return inv;
  }
  std::map<std::string, std::vector<nlohmann::json>> by_type;
  for (const auto& e : status["elements"]) {
    by_type[e["type"].get<std::string>()].push_back(e);
  }
  std::map<int, std::string> name_of_address;
  for (auto& [type, elements] : by_type) {
    std::sort(elements.begin(), elements.end(), [](const auto& a, const auto& b) {
      return a["address"].template get<int>() < b["address"].template get<int>();
    });
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (elements[i]["unit"].get<std::size_t>() != i) {
        inv.error +=
            fmt::format("{} at address {} is unit {}, but {} in address order; ", type,
                        elements[i]["address"].get<int>(), elements[i]["unit"].get<int>(), i);
      }
      name_of_address[elements[i]["address"].get<int>()] = fmt::format("{} {}", type, i);
    }
  }
  for (const char* type : {"drive", "storage", "portal"}) {
    const auto& elements = by_type[type];
    for (std::size_t i = 0; i < elements.size(); ++i) {
      const auto& e = elements[i];
      const std::string tag = e["volume_tag"].is_string() ? e["volume_tag"].get<std::string>() : "";
      std::string source;
      if (e["source"].is_number_integer()) {
        const auto found = name_of_address.find(e["source"].get<int>());
        source = found != name_of_address.end() ? found->second
                                                : fmt::format("address {}", e["source"].get<int>());
      }
      inv.lines.push_back(inventory_line(type, i, e["full"].get<bool>(), tag, source));
    }
  }
  return inv;
}

// The number after `label` in `line` (at `at` on return: just past it), or -1.
long number_after(const std::string& line, const std::string& label, std::size_t* at = nullptr) {
  const auto start = line.find(label);
  if (start == std::string::npos) {
    return -1;
  }
  auto p = start + label.size();
  const auto digits = p;
  while (p < line.size() && std::isdigit(static_cast<unsigned char>(line[p])) != 0) {
    ++p;
  }
  if (p == digits) {
    return -1;
  }
  if (at != nullptr) {
    *at = p;
  }
  return std::stol(line.substr(digits, p - digits));
}

// The volume tag after `label` ("VolumeTag=" / "VolumeTag = ") up to the next ':' or the end.
std::string tag_after(const std::string& line, const std::string& label) {
  const auto at = line.find(label);
  if (at == std::string::npos) {
    return "";
  }
  const auto start = at + label.size();
  return trim(line.substr(start, line.find(':', start) - start));
}

// From `mtx status` (mtx 1.3.12):
//     Storage Changer /dev/sg4:2 Drives, 11 Slots ( 1 Import/Export )
//   Data Transfer Element 0:Full (Storage Element 1 Loaded):VolumeTag = T00001L6
//   Data Transfer Element 1:Empty
//         Storage Element 1:Full :VolumeTag=T00002L6
//         Storage Element 11 IMPORT/EXPORT:Full :VolumeTag=T00007L6
// mtx numbers storage and import/export elements together from 1 in the order it read them; the
// ones marked IMPORT/EXPORT are the portals, the others the storage elements, each in turn.
Inventory inventory_of_mtx(const std::string& text) {
  Inventory inv;
  struct Slot {
    bool portal = false;
    bool full = false;
    std::string tag;
  };
  struct Drive {
    bool full = false;
    long source = -1;  // mtx's storage element number, -1 unknown
    std::string tag;
  };
  std::vector<Slot> slots;
  std::vector<Drive> drives;
  long header_drives = -1, header_slots = -1, header_portals = -1;
  for (const auto& line : lines_of(text)) {
    std::size_t at = 0;
    if (line.find("Storage Changer") != std::string::npos) {
      const auto colon = line.rfind(':');
      header_drives = number_after(line.substr(colon), ":");
      header_slots = number_after(line, "Drives, ");
      header_portals = number_after(line, "( ");
    } else if (const long n = number_after(line, "Data Transfer Element ", &at); n >= 0) {
      if (static_cast<std::size_t>(n) != drives.size()) {
        inv.error += "drive numbers out of order at '" + line + "'; ";
      }
      Drive d;
      d.full = line.compare(at, 5, ":Full") == 0;
      d.source = number_after(line, "(Storage Element ");
      d.tag = tag_after(line, ":VolumeTag = ");
      drives.push_back(d);
    } else if (const long m = number_after(line, "Storage Element ", &at); m >= 0) {
      if (static_cast<std::size_t>(m) != slots.size() + 1) {
        inv.error += "storage element numbers out of order at '" + line + "'; ";
      }
      Slot s;
      s.portal = line.compare(at, 14, " IMPORT/EXPORT") == 0;
      s.full = line.find(":Full", at) != std::string::npos;
      s.tag = tag_after(line, ":VolumeTag=");
      slots.push_back(s);
    } else if (!trim(line).empty()) {
      inv.error += "unexpected line '" + line + "'; ";
    }
  }
  // mtx's number -> "storage K" / "portal K".
  std::vector<std::string> names;
  std::size_t storage = 0, portals = 0;
  for (const auto& s : slots) {
    names.push_back(s.portal ? fmt::format("portal {}", portals++)
                             : fmt::format("storage {}", storage++));
  }
  if (header_drives != static_cast<long>(drives.size()) ||
      header_slots != static_cast<long>(slots.size()) ||
      header_portals != static_cast<long>(portals)) {
    inv.error += fmt::format(
        "the header says {} drives, {} slots, {} import/export; listed {}, {}, "
        "{}; ",
        header_drives, header_slots, header_portals, drives.size(), slots.size(), portals);
  }
  for (std::size_t i = 0; i < drives.size(); ++i) {
    const auto& d = drives[i];
    std::string source;
    if (d.source >= 1 && static_cast<std::size_t>(d.source) <= names.size()) {
      source = names[static_cast<std::size_t>(d.source) - 1];
    } else if (d.source >= 0) {
      source = fmt::format("mtx element {}", d.source);
    }
    inv.lines.push_back(inventory_line("drive", i, d.full, d.tag, source));
  }
  for (const bool portal : {false, true}) {
    std::size_t ordinal = 0;
    for (const auto& s : slots) {
      if (s.portal == portal) {
        inv.lines.push_back(
            inventory_line(portal ? "portal" : "storage", ordinal++, s.full, s.tag, ""));
      }
    }
  }
  return inv;
}

// The three views of tgt's changer, read one after another.
struct ChangerViews {
  Inventory mtx, sg, iscsi;
  std::string mtx_text;
};

ChangerViews read_views(const std::string& sg_node) {
  ChangerViews v;
  int rc = -1;
  v.mtx_text = output_of({"mtx", "-f", sg_node, "status"}, &rc);
  v.mtx = inventory_of_mtx(v.mtx_text);
  if (rc != 0) {
    v.mtx.error += fmt::format("mtx status exited {}; ", rc);
  }
  const auto sg = nlohmann::json::parse(
      output_of({kUcamctl, kTgtFilter, "--json", "ch", "status"}, &rc), nullptr, false);
  v.sg = inventory_of_ucamctl(sg);
  if (rc != 0) {
    v.sg.error += fmt::format("ucamctl --sg ch status exited {}; ", rc);
  }
  const auto iscsi = nlohmann::json::parse(
      output_of({kUcamctl, "--iscsi", tgt_url(), "--json", "ch", "status"}, &rc), nullptr, false);
  v.iscsi = inventory_of_ucamctl(iscsi);
  if (rc != 0) {
    v.iscsi.error += fmt::format("ucamctl --iscsi ch status exited {}; ", rc);
  }
  return v;
}

// Whether the three views agree: each one readable, and ucamctl's two line for line as mtx's.
::testing::AssertionResult views_agree(const ChangerViews& v) {
  std::string problems;
  for (const auto& [name, inv] : {std::pair<const char*, const Inventory*>{"mtx", &v.mtx},
                                  {"ucamctl --sg", &v.sg},
                                  {"ucamctl --iscsi", &v.iscsi}}) {
    if (!inv->error.empty()) {
      problems += std::string(name) + ": " + inv->error + "\n";
    }
  }
  problems += line_diff(v.mtx.lines, v.sg.lines, "mtx", "--sg");
  problems += line_diff(v.mtx.lines, v.iscsi.lines, "mtx", "--iscsi");
  if (problems.empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << problems << "--- mtx status said:\n" << v.mtx_text;
}

bool has_line(const Inventory& inv, const std::string& line) {
  return std::find(inv.lines.begin(), inv.lines.end(), line) != inv.lines.end();
}

// tgt-changer.sh's initial layout, in the words of Inventory.
std::vector<std::string> initial_tgt_inventory() {
  std::vector<std::string> lines = {"drive 0: Empty", "drive 1: Empty"};
  for (int i = 0; i < 10; ++i) {
    lines.push_back(i < 6 ? fmt::format("storage {}: Full T0000{}L6", i, i + 1)
                          : fmt::format("storage {}: Empty", i));
  }
  lines.emplace_back("portal 0: Full T00007L6");
  return lines;
}

// Runs a command that changes the changer; its exit code and output in the failure message.
::testing::AssertionResult moved(const std::vector<std::string>& argv) {
  int rc = -1;
  const auto out = output_of(argv, &rc);
  std::string command;
  for (const auto& a : argv) {
    command += (command.empty() ? "" : " ") + a;
  }
  if (rc == 0) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << command << " exited " << rc << ": " << out;
}

// Puts every medium in a drive back where it came from (with mtx, independent of ucam), so
// that each changer test starts from, and leaves, tgt-changer.sh's initial layout.
void restore_tgt_inventory(const std::string& sg_node) {
  const auto inv = inventory_of_mtx(output_of({"mtx", "-f", sg_node, "status"}));
  for (std::size_t drive = 0; drive < inv.count("drive"); ++drive) {
    const auto& line = inv.lines[drive];
    const auto from = line.find(" from storage ");
    if (from != std::string::npos) {
      const auto slot = std::stoul(line.substr(from + 14)) + 1;
      EXPECT_TRUE(
          moved({"mtx", "-f", sg_node, "unload", std::to_string(slot), std::to_string(drive)}));
    }
  }
}

TEST(SgTgt, MtxAndUcamctlOnTheSgAndIscsiSimsShowTheSameChangerInventory) {
  SKIP_OUTSIDE("tgt", fs::exists("/sys/class/iscsi_host"));
  const auto sg_node = changer_sg();
  ASSERT_FALSE(sg_node.empty()) << "no sg node of type 08h on an iSCSI host";
  restore_tgt_inventory(sg_node);
  const auto v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  // ... and they show what tgt-changer.sh built: 2 empty drives, T00001L6..T00006L6 in the
  // first six of ten slots, T00007L6 in the mail slot.
  EXPECT_EQ(v.mtx.lines, initial_tgt_inventory())
      << line_diff(v.mtx.lines, initial_tgt_inventory(), "mtx", "expected");
  EXPECT_NE(v.mtx_text.find("2 Drives, 11 Slots ( 1 Import/Export )"), std::string::npos)
      << v.mtx_text;

  // Beyond mtx: both SIMs give the same addresses, flags and picker, element by element.
  int rc = -1;
  const auto sg = nlohmann::json::parse(
      output_of({kUcamctl, kTgtFilter, "--json", "ch", "status"}, &rc), nullptr, false);
  ASSERT_EQ(rc, 0);
  const auto iscsi = nlohmann::json::parse(
      output_of({kUcamctl, "--iscsi", tgt_url(), "--json", "ch", "status"}, &rc), nullptr, false);
  ASSERT_EQ(rc, 0);
  auto essentials = [](const nlohmann::json& status) {
    std::vector<std::string> out;
    for (const auto& e : status["elements"]) {
      out.push_back(
          fmt::format("{} {} @{} full={} impexp={} access={} except={} tag={} src={}",
                      e["type"].get<std::string>(), e["unit"].get<int>(), e["address"].get<int>(),
                      e["full"].get<bool>(), e["impexp"].get<bool>(), e["access"].get<bool>(),
                      e["except"].get<bool>(), e["volume_tag"].dump(), e["source"].dump()));
    }
    return out;
  };
  const auto sg_elements = essentials(sg), iscsi_elements = essentials(iscsi);
  EXPECT_EQ(sg_elements, iscsi_elements)
      << line_diff(sg_elements, iscsi_elements, "--sg", "--iscsi");
  // tgt's addresses: picker 1, mail slot 10, drives 20-21, slots 1000-1009.
  std::map<std::string, std::set<int>> addresses;
  for (const auto& e : sg["elements"]) {
    addresses[e["type"].get<std::string>()].insert(e["address"].get<int>());
  }
  EXPECT_EQ(addresses["picker"], std::set<int>({1}));
  EXPECT_EQ(addresses["portal"], std::set<int>({10}));
  EXPECT_EQ(addresses["drive"], std::set<int>({20, 21}));
  EXPECT_EQ(addresses["storage"].size(), 10U);
  EXPECT_EQ(*addresses["storage"].begin(), 1000);
  EXPECT_EQ(*addresses["storage"].rbegin(), 1009);
}

TEST(SgTgt, MovesByUcamctlShowInMtxAndMovesByMtxShowInUcamctl) {
  SKIP_OUTSIDE("tgt", fs::exists("/sys/class/iscsi_host"));
  const auto sg_node = changer_sg();
  ASSERT_FALSE(sg_node.empty()) << "no sg node of type 08h on an iSCSI host";
  restore_tgt_inventory(sg_node);
  ASSERT_TRUE(views_agree(read_views(sg_node)));

  // ucamctl through the SG_IO SIM: the first slot into the first drive (tgt loads the tape LUN).
  ASSERT_TRUE(moved({kUcamctl, kTgtFilter, "ch", "move", "slot", "0", "drive", "0"}));
  auto v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  EXPECT_TRUE(has_line(v.mtx, "drive 0: Full T00001L6 from storage 0")) << v.mtx_text;
  EXPECT_TRUE(has_line(v.mtx, "storage 0: Empty")) << v.mtx_text;
  EXPECT_NE(v.mtx_text.find("Data Transfer Element 0:Full (Storage Element 1 Loaded)"),
            std::string::npos)
      << v.mtx_text;

  // ucamctl through the iSCSI SIM: the second slot into the second drive, by its barcode.
  ASSERT_TRUE(moved({kUcamctl, "--iscsi", tgt_url(), "ch", "move", "T00002L6", "drive", "1"}));
  v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  EXPECT_TRUE(has_line(v.mtx, "drive 1: Full T00002L6 from storage 1")) << v.mtx_text;
  EXPECT_TRUE(has_line(v.mtx, "storage 1: Empty")) << v.mtx_text;

  // mtx unloads both back (slot numbers from 1): ucamctl sees them home.
  ASSERT_TRUE(moved({"mtx", "-f", sg_node, "unload", "1", "0"}));
  ASSERT_TRUE(moved({"mtx", "-f", sg_node, "unload", "2", "1"}));
  v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  EXPECT_EQ(v.sg.lines, initial_tgt_inventory());

  // mtx loads the third slot into drive 0; ucamctl (--iscsi) names its source, and
  // `ucamctl ch unload` (--sg) sends it back there.
  ASSERT_TRUE(moved({"mtx", "-f", sg_node, "load", "3", "0"}));
  v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  EXPECT_TRUE(has_line(v.iscsi, "drive 0: Full T00003L6 from storage 2")) << joined(v.iscsi.lines);
  ASSERT_TRUE(moved({kUcamctl, kTgtFilter, "ch", "unload"}));
  v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  EXPECT_EQ(v.iscsi.lines, initial_tgt_inventory());

  // The mail slot: mtx moves its tape to the seventh slot, ucamctl (--iscsi) puts it back.
  const auto portal_number = std::to_string(v.mtx.count("storage") + 1);  // mtx's number
  ASSERT_TRUE(moved({"mtx", "-f", sg_node, "transfer", portal_number, "7"}));
  v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  EXPECT_TRUE(has_line(v.sg, "portal 0: Empty")) << joined(v.sg.lines);
  EXPECT_TRUE(has_line(v.sg, "storage 6: Full T00007L6")) << joined(v.sg.lines);
  ASSERT_TRUE(moved({kUcamctl, "--iscsi", tgt_url(), "ch", "move", "slot", "6", "portal", "0"}));
  v = read_views(sg_node);
  ASSERT_TRUE(views_agree(v));
  EXPECT_EQ(v.mtx.lines, initial_tgt_inventory());
}

// ---- Unmodified tools on ucamd's sg nodes (libucam-sg.so) against the kernel's sg nodes ----

// ucamd serving tgt's kernel devices through the SG_IO SIM, on a socket in the guest's /tmp.
class TgtDaemon {
 public:
  explicit TgtDaemon(std::string socket) : m_socket(std::move(socket)) {
    ::unlink(m_socket.c_str());
    m_pid = ::fork();
    if (m_pid == 0) {
      ::execl(kUcamd.c_str(), kUcamd.c_str(), kTgtFilter, "--socket", m_socket.c_str(),
              "--log-level", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~TgtDaemon() { stop(); }
  TgtDaemon(const TgtDaemon&) = delete;
  TgtDaemon& operator=(const TgtDaemon&) = delete;
  bool ready() const {
    int rc = -1;
    return m_pid > 0 && wait_until(
                            [&] {
                              output_of({kUcamctl, "--socket", m_socket, "status"}, &rc);
                              return rc == 0;
                            },
                            kKernelWait);
  }
  // SIGTERM; the exit status (-1: killed or never started).
  int stop() {
    if (m_pid <= 0) {
      return -1;
    }
    ::kill(m_pid, SIGTERM);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& socket() const { return m_socket; }

 private:
  std::string m_socket;
  pid_t m_pid = -1;
};

// Runs a tool; stdout with `path` replaced by "DEVICE" (a tool may print the path it opened),
// then a last line with the exit code.
std::vector<std::string> tool_output(const std::vector<std::string>& argv,
                                     const std::string& path) {
  int rc = -1;
  std::string out = output_of(argv, &rc);
  for (auto at = out.find(path); at != std::string::npos; at = out.find(path, at)) {
    out.replace(at, path.size(), "DEVICE");
  }
  auto lines = lines_of(out);
  lines.push_back(fmt::format("<exit {}>", rc));
  return lines;
}

TEST(SgTgt, UnmodifiedToolsOnUcamdsSgNodesPrintWhatTheyPrintOnTheKernelsNodes) {
  SKIP_OUTSIDE("tgt", fs::exists("/sys/class/iscsi_host"));
  ASSERT_TRUE(fs::exists(kPreload)) << kPreload;
  const auto kernel = iscsi_sg_nodes();
  ASSERT_EQ(kernel.size(), 5U);  // tgt's controller, disk, two tapes and changer
  TgtDaemon daemon("/tmp/ucamd-tgt.sock");
  ASSERT_TRUE(daemon.ready());
  int rc = -1;
  const auto list = nlohmann::json::parse(
      output_of({kUcamctl, "--socket", daemon.socket(), "--json", "devlist"}, &rc), nullptr, false);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(list.is_array()) << list.dump();
  ASSERT_EQ(list.size(), kernel.size()) << list.dump();
  const std::vector<std::string> preload = {"env", "LD_PRELOAD=" + kPreload,
                                            "UCAM_SOCKET=" + daemon.socket()};
  std::set<int> types;
  for (const auto& d : list) {
    // The sg SIM's bus is "sg<host>" with the channel as sim_bus: Linux's H:C:T:L.
    const auto sim = d["sim"].get<std::string>();
    ASSERT_TRUE(sim.starts_with("sg")) << sim;
    const auto address = fmt::format("{}:{}:{}:{}", sim.substr(2), d["sim_bus"].get<int>(),
                                     d["target"].get<int>(), d["lun"].get<int>());
    ASSERT_EQ(kernel.count(address), 1U) << address;
    const auto& theirs = kernel.at(address);
    std::string node;
    for (const auto& p : d["periphs"]) {
      if (p.get<std::string>().starts_with("sg")) {
        node = p.get<std::string>();
      }
    }
    ASSERT_FALSE(node.empty()) << d.dump();
    const std::string ours = "/dev/ucam/" + node;
    SCOPED_TRACE(fmt::format("{} (type {:02x}): kernel {}, ucam {}", address, theirs.type,
                             theirs.dev, ours));
    types.insert(theirs.type);

    std::vector<std::vector<std::string>> commands = {
        {"sg_inq"}, {"sg_inq", "--raw"}, {"sg_vpd", "-p", "sn"}, {"sg_vpd", "-p", "di"}};
    if (theirs.type == 0) {
      commands.push_back({"sg_readcap"});
      commands.push_back({"sg_readcap", "--long"});
    }
    if (theirs.type == 8) {
      commands.push_back({"mtx", "-f", "DEVICE", "status"});
    }
    for (const auto& command : commands) {
      auto argv_for = [&](const std::string& path, bool through_ucam) {
        std::vector<std::string> argv = through_ucam ? preload : std::vector<std::string>{};
        bool placed = false;
        for (const auto& a : command) {
          placed = placed || a == "DEVICE";
          argv.push_back(a == "DEVICE" ? path : a);
        }
        if (!placed) {
          argv.push_back(path);
        }
        return argv;
      };
      const auto on_kernel = tool_output(argv_for(theirs.dev, false), theirs.dev);
      const auto on_ucam = tool_output(argv_for(ours, true), ours);
      std::string name;
      for (const auto& a : command) {
        name += (name.empty() ? "" : " ") + a;
      }
      EXPECT_GT(on_kernel.size(), 1U) << name << " printed nothing on the kernel's node";
      EXPECT_EQ(on_kernel.back(), "<exit 0>") << name << " on the kernel's node\n"
                                              << joined(on_kernel);
      EXPECT_TRUE(on_kernel == on_ucam) << name << ": the kernel's node and ucam's differ\n"
                                        << line_diff(on_kernel, on_ucam, "kernel", "ucam");
    }
  }
  EXPECT_EQ(types, std::set<int>({0x00, 0x01, 0x08, 0x0c}));
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace ucam::sg
