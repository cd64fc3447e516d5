#include "sims/emu/models/changer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>

#include "scsi/opcodes.h"
#include "scsi/sense.h"
#include "scsi/vpd.h"
#include "sims/emu/models/tape.h"

namespace ucam::emu {

namespace smc = scsi::smc;

namespace {

constexpr std::uint16_t kVersionSam5 = 0x00a0;
constexpr std::uint16_t kVersionSpc4 = 0x0460;
constexpr std::uint16_t kVersionSmc3 = 0x0480;

bool is_translate(smc::SendVolumeTagAction action) {
  return action == smc::SendVolumeTagAction::TranslatePrimary ||
         action == smc::SendVolumeTagAction::TranslateAlternate;
}

bool is_alternate(smc::SendVolumeTagAction action) {
  return action == smc::SendVolumeTagAction::TranslateAlternate ||
         action == smc::SendVolumeTagAction::AssertAlternate ||
         action == smc::SendVolumeTagAction::ReplaceAlternate ||
         action == smc::SendVolumeTagAction::UndefineAlternate;
}

// SMC-3 volume identification template: '?' matches one character, '*' any rest (what follows
// it in the template is not used); anything else matches itself.
bool template_matches(std::string_view pattern, std::string_view tag) {
  std::size_t i = 0;
  for (; i < pattern.size(); ++i) {
    if (pattern[i] == '*') {
      return true;
    }
    if (i >= tag.size() || (pattern[i] != '?' && pattern[i] != tag[i])) {
      return false;
    }
  }
  return i == tag.size();
}

constexpr std::uint8_t op(scsi::Opcode opcode) {
  return static_cast<std::uint8_t>(opcode);
}

// The 2-byte page_0 header and the body of a ModePage (no subpages here).
std::vector<std::uint8_t> page_bytes(const scsi::ModePage& page) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(page.data.size() + 2);
  bytes.push_back(static_cast<std::uint8_t>(page.page_code & 0x3f));
  bytes.push_back(static_cast<std::uint8_t>(page.data.size()));
  bytes.insert(bytes.end(), page.data.begin(), page.data.end());
  return bytes;
}

// Headers only: MODE SELECT is not emulated, nothing is changeable.
std::vector<std::uint8_t> changeable_of(const std::vector<std::uint8_t>& page) {
  std::vector<std::uint8_t> bytes(page.size(), 0);
  bytes[0] = page[0];
  bytes[1] = page[1];
  return bytes;
}

ChangerModel::Element make_element(smc::ElementType type, std::uint32_t address) {
  ChangerModel::Element e;
  e.type = type;
  e.address = static_cast<std::uint16_t>(address);
  return e;
}

std::uint8_t medium_type_of(const std::string& tag) {
  return static_cast<std::uint8_t>(tag.starts_with("CLN") ? smc::MediumType::Cleaning
                                                          : smc::MediumType::Data);
}

// "media" / "portal_media": {"<0-based index>": "TAG", ...}.
Result<void> read_media(ObjectReader& reader, std::string_view key, std::uint32_t count,
                        std::map<std::uint16_t, std::string>& out) {
  const nlohmann::json* media = reader.find(key);
  if (media == nullptr) {
    return {};
  }
  if (!media->is_object()) {
    return fail(reader.error(key, fmt::format("expected an object of index: volume tag, got {}",
                                              describe_json_value(*media))));
  }
  for (const auto& [name, value] : media->items()) {
    std::uint32_t index = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
    if (ec != std::errc{} || end != name.data() + name.size() || index >= count) {
      return fail(reader.error(
          key, fmt::format("key \"{}\": expected an element index below {}", name, count)));
    }
    if (!value.is_string() || value.get<std::string>().empty() ||
        value.get<std::string>().size() > smc::kVolumeIdentifierLength) {
      return fail(
          reader.error(key, fmt::format("\"{}\": expected a volume tag of 1-32 characters", name)));
    }
    out[static_cast<std::uint16_t>(index)] = value.get<std::string>();
  }
  return {};
}

Result<ChangerDriveConfig> read_drive(const nlohmann::json& object, std::string_view source,
                                      std::string path) {
  ChangerDriveConfig drive;
  if (!object.is_object()) {
    return fail(Error::invalid(fmt::format("{}: {}: expected an object, got {}", source, path,
                                           describe_json_value(object))));
  }
  ObjectReader reader(object, source, std::move(path));
  auto bus = reader.unsigned_integer("bus", 0, kMaxScenarioBuses - 1);
  auto target = reader.unsigned_integer("target", 0, kMaxTargetId);
  auto lun = reader.unsigned_integer("lun", 0, kMaxLunNumber);
  auto identifier = reader.string("identifier");
  for (const auto* r : {&bus, &target, &lun}) {
    if (!*r) {
      return fail(r->error());
    }
  }
  if (!identifier) {
    return fail(identifier.error());
  }
  if (target->has_value()) {
    drive.lun = LunAddress{static_cast<std::uint32_t>(bus->value_or(0)),
                           static_cast<std::uint32_t>(**target), lun->value_or(0)};
  } else if (bus->has_value() || lun->has_value()) {
    return fail(reader.error("target", "a drive naming a bus or LUN must name its target"));
  }
  drive.identifier = identifier->value_or("");
  if (drive.identifier.size() > 255) {
    return fail(reader.error("identifier", "longer than 255 characters"));
  }
  auto done = reader.finish();
  if (!done) {
    return fail(done.error());
  }
  return drive;
}

}  // namespace

