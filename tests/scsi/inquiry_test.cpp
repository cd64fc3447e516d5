#include "scsi/inquiry.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/scsi/oracle.h"

namespace ucam::scsi {
namespace {

std::vector<std::uint8_t> enclosure_vector() {
  // shared/conformance/oracle/inq.hex
  return {0x0d, 0x00, 0x06, 0x02, 0x1f, 0x00, 0x40, 0x02, 'A', 'C', 'M', 'E',
          ' ',  ' ',  ' ',  ' ',  'T',  'E',  'S',  'T',  'J', 'B', 'O', 'D',
          '4',  ' ',  ' ',  ' ',  ' ',  ' ',  ' ',  ' ',  '0', '0', '0', '1'};
}

TEST(StandardInquiryParse, DecodesEnclosureVector) {
  auto r = parse_standard_inquiry(enclosure_vector());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->peripheral_qualifier, 0);
  EXPECT_EQ(r->peripheral_type(), PeripheralType::EnclosureServices);
  EXPECT_EQ(r->version, 0x06);
  EXPECT_EQ(r->response_data_format, 2);
  EXPECT_EQ(r->additional_length, 0x1f);
  EXPECT_TRUE(r->encserv);
  EXPECT_TRUE(r->cmdque);
  EXPECT_FALSE(r->multip);
  EXPECT_EQ(r->vendor, "ACME");
  EXPECT_EQ(r->product, "TESTJBOD4");
  EXPECT_EQ(r->revision, "0001");
  EXPECT_FALSE(r->truncated);
  EXPECT_TRUE(r->version_descriptors.empty());
}

TEST(StandardInquiryParse, RejectsFewerThanThirtySixBytes) {
  const auto v = enclosure_vector();
  auto r = parse_standard_inquiry(Bytes(v).first(35));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("truncated"), std::string::npos);
}

TEST(StandardInquiryParse, RejectsAdditionalLengthTooSmallForFields) {
  auto v = enclosure_vector();
  v[4] = 0x1e;
  EXPECT_FALSE(parse_standard_inquiry(v).has_value());
}

TEST(StandardInquiryParse, FlagsDataCutByAllocationLength) {
  StandardInquiry q;
  q.vendor = "V";
  q.version_descriptors = {0x0460, 0x0600};
  auto bytes = encode_standard_inquiry(q);
  ASSERT_TRUE(bytes.has_value());
  ASSERT_EQ(bytes->size(), 62u);
  auto cut = parse_standard_inquiry(Bytes(*bytes).first(60));
  ASSERT_TRUE(cut.has_value());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->version_descriptors, std::vector<std::uint16_t>{0x0460});
}

TEST(StandardInquiryEncode, RoundTripsEveryField) {
  StandardInquiry q;
  q.peripheral_qualifier = 1;
  q.device_type = 0x08;
  q.rmb = true;
  q.lu_cong = true;
  q.version = 0x07;
  q.normaca = true;
  q.hisup = true;
  q.sccs = true;
  q.acc = true;
  q.tpgs = 3;
  q.third_party_copy = true;
  q.protect = true;
  q.encserv = true;
  q.multip = true;
  q.cmdque = true;
  q.vendor = "UCAM";
  q.product = "EMULATED CHANGER";
  q.revision = "0.1";
  q.version_descriptors = {0x00c0, 0x0460, 0x04a0};
  auto bytes = encode_standard_inquiry(q);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message();
  EXPECT_EQ(bytes->size(), 64u);
  auto back = parse_standard_inquiry(*bytes);
  ASSERT_TRUE(back.has_value());
  q.additional_length = 59;
  EXPECT_EQ(*back, q);
}

TEST(StandardInquiryEncode, PadsWithSpacesToThirtySixBytes) {
  StandardInquiry q;
  q.vendor = "AB";
  auto bytes = encode_standard_inquiry(q);
  ASSERT_TRUE(bytes.has_value());
  ASSERT_EQ(bytes->size(), 36u);
  EXPECT_EQ((*bytes)[4], 31);
  EXPECT_EQ((*bytes)[10], ' ');
  EXPECT_EQ((*bytes)[31], ' ');
}

