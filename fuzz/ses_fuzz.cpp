// libFuzzer target for the SES codecs (scsi/ses*.h). The first byte is a page code and picks
// the parser, as a device's reply would; config-dependent pages are read against a fixed
// configuration (the ACME vector of shared/conformance/oracle) and, through decode_ses_pages,
// against whatever Configuration page the input itself carries. Everything that parses is
// encoded again and, where the codec is lossless, must parse back to the same value. Decoders
// only: rendering (JSON and text) costs more than decoding and has a target of its own,
// ses_render_fuzz.cpp, so that this one runs fast enough to reach 10^7 executions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "scsi/ses.h"
#include "scsi/ses_element.h"
#include "scsi/ses_pages.h"

namespace ses = ucam::scsi::ses;

namespace {

const ses::SesConfig& fixed_config() {
  static const ses::SesConfig config = [] {
    static const std::uint8_t kPage[] = {
        0x01, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x02, 0x24, 0x50,
        0x00, 0xc5, 0x00, 0x12, 0x34, 0x56, 0x78, 0x41, 0x43, 0x4d, 0x45, 0x20, 0x20,
        0x20, 0x20, 0x54, 0x45, 0x53, 0x54, 0x4a, 0x42, 0x4f, 0x44, 0x34, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x30, 0x30, 0x30, 0x31, 0x01, 0x04, 0x00, 0x05,
        0x04, 0x01, 0x00, 0x04, 0x53, 0x6c, 0x6f, 0x74, 0x73, 0x54, 0x65, 0x6d, 0x70};
    auto c = ses::parse_ses_config(ucam::Bytes(kPage, sizeof kPage));
    if (!c) {
      std::abort();
    }
    return *c;
  }();
  return config;
}

using ucam::fuzz::check;

void fuzz_page(ucam::Bytes page) {
  const auto& cfg = fixed_config();
  switch (page.empty() ? -1 : page[0]) {
    case 0x01:
      if (auto c = ses::parse_ses_config(page)) {
        (void)ses::build_element_map(*c);
        if (auto again = ses::encode_ses_config(*c)) {
          auto back = ses::parse_ses_config(*again);
          check(back.has_value() && back->types == c->types &&
                back->subenclosures.size() == c->subenclosures.size());
        }
      }
      break;
    case 0x02:
    case 0x08:
      if (auto st = ses::parse_ses_status(page, cfg)) {
        const auto map = ses::build_element_map(cfg);
        for (std::size_t g = 0; g < st->elements.size() && g < map.size(); ++g) {
          const auto type = map[g].element_type;
          (void)ses::decode_element_fields(type, st->elements[g]);
          (void)ses::status_to_control(type, st->elements[g]);
        }
        if (auto again = ses::encode_ses_status(*st)) {
          auto back = ses::parse_ses_status(*again, cfg);
          check(back.has_value() && back->elements == st->elements);
        }
        const std::vector<ses::ElementChange> changes = {{1, {0, 0, 2, 0}}};
        (void)ses::encode_ses_control(*st, st->generation, 0, changes);
      }
      break;
    case 0x07:
      if (auto d = ses::parse_ses_element_descriptors(page, cfg)) {
        (void)ses::encode_ses_element_descriptors(d->generation, d->raw);
      }
      break;
    case 0x0a:
      for (const auto policy : {ses::EiioePolicy::AsReported, ses::EiioePolicy::ForceGlobal}) {
        if (auto a = ses::parse_ses_additional_status(page, cfg, policy)) {
          std::vector<ses::AesDescriptor> mapped;
          for (const auto& d : a->descriptors) {
            if (d.global_index >= 0) {
              mapped.push_back(d);
            }
          }
          (void)ses::encode_ses_additional_status(cfg, a->generation, mapped);
        }
      }
      break;
    case 0x05:
      if (auto t = ses::parse_ses_threshold_in(page, cfg)) {
        (void)ses::encode_ses_threshold_in(*t);
      }
      break;
    case 0x00:
    case 0x0d:
      (void)ses::parse_ses_supported_pages(page);
      break;
    case 0x03:
      (void)ses::parse_ses_help_text(page);
      break;
    case 0x04:
      (void)ses::parse_ses_string_in(page);
      break;
    case 0x09:
      (void)ses::parse_ses_enclosure_busy(page);
      break;
    case 0x0b:
      (void)ses::parse_ses_subenclosure_help_text(page, &cfg);
      break;
    case 0x0c:
      (void)ses::parse_ses_subenclosure_string_in(page, &cfg);
      break;
    case 0x0e:
      if (auto m = ses::parse_ses_download_microcode_status(page, &cfg)) {
        (void)ses::encode_ses_download_microcode_status(m->generation, m->subenclosures);
      }
      break;
    case 0x0f:
      if (auto n = ses::parse_ses_nickname_status(page, &cfg)) {
        (void)ses::encode_ses_nickname_status(n->generation, n->subenclosures);
      }
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ucam::Bytes input(data, size);
  fuzz_page(input);
  // The whole input as a capture: split and decode every page.
  (void)ses::decode_ses_pages(input);
  return 0;
}