std::string generated_volume_tag(std::uint32_t index) {
  return fmt::format("UCAM{:03}L6", index + 1);
}

Result<std::shared_ptr<const ModelConfig>> parse_changer_config(ObjectReader& lun) {
  auto config = std::make_shared<ChangerConfig>();
  struct Count {
    std::string_view key;
    std::uint16_t ChangerConfig::*member;
    std::uint64_t min;
  };
  for (const Count& c :
       {Count{"pickers", &ChangerConfig::pickers, 1}, Count{"slots", &ChangerConfig::slots, 0},
        Count{"portals", &ChangerConfig::portals, 0},
        Count{"picker_address", &ChangerConfig::picker_address, 0},
        Count{"slot_address", &ChangerConfig::slot_address, 0},
        Count{"portal_address", &ChangerConfig::portal_address, 0},
        Count{"drive_address", &ChangerConfig::drive_address, 0}}) {
    auto value = lun.unsigned_integer(c.key, c.min, 0xffff);
    if (!value) {
      return fail(value.error());
    }
    if (*value) {
      (*config).*c.member = static_cast<std::uint16_t>(**value);
    }
  }
  if (const nlohmann::json* drives = lun.find("drives"); drives != nullptr) {
    if (drives->is_number_unsigned() && drives->get<std::uint64_t>() <= 0xffff) {
      for (std::uint64_t i = 0; i < drives->get<std::uint64_t>(); ++i) {
        config->drives.push_back({std::nullopt, fmt::format("EMU DRIVE {:04}", i)});
      }
    } else if (drives->is_array()) {
      for (std::size_t i = 0; i < drives->size(); ++i) {
        auto drive =
            read_drive((*drives)[i], lun.source_name(), json_path_index(lun.path_of("drives"), i));
        if (!drive) {
          return fail(drive.error());
        }
        if (!drive->lun && drive->identifier.empty()) {
          drive->identifier = fmt::format("EMU DRIVE {:04}", i);
        }
        config->drives.push_back(std::move(*drive));
      }
    } else {
      return fail(lun.error("drives", fmt::format("expected a count or an array of drives, got {}",
                                                  describe_json_value(*drives))));
    }
  }
  auto full = lun.unsigned_integer("full_slots", 0, config->slots);
  if (!full) {
    return fail(full.error());
  }
  for (std::uint32_t i = 0; i < full->value_or(0); ++i) {
    config->slot_media[static_cast<std::uint16_t>(i)] = generated_volume_tag(i);
  }
  if (auto r = read_media(lun, "media", config->slots, config->slot_media); !r) {
    return fail(r.error());
  }
  if (auto r = read_media(lun, "portal_media", config->portals, config->portal_media); !r) {
    return fail(r.error());
  }
  auto alternate_tags = lun.boolean("alternate_tags");
  if (!alternate_tags) {
    return fail(alternate_tags.error());
  }
  config->alternate_tags = alternate_tags->value_or(false);
  // Ranges must fit in 16 bits and not overlap.
  struct Range {
    std::string_view key;
    std::uint32_t first;
    std::uint32_t count;
  };
  const std::array<Range, 4> ranges = {
      Range{"picker_address", config->picker_address, config->pickers},
      Range{"slot_address", config->slot_address, config->slots},
      Range{"portal_address", config->portal_address, config->portals},
      Range{"drive_address", config->drive_address,
            static_cast<std::uint32_t>(config->drives.size())}};
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].first + ranges[i].count > 0x10000) {
      return fail(lun.error(ranges[i].key, "the element addresses run past 0xFFFF"));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (ranges[i].count != 0 && ranges[j].count != 0 &&
          ranges[i].first < ranges[j].first + ranges[j].count &&
          ranges[j].first < ranges[i].first + ranges[i].count) {
        return fail(lun.error(ranges[i].key,
                              fmt::format("the elements overlap those of {}", ranges[j].key)));
      }
    }
  }
  return config;
}

