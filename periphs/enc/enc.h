// enc(4): the enclosure services driver (FreeBSD scsi_enc.c with its SES and SAF-TE backends,
// scsi_enc_ses.c and scsi_enc_safte.c).
//
// Attaches to SES devices (peripheral type 0x0D) and SAF-TE processors. Each enclosure gets a
// node `sesN` and a daemon thread that keeps a cache of the enclosure (SES, FreeBSD's order:
// supported pages, configuration, status, element descriptors, additional element status;
// SAF-TE: configuration and status buffers shown as SES elements), applies queued control
// requests, publishes each disk's physical path into the XPT device database and raises
// ElementStatusChanged / EnclosureStatusChanged / SlotDeviceChanged events (payload:
// ElementEvent). It re-polls every `poll_interval`, at once on FoundDevice/LostDevice on the
// enclosure's bus, on ScsiAen for the enclosure itself (a control page sent through a pass or
// sg node), and when a generation code moves.
//
// Reads (every ioctl but the set ones) come from the published cache, never from the device,
// and carry the configuration generation they belong to. A set that names a stale generation
// is refused with ESTALE (fixing the XXX in FreeBSD's enc ioctls).
//
// One enclosure, one view: the SES devices of one enclosure (same enclosure logical id) are
// its paths. When one of them reads the enclosure and finds it changed (a control it sent, or
// the enclosure itself), it asks the others to read it at once; a path that cannot read the
// enclosure shows the status another path read (EncState::status_via, path_error).
//
// References (periph::NodePeriphDriver's track-close counting): the node holds one periph
// reference, each open one, the daemon one. The daemon drops its reference when it exits after
// invalidation; the last release frees the periph.
// Threads: the daemon starts only once the node exists (a failed attach leaves no thread), is
// owned by the periph's softc and joined when the periph is destroyed; no daemon outlives the
// driver.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cam/async.h"
#include "cam/cancel.h"
#include "cam/periph.h"
#include "devfs/devfs.h"
#include "periphs/node/node_periph.h"

namespace ucam::enc {

struct EncOptions {
  std::chrono::milliseconds poll_interval{60'000};  // FreeBSD's 60 s callout.
  bool search_globally = false;  // Match disks on every bus, not only the enclosure's.
};

// One element in the published cache.
struct EncElement {
  int index = 0;           // Global index (status/descriptor page order, overall included).
  int type_index = 0;      // Type descriptor header index.
  int index_in_type = -1;  // -1 for the overall element.
  std::uint8_t element_type = 0;
  std::uint8_t subenclosure = 0;
  std::array<std::uint8_t, 4> status{};
  std::string descriptor;                    // Page 0x07 bytes as received ("" if none).
  std::vector<std::uint64_t> sas_addresses;  // Page 0x0A phys' SAS ADDRESS (slots).
  std::optional<std::uint8_t> device_slot_number;
  std::vector<cam::Path> devices;  // Disks matched to this slot.
  std::string physical_path;       // What we publish for those disks ("" if none).
};

// The elements of an EncState, read as a const std::vector<EncElement> reads (size, [], at,
// range for). Elements are shared between lists: copying a list copies pointers, not strings
// and vectors, so a refresh that changed two elements publishes two new elements and shares the
// rest with the state before it.
//
// Copy on write: mutate(i) gives the list's own copy of element i, copying it first unless this
// list made it (push_back, or an earlier mutate) after it was last copied. Copying a list marks
// every element of both lists as shared again: the source's marks are `mutable` for that, and a
// list that other threads read (a published state's) never has a mark set, so copying it writes
// nothing. Not thread-safe for writers: one thread (the enclosure's daemon) writes its own
// working list; any number of threads may read and copy a published list.
class EncElementList {
 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = EncElement;
    using difference_type = std::ptrdiff_t;
    using pointer = const EncElement*;
    using reference = const EncElement&;

