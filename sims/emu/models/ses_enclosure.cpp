#include "sims/emu/models/ses_enclosure.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/log.h"
#include "scsi/sense.h"
#include "scsi/vpd.h"

namespace ucam::emu {

namespace ses = scsi::ses;

namespace {

constexpr std::uint8_t kSasProtocol = 0x6;  // SPC-5 Table 444: SAS
constexpr std::uint8_t kStatusOk = 0x01;
constexpr std::uint8_t kStatusCritical = 0x02;
constexpr std::uint8_t kStatusNoncritical = 0x03;
constexpr std::uint8_t kStatusUnrecoverable = 0x04;
constexpr std::uint8_t kStatusNotInstalled = 0x05;
constexpr std::uint8_t kStatusCodeMask = 0x0f;
constexpr std::uint8_t kRequestedOn = 0x20;  // PSU / cooling status byte 3 RQSTED ON
constexpr std::uint8_t kOff = 0x10;          // PSU / cooling status byte 3 OFF
constexpr std::uint8_t kRequestOn = 0x20;    // PSU / cooling control byte 3 RQST ON
constexpr std::uint8_t kRstSwap = 0x10;      // control byte 0 RST SWAP
constexpr std::uint8_t kEscReport = 0x01;    // ESC electronics status byte 2 REPORT
constexpr std::uint8_t kConnectorMated = 0x80;
constexpr std::uint8_t kNoIndex = 0xff;

constexpr std::uint8_t type_code(ses::ElementType type) {
  return ses::type_value(type);
}

// Page codes answered, ascending (Supported Diagnostic Pages, 0x00), and the SES ones (0x0D).
constexpr std::array<std::uint8_t, 13> kSupportedPages = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07,
                                                          0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
constexpr std::array<std::uint8_t, 12> kSesPages = {0x01, 0x02, 0x03, 0x04, 0x05, 0x07,
                                                    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};

bool has_additional_status(std::uint8_t type) {
  return ses::is_slot_type(type) || type == type_code(ses::ElementType::SasExpander) ||
         type == type_code(ses::ElementType::EscElectronics);
}

std::int32_t signed16_tenths(const ses::ElementBytes& e) {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>((e[2] << 8) | e[3])) * 10;
}

void store_signed16_tenths(ses::ElementBytes& e, std::int32_t value) {
  const auto raw = static_cast<std::uint16_t>(static_cast<std::int16_t>(value / 10));
  e[2] = static_cast<std::uint8_t>(raw >> 8);
  e[3] = static_cast<std::uint8_t>(raw);
}

// SES-4 7.3.6: degrees C + 20, 0 reserved.
std::uint8_t temperature_byte(std::int32_t celsius) {
  return static_cast<std::uint8_t>(std::clamp(celsius + 20, 1, 255));
}

std::uint8_t speed_code_for(std::int32_t rpm, std::int32_t nominal, std::uint8_t nominal_code) {
  if (rpm <= 0) {
    return 0;  // "Fan stopped"
  }
  if (nominal <= 0) {
    return std::max<std::uint8_t>(nominal_code, 1);
  }
  const std::int64_t code = (std::int64_t{nominal_code} * rpm + nominal / 2) / nominal;
  return static_cast<std::uint8_t>(std::clamp<std::int64_t>(code, 1, 7));
}

// SES-4 7.3.5: ACTUAL FAN SPEED (11 bits, units of 10 rpm) and ACTUAL SPEED CODE.
void set_fan(ses::ElementBytes& e, std::int32_t rpm, std::uint8_t code) {
  const auto tens = static_cast<std::uint16_t>(std::clamp(rpm / 10, 0, 2047));
  e[1] = static_cast<std::uint8_t>((e[1] & ~0x07) | (tens >> 8));
  e[2] = static_cast<std::uint8_t>(tens);
  e[3] = static_cast<std::uint8_t>((e[3] & ~0x07) | (code & 0x07));
}

void set_status_code(ses::ElementBytes& e, std::uint8_t code) {
  e[0] = static_cast<std::uint8_t>((e[0] & ~kStatusCodeMask) | (code & kStatusCodeMask));
}

// Sensor status from the reading and the thresholds (SES-4 7.3.6, 7.3.19, 7.3.20). A
// threshold of 0 is "none"; with no threshold at all the status is left alone.
void evaluate_sensor(std::uint8_t type, std::int32_t nominal, const ses::Threshold& t,
                     ses::ElementBytes& e) {
  if (t == ses::Threshold{}) {
    return;
  }
  std::uint8_t code = kStatusOk;
  if (type == type_code(ses::ElementType::TemperatureSensor)) {
    const std::uint8_t value = e[2];
    std::uint8_t flags = 0;
    if (t.high_critical != 0 && value > t.high_critical) {
      code = kStatusCritical;
      flags = 0x08;  // OT FAILURE
    } else if (t.high_warning != 0 && value > t.high_warning) {
      code = kStatusNoncritical;
      flags = 0x04;  // OT WARNING
    } else if (t.low_critical != 0 && value < t.low_critical) {
      code = kStatusCritical;
      flags = 0x02;  // UT FAILURE
    } else if (t.low_warning != 0 && value < t.low_warning) {
      code = kStatusNoncritical;
      flags = 0x01;  // UT WARNING
    }
    e[3] = static_cast<std::uint8_t>((e[3] & 0xf0) | flags);
  } else if (type == type_code(ses::ElementType::VoltageSensor) ||
             type == type_code(ses::ElementType::CurrentSensor)) {
    // Thresholds in 0.5 % steps of the nominal reading.
    const std::int64_t value = signed16_tenths(e);
    const std::int64_t base = std::abs(static_cast<std::int64_t>(nominal));
    const auto above = [&](std::uint8_t steps) {
      return steps != 0 && value > nominal + base * steps / 200;
    };
    const auto below = [&](std::uint8_t steps) {
      return steps != 0 && value < nominal - base * steps / 200;
    };
    const bool voltage = type == type_code(ses::ElementType::VoltageSensor);
    std::uint8_t flags = 0;
    if (above(t.high_critical)) {
      code = kStatusCritical;
      flags = 0x02;  // CRIT OVER
    } else if (above(t.high_warning)) {
      code = kStatusNoncritical;
      flags = 0x08;  // WARN OVER
    } else if (voltage && below(t.low_critical)) {
      code = kStatusCritical;
      flags = 0x01;  // CRIT UNDER
    } else if (voltage && below(t.low_warning)) {
      code = kStatusNoncritical;
      flags = 0x04;  // WARN UNDER
    }
    e[1] = static_cast<std::uint8_t>((e[1] & 0xf0) | flags);
  } else {
    return;
  }
  set_status_code(e, code);
}

std::vector<std::uint8_t> padded_nickname(std::string_view text) {
  std::vector<std::uint8_t> out(32, ' ');
  std::copy_n(text.begin(), std::min<std::size_t>(text.size(), out.size()), out.begin());
  return out;
}

ParameterListError invalid_field(std::uint16_t byte, std::optional<std::uint8_t> bit = {}) {
  return ParameterListError{scsi::kInvalidFieldInParameterList, byte, bit};
}

Error no_such(std::string_view what) {
  return Error::from_errno(19 /* ENODEV */, std::string(what));
}

}  // namespace

