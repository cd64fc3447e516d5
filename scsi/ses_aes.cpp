// SES-4 6.1.13 Additional Element Status diagnostic page and 7.6 protocol-specific information.
#include <algorithm>
#include <array>
#include <set>

#include "scsi/ses.h"
#include "scsi/ses_util.h"
#include "scsi/vpd.h"

namespace ucam::scsi::ses {

namespace {

constexpr std::uint8_t kProtoFc = static_cast<std::uint8_t>(ProtocolId::FibreChannel);
constexpr std::uint8_t kProtoSas = static_cast<std::uint8_t>(ProtocolId::Sas);
constexpr std::uint8_t kProtoAta = static_cast<std::uint8_t>(ProtocolId::Ata);
constexpr std::uint8_t kProtoPcie = static_cast<std::uint8_t>(ProtocolId::Pcie);

constexpr std::size_t kSasPhyLength = 28;
constexpr std::size_t kSasPortPhyLength = 12;
constexpr std::size_t kFcPortLength = 16;
constexpr std::size_t kPciePortLength = 8;
constexpr std::size_t kPcieHeaderLength = 68;

std::uint16_t load_le16(Bytes b, std::size_t off) {
  return static_cast<std::uint16_t>(b[off] | (b[off + 1] << 8));
}

std::string where(std::size_t n) {
  return "additional element status: descriptor " + std::to_string(n);
}

// Which element types a descriptor's protocol-specific layout fits: kLayoutSlot (SAS type 0,
// FC, PCIe, ATA), kLayoutNonSlot (SAS type 1: expander, ESC, SCSI ports), kLayoutAny.
constexpr int kLayoutAny = 0;
constexpr int kLayoutSlot = 1;
constexpr int kLayoutNonSlot = 2;

int descriptor_layout(std::uint8_t protocol, Bytes pd) {
  switch (protocol) {
    case kProtoSas:
      if (pd.size() < 2) {
        return kLayoutAny;
      }
      return bits(pd[1], 6, 2) == 0 ? kLayoutSlot : kLayoutNonSlot;
    case kProtoFc:
    case kProtoPcie:
    case kProtoAta:
      return kLayoutSlot;
    default:
      return kLayoutAny;
  }
}

bool layout_fits(int layout, std::uint8_t element_type) {
  if (layout == kLayoutSlot) {
    return is_slot_type(element_type);
  }
  if (layout == kLayoutNonSlot) {
    return !is_slot_type(element_type);
  }
  return true;
}

bool valid_target(const std::vector<ElementRef>& map, int g) {
  return g >= 0 && static_cast<std::size_t>(g) < map.size() && !map[g].overall() &&
         may_have_additional_status(map[g].element_type);
}

// Decodes the SAS protocol-specific bytes (SES-4 7.6.5). `type` is the element type the
// descriptor was mapped to (-1 when unmapped).
void decode_sas(Bytes pd, bool eip, int type, AesDescriptor& desc, const std::string& at,
                std::vector<std::string>& w) {
  if (pd.size() < 2) {
    w.push_back(at + ": SAS information cut (" + std::to_string(pd.size()) + " bytes)");
    return;
  }
  SasInfo sas;
  const std::size_t phys = pd[0];
  sas.descriptor_type = bits(pd[1], 6, 2);
  if (sas.descriptor_type == 0) {
    if (type >= 0 && !is_slot_type(static_cast<std::uint8_t>(type))) {
      w.push_back(at + ": SAS descriptor type 0 (device slot layout) on a " +
                  element_type_name(static_cast<std::uint8_t>(type)) + " element");
    }
    sas.not_all_phys = bit(pd[1], 0);
    std::size_t off = 2;
    if (eip) {
      if (pd.size() < 4) {
        w.push_back(at + ": SAS header cut before the device slot number");
        desc.sas = std::move(sas);
        return;
      }
      sas.device_slot_number = pd[3];
      off = 4;
    }
    for (std::size_t i = 0; i < phys; ++i) {
      if (off + kSasPhyLength > pd.size()) {
        w.push_back(at + ": " + std::to_string(phys) + " phy descriptors announced, only " +
                    std::to_string(i) + " fit the descriptor");
        break;
      }
      const Bytes p = pd.subspan(off, kSasPhyLength);
      SasPhy phy;
      phy.device_type = bits(p[0], 4, 3);
      phy.ssp_initiator = bit(p[2], 3);
      phy.stp_initiator = bit(p[2], 2);
      phy.smp_initiator = bit(p[2], 1);
      phy.sata_port_selector = bit(p[3], 7);
      phy.ssp_target = bit(p[3], 3);
      phy.stp_target = bit(p[3], 2);
      phy.smp_target = bit(p[3], 1);
      phy.sata_device = bit(p[3], 0);
      phy.attached_sas_address = load_be64(p, 4);
      phy.sas_address = load_be64(p, 12);
      phy.phy_id = p[20];
      sas.phys.push_back(phy);
      off += kSasPhyLength;
    }
    desc.sas = std::move(sas);
    return;
  }
  if (sas.descriptor_type != 1) {
    w.push_back(at + ": SAS descriptor type " + std::to_string(sas.descriptor_type) +
                " is reserved (kept raw)");
    return;
  }
  if (type < 0) {
    w.push_back(at + ": SAS descriptor type 1 on an unmapped element: layout unknown (kept raw)");
    return;
  }
  if (is_slot_type(static_cast<std::uint8_t>(type))) {
    w.push_back(at + ": SAS descriptor type 1 on a " +
                element_type_name(static_cast<std::uint8_t>(type)) +
                " element, which uses type 0 (kept raw)");
    return;
  }
  if (type == type_value(ElementType::SasExpander)) {
    if (pd.size() < 12) {
      w.push_back(at + ": SAS expander header cut (" + std::to_string(pd.size()) + " of 12 bytes)");
      desc.sas = std::move(sas);
      return;
    }
    sas.expander_sas_address = load_be64(pd, 4);
    std::size_t off = 12;
    for (std::size_t i = 0; i < phys; ++i) {
      if (off + 2 > pd.size()) {
        w.push_back(at + ": " + std::to_string(phys) +
                    " expander phy descriptors announced, only " + std::to_string(i) +
                    " fit the descriptor");
        break;
      }
      sas.expander_phys.push_back(SasExpanderPhy{pd[off], pd[off + 1]});
      off += 2;
    }
  } else {
    std::size_t off = 4;
    for (std::size_t i = 0; i < phys; ++i) {
      if (off + kSasPortPhyLength > pd.size()) {
        w.push_back(at + ": " + std::to_string(phys) + " port phy descriptors announced, only " +
                    std::to_string(i) + " fit the descriptor");
        break;
      }
      const Bytes p = pd.subspan(off, kSasPortPhyLength);
      sas.port_phys.push_back(SasPortPhy{p[0], p[2], p[3], load_be64(p, 4)});
      off += kSasPortPhyLength;
    }
  }
  desc.sas = std::move(sas);
}

// SES-4 7.6.3 Fibre Channel: NUMBER OF PORTS, 2 reserved, BAY NUMBER (EIP=1), NODE NAME, then
// 16-byte port descriptors.
void decode_fc(Bytes pd, bool eip, AesDescriptor& desc, const std::string& at,
               std::vector<std::string>& w) {
  if (pd.size() < 12) {
    w.push_back(at + ": FC header cut (" + std::to_string(pd.size()) + " of 12 bytes)");
    return;
  }
  FcInfo fc;
  if (eip) {
    fc.device_slot_number = pd[3];
  }
  fc.node_name = load_be64(pd, 4);
  const std::size_t ports = pd[0];
  std::size_t off = 12;
  for (std::size_t i = 0; i < ports; ++i) {
    if (off + kFcPortLength > pd.size()) {
      w.push_back(at + ": " + std::to_string(ports) + " FC port descriptors announced, only " +
                  std::to_string(i) + " fit the descriptor");
      break;
    }
    const Bytes p = pd.subspan(off, kFcPortLength);
    fc.ports.push_back(FcPort{p[0], p[1], p[2], load_be24(p, 5), load_be64(p, 8)});
    off += kFcPortLength;
  }
  desc.fc = std::move(fc);
}

void decode_pcie(Bytes pd, bool eip, AesDescriptor& desc, const std::string& at,
                 std::vector<std::string>& w) {
  if (pd.size() < kPcieHeaderLength) {
    w.push_back(at + ": PCIe header cut (" + std::to_string(pd.size()) + " of 68 bytes)");
    return;
  }
  PcieInfo info;
  info.pcie_protocol_type = bits(pd[1], 5, 3);
  info.not_all_ports = bit(pd[1], 0);
  if (eip) {
    info.device_slot_number = pd[3];
  }
  info.vendor_id = load_le16(pd, 6);
  info.serial_number = detail::ascii_field(pd, 8, 20);
  info.model_number = detail::ascii_field(pd, 28, 40);
  const std::size_t ports = pd[0];
  std::size_t off = kPcieHeaderLength;
  for (std::size_t i = 0; i < ports; ++i) {
    if (off + kPciePortLength > pd.size()) {
      w.push_back(at + ": " + std::to_string(ports) + " PCIe port descriptors announced, only " +
                  std::to_string(i) + " fit the descriptor");
      break;
    }
    const Bytes p = pd.subspan(off, kPciePortLength);
    PciePort port;
    port.cid_valid = bit(p[0], 0);
    port.bdf_valid = bit(p[0], 1);
    port.psn_valid = bit(p[0], 2);
    port.controller_id = load_le16(p, 1);
    port.bus = p[4];
    port.device = bits(p[5], 3, 5);
    port.function = bits(p[5], 0, 3);
    port.physical_slot_number = load_le16(p, 6) & 0x1fff;
    info.ports.push_back(port);
    off += kPciePortLength;
  }
  desc.pcie = std::move(info);
}

}  // namespace

bool may_have_additional_status(std::uint8_t element_type) {
  switch (static_cast<ElementType>(element_type)) {
    case ElementType::DeviceSlot:
    case ElementType::ArrayDeviceSlot:
    case ElementType::SasExpander:
    case ElementType::EscElectronics:
    case ElementType::ScsiInitiatorPort:
    case ElementType::ScsiTargetPort:
      return true;
    default:
      return false;
  }
}

const AesDescriptor* SesAdditionalStatus::find(int global_index) const {
  for (const auto& d : descriptors) {
    if (!d.invalid && d.global_index == global_index) {
      return &d;
    }
  }
  return nullptr;
}

Result<SesAdditionalStatus> parse_ses_additional_status(Bytes page, const SesConfig& config,
                                                        EiioePolicy policy) {
  auto view = detail::PageView::open(page, page_code_value(PageCode::AdditionalElementStatus),
                                     "additional element status");
  if (!view) {
    return fail(view.error());
  }
  if (view->end < 8) {
    return fail_invalid("additional element status page: " + std::to_string(view->end) +
                        " bytes, too short for the generation code (8)");
  }
  SesAdditionalStatus out;
  auto& w = out.warnings;
  view->note_truncation(w);
  const Bytes d = page.first(view->end);
  out.generation = load_be32(d, 4);
  detail::check_generation("additional element status", out.generation, config,
                           out.generation_mismatch, w);
  const auto map = build_element_map(config);
  std::vector<int> individual_to_global;
  // Elements that can take a descriptor, per layout, in page order.
  std::array<std::vector<int>, 3> targets;
  for (const auto& ref : map) {
    if (!ref.overall()) {
      individual_to_global.push_back(ref.global_index);
    }
    if (valid_target(map, ref.global_index)) {
      for (int layout : {kLayoutAny, kLayoutSlot, kLayoutNonSlot}) {
        if (layout_fits(layout, ref.element_type)) {
          targets[static_cast<std::size_t>(layout)].push_back(ref.global_index);
        }
      }
    }
  }
  auto individual = [&](int index) {
    return index < static_cast<int>(individual_to_global.size())
               ? individual_to_global[static_cast<std::size_t>(index)]
               : -1;
  };
  std::set<int> mapped;
  // The element after which the next descriptor is expected (descriptors follow page order);
  // every mapped element is at or before it, and it only moves forward.
  int cursor = -1;
  std::array<std::size_t, 3> next_target{};
  // The first element after `cursor` that can take a descriptor of this layout (amortised
  // O(1): a page cannot make this quadratic in the element count).
  auto next_fitting = [&](int layout) {
    const auto& list = targets[static_cast<std::size_t>(layout)];
    auto& at = next_target[static_cast<std::size_t>(layout)];
    while (at < list.size() && list[at] <= cursor) {
      ++at;
    }
    return at < list.size() ? list[at] : -1;
  };
  std::size_t off = 8;
  std::size_t n = 0;
  while (off < d.size()) {
    const std::string at = where(n);
    if (off + 2 > d.size()) {
      w.push_back(at + ": header cut (1 of 2 bytes)");
      break;
    }
    const std::size_t len = d[off + 1];
    std::size_t have = std::min(len, d.size() - off - 2);
    if (have < len) {
      w.push_back(at + ": cut: " + std::to_string(2 + have) + " of " + std::to_string(2 + len) +
                  " bytes");
    }
    const Bytes desc_bytes = d.subspan(off, 2 + have);
    off += 2 + have;
    ++n;
    AesDescriptor desc;
    desc.invalid = bit(desc_bytes[0], 7);
    desc.eip = bit(desc_bytes[0], 4);
    desc.protocol = bits(desc_bytes[0], 0, 4);
    std::size_t pd_at = 2;
    if (desc.eip) {
      if (desc_bytes.size() < 4) {
        w.push_back(at + ": EIP set but the descriptor has no element index");
        out.descriptors.push_back(std::move(desc));
        continue;
      }
      desc.eiioe = bits(desc_bytes[2], 0, 2);
      desc.element_index = desc_bytes[3];
      pd_at = 4;
    }
    const int layout = descriptor_layout(desc.protocol, desc_bytes.subspan(pd_at));
    if (desc.eip) {
      if (desc.eiioe == 3) {
        w.push_back(at +
                    ": EIIOE 11b is reserved; element index read as including overall "
                    "elements");
      }
      const bool global =
          policy == EiioePolicy::ForceGlobal || eiioe_element_index_is_global(desc.eiioe);
      const int as_global = desc.element_index;
      const int as_individual = individual(desc.element_index);
      const int first = global ? as_global : as_individual;
      const int second = global ? as_individual : as_global;
      auto fits = [&](int g) {
        return valid_target(map, g) &&
               layout_fits(layout, map[static_cast<std::size_t>(g)].element_type);
      };
      const std::string index_text = "element index " + std::to_string(desc.element_index) +
                                     " (EIIOE " + std::to_string(desc.eiioe) + ")";
      if (fits(first)) {
        desc.global_index = first;
      } else if (fits(second)) {
        desc.global_index = second;
        w.push_back(at + ": " + index_text + " read as " + (global ? "a global" : "an individual") +
                    " index names no element that can take this descriptor; read as " +
                    (global ? "an individual" : "a global") + " index instead");
      } else if (const int next = next_fitting(layout); next >= 0) {
        desc.global_index = next;
        w.push_back(at + ": " + index_text +
                    " names no element that can take this descriptor; assigned to the next "
                    "element in page order that can, element " +
                    std::to_string(next));
      } else {
        w.push_back(at + ": " + index_text +
                    " names no element that can take this descriptor; descriptor not mapped");
      }
    } else {
      // SES-2 style: descriptors in page order, one per element that can have one.
      desc.global_index = next_fitting(layout);
      if (desc.global_index < 0) {
        w.push_back(at + ": EIP=0 and no element left to assign it to; descriptor not mapped");
      }
    }
    if (desc.global_index >= 0 && !desc.invalid) {
      if (!mapped.insert(desc.global_index).second) {
        w.push_back(at + ": second descriptor for element " + std::to_string(desc.global_index) +
                    " (the first one is used)");
      }
      cursor = std::max(cursor, desc.global_index);
    }
    const Bytes pd = desc_bytes.subspan(pd_at);
    desc.protocol_data.assign(pd.begin(), pd.end());
    const int type = desc.global_index >= 0 ? map[desc.global_index].element_type : -1;
    switch (desc.protocol) {
      case kProtoSas:
        decode_sas(pd, desc.eip, type, desc, at, w);
        break;
      case kProtoFc:
        decode_fc(pd, desc.eip, desc, at, w);
        break;
      case kProtoPcie:
        decode_pcie(pd, desc.eip, desc, at, w);
        break;
      case kProtoAta:
        if (pd.size() >= 8) {
          desc.ata = AtaInfo{load_be32(pd, 0), load_be32(pd, 4)};
        } else {
          w.push_back(at + ": ATA information cut (" + std::to_string(pd.size()) + " of 8 bytes)");
        }
        break;
      default:
        break;  // kept raw
    }
    out.descriptors.push_back(std::move(desc));
  }
  return out;
}

namespace {

void append_be64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  const std::size_t at = out.size();
  out.resize(at + 8);
  store_be64(MutableBytes(out), at, v);
}

Result<std::vector<std::uint8_t>> encode_sas(const SasInfo& sas, bool eip, std::uint8_t type) {
  std::vector<std::uint8_t> pd;
  if (sas.descriptor_type == 0) {
    if (sas.phys.size() > 255) {
      return fail_invalid("additional element status: more than 255 SAS phys");
    }
    pd.push_back(static_cast<std::uint8_t>(sas.phys.size()));
    pd.push_back(sas.not_all_phys ? 0x01 : 0x00);
    if (eip) {
      pd.push_back(0);
      pd.push_back(sas.device_slot_number.value_or(0xff));
    }
    for (const auto& p : sas.phys) {
      const std::size_t at = pd.size();
      pd.resize(at + kSasPhyLength, 0);
      pd[at] = static_cast<std::uint8_t>((p.device_type & 7) << 4);
      pd[at + 2] =
          static_cast<std::uint8_t>((p.ssp_initiator ? 0x08 : 0) | (p.stp_initiator ? 0x04 : 0) |
                                    (p.smp_initiator ? 0x02 : 0));
      pd[at + 3] = static_cast<std::uint8_t>(
          (p.sata_port_selector ? 0x80 : 0) | (p.ssp_target ? 0x08 : 0) |
          (p.stp_target ? 0x04 : 0) | (p.smp_target ? 0x02 : 0) | (p.sata_device ? 0x01 : 0));
      store_be64(MutableBytes(pd), at + 4, p.attached_sas_address);
      store_be64(MutableBytes(pd), at + 12, p.sas_address);
      pd[at + 20] = p.phy_id;
    }
    return pd;
  }
  const bool expander = type == type_value(ElementType::SasExpander);
  const std::size_t n = expander ? sas.expander_phys.size() : sas.port_phys.size();
  if (n > 255) {
    return fail_invalid("additional element status: more than 255 SAS phys");
  }
  pd = {static_cast<std::uint8_t>(n), 0x40, 0, 0};
  if (expander) {
    append_be64(pd, sas.expander_sas_address);
    for (const auto& p : sas.expander_phys) {
      pd.push_back(p.connector_element_index);
      pd.push_back(p.other_element_index);
    }
  } else {
    for (const auto& p : sas.port_phys) {
      pd.push_back(p.phy_id);
      pd.push_back(0);
      pd.push_back(p.connector_element_index);
      pd.push_back(p.other_element_index);
      append_be64(pd, p.sas_address);
    }
  }
  return pd;
}

std::vector<std::uint8_t> encode_fc(const FcInfo& fc) {
  std::vector<std::uint8_t> pd{static_cast<std::uint8_t>(fc.ports.size()), 0, 0,
                               fc.device_slot_number.value_or(0xff)};
  append_be64(pd, fc.node_name);
  for (const auto& p : fc.ports) {
    pd.push_back(p.loop_position);
    pd.push_back(p.bypass_reason);
    pd.push_back(p.requested_hard_address);
    pd.push_back(0);
    pd.push_back(0);
    pd.push_back(static_cast<std::uint8_t>(p.n_port_id >> 16));
    pd.push_back(static_cast<std::uint8_t>(p.n_port_id >> 8));
    pd.push_back(static_cast<std::uint8_t>(p.n_port_id));
    append_be64(pd, p.n_port_name);
  }
  return pd;
}

std::vector<std::uint8_t> encode_pcie(const PcieInfo& info) {
  std::vector<std::uint8_t> pd(kPcieHeaderLength, 0);
  pd[0] = static_cast<std::uint8_t>(info.ports.size());
  pd[1] = static_cast<std::uint8_t>(((info.pcie_protocol_type & 7) << 5) |
                                    (info.not_all_ports ? 1 : 0));
  pd[3] = info.device_slot_number.value_or(0xff);
  pd[6] = static_cast<std::uint8_t>(info.vendor_id);
  pd[7] = static_cast<std::uint8_t>(info.vendor_id >> 8);
  detail::put_padded(pd, 8, 20, info.serial_number.substr(0, 20));
  detail::put_padded(pd, 28, 40, info.model_number.substr(0, 40));
  for (const auto& p : info.ports) {
    pd.push_back(static_cast<std::uint8_t>((p.cid_valid ? 1 : 0) | (p.bdf_valid ? 2 : 0) |
                                           (p.psn_valid ? 4 : 0)));
    pd.push_back(static_cast<std::uint8_t>(p.controller_id));
    pd.push_back(static_cast<std::uint8_t>(p.controller_id >> 8));
    pd.push_back(0);
    pd.push_back(p.bus);
    pd.push_back(static_cast<std::uint8_t>(((p.device & 0x1f) << 3) | (p.function & 7)));
    pd.push_back(static_cast<std::uint8_t>(p.physical_slot_number));
    pd.push_back(static_cast<std::uint8_t>((p.physical_slot_number >> 8) & 0x1f));
  }
  return pd;
}

}  // namespace

