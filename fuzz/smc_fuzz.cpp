// libFuzzer target for the SMC codecs (scsi/smc.h). Every input is tried as READ ELEMENT STATUS
// data (with and without DVCID) and as the REQUEST VOLUME ELEMENT ADDRESS reply, as a CDB of
// each changer command, as a SEND VOLUME TAG parameter list, and as MODE SENSE(6)/(10) data
// whose pages go through the 1Dh/1Eh/1Fh decoders. What decodes is encoded again and must
// decode to the same value (for element status data: the same pages and descriptors; the
// header counts are recomputed by the encoder, so they only match for a complete report).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_check.h"
#include "scsi/mode.h"
#include "scsi/smc.h"

namespace smc = ucam::scsi::smc;

namespace {

using ucam::fuzz::check;

bool same_pages(const smc::ElementStatusData& a, const smc::ElementStatusData& b) {
  if (a.pages.size() != b.pages.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.pages.size(); ++i) {
    const auto& x = a.pages[i];
    const auto& y = b.pages[i];
    if (x.type != y.type || x.pvoltag != y.pvoltag || x.avoltag != y.avoltag ||
        x.descriptors != y.descriptors) {
      return false;
    }
  }
  return true;
}

void fuzz_report(ucam::Bytes input) {
  for (const auto dvcid : {smc::Dvcid::NotRequested, smc::Dvcid::Requested}) {
    if (auto r = smc::parse_element_status_data(input, dvcid)) {
      check(r->descriptor_count() <= r->number_of_elements_available);
      if (auto next = smc::next_element_status_request(*r)) {
        check(r->truncated && next->number_of_elements > 0);
      }
      if (auto again = smc::encode_element_status_data(*r)) {
        auto back = smc::parse_element_status_data(*again, dvcid);
        check(back.has_value() && same_pages(*back, *r) && !back->truncated);
      }
    }
    if (auto v = smc::parse_volume_element_address_data(input, dvcid)) {
      if (auto again = smc::encode_volume_element_address_data(*v)) {
        auto back = smc::parse_volume_element_address_data(*again, dvcid);
        check(back.has_value() && back->send_action_code == v->send_action_code &&
              same_pages(back->status, v->status));
      }
    }
  }
}

template <class Parse, class Build>
void cdb_round_trip(ucam::Bytes input, Parse parse, Build build) {
  if (auto request = parse(input)) {
    auto cdb = build(*request);
    check(cdb.has_value());
    auto back = parse(cdb->span());
    check(back.has_value() && *back == *request);
  }
}

template <class T>
ucam::Result<T> as_result(T value) {
  return value;
}

void fuzz_cdbs(ucam::Bytes input) {
  cdb_round_trip(input, smc::parse_read_element_status_cdb,
                 [](const auto& r) { return smc::read_element_status(r); });
  cdb_round_trip(input, smc::parse_request_volume_element_address_cdb,
                 [](const auto& r) { return smc::request_volume_element_address(r); });
  cdb_round_trip(input, smc::parse_send_volume_tag_cdb,
                 [](const auto& r) { return smc::send_volume_tag(r); });
  cdb_round_trip(input, smc::parse_move_medium_cdb,
                 [](const auto& r) { return as_result(smc::move_medium(r)); });
  cdb_round_trip(input, smc::parse_exchange_medium_cdb,
                 [](const auto& r) { return as_result(smc::exchange_medium(r)); });
  cdb_round_trip(input, smc::parse_position_to_element_cdb,
                 [](const auto& r) { return as_result(smc::position_to_element(r)); });
  cdb_round_trip(input, smc::parse_initialize_element_status_with_range_cdb, [](const auto& r) {
    return as_result(smc::initialize_element_status_with_range(r));
  });
  (void)smc::parse_initialize_element_status_cdb(input);
}

void fuzz_parameters(ucam::Bytes input) {
  if (auto p = smc::parse_send_volume_tag_parameters(input)) {
    if (auto again = smc::encode_send_volume_tag_parameters(*p)) {
      auto back = smc::parse_send_volume_tag_parameters(*again);
      check(back.has_value() && *back == *p);
    }
  }
}

void fuzz_mode_page(const ucam::scsi::ModePage& page) {
  if (auto a = smc::parse_element_address_assignment(page)) {
    for (std::uint32_t address = 0; address < 0x10000; address += 0x1111) {
      if (auto at = a->locate(static_cast<std::uint16_t>(address))) {
        auto again = a->address_of(at->type, at->index);
        check(again.has_value() && *again == address);
      }
    }
    check(*smc::parse_element_address_assignment(smc::encode_element_address_assignment(*a)) == *a);
  }
  if (auto g = smc::parse_transport_geometry(page)) {
    // A page from a device holds at most 127 descriptors; a synthetic one may hold more.
    auto again = smc::encode_transport_geometry(*g);
    check(again.has_value() == (g->transports.size() <= 127));
    check(!again || *smc::parse_transport_geometry(*again) == *g);
  }
  if (auto c = smc::parse_device_capabilities(page)) {
    check(*smc::parse_device_capabilities(smc::encode_device_capabilities(*c)) == *c);
  }
}

void fuzz_mode(ucam::Bytes input) {
  for (const auto format : {ucam::scsi::ModeHeaderFormat::Six, ucam::scsi::ModeHeaderFormat::Ten}) {
    if (auto mode = ucam::scsi::parse_mode_sense_data(input, format)) {
      for (const auto& page : mode->pages) {
        fuzz_mode_page(page);
      }
    }
  }
  // The input as one page body of each changer page code.
  for (const std::uint8_t code : {smc::kElementAddressAssignmentPage, smc::kTransportGeometryPage,
                                  smc::kDeviceCapabilitiesPage}) {
    ucam::scsi::ModePage page;
    page.page_code = code;
    page.data.assign(input.begin(), input.end());
    fuzz_mode_page(page);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  fuzz_report(input);
  fuzz_cdbs(input);
  fuzz_parameters(input);
  fuzz_mode(input);
  return 0;
}
