#include "sims/emu/models/sparse_store.h"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace ucam::emu {

namespace {
constexpr std::size_t kTargetChunkBytes = std::size_t{64} * 1024;
}  // namespace

SparseStore::SparseStore(std::uint32_t block_size)
    : m_block_size(block_size),
      m_blocks_per_chunk(std::max<std::uint64_t>(1, kTargetChunkBytes / block_size)),
      m_chunk_bytes(static_cast<std::size_t>(m_blocks_per_chunk) * block_size) {
}

// Both directions walk the byte range chunk by chunk. Positions are kept as (chunk index,
// offset in chunk) so that no byte offset is ever formed: lba * block_size can overflow 64 bits
// on a huge emulated capacity.
void SparseStore::read(std::uint64_t lba, MutableBytes out) const {
  std::uint64_t chunk = lba / m_blocks_per_chunk;
  std::size_t offset = static_cast<std::size_t>(lba % m_blocks_per_chunk) * m_block_size;
  std::size_t done = 0;
  std::shared_lock lock(m_lock);
  while (done < out.size()) {
    const std::size_t n = std::min(out.size() - done, m_chunk_bytes - offset);
    const auto it = m_chunks.find(chunk);
    if (it == m_chunks.end()) {
      std::memset(out.data() + done, 0, n);
    } else {
      std::memcpy(out.data() + done, it->second.get() + offset, n);
    }
    done += n;
    offset = 0;
    ++chunk;
  }
}

void SparseStore::write(std::uint64_t lba, Bytes in) {
  std::uint64_t chunk = lba / m_blocks_per_chunk;
  std::size_t offset = static_cast<std::size_t>(lba % m_blocks_per_chunk) * m_block_size;
  std::size_t done = 0;
  std::unique_lock lock(m_lock);
  while (done < in.size()) {
    const std::size_t n = std::min(in.size() - done, m_chunk_bytes - offset);
    auto& slot = m_chunks[chunk];
    if (!slot) {
      slot = std::make_unique<std::uint8_t[]>(m_chunk_bytes);  // Value-initialized: zeros.
    }
    std::memcpy(slot.get() + offset, in.data() + done, n);
    done += n;
    offset = 0;
    ++chunk;
  }
}

std::size_t SparseStore::allocated_chunks() const {
  std::shared_lock lock(m_lock);
  return m_chunks.size();
}

}  // namespace ucam::emu
