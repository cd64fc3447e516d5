#pragma once

#include <fstream>
#include <string>

namespace ucam::bench {

// Resident set size of this process in KiB (VmRSS), or 0 if unknown.
inline long rss_kib(const char* field = "VmRSS:") {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == field) {
      long v = 0;
      f >> v;
      return v;
    }
    std::getline(f, key);
  }
  return 0;
}

}  // namespace ucam::bench