// --- Construction ---------------------------------------------------------------------------

Result<std::shared_ptr<SesEnclosure>> SesEnclosure::create(std::string name,
                                                           const SesModelConfig& config,
                                                           const Identity& identity,
                                                           std::span<const SlotContent> slots) {
  std::shared_ptr<SesEnclosure> enclosure(new SesEnclosure(std::move(name)));
  SesEnclosure& e = *enclosure;
  std::lock_guard lock(e.m_lock);
  e.m_help_text = config.help_text;
  e.m_eiioe = config.eiioe;
  e.m_expander_address = config.expander_sas_address;

  if (config.subenclosures.empty()) {
    return fail_invalid(fmt::format("enclosure \"{}\": no subenclosure described", e.m_name));
  }
  const std::uint64_t primary_id = config.subenclosures.front().logical_id.value_or(identity.naa);
  std::size_t next_slot = 0;
  std::uint64_t next_expander = primary_id + 1;
  for (const auto& spec : config.subenclosures) {
    Subenclosure sub;
    sub.id = spec.id;
    sub.logical_id = spec.logical_id.value_or(primary_id + spec.id);
    sub.vendor = spec.vendor.value_or(identity.vendor);
    sub.product = spec.product.value_or(identity.product);
    sub.revision = spec.revision.value_or(identity.revision);
    sub.help_text = spec.help_text;
    sub.nickname = padded_nickname(spec.nickname);
    e.m_subenclosures.push_back(std::move(sub));

    for (const auto& g : spec.groups) {
      Group group;
      group.type = g.type;
      group.subenclosure = spec.id;
      group.text = g.text;
      group.pattern = g.pattern;
      group.first = g.first;
      group.overall.status[0] = g.overall_status;
      group.overall.descriptor = g.overall_descriptor;
      group.overall.threshold = g.thresholds.value_or(ses::Threshold{});

      const auto make = [&](std::size_t i, const SlotContent* content) {
        Element el;
        const std::int32_t value = i < g.values.size() ? g.values[i] : 0;
        const std::optional<std::uint8_t> code =
            i < g.status_codes.size() ? g.status_codes[i] : std::nullopt;
        el.nominal = value;
        el.threshold = g.thresholds.value_or(ses::Threshold{});
        std::uint8_t status = kStatusOk;
        switch (g.type) {
          case type_code(ses::ElementType::DeviceSlot):
          case type_code(ses::ElementType::ArrayDeviceSlot):
            if (content != nullptr) {
              el.slot = *content;
            }
            status = el.slot.empty() ? kStatusNotInstalled : kStatusOk;
            break;
          case type_code(ses::ElementType::PowerSupply):
            el.status[3] = kRequestedOn;
            break;
          case type_code(ses::ElementType::Cooling):
            el.nominal_code = g.speed_code;
            el.status[3] = kRequestedOn;
            set_fan(el.status, value, speed_code_for(value, value, g.speed_code));
            break;
          case type_code(ses::ElementType::TemperatureSensor):
            el.status[2] = temperature_byte(value);
            break;
          case type_code(ses::ElementType::VoltageSensor):
          case type_code(ses::ElementType::CurrentSensor):
            store_signed16_tenths(el.status, value);
            break;
          case type_code(ses::ElementType::SasConnector):
            el.status[1] = g.connector_type & 0x7f;
            el.status[2] = g.connector_physical_link;
            el.status[3] = kConnectorMated;
            break;
          default:
            break;
        }
        set_status_code(el.status, code.value_or(status));
        if (!code) {
          evaluate_sensor(g.type, el.nominal, el.threshold, el.status);
        }
        return el;
      };

      group.prototype = make(0, nullptr);
      for (std::size_t i = 0; i < g.count; ++i) {
        const SlotContent* content = nullptr;
        if (ses::is_slot_type(g.type)) {
          content = next_slot < slots.size() ? &slots[next_slot] : nullptr;
          ++next_slot;
        }
        Element el = make(i, content);
        if (i < g.descriptors.size()) {
          el.descriptor = g.descriptors[i];
        } else if (g.pattern) {
          el.descriptor = expand_descriptor_pattern(*g.pattern, g.first + i);
        }
        if (g.type == type_code(ses::ElementType::SasExpander)) {
          el.sas_address = g.sas_address ? *g.sas_address + i : next_expander++;
        }
        group.elements.push_back(std::move(el));
      }
      e.m_groups.push_back(std::move(group));
    }
  }
  e.renumber_locked();
  if (auto ok = e.check_indexes_locked(); !ok) {
    return fail(ok.error());
  }
  return enclosure;
}

