// The SMC-3 media changer model: inventory, READ ELEMENT STATUS, MOVE / EXCHANGE MEDIUM, errors,
// operator actions, paging through a large library and concurrent moves.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "scsi/cdb.h"
#include "scsi/mode.h"
#include "scsi/sense.h"
#include "scsi/smc.h"
#include "scsi/vpd.h"
#include "sims/emu/embedded.h"
#include "tests/emu/harness.h"

namespace ucam::emu::testing {
namespace {

namespace smc = scsi::smc;

// Picker 0x0000, portals 0x0010-0x0011, drives 0x0100-0x0101, slots 0x1000-0x1009.
constexpr const char* kScenario = R"({"buses":[{"targets":[
  {"id":1,"luns":[{"type":"disk","naa":"5000c50000000101"}]},
  {"id":4,"luns":[{"type":"changer","vendor":"ACME","product":"LIB10","slots":10,"portals":2,
    "full_slots":3,"media":{"5":"CLN001L6"},"portal_media":{"1":"IMP001L6"},
    "drives":[{"target":1,"lun":0},{"identifier":"IBM ULT3580 SN42"}]}]}]}]})";
constexpr LunAddress kChanger{0, 4, 0};
constexpr std::uint16_t kPicker = 0x0000;
constexpr std::uint16_t kPortal0 = 0x0010;
constexpr std::uint16_t kPortal1 = 0x0011;
constexpr std::uint16_t kDrive0 = 0x0100;
constexpr std::uint16_t kDrive1 = 0x0101;
constexpr std::uint16_t kSlot0 = 0x1000;

struct Status {
  Reply reply;
  smc::ElementStatusData data;
};

Status read_status(Harness& h, const LunAddress& at, smc::ElementType type, std::uint16_t start,
                   std::uint16_t count, std::uint32_t allocation = 0xffff,
                   smc::Dvcid dvcid = smc::Dvcid::NotRequested,
                   smc::VolumeTags voltag = smc::VolumeTags::Include) {
  smc::ReadElementStatusRequest request;
  request.type = type;
  request.voltag = voltag;
  request.starting_address = start;
  request.number_of_elements = count;
  request.dvcid = dvcid;
  request.allocation_length = allocation;
  Status status;
  status.reply = h.read(at, *smc::read_element_status(request), allocation);
  if (status.reply.good()) {
    auto decoded = smc::parse_element_status_data(status.reply.data, dvcid);
    EXPECT_TRUE(decoded) << (decoded ? "" : decoded.error().message());
    if (decoded) {
      status.data = std::move(*decoded);
    }
  }
  return status;
}

Reply move(Harness& h, std::uint16_t from, std::uint16_t to, std::uint16_t transport = 0,
           const LunAddress& at = kChanger) {
  return h.run(at, smc::move_medium({transport, from, to, smc::Invert::No}));
}

scsi::Cdb exchange(std::uint32_t source, std::uint32_t first, std::uint32_t second) {
  smc::ExchangeMediumRequest request;
  request.source = static_cast<std::uint16_t>(source);
  request.first_destination = static_cast<std::uint16_t>(first);
  request.second_destination = static_cast<std::uint16_t>(second);
  return smc::exchange_medium(request);
}

std::string tag_of(const smc::ElementDescriptor* d) {
  return d != nullptr && d->primary_tag ? d->primary_tag->identifier : "<none>";
}

class EmuChanger : public ::testing::Test {
 protected:
  Harness h{kScenario};

  const smc::ElementDescriptor* element(std::uint16_t address) {
    m_last = read_status(h, kChanger, smc::ElementType::All, 0, 0xffff);
    EXPECT_TRUE(m_last.reply.good());
    return m_last.data.find(address);
  }

 private:
  Status m_last;
};

TEST_F(EmuChanger, InquiryReportsMediumChangerType) {
  const Reply r = h.read(kChanger, scsi::inquiry(scsi::InquiryData::Standard, 0, 96), 96);
  ASSERT_TRUE(r.good());
  EXPECT_EQ(r.data[0], 0x08);
  EXPECT_EQ(ascii(r.data, 16, 5), "LIB10");
}

