// content_store: interns arrays of plain records (native stacks as return addresses,
// Python stacks as frame records) and hands out small ids, so an edge's evidence costs
// 4 bytes however often the same stack recurs.
//
// Contract: caller holds the engine lock for every call. Ids start at 1; 0 means "none"
// (empty input or storage exhausted — overflowed() then turns true). Storage is mmap'd
// with fixed capacities; nothing is ever freed (stacks are bounded by the program's
// distinct call sites, not by how long it runs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mapped_memory.h"

namespace gilwatch {

template <class Record>
class ContentStore {
 public:
  ContentStore(uint32_t max_arrays, uint32_t max_records)
      : max_arrays_(max_arrays), max_records_(max_records) {
    table_mask_ = 1;
    while (table_mask_ < max_arrays * 2u) table_mask_ <<= 1;
    --table_mask_;
    entries_ = static_cast<Entry*>(map_zeroed(sizeof(Entry) * (max_arrays + 1)));
    table_ = static_cast<uint32_t*>(map_zeroed(sizeof(uint32_t) * (table_mask_ + 1)));
    records_ = static_cast<Record*>(map_zeroed(sizeof(Record) * max_records));
  }
  ~ContentStore() {
    unmap(entries_, sizeof(Entry) * (max_arrays_ + 1));
    unmap(table_, sizeof(uint32_t) * (table_mask_ + 1));
    unmap(records_, sizeof(Record) * max_records_);
  }
  ContentStore(const ContentStore&) = delete;
  ContentStore& operator=(const ContentStore&) = delete;

  uint32_t intern(const Record* records, uint32_t count) {
    if (!entries_ || !table_ || !records_ || count == 0) return 0;
    uint64_t hash = hash_of(records, count);
    uint32_t i = static_cast<uint32_t>(hash) & table_mask_;
    for (; table_[i] != 0; i = (i + 1) & table_mask_) {
      const Entry& e = entries_[table_[i]];
      if (e.hash == hash && e.count == count &&
          std::memcmp(records_ + e.first, records, sizeof(Record) * count) == 0)
        return table_[i];
    }
    if (used_arrays_ + 1 > max_arrays_ || used_records_ + count > max_records_) {
      overflowed_ = true;
      ++lost_;
      return 0;
    }
    uint32_t id = ++used_arrays_;
    entries_[id] = Entry{hash, used_records_, count};
    std::memcpy(records_ + used_records_, records, sizeof(Record) * count);
    used_records_ += count;
    table_[i] = id;
    return id;
  }

  // Number of records of `id` (0 for unknown ids); *out points into the store.
  uint32_t get(uint32_t id, const Record** out) const {
    if (id == 0 || id > used_arrays_) {
      *out = nullptr;
      return 0;
    }
    *out = records_ + entries_[id].first;
    return entries_[id].count;
  }

  bool overflowed() const { return overflowed_; }
  uint32_t size() const { return used_arrays_; }
  uint32_t max_arrays() const { return max_arrays_; }
  uint64_t lost() const { return lost_; }  // stacks not stored for want of room

 private:
  struct Entry {
    uint64_t hash;
    uint32_t first;
    uint32_t count;
  };
  static uint64_t hash_of(const Record* records, uint32_t count) {
    // FNV-1a over the bytes, finished with a mixer; records are plain data.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(records);
    uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < sizeof(Record) * count; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    return mix64(h ^ count);
  }

  uint32_t max_arrays_, max_records_;
  uint32_t table_mask_ = 0;
  Entry* entries_ = nullptr;
  uint32_t* table_ = nullptr;
  Record* records_ = nullptr;
  uint32_t used_arrays_ = 0;
  uint32_t used_records_ = 0;
  bool overflowed_ = false;
  uint64_t lost_ = 0;
};

}  // namespace gilwatch
