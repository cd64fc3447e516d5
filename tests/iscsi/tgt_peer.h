// tgt (Debian's user-space iSCSI target) on 127.0.0.1 as a test peer, run through
// ../shared/peers/tgt-changer.sh (which installs tgt if it is missing). Its layout: LUN 0
// controller, 1 disk (100 MiB), 2-3 tape drives, 4 media changer.
//
// Each TgtPeer starts its own tgtd on a free loopback port and stops it when destroyed. With
// UCAM_TGT_PORT set, a tgtd the script already runs on that port is reused (and left running).
// If tgt cannot be started, start() says why and tests skip with that reason.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ucam::testing {

class TgtPeer {
 public:
  // The peer script, beside the source tree (CI has shared/ next to the clone).
  static std::string script() { return UCAM_TGT_SCRIPT; }

  // Starts tgt; on failure returns null and puts the reason in `why`.
  static std::unique_ptr<TgtPeer> start(std::string& why) {
    if (!std::filesystem::exists(script())) {
      why = "the tgt peer script is missing: " + script();
      return nullptr;
    }
    if (const char* fixed = std::getenv("UCAM_TGT_PORT"); fixed != nullptr && *fixed != '\0') {
      std::unique_ptr<TgtPeer> peer(new TgtPeer(static_cast<std::uint16_t>(std::atoi(fixed))));
      peer->m_owned = !peer->run("status");
      if (!peer->launch(why)) {
        return nullptr;
      }
      return peer;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
      const auto port = free_port();
      if (!port) {
        why = "no free loopback port";
        return nullptr;
      }
      std::unique_ptr<TgtPeer> peer(new TgtPeer(*port));
      if (peer->launch(why)) {
        return peer;
      }
    }
    return nullptr;
  }

  ~TgtPeer() {
    if (m_paused) {
      resume();
    }
    if (m_owned && m_running) {
      stop();
    }
  }
  TgtPeer(const TgtPeer&) = delete;
  TgtPeer& operator=(const TgtPeer&) = delete;

  std::uint16_t port() const { return m_port; }
  const std::string& iqn() const { return m_vars.at("TGT_IQN"); }
  // iscsi://127.0.0.1:PORT/IQN (no LUN: the SIM presents the whole target).
  std::string url(const std::string& credentials = {}) const {
    return "iscsi://" + (credentials.empty() ? "" : credentials + "@") + m_vars.at("TGT_PORTAL") +
           "/" + iqn();
  }

  // Stops tgtd (an initiator logged in sees its connection reset).
  bool stop() {
    m_running = !run("stop");
    return !m_running;
  }
  // Starts it again on the same port (a fresh layout; the disk's contents are not kept).
  bool restart() {
    std::string why;
    return launch(why);
  }
  // Freezes tgtd (SIGSTOP to the pid the script started): its connections stay up but nothing
  // is answered, as with a hung target. resume() lets it go on.
  bool pause() {
    m_paused = signal_tgtd(SIGSTOP);
    return m_paused;
  }
  bool resume() {
    const bool ok = signal_tgtd(SIGCONT);
    m_paused = m_paused && !ok;
    return ok;
  }
  // Runs tgtadm against this tgtd ("--lld iscsi --op new --mode account ..."); true on success.
  bool tgtadm(const std::string& args) const {
    const std::string command = "TGT_IPC_SOCKET='" + m_vars.at("TGT_STATE") + "/ipc' tgtadm -C 0 " +
                                args + " >/dev/null 2>&1";
    const int rc = std::system(command.c_str());
    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
  }

 private:
  explicit TgtPeer(std::uint16_t port) : m_port(port) {}

  bool signal_tgtd(int signal) const {
    const auto it = m_vars.find("TGT_PID");
    if (it == m_vars.end() || !m_owned) {
      return false;
    }
    const pid_t pid = static_cast<pid_t>(std::atoi(it->second.c_str()));
    return pid > 0 && ::kill(pid, signal) == 0;
  }

  static std::optional<std::uint16_t> free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      return std::nullopt;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    std::optional<std::uint16_t> port;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  // `tgt-changer.sh COMMAND PORT`; its KEY=VALUE lines go to m_vars.
  bool run(const std::string& command) {
    const std::string line = "'" + script() + "' " + command + " " + std::to_string(m_port);
    FILE* out = ::popen(line.c_str(), "r");
    if (out == nullptr) {
      return false;
    }
    char buffer[512];
    while (std::fgets(buffer, sizeof(buffer), out) != nullptr) {
      std::string text(buffer);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
      }
      if (const auto eq = text.find('='); eq != std::string::npos) {
        m_vars[text.substr(0, eq)] = text.substr(eq + 1);
      }
    }
    const int rc = ::pclose(out);
    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
  }

  bool launch(std::string& why) {
    if (!run("start") || m_vars.count("TGT_IQN") == 0 || m_vars.count("TGT_PORTAL") == 0) {
      why = "tgt could not be started on 127.0.0.1:" + std::to_string(m_port) + " with " +
            script() + " (see its messages above)";
      return false;
    }
    m_running = true;
    return true;
  }

  std::uint16_t m_port;
  bool m_owned = true;
  bool m_running = false;
  bool m_paused = false;
  std::map<std::string, std::string> m_vars;
};

// A test suite sharing one tgt peer: started once for the suite, each test skipped (with the
// reason) when tgt cannot run. Tests use s_peer.
class TgtSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { s_peer = TgtPeer::start(s_why); }
  static void TearDownTestSuite() { s_peer.reset(); }
  void SetUp() override {
    if (!s_peer) {
      GTEST_SKIP() << "tgt is not available: " << s_why;
    }
  }
  static inline std::unique_ptr<TgtPeer> s_peer;
  static inline std::string s_why;
};

}  // namespace ucam::testing
