#include "scsi/smc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "base/hex.h"
#include "tests/scsi/oracle.h"

namespace ucam::scsi::smc {
namespace {

using ByteVec = std::vector<std::uint8_t>;

ByteVec hx(std::string_view text) {
  auto bytes = parse_hex(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes ? *bytes : ByteVec{};
}

// `text` padded with `pad` to `width` bytes.
ByteVec ascii(std::string_view text, std::size_t width, std::uint8_t pad = ' ') {
  ByteVec out(text.begin(), text.end());
  out.resize(width, pad);
  return out;
}

ByteVec cat(std::initializer_list<ByteVec> parts) {
  ByteVec out;
  for (const ByteVec& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

bool mentions(const Error& error, std::string_view text) {
  return error.message().find(text) != std::string::npos;
}

// ---- Vectors ----------------------------------------------------------------------------------

// Two storage elements, no volume tags, IBM-style 16-byte descriptors (4 reserved bytes).
ByteVec storage_report() {
  return cat({
      hx("04 00 00 02 00 00 00 28"),                          // header: 0x0400, 2, 40 bytes
      hx("02 00 00 10 00 00 00 20"),                          // storage page, edl 16, 32 bytes
      hx("04 00 09 00 00 00 00 00 00 81 01 00 00 00 00 00"),  // full, access, from 0x0100
      hx("04 01 0c 00 83 00 00 00 00 08 00 00 00 00 00 00"),  // except 83/00, access, ED
  });
}

// One drive with both volume tags, a device identifier and two vendor bytes; the primary tag
// is NUL padded (sloppy), the alternate space padded.
ByteVec drive_report() {
  return cat({
      hx("01 00 00 01 00 00 00 6c"),  // header: 0x0100, 1 element, 108 bytes
      hx("04 c0 00 64 00 00 00 64"),  // DT page, PVOLTAG|AVOLTAG, edl 100
      hx("01 00 09 00 00 00 b3 05 00 c1 04 05"),
      ascii("A00001L8", 32, 0),
      hx("00 00 00 01"),  // primary tag, sequence 1
      ascii("ALT1", 32),
      hx("00 00 00 07"),  // alternate tag, sequence 7
      hx("02 01 00 0a"),
      ascii("SN12345678", 10),  // ASCII, T10 vendor id, 10 bytes
      hx("ab cd"),
  });
}

// ---- Names ------------------------------------------------------------------------------------

TEST(SmcNames, ElementTypesReadAsChioDoes) {
  EXPECT_EQ(element_type_name(ElementType::MediumTransport), "picker");
  EXPECT_EQ(element_type_name(ElementType::Storage), "storage");
  EXPECT_EQ(element_type_name(ElementType::ImportExport), "portal");
  EXPECT_EQ(element_type_name(ElementType::DataTransfer), "drive");
  EXPECT_EQ(element_type_name(ElementType::All), "all");
  EXPECT_EQ(element_type_name(0x0b), "<type 0x0b>");
  EXPECT_EQ(element_type_spec_name(3), "import/export");
  EXPECT_EQ(element_type_spec_name(9), "<type 0x09>");
  EXPECT_EQ(element_type_from_name("slot"), ElementType::Storage);
  EXPECT_EQ(element_type_from_name("storage"), ElementType::Storage);
  EXPECT_EQ(element_type_from_name("dt"), ElementType::DataTransfer);
  EXPECT_EQ(element_type_from_name("portal"), ElementType::ImportExport);
  EXPECT_EQ(element_type_from_name("picker"), ElementType::MediumTransport);
  EXPECT_FALSE(element_type_from_name("Slot").has_value());
  EXPECT_FALSE(element_type_from_name("voltag").has_value());
  EXPECT_EQ(medium_type_name(2), "cleaning");
  EXPECT_EQ(medium_type_name(7), "<medium 0x7>");
}

TEST(SmcNames, ChangerOpcodesResolveToSmcNames) {
  EXPECT_EQ(smc_command_name(0x37), "INITIALIZE ELEMENT STATUS WITH RANGE");
  EXPECT_EQ(smc_command_name(0xb5), "REQUEST VOLUME ELEMENT ADDRESS");
  EXPECT_EQ(smc_command_name(0xb6), "SEND VOLUME TAG");
  EXPECT_EQ(smc_command_name(0x12), "INQUIRY");
  // Without a device type the shared codes keep their direct-access / SPC names.
  EXPECT_EQ(opcode_name(0x37), "READ DEFECT DATA(10)");
  EXPECT_EQ(opcode_name(0xb5), "SECURITY PROTOCOL OUT");
  EXPECT_EQ(cdb_length(static_cast<std::uint8_t>(Opcode::InitializeElementStatusWithRange)), 10);
  EXPECT_EQ(cdb_length(static_cast<std::uint8_t>(Opcode::SendVolumeTag)), 12);
}

// ---- CDBs -------------------------------------------------------------------------------------

TEST(SmcCdb, ReadElementStatusLaysOutEveryField) {
  ReadElementStatusRequest r;
  r.type = ElementType::Storage;
  r.voltag = VolumeTags::Include;
  r.starting_address = 0x1000;
  r.number_of_elements = 1000;
  r.curdata = CurrentData::NoMotion;
  r.dvcid = Dvcid::Requested;
  r.allocation_length = 0x012345;
  auto cdb = read_element_status(r);
  ASSERT_TRUE(cdb.has_value());
  EXPECT_EQ(hex_string(cdb->span()), "b8 12 10 00 03 e8 03 01 23 45 00 00");
  EXPECT_EQ(*parse_read_element_status_cdb(cdb->span()), r);

  ReadElementStatusRequest plain;
  plain.allocation_length = 1024;
  EXPECT_EQ(hex_string(read_element_status(plain)->span()), "b8 00 00 00 00 00 00 00 04 00 00 00");
}

TEST(SmcCdb, ReadElementStatusRejectsWideFields) {
  ReadElementStatusRequest r;
  r.allocation_length = 0x1000000;
  EXPECT_FALSE(read_element_status(r).has_value());
  r.allocation_length = 0;
  r.type = static_cast<ElementType>(5);
  EXPECT_FALSE(read_element_status(r).has_value());
}

TEST(SmcCdb, ReadElementStatusDecoderNamesTheBadField) {
  auto bad_type = parse_read_element_status_cdb(hx("b8 05 00 00 00 01 00 00 04 00 00 00"));
  ASSERT_FALSE(bad_type.has_value());
  EXPECT_EQ(bad_type.error().sense(), (SenseCode{0x05, 0x24, 0x00}));
  auto fp = cdb_field_pointer(bad_type.error());
  ASSERT_TRUE(fp.has_value());
  EXPECT_EQ(fp->byte, 1);
  EXPECT_EQ(fp->bit, 3);

  auto other = parse_read_element_status_cdb(hx("a5 00 00 00 00 00 00 00 00 00 00 00"));
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().sense(), (SenseCode{0x05, 0x20, 0x00}));
  EXPECT_TRUE(mentions(other.error(), "MOVE MEDIUM"));

  auto short_cdb = parse_read_element_status_cdb(hx("b8 00 00 00 00"));
  ASSERT_FALSE(short_cdb.has_value());
  EXPECT_EQ(cdb_field_pointer(short_cdb.error())->byte, 5);
  EXPECT_FALSE(parse_read_element_status_cdb(Bytes{}).has_value());
  // The obsolete LUN bits are ignored.
  EXPECT_EQ(parse_read_element_status_cdb(hx("b8 e4 00 00 00 01 00 00 04 00 00 00"))->type,
            ElementType::DataTransfer);
}

TEST(SmcCdb, MoveExchangePositionRoundTrip) {
  const MoveMediumRequest move{0x0001, 0x1000, 0x0100, Invert::Yes};
  EXPECT_EQ(hex_string(move_medium(move).span()), "a5 00 00 01 10 00 01 00 00 00 01 00");
  EXPECT_EQ(*parse_move_medium_cdb(move_medium(move).span()), move);

  const ExchangeMediumRequest ex{0x0001, 0x1000, 0x0100, 0x1001, Invert::No, Invert::Yes};
  EXPECT_EQ(hex_string(exchange_medium(ex).span()), "a6 00 00 01 10 00 01 00 10 01 02 00");
  EXPECT_EQ(*parse_exchange_medium_cdb(exchange_medium(ex).span()), ex);

  const PositionToElementRequest pos{0x0001, 0x1003, Invert::Yes};
  EXPECT_EQ(hex_string(position_to_element(pos).span()), "2b 00 00 01 10 03 00 00 01 00");
  EXPECT_EQ(*parse_position_to_element_cdb(position_to_element(pos).span()), pos);

  EXPECT_FALSE(parse_move_medium_cdb(hx("a6 00 00 01 10 00 01 00 00 00 01 00")).has_value());
  EXPECT_FALSE(parse_exchange_medium_cdb(hx("a6 00 00 01 10 00 01 00 10 01 02")).has_value());
  EXPECT_FALSE(parse_position_to_element_cdb(hx("2b 00")).has_value());
}

TEST(SmcCdb, InitializeElementStatusBothForms) {
  EXPECT_EQ(hex_string(initialize_element_status().span()), "07 00 00 00 00 00");
  EXPECT_TRUE(parse_initialize_element_status_cdb(initialize_element_status().span()).has_value());
  EXPECT_FALSE(parse_initialize_element_status_cdb(hx("08 00 00 00 00 00")).has_value());

  const InitializeElementStatusWithRangeRequest r{ScanMode::Fast, ElementRangeSelect::Range, 0x1000,
                                                  200};
  const Cdb c = initialize_element_status_with_range(r);
  EXPECT_EQ(hex_string(c.span()), "37 03 10 00 00 00 00 c8 00 00");
  EXPECT_EQ(*parse_initialize_element_status_with_range_cdb(c.span()), r);
  const InitializeElementStatusWithRangeRequest all{};
  EXPECT_EQ(hex_string(initialize_element_status_with_range(all).span()),
            "37 00 00 00 00 00 00 00 00 00");
}

TEST(SmcCdb, SendVolumeTagAndRequestVolumeElementAddress) {
  const SendVolumeTagRequest s{ElementType::Storage, 0x1000, SendVolumeTagAction::ReplacePrimary,
                               40};
  auto cdb = send_volume_tag(s);
  ASSERT_TRUE(cdb.has_value());
  EXPECT_EQ(hex_string(cdb->span()), "b6 02 10 00 00 0a 00 00 00 28 00 00");
  EXPECT_EQ(*parse_send_volume_tag_cdb(cdb->span()), s);
  EXPECT_FALSE(send_volume_tag({static_cast<ElementType>(7)}).has_value());

  auto reserved = parse_send_volume_tag_cdb(hx("b6 02 10 00 00 07 00 00 00 28 00 00"));
  ASSERT_FALSE(reserved.has_value());
  EXPECT_EQ(cdb_field_pointer(reserved.error())->byte, 5);
  EXPECT_TRUE(mentions(reserved.error(), "send action code 0x07 is reserved"));
  EXPECT_FALSE(parse_send_volume_tag_cdb(hx("b6 0f 10 00 00 05 00 00 00 28 00 00")).has_value());
  for (std::uint8_t code = 0; code < 0x20; ++code) {
    EXPECT_EQ(is_send_volume_tag_action(code), code == 5 || code == 6 || (code >= 8 && code <= 13))
        << int(code);
  }

  RequestVolumeElementAddressRequest q;
  q.type = ElementType::All;
  q.voltag = VolumeTags::Include;
  q.element_address = 0x0400;
  q.number_of_elements = 10;
  q.dvcid = Dvcid::Requested;
  q.allocation_length = 0x400;
  auto qc = request_volume_element_address(q);
  ASSERT_TRUE(qc.has_value());
  EXPECT_EQ(hex_string(qc->span()), "b5 10 04 00 00 0a 01 00 04 00 00 00");
  EXPECT_EQ(*parse_request_volume_element_address_cdb(qc->span()), q);
  q.allocation_length = 0x1000000;
  EXPECT_FALSE(request_volume_element_address(q).has_value());
}

// ---- READ ELEMENT STATUS data: decode ---------------------------------------------------------

TEST(ElementStatusParse, DecodesStorageDescriptorsFieldByField) {
  auto r = parse_element_status_data(storage_report(), Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_element_address, 0x0400);
  EXPECT_EQ(r->number_of_elements_available, 2);
  EXPECT_EQ(r->byte_count_available, 40u);
  EXPECT_FALSE(r->truncated);
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(r->bytes_decoded, 40u);
  ASSERT_EQ(r->pages.size(), 1u);
  const ElementStatusPage& page = r->pages[0];
  EXPECT_EQ(page.type, ElementType::Storage);
  EXPECT_FALSE(page.pvoltag);
  EXPECT_FALSE(page.avoltag);
  EXPECT_EQ(page.descriptor_length, 16);
  EXPECT_EQ(page.byte_count_available, 32u);
  ASSERT_EQ(page.descriptors.size(), 2u);

  const ElementDescriptor& a = page.descriptors[0];
  EXPECT_EQ(a.address, 0x0400);
  EXPECT_TRUE(a.full);
  EXPECT_TRUE(a.access);
  EXPECT_FALSE(a.except);
  EXPECT_FALSE(a.impexp || a.exenab || a.inenab || a.cmc || a.oir);
  EXPECT_TRUE(a.svalid);
  EXPECT_FALSE(a.invert);
  EXPECT_FALSE(a.ed);
  EXPECT_EQ(a.medium_type, static_cast<std::uint8_t>(MediumType::Data));
  EXPECT_EQ(a.source(), 0x0100);
  EXPECT_FALSE(a.primary_tag.has_value());
  EXPECT_FALSE(a.alternate_tag.has_value());
  EXPECT_FALSE(a.device_identifier.has_value());
  EXPECT_TRUE(a.vendor_specific.empty());  // the 4 reserved zero bytes

  const ElementDescriptor& b = page.descriptors[1];
  EXPECT_EQ(b.address, 0x0401);
  EXPECT_FALSE(b.full);
  EXPECT_TRUE(b.except);
  EXPECT_EQ(b.asc, 0x83);
  EXPECT_EQ(b.ascq, 0x00);
  EXPECT_TRUE(b.ed);
  EXPECT_FALSE(b.source().has_value());
  EXPECT_EQ(r->find(0x0401), &b);
  EXPECT_EQ(r->find(0x0402), nullptr);
  EXPECT_EQ(r->descriptor_count(), 2u);
  EXPECT_FALSE(next_element_status_request(*r).has_value());
}

TEST(ElementStatusParse, DecodesVolumeTagsDeviceIdentifierAndBusFields) {
  auto r = parse_element_status_data(drive_report(), Dvcid::Requested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(r->pages.size(), 1u);
  const ElementStatusPage& page = r->pages[0];
  EXPECT_EQ(page.type, ElementType::DataTransfer);
  EXPECT_TRUE(page.pvoltag);
  EXPECT_TRUE(page.avoltag);
  EXPECT_EQ(page.descriptor_length, 100);
  ASSERT_EQ(page.descriptors.size(), 1u);
  const ElementDescriptor& d = page.descriptors[0];
  EXPECT_EQ(d.address, 0x0100);
  EXPECT_TRUE(d.full);
  EXPECT_TRUE(d.not_bus);
  EXPECT_TRUE(d.id_valid);
  EXPECT_TRUE(d.lu_valid);
  EXPECT_EQ(d.lun, 3);
  EXPECT_EQ(d.bus_address, 5);
  EXPECT_TRUE(d.svalid);
  EXPECT_TRUE(d.invert);
  EXPECT_EQ(d.source(), 0x0405);
  ASSERT_TRUE(d.primary_tag.has_value());
  EXPECT_EQ(d.primary_tag->identifier, "A00001L8");  // NUL padding removed
  EXPECT_EQ(d.primary_tag->sequence, 1);
  ASSERT_TRUE(d.alternate_tag.has_value());
  EXPECT_EQ(d.alternate_tag->identifier, "ALT1");
  EXPECT_EQ(d.alternate_tag->sequence, 7);
  ASSERT_TRUE(d.device_identifier.has_value());
  EXPECT_EQ(d.device_identifier->protocol_identifier, 0);
  EXPECT_EQ(d.device_identifier->code_set, 2);
  EXPECT_FALSE(d.device_identifier->piv);
  EXPECT_EQ(d.device_identifier->association, 0);
  EXPECT_EQ(d.device_identifier->identifier_type, 1);
  EXPECT_EQ(
      std::string(d.device_identifier->identifier.begin(), d.device_identifier->identifier.end()),
      "SN12345678");
  EXPECT_EQ(d.vendor_specific, hx("ab cd"));
  EXPECT_TRUE(r->warnings.empty());
}

TEST(ElementStatusParse, WithoutDvcidTheTailIsVendorSpecific) {
  auto r = parse_element_status_data(drive_report(), Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value());
  const ElementDescriptor& d = r->pages[0].descriptors[0];
  EXPECT_FALSE(d.device_identifier.has_value());
  EXPECT_EQ(d.vendor_specific, cat({hx("02 01 00 0a"), ascii("SN12345678", 10), hx("ab cd")}));
}

TEST(ElementStatusParse, BlankTagIsPresentButBlank) {
  const ByteVec v =
      cat({hx("10 00 00 01 00 00 00 38"), hx("02 80 00 30 00 00 00 30"),
           hx("10 00 00 00 00 00 00 00 00 00 00 00"), ascii("", 32), hx("00 00 00 00")});
  auto r = parse_element_status_data(v, Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_TRUE(r->pages[0].descriptors[0].primary_tag.has_value());
  EXPECT_TRUE(r->pages[0].descriptors[0].primary_tag->blank());
}

TEST(ElementStatusParse, AllTypesReportHasOnePagePerRun) {
  const ByteVec v = cat({
      hx("00 00 00 04 00 00 00 50"),  // 4 elements, 80 bytes
      hx("01 00 00 0c 00 00 00 0c"), hx("00 00 00 00 00 00 00 00 00 00 00 00"),  // picker 0
      hx("03 00 00 0c 00 00 00 0c"), hx("00 10 3b 00 00 00 00 00 00 00 00 00"),  // portal 0x10
      hx("04 00 00 0c 00 00 00 0c"), hx("01 00 08 00 00 00 00 00 00 00 00 00"),  // drive 0x100
      hx("02 00 00 0c 00 00 00 0c"), hx("10 00 09 00 00 00 00 00 00 00 00 00"),  // slot 0x1000
  });
  auto r = parse_element_status_data(v, Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(r->pages.size(), 4u);
  EXPECT_EQ(r->pages[0].type, ElementType::MediumTransport);
  EXPECT_EQ(r->pages[1].type, ElementType::ImportExport);
  const ElementDescriptor& portal = r->pages[1].descriptors[0];
  EXPECT_TRUE(portal.full && portal.impexp && portal.access && portal.exenab && portal.inenab);
  EXPECT_FALSE(portal.except);
  EXPECT_EQ(r->pages[2].type, ElementType::DataTransfer);
  EXPECT_EQ(r->pages[3].type, ElementType::Storage);
  EXPECT_EQ(r->pages[3].descriptors[0].address, 0x1000);
  EXPECT_FALSE(r->truncated);
  auto again = encode_element_status_data(*r);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, v);
}

// ---- Sloppy devices ---------------------------------------------------------------------------

TEST(ElementStatusSloppy, ByteCountCountingTheHeaderIsTakenAsComplete) {
  ByteVec v = storage_report();
  v[7] = 0x30;  // 48: the header's 8 bytes counted too
  auto r = parse_element_status_data(v, Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(r->descriptor_count(), 2u);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("taken as complete"), std::string::npos);
  EXPECT_FALSE(next_element_status_request(*r).has_value());
}

TEST(ElementStatusSloppy, ByteCountCutToAllocationKeepsPaging) {
  ByteVec v = storage_report();
  v[3] = 5;  // five elements available, but the byte count only covers the two sent
  auto r = parse_element_status_data(v, Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->truncated);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("taken as truncated"), std::string::npos);
  auto next = next_element_status_request(*r);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->starting_address, 0x0402);
  EXPECT_EQ(next->number_of_elements, 3);
  EXPECT_EQ(next->allocation_length, 8u + 32u + 3u * 16u);  // by descriptor size
}

TEST(ElementStatusSloppy, IdentifierLengthPastTheDescriptorIsCut) {
  const ByteVec v =
      cat({hx("01 00 00 01 00 00 00 1e"), hx("04 00 00 16 00 00 00 16"),
           hx("01 00 01 00 00 00 00 00 00 00 00 00"), hx("02 00 00 0a"), ascii("SN1234", 6)});
  auto r = parse_element_status_data(v, Dvcid::Requested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto& id = r->pages[0].descriptors[0].device_identifier;
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->identifier, ascii("SN1234", 6));
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("element 0x0100: IDENTIFIER LENGTH 10"), std::string::npos);
}

TEST(ElementStatusSloppy, IgnoredDvcidMeansNoIdentifier) {
  // 14-byte descriptors: too short for the 4-byte identifier header.
  const ByteVec v = cat({hx("01 00 00 01 00 00 00 16"), hx("04 00 00 0e 00 00 00 0e"),
                         hx("01 00 00 00 00 00 00 00 00 00 00 00 5a 5b")});
  auto r = parse_element_status_data(v, Dvcid::Requested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_FALSE(r->pages[0].descriptors[0].device_identifier.has_value());
  EXPECT_EQ(r->pages[0].descriptors[0].vendor_specific, hx("5a 5b"));
}

TEST(ElementStatusSloppy, EmptyIdentifierHeaderThenVendorBytes) {
  // An empty identifier header always present, then vendor bytes (media domain, media type).
  const ByteVec v = cat({hx("10 00 00 01 00 00 00 1c"), hx("02 00 00 14 00 00 00 14"),
                         hx("10 00 09 00 00 00 00 00 00 00 00 00"), hx("00 00 00 00 4c 38 00 00")});
  auto with = parse_element_status_data(v, Dvcid::Requested);
  ASSERT_TRUE(with.has_value());
  const ElementDescriptor& d = with->pages[0].descriptors[0];
  ASSERT_TRUE(d.device_identifier.has_value());
  EXPECT_TRUE(d.device_identifier->identifier.empty());
  EXPECT_EQ(d.vendor_specific, hx("4c 38"));
  auto without = parse_element_status_data(v, Dvcid::NotRequested);
  ASSERT_TRUE(without.has_value());
  EXPECT_EQ(without->pages[0].descriptors[0].vendor_specific, hx("00 00 00 00 4c 38"));
  EXPECT_EQ(*encode_element_status_data(*with), v);
  EXPECT_EQ(*encode_element_status_data(*without), v);
}

// tgt 1.0.85's READ ELEMENT STATUS replies, as they came off the wire (an allocation length of
// 4096): its transfer length leaves out the 8-byte page header, so each report stops 8 bytes
// into the pad of its last 52-byte descriptor (12 fixed bytes, a 32-byte volume identifier and
// 8 pad bytes), and a one-element report names 21 (0x15) as its first element address.
ByteVec tgt_descriptor(std::string_view head, std::string_view tag) {
  return cat({hx(head), ascii(tag, 32), hx("00 00 00 00 00 00 00 00")});
}
ByteVec tgt_picker_reply() {  // element 1, empty
  const ByteVec whole = cat({hx("00 15 00 01 00 00 00 3c 01 80 00 34 00 00 00 34"),
                             tgt_descriptor("00 01 00 00 00 00 00 00 00 00 00 00", "")});
  return ByteVec(whole.begin(), whole.end() - 8);  // 60 bytes
}
ByteVec tgt_drive_reply() {  // element 20 full from slot 1000 (T00001L6), 21 empty
  const ByteVec whole = cat({hx("00 14 00 02 00 00 00 70 04 80 00 34 00 00 00 68"),
                             tgt_descriptor("00 14 01 00 00 00 00 00 00 80 03 e8", "T00001L6"),
                             tgt_descriptor("00 15 00 00 00 00 00 00 00 00 00 00", "")});
  return ByteVec(whole.begin(), whole.end() - 8);  // 112 bytes
}

TEST(ElementStatusSloppy, TgtsShortLastDescriptorIsTakenWhenTheDeviceEndedTheData) {
  for (Dvcid dvcid : {Dvcid::NotRequested, Dvcid::Requested}) {
    auto picker = parse_element_status_data(tgt_picker_reply(), dvcid, DataEnd::EndedByDevice);
    ASSERT_TRUE(picker.has_value()) << picker.error().message();
    EXPECT_FALSE(picker->truncated);
    ASSERT_EQ(picker->descriptor_count(), 1u);
    const ElementDescriptor& arm = picker->pages[0].descriptors[0];
    EXPECT_EQ(arm.address, 1);
    EXPECT_FALSE(arm.full);
    EXPECT_FALSE(arm.device_identifier.has_value());  // its header was in the missing bytes
    EXPECT_FALSE(next_element_status_request(*picker).has_value());
    ASSERT_FALSE(picker->warnings.empty());
    EXPECT_NE(picker->warnings[0].find("element 0x0001: the data ends 44 bytes into its 52-byte "
                                       "descriptor"),
              std::string::npos)
        << picker->warnings[0];

    auto drives = parse_element_status_data(tgt_drive_reply(), dvcid, DataEnd::EndedByDevice);
    ASSERT_TRUE(drives.has_value()) << drives.error().message();
    EXPECT_FALSE(drives->truncated);
    ASSERT_EQ(drives->descriptor_count(), 2u);
    const ElementDescriptor& loaded = drives->pages[0].descriptors[0];
    EXPECT_TRUE(loaded.full);
    ASSERT_TRUE(loaded.primary_tag.has_value());
    EXPECT_EQ(loaded.primary_tag->identifier, "T00001L6");
    EXPECT_EQ(loaded.source(), std::optional<std::uint16_t>(1000));
    EXPECT_EQ(drives->pages[0].descriptors[1].address, 21);
    EXPECT_FALSE(drives->pages[0].descriptors[1].full);
    EXPECT_FALSE(next_element_status_request(*drives).has_value());
  }
}

TEST(ElementStatusSloppy, TgtsCutDeviceIdentifierIsLeftOutNotShortened) {
  // DVCID: 86-byte descriptors (12 + 36 + a 4-byte identifier header + 34 bytes of T10 vendor
  // identifier); the cut falls 26 bytes into the last element's identifier.
  const ByteVec id_header = hx("02 01 00 22");
  const ByteVec whole =
      cat({hx("00 14 00 02 00 00 00 b4 04 80 00 56 00 00 00 ac"),
           hx("00 14 00 00 00 00 00 00 00 00 00 00"), ascii("", 32), hx("00 00 00 00"), id_header,
           ascii("TGT     PEER-TAPE       TAPE0001", 32), hx("00 00"),
           hx("00 15 00 00 00 00 00 00 00 00 00 00"), ascii("", 32), hx("00 00 00 00"), id_header,
           ascii("TGT     PEER-TAPE       TAPE0002", 32), hx("00 00")});
  const ByteVec reply(whole.begin(), whole.end() - 8);  // 180 bytes, as tgt sends them
  auto r = parse_element_status_data(reply, Dvcid::Requested, DataEnd::EndedByDevice);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_FALSE(r->truncated);
  ASSERT_EQ(r->descriptor_count(), 2u);
  const auto& first = r->pages[0].descriptors[0].device_identifier;
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(std::string(first->identifier.begin(), first->identifier.begin() + 32),
            "TGT     PEER-TAPE       TAPE0001");
  EXPECT_FALSE(r->pages[0].descriptors[1].device_identifier.has_value());
  EXPECT_TRUE(r->pages[0].descriptors[1].vendor_specific.empty());
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_NE(r->warnings[0].find("element 0x0015: the data ends 78 bytes into its 86-byte "
                                "descriptor"),
            std::string::npos)
      << r->warnings[0];
  EXPECT_NE(r->warnings[0].find("device identifier, cut, left out"), std::string::npos);
}

TEST(ElementStatusSloppy, TheSameBytesCutByTheAllocationLengthStayTruncated) {
  // Without knowing the device stopped short, the cut descriptor may be an allocation cut: it is
  // left out and paging asks for it again.
  auto picker = parse_element_status_data(tgt_picker_reply(), Dvcid::NotRequested);
  ASSERT_TRUE(picker.has_value());
  EXPECT_TRUE(picker->truncated);
  EXPECT_EQ(picker->descriptor_count(), 0u);
  auto drives = parse_element_status_data(tgt_drive_reply(), Dvcid::NotRequested);
  ASSERT_TRUE(drives.has_value());
  EXPECT_TRUE(drives->truncated);
  EXPECT_EQ(drives->descriptor_count(), 1u);
}

TEST(ElementStatusSloppy, AShortDescriptorIsTakenOnlyWholeToItsVolumeIdentifierAndLast) {
  const ByteVec drives = tgt_drive_reply();
  // Cut inside the volume identifier of the last element: truncated, even when the device ended.
  const ByteVec inside_tag(drives.begin(), drives.end() - 1);
  auto r = parse_element_status_data(inside_tag, Dvcid::NotRequested, DataEnd::EndedByDevice);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->descriptor_count(), 1u);
  // Cut inside the first of two descriptors: not the last element, so truncated.
  const ByteVec first_cut(drives.begin(), drives.begin() + 16 + 44);
  r = parse_element_status_data(first_cut, Dvcid::NotRequested, DataEnd::EndedByDevice);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->descriptor_count(), 0u);
  // Whole reports decode the same either way, without warnings.
  const ByteVec whole = storage_report();
  auto a = parse_element_status_data(whole, Dvcid::NotRequested, DataEnd::EndedByDevice);
  auto b = parse_element_status_data(whole, Dvcid::NotRequested);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(*a, *b);
  EXPECT_TRUE(a->warnings.empty());
}

// ---- Truncation and paging --------------------------------------------------------------------

TEST(ElementStatusTruncated, CutInsideADescriptorKeepsTheCompleteOnes) {
  const ByteVec full = storage_report();
  const ByteVec cut(full.begin(), full.begin() + 37);
  auto r = parse_element_status_data(cut, Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->truncated);
  EXPECT_TRUE(r->warnings.empty());
  ASSERT_EQ(r->descriptor_count(), 1u);
  EXPECT_EQ(r->bytes_decoded, 24u);
  auto next = next_element_status_request(*r);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->starting_address, 0x0401);
  EXPECT_EQ(next->number_of_elements, 1);
  EXPECT_EQ(next->allocation_length, 8u + 32u + 16u);
}

TEST(ElementStatusTruncated, HeaderOnlyRestartsAtTheFirstAddress) {
  const ByteVec full = storage_report();
  for (std::size_t n : {8u, 12u, 16u, 31u}) {
    const ByteVec cut(full.begin(), full.begin() + static_cast<long>(n));
    auto r = parse_element_status_data(cut, Dvcid::NotRequested);
    ASSERT_TRUE(r.has_value()) << n;
    EXPECT_TRUE(r->truncated);
    EXPECT_EQ(r->descriptor_count(), 0u);
    auto next = next_element_status_request(*r);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->starting_address, 0x0400);
    EXPECT_EQ(next->number_of_elements, 2);
    EXPECT_GE(next->allocation_length, full.size());  // enough this time
  }
}

