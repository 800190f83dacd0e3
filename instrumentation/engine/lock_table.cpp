#include "lock_table.h"

#include "mapped_memory.h"

namespace gilwatch {

LockTable::LockTable(uint32_t capacity_log2) {
  std::size_t capacity = std::size_t(1) << capacity_log2;
  slots_ = static_cast<Slot*>(map_zeroed(capacity * sizeof(Slot)));
  blooms_[0] = static_cast<std::atomic<uint64_t>*>(map_zeroed(kBloomBits / 8));
  blooms_[1] = static_cast<std::atomic<uint64_t>*>(map_zeroed(kBloomBits / 8));
  bloom_.store(blooms_[0], std::memory_order_release);
  mask_ = static_cast<uint32_t>(capacity - 1);
}

LockTable::~LockTable() {
  unmap(slots_, (std::size_t(mask_) + 1) * sizeof(Slot));
  unmap(blooms_[0], kBloomBits / 8);
  unmap(blooms_[1], kBloomBits / 8);
}

uint32_t LockTable::index_of(uintptr_t address) const {
  // The page picks a run, the address within the page a slot of it (locks are 8-byte
  // aligned: 512 per page).
  uint64_t page = address >> kPageShift, within = (address & ((uintptr_t(1) << kPageShift) - 1)) / kLockAlignment;
  return static_cast<uint32_t>(mix64(page) + within) & mask_;
}

uint32_t LockTable::bloom_bit(uintptr_t page) const {
  return static_cast<uint32_t>(mix64(page ^ 0x9e3779b97f4a7c15ULL)) & (kBloomBits - 1);
}

NodeHandle LockTable::find(uintptr_t address) const {
  if (!slots_ || address == 0) return {};
  for (uint32_t i = index_of(address);; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.address == address) return load_node(s);
    if (s.address == 0) return {};
  }
}

NodeHandle LockTable::find_unlocked(uintptr_t address) const {
  if (!slots_ || address == 0) return {};
  // The table is never more than 7/8 full, so every probe run ends at an empty slot,
  // whatever a concurrent writer moves meanwhile.
  for (uint32_t i = index_of(address);; i = (i + 1) & mask_) {
    uintptr_t a = load_address(slots_[i]);
    if (a == address) return load_node(slots_[i]);
    if (a == 0) return {};
  }
}

bool LockTable::insert(uintptr_t address, NodeHandle node) {
  if (!ok() || address == 0) return false;
  uint32_t i = index_of(address);
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].address == address) {
      store(slots_[i], address, node.packed());
      return true;
    }
    if (slots_[i].address == 0) break;
  }
  if ((size_ + 1) * 8 > (std::size_t(mask_) + 1) * 7) {
    overflowed_ = true;
    return false;
  }
  store(slots_[i], address, node.packed());
  ++size_;
  uint32_t bit = bloom_bit(address >> kPageShift);
  bloom_.load(std::memory_order_relaxed)[bit / 64].fetch_or(uint64_t(1) << (bit % 64),
                                                           std::memory_order_release);
  return true;
}

bool LockTable::erase(uintptr_t address) {
  if (!slots_ || address == 0) return false;
  uint32_t i = index_of(address);
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].address == address) break;
    if (slots_[i].address == 0) return false;
  }
  // Backward-shift deletion: move later members of the probe run into the hole so
  // lookups never need tombstones.
  uint32_t hole = i;
  for (uint32_t j = (hole + 1) & mask_; slots_[j].address != 0; j = (j + 1) & mask_) {
    uint32_t home = index_of(slots_[j].address);
    // Move j into the hole unless its home lies cyclically in (hole, j].
    bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_between) {
      store(slots_[hole], slots_[j].address, slots_[j].node);
      hole = j;
    }
  }
  store(slots_[hole], 0, 0);
  --size_;
  ++erased_since_rebuild_;
  maybe_rebuild_bloom();
  return true;
}

bool LockTable::page_may_hold_locks(uintptr_t page) const {
  const std::atomic<uint64_t>* bloom = bloom_.load(std::memory_order_acquire);
  uint32_t bit = bloom_bit(page);
  return bloom[bit / 64].load(std::memory_order_acquire) & (uint64_t(1) << (bit % 64));
}

bool LockTable::may_overlap(uintptr_t begin, uintptr_t end) const {
  if (!ok() || begin >= end) return false;
  uintptr_t first = begin >> kPageShift, last = (end - 1) >> kPageShift;
  if (last - first >= kMaxPagesProbed) return true;
  for (uintptr_t page = first; page <= last; ++page)
    if (page_may_hold_locks(page)) return true;
  return false;
}

void LockTable::maybe_rebuild_bloom() {
  // Bits are never cleared one by one (pages are shared); after enough removals, rebuild
  // from the live locks so the filter stays selective for programs that churn locks.
  if (erased_since_rebuild_ < 4096 || erased_since_rebuild_ < size_ * 2) return;
  erased_since_rebuild_ = 0;
  std::atomic<uint64_t>* idle = bloom_.load(std::memory_order_relaxed) == blooms_[0] ? blooms_[1] : blooms_[0];
  for (uint32_t w = 0; w < kBloomBits / 64; ++w) idle[w].store(0, std::memory_order_relaxed);
  for (uint32_t i = 0; i <= mask_; ++i) {
    if (!slots_[i].address) continue;
    uint32_t bit = bloom_bit(slots_[i].address >> kPageShift);
    idle[bit / 64].fetch_or(uint64_t(1) << (bit % 64), std::memory_order_relaxed);
  }
  bloom_.store(idle, std::memory_order_release);
}

}  // namespace gilwatch