    const_iterator() = default;
    reference operator*() const { return **m_it; }
    pointer operator->() const { return m_it->get(); }
    reference operator[](difference_type n) const { return *m_it[n]; }
    const_iterator& operator++() {
      ++m_it;
      return *this;
    }
    const_iterator operator++(int) { return const_iterator(m_it++); }
    const_iterator& operator--() {
      --m_it;
      return *this;
    }
    const_iterator operator--(int) { return const_iterator(m_it--); }
    const_iterator& operator+=(difference_type n) {
      m_it += n;
      return *this;
    }
    const_iterator& operator-=(difference_type n) {
      m_it -= n;
      return *this;
    }
    friend const_iterator operator+(const_iterator i, difference_type n) { return i += n; }
    friend const_iterator operator+(difference_type n, const_iterator i) { return i += n; }
    friend const_iterator operator-(const_iterator i, difference_type n) { return i -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return a.m_it - b.m_it;
    }
    friend bool operator==(const const_iterator&, const const_iterator&) = default;
    friend auto operator<=>(const const_iterator&, const const_iterator&) = default;

   private:
    friend class EncElementList;
    using Base = std::vector<std::shared_ptr<EncElement>>::const_iterator;
    explicit const_iterator(Base it) : m_it(it) {}
    Base m_it;
  };
  using iterator = const_iterator;
  using value_type = EncElement;
  using size_type = std::size_t;

  EncElementList() = default;
  EncElementList(const EncElementList& other) : m_elements(other.m_elements) { other.disown(); }
  EncElementList& operator=(const EncElementList& other) {
    if (this != &other) {
      m_elements = other.m_elements;
      m_owned.clear();
      other.disown();
    }
    return *this;
  }
  EncElementList(EncElementList&&) noexcept = default;
  EncElementList& operator=(EncElementList&&) noexcept = default;
  ~EncElementList() = default;

  // Reading.
  std::size_t size() const { return m_elements.size(); }
  bool empty() const { return m_elements.empty(); }
  const EncElement& operator[](std::size_t i) const { return *m_elements[i]; }
  const EncElement& at(std::size_t i) const { return *m_elements.at(i); }  // std::out_of_range
  const_iterator begin() const { return const_iterator(m_elements.begin()); }
  const_iterator end() const { return const_iterator(m_elements.end()); }
  // Whether element i of both lists is one shared object (unchanged since one list was copied
  // from the other): what a diff may skip.
  bool same_element(const EncElementList& other, std::size_t i) const {
    return i < size() && i < other.size() && m_elements[i] == other.m_elements[i];
  }

  // Writing (the list's one writer).
  void clear() {
    m_elements.clear();
    m_owned.clear();
  }
  void reserve(std::size_t n) {
    m_elements.reserve(n);
    m_owned.reserve(n);
  }
  void push_back(EncElement element) {
    m_elements.push_back(std::make_shared<EncElement>(std::move(element)));
    m_owned.resize(m_elements.size(), false);
    m_owned.back() = true;
  }
  // This list's own element i, copied first when it is shared. Only for a change: an element
  // asked for is published anew even when the caller writes what it held.
  EncElement& mutate(std::size_t i) {
    if (m_owned.size() < m_elements.size()) {
      m_owned.resize(m_elements.size(), false);
    }
    if (!m_owned[i]) {
      m_elements[i] = std::make_shared<EncElement>(*m_elements[i]);
      m_owned[i] = true;
    }
    return *m_elements[i];
  }