TEST_F(EmuChanger, TestUnitReadyIsGood) {
  EXPECT_TRUE(h.run(kChanger, scsi::test_unit_ready()).good());
}

TEST_F(EmuChanger, ModeSenseReportsTheElementAddressAssignment) {
  const Reply r = h.read(kChanger,
                         scsi::mode_sense10(scsi::BlockDescriptors::Disable,
                                            scsi::PageControl::Current, 0x3f, 0, 1024),
                         1024);
  ASSERT_TRUE(r.good());
  auto parameters = scsi::parse_mode_sense_data(r.data, scsi::ModeHeaderFormat::Ten);
  ASSERT_TRUE(parameters) << parameters.error().message();
  const scsi::ModePage* page = scsi::find_mode_page(*parameters, 0x1d);
  ASSERT_NE(page, nullptr);
  auto assignment = smc::parse_element_address_assignment(*page);
  ASSERT_TRUE(assignment);
  EXPECT_EQ(assignment->medium_transport, (smc::ElementRange{kPicker, 1}));
  EXPECT_EQ(assignment->storage, (smc::ElementRange{kSlot0, 10}));
  EXPECT_EQ(assignment->import_export, (smc::ElementRange{kPortal0, 2}));
  EXPECT_EQ(assignment->data_transfer, (smc::ElementRange{kDrive0, 2}));
  const scsi::ModePage* geometry = scsi::find_mode_page(*parameters, 0x1e);
  ASSERT_NE(geometry, nullptr);
  EXPECT_EQ(smc::parse_transport_geometry(*geometry)->transports.size(), 1U);
  const scsi::ModePage* capabilities = scsi::find_mode_page(*parameters, 0x1f);
  ASSERT_NE(capabilities, nullptr);
  auto caps = smc::parse_device_capabilities(*capabilities);
  ASSERT_TRUE(caps);
  EXPECT_TRUE(caps->can_move(smc::ElementType::Storage, smc::ElementType::DataTransfer));
  EXPECT_TRUE(caps->can_store(smc::ElementType::Storage));
}

TEST_F(EmuChanger, ModeSense6ServesOnePage) {
  const Reply r = h.read(
      kChanger,
      scsi::mode_sense6(scsi::BlockDescriptors::Disable, scsi::PageControl::Current, 0x1d, 0, 255),
      255);
  ASSERT_TRUE(r.good());
  auto parameters = scsi::parse_mode_sense_data(r.data, scsi::ModeHeaderFormat::Six);
  ASSERT_TRUE(parameters);
  ASSERT_EQ(parameters->pages.size(), 1U);
  EXPECT_EQ(parameters->pages[0].page_code, 0x1d);
}

TEST_F(EmuChanger, ReadElementStatusShowsTheConfiguredElements) {
  const Status s = read_status(h, kChanger, smc::ElementType::All, 0, 0xffff);
  ASSERT_TRUE(s.reply.good());
  EXPECT_FALSE(s.data.truncated);
  EXPECT_EQ(s.data.number_of_elements_available, 1 + 2 + 2 + 10);
  ASSERT_EQ(s.data.pages.size(), 4U);
  EXPECT_EQ(s.data.pages[0].type, smc::ElementType::MediumTransport);
  EXPECT_EQ(s.data.pages[1].type, smc::ElementType::ImportExport);
  EXPECT_EQ(s.data.pages[2].type, smc::ElementType::DataTransfer);
  EXPECT_EQ(s.data.pages[3].type, smc::ElementType::Storage);
  for (std::uint16_t i = 0; i < 10; ++i) {
    const auto* slot = s.data.find(static_cast<std::uint16_t>(kSlot0 + i));
    ASSERT_NE(slot, nullptr) << i;
    const bool full = i < 3 || i == 5;
    EXPECT_EQ(slot->full, full) << i;
    EXPECT_TRUE(slot->access);
    EXPECT_FALSE(slot->svalid);
    if (i < 3) {
      EXPECT_EQ(tag_of(slot), generated_volume_tag(i));
      EXPECT_EQ(slot->medium_type, static_cast<std::uint8_t>(smc::MediumType::Data));
    } else if (i == 5) {
      EXPECT_EQ(tag_of(slot), "CLN001L6");
      EXPECT_EQ(slot->medium_type, static_cast<std::uint8_t>(smc::MediumType::Cleaning));
    } else {
      EXPECT_EQ(tag_of(slot), "");
    }
  }
  EXPECT_EQ(generated_volume_tag(0), "UCAM001L6");
  const auto* imported = s.data.find(kPortal1);
  ASSERT_NE(imported, nullptr);
  EXPECT_TRUE(imported->full);
  EXPECT_TRUE(imported->impexp);
  EXPECT_TRUE(imported->inenab);
  EXPECT_TRUE(imported->exenab);
  EXPECT_EQ(tag_of(imported), "IMP001L6");
  EXPECT_FALSE(s.data.find(kPortal0)->full);
  EXPECT_FALSE(s.data.find(kPicker)->full);
  EXPECT_FALSE(s.data.find(kDrive0)->full);
}

