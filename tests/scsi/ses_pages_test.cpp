// scsi/ses_pages.h: every other SES page both ways, the splitter and the page-set decoder.
#include "scsi/ses_pages.h"

#include <gtest/gtest.h>

#include "base/hex.h"
#include "tests/scsi/oracle.h"
#include "tests/scsi/ses_test_util.h"

namespace ucam::scsi::ses {
namespace {

using Vec = std::vector<std::uint8_t>;
using test::has_warning;
using test::page_of;

SesConfig config_of(const Vec& all) {
  auto cfg = parse_ses_config(page_of(all, 0x01));
  EXPECT_TRUE(cfg.has_value());
  return cfg ? *cfg : SesConfig{};
}

// Positions where two equally long pages differ (all of the longer tail otherwise).
std::vector<std::size_t> differences(const Vec& a, const Vec& b) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i >= a.size() || i >= b.size() || a[i] != b[i]) {
      out.push_back(i);
    }
  }
  return out;
}

// Decodes one page and encodes it back with the matching encoder.
Result<Vec> round_trip(const Vec& page, const SesConfig& cfg) {
  if (page.empty()) {
    return fail_invalid("empty");
  }
  switch (page[0]) {
    case 0x00:
    case 0x0d: {
      auto p = parse_ses_supported_pages(page);
      // 0x0D padding is dropped on decode; compare against the padded original.
      if (!p) {
        return fail(p.error());
      }
      auto out = encode_ses_supported_pages(p->page_code, p->pages);
      if (out && out->size() < page.size()) {
        out->resize(page.size(), 0);
        store_be16(MutableBytes(*out), 2, static_cast<std::uint16_t>(out->size() - 4));
      }
      return out;
    }
    case 0x01:
      return parse_ses_config(page).and_then(encode_ses_config);
    case 0x02:
      return parse_ses_status(page, cfg).and_then(encode_ses_status);
    case 0x03:
      return parse_ses_help_text(page).and_then([](const SesHelpText& h) {
        return encode_ses_help_text(std::string(h.raw.begin(), h.raw.end()));
      });
    case 0x04:
      return parse_ses_string_in(page).and_then(
          [](const SesStringIn& s) { return encode_ses_string(s.data); });
    case 0x05:
      return parse_ses_threshold_in(page, cfg).and_then(encode_ses_threshold_in);
    case 0x07:
      return parse_ses_element_descriptors(page, cfg).and_then([](const SesElementDescriptors& d) {
        return encode_ses_element_descriptors(d.generation, d.raw);
      });
    case 0x08:
      return parse_ses_short_status(page).map(
          [](const SesShortStatus& s) { return encode_ses_short_status(s.status); });
    case 0x09:
      return parse_ses_enclosure_busy(page).and_then(encode_ses_enclosure_busy);
    case 0x0a:
      return parse_ses_additional_status(page, cfg).and_then([&](const SesAdditionalStatus& a) {
        return encode_ses_additional_status(cfg, a.generation, a.descriptors);
      });
    case 0x0b:
      return parse_ses_subenclosure_help_text(page).and_then([](const SesSubenclosureHelpText& h) {
        return encode_ses_subenclosure_help_text(h.generation, h.subenclosures);
      });
    case 0x0c:
      return parse_ses_subenclosure_string_in(page).and_then([](const SesSubenclosureStringIn& s) {
        return encode_ses_subenclosure_string_in(s.generation, s.subenclosures);
      });
    case 0x0e:
      return parse_ses_download_microcode_status(page).and_then(
          [](const SesDownloadMicrocodeStatus& m) {
            return encode_ses_download_microcode_status(m.generation, m.subenclosures);
          });
    case 0x0f:
      return parse_ses_nickname_status(page).and_then([](const SesNicknameStatus& n) {
        return encode_ses_nickname_status(n.generation, n.subenclosures);
      });
    default:
      return fail_invalid("no codec");
  }
}