 private:
  // Every element is shared from now on (see the class comment).
  void disown() const {
    if (!m_owned.empty()) {
      m_owned.clear();
    }
  }
  // Never null. An element is written only through mutate() while m_owned marks it, that is
  // while no other list holds it.
  std::vector<std::shared_ptr<EncElement>> m_elements;
  // m_owned[i]: this list made element i since it was last copied (absent entries: false).
  mutable std::vector<bool> m_owned;
};

// The published cache: immutable once published (readers keep a shared_ptr).
struct EncState {
  std::uint64_t refresh = 0;          // Bumped on every publish.
  bool configured = false;            // A configuration page has been read.
  std::uint32_t generation = 0;       // The enclosure's configuration generation code.
  std::uint8_t enclosure_status = 0;  // Page 0x02 header byte 1 & 0x1f.
  std::uint64_t logical_id = 0;       // Subenclosure 0's logical identifier.
  std::uint64_t enclosure_id = 0;     // The SES device's NAA (physical path "enc@n...").
  std::string name;                   // "<vendor> <product> <rev>" of subenclosure 0.
  std::vector<std::uint8_t> supported_pages;
  std::vector<std::string> type_texts;  // By type index.
  EncElementList elements;              // Shared between states where unchanged.
  std::vector<std::string> warnings;    // From the last refresh.
  std::uint64_t commands = 0;           // RECEIVE/SEND DIAGNOSTIC commands issued so far.
  // Why the last status read through this SES device failed; "" when it succeeded.
  std::string path_error;
  // When that read failed: the SES device of the same enclosure whose status this state shows
  // instead (another path read it), e.g. "ses1"; "" when the status is this device's own.
  std::string status_via;
};

// The payload (cam::AsyncEvent::payload) of the enclosure events this driver posts on the
// enclosure's path:
// - ElementStatusChanged: `element` (global index), old and new ELEMENT STATUS CODE (SES-4
//   7.3.2; scsi::ses::element_status_name names them);
// - EnclosureStatusChanged: element -1, old and new enclosure status flags (page 0x02 byte 1);
// - SlotDeviceChanged: `element`, the statuses 0 (read the devices from EncGetState).
struct ElementEvent final : cam::AsyncPayload {
  ElementEvent(std::int32_t element, std::uint8_t old_status, std::uint8_t new_status)
      : element(element), old_status(old_status), new_status(new_status) {}
  std::int32_t element = -1;  // -1: the enclosure itself.
  std::uint8_t old_status = 0;
  std::uint8_t new_status = 0;
};

// ---- Requests (FreeBSD ENCIOC_*; codes 's'<<8 | n) --------------------------------------------

// GETNELM + GETELMMAP + everything else cached: the whole published state.
struct EncGetState : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x5301;
  EncGetState() : Ioctl(kCode) {}
  std::shared_ptr<const EncState> state;
};

// SETELMSTAT: control bytes for one element (SELECT in byte 0 bit 7, else a no-op). Blocks
// until the SEND DIAGNOSTIC completed. `generation`, when set, must match the cache's.
struct EncSetElementStatus : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x5306;
  EncSetElementStatus() : Ioctl(kCode) {}
  int index = 0;
  std::array<std::uint8_t, 4> control{};
  std::optional<std::uint32_t> generation;
  cam::CancelToken* cancel = nullptr;  // Ends the wait early (see below).
};

// SETENCSTAT: enclosure control flags (INFO/NON-CRIT/CRIT/UNRECOV requests, & 0x0f).
struct EncSetEnclosureStatus : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x5304;
  EncSetEnclosureStatus() : Ioctl(kCode) {}
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> generation;
  cam::CancelToken* cancel = nullptr;  // Ends the wait early (see below).
};

// GETELMDEVNAMES: "pass3,da3" for the disks matched to an element; ENODEV when none.
struct EncGetElementDevnames : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x530a;
  EncGetElementDevnames() : Ioctl(kCode) {}
  int index = 0;
  std::string names;
};

// GETSTRING / SETSTRING: page 0x04 (String In / Out), raw, header included on reads.
struct EncString : devfs::Ioctl {
  static constexpr std::uint32_t kGet = 0x530b;
  static constexpr std::uint32_t kSet = 0x530c;
  explicit EncString(std::uint32_t code) : Ioctl(code) {}
  std::vector<std::uint8_t> data;
  cam::CancelToken* cancel = nullptr;  // Aborts the command (as for PassCommand).
};

