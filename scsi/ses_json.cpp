#include "scsi/ses_json.h"

#include <cstdio>
#include <sstream>

#include "scsi/ses_element.h"
#include "scsi/vpd.h"

namespace ucam::scsi::ses {

namespace {

using nlohmann::json;

std::string hex_bytes(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  char buf[4];
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
    out += (i == 0 ? "" : " ");
    out += buf;
  }
  return out;
}

// Device text that was kept raw, made safe for JSON (which must be valid UTF-8): bytes outside
// 0x20-0x7e become '.'; nothing is trimmed.
std::string printable(const std::string& raw) {
  std::string out = raw;
  for (auto& c : out) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b > 0x7e) {
      c = '.';
    }
  }
  return out;
}

std::string hex_element(const ElementBytes& e) {
  return hex_bytes(std::vector<std::uint8_t>(e.begin(), e.end()));
}

json field_value(const FieldValue& v) {
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else {
          return x;
        }
      },
      v);
}

std::string protocol_name(std::uint8_t protocol) {
  switch (static_cast<ProtocolId>(protocol)) {
    case ProtocolId::FibreChannel:
      return "FC";
    case ProtocolId::Sas:
      return "SAS";
    case ProtocolId::Ata:
      return "ATA";
    case ProtocolId::Pcie:
      return "PCIe";
    default:
      return "<Protocol 0x" + hex_bytes({protocol}) + ">";
  }
}

json optional_slot(const std::optional<std::uint8_t>& slot) {
  if (!slot || *slot == 0xff) {
    return nullptr;
  }
  return *slot;
}

json sas_json(const SasInfo& sas) {
  json j{{"descriptor_type", sas.descriptor_type}};
  if (sas.descriptor_type == 0) {
    j["not_all_phys"] = sas.not_all_phys;
    j["device_slot_number"] = optional_slot(sas.device_slot_number);
    json phys = json::array();
    for (const auto& p : sas.phys) {
      phys.push_back({{"device_type", p.device_type},
                      {"ssp_initiator", p.ssp_initiator},
                      {"stp_initiator", p.stp_initiator},
                      {"smp_initiator", p.smp_initiator},
                      {"sata_port_selector", p.sata_port_selector},
                      {"ssp_target", p.ssp_target},
                      {"stp_target", p.stp_target},
                      {"smp_target", p.smp_target},
                      {"sata_device", p.sata_device},
                      {"attached_sas_address", hex64(p.attached_sas_address)},
                      {"sas_address", hex64(p.sas_address)},
                      {"phy_id", p.phy_id}});
    }
    j["phys"] = phys;
  } else {
    if (!sas.expander_phys.empty() || sas.expander_sas_address != 0) {
      j["expander_sas_address"] = hex64(sas.expander_sas_address);
      json phys = json::array();
      for (const auto& p : sas.expander_phys) {
        phys.push_back({{"connector_element_index", p.connector_element_index},
                        {"other_element_index", p.other_element_index}});
      }
      j["expander_phys"] = phys;
    } else {
      json phys = json::array();
      for (const auto& p : sas.port_phys) {
        phys.push_back({{"phy_id", p.phy_id},
                        {"connector_element_index", p.connector_element_index},
                        {"other_element_index", p.other_element_index},
                        {"sas_address", hex64(p.sas_address)}});
      }
      j["port_phys"] = phys;
    }
  }
  return j;
}