std::unique_ptr<LunModel> create_changer(const LunSpec& spec) {
  static const ChangerConfig defaults;
  const auto* config = spec.config_as<ChangerConfig>();
  return std::make_unique<ChangerModel>(spec, config != nullptr ? *config : defaults);
}

Result<void> link_changer_drives(const Scenario& scenario,
                                 const std::function<LunModel*(const LunAddress&)>& model_of) {
  for (std::size_t b = 0; b < scenario.buses.size(); ++b) {
    for (const TargetSpec& target : scenario.buses[b].targets) {
      for (const LunSpec& lun : target.luns) {
        auto* changer = dynamic_cast<ChangerModel*>(
            model_of(LunAddress{static_cast<std::uint32_t>(b), target.id, lun.lun}));
        if (changer == nullptr) {
          continue;
        }
        const auto drives = changer->drive_configs();
        for (std::size_t i = 0; i < drives.size(); ++i) {
          if (!drives[i].lun) {
            continue;
          }
          const LunAddress& at = *drives[i].lun;
          const LunSpec* linked = nullptr;
          if (at.bus < scenario.buses.size()) {
            if (const TargetSpec* t = scenario.buses[at.bus].find_target(at.target)) {
              linked = t->find_lun(at.lun);
            }
          }
          if (linked == nullptr) {
            return fail(Error::invalid(fmt::format(
                "{}: changer at bus {} target {} LUN {}: drive {} names bus {} target {} LUN {}, "
                "which the scenario does not have",
                scenario.source, b, target.id, lun.lun, i, at.bus, at.target, at.lun)));
          }
          changer->set_drive_identity(i, linked->naa);
          if (auto* tape = dynamic_cast<TapeModel*>(model_of(at)); tape != nullptr) {
            changer->link_drive_tape(i, *tape);
          }
        }
      }
    }
  }
  return {};
}

ChangerModel::ChangerModel(const LunSpec& spec, const ChangerConfig& config)
    : m_drive_configs(config.drives),
      m_control_page(control_mode_page(spec.sense_format)),
      m_alternate_tags(config.alternate_tags) {
  const auto drives = static_cast<std::uint16_t>(config.drives.size());
  m_assignment.medium_transport = {config.picker_address, config.pickers};
  m_assignment.storage = {config.slot_address, config.slots};
  m_assignment.import_export = {config.portal_address, config.portals};
  m_assignment.data_transfer = {config.drive_address, drives};

  for (std::uint16_t i = 0; i < config.pickers; ++i) {
    m_elements.push_back(
        make_element(smc::ElementType::MediumTransport, config.picker_address + i));
  }
  for (std::uint16_t i = 0; i < config.slots; ++i) {
    Element e = make_element(smc::ElementType::Storage, config.slot_address + i);
    if (auto it = config.slot_media.find(i); it != config.slot_media.end()) {
      e.full = true;
      e.tag = it->second;
    }
    m_elements.push_back(std::move(e));
  }
  for (std::uint16_t i = 0; i < config.portals; ++i) {
    Element e = make_element(smc::ElementType::ImportExport, config.portal_address + i);
    if (auto it = config.portal_media.find(i); it != config.portal_media.end()) {
      e.full = true;
      e.impexp = true;
      e.tag = it->second;
    }
    m_elements.push_back(std::move(e));
  }
  for (std::uint16_t i = 0; i < drives; ++i) {
    Element e = make_element(smc::ElementType::DataTransfer, config.drive_address + i);
    const auto& drive = config.drives[i];
    if (!drive.lun) {
      smc::DeviceIdentifier id;
      id.code_set = static_cast<std::uint8_t>(scsi::CodeSet::Ascii);
      id.identifier_type = static_cast<std::uint8_t>(scsi::DesignatorType::VendorSpecific);
      id.identifier.assign(drive.identifier.begin(), drive.identifier.end());
      e.identifier = std::move(id);
    }
    e.lun = drive.lun;
    m_elements.push_back(std::move(e));
  }
  std::sort(m_elements.begin(), m_elements.end(),
            [](const Element& a, const Element& b) { return a.address < b.address; });

  smc::TransportGeometry geometry;
  geometry.transports.assign(std::min<std::size_t>(config.pickers, 127),
                             smc::TransportGeometryDescriptor{true, 0});
  for (std::size_t i = 0; i < geometry.transports.size(); ++i) {
    geometry.transports[i].member_number = static_cast<std::uint8_t>(i);
  }
  smc::DeviceCapabilities capabilities;
  for (auto from : smc::kElementTypes) {
    capabilities.set_store(from, from != smc::ElementType::MediumTransport);
    for (auto to : smc::kElementTypes) {
      capabilities.set_move(from, to, true);
      capabilities.set_exchange(from, to, true);
    }
  }
  m_address_page = page_bytes(smc::encode_element_address_assignment(m_assignment));
  m_geometry_page = page_bytes(*smc::encode_transport_geometry(geometry));
  m_capabilities_page = page_bytes(smc::encode_device_capabilities(capabilities));
  m_address_changeable = changeable_of(m_address_page);
  m_geometry_changeable = changeable_of(m_geometry_page);
  m_capabilities_changeable = changeable_of(m_capabilities_page);
  m_control_changeable[0] = m_control_page[0];
  m_control_changeable[1] = m_control_page[1];
  m_pages[0] = ModePageValues{0x0a, m_control_page, m_control_changeable, m_control_page};
  m_pages[1] = ModePageValues{smc::kElementAddressAssignmentPage, m_address_page,
                              m_address_changeable, m_address_page};
  m_pages[2] = ModePageValues{smc::kTransportGeometryPage, m_geometry_page, m_geometry_changeable,
                              m_geometry_page};
  m_pages[3] = ModePageValues{smc::kDeviceCapabilitiesPage, m_capabilities_page,
                              m_capabilities_changeable, m_capabilities_page};
}