TEST(SesPagesParse, DecodesTheMoreVector) {
  const auto all = test::oracle_file("more.hex");
  const auto cfg = config_of(all);
  auto help = parse_ses_help_text(page_of(all, 0x03));
  ASSERT_TRUE(help.has_value());
  EXPECT_EQ(help->text, "Call ACME support");
  auto str = parse_ses_string_in(page_of(all, 0x04));
  ASSERT_TRUE(str.has_value());
  EXPECT_EQ(hex_string(str->data), "01 02 03 68 65 6c 6c 6f");
  auto th = parse_ses_threshold_in(page_of(all, 0x05), cfg);
  ASSERT_TRUE(th.has_value());
  EXPECT_FALSE(th->invop);
  ASSERT_EQ(th->thresholds.size(), 7u);
  EXPECT_EQ(th->thresholds[6], (Threshold{0x50, 0x4b, 0x19, 0x14}));  // 60/55/5/0 C
  EXPECT_TRUE(th->warnings.empty());
  auto sh = parse_ses_short_status(page_of(all, 0x08));
  ASSERT_TRUE(sh.has_value());
  EXPECT_EQ(sh->status, 0x5a);
  auto busy = parse_ses_enclosure_busy(page_of(all, 0x09));
  ASSERT_TRUE(busy.has_value());
  EXPECT_TRUE(busy->busy);
  auto ssp = parse_ses_supported_pages(page_of(all, 0x0d));
  ASSERT_TRUE(ssp.has_value());
  EXPECT_EQ(ssp->pages,
            (Vec{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x08, 0x09, 0x0a, 0x0d, 0x0e, 0x0f}));
  auto mc = parse_ses_download_microcode_status(page_of(all, 0x0e), &cfg);
  ASSERT_TRUE(mc.has_value());
  ASSERT_EQ(mc->subenclosures.size(), 1u);
  EXPECT_EQ(mc->subenclosures[0].maximum_size, 1048576u);
  EXPECT_EQ(microcode_status_name(mc->subenclosures[0].status),
            "No download microcode operation in progress");
  EXPECT_TRUE(mc->warnings.empty());
}

// The vector put "en" in bytes 4-5; SES-4 (and sg_ses) read the language code from 6-7.
TEST(SesNicknameParse, ReadsTheLanguageCodeFromBytesSixAndSevenAndFlagsReservedBytes) {
  const auto all = test::oracle_file("more.hex");
  const auto cfg = config_of(all);
  auto nick = parse_ses_nickname_status(page_of(all, 0x0f), &cfg);
  ASSERT_TRUE(nick.has_value());
  ASSERT_EQ(nick->subenclosures.size(), 1u);
  EXPECT_EQ(nick->subenclosures[0].nickname, "Rack A JBOD 1");
  EXPECT_EQ(nick->subenclosures[0].language_code, 0);
  EXPECT_TRUE(has_warning(nick->warnings, "reserved bytes 4-5 are not zero (65 6e)"));
  EXPECT_EQ(language_code_string(0x656e), "en");
  EXPECT_EQ(language_code_string(0), "");
  EXPECT_EQ(language_code_string(0x0102), "0102");
}