TEST(ElementStatusTruncated, NoContinuationPastTheLastAddress) {
  ElementStatusData d;
  d.truncated = true;
  d.number_of_elements_available = 3;
  ElementStatusPage page;
  page.descriptors.push_back({});
  page.descriptors.back().address = 0xffff;
  d.pages.push_back(page);
  EXPECT_FALSE(next_element_status_request(d).has_value());
}

TEST(ElementStatusTruncated, AllocationLengthHelperClampsTo24Bits) {
  EXPECT_EQ(element_status_allocation_length(48, 1000), 8u + 8u + 48000u);
  EXPECT_EQ(element_status_allocation_length(100, 3, 4), 8u + 32u + 300u);
  EXPECT_EQ(element_status_allocation_length(0xffff, 0xffff, 4), 0xffffffu);
}

struct FakeElement {
  ElementType type;
  std::uint16_t address;
  std::string barcode;
};

// An emulated changer's reply built with the encoder: elements >= start in address order, at
// most `count`, a page per run of one type, cut to the allocation length.
ByteVec fake_changer_reply(const std::vector<FakeElement>& elements, ElementType type,
                           std::uint16_t start, std::uint16_t count, std::uint32_t alloc) {
  ElementStatusData d;
  std::size_t taken = 0;
  for (const FakeElement& e : elements) {
    if (e.address < start || taken == count || (type != ElementType::All && e.type != type)) {
      continue;
    }
    if (d.pages.empty() || d.pages.back().type != e.type) {
      ElementStatusPage page;
      page.type = e.type;
      page.pvoltag = true;
      d.pages.push_back(page);
    }
    ElementDescriptor desc;
    desc.address = e.address;
    desc.full = !e.barcode.empty();
    desc.access = true;
    desc.primary_tag = VolumeTag{e.barcode, 0};
    d.pages.back().descriptors.push_back(desc);
    ++taken;
  }
  auto bytes = encode_element_status_data(d);
  EXPECT_TRUE(bytes.has_value());
  bytes->resize(std::min<std::size_t>(bytes->size(), alloc));
  return *bytes;
}

