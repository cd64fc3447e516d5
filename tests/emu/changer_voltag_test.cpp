// The changer model's volume tags (SEND VOLUME TAG, REQUEST VOLUME ELEMENT ADDRESS, alternate
// tags in READ ELEMENT STATUS) and its faults (a medium stuck in the picker, an unreadable
// label).
#include <gtest/gtest.h>

#include "scsi/cdb.h"
#include "scsi/sense.h"
#include "scsi/smc.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

namespace smc = scsi::smc;
using Action = smc::SendVolumeTagAction;

// Picker 0x0000, portal 0x0010, drive 0x0100, slots 0x1000-0x1007: slots 0-3 full
// (UCAM001L6..UCAM004L6), slot 5 CLN001L6, portal 0 IMP001L6.
constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":4,"luns":[{"type":"changer","slots":8,"portals":1,"full_slots":4,"drives":1,
    "alternate_tags":true,
    "media":{"5":"CLN001L6"},"portal_media":{"0":"IMP001L6"}}]}]}]})";
constexpr LunAddress kChanger{0, 4, 0};
constexpr std::uint16_t kPicker = 0x0000;
constexpr std::uint16_t kPortal0 = 0x0010;
constexpr std::uint16_t kDrive0 = 0x0100;
constexpr std::uint16_t kSlot0 = 0x1000;
constexpr std::uint16_t kSlot4 = 0x1004;
constexpr std::uint16_t kSlot5 = 0x1005;

Reply send_tag(Harness& h, Action action, std::uint16_t address, const std::string& tag,
               smc::ElementType type = smc::ElementType::All, std::uint16_t sequence = 0) {
  smc::SendVolumeTagParameters parameters;
  parameters.volume_identification_template = tag;
  parameters.minimum_sequence_number = sequence;
  const auto list = *smc::encode_send_volume_tag_parameters(parameters);
  return h.write(kChanger, *smc::send_volume_tag({type, address, action}),
                 std::vector<std::uint8_t>(list.begin(), list.end()));
}

struct Found {
  Reply reply;
  smc::VolumeElementAddressData data;
  std::vector<std::uint16_t> addresses() const {
    std::vector<std::uint16_t> out;
    for (const auto& page : data.status.pages) {
      for (const auto& d : page.descriptors) {
        out.push_back(d.address);
      }
    }
    return out;
  }
};

Found request_addresses(Harness& h, std::uint16_t from = 0, std::uint16_t count = 0xffff,
                        smc::ElementType type = smc::ElementType::All,
                        std::uint32_t allocation = 4096) {
  smc::RequestVolumeElementAddressRequest request;
  request.type = type;
  request.voltag = smc::VolumeTags::Include;
  request.element_address = from;
  request.number_of_elements = count;
  request.allocation_length = allocation;
  Found f;
  f.reply = h.read(kChanger, *smc::request_volume_element_address(request), allocation);
  if (f.reply.good()) {
    auto decoded = smc::parse_volume_element_address_data(f.reply.data, smc::Dvcid::NotRequested);
    EXPECT_TRUE(decoded) << (decoded ? "" : decoded.error().message());
    if (decoded) {
      f.data = std::move(*decoded);
    }
  }
  return f;
}

class EmuChangerVolumeTags : public ::testing::Test {
 protected:
  Harness h{kScenario};

  // The descriptor of `address` from a fresh READ ELEMENT STATUS with VOLTAG.
  smc::ElementDescriptor element(std::uint16_t address) {
    smc::ReadElementStatusRequest request;
    request.voltag = smc::VolumeTags::Include;
    request.number_of_elements = 0xffff;
    request.allocation_length = 8192;
    const Reply r = h.read(kChanger, *smc::read_element_status(request), 8192);
    EXPECT_TRUE(r.good());
    auto data = smc::parse_element_status_data(r.data, smc::Dvcid::NotRequested);
    EXPECT_TRUE(data);
    const auto* d = data ? data->find(address) : nullptr;
    EXPECT_NE(d, nullptr) << address;
    return d != nullptr ? *d : smc::ElementDescriptor{};
  }
};

TEST_F(EmuChangerVolumeTags, ReadElementStatusReportsBlankAlternateTags) {
  const auto d = element(kSlot0);
  ASSERT_TRUE(d.primary_tag && d.alternate_tag);
  EXPECT_EQ(d.primary_tag->identifier, "UCAM001L6");
  EXPECT_TRUE(d.alternate_tag->blank());
}