TEST_F(EmuChanger, WithoutVolTagThereAreNoTags) {
  const Status s = read_status(h, kChanger, smc::ElementType::Storage, 0, 0xffff, 0xffff,
                               smc::Dvcid::NotRequested, smc::VolumeTags::Exclude);
  ASSERT_TRUE(s.reply.good());
  ASSERT_EQ(s.data.pages.size(), 1U);
  EXPECT_FALSE(s.data.pages[0].pvoltag);
  EXPECT_FALSE(s.data.pages[0].descriptors[0].primary_tag);
}

TEST_F(EmuChanger, DvcidReportsTheLinkedLunOrTheConfiguredIdentifier) {
  const Status s = read_status(h, kChanger, smc::ElementType::DataTransfer, 0, 0xffff, 0xffff,
                               smc::Dvcid::Requested);
  ASSERT_TRUE(s.reply.good());
  const auto* linked = s.data.find(kDrive0);
  ASSERT_NE(linked, nullptr);
  ASSERT_TRUE(linked->device_identifier);
  EXPECT_EQ(linked->device_identifier->identifier_type,
            static_cast<std::uint8_t>(scsi::DesignatorType::Naa));
  EXPECT_EQ(linked->device_identifier->identifier,
            (std::vector<std::uint8_t>{0x50, 0x00, 0xc5, 0x00, 0x00, 0x00, 0x01, 0x01}));
  EXPECT_TRUE(linked->id_valid);
  EXPECT_EQ(linked->bus_address, 1);
  const auto* named = s.data.find(kDrive1);
  ASSERT_NE(named, nullptr);
  ASSERT_TRUE(named->device_identifier);
  EXPECT_EQ(named->device_identifier->code_set, static_cast<std::uint8_t>(scsi::CodeSet::Ascii));
  const std::string text(named->device_identifier->identifier.begin(),
                         named->device_identifier->identifier.end());
  EXPECT_EQ(text, "IBM ULT3580 SN42");
}

TEST_F(EmuChanger, TypeFilterStartingAddressAndCountSelectElements) {
  const Status s = read_status(h, kChanger, smc::ElementType::Storage, kSlot0 + 2, 3);
  ASSERT_TRUE(s.reply.good());
  ASSERT_EQ(s.data.pages.size(), 1U);
  ASSERT_EQ(s.data.pages[0].descriptors.size(), 3U);
  EXPECT_EQ(s.data.pages[0].descriptors[0].address, kSlot0 + 2);
  EXPECT_EQ(s.data.pages[0].descriptors[2].address, kSlot0 + 4);
  EXPECT_EQ(s.data.first_element_address, kSlot0 + 2);
  // A starting address between elements reports from the next one.
  const Status portals = read_status(h, kChanger, smc::ElementType::All, 0x0001, 2);
  ASSERT_TRUE(portals.reply.good());
  EXPECT_EQ(portals.data.first_element_address, kPortal0);
  EXPECT_EQ(portals.data.descriptor_count(), 2U);
}

TEST_F(EmuChanger, ZeroElementsReportsTheHeaderAlone) {
  const Status s = read_status(h, kChanger, smc::ElementType::All, 0, 0);
  ASSERT_TRUE(s.reply.good());
  EXPECT_EQ(s.reply.data.size(), smc::kElementStatusHeaderLength);
  EXPECT_EQ(s.data.descriptor_count(), 0U);
}

