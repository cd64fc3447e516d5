#include "periphs/enc/ses_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "scsi/vpd.h"

namespace ucam::enc {
namespace ses = scsi::ses;

namespace {

// The first NAA designator of 8+ bytes with NAA 3 or 5 in the SES device's VPD 0x83
// (scsi_devid_is_naa_ieee_reg), read big-endian: the "enc@n" id of physical paths.
std::uint64_t enclosure_id_of(const cam::DeviceInfo& info) {
  auto designators = scsi::parse_device_identification(info.devid);
  if (!designators) {
    return 0;
  }
  for (const auto& d : *designators) {
    if (d.type == scsi::DesignatorType::Naa && d.identifier.size() >= 8) {
      const std::uint8_t naa = d.identifier[0] >> 4;
      if (naa == 3 || naa == 5) {
        return load_be64(d.identifier, 0);
      }
    }
  }
  return 0;
}

}  // namespace

bool ses_matches(const cam::DeviceInfo& device) {
  return device.device_type == 0x0d;
}

void SesBackend::run(EncSoftc& sc, std::uint32_t action) {
  switch (action) {
    case kPages:
      step_pages(sc);
      break;
    case kConfig:
      step_config(sc);
      break;
    case kStatus:
      step_status(sc, Origin::Own);
      break;
    case kPeerStatus:
      step_status(sc, Origin::Peer);
      break;
    case kDescriptors:
      step_descriptors(sc);
      break;
    case kAdditional:
      step_additional(sc);
      break;
    case kControl:
      step_control(sc);
      break;
    case kPhysPaths:
      step_physpaths(sc);
      break;
    default:
      break;
  }
}

// Reads diagnostic page `page` and parses it with `parse`. Any failure (transport, SCSI, or
// bytes the parser rejects) becomes a warning naming `what` in the next published state.
template <class Parse>
auto SesBackend::fetch_page(EncSoftc& sc, std::uint8_t page, std::string_view what, Parse parse)
    -> std::optional<typename std::invoke_result_t<Parse, Bytes>::value_type> {
  auto f = receive_diagnostic(sc, m_buffer, page);
  if (f.status != CamStatus::ReqCmp) {
    sc.work.warnings.push_back(fmt::format("{}: {}", what, cam_status_name(f.status)));
    return std::nullopt;
  }
  auto parsed = parse(Bytes(f.data));
  if (!parsed) {
    sc.work.warnings.push_back(fmt::format("{}: {}", what, parsed.error().message()));
    return std::nullopt;
  }
  return std::move(*parsed);
}

void SesBackend::step_pages(EncSoftc& sc) {
  auto f = receive_diagnostic(sc, m_buffer, 0x00);
  std::uint32_t poll = kStatus;
  sc.work.supported_pages.clear();
  if (f.status == CamStatus::ReqCmp && f.data.size() >= 4) {
    const std::size_t end = std::min<std::size_t>(f.data.size(), 4U + load_be16(f.data, 2));
    for (std::size_t i = 4; i < end; ++i) {
      sc.work.supported_pages.push_back(f.data[i]);
      poll |= f.data[i] == 0x07 ? kDescriptors : 0U;
      poll |= f.data[i] == 0x0a ? kAdditional : 0U;
    }
  }
  m_poll_actions.store(poll);
  sc.request(kConfig);
}

void SesBackend::step_config(EncSoftc& sc) {
  auto config = fetch_page(sc, 0x01, "configuration page",
                           [](Bytes page) { return ses::parse_ses_config(page); });
  if (!config) {
    return;
  }
  if (m_config && m_config->generation == config->generation && sc.work.configured) {
    return;  // Nothing changed.
  }
  m_map = ses::build_element_map(*config);
  sc.work.configured = true;
  sc.work.generation = config->generation;
  sc.work.elements.clear();
  sc.work.elements.reserve(m_map.size());
  for (const auto& ref : m_map) {
    EncElement e;
    e.index = ref.global_index;
    e.type_index = ref.type_index;
    e.index_in_type = ref.index_in_type;
    e.element_type = ref.element_type;
    e.subenclosure = ref.subenclosure;
    sc.work.elements.push_back(std::move(e));
  }
  sc.work.type_texts.clear();
  for (const auto& t : config->types) {
    sc.work.type_texts.push_back(t.text);
  }
  if (const auto* primary = config->find_subenclosure(0)) {
    sc.work.logical_id = primary->logical_id;
    sc.work.name = primary->vendor + " " + primary->product + " " + primary->revision;
  }
  sc.work.warnings.insert(sc.work.warnings.end(), config->warnings.begin(), config->warnings.end());
  // A configuration that moved (not the first one read) is news for the other processes.
  sc.notify_peers = sc.notify_peers || m_config.has_value();
  m_config = std::move(*config);
  if (const auto self = sc.periph.xpt().device(sc.periph.path())) {
    m_own_id = enclosure_id_of(*self);  // Fixed for the device's lifetime.
  }
  sc.paths.join(sc.periph, sc.work.logical_id, m_own_id);
  m_status.reset();
  m_descriptors_generation.reset();
  m_additional_page.reset();
  m_additional_warnings.clear();
  m_matched_at.reset();
  sc.request(poll_actions() | kPublish);
}

void SesBackend::step_status(EncSoftc& sc, Origin origin) {
  if (!m_config) {
    sc.request(kConfig);
    return;
  }
  auto status = fetch_page(sc, 0x02, "status page",
                           [&](Bytes page) { return ses::parse_ses_status(page, *m_config); });
  if (!status) {
    if (sc.work.configured) {
      adopt_peer_status(sc);
    }
    return;
  }
  if (status->is_short) {
    m_status.reset();
    return;
  }
  if (status->generation_mismatch) {
    sc.request(kConfig);  // The configuration moved under us: re-read it, then everything.
    return;
  }
  // What this read found new (against what this process showed, read or adopted) is passed on
  // to the other processes of the enclosure, unless a peer asked for the read (that peer
  // already knows). The first read after a configuration is no news: every process reads its
  // own at start.
  bool changed = sc.work.enclosure_status != status->flags || !sc.work.status_via.empty();
  sc.work.enclosure_status = status->flags;
  for (std::size_t i = 0; i < status->elements.size() && i < sc.work.elements.size(); ++i) {
    if (sc.work.elements[i].status != status->elements[i]) {
      changed = true;
      sc.work.elements.mutate(i).status = status->elements[i];  // Only what changed is copied.
    }
  }
  if (changed && m_status && origin == Origin::Own) {
    sc.notify_peers = true;
  }
  sc.work.path_error.clear();
  sc.work.status_via.clear();
  sc.work.warnings.insert(sc.work.warnings.end(), status->warnings.begin(), status->warnings.end());
  m_status = std::move(*status);
  sc.request(kPublish);
}

void SesBackend::step_descriptors(EncSoftc& sc) {
  if (!m_config || m_descriptors_generation == m_config->generation) {
    return;  // Read for this configuration already (see m_descriptors_generation).
  }
  auto d = fetch_page(sc, 0x07, "element descriptor page", [&](Bytes page) {
    return ses::parse_ses_element_descriptors(page, *m_config);
  });
  if (!d) {
    return;
  }
  if (d->generation_mismatch) {
    sc.request(kConfig);
    return;
  }
  for (std::size_t i = 0; i < sc.work.elements.size(); ++i) {
    const auto& e = sc.work.elements[i];
    // The bytes as the page holds them: physical paths and the JSON contract are byte exact
    // (FreeBSD keeps trailing blanks and NUL padding); only text for people is trimmed.
    std::string raw = i < d->raw.size() ? std::move(d->raw[i]) : std::string();
    if (raw != e.descriptor) {
      auto& changed = sc.work.elements.mutate(i);
      changed.descriptor = std::move(raw);
      changed.physical_path.clear();  // Recomputed by the next physical path step.
      m_matched_at.reset();
    }
  }
  m_descriptors_generation = m_config->generation;
  sc.request(kPublish);
}

void SesBackend::step_additional(EncSoftc& sc) {
  if (!m_config) {
    return;
  }
  auto f = receive_diagnostic(sc, m_buffer, 0x0a);
  if (f.status != CamStatus::ReqCmp) {
    sc.work.warnings.push_back(
        fmt::format("additional element status page: {}", cam_status_name(f.status)));
    return;
  }
  if (m_additional_page == f.data) {
    // What was applied last time, on this configuration (step_config clears the copy).
    sc.work.warnings.insert(sc.work.warnings.end(), m_additional_warnings.begin(),
                            m_additional_warnings.end());
    sc.request(kPhysPaths | kPublish);
    return;
  }
  auto aes = ses::parse_ses_additional_status(f.data, *m_config);
  if (!aes) {
    sc.work.warnings.push_back(
        fmt::format("additional element status page: {}", aes.error().message()));
    return;
  }
  if (aes->generation_mismatch) {
    sc.request(kConfig);
    return;
  }
  // SesAdditionalStatus::find() for every element at once: the first valid descriptor mapped
  // to each global index.
  const std::size_t n = sc.work.elements.size();
  std::vector<const ses::AesDescriptor*> by_element(n, nullptr);
  for (const auto& d : aes->descriptors) {
    if (!d.invalid && d.global_index >= 0 && static_cast<std::size_t>(d.global_index) < n &&
        by_element[static_cast<std::size_t>(d.global_index)] == nullptr) {
      by_element[static_cast<std::size_t>(d.global_index)] = &d;
    }
  }
  std::vector<std::uint64_t> addresses;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& e = sc.work.elements[i];
    addresses.clear();
    std::optional<std::uint8_t> slot_number;
    const auto* desc = by_element[static_cast<std::size_t>(e.index)];
    if (desc != nullptr && desc->sas && desc->sas->descriptor_type == 0) {
      slot_number = desc->sas->device_slot_number;
      for (const auto& phy : desc->sas->phys) {
        if (phy.sas_address != 0) {
          addresses.push_back(phy.sas_address);
        }
      }
    }
    if (e.sas_addresses != addresses || e.device_slot_number != slot_number) {
      auto& changed = sc.work.elements.mutate(i);
      changed.sas_addresses = addresses;
      changed.device_slot_number = slot_number;
      m_matched_at.reset();
    }
  }
  sc.work.warnings.insert(sc.work.warnings.end(), aes->warnings.begin(), aes->warnings.end());
  m_additional_warnings = std::move(aes->warnings);
  m_additional_page = std::move(f.data);
  sc.request(kPhysPaths | kPublish);
}