Result<std::vector<std::uint8_t>> encode_ses_additional_status(
    const SesConfig& config, std::uint32_t generation, std::span<const AesDescriptor> descriptors) {
  const auto map = build_element_map(config);
  std::vector<std::uint8_t> out(8, 0);
  out[0] = page_code_value(PageCode::AdditionalElementStatus);
  store_be32(MutableBytes(out), 4, generation);
  for (std::size_t n = 0; n < descriptors.size(); ++n) {
    const auto& desc = descriptors[n];
    const std::string at = where(n);
    if (desc.global_index < 0 || static_cast<std::size_t>(desc.global_index) >= map.size()) {
      return fail_invalid(at + ": element " + std::to_string(desc.global_index) +
                          " is not in the configuration (" + std::to_string(map.size()) +
                          " elements)");
    }
    const auto& ref = map[static_cast<std::size_t>(desc.global_index)];
    std::vector<std::uint8_t> pd;
    if (desc.sas) {
      auto sas = encode_sas(*desc.sas, desc.eip, ref.element_type);
      if (!sas) {
        return fail(sas.error());
      }
      pd = std::move(*sas);
    } else if (desc.fc) {
      pd = encode_fc(*desc.fc);
    } else if (desc.pcie) {
      pd = encode_pcie(*desc.pcie);
    } else if (desc.ata) {
      pd.resize(8);
      store_be32(MutableBytes(pd), 0, desc.ata->bus);
      store_be32(MutableBytes(pd), 4, desc.ata->target);
    } else {
      pd = desc.protocol_data;
    }
    std::vector<std::uint8_t> body;
    if (desc.eip) {
      int index = desc.global_index;
      if (!eiioe_element_index_is_global(desc.eiioe)) {
        if (ref.overall()) {
          return fail_invalid(at + ": element " + std::to_string(desc.global_index) +
                              " is an overall element, which EIIOE 00b cannot index");
        }
        index = ref.individual_index;
      }
      if (index > 255) {
        return fail_invalid(at + ": element index " + std::to_string(index) +
                            " does not fit one byte");
      }
      body.push_back(desc.eiioe & 3);
      body.push_back(static_cast<std::uint8_t>(index));
    }
    body.insert(body.end(), pd.begin(), pd.end());
    if (body.size() > 255) {
      return fail_invalid(at + ": " + std::to_string(body.size()) +
                          " bytes do not fit the one-byte descriptor length");
    }
    out.push_back(static_cast<std::uint8_t>((desc.invalid ? 0x80 : 0) | (desc.eip ? 0x10 : 0) |
                                            (desc.protocol & 0x0f)));
    out.push_back(static_cast<std::uint8_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  }
  return detail::finish_page(std::move(out), "additional element status");
}

}  // namespace ucam::scsi::ses