// Reads everything of `type` with a fixed buffer, paging as next_element_status_request says.
std::vector<std::uint16_t> page_through(const std::vector<FakeElement>& elements, ElementType type,
                                        std::uint32_t alloc, int* reads) {
  std::vector<std::uint16_t> seen;
  std::uint16_t start = 0;
  std::uint16_t count = 0xffff;
  *reads = 0;
  for (;;) {
    ++*reads;
    if (*reads > 1000) {
      ADD_FAILURE() << "paging does not end";
      break;
    }
    auto r = parse_element_status_data(fake_changer_reply(elements, type, start, count, alloc),
                                       Dvcid::NotRequested);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    if (!r) {
      break;
    }
    EXPECT_TRUE(r->warnings.empty());
    for (const auto& page : r->pages) {
      for (const auto& d : page.descriptors) {
        seen.push_back(d.address);
      }
    }
    auto next = next_element_status_request(*r);
    if (!next) {
      break;
    }
    start = next->starting_address;
    count = next->number_of_elements;
  }
  return seen;
}

TEST(ElementStatusPaging, PagesThroughAThousandSlotLibrary) {
  std::vector<FakeElement> elements;
  for (std::uint16_t i = 0; i < 1000; ++i) {
    elements.push_back({ElementType::Storage, static_cast<std::uint16_t>(0x1000 + i),
                        i % 3 == 0 ? "" : "L" + std::to_string(100000 + i)});
  }
  int reads = 0;
  const auto seen = page_through(elements, ElementType::Storage, 4096, &reads);
  ASSERT_EQ(seen.size(), 1000u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], 0x1000 + i);
  }
  // 48-byte descriptors: 85 fill a 4 KiB read exactly (16 bytes of headers).
  EXPECT_EQ(reads, 12);
}