void ChangerModel::set_drive_identity(std::size_t drive_index, std::uint64_t naa) {
  std::lock_guard lock(m_lock);
  std::size_t seen = 0;
  for (Element& e : m_elements) {
    if (e.type != smc::ElementType::DataTransfer || seen++ != drive_index) {
      continue;
    }
    const scsi::Designator d = scsi::make_naa_designator(naa, scsi::Association::LogicalUnit);
    smc::DeviceIdentifier id;
    id.code_set = static_cast<std::uint8_t>(d.code_set);
    id.association = static_cast<std::uint8_t>(d.association);
    id.identifier_type = static_cast<std::uint8_t>(d.type);
    id.identifier = d.identifier;
    e.identifier = std::move(id);
    return;
  }
}

void ChangerModel::link_drive_tape(std::size_t drive_index, TapeModel& tape) {
  std::lock_guard lock(m_lock);
  std::size_t seen = 0;
  for (Element& e : m_elements) {
    if (e.type != smc::ElementType::DataTransfer || seen++ != drive_index) {
      continue;
    }
    e.tape = &tape;
    if (tape.medium_state() != TapeMedium::Empty) {
      e.full = true;
      e.tag = tape.medium_tag();
    }
    return;
  }
}

void ChangerModel::adjust_inquiry(scsi::StandardInquiry& inquiry) const {
  inquiry.version_descriptors = {kVersionSam5, kVersionSpc4, kVersionSmc3};
}

Dispatch ChangerModel::execute(Command& command) {
  const std::uint8_t code = command.opcode();
  switch (code) {
    case op(scsi::Opcode::ModeSense6):
    case op(scsi::Opcode::ModeSense10):
      execute_mode_sense(command, ModeSenseParameters{0, 0, std::nullopt, m_pages});
      return Dispatch::Handled;
    case op(scsi::Opcode::ReadElementStatus):
      read_element_status(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::SendVolumeTag):
      send_volume_tag(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::RequestVolumeElementAddress):
      request_volume_element_address(command);
      return Dispatch::Handled;
    case op(scsi::Opcode::TestUnitReady):
    case op(scsi::Opcode::MoveMedium):
    case op(scsi::Opcode::ExchangeMedium):
    case op(scsi::Opcode::PositionToElement):
    case op(scsi::Opcode::InitializeElementStatus):
    case op(scsi::Opcode::InitializeElementStatusWithRange):
      break;
    default:
      return Dispatch::Unsupported;
  }
  {
    std::lock_guard lock(m_lock);
    if (m_door == ChangerDoor::Open) {
      command.check_condition(scsi::kManualIntervention);
      return Dispatch::Handled;
    }
    const bool motion = code == op(scsi::Opcode::MoveMedium) ||
                        code == op(scsi::Opcode::ExchangeMedium) ||
                        code == op(scsi::Opcode::PositionToElement);
    if (auto sense = jammed(); sense && motion) {
      command.check_condition(*sense);
      return Dispatch::Handled;
    }
  }
  switch (code) {
    case op(scsi::Opcode::TestUnitReady):
      command.complete_good();
      break;
    case op(scsi::Opcode::MoveMedium):
      move_medium(command);
      break;
    case op(scsi::Opcode::ExchangeMedium):
      exchange_medium(command);
      break;
    case op(scsi::Opcode::PositionToElement):
      position_to_element(command);
      break;
    case op(scsi::Opcode::InitializeElementStatus):
      if (auto parsed = smc::parse_initialize_element_status_cdb(command.cdb()); !parsed) {
        command.check_condition(parsed.error());
      } else {
        // The inventory is always known: nothing to scan. A jammed picker recovers.
        std::lock_guard lock(m_lock);
        for (Element& e : m_elements) {
          e.except = false;
          e.asc = 0;
          e.ascq = 0;
        }
        command.complete_good();
      }
      break;
    default:
      initialize_element_status_with_range(command);
      break;
  }
  return Dispatch::Handled;
}

