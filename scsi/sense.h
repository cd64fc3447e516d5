// Sense data: parse, encode, and render.
//
// SPC-5 4.4 Sense data: 4.4.2 descriptor format (response codes 72h current, 73h deferred),
// 4.4.3 fixed format (70h current, 71h deferred), 4.4.2.4 sense-key-specific data,
// 4.4.2.x sense data descriptors, Table 50 sense keys, Annex F ASC/ASCQ assignments.
//
// The one-line rendering of `describe_sense` is stable and has this form (parts in brackets
// appear only when present, in this order, separated by "; "):
//   <Fixed|Descriptor> format, <current|deferred>; Sense key: <name>;
//   Additional sense: <text>[; Information: 0x<hex>][; Command-specific: 0x<hex>]
//   [; Field pointer: <CDB|parameter list> byte <n>[ bit <b>]][; Actual retry count: <n>]
//   [; Progress: <pp.pp>%][; Segment pointer: <segment descriptor|parameter list> byte <n>
//   [ bit <b>]][; Unit attention queue overflow][; Field replaceable unit: 0x<hex>]
//   [; Filemark][; EOM][; ILI][; SDAT_OVFL][; ATA status: 0x<hex>, error: 0x<hex>]
//   [; Another progress: <key>/<asc>/<ascq> <pp.pp>%][; Descriptor 0x<type> (<n> bytes)]
//   [; Truncated]
// for example
//   Fixed format, current; Sense key: Illegal Request; Additional sense: Invalid field in
//   CDB; Field pointer: CDB byte 2
// (on one line).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "scsi/cdb.h"