TEST(ElementStatusPaging, AllTypesCrossPageBoundaries) {
  std::vector<FakeElement> elements;
  elements.push_back({ElementType::MediumTransport, 0x0000, ""});
  for (std::uint16_t i = 0; i < 4; ++i) {
    elements.push_back({ElementType::ImportExport, static_cast<std::uint16_t>(0x10 + i), ""});
    elements.push_back({ElementType::DataTransfer, static_cast<std::uint16_t>(0x100 + i), "D"});
  }
  std::sort(elements.begin(), elements.end(),
            [](const FakeElement& a, const FakeElement& b) { return a.address < b.address; });
  for (std::uint16_t i = 0; i < 50; ++i) {
    elements.push_back({ElementType::Storage, static_cast<std::uint16_t>(0x1000 + i), "S"});
  }
  for (std::uint32_t alloc : {64u, 100u, 333u, 1000u, 100000u}) {
    int reads = 0;
    const auto seen = page_through(elements, ElementType::All, alloc, &reads);
    ASSERT_EQ(seen.size(), elements.size()) << alloc;
    for (std::size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i], elements[i].address);
    }
  }
}

// ---- Errors -----------------------------------------------------------------------------------

void expect_error(const ByteVec& v, std::string_view text, Dvcid dvcid = Dvcid::NotRequested) {
  auto r = parse_element_status_data(v, dvcid);
  ASSERT_FALSE(r.has_value()) << "expected: " << text;
  EXPECT_TRUE(mentions(r.error(), text)) << r.error().message();
  EXPECT_EQ(r.error().errno_value(), 22);
}