void SesBackend::step_control(EncSoftc& sc) {
  const auto batch = sc.take_requests();
  if (batch.empty()) {
    return;
  }
  // All of the batch's changes go in one control page, sent once.
  const auto finish = [&sc](ControlRequest* r, Result<void> result) {
    sc.finish(*r, std::move(result));
  };
  std::vector<ses::ElementChange> changes;
  std::uint8_t flags = 0;
  std::vector<ControlRequest*> sent;
  for (const auto& rp : batch) {
    ControlRequest* r = rp.get();
    if (!m_status || !m_config) {
      finish(r, fail_errno(EIO, sc.periph.name() + ": no status page cached yet"));
    } else if (r->generation && *r->generation != m_config->generation) {
      finish(r, fail(Error::described(
                    ESTALE, fmt::format("{}: stale generation {} (enclosure is at {})",
                                        sc.periph.name(), *r->generation, m_config->generation))));
    } else if (r->index < 0) {
      flags = r->bytes[0] & ses::kEnclosureControlMask;
      sent.push_back(r);
    } else if (static_cast<std::size_t>(r->index) >= m_status->elements.size()) {
      finish(r, fail_errno(ENXIO, fmt::format("{}: no element {}", sc.periph.name(), r->index)));
    } else {
      auto bytes = r->bytes;
      bytes[0] &= static_cast<std::uint8_t>(~ses::kSelect);  // The encoder sets SELECT.
      changes.emplace_back(r->index, bytes);
      sent.push_back(r);
    }
  }
  if (!sent.empty()) {
    Result<void> result;
    auto page = ses::encode_ses_control(*m_status, m_config->generation, flags, changes);
    if (!page) {
      result = fail(page.error());
    } else {
      result = send_diagnostic(sc, std::move(*page));
    }
    for (ControlRequest* r : sent) {
      finish(r, result);
    }
  }
  sc.request(poll_actions());
}

