#include "periphs/ch/ch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "base/log.h"
#include "scsi/mode.h"
#include "scsi/sense.h"
#include "scsi/vpd.h"

namespace ucam::ch {
namespace {

namespace smc = scsi::smc;
using namespace std::chrono_literals;

constexpr std::uint8_t kChangerType = 0x08;
constexpr std::uint8_t kRetries = 4;
constexpr std::chrono::milliseconds kMotionTimeout = 15min;  // FreeBSD: MOVE/EXCHANGE/POSITION.
constexpr std::chrono::milliseconds kStatusTimeout = 5min;   // FreeBSD: READ ELEMENT STATUS.
constexpr std::chrono::milliseconds kInitTimeout = 500s;     // FreeBSD: CHIOIELEM default.
constexpr std::chrono::milliseconds kModeTimeout = 60s;
constexpr std::uint8_t kModeAllocation = 255;
constexpr std::uint32_t kMinAllocation = 1024;  // FreeBSD's probe read.
// A guard against a changer whose reports never advance: far more reads than a 65,536-element
// library needs at one descriptor per read.
constexpr std::uint32_t kMaxStatusReads = 70'000;

std::chrono::milliseconds or_default(std::chrono::milliseconds given,
                                     std::chrono::milliseconds fallback) {
  return given.count() > 0 ? given : fallback;
}

// The outcome of one command: bytes transferred, or the error with the decoded sense.
// `direction` Out sends `data` (SEND VOLUME TAG's parameter list); otherwise it is read into.
Result<std::uint32_t> run(cam::Periph& periph, const scsi::Cdb& cdb, std::span<std::uint8_t> data,
                          std::chrono::milliseconds timeout, cam::CancelToken* cancel,
                          const std::string& what, cam::DataDir direction = cam::DataDir::In) {
  cam::Ccb ccb;
  ccb.path = periph.path();
  ccb.set_cdb(cdb.span());
  ccb.dir = data.empty() ? cam::DataDir::None : direction;
  ccb.data = data.empty() ? nullptr : data.data();
  ccb.dxfer_len = static_cast<std::uint32_t>(data.size());
  ccb.timeout = timeout;
  ccb.recovery = cam::Recovery::Standard;
  ccb.retry_count = kRetries;
  periph.xpt().run_sync(ccb, cancel);
  if (ccb.status == CamStatus::ReqCmp) {
    return ccb.dxfer_len - std::min(ccb.resid, ccb.dxfer_len);
  }
  const std::string context = periph.name() + ": " + what;
  if (ccb.sense_len > 0) {
    if (auto s = scsi::parse_sense(ccb.sense_bytes())) {
      return fail(Error::from_sense(s->code(), context + ": " + scsi::describe_sense(*s)));
    }
  }
  if (ccb.status == CamStatus::DevNotThere || ccb.status == CamStatus::SelTimeout) {
    return fail_errno(ENXIO, context + ": device is gone");
  }
  return fail(Error::from_cam(ccb.status, context));
}

bool illegal_request(const Error& e) {
  return e.kind() == Error::Kind::Sense && e.sense().key == 0x05;
}

Result<scsi::ModePage> read_mode_page(cam::Periph& periph, std::uint8_t page, bool& no_dbd) {
  std::array<std::uint8_t, kModeAllocation> buf{};
  auto dbd = no_dbd ? scsi::BlockDescriptors::Return : scsi::BlockDescriptors::Disable;
  const std::string what = fmt::format("MODE SENSE(6) page {:02X}h", page);
  auto n = run(periph, scsi::mode_sense6(dbd, scsi::PageControl::Current, page, 0, kModeAllocation),
               buf, kModeTimeout, nullptr, what);
  if (!n && !no_dbd && illegal_request(n.error())) {
    // FreeBSD's CH_Q_NO_DBD: some changers refuse DBD; ask again with block descriptors.
    no_dbd = true;
    n = run(periph,
            scsi::mode_sense6(scsi::BlockDescriptors::Return, scsi::PageControl::Current, page, 0,
                              kModeAllocation),
            buf, kModeTimeout, nullptr, what);
  }
  if (!n) {
    return fail(n.error());
  }
  auto params = scsi::parse_mode_sense_data({buf.data(), *n}, scsi::ModeHeaderFormat::Six);
  if (!params) {
    return fail(params.error().with_context(periph.name() + ": " + what));
  }
  const auto* found = scsi::find_mode_page(*params, page);
  if (found == nullptr) {
    return fail(Error::described(EIO, fmt::format("{}: {}: the changer returned no page {:02X}h",
                                                  periph.name(), what, page)));
  }
  return *found;
}

struct Params {
  smc::ElementAddressAssignment assignment;
  smc::DeviceCapabilities capabilities;
  bool no_dbd = false;
};

// Pages 1Dh and 1Fh. `no_dbd`: the changer refused DBD before.
Result<Params> read_params(cam::Periph& periph, bool no_dbd) {
  auto ea_page = read_mode_page(periph, smc::kElementAddressAssignmentPage, no_dbd);
  if (!ea_page) {
    return fail(ea_page.error());
  }
  auto ea = smc::parse_element_address_assignment(*ea_page);
  if (!ea) {
    return fail(ea.error().with_context(periph.name() + ": mode page 1Dh"));
  }
  auto caps_page = read_mode_page(periph, smc::kDeviceCapabilitiesPage, no_dbd);
  if (!caps_page) {
    return fail(caps_page.error());
  }
  auto caps = smc::parse_device_capabilities(*caps_page);
  if (!caps) {
    return fail(caps.error().with_context(periph.name() + ": mode page 1Fh"));
  }
  return Params{*ea, *caps, no_dbd};
}

void store_params(cam::Periph& periph, const Params& p) {
  auto& sc = periph.softc<ChSoftc>();
  std::lock_guard lock(sc.lock);
  sc.no_dbd = p.no_dbd;
  sc.assignment = p.assignment;
  sc.capabilities = p.capabilities;
  if (sc.picker >= p.assignment.medium_transport.count) {
    sc.picker = 0;
  }
}

// chgetparams: pages 1Dh and 1Fh into the softc.
Result<void> get_params(cam::Periph& periph) {
  auto& sc = periph.softc<ChSoftc>();
  bool no_dbd = false;
  {
    std::lock_guard lock(sc.lock);
    no_dbd = sc.no_dbd;
  }
  auto p = read_params(periph, no_dbd);
  if (!p) {
    return fail(p.error());
  }
  store_params(periph, *p);
  return {};
}

struct Snapshot {
  smc::ElementAddressAssignment assignment;
  smc::DeviceCapabilities capabilities;
  std::uint16_t picker = 0;
  bool no_dvcid = false;
};

Snapshot snapshot(cam::Periph& periph) {
  auto& sc = periph.softc<ChSoftc>();
  std::lock_guard lock(sc.lock);
  return {sc.assignment, sc.capabilities, sc.picker, sc.no_dvcid};
}

const char* type_word(ElementType type) {
  switch (type) {
    case ElementType::MediumTransport:
      return "picker";
    case ElementType::Storage:
      return "slot";
    case ElementType::ImportExport:
      return "portal";
    case ElementType::DataTransfer:
      return "drive";
    case ElementType::All:
      break;
  }
  return "element";
}

Result<ChLocation> resolve(const cam::Periph& periph, const Snapshot& s, const ChElement& e) {
  if (e.type == ElementType::All) {
    auto where = s.assignment.locate(e.unit);
    if (!where) {
      return fail(Error::described(ENODEV, fmt::format("{}: no element has address {} ({:#06x})",
                                                       periph.name(), e.unit, e.unit)));
    }
    return ChLocation{where->type, where->index, e.unit};
  }
  if (!smc::is_element_type(smc::type_value(e.type))) {
    return fail_invalid(periph.name() + ": bad element type");
  }
  auto address = s.assignment.address_of(e.type, e.unit);
  if (!address) {
    const auto count = s.assignment.range(e.type).count;
    return fail(Error::described(
        ENODEV, fmt::format("{}: no {} {}: the changer has {} {}{} (units 0-{})", periph.name(),
                            type_word(e.type), e.unit, count, type_word(e.type),
                            count == 1 ? "" : "s", count == 0 ? 0 : count - 1)));
  }
  return ChLocation{e.type, e.unit, *address};
}

std::string name_of(const ChLocation& l) {
  return fmt::format("{} {}", type_word(l.type), l.unit);
}

Result<std::uint16_t> picker_address(const cam::Periph& periph, const Snapshot& s) {
  auto a = s.assignment.address_of(ElementType::MediumTransport, s.picker);
  if (!a) {
    return fail(Error::described(ENODEV, periph.name() + ": the changer reports no picker"));
  }
  return *a;
}

Result<void> move(cam::Periph& periph, ChMove& m) {
  const auto s = snapshot(periph);
  auto from = resolve(periph, s, m.from);
  auto to = resolve(periph, s, m.to);
  if (!from || !to) {
    return fail(!from ? from.error() : to.error());
  }
  if (!s.capabilities.can_move(from->type, to->type)) {
    return fail_invalid(fmt::format("{}: the changer cannot move from a {} to a {} (mode page 1Fh)",
                                    periph.name(), type_word(from->type), type_word(to->type)));
  }
  auto picker = picker_address(periph, s);
  if (!picker) {
    return fail(picker.error());
  }
  auto cdb = smc::move_medium({*picker, from->address, to->address, m.invert});
  auto r = run(periph, cdb, {}, or_default(m.timeout, kMotionTimeout), m.cancel,
               fmt::format("MOVE MEDIUM {} -> {}", name_of(*from), name_of(*to)));
  if (!r) {
    return fail(r.error());
  }
  return {};
}

Result<void> exchange(cam::Periph& periph, ChExchange& x) {
  const auto s = snapshot(periph);
  auto source = resolve(periph, s, x.source);
  auto first = resolve(periph, s, x.first);
  auto second = resolve(periph, s, x.second.value_or(x.source));
  if (!source || !first || !second) {
    return fail(!source ? source.error() : !first ? first.error() : second.error());
  }
  if (!s.capabilities.can_exchange(source->type, first->type) ||
      !s.capabilities.can_exchange(first->type, second->type)) {
    return fail_invalid(
        fmt::format("{}: the changer cannot exchange {} -> {} -> {} (mode page 1Fh)", periph.name(),
                    type_word(source->type), type_word(first->type), type_word(second->type)));
  }
  auto picker = picker_address(periph, s);
  if (!picker) {
    return fail(picker.error());
  }
  auto cdb = smc::exchange_medium(
      {*picker, source->address, first->address, second->address, x.invert1, x.invert2});
  auto r = run(periph, cdb, {}, or_default(x.timeout, kMotionTimeout), x.cancel,
               fmt::format("EXCHANGE MEDIUM {} -> {} -> {}", name_of(*source), name_of(*first),
                           name_of(*second)));
  if (!r) {
    return fail(r.error());
  }
  return {};
}

Result<void> position(cam::Periph& periph, ChPosition& p) {
  const auto s = snapshot(periph);
  auto to = resolve(periph, s, p.to);
  if (!to) {
    return fail(to.error());
  }
  auto picker = picker_address(periph, s);
  if (!picker) {
    return fail(picker.error());
  }
  auto r =
      run(periph, smc::position_to_element({*picker, to->address, p.invert}), {},
          or_default(p.timeout, kMotionTimeout), p.cancel, "POSITION TO ELEMENT " + name_of(*to));
  if (!r) {
    return fail(r.error());
  }
  return {};
}

Result<void> init_status(cam::Periph& periph, ChInitElementStatus& i) {
  const auto timeout = or_default(i.timeout, kInitTimeout);
  if (!i.range && i.scan == smc::ScanMode::Full) {
    auto r = run(periph, smc::initialize_element_status(), {}, timeout, i.cancel,
                 "INITIALIZE ELEMENT STATUS");
    return r ? Result<void>{} : fail(r.error());
  }
  smc::InitializeElementStatusWithRangeRequest request;
  request.scan = i.scan;
  if (i.range) {
    const auto s = snapshot(periph);
    auto start = resolve(periph, s, *i.range);
    if (!start) {
      return fail(start.error());
    }
    request.range = smc::ElementRangeSelect::Range;
    request.starting_address = start->address;
    request.number_of_elements = i.count;
  }
  auto r = run(periph, smc::initialize_element_status_with_range(request), {}, timeout, i.cancel,
               "INITIALIZE ELEMENT STATUS WITH RANGE");
  return r ? Result<void>{} : fail(r.error());
}

// Whether VPD page 83h `devid` holds a designator equal to `id` (type, code set and bytes).
bool devid_matches(const std::vector<std::uint8_t>& devid, const smc::DeviceIdentifier& id) {
  if (devid.empty() || id.identifier.empty()) {
    return false;
  }
  auto designators = scsi::parse_device_identification(devid);
  if (!designators) {
    return false;
  }
  return std::any_of(designators->begin(), designators->end(), [&](const scsi::Designator& d) {
    return static_cast<std::uint8_t>(d.type) == id.identifier_type &&
           static_cast<std::uint8_t>(d.code_set) == id.code_set && d.identifier == id.identifier;
  });
}

// Computed at status time (no XPT advinfo slot): the periph names of every other device whose
// page 83h holds the drive's identifier.
void link_devices(cam::Periph& periph, std::vector<ChElementStatus>& elements) {
  std::vector<cam::DeviceInfo> devices;
  bool fetched = false;
  for (auto& e : elements) {
    if (!e.identifier || e.element.type != ElementType::DataTransfer) {
      continue;
    }
    if (!fetched) {
      devices = periph.xpt().devices();
      fetched = true;
    }
    for (const auto& d : devices) {
      if (d.path != periph.path() && devid_matches(d.devid, *e.identifier)) {
        auto names = periph.manager().names_for(d.path);
        e.devices.insert(e.devices.end(), names.begin(), names.end());
      }
    }
  }
}

ChLocation locate(const smc::ElementAddressAssignment& ea, ElementType page_type,
                  std::uint16_t address) {
  if (auto where = ea.locate(address)) {
    return {where->type, where->index, address};
  }
  return {page_type, 0xFFFF, address};
}

ChElementStatus convert(const smc::ElementAddressAssignment& ea, ElementType page_type,
                        const smc::ElementDescriptor& d) {
  ChElementStatus e;
  e.element = locate(ea, page_type, d.address);
  e.full = d.full;
  e.impexp = d.impexp;
  e.except = d.except;
  e.access = d.access;
  e.exenab = d.exenab;
  e.inenab = d.inenab;
  e.asc = d.asc;
  e.ascq = d.ascq;
  if (auto src = d.source()) {
    e.source = locate(ea, ElementType::Storage, *src);
  }
  e.invert = d.invert;
  e.medium_type = d.medium_type;
  e.primary_tag = d.primary_tag;
  e.alternate_tag = d.alternate_tag;
  e.identifier = d.device_identifier;
  return e;
}

// The elements [first, first + count) of one type, paged in reads of at most kStatusAllocation.
Result<void> status_of_type(cam::Periph& periph, ChGetElementStatus& g, const Snapshot& s,
                            ElementType type, std::uint16_t first, std::uint16_t count) {
  const auto range = s.assignment.range(type);
  const std::uint32_t cap = std::clamp<std::uint32_t>(g.allocation, kMinAllocation, 0xFFFFFF);
  bool dvcid = g.dvcid && !s.no_dvcid && type == ElementType::DataTransfer;
  smc::ReadElementStatusRequest request;
  request.type = type;
  request.voltag = g.voltags ? smc::VolumeTags::Include : smc::VolumeTags::Exclude;
  request.starting_address = static_cast<std::uint16_t>(range.first + first);
  request.number_of_elements = count;
  request.allocation_length = cap;
  const std::uint32_t end = std::uint32_t{range.first} + first + count;  // Exclusive.
  std::vector<std::uint8_t> buf;
  std::uint32_t before = static_cast<std::uint32_t>(g.elements.size());
  while (true) {
    if (++g.reads > kMaxStatusReads) {
      return fail(Error::described(
          EIO, periph.name() + ": READ ELEMENT STATUS: the changer's reports do not advance"));
    }
    request.dvcid = dvcid ? smc::Dvcid::Requested : smc::Dvcid::NotRequested;
    request.curdata = dvcid ? smc::CurrentData::NoMotion : smc::CurrentData::MotionAllowed;
    auto cdb = smc::read_element_status(request);
    if (!cdb) {
      return fail(cdb.error());
    }
    buf.assign(request.allocation_length, 0);
    const std::string what = fmt::format("READ ELEMENT STATUS of {}s from address {}",
                                         type_word(type), request.starting_address);
    auto n = run(periph, *cdb, buf, or_default(g.timeout, kStatusTimeout), g.cancel, what);
    if (!n && dvcid && illegal_request(n.error())) {
      // FreeBSD's CH_Q_NO_DVCID: ask again without DVCID and CURDATA, and remember.
      dvcid = false;
      auto& sc = periph.softc<ChSoftc>();
      std::lock_guard lock(sc.lock);
      sc.no_dvcid = true;
      continue;
    }
    if (!n) {
      return fail(n.error());
    }
    // Fewer bytes than allowed: what is missing the device never sent (tgt leaves 8 bytes out
    // of every report), and asking again would bring the same.
    const auto data_end =
        *n < request.allocation_length ? smc::DataEnd::EndedByDevice : smc::DataEnd::MayBeCut;
    auto data = smc::parse_element_status_data({buf.data(), *n}, request.dvcid, data_end);
    if (!data) {
      return fail(data.error().with_context(periph.name() + ": " + what));
    }
    std::size_t decoded = 0;
    for (const auto& page : data->pages) {
      for (const auto& d : page.descriptors) {
        ++decoded;
        if (d.address >= request.starting_address && d.address < end) {
          g.elements.push_back(convert(s.assignment, page.type, d));
        }
      }
    }
    auto next = smc::next_element_status_request(*data);
    if (!next) {
      break;
    }
    if (decoded == 0) {
      // Nothing to continue after: ask again from the same address with the whole allocation.
      // Not from the header's FIRST ELEMENT ADDRESS REPORTED, which a device may get wrong
      // (tgt 1.0.85 says 21 for any one-element report): following it ended the read with the
      // element missing, or went round in circles.
      if (request.allocation_length >= cap || data_end == smc::DataEnd::EndedByDevice) {
        return fail(Error::described(
            EIO, fmt::format("{}: {}: not one whole element descriptor in the {} bytes returned "
                             "(allocation length {}, {} elements available)",
                             periph.name(), what, *n, request.allocation_length,
                             data->number_of_elements_available)));
      }
      request.allocation_length = cap;
      continue;
    }
    if (next->starting_address >= end) {
      break;
    }
    if (next->starting_address <= request.starting_address) {
      return fail(
          Error::described(EIO, periph.name() + ": " + what + ": the report does not advance"));
    }
    request.starting_address = next->starting_address;
    request.number_of_elements = static_cast<std::uint16_t>(
        std::min<std::uint32_t>(next->number_of_elements, end - next->starting_address));
    request.allocation_length = decoded == 0 ? cap : std::min(next->allocation_length, cap);
  }
  log_debug("{}: {} {} element(s) read", periph.name(), g.elements.size() - before,
            type_word(type));
  return {};
}

// A volume tag or template the changer can take: 1-32 printable ASCII characters; a tag to set
// has no wildcard.
Result<void> check_tag(const cam::Periph& periph, const std::string& tag, bool wildcards) {
  if (tag.empty() || tag.size() > smc::kVolumeIdentifierLength) {
    return fail_invalid(
        fmt::format("{}: volume tag '{}': expected 1-32 characters", periph.name(), tag));
  }
  for (char c : tag) {
    if (c < 0x20 || c > 0x7e) {
      return fail_invalid(
          fmt::format("{}: volume tag '{}': only printable ASCII characters", periph.name(), tag));
    }
    if (!wildcards && (c == '*' || c == '?')) {
      return fail_invalid(fmt::format(
          "{}: volume tag '{}': '*' and '?' are wildcards, for searches only", periph.name(), tag));
    }
  }
  return {};
}

Result<void> send_volume_tag(cam::Periph& periph, smc::ElementType type, std::uint16_t address,
                             smc::SendVolumeTagAction action,
                             const smc::SendVolumeTagParameters& parameters,
                             std::chrono::milliseconds timeout, cam::CancelToken* cancel,
                             const std::string& what) {
  const bool undefine = action == smc::SendVolumeTagAction::UndefinePrimary ||
                        action == smc::SendVolumeTagAction::UndefineAlternate;
  std::array<std::uint8_t, smc::kSendVolumeTagParametersLength> list{};
  if (!undefine) {
    auto encoded = smc::encode_send_volume_tag_parameters(parameters);
    if (!encoded) {
      return fail(encoded.error().with_context(periph.name()));
    }
    list = *encoded;
  }
  auto cdb = smc::send_volume_tag(
      {type, address, action,
       static_cast<std::uint16_t>(undefine ? 0 : smc::kSendVolumeTagParametersLength)});
  if (!cdb) {
    return fail(cdb.error().with_context(periph.name()));
  }
  auto r = run(periph, *cdb, undefine ? std::span<std::uint8_t>{} : std::span<std::uint8_t>(list),
               timeout, cancel, what, cam::DataDir::Out);
  if (!r) {
    return fail(r.error());
  }
  return {};
}

Result<void> set_voltag(cam::Periph& periph, ChSetVolTag& v) {
  const auto s = snapshot(periph);
  auto element = resolve(periph, s, v.element);
  if (!element) {
    return fail(element.error());
  }
  if (v.action != ChVolTagAction::Clear) {
    if (auto ok = check_tag(periph, v.tag, false); !ok) {
      return ok;
    }
  }
  const bool alternate = v.which == ChVolTag::Alternate;
  smc::SendVolumeTagAction action{};
  const char* verb = "";
  switch (v.action) {
    case ChVolTagAction::Assert:
      action = alternate ? smc::SendVolumeTagAction::AssertAlternate
                         : smc::SendVolumeTagAction::AssertPrimary;
      verb = "assert";
      break;
    case ChVolTagAction::Replace:
      action = alternate ? smc::SendVolumeTagAction::ReplaceAlternate
                         : smc::SendVolumeTagAction::ReplacePrimary;
      verb = "replace";
      break;
    case ChVolTagAction::Clear:
      action = alternate ? smc::SendVolumeTagAction::UndefineAlternate
                         : smc::SendVolumeTagAction::UndefinePrimary;
      verb = "undefine";
      break;
  }
  smc::SendVolumeTagParameters parameters;
  parameters.volume_identification_template = v.tag;
  parameters.minimum_sequence_number = v.sequence;
  return send_volume_tag(periph, ElementType::All, element->address, action, parameters,
                         or_default(v.timeout, kStatusTimeout), v.cancel,
                         fmt::format("SEND VOLUME TAG ({} {} tag) on {}", verb,
                                     alternate ? "alternate" : "primary", name_of(*element)));
}

Result<void> find_volume(cam::Periph& periph, ChFindVolume& f) {
  f.elements.clear();
  f.reads = 0;
  if (auto ok = check_tag(periph, f.pattern, true); !ok) {
    return ok;
  }
  if (!smc::is_element_type(smc::type_value(f.type)) && f.type != ElementType::All) {
    return fail_invalid(periph.name() + ": bad element type");
  }
  const auto s = snapshot(periph);
  const auto timeout = or_default(f.timeout, kStatusTimeout);
  const bool alternate = f.which == ChVolTag::Alternate;
  smc::SendVolumeTagParameters parameters;
  parameters.volume_identification_template = f.pattern;
  if (auto r = send_volume_tag(periph, f.type, 0,
                               alternate ? smc::SendVolumeTagAction::TranslateAlternate
                                         : smc::SendVolumeTagAction::TranslatePrimary,
                               parameters, timeout, f.cancel,
                               fmt::format("SEND VOLUME TAG (translate '{}')", f.pattern));
      !r) {
    return r;
  }
  const std::uint32_t cap = std::clamp<std::uint32_t>(f.allocation, kMinAllocation, 0xFFFFFF);
  smc::RequestVolumeElementAddressRequest request;
  request.type = f.type;
  request.voltag = smc::VolumeTags::Include;
  request.element_address = 0;
  request.number_of_elements = 0xFFFF;
  request.allocation_length = cap;
  // DVCID as ChGetElementStatus asks it, so that drives link to their devices.
  request.dvcid = s.no_dvcid ? smc::Dvcid::NotRequested : smc::Dvcid::Requested;
  std::vector<std::uint8_t> buf;
  while (true) {
    if (++f.reads > kMaxStatusReads) {
      return fail(Error::described(
          EIO, periph.name() + ": REQUEST VOLUME ELEMENT ADDRESS: the reports do not advance"));
    }
    auto cdb = smc::request_volume_element_address(request);
    if (!cdb) {
      return fail(cdb.error());
    }
    buf.assign(request.allocation_length, 0);
    const std::string what =
        fmt::format("REQUEST VOLUME ELEMENT ADDRESS from address {}", request.element_address);
    auto n = run(periph, *cdb, buf, timeout, f.cancel, what);
    if (!n && request.dvcid == smc::Dvcid::Requested && illegal_request(n.error())) {
      // A changer that refuses DVCID here: ask once more without it; remember it only when
      // that works (the refusal may have been another one, e.g. no translate to report).
      request.dvcid = smc::Dvcid::NotRequested;
      auto cdb_without = smc::request_volume_element_address(request);
      if (!cdb_without) {
        return fail(cdb_without.error());
      }
      n = run(periph, *cdb_without, buf, timeout, f.cancel, what);
      if (n) {
        auto& sc = periph.softc<ChSoftc>();
        std::lock_guard lock(sc.lock);
        sc.no_dvcid = true;
      }
    }
    if (!n) {
      return fail(n.error());
    }
    auto data = smc::parse_volume_element_address_data({buf.data(), *n}, request.dvcid);
    if (!data) {
      return fail(data.error().with_context(periph.name() + ": " + what));
    }
    std::size_t decoded = 0;
    for (const auto& page : data->status.pages) {
      for (const auto& d : page.descriptors) {
        ++decoded;
        if (d.address >= request.element_address) {
          f.elements.push_back(convert(s.assignment, page.type, d));
        }
      }
    }
    auto next = smc::next_element_status_request(data->status);
    if (!next) {
      break;
    }
    if (decoded == 0 && request.allocation_length >= cap) {
      return fail(
          Error::described(EIO, fmt::format("{}: {}: not one element descriptor fits in {} bytes",
                                            periph.name(), what, cap)));
    }
    if (decoded > 0 && next->starting_address <= request.element_address) {
      return fail(
          Error::described(EIO, periph.name() + ": " + what + ": the report does not advance"));
    }
    request.element_address = next->starting_address;
    request.number_of_elements = next->number_of_elements;
    request.allocation_length = decoded == 0 ? cap : std::min(next->allocation_length, cap);
  }
  link_devices(periph, f.elements);
  return {};
}

Result<void> element_status(cam::Periph& periph, ChGetElementStatus& g) {
  g.elements.clear();
  g.reads = 0;
  const auto s = snapshot(periph);
  if (g.type != ElementType::All) {
    if (!smc::is_element_type(smc::type_value(g.type))) {
      return fail_invalid(periph.name() + ": bad element type");
    }
    const auto total = s.assignment.range(g.type).count;
    if (g.first >= total && !(g.first == 0 && total == 0)) {
      return fail(
          Error::described(ENODEV, fmt::format("{}: no {} {}: the changer has {}", periph.name(),
                                               type_word(g.type), g.first, total)));
    }
    const std::uint16_t left = total - g.first;
    const std::uint16_t count = g.count == 0 ? left : std::min(g.count, left);
    if (count > 0) {
      if (auto r = status_of_type(periph, g, s, g.type, g.first, count); !r) {
        return r;
      }
    }
  } else {
    for (auto type : smc::kElementTypes) {
      const auto total = s.assignment.range(type).count;
      if (total == 0) {
        continue;
      }
      if (auto r = status_of_type(periph, g, s, type, 0, total); !r) {
        return r;
      }
    }
  }
  link_devices(periph, g.elements);
  return {};
}

}  // namespace

bool ChDriver::matches(const cam::DeviceInfo& device) const {
  return device.device_type == kChangerType;
}

std::unique_ptr<periph::NodeSoftc> ChDriver::make_softc(cam::Periph& /*periph*/) {
  return std::make_unique<ChSoftc>();
}

Result<void> ChDriver::check_open_mode(const cam::Periph& periph, const devfs::OpenFile& file) {
  if ((file.flags() & (devfs::kOpenRead | devfs::kOpenWrite)) == 0) {
    return fail_errno(EPERM, periph.name() + ": open for reading or writing");
  }
  return {};
}

// The parameters are read before the node exists: a failed attach must leave no node behind
// (the periph is freed without invalidate()). An open that comes between the node's creation
// and store_params reads them itself.
Result<void> ChDriver::attach(cam::Periph& periph) {
  auto p = read_params(periph, false);
  if (!p) {
    // FreeBSD: "fatal error, failed to attach".
    log_error("{}: failed to attach: {}", periph.name(), p.error().message());
    return fail(p.error());
  }
  if (auto r = NodePeriphDriver::attach(periph); !r) {
    return r;
  }
  store_params(periph, *p);
  const auto& ea = p->assignment;
  log_info("{}: {} slot(s), {} drive(s), {} picker(s), {} portal(s)", periph.name(),
           ea.storage.count, ea.data_transfer.count, ea.medium_transport.count,
           ea.import_export.count);
  return {};
}

Result<void> ChDriver::open(devfs::Node& node, devfs::OpenFile& file) {
  if (auto r = NodePeriphDriver::open(node, file); !r) {
    return r;
  }
  // chopen re-reads the parameters every time (a library may be reconfigured between opens).
  if (auto r = get_params(periph_of(node)); !r) {
    NodePeriphDriver::close(node, file, devfs::CloseReason::Normal);
    return r;
  }
  return {};
}

Result<void> ChDriver::ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) {
  cam::Periph& periph = periph_of(node);
  {
    auto& sc = periph.softc<ChSoftc>();
    std::lock_guard lock(sc.lock);
    if (sc.invalid) {
      return fail_errno(ENXIO, periph.name() + ": device is gone");
    }
  }
  const bool writable = (file.flags() & devfs::kOpenWrite) != 0;
  auto needs_write = [&]() -> Result<void> {
    if (!writable) {
      return fail(Error::described(
          EBADF, periph.name() + ": changing the changer needs a node opened for writing"));
    }
    return {};
  };
  switch (request.code()) {
    case ChMove::kCode:
      if (auto w = needs_write(); !w) {
        return w;
      }
      return move(periph, static_cast<ChMove&>(request));
    case ChExchange::kCode:
      if (auto w = needs_write(); !w) {
        return w;
      }
      return exchange(periph, static_cast<ChExchange&>(request));
    case ChPosition::kCode:
      if (auto w = needs_write(); !w) {
        return w;
      }
      return position(periph, static_cast<ChPosition&>(request));
    case ChInitElementStatus::kCode:
      if (auto w = needs_write(); !w) {
        return w;
      }
      return init_status(periph, static_cast<ChInitElementStatus&>(request));
    case ChGetPicker::kCode:
      static_cast<ChGetPicker&>(request).unit = snapshot(periph).picker;
      return {};
    case ChSetPicker::kCode: {
      if (auto w = needs_write(); !w) {
        return w;
      }
      const auto unit = static_cast<ChSetPicker&>(request).unit;
      auto& sc = periph.softc<ChSoftc>();
      std::lock_guard lock(sc.lock);
      if (unit >= sc.assignment.medium_transport.count) {
        return fail_invalid(fmt::format("{}: no picker {}: the changer has {}", periph.name(), unit,
                                        sc.assignment.medium_transport.count));
      }
      sc.picker = unit;
      return {};
    }
    case ChGetParams::kCode: {
      auto& p = static_cast<ChGetParams&>(request);
      const auto s = snapshot(periph);
      p.assignment = s.assignment;
      p.capabilities = s.capabilities;
      p.picker = s.picker;
      return {};
    }
    case ChGetElementStatus::kCode:
      return element_status(periph, static_cast<ChGetElementStatus&>(request));
    case ChSetVolTag::kCode:
      if (auto w = needs_write(); !w) {
        return w;
      }
      return set_voltag(periph, static_cast<ChSetVolTag&>(request));
    case ChFindVolume::kCode:
      return find_volume(periph, static_cast<ChFindVolume&>(request));
    default:
      return fail_errno(ENOTTY, periph.name() + ": unknown ioctl (raw CDBs go to the pass node)");
  }
}

}  // namespace ucam::ch