TEST(SesPagesEncode, EveryPageOfTheVectorsAndCapturesRoundTripsByteExact) {
  const auto more = test::oracle_file("more.hex");
  const auto more_cfg = config_of(more);
  auto list = split_diagnostic_pages(more);
  ASSERT_TRUE(list.has_value());
  for (const auto& p : list->pages) {
    const Vec page(p.begin(), p.end());
    auto back = round_trip(page, more_cfg);
    ASSERT_TRUE(back.has_value()) << int{page[0]} << ": " << back.error().message();
    if (page[0] == 0x0f) {
      // The vector's "en" sits in reserved bytes 4-5 of the descriptor; the encoder writes
      // them as zero (and the language code, zero, to bytes 6-7).
      EXPECT_EQ(differences(page, *back), (std::vector<std::size_t>{12, 13}));
      continue;
    }
    EXPECT_EQ(hex_string(*back), hex_string(page)) << "page " << int{page[0]};
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> captures = {
      {"areca-arc8028-p01", {"p00", "p01", "p02", "p04", "p05", "p07", "p0a", "p0d", "p0e", "p0f"}},
      {"newisys-nds4600jd-0509-p01", {"p00", "p01", "p04", "p07"}},
      {"emc-tabasco-lcca-p01", {"p01"}},
      {"emc-tabasco-lccb-p01", {"p01"}},
      {"newisys-nds4600jd-b507-p01", {"p01"}},
  };
  for (const auto& [config_name, pages] : captures) {
    const auto cfg_page = test::real_capture(config_name);
    auto cfg = parse_ses_config(cfg_page);
    ASSERT_TRUE(cfg.has_value()) << config_name;
    const std::string prefix = config_name.substr(0, config_name.size() - 3);
    for (const auto& suffix : pages) {
      const auto page = test::real_capture(prefix + suffix);
      auto back = round_trip(page, *cfg);
      ASSERT_TRUE(back.has_value()) << prefix + suffix << ": " << back.error().message();
      const auto diff = differences(page, *back);
      if (prefix + suffix == "areca-arc8028-p0a") {
        // The expander descriptor (the last one, at byte 872) says element index 0; it is
        // mapped to the SAS Expander and re-encoded with that element's index, 25.
        ASSERT_EQ(diff, (std::vector<std::size_t>{875}));
        EXPECT_EQ(page[875], 0x00);
        EXPECT_EQ((*back)[875], 25);
      } else if (prefix.rfind("emc-tabasco", 0) == 0) {
        // Two subenclosures pad their product identification with NULs; SES wants spaces.
        EXPECT_EQ(diff.size(), 16u);
        for (const auto at : diff) {
          EXPECT_EQ(page[at], 0x00);
          EXPECT_EQ((*back)[at], ' ');
        }
      } else {
        EXPECT_EQ(hex_string(*back), hex_string(page)) << prefix + suffix;
      }
    }
  }
}

TEST(SesPagesEncode, SubenclosureTextAndStringPagesRoundTrip) {
  const std::vector<SubenclosureText> texts = {
      {0, "Primary help", Vec{'P', 'r', 'i', 'm', 'a', 'r', 'y', ' ', 'h', 'e', 'l', 'p'}},
      {2, "", {}}};
  auto page = encode_ses_subenclosure_help_text(9, texts);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(hex_string(Bytes(*page).first(8)), "0b 01 00 18 00 00 00 09");
  auto help = parse_ses_subenclosure_help_text(*page);
  ASSERT_TRUE(help.has_value());
  EXPECT_EQ(help->subenclosures, texts);
  EXPECT_TRUE(help->warnings.empty());
  const std::vector<SubenclosureData> strings = {{0, Vec{1, 2, 3}}, {1, Vec{}}};
  page = encode_ses_subenclosure_string_in(9, strings);
  ASSERT_TRUE(page.has_value());
  auto in = parse_ses_subenclosure_string_in(*page);
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->subenclosures, strings);
  EXPECT_FALSE(encode_ses_subenclosure_help_text(1, {}).has_value());
}

TEST(SesControlPages, StringThresholdSubenclosureStringAndNicknameLayouts) {
  EXPECT_EQ(hex_string(*encode_ses_string(Vec{0xaa, 0xbb})), "04 00 00 02 aa bb");
  const std::vector<Threshold> th = {{0, 0, 0, 0}, {0x50, 0x4b, 0x19, 0x14}};
  EXPECT_EQ(hex_string(*encode_ses_threshold_out(0x01020304, th)),
            "05 00 00 0c 01 02 03 04 00 00 00 00 50 4b 19 14");
  EXPECT_EQ(hex_string(*encode_ses_subenclosure_string_out(3, 7, Vec{'h', 'i'})),
            "0c 03 00 06 00 00 00 07 68 69");
  auto nick = encode_ses_nickname_control(1, 7, "Rack B");
  ASSERT_TRUE(nick.has_value());
  ASSERT_EQ(nick->size(), 40u);
  EXPECT_EQ(hex_string(Bytes(*nick).first(14)), "0f 01 00 24 00 00 00 07 52 61 63 6b 20 42");
  EXPECT_EQ((*nick)[39], ' ');
  EXPECT_FALSE(encode_ses_nickname_control(1, 7, std::string(33, 'x')).has_value());
  SesThresholds in;
  in.invop = true;
  in.generation = 1;
  in.thresholds = th;
  EXPECT_EQ((*encode_ses_threshold_in(in))[1], 0x10);
}

