// libucam-sg.so end to end: ucamd on an emulated scenario, and the real sg3_utils and mtx
// binaries run unmodified under LD_PRELOAD against /dev/ucam/sgN. Each case skips (with the
// reason) only when the tool it drives is not installed.
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <scsi/sg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/daemon_harness.h"
#include "tests/wait.h"

namespace ucam::testing {
namespace {

using nlohmann::json;

std::string library() {
  return build_dir() + "/preload/libucam-sg.so";
}

bool installed(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

#define REQUIRE_TOOL(tool)                         \
  do {                                             \
    if (!installed(tool)) {                        \
      GTEST_SKIP() << tool << " is not installed"; \
    }                                              \
  } while (0)

struct ToolRun {
  int exit = -1;
  std::string out;
  std::string err;
};

// Runs `command` through sh with LD_PRELOAD and UCAM_SOCKET set (`socket` empty: no preload).
ToolRun run(const std::string& socket, const std::string& command, bool preload = true) {
  char tmpl[] = "/tmp/ucampre.XXXXXX";
  const int efd = ::mkstemp(tmpl);
  ::close(efd);
  std::string env;
  if (preload) {
    env = "LD_PRELOAD='" + library() + "' UCAM_SOCKET='" + socket + "' ";
  }
  ToolRun r;
  FILE* p = ::popen((env + command + " 2>" + tmpl).c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    r.out.append(buf, n);
  }
  const int status = ::pclose(p);
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream e(tmpl);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  ::unlink(tmpl);
  return r;
}

// The sgN node of the device that has periph `name` (pass0, ses0, ch0, da0).
std::string sg_of(RpcConnection& rpc, const std::string& name) {
  const json list = rpc.call("devices.list")["result"];
  for (const auto& d : list) {
    const auto periphs = d.value("periphs", json::array());
    bool match = false;
    std::string sg;
    for (const auto& p : periphs) {
      const auto s = p.get<std::string>();
      match = match || s == name;
      if (s.rfind("sg", 0) == 0) {
        sg = s;
      }
    }
    if (match) {
      return sg;
    }
  }
  return "";
}

std::vector<std::uint8_t> parse_spaced_hex(const std::string& text) {
  std::vector<std::uint8_t> out;
  std::istringstream in(text);
  std::string byte;
  while (in >> byte) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(byte, nullptr, 16)));
  }
  return out;
}

// How many times `text` has `what`, a number, ':' and then `after` (mtx's "Storage Element
// 12:Full"). Plain scanning: std::regex trips GCC 12's maybe-uninitialized under ASan.
int count_elements(const std::string& text, const std::string& what, const std::string& after) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    auto p = at + what.size();
    const auto digits = p;
    while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p])) != 0) {
      ++p;
    }
    if (p > digits && p < text.size() && text[p] == ':' &&
        text.compare(p + 1, after.size(), after) == 0) {
      ++n;
    }
  }
  return n;
}

// ---- Disks (builtin:default) ---------------------------------------------------------------

class PreloadDisk : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_daemon = Daemon::start({"--emulate", "builtin:default"}).release();
  }
  static void TearDownTestSuite() {
    delete s_daemon;
    s_daemon = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(s_daemon, nullptr);
    m_rpc = std::make_unique<RpcConnection>(s_daemon->socket());
    ASSERT_TRUE(m_rpc->connected());
    m_sg = sg_of(*m_rpc, "pass0");
    ASSERT_FALSE(m_sg.empty()) << "no sg node beside pass0";
  }
  // The session counters once every tool has exited: nothing left open.
  void TearDown() override {
    if (s_daemon == nullptr || !m_rpc) {
      return;
    }
    json status;
    EXPECT_TRUE(wait_until([&] {
      status = m_rpc->call("daemon.status")["result"];
      return status["handles"] == 0 && status["devfs"]["opens"] == 0;
    })) << status.dump();
  }
  const std::string& socket() const { return s_daemon->socket(); }
  std::string dev() const { return "/dev/ucam/" + m_sg; }

  static Daemon* s_daemon;
  std::unique_ptr<RpcConnection> m_rpc;
  std::string m_sg;
};
Daemon* PreloadDisk::s_daemon = nullptr;

