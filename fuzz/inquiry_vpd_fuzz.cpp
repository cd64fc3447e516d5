// libFuzzer target for INQUIRY data (scsi/inquiry.h) and the VPD pages ucam reads (scsi/vpd.h:
// Supported VPD Pages 00h, Unit Serial Number 80h, Device Identification 83h). Every input is
// tried as each of them, as a device's reply to INQUIRY with and without EVPD would be. What
// decodes is encoded again and must decode to the same value; every designator goes through the
// typed accessors and the text rendering.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_check.h"
#include "scsi/inquiry.h"
#include "scsi/safte.h"
#include "scsi/vpd.h"

namespace scsi = ucam::scsi;

namespace {

using ucam::fuzz::check;

void fuzz_standard_inquiry(ucam::Bytes input) {
  (void)scsi::safte::is_safte_inquiry(input);
  auto q = scsi::parse_standard_inquiry(input);
  if (!q) {
    return;
  }
  (void)scsi::peripheral_type_name(q->device_type);
  auto again = scsi::encode_standard_inquiry(*q);
  if (!again) {
    return;
  }
  auto back = scsi::parse_standard_inquiry(*again);
  check(back.has_value());
  // The encoder computes ADDITIONAL LENGTH and always writes whole fields.
  back->additional_length = q->additional_length;
  back->truncated = q->truncated;
  check(*back == *q);
}

void fuzz_designator(const scsi::Designator& d) {
  (void)scsi::parse_naa(d);
  (void)scsi::naa_u64(d);
  (void)scsi::parse_eui64(d);
  (void)scsi::relative_target_port(d);
  (void)scsi::target_port_group(d);
  (void)scsi::logical_unit_group(d);
  (void)scsi::parse_t10_vendor_id(d);
  (void)scsi::scsi_name_string(d);
  (void)scsi::parse_uuid_designator(d);
  (void)scsi::designator_value_text(d);
  (void)scsi::code_set_name(d.code_set);
  (void)scsi::protocol_id_name(d.protocol_id);
  (void)scsi::association_name(d.association);
  (void)scsi::designator_type_name(d.type);
}

void fuzz_vpd(ucam::Bytes input) {
  (void)scsi::parse_vpd_header(input);
  if (auto pages = scsi::parse_supported_vpd_pages(input)) {
    if (auto again = scsi::encode_supported_vpd_pages(*pages)) {
      auto back = scsi::parse_supported_vpd_pages(*again);
      check(back.has_value() && *back == *pages);
    }
  }
  if (auto serial = scsi::parse_unit_serial_number(input)) {
    if (auto again = scsi::encode_unit_serial_number(*serial)) {
      auto back = scsi::parse_unit_serial_number(*again);
      check(back.has_value() && *back == *serial);
    }
  }
  if (auto designators = scsi::parse_device_identification(input)) {
    for (const auto& d : *designators) {
      fuzz_designator(d);
    }
    (void)scsi::describe_device_identification(*designators);
    if (auto again = scsi::encode_device_identification(*designators)) {
      auto back = scsi::parse_device_identification(*again);
      check(back.has_value() && *back == *designators);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  fuzz_standard_inquiry(input);
  fuzz_vpd(input);
  return 0;
}