TEST_F(EmuChangerVolumeTags, TranslateWithWildcardsFindsTheMatchingElements) {
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0, "UCAM00?L6").good());
  Found f = request_addresses(h);
  ASSERT_TRUE(f.reply.good());
  EXPECT_EQ(f.data.send_action_code, 0x05);
  EXPECT_EQ(f.addresses(), (std::vector<std::uint16_t>{0x1000, 0x1001, 0x1002, 0x1003}));
  ASSERT_FALSE(f.data.status.pages.empty());
  EXPECT_EQ(f.data.status.pages[0].descriptors[0].primary_tag->identifier, "UCAM001L6");

  // '*' matches any rest; what follows it is not used.
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0, "*XYZ").good());
  EXPECT_EQ(request_addresses(h).addresses().size(), 6U);  // Every full element.
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0, "CLN*").good());
  EXPECT_EQ(request_addresses(h).addresses(), (std::vector<std::uint16_t>{kSlot5}));
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0, "UCAM001").good());  // No wildcard.
  EXPECT_TRUE(request_addresses(h).addresses().empty());
  // The element type and starting address of the CDB limit the search.
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0x1002, "*", smc::ElementType::Storage).good());
  EXPECT_EQ(request_addresses(h).addresses(), (std::vector<std::uint16_t>{0x1002, 0x1003, kSlot5}));
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0, "*", smc::ElementType::ImportExport).good());
  EXPECT_EQ(request_addresses(h).addresses(), (std::vector<std::uint16_t>{kPortal0}));
}

TEST_F(EmuChangerVolumeTags, RequestVolumeElementAddressPagesFromAnAddress) {
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0, "*").good());
  Found first = request_addresses(h, 0, 2);
  EXPECT_EQ(first.addresses(), (std::vector<std::uint16_t>{kPortal0, kSlot0}));
  Found rest = request_addresses(h, kSlot0 + 1);
  EXPECT_EQ(rest.addresses(), (std::vector<std::uint16_t>{0x1001, 0x1002, 0x1003, kSlot5}));
  Found slots = request_addresses(h, 0, 0xffff, smc::ElementType::ImportExport);
  EXPECT_EQ(slots.addresses(), (std::vector<std::uint16_t>{kPortal0}));
  // Cut by the allocation length: the header keeps the whole count.
  Found cut = request_addresses(h, 0, 0xffff, smc::ElementType::All, 100);
  ASSERT_TRUE(cut.reply.good());
  EXPECT_TRUE(cut.data.status.truncated);
  EXPECT_EQ(cut.data.status.number_of_elements_available, 6);
}

TEST_F(EmuChangerVolumeTags, RequestVolumeElementAddressBeforeATranslateIsASequenceError) {
  const Found f = request_addresses(h);
  ASSERT_TRUE(f.reply.check_condition());
  EXPECT_EQ(f.reply.sense_code(), scsi::kCommandSequenceError);
}

TEST_F(EmuChangerVolumeTags, AssertSetsATagOnlyWhenThereIsNone) {
  ASSERT_TRUE(
      send_tag(h, Action::AssertAlternate, kSlot0, "ALT001", smc::ElementType::All, 7).good());
  auto d = element(kSlot0);
  EXPECT_EQ(d.alternate_tag->identifier, "ALT001");
  EXPECT_EQ(d.alternate_tag->sequence, 7);
  const Reply again = send_tag(h, Action::AssertAlternate, kSlot0, "ALT002");
  ASSERT_TRUE(again.check_condition());
  EXPECT_EQ(again.sense_code(), scsi::kCommandSequenceError);
  EXPECT_EQ(send_tag(h, Action::AssertPrimary, kSlot0, "NEW001L6").sense_code(),
            scsi::kCommandSequenceError);
  EXPECT_EQ(element(kSlot0).alternate_tag->identifier, "ALT001");
  // The alternate tag travels with the medium and can be searched.
  ASSERT_TRUE(h.run(kChanger, smc::move_medium({0, kSlot0, kDrive0, smc::Invert::No})).good());
  EXPECT_EQ(element(kDrive0).alternate_tag->identifier, "ALT001");
  ASSERT_TRUE(send_tag(h, Action::TranslateAlternate, 0, "ALT*").good());
  Found f = request_addresses(h);
  EXPECT_EQ(f.data.send_action_code, 0x06);
  EXPECT_EQ(f.addresses(), (std::vector<std::uint16_t>{kDrive0}));
}