// Device Slot status byte 1 is the SLOT ADDRESS: the slot number here.
void SesEnclosure::renumber_locked() {
  int slot = 0;
  for (auto& group : m_groups) {
    if (!ses::is_slot_type(group.type)) {
      continue;
    }
    for (auto& el : group.elements) {
      if (group.type == type_code(ses::ElementType::DeviceSlot)) {
        el.status[1] = slot > 255 ? kNoIndex : static_cast<std::uint8_t>(slot);
      }
      ++slot;
    }
  }
}

void SesEnclosure::attach_processes(std::vector<LunAddress> luns,
                                    std::vector<std::uint64_t> sas_addresses) {
  std::lock_guard lock(m_lock);
  m_pages.clear();  // What the pages say may change.
  m_luns = std::move(luns);
  m_process_addresses = std::move(sas_addresses);
}

// Checks what the pages need: every element index page 0x0A writes fits one byte, and every
// page encodes.
Result<void> SesEnclosure::check_indexes_locked() const {
  int global = 0;
  int individual = 0;
  for (const auto& group : m_groups) {
    ++global;  // overall element
    for (std::size_t i = 0; i < group.elements.size(); ++i, ++global, ++individual) {
      const int index = m_eiioe != 0 ? global : individual;
      if (has_additional_status(group.type) && index > 255) {
        return fail_invalid(fmt::format(
            "enclosure \"{}\": element {} ({} {}) carries additional element status but its "
            "index {} does not fit one byte; put slots first or use \"eiioe\": 0",
            m_name, global, element_group_name(group.type), i, index));
      }
    }
  }
  for (const auto page : kSupportedPages) {
    if (auto bytes = encode_locked(page, 0); !bytes) {
      return fail(bytes.error().with_context(fmt::format("enclosure \"{}\"", m_name)));
    }
  }
  return {};
}

std::span<const std::uint8_t> SesEnclosure::supported_pages() {
  return kSupportedPages;
}

// --- Pages ----------------------------------------------------------------------------------

ses::SesConfig SesEnclosure::config_locked(std::size_t process) const {
  ses::SesConfig config;
  config.generation = m_generation;
  const std::size_t processes = std::max<std::size_t>(m_process_addresses.size(), 1);
  for (const auto& sub : m_subenclosures) {
    ses::Subenclosure s;
    s.id = sub.id;
    s.relative_es_process_id = static_cast<std::uint8_t>(std::min<std::size_t>(process + 1, 7));
    s.es_process_count = static_cast<std::uint8_t>(std::min<std::size_t>(processes, 7));
    s.logical_id = sub.logical_id;
    s.vendor = sub.vendor;
    s.product = sub.product;
    s.revision = sub.revision;
    config.subenclosures.push_back(std::move(s));
  }
  for (const auto& group : m_groups) {
    config.types.push_back(ses::TypeHeader{group.type,
                                           static_cast<std::uint8_t>(group.elements.size()),
                                           group.subenclosure, group.text});
  }
  return config;
}