TEST(StandardInquiryEncode, RejectsOverlongOrNonAsciiStrings) {
  StandardInquiry q;
  q.vendor = "NINECHARS";
  EXPECT_FALSE(encode_standard_inquiry(q).has_value());
  q.vendor = "OK";
  q.product = std::string("BAD\x01", 4);
  EXPECT_FALSE(encode_standard_inquiry(q).has_value());
  q.product = "P";
  q.tpgs = 4;
  EXPECT_FALSE(encode_standard_inquiry(q).has_value());
  q.tpgs = 0;
  q.version_descriptors.assign(9, 1);
  EXPECT_FALSE(encode_standard_inquiry(q).has_value());
}

TEST(PeripheralTypeName, NamesEveryType) {
  EXPECT_EQ(peripheral_type_name(PeripheralType::DirectAccessBlock), "direct access block device");
  EXPECT_EQ(peripheral_type_name(PeripheralType::Processor), "processor device");
  EXPECT_EQ(peripheral_type_name(PeripheralType::MediumChanger), "medium changer device");
  EXPECT_EQ(peripheral_type_name(PeripheralType::EnclosureServices), "enclosure services device");
  EXPECT_EQ(peripheral_type_name(PeripheralType::Unknown), "unknown or no device type");
  EXPECT_EQ(peripheral_type_name(0x15), "reserved [0x15]");
  EXPECT_EQ(peripheral_type_name(0x0a), "obsolete [0x0a]");
  for (unsigned t = 0; t < 32; ++t) {
    EXPECT_FALSE(peripheral_type_name(static_cast<std::uint8_t>(t)).empty());
  }
}

TEST(StandardInquiryParse, EveryPrefixAndRandomBufferIsSafe) {
  StandardInquiry q;
  q.vendor = "V";
  q.version_descriptors = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto full = *encode_standard_inquiry(q);
  test::for_each_prefix(full, [](Bytes b) {
    auto r = parse_standard_inquiry(b);
    EXPECT_EQ(r.has_value(), b.size() >= 36);
    if (r) {
      EXPECT_EQ(r->truncated, b.size() < 74);
      EXPECT_LE(r->version_descriptors.size(), 8u);
    }
  });
  test::for_random_buffers(5000, 120, [](Bytes b) { (void)parse_standard_inquiry(b); });
}

// ---- Oracle ---------------------------------------------------------------------------------

// "Key=value" tokens of sg_inq / sg_vpd standard INQUIRY output ("PDT=13", "[AERC=0]").
std::map<std::string, std::uint64_t> key_values(const std::string& text) {
  std::map<std::string, std::uint64_t> kv;
  for (const auto& [key, value] : test::key_values(text)) {
    kv.emplace(key, value);
  }
  return kv;
}

// The value after "label:" on the line that has it, trailing blanks trimmed.
std::string field_after(const std::string& text, const std::string& label) {
  for (const auto& line : test::lines(text)) {
    const auto at = line.find(label);
    if (at != std::string::npos) {
      std::string v = line.substr(at + label.size());
      v.erase(0, v.find_first_not_of(' '));
      while (!v.empty() && v.back() == ' ') {
        v.pop_back();
      }
      return v;
    }
  }
  return "<" + label + " missing>";
}

int num(const std::map<std::string, std::uint64_t>& kv, const std::string& key) {
  const auto it = kv.find(key);
  return it == kv.end() ? -1 : static_cast<int>(it->second);
}

void expect_same_as_oracle(const StandardInquiry& q, const std::string& out) {
  const auto kv = key_values(out);
  EXPECT_EQ(num(kv, "PQual"), q.peripheral_qualifier) << out;
  EXPECT_EQ(num(kv, "PDT"), q.device_type) << out;
  EXPECT_EQ(num(kv, "RMB"), q.rmb) << out;
  EXPECT_EQ(num(kv, "LU_CONG"), q.lu_cong) << out;
  EXPECT_EQ(num(kv, "version"), q.version) << out;
  EXPECT_EQ(num(kv, "NormACA"), q.normaca) << out;
  EXPECT_EQ(num(kv, "HiSUP"), q.hisup) << out;
  EXPECT_EQ(num(kv, "Resp_data_format"), q.response_data_format) << out;
  EXPECT_EQ(num(kv, "SCCS"), q.sccs) << out;
  EXPECT_EQ(num(kv, "ACC"), q.acc) << out;
  EXPECT_EQ(num(kv, "TPGS"), q.tpgs) << out;
  EXPECT_EQ(num(kv, "3PC"), q.third_party_copy) << out;
  EXPECT_EQ(num(kv, "Protect"), q.protect) << out;
  EXPECT_EQ(num(kv, "EncServ"), q.encserv) << out;
  EXPECT_EQ(num(kv, "MultiP"), q.multip) << out;
  EXPECT_EQ(num(kv, "CmdQue"), q.cmdque) << out;
}

