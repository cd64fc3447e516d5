#include "sims/emu/models/changer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>

#include "scsi/opcodes.h"
#include "scsi/vpd.h"

namespace ucam::emu {

namespace smc = scsi::smc;

namespace {

constexpr std::uint16_t kVersionSam5 = 0x00a0;
constexpr std::uint16_t kVersionSpc4 = 0x0460;
constexpr std::uint16_t kVersionSmc3 = 0x0480;

// SMC-3 / SPC-5 additional sense codes.
constexpr SenseCode kInvalidElementAddress{0x05, 0x21, 0x01};
constexpr SenseCode kDestinationFull{0x05, 0x3b, 0x0d};
constexpr SenseCode kSourceEmpty{0x05, 0x3b, 0x0e};
constexpr SenseCode kManualIntervention{0x02, 0x04, 0x03};

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
        }
      }
    }
  }
  return {};
}

ChangerModel::ChangerModel(const LunSpec& spec, const ChangerConfig& config)
    : m_drive_configs(config.drives), m_control_page(control_mode_page(spec.sense_format)) {
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
      command.check_condition(kManualIntervention);
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
        // The inventory is always known: nothing to scan.
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
    std::uint32_t reported = 0;
    for (; it != m_elements.end() && reported < request->number_of_elements; ++it) {
      const Element& e = *it;
      if (request->type != smc::ElementType::All && e.type != request->type) {
        continue;
      }
      any = true;
      if (data.pages.empty() || data.pages.back().type != e.type) {
        smc::ElementStatusPage page;
        page.type = e.type;
        page.pvoltag = voltag;
        data.pages.push_back(std::move(page));
      }
      smc::ElementDescriptor d;
      d.address = e.address;
      d.full = e.full;
      d.access = e.type != smc::ElementType::MediumTransport;
      if (e.type == smc::ElementType::ImportExport) {
        d.impexp = e.impexp;
        d.inenab = true;
        d.exenab = true;
      }
      if (e.type == smc::ElementType::DataTransfer && e.lun && e.lun->target < 256 &&
          e.lun->lun < 8) {
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
        d.primary_tag = smc::VolumeTag{e.full ? e.tag : std::string{}, 0};
      }
      if (dvcid && e.type == smc::ElementType::DataTransfer && e.identifier) {
        d.device_identifier = e.identifier;
      }
      data.pages.back().descriptors.push_back(std::move(d));
      ++reported;
    }
    if (!any && request->number_of_elements != 0) {
      command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
      return;
    }
  }
  auto bytes = smc::encode_element_status_data(data);
  if (!bytes) {
    command.check_condition(bytes.error());
    return;
  }
  // SPC-5 4.2.5.6: cut to the allocation length; the byte counts keep the full report.
  command.complete_data_in(*bytes, request->allocation_length);
}

void ChangerModel::transfer(Element& from, Element& to) {
  to.full = true;
  to.impexp = false;  // Placed by the picker.
  to.tag = std::move(from.tag);
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
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  if (!source) {
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{4, std::nullopt});
    return;
  }
  if (!destination) {
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{6, std::nullopt});
    return;
  }
  Element& from = m_elements[*source];
  Element& to = m_elements[*destination];
  if (!from.full) {
    command.check_condition(kSourceEmpty);
    return;
  }
  if (to.full) {
    command.check_condition(kDestinationFull);
    return;
  }
  transfer(from, to);
  if (request->invert == smc::Invert::Yes) {
    to.invert = !to.invert;
  }
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
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  if (!source || !first || !second) {
    const std::uint16_t byte = !source ? 4 : (!first ? 6 : 8);
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{byte, std::nullopt});
    return;
  }
  if (!m_elements[*source].full || !m_elements[*first].full) {
    command.check_condition(kSourceEmpty);
    return;
  }
  if (*source == *first || (*second != *source && m_elements[*second].full)) {
    command.check_condition(kDestinationFull);
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
  command.complete_good();
}

void ChangerModel::position_to_element(Command& command) {
  auto request = smc::parse_position_to_element_cdb(command.cdb());
  if (!request) {
    command.check_condition(request.error());
    return;
  }
  if (!valid_transport(request->transport)) {
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
  }
  if (!find(request->destination)) {  // Addresses never change: no lock needed.
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{4, std::nullopt});
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
    command.check_condition(kInvalidElementAddress, scsi::CdbFieldPointer{2, std::nullopt});
    return;
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