TEST_F(EmuChangerVolumeTags, ReplaceOverwritesAndUndefineClears) {
  ASSERT_TRUE(send_tag(h, Action::ReplacePrimary, kSlot0, "NEW001L6").good());
  EXPECT_EQ(element(kSlot0).primary_tag->identifier, "NEW001L6");
  // Undefine takes no parameter list.
  ASSERT_TRUE(h.run(kChanger, *smc::send_volume_tag(
                                  {smc::ElementType::All, kSlot0, Action::UndefinePrimary, 0}))
                  .good());
  const auto d = element(kSlot0);
  EXPECT_TRUE(d.full);
  EXPECT_TRUE(d.primary_tag->blank());
  // Now an assert may define it.
  EXPECT_TRUE(send_tag(h, Action::AssertPrimary, kSlot0, "ASR001L6").good());
  EXPECT_EQ(element(kSlot0).primary_tag->identifier, "ASR001L6");
}

TEST_F(EmuChangerVolumeTags, BadRequestsGetTheirSense) {
  EXPECT_EQ(send_tag(h, Action::ReplacePrimary, kSlot4, "X").sense_code(), scsi::kSourceEmpty);
  EXPECT_EQ(send_tag(h, Action::ReplacePrimary, 0x0555, "X").sense_code(),
            scsi::kInvalidElementAddress);
  EXPECT_EQ(send_tag(h, Action::ReplacePrimary, kSlot0, "AB*").sense_code(),
            scsi::kInvalidFieldInParameterList);
  EXPECT_EQ(send_tag(h, Action::AssertAlternate, kSlot0, "A?C").sense_code(),
            scsi::kInvalidFieldInParameterList);
  EXPECT_EQ(send_tag(h, Action::ReplacePrimary, kSlot0, "").sense_code(),
            scsi::kInvalidFieldInParameterList);
  // A short parameter list.
  auto cdb = *smc::send_volume_tag({smc::ElementType::All, kSlot0, Action::ReplacePrimary, 20});
  EXPECT_EQ(h.write(kChanger, cdb, std::vector<std::uint8_t>(20, 0x41)).sense_code(),
            scsi::kParameterListLengthError);
  // A reserved action code (SCSI-2's translate-all codes are not SMC-3's).
  auto raw = *smc::send_volume_tag({smc::ElementType::All, 0, Action::TranslatePrimary});
  raw.bytes[5] = 0x00;
  EXPECT_EQ(h.write(kChanger, raw, std::vector<std::uint8_t>(40, 0x20)).sense_code(),
            scsi::kInvalidFieldInCdb);
  EXPECT_EQ(element(kSlot0).primary_tag->identifier, "UCAM001L6");
}

TEST_F(EmuChangerVolumeTags, PickerJamLeavesTheMediumInThePickerWithExcept) {
  auto changer = h.emu->changer(kChanger);
  ASSERT_TRUE(changer);
  ASSERT_TRUE(h.emu->arm_picker_jam(kChanger));
  const Reply r = h.run(kChanger, smc::move_medium({0, kSlot0, kSlot4, smc::Invert::No}));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kChangerError);
  auto picker = element(kPicker);
  EXPECT_TRUE(picker.full);
  EXPECT_TRUE(picker.except);
  EXPECT_EQ(picker.asc, 0x3b);
  EXPECT_EQ(picker.ascq, 0x16);
  EXPECT_EQ(picker.primary_tag->identifier, "UCAM001L6");
  EXPECT_EQ(picker.source(), kSlot0);
  EXPECT_FALSE(element(kSlot0).full);
  EXPECT_FALSE(element(kSlot4).full);
  // Every move fails until the changer is initialized.
  EXPECT_EQ(h.run(kChanger, smc::move_medium({0, 0x1001, kSlot4, smc::Invert::No})).sense_code(),
            scsi::kChangerError);
  EXPECT_EQ(h.run(kChanger, smc::position_to_element({0, kSlot4, smc::Invert::No})).sense_code(),
            scsi::kChangerError);
  ASSERT_TRUE(h.run(kChanger, smc::initialize_element_status()).good());
  picker = element(kPicker);
  EXPECT_TRUE(picker.full);
  EXPECT_FALSE(picker.except);
  EXPECT_EQ(picker.asc, 0);
  // The picker's medium can be put away.
  ASSERT_TRUE(h.run(kChanger, smc::move_medium({0, kPicker, kSlot0, smc::Invert::No})).good());
  EXPECT_EQ(element(kSlot0).primary_tag->identifier, "UCAM001L6");
  EXPECT_EQ((*changer)->media_count(), 6U);
}