TEST(StandardInquiryOracle, AgreesWithSgInqOnConformanceVectors) {
  ASSERT_TRUE(test::have_tool("sg_inq")) << test::missing_tool_message("sg_inq");
  for (const std::string name : {"inq.hex", "inq_disk.hex"}) {
    const auto bytes = test::oracle_vector(name);
    auto ours = parse_standard_inquiry(bytes);
    ASSERT_TRUE(ours.has_value()) << name << ": " << ours.error().message();
    const auto path = (test::shared_dir() / "conformance" / "oracle" / name).string();
    const auto r = test::run({"sg_inq", "--inhex=" + path});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_same_as_oracle(*ours, r.output);
    EXPECT_EQ(field_after(r.output, "Vendor identification:"), ours->vendor);
    EXPECT_EQ(field_after(r.output, "Product identification:"), ours->product);
    EXPECT_EQ(field_after(r.output, "Product revision level:"), ours->revision);
  }
}

TEST(StandardInquiryOracle, EnclosureTypeNameMatchesSgInq) {
  ASSERT_TRUE(test::have_tool("sg_inq")) << test::missing_tool_message("sg_inq");
  const auto path = (test::shared_dir() / "conformance" / "oracle" / "inq.hex").string();
  const auto r = test::run({"sg_inq", "--inhex=" + path});
  EXPECT_EQ(field_after(r.output, "Peripheral device type:"),
            peripheral_type_name(PeripheralType::EnclosureServices));
}

// Independent-decoder check: random INQUIRY data from our encoder, decoded by sg_vpd.
TEST(StandardInquiryOracle, SgVpdDecodesRandomEncodedInquiryAsWeDo) {
  ASSERT_TRUE(test::have_tool("sg_vpd")) << test::missing_tool_message("sg_vpd");
  std::mt19937 rng(7);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
  auto word = [&](std::size_t max) {
    std::string s(1 + rng() % max, 'X');
    for (auto& c : s) {
      c = alphabet[rng() % alphabet.size()];
    }
    return s;
  };
  for (int i = 0; i < 25; ++i) {
    StandardInquiry q;
    q.peripheral_qualifier = static_cast<std::uint8_t>(rng() % 2 == 0 ? 0 : 1);
    q.device_type = static_cast<std::uint8_t>(rng() % 0x15);
    q.rmb = rng() % 2;
    q.lu_cong = rng() % 2;
    q.version = static_cast<std::uint8_t>(3 + rng() % 5);
    q.normaca = rng() % 2;
    q.hisup = rng() % 2;
    q.sccs = rng() % 2;
    q.acc = rng() % 2;
    q.tpgs = static_cast<std::uint8_t>(rng() % 4);
    q.third_party_copy = rng() % 2;
    q.protect = rng() % 2;
    q.encserv = rng() % 2;
    q.multip = rng() % 2;
    q.cmdque = rng() % 2;
    q.vendor = word(8);
    q.product = word(16);
    q.revision = word(4);
    auto bytes = encode_standard_inquiry(q);
    ASSERT_TRUE(bytes.has_value());
    test::TempHexFile file(*bytes);
    const auto r = test::run({"sg_vpd", "--inhex=" + file.path(), "-p", "sinq"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_same_as_oracle(q, r.output);
    EXPECT_EQ(field_after(r.output, "Vendor_identification:"), q.vendor) << r.output;
    EXPECT_EQ(field_after(r.output, "Product_identification:"), q.product) << r.output;
    EXPECT_EQ(field_after(r.output, "Product_revision_level:"), q.revision) << r.output;
  }
}

}  // namespace
}  // namespace ucam::scsi