json aes_json(const AesDescriptor& d) {
  json j{{"global_index", d.global_index >= 0 ? json(d.global_index) : json(nullptr)},
         {"invalid", d.invalid},
         {"eip", d.eip},
         {"eiioe", d.eip ? json(d.eiioe) : json(nullptr)},
         {"element_index", d.eip ? json(d.element_index) : json(nullptr)},
         {"protocol", d.protocol},
         {"protocol_name", protocol_name(d.protocol)},
         {"protocol_data", hex_bytes(d.protocol_data)}};
  if (d.sas) {
    j["sas"] = sas_json(*d.sas);
  }
  if (d.fc) {
    json ports = json::array();
    for (const auto& p : d.fc->ports) {
      ports.push_back({{"loop_position", p.loop_position},
                       {"bypass_reason", p.bypass_reason},
                       {"requested_hard_address", p.requested_hard_address},
                       {"n_port_id", p.n_port_id},
                       {"n_port_name", hex64(p.n_port_name)}});
    }
    j["fc"] = {{"device_slot_number", optional_slot(d.fc->device_slot_number)},
               {"node_name", hex64(d.fc->node_name)},
               {"ports", ports}};
  }
  if (d.pcie) {
    json ports = json::array();
    for (const auto& p : d.pcie->ports) {
      ports.push_back({{"cid_valid", p.cid_valid},
                       {"bdf_valid", p.bdf_valid},
                       {"psn_valid", p.psn_valid},
                       {"controller_id", p.controller_id},
                       {"bus", p.bus},
                       {"device", p.device},
                       {"function", p.function},
                       {"physical_slot_number", p.physical_slot_number}});
    }
    j["pcie"] = {{"pcie_protocol_type", d.pcie->pcie_protocol_type},
                 {"not_all_ports", d.pcie->not_all_ports},
                 {"device_slot_number", optional_slot(d.pcie->device_slot_number)},
                 {"vendor_id", d.pcie->vendor_id},
                 {"serial_number", d.pcie->serial_number},
                 {"model_number", d.pcie->model_number},
                 {"ports", ports}};
  }
  if (d.ata) {
    j["ata"] = {{"bus", d.ata->bus}, {"target", d.ata->target}};
  }
  return j;
}

// The SAS addresses an element's additional status names (see docs/ses-json.md).
std::vector<std::uint64_t> sas_addresses(const AesDescriptor* d) {
  std::vector<std::uint64_t> out;
  if (d == nullptr || !d->sas) {
    return out;
  }
  for (const auto& p : d->sas->phys) {
    out.push_back(p.sas_address);
  }
  if (!d->sas->expander_phys.empty() || d->sas->expander_sas_address != 0) {
    out.push_back(d->sas->expander_sas_address);
  }
  for (const auto& p : d->sas->port_phys) {
    out.push_back(p.sas_address);
  }
  return out;
}

std::optional<std::uint8_t> device_slot_number(const AesDescriptor* d) {
  std::optional<std::uint8_t> slot;
  if (d == nullptr) {
    return slot;
  }
  if (d->sas) {
    slot = d->sas->device_slot_number;
  } else if (d->fc) {
    slot = d->fc->device_slot_number;
  } else if (d->pcie) {
    slot = d->pcie->device_slot_number;
  }
  if (slot && *slot == 0xff) {
    slot.reset();
  }
  return slot;
}

// The descriptor SesAdditionalStatus::find() would return, for every element at once.
std::vector<const AesDescriptor*> descriptors_by_element(const SesPageSet& set, std::size_t n) {
  std::vector<const AesDescriptor*> out(n, nullptr);
  if (set.additional) {
    for (const auto& d : set.additional->descriptors) {
      if (!d.invalid && d.global_index >= 0 && static_cast<std::size_t>(d.global_index) < n &&
          out[static_cast<std::size_t>(d.global_index)] == nullptr) {
        out[static_cast<std::size_t>(d.global_index)] = &d;
      }
    }
  }
  return out;
}

json pages_json(const std::optional<SesSupportedPages>& p) {
  if (!p) {
    return nullptr;
  }
  return {{"pages", p->pages}};
}

