// Which enclosure periphs vouch for which disk's physical path, and which SES devices serve one
// enclosure (its peers). One per EncDriver; internal to periphs/enc.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "cam/periph.h"
#include "cam/xpt_periph.h"

namespace ucam::enc {

// Physical paths vouched for by each enclosure periph. Thread-safe; daemons call it.
class PathRegistry {
 public:
  // Replaces what `owner` vouches for. For every path it dropped that nobody else holds, the
  // stored value is cleared when it is still the one `owner` put there; a path another
  // enclosure still vouches for gets that enclosure's value.
  void publish(cam::XptPeriph& xpt, const void* owner,
               const std::map<cam::Path, std::string>& now) {
    std::lock_guard lock(m_lock);
    for (auto it = m_owners.begin(); it != m_owners.end();) {
      auto& owners = it->second;
      auto mine = owners.find(owner);
      if (mine != owners.end() && now.count(it->first) == 0) {
        const std::string old = mine->second;
        owners.erase(mine);
        if (owners.empty()) {
          clear_if(xpt, it->first, old);
        } else {
          store(xpt, it->first, owners.begin()->second);
        }
      }
      it = owners.empty() ? m_owners.erase(it) : std::next(it);
    }
    for (const auto& [path, value] : now) {
      m_owners[path][owner] = value;
      store(xpt, path, value);
    }
  }

 private:
  static void store(cam::XptPeriph& xpt, const cam::Path& path, const std::string& value) {
    const Bytes bytes(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
    (void)xpt.set_advinfo(path, cam::AdvinfoType::PhysPath, bytes);  // Events only on change.
  }
  static void clear_if(cam::XptPeriph& xpt, const cam::Path& path, const std::string& old) {
    auto info = xpt.device(path);
    if (!info) {
      return;
    }
    auto cur = info->advinfo.find(cam::AdvinfoType::PhysPath);
    if (cur != info->advinfo.end() && std::string(cur->second.begin(), cur->second.end()) == old) {
      (void)xpt.set_advinfo(path, cam::AdvinfoType::PhysPath, {});
    }
  }

 public:
  // Several SES devices (enclosure service processes) can serve one enclosure: they report the
  // same enclosure logical identifier in page 0x01 but each has its own NAA. Every process
  // joins under its enclosure's logical id (0: unknown, no peers) each time it reads the
  // configuration; a member stays until forget(), which its daemon calls before it drops its
  // periph reference, so a member's periph and softc are alive while the registry lock is held.
  void join(cam::Periph& periph, std::uint64_t logical_id, std::uint64_t naa) {
    std::lock_guard lock(m_lock);
    m_members[&periph] = Member{logical_id, naa};
  }
  // FreeBSD puts the NAA in the path ("enc@n<naa>"). So that a disk gets one path, not one per
  // SES device, every process of an enclosure uses the smallest NAA among the live ones.
  // Returns that NAA (`naa` itself without a logical id or an NAA). Joins first.
  std::uint64_t canonical_id(cam::Periph& periph, std::uint64_t logical_id, std::uint64_t naa) {
    join(periph, logical_id, naa);
    std::lock_guard lock(m_lock);
    if (logical_id == 0 || naa == 0) {
      return naa;
    }
    std::uint64_t best = naa;
    for (const auto& [p, m] : m_members) {
      if (m.logical_id == logical_id && m.naa != 0) {
        best = std::min(best, m.naa);
      }
    }
    return best;
  }
  void forget(cam::Periph& periph) {
    std::lock_guard lock(m_lock);
    m_members.erase(&periph);
  }
  // Calls f(peer) for every other process of `periph`'s enclosure, under the registry lock. f
  // may take the peer's softc lock (lock order: registry, then a softc; nothing takes the
  // registry while holding a softc lock) and must not call back into the registry.
  template <class F>
  void for_each_peer(cam::Periph& periph, F f) {
    std::lock_guard lock(m_lock);
    const auto self = m_members.find(&periph);
    if (self == m_members.end() || self->second.logical_id == 0) {
      return;
    }
    for (const auto& [p, m] : m_members) {
      if (p != &periph && m.logical_id == self->second.logical_id) {
        f(*p);
      }
    }
  }

 private:
  struct Member {
    std::uint64_t logical_id = 0;
    std::uint64_t naa = 0;
  };
  std::mutex m_lock;
  std::map<cam::Path, std::map<const void*, std::string>> m_owners;  // Guarded by m_lock.
  std::map<cam::Periph*, Member> m_members;                          // Guarded by m_lock.
};

}  // namespace ucam::enc