namespace ucam::scsi {

// SPC-5 4.4.1 Table 39: RESPONSE CODE values.
inline constexpr std::uint8_t kSenseFixedCurrent = 0x70;
inline constexpr std::uint8_t kSenseFixedDeferred = 0x71;
inline constexpr std::uint8_t kSenseDescriptorCurrent = 0x72;
inline constexpr std::uint8_t kSenseDescriptorDeferred = 0x73;
inline constexpr std::size_t kFixedSenseLength = 18;
inline constexpr std::size_t kMaxSenseLength = 252;  // 8 + ADDITIONAL SENSE LENGTH (max 244)

// SPC-5 4.4.4 Table 50: SENSE KEY.
enum class SenseKey : std::uint8_t {
  NoSense = 0x0,
  RecoveredError = 0x1,
  NotReady = 0x2,
  MediumError = 0x3,
  HardwareError = 0x4,
  IllegalRequest = 0x5,
  UnitAttention = 0x6,
  DataProtect = 0x7,
  BlankCheck = 0x8,
  VendorSpecific = 0x9,
  CopyAborted = 0xa,
  AbortedCommand = 0xb,
  Reserved = 0xc,  // formerly EQUAL
  VolumeOverflow = 0xd,
  Miscompare = 0xe,
  Completed = 0xf,
};
// "Illegal Request"; 0xc gives "Reserved [0xc]". Only the low 4 bits are used.
std::string sense_key_name(std::uint8_t key);

// Sentence-case description from the T10 ASC/ASCQ list ("Invalid field in CDB"), including the
// ranges 40h/NNh (80h-FFh: "Diagnostic failure on component 0xNN"), 4Dh/NNh ("Tagged
// overlapped commands, task tag 0xNN") and 70h/NNh. ASC 80h-FFh, or an unassigned ASCQ
// 80h-FFh, gives "Vendor specific ASC 0xNN ASCQ 0xNN"; any other unknown pair
// "Reserved ASC 0xNN ASCQ 0xNN".
std::string asc_ascq_text(std::uint8_t asc, std::uint8_t ascq);
// Whether the pair is in the T10 table or one of its ranges (not vendor specific/reserved).
bool asc_ascq_known(std::uint8_t asc, std::uint8_t ascq);

// ---- Sense-key-specific information (SPC-5 4.4.2.4) --------------------------------------------

// 4.4.2.4.2 Field pointer (ILLEGAL REQUEST).
struct FieldPointerInfo {
  bool command = true;  // C/D: 1 = error in the CDB, 0 = in the parameter list
  bool bpv = false;
  std::uint8_t bit_pointer = 0;  // 3 bits, meaningful when bpv
  std::uint16_t field_pointer = 0;
  friend bool operator==(const FieldPointerInfo&, const FieldPointerInfo&) = default;
};
// 4.4.2.4.3 Actual retry count (RECOVERED ERROR, MEDIUM ERROR, HARDWARE ERROR).
struct ActualRetryCount {
  std::uint16_t count = 0;
  friend bool operator==(const ActualRetryCount&, const ActualRetryCount&) = default;
};
// 4.4.2.4.4 Progress indication (NO SENSE, NOT READY): fraction = progress / 65536.
struct ProgressIndication {
  std::uint16_t progress = 0;
  friend bool operator==(const ProgressIndication&, const ProgressIndication&) = default;
};
// 4.4.2.4.5 Segment pointer (COPY ABORTED).
struct SegmentPointer {
  bool segment_descriptor = false;  // SD
  bool bpv = false;
  std::uint8_t bit_pointer = 0;
  std::uint16_t field_pointer = 0;
  friend bool operator==(const SegmentPointer&, const SegmentPointer&) = default;
};
// 4.4.2.4.6 Unit attention condition queue overflow (UNIT ATTENTION).
struct UnitAttentionQueue {
  bool overflow = false;
  friend bool operator==(const UnitAttentionQueue&, const UnitAttentionQueue&) = default;
};
// Any other sense key: the three bytes as received (SKSV bit included).
struct RawSenseKeySpecific {
  std::array<std::uint8_t, 3> bytes{};
  friend bool operator==(const RawSenseKeySpecific&, const RawSenseKeySpecific&) = default;
};
using SenseKeySpecific = std::variant<FieldPointerInfo, ActualRetryCount, ProgressIndication,
                                      SegmentPointer, UnitAttentionQueue, RawSenseKeySpecific>;

// Interprets the 3 SKS bytes (SKSV set) per the sense key.
SenseKeySpecific decode_sense_key_specific(std::uint8_t key, std::array<std::uint8_t, 3> sks);
// The 3 bytes with SKSV set; fails on a bit pointer above 7.
Result<std::array<std::uint8_t, 3>> encode_sense_key_specific(const SenseKeySpecific& sks);

// ---- Descriptors (SPC-5 4.4.2.2 onwards) --------------------------------------------------------

inline constexpr std::uint8_t kDescInformation = 0x00;
inline constexpr std::uint8_t kDescCommandSpecific = 0x01;
inline constexpr std::uint8_t kDescSenseKeySpecific = 0x02;
inline constexpr std::uint8_t kDescFieldReplaceableUnit = 0x03;
inline constexpr std::uint8_t kDescStreamCommands = 0x04;   // SSC
inline constexpr std::uint8_t kDescBlockCommands = 0x05;    // SBC
inline constexpr std::uint8_t kDescAtaStatusReturn = 0x09;  // SAT
inline constexpr std::uint8_t kDescAnotherProgress = 0x0a;

// A sense data descriptor as received: type and the ADDITIONAL LENGTH bytes after its
// 2-byte header.
struct SenseDescriptor {
  std::uint8_t type = 0;
  std::vector<std::uint8_t> body;
  friend bool operator==(const SenseDescriptor&, const SenseDescriptor&) = default;
};

// SAT-4 12.2.2.6 ATA Status Return sense data descriptor.
struct AtaStatusReturn {
  bool extend = false;
  std::uint8_t error = 0;
  std::uint16_t count = 0;  // 15:8 only with extend
  std::uint64_t lba = 0;    // 48 bits (47:24 only with extend)
  std::uint8_t device = 0;
  std::uint8_t status = 0;
  friend bool operator==(const AtaStatusReturn&, const AtaStatusReturn&) = default;
};

// SPC-5 4.4.2.9 Another progress indication sense data descriptor.
struct AnotherProgress {
  std::uint8_t sense_key = 0;
  std::uint8_t asc = 0;
  std::uint8_t ascq = 0;
  std::uint16_t progress = 0;
  friend bool operator==(const AnotherProgress&, const AnotherProgress&) = default;
};

// Parsed sense data, the same fields for both formats. For descriptor format the summary
// fields (information, sks, fru, filemark/eom/ili, ata_status, progress) are filled from the
// descriptors, and every descriptor is also kept raw in `descriptors`.
struct SenseData {
  std::uint8_t response_code = kSenseFixedCurrent;
  SenseFormat format = SenseFormat::Fixed;
  bool deferred = false;
  std::uint8_t sense_key = 0;
  std::uint8_t asc = 0;
  std::uint8_t ascq = 0;
  bool information_valid = false;
  std::uint64_t information = 0;
  std::optional<std::uint64_t> command_specific;
  std::optional<std::array<std::uint8_t, 3>> sense_key_specific;  // present only when SKSV=1
  std::uint8_t fru_code = 0;                                      // 0: none
  bool filemark = false;
  bool eom = false;
  bool ili = false;
  bool sdat_ovfl = false;
  std::optional<AtaStatusReturn> ata_status;
  std::vector<AnotherProgress> another_progress;
  std::vector<SenseDescriptor> descriptors;    // descriptor format
  std::vector<std::uint8_t> additional_bytes;  // fixed format bytes 18 and on
  // Fewer bytes than 8 + ADDITIONAL SENSE LENGTH were supplied; fields past the end are
  // absent (zero).
  bool truncated = false;