// Matches every slot's phys against the disks' target-port designators and stores the
// physical path on each match; clears the paths of disks that left. Skipped when nothing it
// reads changed since the last run (m_matched_at): the slots' SAS addresses and descriptors,
// the enclosure id, and the XPT's devices.
void SesBackend::step_physpaths(EncSoftc& sc) {
  auto& registry = sc.paths;
  auto& xpt = sc.periph.xpt();
  const auto id = registry.canonical_id(sc.periph, sc.work.logical_id, m_own_id);
  if (id != sc.work.enclosure_id) {
    sc.work.enclosure_id = id;
    for (std::size_t i = 0; i < sc.work.elements.size(); ++i) {
      if (!sc.work.elements[i].physical_path.empty()) {
        sc.work.elements.mutate(i).physical_path.clear();  // Recomputed below with the new id.
      }
    }
    m_matched_at.reset();
  }
  // Read before matching: a device that changes while we match moves it past what we record,
  // so the next run matches again.
  const std::uint64_t generation = xpt.device_generation();
  if (m_matched_at == generation) {
    sc.request(kPublish);
    return;
  }
  const auto bus =
      m_search_globally ? std::nullopt : std::optional<std::uint32_t>(sc.periph.path().bus);
  std::map<cam::Path, std::string> now;
  std::vector<cam::Path> matched;
  for (std::size_t i = 0; i < sc.work.elements.size(); ++i) {
    const auto& e = sc.work.elements[i];
    matched.clear();
    if (ses::is_slot_type(e.element_type) && e.index_in_type >= 0) {
      for (std::uint64_t address : e.sas_addresses) {
        // A target-port NAA designator with this SAS address (association and type are what
        // the XPT compares, with the length and the identifier bytes).
        std::array<std::uint8_t, 12> designator{0x61, 0x93, 0x00, 0x08};
        store_be64(designator, 4, address);
        for (const auto& p : xpt.match_devid(designator, bus)) {
          matched.push_back(p);
        }
      }
      std::sort(matched.begin(), matched.end());
      matched.erase(std::unique(matched.begin(), matched.end()), matched.end());
    }
    const bool path_missing = ses::is_slot_type(e.element_type) && e.index_in_type >= 0 &&
                              !e.sas_addresses.empty() && sc.work.enclosure_id != 0 &&
                              e.physical_path.empty();
    if (e.devices != matched || path_missing) {
      auto& changed = sc.work.elements.mutate(i);
      changed.devices = matched;
      if (path_missing) {
        changed.physical_path =
            physical_path(sc.work.enclosure_id, changed.type_index,
                          ses::type_element_index(m_map[changed.index]), changed.descriptor);
      }
    }
    const auto& after = sc.work.elements[i];
    if (!after.physical_path.empty()) {
      for (const auto& p : after.devices) {
        now[p] = after.physical_path;
      }
    }
  }
  registry.publish(xpt, &sc.periph, now);
  m_matched_at = generation;
  sc.request(kPublish);
}