std::optional<std::size_t> ChangerModel::find(std::uint16_t address) const {
  auto it = std::lower_bound(m_elements.begin(), m_elements.end(), address,
                             [](const Element& e, std::uint16_t a) { return e.address < a; });
  if (it == m_elements.end() || it->address != address) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(it - m_elements.begin());
}

// MEDIUM TRANSPORT ADDRESS 0 lets the device choose (SMC-3); otherwise it must be a picker.
bool ChangerModel::valid_transport(std::uint16_t address) const {
  return address == 0 || m_assignment.medium_transport.contains(address);
}

void ChangerModel::read_element_status(Command& command) const {
  auto request = smc::parse_read_element_status_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  const bool voltag = request->voltag == smc::VolumeTags::Include;
  const bool dvcid = request->dvcid == smc::Dvcid::Requested;
  smc::ElementStatusData data;
  {
    std::lock_guard lock(m_lock);
    auto it = std::lower_bound(m_elements.begin(), m_elements.end(), request->starting_address,
                               [](const Element& e, std::uint16_t a) { return e.address < a; });
    bool any = false;
    std::vector<std::size_t> indexes;
    for (; it != m_elements.end() && indexes.size() < request->number_of_elements; ++it) {
      if (request->type != smc::ElementType::All && it->type != request->type) {
        continue;
      }
      any = true;
      indexes.push_back(static_cast<std::size_t>(it - m_elements.begin()));
    }
    if (!any && request->number_of_elements != 0) {
      command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
      return;
    }
    data = report(indexes, voltag, dvcid);
  }
  auto bytes = smc::encode_element_status_data(data);
  if (!bytes) {
    command.check_condition(bytes.error());
    return;
  }
  // SPC-5 4.2.5.6: cut to the allocation length; the byte counts keep the full report.
  command.complete_data_in(*bytes, request->allocation_length);
}

smc::ElementDescriptor ChangerModel::describe(const Element& e, bool voltag, bool alternate,
                                              bool dvcid) {
  smc::ElementDescriptor d;
  d.address = e.address;
  d.full = e.full;
  d.access = e.type != smc::ElementType::MediumTransport;
  d.except = e.except;
  d.asc = e.asc;
  d.ascq = e.ascq;
  if (e.type == smc::ElementType::ImportExport) {
    d.impexp = e.impexp;
    d.inenab = true;
    d.exenab = true;
  }
  if (e.type == smc::ElementType::DataTransfer && e.lun && e.lun->target < 256 && e.lun->lun < 8) {
    d.id_valid = true;
    d.lu_valid = true;
    d.bus_address = static_cast<std::uint8_t>(e.lun->target);
    d.lun = static_cast<std::uint8_t>(e.lun->lun);
  }
  if (e.full) {
    d.medium_type = medium_type_of(e.tag);
    d.svalid = e.source.has_value();
    d.source_address = e.source.value_or(0);
    d.invert = d.svalid && e.invert;
  }
  if (voltag) {
    const bool primary = e.full && !e.label_unreadable;
    d.primary_tag = smc::VolumeTag{primary ? e.tag : std::string{},
                                   primary ? e.tag_sequence : std::uint16_t{0}};
    if (alternate) {
      d.alternate_tag = smc::VolumeTag{e.full ? e.alternate_tag : std::string{},
                                       e.full ? e.alternate_sequence : std::uint16_t{0}};
    }
  }
  if (dvcid && e.type == smc::ElementType::DataTransfer && e.identifier) {
    d.device_identifier = e.identifier;
  }
  return d;
}