  SenseCode code() const { return SenseCode{sense_key, asc, ascq}; }
  std::optional<SenseKeySpecific> sense_key_specific_info() const;
};

// Fails on an empty buffer, a response code other than 70h-73h (7Fh vendor specific
// included), a descriptor running past the ADDITIONAL SENSE LENGTH, or a known descriptor
// shorter than its defined length. A buffer cut short is not an error: the fields present
// are returned and `truncated` is set.
Result<SenseData> parse_sense(Bytes data);

// Optional fields for the encoders.
struct SenseFields {
  bool deferred = false;
  std::optional<std::uint64_t> information;       // fixed format: 32 bits
  std::optional<std::uint64_t> command_specific;  // fixed format: 32 bits
  std::optional<SenseKeySpecific> sense_key_specific;
  std::uint8_t fru_code = 0;
  bool filemark = false;
  bool eom = false;
  bool ili = false;
  // Descriptor format only.
  std::optional<AtaStatusReturn> ata_status;
  std::vector<AnotherProgress> another_progress;
  std::vector<SenseDescriptor> extra_descriptors;
};

// 18 bytes, ADDITIONAL SENSE LENGTH 10. Fails when information or command-specific
// information exceed 32 bits, or descriptor-only fields are set.
Result<std::vector<std::uint8_t>> encode_fixed_sense(std::uint8_t key, std::uint8_t asc,
                                                     std::uint8_t ascq,
                                                     const SenseFields& fields = {});
// Header plus, in this order, information, command-specific, sense-key-specific, FRU, stream
// commands (when filemark or eom is set, carrying ili too) or block commands (ili alone),
// ATA status return, another-progress and extra descriptors. Fails when the total exceeds
// 252 bytes or an extra descriptor body exceeds 255 bytes.
Result<std::vector<std::uint8_t>> encode_descriptor_sense(std::uint8_t key, std::uint8_t asc,
                                                          std::uint8_t ascq,
                                                          const SenseFields& fields = {});

// For an emulated device: the sense bytes for an error from a CDB decoder (cdb.h), with the
// field pointer filled from the error when it names one. Errors of other kinds map to
// ILLEGAL REQUEST / INVALID FIELD IN CDB without a field pointer.
std::vector<std::uint8_t> sense_for_cdb_error(const Error& error, SenseFormat format);

// One line; see the format at the top of this header.
std::string describe_sense(const SenseData& sense);

// Only the sense key, ASC and ASCQ of fixed (70h/71h, at least 14 bytes) or descriptor
// (72h/73h, at least 4 bytes) sense; nullopt for anything else. No allocation: for the XPT's
// retry policy, which looks at every CHECK CONDITION.
std::optional<SenseCode> sense_code(Bytes data);

// ---- Sense codes used across the tree (SPC-5 Annex F), defined once ----------------------------
// Each is {sense key, ASC, ASCQ}; the comment gives the ASC/ASCQ and its name in the T10 table
// and the standard that uses it. The XPT, the periph drivers and the emulated devices all
// name their codes from here.

// No sense.
// 00h/00h NO ADDITIONAL SENSE INFORMATION
inline constexpr SenseCode kNoSense{0x00, 0x00, 0x00};

// NOT READY.
// 04h/01h LOGICAL UNIT IS IN PROCESS OF BECOMING READY
inline constexpr SenseCode kBecomingReady{0x02, 0x04, 0x01};
// 04h/02h LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED (SSC: load the medium)
inline constexpr SenseCode kInitializingCommandRequired{0x02, 0x04, 0x02};
// 04h/03h LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED (SMC: a jammed changer)
inline constexpr SenseCode kManualIntervention{0x02, 0x04, 0x03};
// 3Ah/00h MEDIUM NOT PRESENT
inline constexpr SenseCode kMediumNotPresent{0x02, 0x3a, 0x00};

// HARDWARE ERROR.
// 3Bh/16h MECHANICAL POSITIONING OR CHANGER ERROR (SMC)
inline constexpr SenseCode kChangerError{0x04, 0x3b, 0x16};

// ILLEGAL REQUEST.
// 1Ah/00h PARAMETER LIST LENGTH ERROR
inline constexpr SenseCode kParameterListLengthError{0x05, 0x1a, 0x00};
// 20h/00h INVALID COMMAND OPERATION CODE
inline constexpr SenseCode kInvalidOpcode{0x05, 0x20, 0x00};
// 21h/00h LOGICAL BLOCK ADDRESS OUT OF RANGE (SBC)
inline constexpr SenseCode kLbaOutOfRange{0x05, 0x21, 0x00};
// 21h/01h INVALID ELEMENT ADDRESS (SMC)
inline constexpr SenseCode kInvalidElementAddress{0x05, 0x21, 0x01};
// 24h/00h INVALID FIELD IN CDB
inline constexpr SenseCode kInvalidFieldInCdb{0x05, 0x24, 0x00};
// 25h/00h LOGICAL UNIT NOT SUPPORTED
inline constexpr SenseCode kLunNotSupported{0x05, 0x25, 0x00};
// 26h/00h INVALID FIELD IN PARAMETER LIST
inline constexpr SenseCode kInvalidFieldInParameterList{0x05, 0x26, 0x00};
// 2Ch/00h COMMAND SEQUENCE ERROR
inline constexpr SenseCode kCommandSequenceError{0x05, 0x2c, 0x00};
// 35h/02h ENCLOSURE SERVICES UNAVAILABLE (SES)
inline constexpr SenseCode kEnclosureServicesUnavailable{0x05, 0x35, 0x02};
// 39h/00h SAVING PARAMETERS NOT SUPPORTED
inline constexpr SenseCode kSavingParametersNotSupported{0x05, 0x39, 0x00};
// 3Bh/0Dh MEDIUM DESTINATION ELEMENT FULL (SMC)
inline constexpr SenseCode kDestinationFull{0x05, 0x3b, 0x0d};
// 3Bh/0Eh MEDIUM SOURCE ELEMENT EMPTY (SMC)
inline constexpr SenseCode kSourceEmpty{0x05, 0x3b, 0x0e};
// 53h/02h MEDIUM REMOVAL PREVENTED (SSC, SMC: PREVENT ALLOW MEDIUM REMOVAL is in force)
inline constexpr SenseCode kMediumRemovalPrevented{0x05, 0x53, 0x02};
// 53h/03h MEDIUM REMOVAL PREVENTED BY DATA TRANSFER ELEMENT (SMC, SSC)
inline constexpr SenseCode kRemovalPreventedByDrive{0x05, 0x53, 0x03};

// UNIT ATTENTION.
// 28h/00h NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
inline constexpr SenseCode kMediumMayHaveChanged{0x06, 0x28, 0x00};
// 28h/01h IMPORT OR EXPORT ELEMENT ACCESSED (SMC)
inline constexpr SenseCode kImportExportAccessed{0x06, 0x28, 0x01};
// 29h/00h POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
inline constexpr SenseCode kPowerOnReset{0x06, 0x29, 0x00};
// 29h/02h SCSI BUS RESET OCCURRED
inline constexpr SenseCode kBusResetOccurred{0x06, 0x29, 0x02};
// 29h/03h BUS DEVICE RESET FUNCTION OCCURRED
inline constexpr SenseCode kBdrOccurred{0x06, 0x29, 0x03};
// 3Fh/03h INQUIRY DATA HAS CHANGED
inline constexpr SenseCode kInquiryDataChanged{0x06, 0x3f, 0x03};
// 3Fh/0Eh REPORTED LUNS DATA HAS CHANGED
inline constexpr SenseCode kReportedLunsChanged{0x06, 0x3f, 0x0e};

}  // namespace ucam::scsi