std::string physical_path(std::uint64_t enclosure_id, int type_index, int type_element_index,
                          std::string_view descriptor) {
  std::string path = fmt::format("id1,enc@n{:x}/type@{:x}/slot@{:x}", enclosure_id, type_index,
                                 type_element_index);
  if (descriptor.empty()) {
    return path;
  }
  // freebsd-cam.md §2.5, "Descriptor sanitising on page 7": if any byte before the first NUL
  // lies outside 0x20-0x7e, the whole descriptor becomes "<invalid>" (length 9). Bytes after
  // the first NUL are not looked at.
  const auto first_nul = descriptor.find('\0');
  const auto checked = descriptor.substr(0, first_nul);
  if (std::any_of(checked.begin(), checked.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u > 0x7e;
      })) {
    descriptor = "<invalid>";
  }
  // ses_set_physpath: each of the descriptor's bytes that is not printable (outside
  // 0x20-0x7e), is white space (the blank included) or is '/' becomes '_'.
  path += "/elmdesc@";
  for (const char c : descriptor) {
    const auto u = static_cast<unsigned char>(c);
    const bool space = u == ' ' || (u >= '\t' && u <= '\r');
    path += (u < 0x20 || u > 0x7e || space || c == '/') ? '_' : c;
  }
  return path;
}

}  // namespace ucam::enc