TEST(ElementStatusErrors, EachInconsistencyIsNamed) {
  const ByteVec good = storage_report();
  expect_error(ByteVec(good.begin(), good.begin() + 7), "the header needs 8");

  ByteVec v = good;
  v[8] = 0x05;
  expect_error(v, "element type code 5 is not 1-4");
  v[8] = 0x00;
  expect_error(v, "element type code 0 is not 1-4");

  v = good;
  v[11] = 0x0b;  // edl 11
  expect_error(v, "ELEMENT DESCRIPTOR LENGTH 11 is smaller than the 12 bytes");
  v[11] = 0x00;  // edl 0 with descriptor data
  expect_error(v, "ELEMENT DESCRIPTOR LENGTH 0");

  v = good;
  v[9] = 0x80;  // PVOLTAG with 16-byte descriptors
  expect_error(v, "smaller than the 48 bytes its fields need (12 + primary volume tag 36)");

  v = good;
  v[15] = 0x18;  // 24 bytes of 16-byte descriptors
  expect_error(v,
               "BYTE COUNT OF DESCRIPTOR DATA AVAILABLE 24 is not a multiple of ELEMENT "
               "DESCRIPTOR LENGTH 16");

  v = good;
  v[7] = 0x20;  // the page's 32 bytes do not fit a 32-byte report
  expect_error(v, "run past the BYTE COUNT OF REPORT AVAILABLE (32)");

  v = cat({good, hx("02 00 00 10")});
  v[7] = 0x2c;  // a second page header cut inside a complete report
  expect_error(v, "page header at byte 48 runs past");

  v = good;
  v[3] = 0x01;  // one element available, two descriptors
  expect_error(v,
               "element descriptor at byte 32 is one more than NUMBER OF ELEMENTS AVAILABLE (1)");
}