TEST(EmuChangerScenario, ADriveCountGivesNamedDrives) {
  Harness h{R"({"buses":[{"targets":[{"id":2,"luns":[{"type":"changer","drives":2}]}]}]})"};
  ASSERT_TRUE(h.emu);
  const Status s = read_status(h, {0, 2, 0}, smc::ElementType::DataTransfer, 0, 0xffff, 0xffff,
                               smc::Dvcid::Requested);
  ASSERT_TRUE(s.reply.good());
  ASSERT_EQ(s.data.descriptor_count(), 2U);
  const auto& id = s.data.pages[0].descriptors[1].device_identifier;
  ASSERT_TRUE(id);
  EXPECT_EQ(std::string(id->identifier.begin(), id->identifier.end()), "EMU DRIVE 0001");
}

TEST_F(EmuChanger, NoElementAtOrAfterTheStartingAddressIsInvalidElementAddress) {
  const Status s = read_status(h, kChanger, smc::ElementType::Storage, 0x2000, 5);
  ASSERT_TRUE(s.reply.check_condition());
  EXPECT_EQ(s.reply.sense_code(), scsi::kInvalidElementAddress);
}

TEST_F(EmuChanger, MoveChangesBothEndsAndRecordsTheSource) {
  ASSERT_TRUE(move(h, kSlot0, kDrive0).good());
  const auto* drive = element(kDrive0);
  ASSERT_NE(drive, nullptr);
  EXPECT_TRUE(drive->full);
  EXPECT_TRUE(drive->svalid);
  EXPECT_EQ(drive->source_address, kSlot0);
  EXPECT_EQ(tag_of(drive), "UCAM001L6");
  const auto* slot = element(kSlot0);
  EXPECT_FALSE(slot->full);
  EXPECT_FALSE(slot->svalid);
  EXPECT_EQ(tag_of(slot), "");
  // Drive -> another slot: the medium still remembers its home slot.
  ASSERT_TRUE(move(h, kDrive0, kSlot0 + 9).good());
  const auto* moved = element(kSlot0 + 9);
  EXPECT_TRUE(moved->full);
  EXPECT_EQ(moved->source(), std::optional<std::uint16_t>(kSlot0));
  EXPECT_FALSE(element(kDrive0)->full);
}

TEST_F(EmuChanger, PickerPlacedPortalMediaHaveNoImpexp) {
  ASSERT_TRUE(move(h, kSlot0, kPortal0).good());
  const auto* portal = element(kPortal0);
  EXPECT_TRUE(portal->full);
  EXPECT_FALSE(portal->impexp);
  // The operator's medium loses IMPEXP once the picker takes it in.
  ASSERT_TRUE(move(h, kPortal1, kSlot0 + 8).good());
  const auto* slot = element(kSlot0 + 8);
  EXPECT_TRUE(slot->full);
  EXPECT_FALSE(slot->impexp);
  EXPECT_EQ(slot->source(), std::optional<std::uint16_t>(kPortal1));
}

TEST_F(EmuChanger, MoveFromAnEmptySourceIsSourceElementEmpty) {
  const Reply r = move(h, kSlot0 + 4, kDrive0);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kSourceEmpty);
}

TEST_F(EmuChanger, MoveToAFullDestinationIsDestinationElementFull) {
  const Reply r = move(h, kSlot0, kSlot0 + 1);
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kDestinationFull);
  EXPECT_TRUE(element(kSlot0)->full);  // Nothing moved.
}

TEST_F(EmuChanger, InvalidAddressesAreInvalidElementAddress) {
  for (const auto& [from, to, transport] :
       {std::tuple{std::uint16_t{0x1234}, kDrive0, std::uint16_t{0}},
        std::tuple{kSlot0, std::uint16_t{0x0200}, std::uint16_t{0}},
        std::tuple{kSlot0, kDrive0, std::uint16_t{0x0005}}}) {
    const Reply r = move(h, from, to, transport);
    ASSERT_TRUE(r.check_condition()) << from << " " << to << " " << transport;
    EXPECT_EQ(r.sense_code(), scsi::kInvalidElementAddress);
  }
  EXPECT_TRUE(element(kSlot0)->full);
}

