// A fake Linux sysfs tree in a temp dir, laid out as the kernel lays out the parts the SG SIM
// reads: devices/.../hostH/targetH:C:T/H:C:T:L/{type,vendor,model,rev,state,queue_depth,
// block/sdX/queue/max_sectors_kb, scsi_tape/stN, scsi_changer/schN, scsi_generic/sgN/device},
// class/scsi_generic/sgN (a link to the scsi_generic/sgN directory), class/scsi_host/hostH and
// class/{sas,fc,iscsi}_host/hostH.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sims/sg/sysfs.h"

namespace ucam::sg::testing {

class FakeSysfs {
 public:
  FakeSysfs() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ucam-sysfs-XXXXXX").string();
    m_root = ::mkdtemp(pattern.data());
    std::filesystem::create_directories(sys() / "class" / "scsi_generic");
    std::filesystem::create_directories(sys() / "class" / "scsi_host");
    std::filesystem::create_directories(m_root / "dev");
  }
  ~FakeSysfs() {
    std::error_code ec;
    std::filesystem::remove_all(m_root, ec);
  }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  DiscoveryRoots roots() const { return {sys().string(), (m_root / "dev").string()}; }
  std::filesystem::path sys() const { return m_root / "sys"; }
  std::string dev_path(const std::string& sg) const { return (m_root / "dev" / sg).string(); }

  // `transport_class`: "sas_host", "fc_host", "iscsi_host" or empty.
  void add_host(std::uint32_t host, const std::string& proc_name,
                const std::string& transport_class = "") {
    const auto dir = host_dir(host);
    std::filesystem::create_directories(dir / "scsi_host" / name_of(host));
    write(dir / "scsi_host" / name_of(host) / "proc_name", proc_name);
    write(dir / "scsi_host" / name_of(host) / "can_queue", "64");
    link(sys() / "class" / "scsi_host" / name_of(host), dir / "scsi_host" / name_of(host));
    if (!transport_class.empty()) {
      std::filesystem::create_directories(sys() / "class" / transport_class);
      link(sys() / "class" / transport_class / name_of(host), dir);
    }
  }
  void remove_host(std::uint32_t host) {
    std::error_code ec;
    std::filesystem::remove(sys() / "class" / "scsi_host" / name_of(host), ec);
    for (const char* cls : {"sas_host", "fc_host", "iscsi_host"}) {
      std::filesystem::remove(sys() / "class" / cls / name_of(host), ec);
    }
    std::filesystem::remove_all(host_dir(host), ec);
  }

  struct Device {
    std::string sg;  // "sg0"
    LinuxAddress address;
    std::uint8_t type = 0;
    std::string vendor = "ACME";
    std::string model = "DISK";
    std::string revision = "0001";
    std::string block;    // "sda"
    std::string tape;     // "st0"
    std::string changer;  // "sch0"
    std::uint32_t max_sectors_kb = 512;
  };
  void add_device(const Device& d) {
    const auto dir = device_dir(d.address);
    std::filesystem::create_directories(dir / "scsi_generic" / d.sg);
    write(dir / "type", std::to_string(d.type));
    // sysfs pads vendor (8) and model (16) with blanks, as INQUIRY does.
    write(dir / "vendor", pad(d.vendor, 8));
    write(dir / "model", pad(d.model, 16));
    write(dir / "rev", d.revision);
    write(dir / "state", "running");
    write(dir / "queue_depth", "32");
    if (!d.block.empty()) {
      std::filesystem::create_directories(dir / "block" / d.block / "queue");
      write(dir / "block" / d.block / "queue" / "max_sectors_kb", std::to_string(d.max_sectors_kb));
    }
    if (!d.tape.empty()) {
      for (const std::string suffix : {"", "l", "m", "a"}) {
        std::filesystem::create_directories(dir / "scsi_tape" / (d.tape + suffix));
        std::filesystem::create_directories(dir / "scsi_tape" / ("n" + d.tape + suffix));
      }
    }
    if (!d.changer.empty()) {
      std::filesystem::create_directories(dir / "scsi_changer" / d.changer);
    }
    link(dir / "scsi_generic" / d.sg / "device", dir);
    link(sys() / "class" / "scsi_generic" / d.sg, dir / "scsi_generic" / d.sg);
  }
  // The device is deleted: its class entry and directory go.
  void remove_device(const std::string& sg, const LinuxAddress& address) {
    std::error_code ec;
    std::filesystem::remove(sys() / "class" / "scsi_generic" / sg, ec);
    std::filesystem::remove_all(device_dir(address), ec);
  }
  // Half-deleted, as a reader can catch it mid-removal: the class entry is still listed but
  // what it points to is gone.
  void vanish_device(const LinuxAddress& address) {
    std::error_code ec;
    std::filesystem::remove_all(device_dir(address), ec);
  }

 private:
  static std::string name_of(std::uint32_t host) { return "host" + std::to_string(host); }
  static std::string pad(std::string s, std::size_t n) {
    s.resize(std::max(s.size(), n), ' ');
    return s;
  }
  std::filesystem::path host_dir(std::uint32_t host) const {
    return sys() / "devices" / "pseudo_0" / "adapter0" / name_of(host);
  }
  std::filesystem::path device_dir(const LinuxAddress& a) const {
    return host_dir(a.host) /
           ("target" + std::to_string(a.host) + ":" + std::to_string(a.channel) + ":" +
            std::to_string(a.target)) /
           a.text();
  }
  static void write(const std::filesystem::path& file, const std::string& value) {
    std::ofstream(file) << value << "\n";
  }
  // A relative symlink at `at` to `to`, as sysfs makes them.
  static void link(const std::filesystem::path& at, const std::filesystem::path& to) {
    std::filesystem::create_directory_symlink(std::filesystem::relative(to, at.parent_path()), at);
  }

  std::filesystem::path m_root;
};

}  // namespace ucam::sg::testing