json threshold_json(const SesPageSet& set) {
  if (!set.thresholds) {
    return nullptr;
  }
  const auto map = set.config ? build_element_map(*set.config) : std::vector<ElementRef>{};
  json list = json::array();
  for (std::size_t i = 0; i < set.thresholds->thresholds.size(); ++i) {
    const auto& t = set.thresholds->thresholds[i];
    json j{{"global_index", i},
           {"high_critical", t.high_critical},
           {"high_warning", t.high_warning},
           {"low_warning", t.low_warning},
           {"low_critical", t.low_critical}};
    if (i < map.size() && map[i].element_type == type_value(ElementType::TemperatureSensor)) {
      auto c = [](std::uint8_t b) {
        const auto t = temperature_from_byte(b);
        return t ? json(*t) : json(nullptr);
      };
      j["high_critical_c"] = c(t.high_critical);
      j["high_warning_c"] = c(t.high_warning);
      j["low_warning_c"] = c(t.low_warning);
      j["low_critical_c"] = c(t.low_critical);
    }
    list.push_back(j);
  }
  return {{"generation", set.thresholds->generation},
          {"generation_mismatch", set.thresholds->generation_mismatch},
          {"invop", set.thresholds->invop},
          {"thresholds", list}};
}

}  // namespace

nlohmann::json ses_to_json(const SesPageSet& set) {
  json doc;
  // configuration
  if (set.config) {
    const auto& cfg = *set.config;
    json subs = json::array();
    for (const auto& s : cfg.subenclosures) {
      subs.push_back({{"id", s.id},
                      {"relative_es_process_id", s.relative_es_process_id},
                      {"es_process_count", s.es_process_count},
                      {"logical_id", hex64(s.logical_id)},
                      {"vendor", s.vendor},
                      {"product", s.product},
                      {"revision", s.revision},
                      {"vendor_specific", hex_bytes(s.vendor_specific)}});
    }
    json types = json::array();
    for (std::size_t t = 0; t < cfg.types.size(); ++t) {
      const auto& h = cfg.types[t];
      types.push_back({{"index", t},
                       {"element_type", h.element_type},
                       {"name", element_type_name(h.element_type)},
                       {"subenclosure", h.subenclosure},
                       {"possible_elements", h.possible_elements},
                       {"text", printable(h.text)}});
    }
    doc["configuration"] = {
        {"generation", cfg.generation}, {"subenclosures", subs}, {"types", types}};
  } else {
    doc["configuration"] = nullptr;
  }
  // enclosure_status
  if (set.status) {
    const auto& st = *set.status;
    doc["enclosure_status"] = {
        {"short", st.is_short},
        {"short_status", st.is_short ? json(st.short_status) : json(nullptr)},
        {"generation", st.is_short ? json(nullptr) : json(st.generation)},
        {"generation_mismatch", st.generation_mismatch},
        {"flags", st.flags},
        {"invop", st.invop()},
        {"info", st.info()},
        {"non_critical", st.non_critical()},
        {"critical", st.critical()},
        {"unrecoverable", st.unrecoverable()}};
  } else {
    doc["enclosure_status"] = nullptr;
  }
  // elements
  json elements = json::array();
  if (set.config) {
    const auto map = build_element_map(*set.config);
    const auto aes_of = descriptors_by_element(set, map.size());
    for (const auto& ref : map) {
      const auto g = static_cast<std::size_t>(ref.global_index);
      json e{{"global_index", ref.global_index}, {"type_index", ref.type_index},
             {"element_type", ref.element_type}, {"type_name", element_type_name(ref.element_type)},
             {"index", ref.index_in_type},       {"subenclosure", ref.subenclosure}};
      const bool have_status = set.status && g < set.status->elements.size();
      if (have_status) {
        const auto& b = set.status->elements[g];
        e["status_code"] = status_code(b);
        e["status"] = element_status_name(status_code(b));
        e["prdfail"] = prdfail(b);
        e["disabled"] = disabled(b);
        e["swap"] = swap(b);
        e["raw"] = hex_element(b);
      } else {
        for (const char* k : {"status_code", "status", "prdfail", "disabled", "swap", "raw"}) {
          e[k] = nullptr;
        }
      }
      const std::string raw_descriptor =
          set.descriptors && g < set.descriptors->raw.size() ? set.descriptors->raw[g] : "";
      e["descriptor"] = descriptor_json(raw_descriptor);
      e["descriptor_hex"] =
          hex_bytes(std::vector<std::uint8_t>(raw_descriptor.begin(), raw_descriptor.end()));
      const AesDescriptor* aes = aes_of[g];
      json addrs = json::array();
      for (const auto a : sas_addresses(aes)) {
        addrs.push_back(hex64(a));
      }
      e["sas_addresses"] = addrs;
      const auto slot = device_slot_number(aes);
      e["device_slot_number"] = slot ? json(*slot) : json(nullptr);
      if (have_status) {
        for (const auto& f : decode_element_fields(ref.element_type, set.status->elements[g])) {
          e[std::string(f.name)] = field_value(f.value);
        }
      }
      elements.push_back(e);
    }
  }
  doc["elements"] = elements;
  // the other pages
  doc["element_descriptors"] =
      set.descriptors ? json{{"generation", set.descriptors->generation},
                             {"generation_mismatch", set.descriptors->generation_mismatch}}
                      : json(nullptr);
  if (set.additional) {
    json list = json::array();
    for (const auto& d : set.additional->descriptors) {
      list.push_back(aes_json(d));
    }
    doc["additional_element_status"] = {
        {"generation", set.additional->generation},
        {"generation_mismatch", set.additional->generation_mismatch},
        {"descriptors", list}};
  } else {
    doc["additional_element_status"] = nullptr;
  }
  doc["threshold_in"] = threshold_json(set);
  doc["supported_diagnostic_pages"] = pages_json(set.supported);
  doc["supported_ses_pages"] = pages_json(set.ses_supported);
  doc["help_text"] = set.help_text ? json{{"text", set.help_text->text}} : json(nullptr);
  doc["string_in"] = set.string_in ? json{{"data", hex_bytes(set.string_in->data)}} : json(nullptr);
  doc["short_enclosure_status"] =
      set.short_status ? json{{"status", set.short_status->status}} : json(nullptr);
  doc["enclosure_busy"] = set.busy ? json{{"busy", set.busy->busy},
                                          {"vendor_bits", set.busy->vendor_bits},
                                          {"vendor_specific", hex_bytes(set.busy->vendor_specific)}}
                                   : json(nullptr);
  if (set.subenclosure_help_text) {
    json subs = json::array();
    for (const auto& s : set.subenclosure_help_text->subenclosures) {
      subs.push_back({{"id", s.subenclosure}, {"text", s.text}});
    }
    doc["subenclosure_help_text"] = {
        {"generation", set.subenclosure_help_text->generation},
        {"generation_mismatch", set.subenclosure_help_text->generation_mismatch},
        {"subenclosures", subs}};
  } else {
    doc["subenclosure_help_text"] = nullptr;
  }
  if (set.subenclosure_string_in) {
    json subs = json::array();
    for (const auto& s : set.subenclosure_string_in->subenclosures) {
      subs.push_back({{"id", s.subenclosure}, {"data", hex_bytes(s.data)}});
    }
    doc["subenclosure_string_in"] = {
        {"generation", set.subenclosure_string_in->generation},
        {"generation_mismatch", set.subenclosure_string_in->generation_mismatch},
        {"subenclosures", subs}};
  } else {
    doc["subenclosure_string_in"] = nullptr;
  }
  if (set.microcode) {
    json subs = json::array();
    for (const auto& s : set.microcode->subenclosures) {
      subs.push_back({{"id", s.subenclosure},
                      {"status", s.status},
                      {"status_name", microcode_status_name(s.status)},
                      {"additional_status", s.additional_status},
                      {"maximum_size", s.maximum_size},
                      {"expected_buffer_id", s.expected_buffer_id},
                      {"expected_buffer_offset", s.expected_buffer_offset}});
    }
    doc["download_microcode_status"] = {{"generation", set.microcode->generation},
                                        {"generation_mismatch", set.microcode->generation_mismatch},
                                        {"subenclosures", subs}};
  } else {
    doc["download_microcode_status"] = nullptr;
  }
  if (set.nicknames) {
    json subs = json::array();
    for (const auto& s : set.nicknames->subenclosures) {
      subs.push_back({{"id", s.subenclosure},
                      {"status", s.status},
                      {"additional_status", s.additional_status},
                      {"language_code", language_code_string(s.language_code)},
                      {"nickname", s.nickname}});
    }
    doc["subenclosure_nickname_status"] = {
        {"generation", set.nicknames->generation},
        {"generation_mismatch", set.nicknames->generation_mismatch},
        {"subenclosures", subs}};
  } else {
    doc["subenclosure_nickname_status"] = nullptr;
  }
  json others = json::array();
  for (const auto& p : set.other_pages) {
    others.push_back({{"page_code", p.page_code},
                      {"name", page_name(p.page_code)},
                      {"data", hex_bytes(p.bytes)}});
  }
  doc["other_pages"] = others;
  doc["warnings"] = set.warnings;
  return doc;
}