TEST(SesRealCaptures, ArecaThresholdPageIsShorterThanTheConfiguration) {
  auto cfg = parse_ses_config(test::real_capture("areca-arc8028-p01"));
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->element_count(), 50u);
  auto th = parse_ses_threshold_in(test::real_capture("areca-arc8028-p05"), *cfg);
  ASSERT_TRUE(th.has_value());
  EXPECT_EQ(th->thresholds.size(), 48u);
  EXPECT_TRUE(has_warning(th->warnings, "48 threshold elements, the configuration implies 50"));
}

TEST(SesRealCaptures, ArecaSupportedSesPagesDropsZeroPadding) {
  auto ssp = parse_ses_supported_pages(test::real_capture("areca-arc8028-p0d"));
  ASSERT_TRUE(ssp.has_value());
  EXPECT_EQ(ssp->pages, (Vec{0x01, 0x02, 0x04, 0x05, 0x07, 0x0a, 0x0d, 0x0e, 0x0f}));
  EXPECT_TRUE(ssp->warnings.empty());
  auto sdp = parse_ses_supported_pages(test::real_capture("areca-arc8028-p00"));
  ASSERT_TRUE(sdp.has_value());
  EXPECT_EQ(sdp->pages, (Vec{0x00, 0x01, 0x02, 0x04, 0x05, 0x07, 0x0a, 0x0d, 0x0e, 0x0f, 0x3f}));
}

TEST(SesRealCaptures, ArecaStringMicrocodeAndNicknamePages) {
  auto cfg = parse_ses_config(test::real_capture("areca-arc8028-p01"));
  ASSERT_TRUE(cfg.has_value());
  auto str = parse_ses_string_in(test::real_capture("areca-arc8028-p04"));
  ASSERT_TRUE(str.has_value());
  EXPECT_EQ(std::string(str->data.begin(), str->data.end()),
            std::string("We have implemented String In Diagnostic Page\0", 46));
  auto mc = parse_ses_download_microcode_status(test::real_capture("areca-arc8028-p0e"), &*cfg);
  ASSERT_TRUE(mc.has_value());
  EXPECT_EQ(mc->subenclosures[0].maximum_size, 1048576u);
  EXPECT_EQ(mc->subenclosures[0].status, 0);
  auto nick = parse_ses_nickname_status(test::real_capture("areca-arc8028-p0f"), &*cfg);
  ASSERT_TRUE(nick.has_value());
  EXPECT_EQ(nick->subenclosures[0].nickname, "Eval Board Nickname Simulator");
  EXPECT_TRUE(nick->warnings.empty());
}

TEST(SesSplit, IsLenientAboutCutAndTrailingBytes) {
  const auto all = test::oracle_file("all.hex");
  auto list = split_diagnostic_pages(all);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->pages.size(), 5u);
  EXPECT_TRUE(list->warnings.empty());
  Vec cut(all.begin(), all.end() - 3);
  list = split_diagnostic_pages(cut);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->pages.size(), 5u);
  EXPECT_TRUE(has_warning(list->warnings, "page 0x0a at byte"));
  Vec trailing = all;
  trailing.push_back(0);
  list = split_diagnostic_pages(trailing);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->pages.size(), 5u);
  EXPECT_TRUE(has_warning(list->warnings, "1 bytes after the last page"));
  EXPECT_FALSE(split_diagnostic_pages(Vec{}).has_value());
  EXPECT_FALSE(split_diagnostic_pages(Vec{1, 0}).has_value());
}

