#include "sims/sg/sysfs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#include "scsi/report_luns.h"

namespace ucam::sg {
namespace fs = std::filesystem;

namespace {

// The first line of a sysfs attribute, trailing blanks removed; nullopt if it cannot be read
// (absent, or removed while we read).
std::optional<std::string> read_attribute(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::string line;
  std::getline(in, line);
  if (in.bad()) {
    return std::nullopt;
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == '\n' || line.back() == '\t' ||
                           line.back() == '\r' || line.back() == '\0')) {
    line.pop_back();
  }
  return line;
}

template <class T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, value);
  if (r.ec != std::errc() || r.ptr != end) {
    return std::nullopt;
  }
  return value;
}

template <class T>
std::optional<T> read_number(const fs::path& path) {
  const auto text = read_attribute(path);
  return text ? parse_number<T>(*text) : std::nullopt;
}

// The single entry of a directory such as block/ (the sdX beside a disk); the lowest name when
// there are several.
std::string first_entry(const fs::path& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (names.empty()) {
    return {};
  }
  std::sort(names.begin(), names.end());
  return names.front();
}

std::optional<std::uint32_t> host_number(std::string_view name) {
  if (!name.starts_with("host")) {
    return std::nullopt;
  }
  return parse_number<std::uint32_t>(name.substr(4));
}

// scsi_tape/ holds st0, st0l, st0m, st0a and their nst0* twins: the name is the plain stN.
std::string tape_name(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.size() > 2 && name.starts_with("st") &&
        std::all_of(name.begin() + 2, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return name;
    }
  }
  return {};
}

// sgN sorts by N, not as text (sg10 after sg9).
std::optional<std::uint32_t> sg_number(std::string_view name) {
  if (!name.starts_with("sg")) {
    return std::nullopt;
  }
  return parse_number<std::uint32_t>(name.substr(2));
}

}  // namespace

std::string LinuxAddress::text() const {
  return fmt::format("{}:{}:{}:{}", host, channel, target, lun);
}

std::optional<LinuxAddress> LinuxAddress::parse(std::string_view text) {
  LinuxAddress a;
  std::uint64_t* lun = &a.lun;
  std::uint32_t* parts[3] = {&a.host, &a.channel, &a.target};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (auto* part : parts) {
    const auto r = std::from_chars(p, end, *part);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != ':') {
      return std::nullopt;
    }
    p = r.ptr + 1;
  }
  const auto r = std::from_chars(p, end, *lun);
  if (r.ec != std::errc() || r.ptr != end || p == end) {
    return std::nullopt;
  }
  return a;
}

// Linux's integer LUN holds level i (2 bytes) of the 8-byte LUN in bits 16i+15..16i; the
// 8-byte LUN as a big-endian value holds level i in bits 63-16i..48-16i.
std::uint64_t cam_lun(std::uint64_t linux_lun) {
  std::uint64_t raw = 0;
  for (int level = 0; level < 4; ++level) {
    raw |= ((linux_lun >> (16 * level)) & 0xffffU) << (48 - 16 * level);
  }
  return scsi::lun_to_u64(scsi::Lun{raw});
}

std::uint64_t linux_lun(std::uint64_t cam) {
  const std::uint64_t raw = scsi::u64_to_lun(cam).raw_lun;
  std::uint64_t value = 0;
  for (int level = 0; level < 4; ++level) {
    value |= ((raw >> (48 - 16 * level)) & 0xffffU) << (16 * level);
  }
  return value;
}