TEST(ElementStatusErrors, EveryPrefixAndRandomBufferIsSafe) {
  for (const ByteVec& v : {storage_report(), drive_report()}) {
    test::for_each_prefix(v, [&](Bytes b) {
      for (Dvcid dvcid : {Dvcid::NotRequested, Dvcid::Requested}) {
        auto r = parse_element_status_data(b, dvcid);
        EXPECT_EQ(r.has_value(), b.size() >= 8) << b.size();
        if (r && b.size() < v.size()) {
          EXPECT_TRUE(r->truncated) << b.size();
          EXPECT_TRUE(next_element_status_request(*r).has_value());
        }
        (void)parse_volume_element_address_data(b, dvcid);
      }
    });
  }
  test::for_random_buffers(3000, 300, [](Bytes b) {
    if (auto r = parse_element_status_data(b, Dvcid::Requested)) {
      (void)next_element_status_request(*r);
      (void)encode_element_status_data(*r);
    }
  });
}

// ---- Encoder ----------------------------------------------------------------------------------

TEST(ElementStatusEncode, RoundTripsTheHandBuiltVectors) {
  const ByteVec storage = storage_report();
  auto s = parse_element_status_data(storage, Dvcid::NotRequested);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*encode_element_status_data(*s), storage);

  auto d = parse_element_status_data(drive_report(), Dvcid::Requested);
  ASSERT_TRUE(d.has_value());
  auto bytes = encode_element_status_data(*d);
  ASSERT_TRUE(bytes.has_value());
  // The NUL-padded tag comes back space padded; the values are the same.
  EXPECT_EQ(bytes->size(), drive_report().size());
  EXPECT_EQ(*parse_element_status_data(*bytes, Dvcid::Requested), *d);
}