// Forces a refresh and waits for it to be published (a "rescan" of the enclosure).
struct EncRefresh : devfs::Ioctl {
  static constexpr std::uint32_t kCode = 0x5380;
  EncRefresh() : Ioctl(kCode) {}
  std::chrono::milliseconds timeout{30'000};
  cam::CancelToken* cancel = nullptr;  // Ends the wait early (see below).
};

// Cancelling: the set ones and EncRefresh wait for the enclosure's daemon; with `cancel`,
// another thread may end that wait (ucamd, for a client that hung up). The call then fails as
// an aborted command does (ReqAborted): a control still queued is withdrawn, one the daemon
// already sent runs to its end without anyone waiting for it.

class PathRegistry;

// The driver: the enclosure core (node lifecycle from periph::NodePeriphDriver, one daemon per
// enclosure, the published state, events and ioctls) with a backend per enclosure that speaks
// SES or SAF-TE (periphs/enc/backend.h).
class EncDriver final : public periph::NodePeriphDriver {
 public:
  // `devfs` must outlast the driver and every node it creates.
  EncDriver(devfs::Devfs& devfs, EncOptions options);
  ~EncDriver() override;
  EncDriver(const EncDriver&) = delete;
  EncDriver& operator=(const EncDriver&) = delete;

  // Which enclosures vouch for which disk's physical path: several SES devices of one
  // enclosure publish the same string, and a disk's path is cleared only when none does.
  PathRegistry& paths() { return *m_paths; }

  // PeriphDriver. matches(): a device some backend takes (SES: type 0x0D; SAF-TE INQUIRY).
  std::string_view name() const override { return "ses"; }
  bool matches(const cam::DeviceInfo& device) const override;
  // NodePeriphDriver's attach (softc, node), then the daemon; a failed attach starts none.
  Result<void> attach(cam::Periph& periph) override;
  // Also wakes the daemon to exit and fails waiting requests. Event thread.
  void invalidate(cam::Periph& periph) override;
  // Also joins the daemon (or hands it to reap_finished() when run on the daemon itself).
  void destroy(cam::Periph& periph) override;
  // Waits until every enclosure's daemon has published its first refresh and is idle.
  void settle(std::chrono::milliseconds timeout) override;

  // Enclosure daemons still in their loop (one per attached enclosure until it is invalidated).
  std::size_t daemons() const;

  // CdevSw (open, close and gone are NodePeriphDriver's, any open mode allowed).
  Result<void> ioctl(devfs::Node& node, devfs::OpenFile& file, devfs::Ioctl& request) override;

 protected:
  // An EncSoftc with the backend that takes the device, subscribed to its bus's events.
  std::unique_ptr<periph::NodeSoftc> make_softc(cam::Periph& periph) override;
  // Reads need no write access; the set ioctls check for it (EBADF).
  Result<void> check_open_mode(const cam::Periph& periph, const devfs::OpenFile& file) override;

 private:
  EncOptions m_options;
  std::unique_ptr<PathRegistry> m_paths;
  // Joins the daemons that dropped the last reference to their periph themselves.
  void reap_finished();

  std::mutex m_lock;
  std::set<cam::Periph*> m_periphs;  // Attached, not yet destroyed. Guarded by m_lock.
  // Daemon threads destroy() could not join (it ran on them); joined by reap_finished() and
  // the destructor. Guarded by m_lock.
  std::vector<std::thread> m_finished;
  std::atomic<std::size_t> m_daemons{0};
};

// The physical path FreeBSD publishes for a slot (freebsd-cam.md §2.5), byte for byte:
// "id1,enc@n<id>/type@<type index>/slot@<index in type, overall = 0>[/elmdesc@<descriptor>]",
// lower-case hex. `descriptor` is the element's page 0x07 bytes exactly as received (length
// DESCRIPTOR LENGTH, nothing trimmed). The suffix is there only when it is not empty: first
// sanitised as FreeBSD's page 7 handling does (a byte outside 0x20-0x7e before the first NUL
// makes the whole descriptor "<invalid>"), then every byte that is not printable, is white
// space or is '/' becomes '_' -- trailing blanks and NUL padding included.
std::string physical_path(std::uint64_t enclosure_id, int type_index, int type_element_index,
                          std::string_view descriptor);

}  // namespace ucam::enc