TEST_F(EmuChanger, ExchangeSwapsThroughTwoDestinations) {
  ASSERT_TRUE(move(h, kSlot0, kDrive0).good());
  // Slot 1's medium into the drive, the drive's medium into empty slot 9.
  ASSERT_TRUE(h.run(kChanger, exchange(kSlot0 + 1, kDrive0, kSlot0 + 9)).good());
  EXPECT_EQ(tag_of(element(kDrive0)), "UCAM002L6");
  EXPECT_EQ(element(kDrive0)->source(), std::optional<std::uint16_t>(kSlot0 + 1));
  EXPECT_FALSE(element(kSlot0 + 1)->full);
  EXPECT_EQ(tag_of(element(kSlot0 + 9)), "UCAM001L6");
  EXPECT_EQ(element(kSlot0 + 9)->source(), std::optional<std::uint16_t>(kSlot0));
  // Second destination = source: a swap.
  ASSERT_TRUE(h.run(kChanger, exchange(kSlot0 + 2, kSlot0 + 9, kSlot0 + 2)).good());
  EXPECT_EQ(tag_of(element(kSlot0 + 9)), "UCAM003L6");
  EXPECT_EQ(tag_of(element(kSlot0 + 2)), "UCAM001L6");
}

TEST_F(EmuChanger, ExchangeErrors) {
  Reply r = h.run(kChanger, exchange(kSlot0 + 4, kSlot0, kSlot0 + 4));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kSourceEmpty);
  r = h.run(kChanger, exchange(kSlot0, kSlot0 + 4, kSlot0));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kSourceEmpty);  // The first destination is the second's source.
  r = h.run(kChanger, exchange(kSlot0, kSlot0 + 1, kSlot0 + 2));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kDestinationFull);
  r = h.run(kChanger, exchange(kSlot0, kSlot0 + 1, 0x7777));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidElementAddress);
}

TEST_F(EmuChanger, PositionToElement) {
  EXPECT_TRUE(h.run(kChanger, smc::position_to_element({0, kSlot0 + 3, smc::Invert::No})).good());
  const Reply r = h.run(kChanger, smc::position_to_element({0, 0x0050, smc::Invert::No}));
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), scsi::kInvalidElementAddress);
}

TEST_F(EmuChanger, InitializeElementStatusIsGood) {
  EXPECT_TRUE(h.run(kChanger, smc::initialize_element_status()).good());
  EXPECT_TRUE(h.run(kChanger, smc::initialize_element_status_with_range(
                                  {smc::ScanMode::Fast, smc::ElementRangeSelect::Range, kSlot0, 5}))
                  .good());
  EXPECT_TRUE(h.run(kChanger, smc::initialize_element_status_with_range({})).good());
  const Reply r =
      h.run(kChanger, smc::initialize_element_status_with_range(
                          {smc::ScanMode::Full, smc::ElementRangeSelect::Range, 0x9000, 1}));
  EXPECT_EQ(r.sense_code(), scsi::kInvalidElementAddress);
}

TEST_F(EmuChanger, AllocationLengthCutsTheReportButKeepsTheByteCount) {
  const Status whole = read_status(h, kChanger, smc::ElementType::All, 0, 0xffff);
  ASSERT_TRUE(whole.reply.good());
  const Status cut = read_status(h, kChanger, smc::ElementType::All, 0, 0xffff, 100);
  ASSERT_TRUE(cut.reply.good());
  EXPECT_EQ(cut.reply.data.size(), 100U);
  EXPECT_TRUE(cut.data.truncated);
  EXPECT_EQ(cut.data.byte_count_available, whole.data.byte_count_available);
  EXPECT_EQ(cut.data.number_of_elements_available, whole.data.number_of_elements_available);
  EXPECT_LT(cut.data.descriptor_count(), whole.data.descriptor_count());
  EXPECT_TRUE(smc::next_element_status_request(cut.data));
}

