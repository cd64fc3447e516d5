// Which paths are ucam's sg nodes, and where ucamd listens. Pure functions of their inputs (the
// environment is read by the callers), so they are tested without a daemon.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ucam::preload {

inline constexpr std::string_view kDefaultPrefix = "/dev/ucam/";
inline constexpr std::string_view kDefaultSocket = "/run/ucam/ucamd.sock";
inline constexpr unsigned kScsiGenericMajor = 21;  // SCSI_GENERIC_MAJOR (<linux/major.h>).

// $UCAM_SG_PREFIX, else kDefaultPrefix. `env` is the variable's value (nullptr if unset).
std::string prefix_from_env(const char* env);
// $UCAM_SOCKET, else kDefaultSocket: the rule of ucamctl (cli/client.cpp default_socket()).
std::string socket_from_env(const char* env);

// The node a path names: "/dev/ucam/sg3" with prefix "/dev/ucam/" -> "sg3". nullopt when the
// path is not under the prefix, or the rest is empty or has a '/' (subdirectories are not
// nodes). The path is compared as given (no symlink or "..": programs pass the name they got).
std::optional<std::string> node_of(std::string_view path, std::string_view prefix);

// N for a node named "sgN" (the minor number of a Linux sg device), else nullopt.
std::optional<unsigned> sg_minor(std::string_view node);

}  // namespace ucam::preload
