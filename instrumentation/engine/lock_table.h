// lock_table: lock address -> graph node, for the locks the engine has seen.
//
// Why a table of its own: the graph knows nodes, the hooks know addresses. When lock
// memory is destroyed or freed, the table finds which nodes lived there so their edges
// die with them (a new lock that reuses the address starts with no history).
//
// Contract
// - Every member except may_overlap() and find_unlocked() requires the caller's engine
//   lock.
// - find_unlocked() is lock-free: it may miss a lock that a concurrent insert or erase is
//   moving, or (during such a move) return another lock's node; the caller validates
//   the node against the lock's own record (Detector::node_is_current) and falls back to
//   find() under the lock. Every slot field is read and written atomically for it.
// - may_overlap() is lock-free and may answer true spuriously (a bloom filter over the
//   pages that hold tracked locks); false means no tracked lock lies in the range. The
//   free() hook calls it on every free, so it must stay a couple of loads.
// - Open addressing with linear probing and backward-shift deletion: no tombstones, so
//   churn (millions of locks created and freed over time) never degrades lookups.
// - Locks on one page hash to one run of slots, in address order: a program that walks
//   an array of many locks touches the table as it touches the array, a few cache lines
//   per page of locks, instead of a random line of a table that no cache holds.
// - Fixed capacity, mmap'd; insert() returns false when 7/8 full (overflowed() turns true).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "lock_graph.h"

namespace gilwatch {

class LockTable {
 public:
  explicit LockTable(uint32_t capacity_log2 = 21);
  ~LockTable();
  LockTable(const LockTable&) = delete;
  LockTable& operator=(const LockTable&) = delete;

  bool ok() const { return slots_ != nullptr && blooms_[0] != nullptr && blooms_[1] != nullptr; }

  NodeHandle find(uintptr_t address) const;
  NodeHandle find_unlocked(uintptr_t address) const;
  bool insert(uintptr_t address, NodeHandle node);
  bool erase(uintptr_t address);

  bool may_overlap(uintptr_t begin, uintptr_t end) const;

  // Calls fn(address, node) for every tracked lock in [begin, end). fn must not modify
  // the table; collect first, erase after.
  template <class Fn>
  void for_each_in_range(uintptr_t begin, uintptr_t end, Fn&& fn) const;

  std::size_t size() const { return size_; }
  bool overflowed() const { return overflowed_; }
  // How many locks it can hold (7/8 of its slots).
  std::size_t capacity() const { return (std::size_t(mask_) + 1) * 7 / 8; }

  // Locks are at least 8-byte aligned (pthread types and everything that wraps them).
  static constexpr uintptr_t kLockAlignment = 8;

 private:
  struct Slot {
    uintptr_t address;  // 0 = empty
    uint64_t node;      // NodeHandle::packed()
  };
  static uintptr_t load_address(const Slot& s) { return __atomic_load_n(&s.address, __ATOMIC_ACQUIRE); }
  static NodeHandle load_node(const Slot& s) {
    uint64_t v = __atomic_load_n(&s.node, __ATOMIC_RELAXED);
    return NodeHandle{uint32_t(v), uint32_t(v >> 32)};
  }
  // Node first, then the address that publishes it.
  static void store(Slot& s, uintptr_t address, uint64_t node) {
    __atomic_store_n(&s.node, node, __ATOMIC_RELAXED);
    __atomic_store_n(&s.address, address, __ATOMIC_RELEASE);
  }
  static constexpr uint32_t kBloomBits = 1u << 20;
  static constexpr unsigned kPageShift = 12;
  static constexpr uintptr_t kMaxPagesProbed = uintptr_t(1) << 16;  // 256 MiB

  uint32_t index_of(uintptr_t address) const;
  uint32_t bloom_bit(uintptr_t page) const;
  bool page_may_hold_locks(uintptr_t page) const;
  void maybe_rebuild_bloom();

  Slot* slots_ = nullptr;
  uint32_t mask_ = 0;
  std::size_t size_ = 0;
  bool overflowed_ = false;
  // Two filters: a rebuild fills the idle one and then publishes it, so a concurrent
  // may_overlap() never sees a half-cleared filter (a false "no" would let freed lock
  // memory keep its edges).
  std::atomic<uint64_t>* blooms_[2] = {nullptr, nullptr};  // kBloomBits bits each
  std::atomic<std::atomic<uint64_t>*> bloom_{nullptr};
  std::size_t erased_since_rebuild_ = 0;
};

template <class Fn>
void LockTable::for_each_in_range(uintptr_t begin, uintptr_t end, Fn&& fn) const {
  if (!slots_ || begin >= end) return;
  uintptr_t first_page = begin >> kPageShift, last_page = (end - 1) >> kPageShift;
  if (last_page - first_page >= kMaxPagesProbed) {
    // A gigantic block: scanning the table once is cheaper than probing every page.
    for (uint32_t i = 0; i <= mask_; ++i) {
      const Slot& s = slots_[i];
      if (s.address && s.address >= begin && s.address < end) fn(s.address, load_node(s));
    }
    return;
  }
  // Probe only the pages the filter marks as holding tracked locks.
  for (uintptr_t page = first_page; page <= last_page; ++page) {
    if (!page_may_hold_locks(page)) continue;
    uintptr_t lo = page << kPageShift, hi = lo + (uintptr_t(1) << kPageShift);
    if (lo < begin) lo = (begin + kLockAlignment - 1) & ~(kLockAlignment - 1);
    if (hi > end) hi = end;
    for (uintptr_t a = lo; a < hi; a += kLockAlignment) {
      NodeHandle n = find(a);
      if (n.valid()) fn(a, n);
    }
  }
}

}  // namespace gilwatch