TEST(SesPageSet, DecodesEveryPageOfTheMoreVector) {
  auto set = decode_ses_pages(test::oracle_file("more.hex"));
  ASSERT_TRUE(set.has_value());
  EXPECT_TRUE(set->supported && set->config && set->status && set->help_text && set->string_in &&
              set->thresholds && set->descriptors && set->short_status && set->busy &&
              set->additional && set->ses_supported && set->microcode && set->nicknames);
  EXPECT_TRUE(set->other_pages.empty());
  EXPECT_TRUE(has_warning(set->warnings, "page 0x0f: subenclosure nickname status"));
}

TEST(SesPageSet, KeepsPagesThatNeedAConfigurationRawWithoutOne) {
  const auto all = test::oracle_file("all.hex");
  Vec without;
  for (const std::uint8_t code : {0x00, 0x02, 0x0a}) {
    const auto p = page_of(all, code);
    without.insert(without.end(), p.begin(), p.end());
  }
  const auto vendor = test::real_capture("newisys-nds4600jd-0509-p80");
  without.insert(without.end(), vendor.begin(), vendor.end());
  auto set = decode_ses_pages(without);
  ASSERT_TRUE(set.has_value());
  EXPECT_TRUE(set->supported.has_value());
  EXPECT_FALSE(set->status.has_value());
  ASSERT_EQ(set->other_pages.size(), 3u);
  EXPECT_EQ(set->other_pages[2].page_code, 0x80);
  EXPECT_TRUE(has_warning(set->warnings, "page 0x02: Enclosure Status needs the Configuration"));
}

TEST(SesPageSet, ReportsDuplicatePagesAndUndecodablePages) {
  auto all = test::oracle_file("all.hex");
  const auto st = page_of(all, 0x02);
  all.insert(all.end(), st.begin(), st.end());
  all.insert(all.end(), {0x03, 0x00});  // two bytes: not a page
  auto set = decode_ses_pages(all);
  ASSERT_TRUE(set.has_value());
  EXPECT_TRUE(has_warning(set->warnings, "page 0x02: appears more than once"));
  EXPECT_TRUE(has_warning(set->warnings, "2 bytes after the last page"));
}

// Every prefix of every page, through every parser that accepts its code.
TEST(SesPagesSafety, EveryPrefixOfEveryPageIsSafe) {
  std::vector<Vec> sources = {test::oracle_file("more.hex"), test::oracle_file("eiioe1.hex")};
  sources.push_back(test::real_captures(
      {"areca-arc8028-p00", "areca-arc8028-p01", "areca-arc8028-p02", "areca-arc8028-p04",
       "areca-arc8028-p05", "areca-arc8028-p07", "areca-arc8028-p0a", "areca-arc8028-p0d",
       "areca-arc8028-p0e", "areca-arc8028-p0f"}));
  for (const auto& all : sources) {
    const auto cfg = config_of(all);
    auto list = split_diagnostic_pages(all);
    ASSERT_TRUE(list.has_value());
    for (const auto& p : list->pages) {
      ucam::scsi::test::for_each_prefix(p, [&](Bytes b) {
        (void)round_trip(Vec(b.begin(), b.end()), cfg);  // parse, and encode what parsed
        (void)parse_ses_subenclosure_help_text(b, &cfg);
        (void)parse_ses_subenclosure_string_in(b, &cfg);
        (void)decode_ses_pages(b);
      });
    }
    ucam::scsi::test::for_each_prefix(all, [](Bytes b) { (void)decode_ses_pages(b); });
  }
}

TEST(SesPagesSafety, RandomBuffersAreSafe) {
  const auto cfg = config_of(test::oracle_file("all.hex"));
  ucam::scsi::test::for_random_buffers(20000, 80, [&](Bytes b) {
    Vec v(b.begin(), b.end());
    for (std::uint8_t code = 0; code <= 0x10; ++code) {
      if (!v.empty()) {
        v[0] = code;
      }
      (void)round_trip(v, cfg);
      (void)parse_ses_subenclosure_help_text(v, &cfg);
      (void)parse_ses_subenclosure_string_in(v, &cfg);
    }
    (void)decode_ses_pages(v);
  });
}

}  // namespace
}  // namespace ucam::scsi::ses