smc::ElementStatusData ChangerModel::report(const std::vector<std::size_t>& indexes, bool voltag,
                                            bool dvcid) const {
  smc::ElementStatusData data;
  for (std::size_t i : indexes) {
    const Element& e = m_elements[i];
    if (data.pages.empty() || data.pages.back().type != e.type) {
      smc::ElementStatusPage page;
      page.type = e.type;
      page.pvoltag = voltag;
      page.avoltag = voltag && m_alternate_tags;
      data.pages.push_back(std::move(page));
    }
    data.pages.back().descriptors.push_back(describe(e, voltag, m_alternate_tags, dvcid));
  }
  return data;
}

void ChangerModel::transfer(Element& from, Element& to) {
  to.full = true;
  to.impexp = false;  // Placed by the picker.
  to.tag = std::move(from.tag);
  to.tag_sequence = from.tag_sequence;
  to.alternate_tag = std::move(from.alternate_tag);
  to.alternate_sequence = from.alternate_sequence;
  to.label_unreadable = from.label_unreadable;
  to.invert = from.invert;
  if (from.type == smc::ElementType::Storage) {
    to.source = from.address;
  } else {
    to.source = from.source.value_or(from.address);
  }
  from.full = false;
  from.impexp = false;
  from.invert = false;
  from.source.reset();
  from.tag.clear();
  from.tag_sequence = 0;
  from.alternate_tag.clear();
  from.alternate_sequence = 0;
  from.label_unreadable = false;
}

std::optional<SenseCode> ChangerModel::jammed() const {
  for (const Element& e : m_elements) {
    if (e.type == smc::ElementType::MediumTransport && e.except) {
      return scsi::kChangerError;
    }
  }
  return std::nullopt;
}

std::optional<SenseCode> ChangerModel::removal_refused(const Element& e) const {
  if (e.tape == nullptr || !e.full) {
    return std::nullopt;
  }
  if (auto may = e.tape->may_remove(); !may && may.error().sense().key != 0) {
    return may.error().sense();
  }
  return std::nullopt;
}

void ChangerModel::sync_tape(Element& e) {
  if (e.tape == nullptr) {
    return;
  }
  // The drive's contents changed: the old cartridge (if any) left, a new one (if any) came.
  // removal_refused() was checked before anything moved, so remove_medium() succeeds.
  if (e.tape->medium_state() != TapeMedium::Empty) {
    (void)e.tape->remove_medium();
  }
  if (e.full) {
    (void)e.tape->insert_medium(e.tag);
  }
}

void ChangerModel::jam(Element& from, std::uint16_t transport) {
  m_jam_armed = false;
  // The picker named by the CDB, or the first one when the CDB lets the device choose.
  const std::uint16_t address = transport != 0 ? transport : m_assignment.medium_transport.first;
  Element& picker = m_elements[*find(address)];
  if (&picker != &from && !picker.full) {
    transfer(from, picker);
    sync_tape(from);
  }
  picker.except = true;
  picker.asc = scsi::kChangerError.asc;
  picker.ascq = scsi::kChangerError.ascq;
}

void ChangerModel::move_medium(Command& command) {
  auto request = smc::parse_move_medium_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  std::lock_guard lock(m_lock);
  const auto source = find(request->source);
  const auto destination = find(request->destination);
  if (!valid_transport(request->transport)) {
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  if (!source) {
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{4, std::nullopt});
    return;
  }
  if (!destination) {
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{6, std::nullopt});
    return;
  }
  Element& from = m_elements[*source];
  Element& to = m_elements[*destination];
  if (!from.full) {
    command.check_condition(scsi::kSourceEmpty);
    return;
  }
  if (to.full) {
    command.check_condition(scsi::kDestinationFull);
    return;
  }
  if (auto refused = removal_refused(from)) {
    command.check_condition(*refused);
    return;
  }
  if (m_jam_armed) {
    jam(from, request->transport);
    command.check_condition(scsi::kChangerError);
    return;
  }
  transfer(from, to);
  if (request->invert == smc::Invert::Yes) {
    to.invert = !to.invert;
  }
  sync_tape(from);
  sync_tape(to);
  command.complete_good();
}