std::uint8_t SesEnclosure::status_flags_locked() const {
  std::uint8_t flags = m_requested_flags & ses::kEnclosureControlMask;
  for (const auto& group : m_groups) {
    for (const auto& el : group.elements) {
      switch (ses::status_code(el.status)) {
        case kStatusCritical:
          flags |= ses::kEnclosureCritical;
          break;
        case kStatusNoncritical:
          flags |= ses::kEnclosureNonCritical;
          break;
        case kStatusUnrecoverable:
          flags |= ses::kEnclosureUnrecoverable;
          break;
        default:
          break;
      }
    }
  }
  return flags;
}

// The ESC electronics element of the reporting process has REPORT set (SES-4 7.3.9): ESC
// element i is process i.
std::vector<ses::ElementBytes> SesEnclosure::statuses_locked(std::size_t process) const {
  std::vector<ses::ElementBytes> out;
  std::size_t esc = 0;
  for (const auto& group : m_groups) {
    out.push_back(group.overall.status);
    const bool is_esc = group.type == type_code(ses::ElementType::EscElectronics);
    for (const auto& el : group.elements) {
      ses::ElementBytes status = el.status;
      if (is_esc) {
        status[2] = static_cast<std::uint8_t>((status[2] & ~kEscReport) |
                                              (esc == process ? kEscReport : 0));
        ++esc;
      }
      out.push_back(status);
    }
  }
  return out;
}

std::uint64_t SesEnclosure::expander_address_locked() const {
  if (m_expander_address) {
    return *m_expander_address;
  }
  for (const auto& group : m_groups) {
    if (group.type == type_code(ses::ElementType::SasExpander) && !group.elements.empty()) {
      return group.elements.front().sas_address;
    }
  }
  return m_subenclosures.front().logical_id + 1;
}

// SES-4 6.1.13: one descriptor per individual (Array) Device Slot (a SAS phy descriptor with
// the device's target port address, EIP=1 with the device slot number), SAS Expander (its
// address and one phy per slot) and ESC electronics element (the SAS address of the matching
// ES process).
Result<std::vector<std::uint8_t>> SesEnclosure::additional_status_locked() const {
  const auto config = config_locked(0);
  const std::uint64_t expander = expander_address_locked();
  std::vector<std::uint8_t> slot_indexes;
  {
    int global = 0;
    int individual = 0;
    for (const auto& group : m_groups) {
      ++global;
      for (std::size_t i = 0; i < group.elements.size(); ++i, ++global, ++individual) {
        if (ses::is_slot_type(group.type)) {
          const int index = m_eiioe != 0 ? global : individual;
          slot_indexes.push_back(index > 255 ? kNoIndex : static_cast<std::uint8_t>(index));
        }
      }
    }
  }
  std::vector<ses::AesDescriptor> descriptors;
  int global = 0;
  int slot = 0;
  std::size_t esc = 0;
  for (const auto& group : m_groups) {
    ++global;
    for (const auto& el : group.elements) {
      const int index = global++;
      if (!has_additional_status(group.type)) {
        continue;
      }
      ses::AesDescriptor d;
      d.eip = true;
      d.eiioe = m_eiioe;
      d.protocol = kSasProtocol;
      d.global_index = index;
      ses::SasInfo sas;
      if (ses::is_slot_type(group.type)) {
        sas.descriptor_type = 0;
        sas.device_slot_number = slot > 255 ? kNoIndex : static_cast<std::uint8_t>(slot);
        ++slot;
        ses::SasPhy phy;
        if (el.slot.sas_address != 0) {
          phy.device_type = 1;  // end device
          phy.ssp_target = true;
          phy.sas_address = el.slot.sas_address;
          phy.attached_sas_address = expander;
        }
        sas.phys.push_back(phy);
      } else if (group.type == type_code(ses::ElementType::SasExpander)) {
        sas.descriptor_type = 1;
        sas.expander_sas_address = el.sas_address;
        for (const auto slot_index : slot_indexes) {
          if (sas.expander_phys.size() == 255) {
            break;
          }
          sas.expander_phys.push_back(ses::SasExpanderPhy{kNoIndex, slot_index});
        }
      } else {
        sas.descriptor_type = 1;
        ses::SasPortPhy phy;
        phy.sas_address = esc < m_process_addresses.size() ? m_process_addresses[esc] : 0;
        ++esc;
        sas.port_phys.push_back(phy);
      }
      d.sas = std::move(sas);
      descriptors.push_back(std::move(d));
    }
  }
  return ses::encode_ses_additional_status(config, m_generation, descriptors);
}

