#include "preload/path_map.h"

#include <charconv>

namespace ucam::preload {

std::string prefix_from_env(const char* env) {
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(kDefaultPrefix);
}

std::string socket_from_env(const char* env) {
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(kDefaultSocket);
}

std::optional<std::string> node_of(std::string_view path, std::string_view prefix) {
  if (prefix.empty() || !path.starts_with(prefix)) {
    return std::nullopt;
  }
  const auto rest = path.substr(prefix.size());
  if (rest.empty() || rest.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(rest);
}

std::optional<unsigned> sg_minor(std::string_view node) {
  if (!node.starts_with("sg") || node.size() == 2) {
    return std::nullopt;
  }
  unsigned n = 0;
  const auto digits = node.substr(2);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.front() == '+') {
    return std::nullopt;
  }
  return n;
}

}  // namespace ucam::preload