void ChangerModel::exchange_medium(Command& command) {
  auto request = smc::parse_exchange_medium_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  std::lock_guard lock(m_lock);
  const auto source = find(request->source);
  const auto first = find(request->first_destination);
  const auto second = find(request->second_destination);
  if (!valid_transport(request->transport)) {
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  if (!source || !first || !second) {
    const std::uint16_t byte = !source ? 4 : (!first ? 6 : 8);
    command.check_condition(scsi::kInvalidElementAddress,
                            scsi::CdbFieldPointer{byte, std::nullopt});
    return;
  }
  if (!m_elements[*source].full || !m_elements[*first].full) {
    command.check_condition(scsi::kSourceEmpty);
    return;
  }
  if (*source == *first || (*second != *source && m_elements[*second].full)) {
    command.check_condition(scsi::kDestinationFull);
    return;
  }
  for (std::size_t index : {*source, *first}) {
    if (auto refused = removal_refused(m_elements[index])) {
      command.check_condition(*refused);
      return;
    }
  }
  if (m_jam_armed) {
    jam(m_elements[*source], request->transport);
    command.check_condition(scsi::kChangerError);
    return;
  }
  // Take the first destination's medium out through a scratch element (the picker's hand),
  // so that second == source works.
  Element hand = make_element(smc::ElementType::MediumTransport, 0);
  transfer(m_elements[*first], hand);
  transfer(m_elements[*source], m_elements[*first]);
  transfer(hand, m_elements[*second]);  // Keeps the source remembered in the hand.
  if (request->invert1 == smc::Invert::Yes) {
    m_elements[*first].invert = !m_elements[*first].invert;
  }
  if (request->invert2 == smc::Invert::Yes) {
    m_elements[*second].invert = !m_elements[*second].invert;
  }
  for (std::size_t index : {*source, *first, *second}) {
    sync_tape(m_elements[index]);
  }
  command.complete_good();
}

void ChangerModel::position_to_element(Command& command) {
  auto request = smc::parse_position_to_element_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  if (!valid_transport(request->transport)) {
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  if (!find(request->destination)) {  // Addresses never change: no lock needed.
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{4, std::nullopt});
    return;
  }
  command.complete_good();
}

void ChangerModel::initialize_element_status_with_range(Command& command) {
  auto request = smc::parse_initialize_element_status_with_range_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  if (request->range == smc::ElementRangeSelect::Range && !find(request->starting_address)) {
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  std::lock_guard lock(m_lock);
  for (Element& e : m_elements) {
    if (e.type == smc::ElementType::MediumTransport) {
      e.except = false;
      e.asc = 0;
      e.ascq = 0;
    }
  }
  command.complete_good();
}

Result<void> ChangerModel::import_medium(std::uint16_t portal_index, const std::string& tag) {
  auto address = m_assignment.address_of(smc::ElementType::ImportExport, portal_index);
  if (!address) {
    return fail_invalid(fmt::format("changer: no portal {}", portal_index));
  }
  if (tag.size() > smc::kVolumeIdentifierLength) {
    return fail_invalid("changer: volume tag longer than 32 characters");
  }
  std::lock_guard lock(m_lock);
  Element& e = m_elements[*find(*address)];
  if (e.full) {
    return fail_errno(EBUSY, fmt::format("changer: portal {} is full", portal_index));
  }
  e.full = true;
  e.impexp = true;
  e.tag = tag;
  e.source.reset();
  return {};
}

Result<void> ChangerModel::export_medium(std::uint16_t portal_index) {
  auto address = m_assignment.address_of(smc::ElementType::ImportExport, portal_index);
  if (!address) {
    return fail_invalid(fmt::format("changer: no portal {}", portal_index));
  }
  std::lock_guard lock(m_lock);
  Element& e = m_elements[*find(*address)];
  if (!e.full) {
    return fail_invalid(fmt::format("changer: portal {} is empty", portal_index));
  }
  e = make_element(e.type, e.address);
  return {};
}

void ChangerModel::send_volume_tag(Command& command) {
  auto request = smc::parse_send_volume_tag_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  const bool translate = is_translate(request->action);
  const bool undefine = request->action == smc::SendVolumeTagAction::UndefinePrimary ||
                        request->action == smc::SendVolumeTagAction::UndefineAlternate;
  smc::SendVolumeTagParameters parameters;
  if (!undefine) {
    const Bytes data = command.data_out();
    if (request->parameter_list_length < smc::kSendVolumeTagParametersLength ||
        data.size() < smc::kSendVolumeTagParametersLength) {
      command.check_condition(scsi::kParameterListLengthError,
                              scsi::CdbFieldPointer{8, std::nullopt});
      return;
    }
    auto parsed = smc::parse_send_volume_tag_parameters(data);
    if (!parsed) {
      command.check_condition(parsed.error());
      return;
    }
    parameters = std::move(*parsed);
  }
  const bool alternate = is_alternate(request->action);
  if (alternate && !m_alternate_tags) {
    command.invalid_field_in_cdb(5);  // SEND ACTION CODE: no alternate tags here.
    return;
  }
  std::lock_guard lock(m_lock);
  if (translate) {
    Translation result;
    result.action = static_cast<std::uint8_t>(request->action);
    for (const Element& e : m_elements) {
      if (e.address < request->element_address || !e.full ||
          (request->type != smc::ElementType::All && e.type != request->type)) {
        continue;
      }
      const std::string& tag = alternate ? e.alternate_tag : e.tag;
      const bool known = !tag.empty() && (alternate || !e.label_unreadable);
      if (known && template_matches(parameters.volume_identification_template, tag)) {
        result.addresses.push_back(e.address);
      }
    }
    m_translation = std::move(result);
    command.complete_good();
    return;
  }
  const auto index = find(request->element_address);
  if (!index) {
    command.check_condition(scsi::kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  Element& e = m_elements[*index];
  if (!e.full) {
    command.check_condition(scsi::kSourceEmpty);
    return;
  }
  std::string& tag = alternate ? e.alternate_tag : e.tag;
  std::uint16_t& sequence = alternate ? e.alternate_sequence : e.tag_sequence;
  const bool defined = !tag.empty() && (alternate || !e.label_unreadable);
  if (undefine) {
    tag.clear();
    sequence = 0;
    command.complete_good();
    return;
  }
  const std::string& value = parameters.volume_identification_template;
  if (value.empty() || value.find_first_of("*?") != std::string::npos) {
    command.check_condition(scsi::kInvalidFieldInParameterList);
    return;
  }
  const bool assert_tag = request->action == smc::SendVolumeTagAction::AssertPrimary ||
                          request->action == smc::SendVolumeTagAction::AssertAlternate;
  if (assert_tag && defined) {
    command.check_condition(scsi::kCommandSequenceError);
    return;
  }
  tag = value;
  sequence = parameters.minimum_sequence_number;
  if (!alternate) {
    e.label_unreadable = false;  // The host told the library what the label says.
  }
  command.complete_good();
}

void ChangerModel::request_volume_element_address(Command& command) {
  auto request = smc::parse_request_volume_element_address_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  smc::VolumeElementAddressData data;
  {
    std::lock_guard lock(m_lock);
    if (!m_translation) {
      command.check_condition(scsi::kCommandSequenceError);
      return;
    }
    std::vector<std::size_t> indexes;
    for (std::uint16_t address : m_translation->addresses) {
      const std::size_t i = *find(address);
      if (address < request->element_address ||
          (request->type != smc::ElementType::All && m_elements[i].type != request->type)) {
        continue;
      }
      if (indexes.size() >= request->number_of_elements) {
        break;
      }
      indexes.push_back(i);
    }
    data.send_action_code = m_translation->action;
    data.status = report(indexes, request->voltag == smc::VolumeTags::Include,
                         request->dvcid == smc::Dvcid::Requested);
  }
  auto bytes = smc::encode_volume_element_address_data(data);
  if (!bytes) {
    command.check_condition(bytes.error());
    return;
  }
  command.complete_data_in(*bytes, request->allocation_length);
}

void ChangerModel::arm_picker_jam() {
  std::lock_guard lock(m_lock);
  m_jam_armed = true;
}

Result<void> ChangerModel::set_label_unreadable(std::uint16_t address) {
  std::lock_guard lock(m_lock);
  const auto index = find(address);
  if (!index) {
    return fail_invalid(fmt::format("changer: no element at address {}", address));
  }
  Element& e = m_elements[*index];
  if (!e.full) {
    return fail_invalid(fmt::format("changer: element {} is empty", address));
  }
  e.label_unreadable = true;
  return {};
}

void ChangerModel::clear_faults() {
  std::lock_guard lock(m_lock);
  m_jam_armed = false;
  for (Element& e : m_elements) {
    e.label_unreadable = false;
    e.except = false;
    e.asc = 0;
    e.ascq = 0;
  }
}

void ChangerModel::set_door(ChangerDoor door) {
  std::lock_guard lock(m_lock);
  m_door = door;
}

std::vector<ChangerModel::Element> ChangerModel::elements() const {
  std::lock_guard lock(m_lock);
  return m_elements;
}

std::size_t ChangerModel::media_count() const {
  std::lock_guard lock(m_lock);
  return static_cast<std::size_t>(
      std::count_if(m_elements.begin(), m_elements.end(), [](const Element& e) { return e.full; }));
}

}  // namespace ucam::emu