TEST(ElementStatusEncode, ComputesHeaderFieldsAndDescriptorLength) {
  ElementStatusData d;
  d.first_element_address = 0x7777;  // ignored: recomputed
  d.number_of_elements_available = 99;
  ElementStatusPage page;
  page.type = ElementType::DataTransfer;
  page.pvoltag = true;
  ElementDescriptor a;
  a.address = 0x0100;
  a.full = true;
  a.primary_tag = VolumeTag{"TAPE01", 2};
  a.device_identifier = DeviceIdentifier{0, 2, false, 0, 1, ascii("IBM ULT3580", 11)};
  ElementDescriptor b;
  b.address = 0x0101;  // no tag (written blank) and no identifier (an empty one)
  page.descriptors = {a, b};
  d.pages.push_back(page);
  auto bytes = encode_element_status_data(d);
  ASSERT_TRUE(bytes.has_value());
  const std::size_t edl = 12 + 36 + 4 + 11;
  EXPECT_EQ(hex_string(Bytes(*bytes).first(16)), "01 00 00 02 00 00 00 86 04 80 00 3f 00 00 00 7e");
  ASSERT_EQ(bytes->size(), 16 + 2 * edl);
  auto back = parse_element_status_data(*bytes, Dvcid::Requested);
  ASSERT_TRUE(back.has_value());
  const auto& got = back->pages[0].descriptors;
  EXPECT_EQ(got[0], a);
  EXPECT_TRUE(got[1].primary_tag->blank());
  EXPECT_TRUE(got[1].device_identifier->identifier.empty());

  // An explicit longer descriptor length pads with zeros.
  d.pages[0].descriptor_length = 80;
  auto padded = encode_element_status_data(d);
  ASSERT_TRUE(padded.has_value());
  EXPECT_EQ(padded->size(), 16u + 160u);
  auto padded_back = parse_element_status_data(*padded, Dvcid::Requested);
  ASSERT_TRUE(padded_back.has_value());
  EXPECT_EQ(padded_back->pages[0].descriptors[0], a);
}

TEST(ElementStatusEncode, RejectsWhatCannotBeEncoded) {
  auto one = [](auto mutate) {
    ElementStatusData d;
    ElementStatusPage page;
    page.type = ElementType::Storage;
    page.descriptors.push_back({});
    mutate(d, page);
    d.pages.push_back(page);
    return encode_element_status_data(d);
  };
  EXPECT_TRUE(one([](auto&, auto&) {}).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) { p.type = ElementType::All; }).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) {
                 p.descriptors[0].primary_tag = VolumeTag{"X", 0};
               }).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) {
                 p.pvoltag = true;
                 p.descriptors[0].primary_tag = VolumeTag{std::string(33, 'X'), 0};
               }).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) { p.descriptor_length = 11; }).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) { p.descriptors[0].lun = 8; }).has_value());
  EXPECT_FALSE(
      one([](auto&, ElementStatusPage& p) { p.descriptors[0].medium_type = 8; }).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) {
                 p.descriptors[0].device_identifier = DeviceIdentifier{};
                 p.descriptors[0].device_identifier->identifier.resize(256);
               }).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) {
                 p.descriptors[0].device_identifier = DeviceIdentifier{};
                 p.descriptors[0].device_identifier->code_set = 16;
               }).has_value());
  EXPECT_FALSE(one([](auto&, ElementStatusPage& p) {
                 p.descriptors[0].vendor_specific.resize(0x10000);
               }).has_value());
}

// ---- REQUEST VOLUME ELEMENT ADDRESS data ------------------------------------------------------

TEST(VolumeElementAddress, CarriesTheSendActionCode) {
  ByteVec v = storage_report();
  v[4] = 0x05;
  auto r = parse_volume_element_address_data(v, Dvcid::NotRequested);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->send_action_code, 0x05);
  EXPECT_EQ(r->status.descriptor_count(), 2u);
  EXPECT_EQ(*encode_volume_element_address_data(*r), v);
  r->send_action_code = 0x20;
  EXPECT_FALSE(encode_volume_element_address_data(*r).has_value());
  auto short_data = parse_volume_element_address_data(hx("00 00 00"), Dvcid::NotRequested);
  ASSERT_FALSE(short_data.has_value());
  EXPECT_TRUE(mentions(short_data.error(), "REQUEST VOLUME ELEMENT ADDRESS data"));
}

// ---- SEND VOLUME TAG parameters ---------------------------------------------------------------

TEST(SendVolumeTagParameters, EncodesSpacePaddedTemplateAndSequenceNumbers) {
  const SendVolumeTagParameters p{"A0001*", 1, 9};
  auto bytes = encode_send_volume_tag_parameters(p);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(ByteVec(bytes->begin(), bytes->end()),
            cat({ascii("A0001*", 32), hx("00 00 00 01 00 00 00 09")}));
  EXPECT_EQ(*parse_send_volume_tag_parameters(*bytes), p);
}

TEST(SendVolumeTagParameters, NulTerminatesAndRejectsBadInput) {
  const ByteVec nul = cat({ascii("AB?", 32, 0), hx("00 00 00 00 00 00 00 00")});
  EXPECT_EQ(parse_send_volume_tag_parameters(nul)->volume_identification_template, "AB?");
  EXPECT_FALSE(parse_send_volume_tag_parameters(ByteVec(39, ' ')).has_value());
  EXPECT_FALSE(encode_send_volume_tag_parameters({std::string(33, 'A'), 0, 0}).has_value());
  auto ctl = encode_send_volume_tag_parameters({"A\tB", 0, 0});
  ASSERT_FALSE(ctl.has_value());
  EXPECT_TRUE(mentions(ctl.error(), "template byte 1 (0x09)"));
}

// ---- Mode pages -------------------------------------------------------------------------------

