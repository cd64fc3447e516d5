#include "tests/scsi/oracle.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "base/hex.h"

namespace ucam::scsi::test {

std::filesystem::path shared_dir() {
  if (const char* src = std::getenv("UCAM_SOURCE_DIR"); src != nullptr) {
    const auto p = std::filesystem::path(src) / ".." / "shared";
    if (std::filesystem::exists(p / "conformance")) {
      return p;
    }
  }
  return "/work/shared";
}

std::vector<std::uint8_t> oracle_vector(const std::string& name) {
  const auto path = shared_dir() / "conformance" / "oracle" / name;
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot open conformance vector " + path.string());
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto bytes = parse_hex(ss.str());
  if (!bytes) {
    throw std::runtime_error(path.string() + ": " + bytes.error().message());
  }
  return *bytes;
}

bool have_tool(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

std::string missing_tool_message(const std::string& tool) {
  return tool + " not found on PATH: the oracle tests need sg3-utils (apt-get install sg3-utils)";
}

RunResult run(const std::vector<std::string>& argv) {
  RunResult r;
  int fds[2];
  if (::pipe(fds) != 0) {
    r.output = "pipe failed";
    return r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
    r.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TempHexFile::TempHexFile(Bytes bytes) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ucam-scsi-XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    throw std::runtime_error("mkstemp failed");
  }
  m_path = tmpl;
  const std::string text = hex_string(bytes) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) {
    throw std::runtime_error("write to " + m_path + " failed");
  }
}

TempHexFile::~TempHexFile() {
  ::unlink(m_path.c_str());
}

std::string normalize(const std::string& text) {
  std::string out;
  bool blank = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      blank = !out.empty();
      continue;
    }
    if (blank) {
      out += ' ';
      blank = false;
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    out.push_back(line);
  }
  return out;
}

namespace {
// Parses a decimal or 0x-hex number at text[pos]; advances pos.
std::optional<std::uint64_t> parse_number(const std::string& text, std::size_t& pos) {
  int base = 10;
  if (pos + 2 < text.size() && text.compare(pos, 2, "0x") == 0 &&
      std::isxdigit(static_cast<unsigned char>(text[pos + 2])) != 0) {
    base = 16;
    pos += 2;
  }
  const std::size_t start = pos;
  while (pos < text.size() &&
         (base == 16 ? std::isxdigit(static_cast<unsigned char>(text[pos]))
                     : std::isdigit(static_cast<unsigned char>(text[pos]))) != 0) {
    ++pos;
  }
  if (pos == start) {
    return std::nullopt;
  }
  return std::stoull(text.substr(start, pos - start), nullptr, base);
}
}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> key_values(const std::string& text) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (std::size_t eq = text.find('='); eq != std::string::npos; eq = text.find('=', eq + 1)) {
    std::size_t start = eq;
    while (start > 0 && (std::isalnum(static_cast<unsigned char>(text[start - 1])) != 0 ||
                         text[start - 1] == '_')) {
      --start;
    }
    std::size_t pos = eq + 1;
    auto value = parse_number(text, pos);
    if (start < eq && value) {
      out.emplace_back(text.substr(start, eq - start), *value);
    }
  }
  return out;
}

std::optional<std::uint64_t> number_after(const std::string& text, const std::string& label) {
  const auto at = text.find(label);
  if (at == std::string::npos) {
    return std::nullopt;
  }
  std::size_t pos = at + label.size();
  while (pos < text.size() && text[pos] == ' ') {
    ++pos;
  }
  return parse_number(text, pos);
}

}  // namespace ucam::scsi::test