TEST_F(EmuChangerVolumeTags, PickerJamOnExchangeAndClearedByTheOperator) {
  ASSERT_TRUE(h.emu->arm_picker_jam(kChanger));
  const Reply r = h.run(kChanger, smc::exchange_medium({0, kSlot0, 0x1001, kSlot0}));
  EXPECT_EQ(r.sense_code(), scsi::kChangerError);
  EXPECT_TRUE(element(kPicker).except);
  ASSERT_TRUE(h.emu->clear_changer_faults(kChanger));
  EXPECT_FALSE(element(kPicker).except);
  EXPECT_TRUE(h.run(kChanger, smc::move_medium({0, kPicker, kSlot4, smc::Invert::No})).good());
  // clear also disarms a jam that has not struck.
  ASSERT_TRUE(h.emu->arm_picker_jam(kChanger));
  ASSERT_TRUE(h.emu->clear_changer_faults(kChanger));
  EXPECT_TRUE(h.run(kChanger, smc::move_medium({0, kSlot4, kSlot0, smc::Invert::No})).good());
}

TEST_F(EmuChangerVolumeTags, UnreadableLabelReportsFullWithABlankPrimaryTag) {
  ASSERT_TRUE(h.emu->set_label_unreadable(kChanger, 0x1001));
  auto d = element(0x1001);
  EXPECT_TRUE(d.full);
  ASSERT_TRUE(d.primary_tag);
  EXPECT_TRUE(d.primary_tag->blank());
  // A translate does not find it.
  ASSERT_TRUE(send_tag(h, Action::TranslatePrimary, 0, "UCAM002L6").good());
  EXPECT_TRUE(request_addresses(h).addresses().empty());
  // The label stays unreadable wherever the medium goes.
  ASSERT_TRUE(h.run(kChanger, smc::move_medium({0, 0x1001, kSlot4, smc::Invert::No})).good());
  EXPECT_TRUE(element(kSlot4).primary_tag->blank());
  // The operator clears it.
  ASSERT_TRUE(h.emu->clear_changer_faults(kChanger));
  EXPECT_EQ(element(kSlot4).primary_tag->identifier, "UCAM002L6");
  // Errors: an empty element, no element, not a changer.
  EXPECT_FALSE(h.emu->set_label_unreadable(kChanger, 0x1001));
  EXPECT_FALSE(h.emu->set_label_unreadable(kChanger, 0x0555));
  EXPECT_FALSE(h.emu->arm_picker_jam(LunAddress{0, 5, 0}));
}

TEST(EmuChangerNoAlternateTags, AlternateActionsAreInvalidAndPagesHaveNoAvoltag) {
  Harness h{R"({"buses":[{"targets":[{"id":4,"luns":[{"type":"changer","slots":2,
    "full_slots":1}]}]}]})"};
  const Reply r = send_tag(h, Action::ReplaceAlternate, kSlot0, "ALT001");
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidFieldInCdb);
  ASSERT_TRUE(r.field_pointer());
  EXPECT_EQ(r.field_pointer()->byte, 5);
  smc::ReadElementStatusRequest request;
  request.voltag = smc::VolumeTags::Include;
  request.number_of_elements = 0xffff;
  request.allocation_length = 1024;
  const Reply status = h.read(kChanger, *smc::read_element_status(request), 1024);
  ASSERT_TRUE(status.good());
  auto data = smc::parse_element_status_data(status.data, smc::Dvcid::NotRequested);
  ASSERT_TRUE(data);
  for (const auto& page : data->pages) {
    EXPECT_TRUE(page.pvoltag);
    EXPECT_FALSE(page.avoltag);
  }
  EXPECT_TRUE(send_tag(h, Action::ReplacePrimary, kSlot0, "NEW001L6").good());
}

TEST_F(EmuChangerVolumeTags, AssertDefinesTheTagOfAnUnreadableLabel) {
  ASSERT_TRUE(h.emu->set_label_unreadable(kChanger, 0x1001));
  ASSERT_TRUE(send_tag(h, Action::AssertPrimary, 0x1001, "HOST01L6").good());
  EXPECT_EQ(element(0x1001).primary_tag->identifier, "HOST01L6");
}

}  // namespace
}  // namespace ucam::emu::testing