namespace {

std::string field_text(const Field& f) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return std::string(f.name) + "=-";
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? std::string(f.name) : std::string();
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::string(f.name) + "=" + std::to_string(x);
        } else {
          return std::string(f.name) + "='" + x + "'";
        }
      },
      f.value);
}

}  // namespace

std::string ses_to_text(const SesPageSet& set) {
  std::ostringstream out;
  if (set.config) {
    const auto& cfg = *set.config;
    out << "Configuration (generation 0x" << std::hex << cfg.generation << std::dec << "):\n";
    for (const auto& s : cfg.subenclosures) {
      out << "  Subenclosure " << int{s.id} << (s.id == 0 ? " (primary)" : "") << ": " << s.vendor
          << " " << s.product << " " << s.revision << ", logical id " << hex64(s.logical_id)
          << "\n";
    }
    for (std::size_t t = 0; t < cfg.types.size(); ++t) {
      const auto& h = cfg.types[t];
      out << "  Type " << t << ": " << element_type_name(h.element_type) << " x"
          << int{h.possible_elements} << " (subenclosure " << int{h.subenclosure} << ") '" << h.text
          << "'\n";
    }
  } else {
    out << "Configuration: not in the input\n";
  }
  if (set.status) {
    const auto& st = *set.status;
    if (st.is_short) {
      out << "Enclosure status: short status 0x" << std::hex << int{st.short_status} << std::dec
          << "\n";
    } else {
      std::string flags;
      for (const auto& [set_flag, name] :
           {std::pair{st.invop(), "INVOP"}, std::pair{st.info(), "INFO"},
            std::pair{st.non_critical(), "NONCRITICAL"}, std::pair{st.critical(), "CRITICAL"},
            std::pair{st.unrecoverable(), "UNRECOV"}}) {
        if (set_flag) {
          flags += (flags.empty() ? "" : ", ") + std::string(name);
        }
      }
      out << "Enclosure status: " << (flags.empty() ? "OK" : flags) << "\n";
    }
  }
  if (set.config) {
    const auto map = build_element_map(*set.config);
    const auto aes_of = descriptors_by_element(set, map.size());
    for (const auto& ref : map) {
      const auto g = static_cast<std::size_t>(ref.global_index);
      out << "Element " << ref.global_index << ", Type: " << element_type_name(ref.element_type)
          << ", " << (ref.overall() ? "overall" : "#" + std::to_string(ref.index_in_type))
          << " (type " << ref.type_index << ")\n";
      if (set.status && g < set.status->elements.size()) {
        const auto& b = set.status->elements[g];
        out << "    Status: " << element_status_name(status_code(b)) << " (" << hex_element(b)
            << ")";
        if (prdfail(b)) {
          out << ", Predicted Failure";
        }
        if (disabled(b)) {
          out << ", Disabled";
        }
        if (swap(b)) {
          out << ", Swapped";
        }
        out << "\n";
        std::string fields;
        for (const auto& f : decode_element_fields(ref.element_type, b)) {
          const auto t = field_text(f);
          if (!t.empty()) {
            fields += (fields.empty() ? "" : " ") + t;
          }
        }
        if (!fields.empty()) {
          out << "    Fields: " << fields << "\n";
        }
      }
      if (set.descriptors && g < set.descriptors->text.size() &&
          !set.descriptors->text[g].empty()) {
        out << "    Description: " << set.descriptors->text[g] << "\n";
      }
      const AesDescriptor* aes = aes_of[g];
      if (aes != nullptr) {
        out << "    Additional status: " << protocol_name(aes->protocol);
        if (const auto slot = device_slot_number(aes)) {
          out << ", device slot " << int{*slot};
        }
        for (const auto a : sas_addresses(aes)) {
          out << ", " << hex64(a);
        }
        out << "\n";
      }
    }
  }
  if (set.supported) {
    out << "Supported diagnostic pages:";
    for (const auto p : set.supported->pages) {
      out << " 0x" << hex_bytes({p});
    }
    out << "\n";
  }
  if (set.ses_supported) {
    out << "Supported SES pages:";
    for (const auto p : set.ses_supported->pages) {
      out << " 0x" << hex_bytes({p});
    }
    out << "\n";
  }
  if (set.help_text) {
    out << "Help text: " << set.help_text->text << "\n";
  }
  if (set.string_in) {
    out << "String in: " << hex_bytes(set.string_in->data) << "\n";
  }
  if (set.thresholds) {
    out << "Threshold in: " << set.thresholds->thresholds.size() << " elements"
        << (set.thresholds->invop ? ", INVOP" : "") << "\n";
  }
  if (set.short_status) {
    out << "Short enclosure status: 0x" << hex_bytes({set.short_status->status}) << "\n";
  }
  if (set.busy) {
    out << "Enclosure busy: " << (set.busy->busy ? "yes" : "no") << "\n";
  }
  if (set.subenclosure_help_text) {
    for (const auto& s : set.subenclosure_help_text->subenclosures) {
      out << "Subenclosure " << int{s.subenclosure} << " help text: " << s.text << "\n";
    }
  }
  if (set.subenclosure_string_in) {
    for (const auto& s : set.subenclosure_string_in->subenclosures) {
      out << "Subenclosure " << int{s.subenclosure} << " string in: " << hex_bytes(s.data) << "\n";
    }
  }
  if (set.microcode) {
    for (const auto& s : set.microcode->subenclosures) {
      out << "Subenclosure " << int{s.subenclosure}
          << " download microcode: " << microcode_status_name(s.status) << ", maximum size "
          << s.maximum_size << " bytes\n";
    }
  }
  if (set.nicknames) {
    for (const auto& s : set.nicknames->subenclosures) {
      out << "Subenclosure " << int{s.subenclosure} << " nickname: '" << s.nickname << "'";
      if (s.language_code != 0) {
        out << " (" << language_code_string(s.language_code) << ")";
      }
      out << "\n";
    }
  }
  for (const auto& p : set.other_pages) {
    out << page_name(p.page_code) << ": " << p.bytes.size() << " bytes (raw)\n";
  }
  for (const auto& w : set.warnings) {
    out << "warning: " << w << "\n";
  }
  return out.str();
}

std::string descriptor_json(std::string_view raw) {
  // ISO 8859-1 to UTF-8: bytes below 0x80 are themselves, the others two bytes.
  std::string out;
  out.reserve(raw.size());
  for (const char c : raw) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xc0 | (b >> 6));
      out += static_cast<char>(0x80 | (b & 0x3f));
    }
  }
  return out;
}

Result<SesRendering> render_ses_pages(Bytes buffer, EiioePolicy policy) {
  auto set = decode_ses_pages(buffer, policy);
  if (!set) {
    return fail(set.error());
  }
  return SesRendering{ses_to_json(*set), ses_to_text(*set)};
}

}  // namespace ucam::scsi::ses
