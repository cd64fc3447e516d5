// A sparse in-memory block store: the medium of an emulated disk.
//
// Blocks live in fixed-size chunks allocated on first write; a block never written reads as
// zeros. Thread-safe: reads share the lock, writes take it exclusively, so a read never sees a
// half-written block of a concurrent write to the same chunk.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

#include "base/bytes.h"

namespace ucam::emu {

class SparseStore {
 public:
  // Chunks hold about 64 KiB (at least one block).
  explicit SparseStore(std::uint32_t block_size);

  std::uint32_t block_size() const { return m_block_size; }

  // Copies `out.size()` bytes starting at block `lba` (crossing chunk boundaries as needed).
  // The caller has checked the range against the capacity.
  void read(std::uint64_t lba, MutableBytes out) const;
  // Stores `in` starting at block `lba`.
  void write(std::uint64_t lba, Bytes in);

  // Chunks allocated so far (tests check sparseness).
  std::size_t allocated_chunks() const;

 private:
  std::uint32_t m_block_size;
  std::uint64_t m_blocks_per_chunk;
  std::size_t m_chunk_bytes;
  mutable std::shared_mutex m_lock;
  std::unordered_map<std::uint64_t, std::unique_ptr<std::uint8_t[]>>
      m_chunks;  // Guarded by m_lock.
};

}  // namespace ucam::emu