Result<std::vector<std::uint8_t>> SesEnclosure::encode_locked(std::uint8_t page_code,
                                                              std::size_t process) const {
  switch (page_code) {
    case 0x00:
      return ses::encode_ses_supported_pages(0x00, kSupportedPages);
    case 0x01:
      return ses::encode_ses_config(config_locked(process));
    case 0x02: {
      ses::SesStatus status;
      status.generation = m_generation;
      status.flags = status_flags_locked();
      status.elements = statuses_locked(process);
      return ses::encode_ses_status(status);
    }
    case 0x03:
      return ses::encode_ses_help_text(m_help_text);
    case 0x04:
      return ses::encode_ses_string(m_string);
    case 0x05: {
      ses::SesThresholds thresholds;
      thresholds.generation = m_generation;
      for (const auto& group : m_groups) {
        thresholds.thresholds.push_back(group.overall.threshold);
        for (const auto& el : group.elements) {
          thresholds.thresholds.push_back(el.threshold);
        }
      }
      return ses::encode_ses_threshold_in(thresholds);
    }
    case 0x07: {
      std::vector<std::string> descriptors;
      for (const auto& group : m_groups) {
        descriptors.push_back(group.overall.descriptor);
        for (const auto& el : group.elements) {
          descriptors.push_back(el.descriptor);
        }
      }
      return ses::encode_ses_element_descriptors(m_generation, descriptors);
    }
    case 0x0a:
      return additional_status_locked();
    case 0x0b: {
      std::vector<ses::SubenclosureText> texts;
      for (const auto& sub : m_subenclosures) {
        texts.push_back(ses::SubenclosureText{sub.id, sub.help_text, {}});
      }
      return ses::encode_ses_subenclosure_help_text(m_generation, texts);
    }
    case 0x0c: {
      std::vector<ses::SubenclosureData> strings;
      for (const auto& sub : m_subenclosures) {
        strings.push_back(ses::SubenclosureData{sub.id, sub.string_in});
      }
      return ses::encode_ses_subenclosure_string_in(m_generation, strings);
    }
    case 0x0d:
      return ses::encode_ses_supported_pages(0x0d, kSesPages);
    case 0x0e: {
      std::vector<ses::MicrocodeStatus> statuses;
      for (const auto& sub : m_subenclosures) {
        ses::MicrocodeStatus status;
        status.subenclosure = sub.id;  // status 0: no download microcode operation in progress
        statuses.push_back(status);
      }
      return ses::encode_ses_download_microcode_status(m_generation, statuses);
    }
    case 0x0f: {
      std::vector<ses::NicknameStatus> nicknames;
      for (const auto& sub : m_subenclosures) {
        ses::NicknameStatus nickname;
        nickname.subenclosure = sub.id;
        nickname.raw_nickname = sub.nickname;
        nicknames.push_back(std::move(nickname));
      }
      return ses::encode_ses_nickname_status(m_generation, nicknames);
    }
    default:
      return fail_invalid(fmt::format("SES page 0x{:02x} is not emulated", page_code));
  }
}

std::optional<std::vector<std::uint8_t>> SesEnclosure::status_page(std::uint8_t page_code,
                                                                   std::size_t process) const {
  if (!std::binary_search(kSupportedPages.begin(), kSupportedPages.end(), page_code)) {
    return std::nullopt;
  }
  std::lock_guard lock(m_lock);
  const auto key = std::make_pair(page_code, process);
  if (const auto cached = m_pages.find(key); cached != m_pages.end()) {
    return cached->second;
  }
  auto page = encode_locked(page_code, process);
  if (page) {
    m_pages.emplace(key, *page);
  }
  if (!page) {
    // create() and reconfigure() encode every page before they publish a state, so this is a
    // bug; answer with the empty page rather than nothing.
    log_error("emu: enclosure \"{}\": page 0x{:02x}: {}", m_name, page_code,
              page.error().message());
    return std::vector<std::uint8_t>{page_code, 0, 0, 0};
  }
  return std::move(*page);
}

void SesEnclosure::forget_status_pages_locked() {
  for (auto it = m_pages.begin(); it != m_pages.end();) {
    it = it->first.first == page_code_value(ses::PageCode::EnclosureStatus) ? m_pages.erase(it)
                                                                            : std::next(it);
  }
}

// --- Control --------------------------------------------------------------------------------