TEST_F(EmuChanger, DoorOpenIsNotReadyAndClosingIsAUnitAttention) {
  ASSERT_TRUE(h.emu->set_changer_door(kChanger, ChangerDoor::Open));
  Reply r = h.run(kChanger, scsi::test_unit_ready());
  ASSERT_TRUE(r.check_condition());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x02, 0x04, 0x03}));
  r = move(h, kSlot0, kDrive0);
  EXPECT_EQ(r.sense_code(), (SenseCode{0x02, 0x04, 0x03}));
  // The inventory is still readable.
  EXPECT_TRUE(read_status(h, kChanger, smc::ElementType::All, 0, 0xffff).reply.good());
  ASSERT_TRUE(h.emu->set_changer_door(kChanger, ChangerDoor::Closed));
  r = h.run(kChanger, scsi::test_unit_ready());
  EXPECT_EQ(r.sense_code(), (SenseCode{0x06, 0x28, 0x00}));
  EXPECT_TRUE(h.run(kChanger, scsi::test_unit_ready()).good());
  EXPECT_TRUE(move(h, kSlot0, kDrive0).good());
}

TEST_F(EmuChanger, OperatorImportSetsImpexpAndIsAUnitAttention) {
  ASSERT_TRUE(h.emu->import_medium(kChanger, 0, "NEW001L6"));
  EXPECT_EQ(h.run(kChanger, scsi::test_unit_ready()).sense_code(), (SenseCode{0x06, 0x28, 0x01}));
  const auto* portal = element(kPortal0);
  EXPECT_TRUE(portal->full);
  EXPECT_TRUE(portal->impexp);
  EXPECT_EQ(tag_of(portal), "NEW001L6");
  EXPECT_FALSE(h.emu->import_medium(kChanger, 0, "X"));  // Full.
  EXPECT_FALSE(h.emu->import_medium(kChanger, 7, "X"));  // No such portal.
  ASSERT_TRUE(h.emu->export_medium(kChanger, 0));
  EXPECT_EQ(h.run(kChanger, scsi::test_unit_ready()).sense_code(), (SenseCode{0x06, 0x28, 0x01}));
  const auto* emptied = element(kPortal0);
  ASSERT_NE(emptied, nullptr);
  EXPECT_FALSE(emptied->full);
  EXPECT_FALSE(h.emu->import_medium({0, 1, 0}, 0, "X"));  // Not a changer.
}

TEST(EmuChangerScenario, ADriveNamingAMissingLunIsAnError) {
  auto scenario = parse_scenario(R"({"buses":[{"targets":[{"id":4,"luns":[
      {"type":"changer","drives":[{"target":9}]}]}]}]})",
                                 "test.json");
  ASSERT_TRUE(scenario) << scenario.error().message();
  FakeXpt xpt;
  auto emu = Emulator::create(*scenario, xpt);
  ASSERT_FALSE(emu);
  EXPECT_NE(emu.error().context().find("drive 0 names bus 0 target 9 LUN 0"), std::string::npos)
      << emu.error().context();
}

TEST(EmuChangerScenario, BadKeysAreErrors) {
  for (const char* lun :
       {R"({"type":"changer","slots":4,"full_slots":5})",
        R"({"type":"changer","slots":4,"media":{"4":"A"}})",
        R"({"type":"changer","slots":4,"media":{"x":"A"}})",
        R"({"type":"changer","slot_address":0,"slots":4})",
        R"({"type":"changer","slot_address":65535,"slots":4})",
        R"({"type":"changer","drives":[{"targett":1}]})", R"({"type":"changer","drives":"two"})"}) {
    const std::string json =
        std::string(R"({"buses":[{"targets":[{"id":4,"luns":[)") + lun + "]}]}]}";
    EXPECT_FALSE(parse_scenario(json, "test.json")) << lun;
  }
}