TEST_F(PreloadDisk, SgInqShowsWhatUcamctlInquiryShows) {
  REQUIRE_TOOL("sg_inq");
  const ToolRun ctl =
      run("", build_dir() + "/cli/ucamctl --socket " + socket() + " --json inquiry pass0", false);
  ASSERT_EQ(ctl.exit, 0) << ctl.err;
  const json q = json::parse(ctl.out);
  const ToolRun inq = run(socket(), "sg_inq " + dev());
  ASSERT_EQ(inq.exit, 0) << inq.err;
  EXPECT_NE(inq.out.find("Vendor identification: " + q["vendor"].get<std::string>()),
            std::string::npos)
      << inq.out;
  EXPECT_NE(inq.out.find("Product identification: " + q["product"].get<std::string>()),
            std::string::npos)
      << inq.out;
  EXPECT_NE(inq.out.find("Product revision level: " + q["revision"].get<std::string>()),
            std::string::npos)
      << inq.out;

  const ToolRun raw = run(socket(), "sg_inq --raw " + dev());
  ASSERT_EQ(raw.exit, 0) << raw.err;
  const auto expected = parse_spaced_hex(q["raw"]["standard"].get<std::string>());
  ASSERT_GE(raw.out.size(), 36U);
  ASSERT_LE(raw.out.size(), expected.size());
  EXPECT_EQ(std::vector<std::uint8_t>(raw.out.begin(), raw.out.end()),
            std::vector<std::uint8_t>(expected.begin(),
                                      expected.begin() + static_cast<long>(raw.out.size())));
}

TEST_F(PreloadDisk, SgVpdShowsTheSerialAndDesignators) {
  REQUIRE_TOOL("sg_vpd");
  const json q = m_rpc->call("device.inquiry", {{"device", "pass0"}})["result"];
  ASSERT_TRUE(q.is_object());
  const ToolRun sn = run(socket(), "sg_vpd --page=sn " + dev());
  ASSERT_EQ(sn.exit, 0) << sn.err;
  EXPECT_NE(sn.out.find(q["serial"].get<std::string>()), std::string::npos) << sn.out;

  const ToolRun di = run(socket(), "sg_vpd --page=di " + dev());
  ASSERT_EQ(di.exit, 0) << di.err;
  int naa = 0;
  for (const auto& d : q["designators"]) {
    if (d.value("type", "") == "NAA") {
      ++naa;
      EXPECT_NE(di.out.find(d["value"].get<std::string>()), std::string::npos) << d.dump() << "\n"
                                                                               << di.out;
    }
  }
  EXPECT_GT(naa, 0);
}

TEST_F(PreloadDisk, SgReadcapMatchesDaGeometry) {
  REQUIRE_TOOL("sg_readcap");
  const std::string da = [&] {
    const json list = m_rpc->call("devices.list")["result"];
    for (const auto& d : list) {
      bool ours = false;
      std::string name;
      for (const auto& p : d.value("periphs", json::array())) {
        ours = ours || p == "pass0";
        if (p.get<std::string>().rfind("da", 0) == 0) {
          name = p.get<std::string>();
        }
      }
      if (ours) {
        return name;
      }
    }
    return std::string();
  }();
  ASSERT_FALSE(da.empty());
  const json g = m_rpc->call("da.geometry", {{"device", da}});
  ASSERT_TRUE(g.contains("result")) << g.dump();
  const ToolRun cap = run(socket(), "sg_readcap " + dev());
  ASSERT_EQ(cap.exit, 0) << cap.err;
  const auto blocks = g["result"]["block_count"];
  const auto block_size = g["result"]["block_length"];
  EXPECT_NE(cap.out.find("Number of logical blocks=" + blocks.dump()), std::string::npos)
      << g.dump() << "\n"
      << cap.out;
  EXPECT_NE(cap.out.find("Logical block length=" + block_size.dump() + " bytes"), std::string::npos)
      << cap.out;
}