std::optional<ParameterListError> SesEnclosure::control_page(Bytes page) {
  if (page.size() < 4) {
    return ParameterListError{scsi::kParameterListLengthError, std::nullopt, std::nullopt};
  }
  std::lock_guard lock(m_lock);
  m_pages.clear();  // What the pages say may change.
  const auto check_generation = [&]() -> std::optional<ParameterListError> {
    if (page.size() < 8) {
      return invalid_field(2);  // PAGE LENGTH too short to hold a generation code
    }
    if (load_be32(page, 4) != m_generation) {
      return invalid_field(4);  // EXPECTED GENERATION CODE
    }
    return std::nullopt;
  };
  const auto find_subenclosure = [&](std::uint8_t id) -> Subenclosure* {
    for (auto& sub : m_subenclosures) {
      if (sub.id == id) {
        return &sub;
      }
    }
    return nullptr;
  };
  switch (page[0]) {
    case 0x02:
      return enclosure_control_locked(page);
    case 0x04:  // String Out: vendor specific, kept and returned by String In
      m_string.assign(page.begin() + 4, page.end());
      return std::nullopt;
    case 0x05:
      return threshold_out_locked(page);
    case 0x0c: {  // Subenclosure String Out (SES-4 6.1.15)
      if (auto error = check_generation()) {
        return error;
      }
      Subenclosure* sub = find_subenclosure(page[1]);
      if (sub == nullptr) {
        return invalid_field(1);
      }
      sub->string_in.assign(page.begin() + 8, page.end());
      return std::nullopt;
    }
    case 0x0f: {  // Subenclosure Nickname Control (SES-4 6.1.18)
      if (auto error = check_generation()) {
        return error;
      }
      if (page.size() != 40) {
        return invalid_field(2);
      }
      Subenclosure* sub = find_subenclosure(page[1]);
      if (sub == nullptr) {
        return invalid_field(1);
      }
      sub->nickname.assign(page.begin() + 8, page.end());
      return std::nullopt;
    }
    default:
      return invalid_field(0);  // PAGE CODE: no such control page
  }
}

// SES-4 6.1.3 Enclosure Control. The page is checked whole before anything changes: a wrong
// EXPECTED GENERATION CODE (the application client works from an old configuration) or a
// length that is not the configuration's is INVALID FIELD IN PARAMETER LIST. Then every
// control element with SELECT set is applied to its element's state: the request bits that
// mirror a status bit (ses::control_mask: IDENT, FAULT, DO NOT REMOVE, RQST ON, DEVICE OFF...)
// take the value sent; RST SWAP clears SWAP; RQST ON also sets OFF (power supplies, cooling)
// and a REQUESTED SPEED CODE changes the fan speed. Header byte 1 replaces the enclosure's
// INFO/NON-CRIT/CRIT/UNRECOV requests, which the status page reports on top of the conditions
// of its elements.
std::optional<ParameterListError> SesEnclosure::enclosure_control_locked(Bytes page) {
  if (page.size() < 8) {
    return invalid_field(2);
  }
  if (load_be32(page, 4) != m_generation) {
    return invalid_field(4);
  }
  std::size_t count = 0;
  for (const auto& group : m_groups) {
    count += 1 + group.elements.size();
  }
  if (page.size() != 8 + 4 * count) {
    return invalid_field(2);
  }
  std::size_t at = 8;
  const auto apply = [&](std::uint8_t type, Element& el) {
    ses::ElementBytes control;
    std::copy_n(page.begin() + static_cast<long>(at), 4, control.begin());
    at += 4;
    if ((control[0] & ses::kSelect) == 0) {
      return;
    }
    const auto mask = ses::control_mask(type);
    for (std::size_t i = 0; i < 4; ++i) {
      el.status[i] = static_cast<std::uint8_t>((el.status[i] & ~mask[i]) | (control[i] & mask[i]));
    }
    if ((control[0] & kRstSwap) != 0) {
      el.status[0] &= static_cast<std::uint8_t>(~ses::kSwap);
    }
    const bool on = (control[3] & kRequestOn) != 0;
    if (type == type_code(ses::ElementType::PowerSupply)) {
      el.status[3] = static_cast<std::uint8_t>(on ? el.status[3] & ~kOff : el.status[3] | kOff);
    } else if (type == type_code(ses::ElementType::Cooling)) {
      if (!on) {
        el.status[3] |= kOff;
        set_fan(el.status, 0, 0);
      } else {
        el.status[3] &= static_cast<std::uint8_t>(~kOff);
        std::uint8_t code = control[3] & 0x07;  // REQUESTED SPEED CODE, 0: leave as is
        if (code == 0) {
          code = el.status[3] & 0x07;
          if (code == 0) {
            code = el.nominal_code;  // back on at the configured speed
          }
        }
        const std::int32_t rpm =
            el.nominal_code == 0 ? el.nominal : el.nominal * code / el.nominal_code;
        set_fan(el.status, rpm, code);
      }
    } else if (type == type_code(ses::ElementType::EscElectronics)) {
      el.status[2] &= static_cast<std::uint8_t>(~kEscReport);  // computed per process
    }
  };
  for (auto& group : m_groups) {
    apply(group.type, group.overall);
    for (auto& el : group.elements) {
      apply(group.type, el);
    }
  }
  m_requested_flags = page[1] & ses::kEnclosureControlMask;
  return std::nullopt;
}