// builtin:library-1000: 1 picker, 10 portals, 4 drives, 1,000 slots with 900 media.
TEST(EmuChangerLibrary, PagingVisitsEveryElementOfTheThousandSlotLibrary) {
  Harness h{embedded_scenario("library-1000")};
  ASSERT_TRUE(h.emu);
  constexpr LunAddress kLibrary{0, 0, 0};
  std::set<std::uint16_t> slots;
  std::size_t full = 0;
  std::size_t reads = 0;
  smc::ReadElementStatusRequest request;
  request.type = smc::ElementType::Storage;
  request.voltag = smc::VolumeTags::Include;
  request.number_of_elements = 0xffff;
  request.allocation_length = 4096;  // About 70 descriptors with tags.
  for (;;) {
    ASSERT_LT(++reads, 100U);
    const Reply r = h.read(kLibrary, *smc::read_element_status(request), request.allocation_length);
    ASSERT_TRUE(r.good());
    auto data = smc::parse_element_status_data(r.data, smc::Dvcid::NotRequested);
    ASSERT_TRUE(data) << data.error().message();
    for (const auto& page : data->pages) {
      for (const auto& d : page.descriptors) {
        EXPECT_TRUE(slots.insert(d.address).second) << d.address;
        if (d.full) {
          ++full;
          EXPECT_FALSE(d.primary_tag->blank());
        }
      }
    }
    const auto next = smc::next_element_status_request(*data);
    if (!next) {
      break;
    }
    request.starting_address = next->starting_address;
    request.number_of_elements = next->number_of_elements;
    request.allocation_length = std::min<std::uint32_t>(next->allocation_length, 4096);
  }
  EXPECT_GT(reads, 10U);
  EXPECT_EQ(slots.size(), 1000U);
  EXPECT_EQ(full, 900U);
  const Status all =
      read_status(h, kLibrary, smc::ElementType::All, 0, 0xffff, 0x20000, smc::Dvcid::Requested);
  ASSERT_TRUE(all.reply.good());
  EXPECT_EQ(all.data.number_of_elements_available, 1 + 10 + 4 + 1000);
  EXPECT_FALSE(all.data.truncated);
}

TEST(EmuChangerLibrary, ConcurrentMovesNeitherLoseNorDuplicateMedia) {
  Harness h{embedded_scenario("library-1000")};
  ASSERT_TRUE(h.emu);
  constexpr LunAddress kLibrary{0, 0, 0};
  auto changer = h.emu->changer(kLibrary);
  ASSERT_TRUE(changer);
  const std::size_t before = (*changer)->media_count();
  ASSERT_EQ(before, 900U);
  constexpr int kThreads = 4;
  constexpr int kMoves = 2000;
  std::atomic<int> good{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<std::uint32_t>(t * 7919 + 3));
      for (int i = 0; i < kMoves; ++i) {
        // Slots 0x1000-0x13E7 and the four drives at 0x0100.
        auto pick = [&rng]() -> std::uint16_t {
          return rng() % 8 == 0 ? static_cast<std::uint16_t>(0x0100 + rng() % 4)
                                : static_cast<std::uint16_t>(0x1000 + rng() % 1000);
        };
        const std::uint16_t from = pick();
        const std::uint16_t to = pick();
        const Reply r = move(h, from, to, 0, kLibrary);
        if (r.good()) {
          ++good;
        } else if (r.sense_code() == scsi::kSourceEmpty ||
                   r.sense_code() == scsi::kDestinationFull) {
          ++refused;
        } else {
          ADD_FAILURE() << "move " << from << " -> " << to << ": unexpected outcome";
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(good + refused, kThreads * kMoves);
  EXPECT_GT(good.load(), 100);
  EXPECT_GT(refused.load(), 0);
  EXPECT_EQ((*changer)->media_count(), before);
  // Every volume tag is still there exactly once.
  std::multiset<std::string> tags;
  for (const auto& e : (*changer)->elements()) {
    if (e.full) {
      tags.insert(e.tag);
    }
  }
  EXPECT_EQ(tags.size(), 900U);
  EXPECT_EQ(std::set<std::string>(tags.begin(), tags.end()).size(), 900U);
  const Status report = read_status(h, kLibrary, smc::ElementType::All, 0, 0xffff, 0x20000);
  ASSERT_TRUE(report.reply.good());
  std::size_t full = 0;
  for (const auto& page : report.data.pages) {
    for (const auto& d : page.descriptors) {
      full += d.full ? 1 : 0;
    }
  }
  EXPECT_EQ(full, 900U);
}

}  // namespace
}  // namespace ucam::emu::testing