TEST_F(PreloadDisk, SgRawReturnsDataAndSenseLikeARealDevice) {
  REQUIRE_TOOL("sg_raw");
  const ToolRun ok = run(socket(), "sg_raw -r 36 " + dev() + " 12 00 00 00 24 00");
  ASSERT_EQ(ok.exit, 0) << ok.err;
  // The hex dump of the INQUIRY data: the vendor "ACME" at bytes 8..11.
  const json q = m_rpc->call("device.inquiry", {{"device", "pass0"}})["result"];
  const auto standard = parse_spaced_hex(q["raw"]["standard"].get<std::string>());
  char row[64];
  std::snprintf(row, sizeof(row), "%02x %02x %02x %02x", standard[8], standard[9], standard[10],
                standard[11]);
  EXPECT_NE((ok.out + ok.err).find(row), std::string::npos) << ok.out << ok.err;

  const ToolRun bad = run(socket(), "sg_raw " + dev() + " ff 00 00 00 00 00");
  EXPECT_NE(bad.exit, 0);
  EXPECT_NE((bad.out + bad.err).find("Illegal Request"), std::string::npos) << bad.out << bad.err;
}

TEST_F(PreloadDisk, EachOpenIsATrackedOpenUntilTheProgramExits) {
  // A shell that holds the node open on fd 3 until its stdin ends. Fd 3 is taken already, so
  // the shell opens elsewhere, dup2()s onto 3 and closes the original: the open must survive.
  FILE* holder = ::popen(("LD_PRELOAD='" + library() + "' UCAM_SOCKET='" + socket() +
                          "' sh -c 'exec 3<" + dev() + "; read x' 3</dev/null")
                             .c_str(),
                         "w");
  ASSERT_NE(holder, nullptr);
  json status;
  EXPECT_TRUE(wait_until([&] {
    status = m_rpc->call("daemon.status")["result"];
    return status["handles"] == 1 && status["devfs"]["opens"] == 1;
  })) << status.dump();
  ::pclose(holder);  // EOF on its stdin: it exits; TearDown() checks that everything closed.
}