// SES-4 6.1.9 Threshold Out: every threshold element is written (there is no SELECT bit).
std::optional<ParameterListError> SesEnclosure::threshold_out_locked(Bytes page) {
  if (page.size() < 8) {
    return invalid_field(2);
  }
  if (load_be32(page, 4) != m_generation) {
    return invalid_field(4);
  }
  std::size_t count = 0;
  for (const auto& group : m_groups) {
    count += 1 + group.elements.size();
  }
  if (page.size() != 8 + 4 * count) {
    return invalid_field(2);
  }
  std::size_t at = 8;
  const auto take = [&]() {
    ses::Threshold t{page[at], page[at + 1], page[at + 2], page[at + 3]};
    at += 4;
    return t;
  };
  for (auto& group : m_groups) {
    group.overall.threshold = take();
    for (auto& el : group.elements) {
      el.threshold = take();
      evaluate_sensor(group.type, el.nominal, el.threshold, el.status);
    }
  }
  return std::nullopt;
}

// --- Fault injection ------------------------------------------------------------------------

SesEnclosure::Element* SesEnclosure::find_locked(EnclosureElement element, std::uint8_t* type) {
  int index = 0;
  for (auto& group : m_groups) {
    if (group.type != element.type) {
      continue;
    }
    *type = group.type;
    if (element.index == EnclosureElement::kOverall) {
      return &group.overall;
    }
    if (element.index >= 0 && element.index - index < static_cast<int>(group.elements.size())) {
      return &group.elements[static_cast<std::size_t>(element.index - index)];
    }
    index += static_cast<int>(group.elements.size());
  }
  return nullptr;
}

const SesEnclosure::Element* SesEnclosure::slot_locked(int slot) const {
  int n = 0;
  for (const auto& group : m_groups) {
    if (!ses::is_slot_type(group.type)) {
      continue;
    }
    if (slot >= n && slot - n < static_cast<int>(group.elements.size())) {
      return &group.elements[static_cast<std::size_t>(slot - n)];
    }
    n += static_cast<int>(group.elements.size());
  }
  return nullptr;
}

SesEnclosure::Element* SesEnclosure::slot_locked(int slot) {
  return const_cast<Element*>(std::as_const(*this).slot_locked(slot));
}

Result<void> SesEnclosure::set_element_status(EnclosureElement element,
                                              const ses::ElementBytes& status) {
  std::lock_guard lock(m_lock);
  forget_status_pages_locked();  // Element status is on page 0x02 only.
  std::uint8_t type = 0;
  Element* el = find_locked(element, &type);
  if (el == nullptr) {
    return fail(no_such(fmt::format("enclosure \"{}\" has no element {} of type 0x{:02x}", m_name,
                                    element.index, element.type)));
  }
  el->status = status;
  el->status[0] &= static_cast<std::uint8_t>(~ses::kSelect);
  return {};
}

Result<void> SesEnclosure::set_sensor(EnclosureElement element, std::int32_t value) {
  std::lock_guard lock(m_lock);
  forget_status_pages_locked();  // Element status is on page 0x02 only.
  std::uint8_t type = 0;
  Element* el = find_locked(element, &type);
  if (el == nullptr) {
    return fail(no_such(fmt::format("enclosure \"{}\" has no element {} of type 0x{:02x}", m_name,
                                    element.index, element.type)));
  }
  switch (type) {
    case type_code(ses::ElementType::Cooling):
      if (value < 0 || value > 20470) {
        return fail_invalid(fmt::format("a fan speed is 0..20470 rpm, got {}", value));
      }
      set_fan(el->status, value, speed_code_for(value, el->nominal, el->nominal_code));
      return {};
    case type_code(ses::ElementType::TemperatureSensor):
      if (value < -19 || value > 235) {
        return fail_invalid(fmt::format("a temperature is -19..235 C, got {}", value));
      }
      el->status[2] = temperature_byte(value);
      break;
    case type_code(ses::ElementType::VoltageSensor):
    case type_code(ses::ElementType::CurrentSensor):
      if (value < -327680 || value > 327670) {
        return fail_invalid(fmt::format("a reading is -327680..327670, got {}", value));
      }
      store_signed16_tenths(el->status, value);
      break;
    default:
      return fail_invalid(fmt::format("element type 0x{:02x} has no sensor reading", type));
  }
  evaluate_sensor(type, el->nominal, el->threshold, el->status);
  return {};
}

Result<SlotContent> SesEnclosure::pull(int slot) {
  std::lock_guard lock(m_lock);
  m_pages.clear();  // What the pages say may change.
  Element* el = slot_locked(slot);
  if (el == nullptr) {
    return fail(no_such(fmt::format("enclosure \"{}\" has no slot {}", m_name, slot)));
  }
  if (el->slot.empty()) {
    return fail_invalid(fmt::format("enclosure \"{}\": slot {} is empty", m_name, slot));
  }
  SlotContent content = el->slot;
  el->slot = {};
  el->status = {kStatusNotInstalled, el->status[1], 0, 0};
  return content;
}