Result<SgTopology> discover(const DiscoveryRoots& roots) {
  const fs::path sysfs(roots.sysfs);
  const fs::path class_dir = sysfs / "class" / "scsi_generic";
  std::error_code ec;
  if (!fs::is_directory(class_dir, ec)) {
    return fail(Error::described(
        ENOENT, fmt::format("{}: no such directory: the Linux sg driver is not loaded "
                            "(modprobe sg) or this kernel has no SCSI layer",
                            class_dir.string())));
  }
  SgTopology topology;

  std::map<std::uint32_t, SgHostEntry> hosts;
  const fs::path host_class = sysfs / "class" / "scsi_host";
  for (fs::directory_iterator it(host_class, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    const auto number = host_number(name);
    if (!number) {
      continue;
    }
    SgHostEntry host;
    host.host = *number;
    host.proc_name = read_attribute(it->path() / "proc_name").value_or("");
    host.can_queue = read_number<std::uint32_t>(it->path() / "can_queue").value_or(0);
    host.transport = "other";
    for (const auto& [cls, transport] : {std::pair{"sas_host", "SAS"}, std::pair{"fc_host", "FC"},
                                         std::pair{"iscsi_host", "iSCSI"}}) {
      std::error_code e;
      if (fs::exists(sysfs / "class" / cls / name, e)) {
        host.transport = transport;
        break;
      }
    }
    hosts.emplace(host.host, std::move(host));
  }

  std::vector<std::pair<std::uint32_t, fs::path>> entries;
  ec.clear();
  for (fs::directory_iterator it(class_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    const auto number = sg_number(name);
    if (!number) {
      topology.skipped.push_back(name + ": not an sgN name");
      continue;
    }
    entries.emplace_back(*number, it->path());
  }
  std::sort(entries.begin(), entries.end());

  for (const auto& [number, path] : entries) {
    SgDeviceEntry d;
    d.name = path.filename().string();
    d.dev_path = (fs::path(roots.dev) / d.name).string();
    std::error_code e;
    const fs::path device = fs::canonical(path / "device", e);
    if (e) {
      topology.skipped.push_back(d.name + ": gone (no device link)");
      continue;
    }
    const auto address = LinuxAddress::parse(device.filename().string());
    if (!address) {
      topology.skipped.push_back(d.name + ": device '" + device.filename().string() +
                                 "' is not H:C:T:L");
      continue;
    }
    d.address = *address;
    const auto type = read_number<unsigned>(device / "type");
    if (!type) {
      topology.skipped.push_back(d.name + ": gone (no type)");
      continue;
    }
    d.type = static_cast<std::uint8_t>(*type & 0x1fU);
    d.vendor = read_attribute(device / "vendor").value_or("");
    d.model = read_attribute(device / "model").value_or("");
    d.revision = read_attribute(device / "rev").value_or("");
    d.state = read_attribute(device / "state").value_or("");
    d.queue_depth = read_number<std::uint32_t>(device / "queue_depth").value_or(0);
    d.block = first_entry(device / "block");
    d.tape = tape_name(device / "scsi_tape");
    d.changer = first_entry(device / "scsi_changer");
    if (!d.block.empty()) {
      const auto kb =
          read_number<std::uint64_t>(device / "block" / d.block / "queue" / "max_sectors_kb");
      if (kb) {
        d.block_max_bytes =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(*kb * 1024, 0x80000000ULL));
      }
    }
    if (hosts.count(d.address.host) == 0) {
      // A host directory that vanished (or an incomplete fake tree): the device still counts.
      SgHostEntry host;
      host.host = d.address.host;
      host.transport = "other";
      hosts.emplace(host.host, host);
    }
    topology.devices.push_back(std::move(d));
  }
  std::sort(topology.devices.begin(), topology.devices.end(),
            [](const SgDeviceEntry& a, const SgDeviceEntry& b) { return a.address < b.address; });
  for (auto& [number, host] : hosts) {
    topology.hosts.push_back(std::move(host));
  }
  return topology;
}

bool selected(const std::vector<std::string>& filter, const SgDeviceEntry& entry,
              const SgHostEntry* host) {
  if (filter.empty()) {
    return true;
  }
  const std::string host_name = fmt::format("host{}", entry.address.host);
  const std::string address = entry.address.text();
  return std::any_of(filter.begin(), filter.end(), [&](const std::string& item) {
    return item == entry.name || item == address || item == host_name ||
           (host != nullptr && !host->proc_name.empty() && item == host->proc_name);
  });
}

}  // namespace ucam::sg