TEST_F(PreloadDisk, AMissingDaemonIsAnOpenError) {
  REQUIRE_TOOL("sg_inq");
  const ToolRun r = run(s_daemon->dir() + "/nobody.sock", "sg_inq " + dev());
  EXPECT_NE(r.exit, 0);
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

TEST_F(PreloadDisk, OtherPathsAreUntouched) {
  REQUIRE_TOOL("sg_inq");
  const ToolRun plain = run("", "sg_inq /dev/null", false);
  const ToolRun preloaded = run(socket(), "sg_inq /dev/null");
  EXPECT_EQ(preloaded.exit, plain.exit);
  EXPECT_EQ(preloaded.err, plain.err);
  EXPECT_EQ(preloaded.out, plain.out);
  const ToolRun cat =
      run(socket(), "echo hello > " + s_daemon->dir() + "/f && cat " + s_daemon->dir() + "/f");
  EXPECT_EQ(cat.out, "hello\n");
}

// The library's entry points called directly (dlopen: no interposition in this process, but the
// same code), for the errno and field-level contract.
class PreloadCalls : public PreloadDisk {
 protected:
  void SetUp() override {
    PreloadDisk::SetUp();
    ::setenv("UCAM_SOCKET", socket().c_str(), 1);
    m_lib = ::dlopen(library().c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(m_lib, nullptr) << ::dlerror();
    m_open = reinterpret_cast<int (*)(const char*, int, ...)>(::dlsym(m_lib, "open"));
    m_close = reinterpret_cast<int (*)(int)>(::dlsym(m_lib, "close"));
    m_ioctl = reinterpret_cast<int (*)(int, unsigned long, ...)>(::dlsym(m_lib, "ioctl"));
    m_fstat = reinterpret_cast<int (*)(int, struct stat*)>(::dlsym(m_lib, "fstat"));
    m_stat = reinterpret_cast<int (*)(const char*, struct stat*)>(::dlsym(m_lib, "stat"));
    ASSERT_TRUE(m_open && m_close && m_ioctl && m_fstat && m_stat);
  }
  void TearDown() override {
    PreloadDisk::TearDown();
    ::unsetenv("UCAM_SOCKET");
  }
  void* m_lib = nullptr;  // Never dlclose()d: its table outlives the test by design.
  int (*m_open)(const char*, int, ...) = nullptr;
  int (*m_close)(int) = nullptr;
  int (*m_ioctl)(int, unsigned long, ...) = nullptr;
  int (*m_fstat)(int, struct stat*) = nullptr;
  int (*m_stat)(const char*, struct stat*) = nullptr;
};

TEST_F(PreloadCalls, AnSgNodeLooksLikeLinuxSg) {
  const int fd = m_open(dev().c_str(), O_RDWR | O_NONBLOCK);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  struct stat st {};
  ASSERT_EQ(m_fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 21U);
  EXPECT_EQ(std::to_string(minor(st.st_rdev)), m_sg.substr(2));
  struct stat by_name {};
  ASSERT_EQ(m_stat(dev().c_str(), &by_name), 0);
  EXPECT_EQ(by_name.st_rdev, st.st_rdev);

  int version = 0;
  ASSERT_EQ(m_ioctl(fd, SG_GET_VERSION_NUM, &version), 0);
  EXPECT_GE(version, 30000);
  EXPECT_EQ(m_ioctl(fd, SG_GET_TIMEOUT, nullptr), 6000);  // SG_DEFAULT_TIMEOUT in USER_HZ.
  int ticks = 1234;
  ASSERT_EQ(m_ioctl(fd, SG_SET_TIMEOUT, &ticks), 0);
  EXPECT_EQ(m_ioctl(fd, SG_GET_TIMEOUT, nullptr), 1234);
  sg_scsi_id id{};
  id.scsi_type = -1;
  ASSERT_EQ(m_ioctl(fd, SG_GET_SCSI_ID, &id), 0);
  EXPECT_EQ(id.scsi_type, 0);  // A disk.
  int idlun[2] = {-1, -1};
  EXPECT_EQ(m_ioctl(fd, 0x5382 /* SCSI_IOCTL_GET_IDLUN */, idlun), 0);
  int q = 1;
  ASSERT_EQ(m_ioctl(fd, SG_SET_COMMAND_Q, &q), 0);
  q = 0;
  ASSERT_EQ(m_ioctl(fd, SG_GET_COMMAND_Q, &q), 0);
  EXPECT_EQ(q, 1);
  errno = 0;
  EXPECT_EQ(m_ioctl(fd, 0x1234UL, &q), -1);
  EXPECT_EQ(errno, ENOTTY);

  // SG_IO: TEST UNIT READY, then INQUIRY into two iovecs.
  unsigned char tur[6] = {};
  unsigned char sense[32];
  sg_io_hdr_t h{};
  h.interface_id = 'S';
  h.cmdp = tur;
  h.cmd_len = 6;
  h.dxfer_direction = SG_DXFER_NONE;
  h.sbp = sense;
  h.mx_sb_len = sizeof(sense);
  h.timeout = 10000;
  ASSERT_EQ(m_ioctl(fd, SG_IO, &h), 0) << std::strerror(errno);
  EXPECT_EQ(h.status, 0);
  unsigned char inq[6] = {0x12, 0, 0, 0, 36, 0};
  unsigned char a[8] = {};
  unsigned char b[28] = {};
  sg_iovec_t iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
  h.cmdp = inq;
  h.dxfer_direction = SG_DXFER_FROM_DEV;
  h.iovec_count = 2;
  h.dxferp = iov;
  h.dxfer_len = 36;
  ASSERT_EQ(m_ioctl(fd, SG_IO, &h), 0) << std::strerror(errno);
  EXPECT_EQ(h.status, 0);
  const json q2 = m_rpc->call("device.inquiry", {{"device", "pass0"}})["result"];
  EXPECT_EQ(std::string(reinterpret_cast<char*>(b), 4), q2["vendor"].get<std::string>());
  EXPECT_EQ(m_close(fd), 0);
}

// A dup shares the open (one handle), as dup()s share a file description: a shell's `exec 3<`
// opens on some fd, dup2()s it to 3 and closes the original.
TEST_F(PreloadCalls, DupsShareTheOpenUntilTheLastClose) {
  auto* dup2_fn = reinterpret_cast<int (*)(int, int)>(::dlsym(m_lib, "dup2"));
  auto* fcntl_fn = reinterpret_cast<int (*)(int, int, ...)>(::dlsym(m_lib, "fcntl"));
  ASSERT_TRUE(dup2_fn && fcntl_fn);
  const auto handles = [&] { return m_rpc->call("daemon.status")["result"]["handles"]; };
  const int fd = m_open(dev().c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const int spare = ::open("/dev/null", O_RDONLY);  // A free number to dup2() onto.
  ASSERT_GE(spare, 0);
  ASSERT_EQ(dup2_fn(fd, spare), spare);
  const int third = fcntl_fn(fd, F_DUPFD_CLOEXEC, 50);
  ASSERT_GE(third, 50);
  ASSERT_EQ(m_close(fd), 0);
  EXPECT_EQ(handles(), 1);
  int version = 0;
  EXPECT_EQ(m_ioctl(spare, SG_GET_VERSION_NUM, &version), 0) << std::strerror(errno);
  ASSERT_EQ(m_close(spare), 0);
  EXPECT_EQ(handles(), 1);
  struct stat st {};
  ASSERT_EQ(m_fstat(third, &st), 0);
  EXPECT_EQ(major(st.st_rdev), 21U);
  EXPECT_EQ(m_ioctl(third, SG_GET_VERSION_NUM, &version), 0) << std::strerror(errno);
  ASSERT_EQ(m_close(third), 0);
  EXPECT_EQ(handles(), 0);  // The last close sends `close`: no waiting needed.
}

TEST_F(PreloadCalls, ErrorsComeBackAsErrno) {
  errno = 0;
  EXPECT_EQ(m_open("/dev/ucam/sg999", O_RDWR), -1);
  EXPECT_EQ(errno, ENOENT);
  ::setenv("UCAM_SOCKET", (s_daemon->dir() + "/nobody.sock").c_str(), 1);
  errno = 0;
  EXPECT_EQ(m_open(dev().c_str(), O_RDWR), -1);
  EXPECT_EQ(errno, ENOENT);
  // Other paths and fds go to libc.
  const int fd = m_open("/dev/null", O_RDWR);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(m_fstat(fd, &st), 0);
  EXPECT_EQ(major(st.st_rdev), 1U);
  int v = 0;
  errno = 0;
  EXPECT_EQ(m_ioctl(fd, SG_GET_VERSION_NUM, &v), -1);
  EXPECT_EQ(errno, ENOTTY);
  EXPECT_EQ(m_close(fd), 0);
}

// A daemon of its own, stopped under an open fd.
TEST(PreloadLostDaemon, CallsFailWithEioAndCloseStillCloses) {
  auto daemon = Daemon::start({"--emulate", "builtin:default"});
  ASSERT_NE(daemon, nullptr);
  ::setenv("UCAM_SOCKET", daemon->socket().c_str(), 1);
  void* lib = ::dlopen(library().c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << ::dlerror();
  auto* open_fn = reinterpret_cast<int (*)(const char*, int, ...)>(::dlsym(lib, "open"));
  auto* ioctl_fn = reinterpret_cast<int (*)(int, unsigned long, ...)>(::dlsym(lib, "ioctl"));
  auto* close_fn = reinterpret_cast<int (*)(int)>(::dlsym(lib, "close"));
  auto* write_fn = reinterpret_cast<ssize_t (*)(int, const void*, size_t)>(::dlsym(lib, "write"));
  const int fd = open_fn("/dev/ucam/sg0", O_RDWR);
  ::unsetenv("UCAM_SOCKET");
  ASSERT_GE(fd, 0) << std::strerror(errno);
  int version = 0;
  ASSERT_EQ(ioctl_fn(fd, SG_GET_VERSION_NUM, &version), 0);
  // The queued write()/read() interface is refused, and the session is not disturbed by it.
  errno = 0;
  EXPECT_EQ(write_fn(fd, "x", 1), -1);
  EXPECT_EQ(errno, ENOSYS);
  ASSERT_EQ(ioctl_fn(fd, SG_GET_VERSION_NUM, &version), 0);

  ASSERT_EQ(daemon->stop(), 0);
  errno = 0;
  EXPECT_EQ(ioctl_fn(fd, SG_GET_VERSION_NUM, &version), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(close_fn(fd), 0);
}

// SG_IO needs ucamd's admin right; a user with the read right opens and asks SG_GET_*, and
// gets EPERM for SG_IO, as Linux gives a user who may not send that command.
TEST(PreloadRights, SgIoWithoutTheAdminRightIsEperm) {
  REQUIRE_TOOL("sg_inq");
  REQUIRE_TOOL("setpriv");
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to switch to uid 65534";
  }
  auto daemon = Daemon::start({"--emulate", "builtin:default", "--socket-group", "65534"});
  ASSERT_NE(daemon, nullptr);
  // The build tree may be out of reach of uid 65534: preload a copy from the daemon's directory.
  const std::string lib = daemon->dir() + "/libucam-sg.so";
  std::filesystem::copy_file(library(), lib);
  ::chmod(lib.c_str(), 0755);
  const ToolRun r = run("",
                        "LD_PRELOAD='" + lib + "' UCAM_SOCKET='" + daemon->socket() +
                            "' setpriv --reuid=65534 --regid=65534 --clear-groups "
                            "sg_inq /dev/ucam/sg0",
                        false);
  EXPECT_NE(r.exit, 0);
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err << r.out;
}

// ---- Enclosures (builtin:jbod-24) ----------------------------------------------------------

class PreloadSes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_daemon = Daemon::start({"--emulate", "builtin:jbod-24"}).release();
  }
  static void TearDownTestSuite() {
    delete s_daemon;
    s_daemon = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(s_daemon, nullptr);
    m_rpc = std::make_unique<RpcConnection>(s_daemon->socket());
    m_sg = sg_of(*m_rpc, "ses0");
    ASSERT_FALSE(m_sg.empty());
  }
  // The fields of the element named `descriptor` in ses0's map, as it is cached now: a
  // control sent through the sg node makes the enclosure daemon re-read (ScsiAen), with no
  // enc.refresh and long before its 60 s poll.
  json element(const std::string& descriptor) {
    const json map = m_rpc->call("enc.map", {{"enclosure", "ses0"}})["result"];
    for (const auto& enc : map) {
      for (const auto& e : enc["elements"]) {
        if (e.value("descriptor", "") == descriptor) {
          return e["fields"];
        }
      }
    }
    return json();
  }
  static Daemon* s_daemon;
  std::unique_ptr<RpcConnection> m_rpc;
  std::string m_sg;
};
Daemon* PreloadSes::s_daemon = nullptr;

TEST_F(PreloadSes, SgSesReadsPages) {
  REQUIRE_TOOL("sg_ses");
  const std::string dev = "/dev/ucam/" + m_sg;
  const ToolRun cf = run(s_daemon->socket(), "sg_ses --page=cf " + dev);
  ASSERT_EQ(cf.exit, 0) << cf.err;
  EXPECT_NE(cf.out.find("Configuration diagnostic page"), std::string::npos) << cf.out;
  EXPECT_NE(cf.out.find("Element type: Device slot"), std::string::npos) << cf.out;
  const ToolRun join = run(s_daemon->socket(), "sg_ses --join " + dev);
  ASSERT_EQ(join.exit, 0) << join.err;
  EXPECT_NE(join.out.find("Slot 03"), std::string::npos) << join.out;
}

TEST_F(PreloadSes, SgSesSetAndClearChangeTheEnclosureMap) {
  REQUIRE_TOOL("sg_ses");
  const std::string dev = "/dev/ucam/" + m_sg;
  ASSERT_TRUE(element("Slot 03").is_object());
  const auto sg_ses = [&](const std::string& args) {
    const ToolRun r = run(s_daemon->socket(), "sg_ses --descriptor='Slot 03' " + args + " " + dev);
    EXPECT_EQ(r.exit, 0) << args << ": " << r.err << r.out;
  };
  sg_ses("--set=ident");
  EXPECT_TRUE(wait_until([&] { return element("Slot 03").value("ident", false); }));
  sg_ses("--clear=ident");
  EXPECT_TRUE(wait_until([&] { return !element("Slot 03").value("ident", true); }));
  sg_ses("--set=fault");
  EXPECT_TRUE(wait_until([&] { return element("Slot 03").value("fault_requested", false); }));
  sg_ses("--clear=fault");
  EXPECT_TRUE(wait_until([&] { return !element("Slot 03").value("fault_requested", true); }));

  // --index=N: the Nth element of the first type (Device slot): "Slot 05".
  const ToolRun r = run(s_daemon->socket(), "sg_ses --index=5 --set=ident " + dev);
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(wait_until([&] { return element("Slot 05").value("ident", false); }));
  EXPECT_FALSE(element("Slot 03").value("ident", true));
  const ToolRun c = run(s_daemon->socket(), "sg_ses --index=5 --clear=ident " + dev);
  EXPECT_EQ(c.exit, 0) << c.err;
  EXPECT_TRUE(wait_until([&] { return !element("Slot 05").value("ident", true); }));
}

// ---- A tape library (builtin:library-1000) -------------------------------------------------

class PreloadChanger : public ::testing::Test {
 protected:
  void SetUp() override {
    m_daemon = Daemon::start({"--emulate", "builtin:library-1000"});
    ASSERT_NE(m_daemon, nullptr);
    m_rpc = std::make_unique<RpcConnection>(m_daemon->socket());
    m_sg = sg_of(*m_rpc, "ch0");
    if (m_sg.empty()) {
      m_sg = sg_of(*m_rpc, "pass0");
    }
    ASSERT_FALSE(m_sg.empty());
  }
  ToolRun mtx(const std::string& args) {
    return run(m_daemon->socket(), "mtx -f /dev/ucam/" + m_sg + " " + args);
  }
  std::unique_ptr<Daemon> m_daemon;
  std::unique_ptr<RpcConnection> m_rpc;
  std::string m_sg;
};

TEST_F(PreloadChanger, MtxStatusListsTheScenario) {
  REQUIRE_TOOL("mtx");
  const ToolRun s = mtx("status");
  ASSERT_EQ(s.exit, 0) << s.err;
  // examples/library-1000.json: 1,000 slots, 900 full (UCAM001L6...UCAM900L6), 4 drives.
  EXPECT_EQ(count_elements(s.out, "Storage Element ", ""), 1000) << s.out.substr(0, 2000);
  EXPECT_EQ(count_elements(s.out, "Storage Element ", "Full"), 900);
  EXPECT_EQ(count_elements(s.out, "Data Transfer Element ", ""), 4);
  EXPECT_NE(s.out.find("Storage Element 1:Full :VolumeTag=UCAM001L6"), std::string::npos);
  EXPECT_NE(s.out.find("Storage Element 900:Full :VolumeTag=UCAM900L6"), std::string::npos);
  EXPECT_NE(s.out.find("Storage Element 901:Empty"), std::string::npos);
}

TEST_F(PreloadChanger, MtxLoadUnloadTransferMoveMedia) {
  REQUIRE_TOOL("mtx");
  ToolRun r = mtx("load 5 0");
  ASSERT_EQ(r.exit, 0) << r.err << r.out;
  ToolRun s = mtx("status");
  ASSERT_EQ(s.exit, 0) << s.err;
  EXPECT_NE(s.out.find("Data Transfer Element 0:Full (Storage Element 5 Loaded):VolumeTag = "
                       "UCAM005L6"),
            std::string::npos)
      << s.out.substr(0, 1500);
  EXPECT_NE(s.out.find("Storage Element 5:Empty"), std::string::npos);

  r = mtx("unload 5 0");
  ASSERT_EQ(r.exit, 0) << r.err << r.out;
  s = mtx("status");
  EXPECT_NE(s.out.find("Data Transfer Element 0:Empty"), std::string::npos);
  EXPECT_NE(s.out.find("Storage Element 5:Full :VolumeTag=UCAM005L6"), std::string::npos);

  r = mtx("transfer 7 950");
  ASSERT_EQ(r.exit, 0) << r.err << r.out;
  s = mtx("status");
  EXPECT_NE(s.out.find("Storage Element 7:Empty"), std::string::npos);
  EXPECT_NE(s.out.find("Storage Element 950:Full :VolumeTag=UCAM007L6"), std::string::npos);

  json status;
  EXPECT_TRUE(wait_until([&] {
    status = m_rpc->call("daemon.status")["result"];
    return status["handles"] == 0 && status["devfs"]["opens"] == 0;
  })) << status.dump();
}

}  // namespace
}  // namespace ucam::testing