TEST(ElementAddressAssignmentPage, DecodesFromModeSenseData) {
  const ByteVec sense =
      hx("17 00 00 00 "
         "9d 12 00 00 00 01 10 00 03 e8 00 10 00 04 01 00 00 02 00 00");
  auto mode = parse_mode_sense_data(sense, ModeHeaderFormat::Six);
  ASSERT_TRUE(mode.has_value()) << mode.error().message();
  const ModePage* page = find_mode_page(*mode, kElementAddressAssignmentPage);
  ASSERT_NE(page, nullptr);
  EXPECT_TRUE(page->ps);
  auto a = parse_element_address_assignment(*page);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->medium_transport, (ElementRange{0x0000, 1}));
  EXPECT_EQ(a->storage, (ElementRange{0x1000, 1000}));
  EXPECT_EQ(a->import_export, (ElementRange{0x0010, 4}));
  EXPECT_EQ(a->data_transfer, (ElementRange{0x0100, 2}));
  EXPECT_EQ(a->range(ElementType::All), ElementRange{});
  EXPECT_EQ(a->locate(0x1005), (ElementLocation{ElementType::Storage, 5}));
  EXPECT_EQ(a->locate(0x0101), (ElementLocation{ElementType::DataTransfer, 1}));
  EXPECT_EQ(a->locate(0x0000), (ElementLocation{ElementType::MediumTransport, 0}));
  EXPECT_FALSE(a->locate(0x0102).has_value());
  EXPECT_FALSE(a->locate(0x2000).has_value());
  EXPECT_EQ(a->address_of(ElementType::Storage, 999), 0x13e7);
  EXPECT_FALSE(a->address_of(ElementType::Storage, 1000).has_value());
  EXPECT_FALSE(a->address_of(ElementType::All, 0).has_value());

  ModePage encoded = encode_element_address_assignment(*a);
  encoded.ps = true;
  EXPECT_EQ(encoded, *page);
}

TEST(ElementAddressAssignmentPage, LiberalAboutLengthStrictAboutCode) {
  ModePage page = encode_element_address_assignment({{0, 1}, {0x1000, 10}, {}, {0x100, 2}});
  page.data.resize(16);  // no reserved tail
  EXPECT_EQ(parse_element_address_assignment(page)->storage.count, 10);
  page.data.resize(30);  // vendor additions
  EXPECT_TRUE(parse_element_address_assignment(page).has_value());
  page.data.resize(15);
  auto short_page = parse_element_address_assignment(page);
  ASSERT_FALSE(short_page.has_value());
  EXPECT_TRUE(mentions(short_page.error(), "PAGE LENGTH 15 is shorter than the 16 bytes"));
  page.data.resize(18);
  page.page_code = 0x1f;
  EXPECT_TRUE(mentions(parse_element_address_assignment(page).error(),
                       "mode page 0x1f is not the Element Address Assignment page (0x1d)"));
  page.page_code = 0x1d;
  page.spf = true;
  EXPECT_FALSE(parse_element_address_assignment(page).has_value());
  // A range reaching past 0xFFFF does not wrap.
  const ElementAddressAssignment edge{{}, {0xfff0, 0x20}, {}, {}};
  EXPECT_TRUE(edge.storage.contains(0xffff));
  EXPECT_FALSE(edge.storage.contains(0x0005));
  EXPECT_EQ(edge.address_of(ElementType::Storage, 0x0f), 0xffff);
  EXPECT_FALSE(edge.address_of(ElementType::Storage, 0x10).has_value());
}

TEST(TransportGeometryPage, DecodesPairsAndRejectsOddLength) {
  ModePage page;
  page.page_code = kTransportGeometryPage;
  page.data = hx("01 00 00 01");
  auto g = parse_transport_geometry(page);
  ASSERT_TRUE(g.has_value());
  ASSERT_EQ(g->transports.size(), 2u);
  EXPECT_TRUE(g->transports[0].rotate);
  EXPECT_EQ(g->transports[0].member_number, 0);
  EXPECT_FALSE(g->transports[1].rotate);
  EXPECT_EQ(g->transports[1].member_number, 1);
  EXPECT_EQ(*encode_transport_geometry(*g), page);
  page.data.push_back(0);
  EXPECT_TRUE(mentions(parse_transport_geometry(page).error(), "not a multiple of the 2-byte"));
  TransportGeometry many;
  many.transports.resize(128);
  EXPECT_FALSE(encode_transport_geometry(many).has_value());
  many.transports.resize(127);
  EXPECT_EQ(encode_transport_geometry(many)->data.size(), 254u);
}

TEST(DeviceCapabilitiesPage, DecodesMatricesAsFreeBsdReadsThem) {
  ModePage page;
  page.page_code = kDeviceCapabilitiesPage;
  page.data = hx("0e 00 0e 0e 06 06 00 00 00 00 00 0a 00 02 00 00 00 00");
  auto c = parse_device_capabilities(page);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->can_store(ElementType::MediumTransport));
  EXPECT_TRUE(c->can_store(ElementType::Storage));
  EXPECT_TRUE(c->can_store(ElementType::DataTransfer));
  EXPECT_FALSE(c->can_store(ElementType::All));
  EXPECT_TRUE(c->can_move(ElementType::MediumTransport, ElementType::DataTransfer));
  EXPECT_FALSE(c->can_move(ElementType::MediumTransport, ElementType::MediumTransport));
  EXPECT_TRUE(c->can_move(ElementType::ImportExport, ElementType::Storage));
  EXPECT_FALSE(c->can_move(ElementType::ImportExport, ElementType::DataTransfer));
  EXPECT_TRUE(c->can_exchange(ElementType::Storage, ElementType::DataTransfer));
  EXPECT_FALSE(c->can_exchange(ElementType::Storage, ElementType::ImportExport));
  EXPECT_TRUE(c->can_exchange(ElementType::DataTransfer, ElementType::Storage));
  EXPECT_FALSE(c->can_move(ElementType::All, ElementType::Storage));
  EXPECT_EQ(encode_device_capabilities(*c), page);

  DeviceCapabilities built;
  built.set_store(ElementType::Storage, true);
  built.set_store(ElementType::ImportExport, true);
  built.set_store(ElementType::DataTransfer, true);
  built.set_store(ElementType::All, true);  // ignored
  for (ElementType from : kElementTypes) {
    for (ElementType to : {ElementType::Storage, ElementType::ImportExport}) {
      built.set_move(from, to, true);
    }
    built.set_move(from, ElementType::DataTransfer,
                   from == ElementType::MediumTransport || from == ElementType::Storage);
  }
  built.set_exchange(ElementType::Storage, ElementType::Storage, true);
  built.set_exchange(ElementType::Storage, ElementType::DataTransfer, true);
  built.set_exchange(ElementType::DataTransfer, ElementType::Storage, true);
  built.set_exchange(ElementType::Storage, ElementType::ImportExport, true);
  built.set_exchange(ElementType::Storage, ElementType::ImportExport, false);
  EXPECT_EQ(*c, built);

  page.data.resize(13);
  EXPECT_TRUE(mentions(parse_device_capabilities(page).error(), "shorter than the 14 bytes"));
}

}  // namespace
}  // namespace ucam::scsi::smc