Result<void> SesEnclosure::insert(int slot, const SlotContent& content) {
  if (content.sas_address == 0) {
    return fail_invalid("a device in a slot needs a SAS address");
  }
  std::lock_guard lock(m_lock);
  m_pages.clear();  // What the pages say may change.
  Element* el = slot_locked(slot);
  if (el == nullptr) {
    return fail(no_such(fmt::format("enclosure \"{}\" has no slot {}", m_name, slot)));
  }
  if (!el->slot.empty()) {
    return fail(Error::from_errno(
        16 /* EBUSY */, fmt::format("enclosure \"{}\": slot {} is not empty", m_name, slot)));
  }
  el->slot = content;
  el->status = {kStatusOk, el->status[1], 0, 0};
  return {};
}

std::optional<int> SesEnclosure::slot_of(const LunAddress& disk) const {
  std::lock_guard lock(m_lock);
  int n = 0;
  for (const auto& group : m_groups) {
    if (!ses::is_slot_type(group.type)) {
      continue;
    }
    for (const auto& el : group.elements) {
      if (el.slot.disk == disk) {
        return n;
      }
      ++n;
    }
  }
  return std::nullopt;
}

Result<std::vector<SlotContent>> SesEnclosure::reconfigure(const EnclosureReconfiguration& change) {
  std::lock_guard lock(m_lock);
  m_pages.clear();  // What the pages say may change.
  std::vector<Group> groups = m_groups;
  std::vector<SlotContent> removed;
  for (const auto& [header, count] : change.element_counts) {
    if (header < 0 || static_cast<std::size_t>(header) >= groups.size()) {
      return fail(no_such(fmt::format("enclosure \"{}\" has no type descriptor header {} ({})",
                                      m_name, header, groups.size())));
    }
    Group& group = groups[static_cast<std::size_t>(header)];
    if (group.pattern && count > group.elements.size()) {
      if (auto fits = check_descriptor_pattern_fits(*group.pattern, group.first + count - 1);
          !fits) {
        return fail(Error::described(EINVAL, fmt::format("enclosure \"{}\", type descriptor "
                                                         "header {}: {}",
                                                         m_name, header, fits.error().message())));
      }
    }
    while (group.elements.size() > count) {
      if (!group.elements.back().slot.empty()) {
        removed.push_back(group.elements.back().slot);
      }
      group.elements.pop_back();
    }
    while (group.elements.size() < count) {
      Element el = group.prototype;
      if (group.pattern) {
        el.descriptor =
            expand_descriptor_pattern(*group.pattern, group.first + group.elements.size());
      }
      group.elements.push_back(std::move(el));
    }
  }
  std::swap(groups, m_groups);
  const std::uint32_t generation = m_generation;
  ++m_generation;
  renumber_locked();
  if (auto ok = check_indexes_locked(); !ok) {
    std::swap(groups, m_groups);
    m_generation = generation;
    return fail(ok.error());
  }
  return removed;
}

// --- View -----------------------------------------------------------------------------------

EnclosureView SesEnclosure::view() const {
  std::lock_guard lock(m_lock);
  EnclosureView view;
  view.kind = EnclosureView::Kind::Ses;
  view.name = m_name;
  view.luns = m_luns;
  view.generation = m_generation;
  view.logical_id = m_subenclosures.front().logical_id;
  view.status_flags = status_flags_locked();
  view.string_out = m_string;
  const auto statuses = statuses_locked(0);
  int global = 0;
  int slot = 0;
  std::vector<int> per_type(256, 0);
  for (std::size_t h = 0; h < m_groups.size(); ++h) {
    const Group& group = m_groups[h];
    EnclosureView::Element overall;
    overall.global_index = global;
    overall.type_header = static_cast<int>(h);
    overall.type = group.type;
    overall.subenclosure = group.subenclosure;
    overall.status = statuses[static_cast<std::size_t>(global)];
    overall.descriptor = group.overall.descriptor;
    view.elements.push_back(std::move(overall));
    ++global;
    for (const auto& el : group.elements) {
      EnclosureView::Element e;
      e.global_index = global;
      e.type_header = static_cast<int>(h);
      e.index = per_type[group.type]++;
      e.type = group.type;
      e.subenclosure = group.subenclosure;
      e.status = statuses[static_cast<std::size_t>(global)];
      e.descriptor = el.descriptor;
      if (ses::is_slot_type(group.type)) {
        e.slot = slot++;
        e.sas_address = el.slot.sas_address;
        e.disk = el.slot.disk;
      } else if (group.type == type_code(ses::ElementType::SasExpander)) {
        e.sas_address = el.sas_address;
      }
      view.elements.push_back(std::move(e));
      ++global;
    }
  }
  return view;
}

}  // namespace ucam::emu
