// lock_profile: per-lock contention statistics for the profile option — how often each
// lock was taken, how often it had to be waited for, how long the waits and the holds
// lasted (totals, maxima and histograms for percentiles), and the longest waits with the
// waiting thread's stack.
//
// Contract
// - find_or_insert() and the record updates are lock-free: an open-addressing table of
//   fixed capacity (mmap'd, MAP_NORESERVE) whose slots are claimed with one CAS on the
//   address; counters are relaxed atomics. No allocation, no engine lock.
// - An update made while holding the lock exclusively (`exclusive`: a mutex or a write
//   lock, counted after it was taken and before it is released) is serialized by the
//   lock itself, so it reads and writes the counters with plain relaxed loads and stores
//   (no locked read-modify-write, the bulk of the profile's cost per operation). Updates
//   that may run beside each other (read locks, futex waits) use atomic increments.
// - A record is keyed by the lock's address for the life of the process. A lock
//   destroyed and re-created at the same address keeps adding to the record (the report
//   groups records by the site that first took the lock, so such reuse stays in its
//   group). When the table is full, new locks are counted in dropped() and not profiled.
// - The waiters list (the kMaxWaiters longest waits) is the one part written under a
//   lock: a per-record spin lock, taken only for a wait longer than the shortest kept.
// - Readers (the results writer) read counters without stopping writers: a snapshot of
//   a running process is approximate by a few in-flight operations, never torn per field.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "detector.h"
#include "gilwatch/duration_buckets.h"
#include "spin_lock.h"

namespace gilwatch {

// A histogram of durations (buckets: gilwatch/duration_buckets.h).
struct DurationHistogram {
  static constexpr int kBuckets = duration_buckets::kCount;
  std::atomic<uint32_t> counts[kBuckets];

  static int bucket_of(uint64_t ns) { return duration_buckets::bucket_of(ns); }
  static uint64_t bucket_low(int bucket) { return duration_buckets::bucket_low(bucket); }
  static uint64_t bucket_high(int bucket) { return duration_buckets::bucket_high(bucket); }
  void add(uint64_t ns, bool exclusive = false) {
    std::atomic<uint32_t>& c = counts[bucket_of(ns)];
    if (exclusive)
      c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    else
      c.fetch_add(1, std::memory_order_relaxed);
  }
};

struct ProfileWaiter {
  uint64_t wait_ns;
  uint32_t tid;
  char name[16];
  uint32_t native_stack;  // id in the detector's native stack store, 0 if none
};

// Keeps `list` (of `count` waiters, at most LockProfile::kMaxWaiters) the longest
// waits, longest first: inserts `waiter` in order, dropping the shortest when full.
// Returns false, changing nothing, when it is not longer than any kept in a full list.
bool keep_longest_waiter(ProfileWaiter* list, uint32_t* count, const ProfileWaiter& waiter);

struct LockProfile {
  static constexpr int kMaxWaiters = 4;

  std::atomic<uintptr_t> address;  // 0: free slot
  LockKind kind;
  std::atomic<uintptr_t> first_pc;  // the call that first took it
  std::atomic<uint64_t> acquisitions;
  std::atomic<uint64_t> contended;  // acquisitions that had to wait
  std::atomic<uint64_t> wait_total_ns, wait_max_ns;
  std::atomic<uint64_t> holds;  // completed holds (timed from acquisition to release)
  std::atomic<uint64_t> hold_total_ns, hold_max_ns;
  DurationHistogram wait_histogram;  // contended acquisitions only
  DurationHistogram hold_histogram;
  SpinLock waiters_lock;
  std::atomic<uint64_t> shortest_kept_wait_ns;  // of a full waiters list; 0 while not full
  uint32_t waiter_count;
  ProfileWaiter waiters[kMaxWaiters];  // longest first
};

// The GIL profile: who held the GIL how long and who waited how long for it, as the
// interpreter's own GIL hand-offs show it (see lock_profiling.cpp for how they are seen).
struct GilThreadProfile {
  std::atomic<uint32_t> tid;  // 0: free slot
  char name[16];
  std::atomic<uint64_t> hold_start_ns;  // when its current hold began; 0 while not holding
  std::atomic<uint64_t> takes, contended_takes, held_ns, waited_ns, longest_hold_ns, longest_wait_ns;
};

// The calls with which extension code takes or drops the GIL.
enum class GilApi : uint8_t {
  kEnsure,         // PyGILState_Ensure
  kRestoreThread,  // PyEval_RestoreThread (Py_END_ALLOW_THREADS)
  kAcquireThread,  // PyEval_AcquireThread
  kAcquireLock,    // PyEval_AcquireLock
  kSaveThread,     // PyEval_SaveThread (Py_BEGIN_ALLOW_THREADS)
  kRelease,        // PyGILState_Release
  kReleaseThread,  // PyEval_ReleaseThread
};
const char* gil_api_name(GilApi api);
inline bool gil_api_takes(GilApi api) { return api <= GilApi::kAcquireLock; }
// SaveThread and ReleaseThread begin a released section, which RestoreThread or
// AcquireThread on the same thread ends.
inline bool gil_api_begins_section(GilApi api) { return api == GilApi::kSaveThread || api == GilApi::kReleaseThread; }

// One extension call site of one of those calls.
struct GilSiteProfile {
  static constexpr int kMaxNames = 4;
  std::atomic<uintptr_t> pc;  // 0: free slot
  GilApi api;
  std::atomic<uint64_t> calls;
  std::atomic<uint64_t> wait_total_ns, wait_max_ns;      // takes: time in the call
  std::atomic<uint64_t> held_total_ns, held_max_ns;      // drops: the hold that ended here
  std::atomic<uint64_t> holds_timed;                     // drops whose hold's start was known
  std::atomic<uint64_t> sections;                        // released sections begun here
  std::atomic<uint64_t> released_total_ns, released_max_ns;
  std::atomic<uint64_t> takes_inside;                    // GIL taken back inside those sections
  std::atomic<uint64_t> capi_calls_inside;               // C API calls inside them
  std::atomic<int16_t> capi_inside[kMaxNames];           // 1 + the C API function's index (capi_hooks)
};

// Holds of the GIL of at least GilProfile::kLongHoldNs, by the extension code last seen
// calling the C API during the hold (its caller's return address; 0: none seen, Python
// or the interpreter's own code held it).
struct GilHolderProfile {
  std::atomic<uintptr_t> pc;  // 1 stands for "no extension call seen" (0 marks a free slot)
  std::atomic<uint64_t> holds, held_total_ns, held_max_ns;
};

struct GilProfile {
  static constexpr int kMaxThreads = 512;
  static constexpr int kMaxSites = 256;
  static constexpr int kMaxHolders = 128;
  static constexpr uint64_t kLongHoldNs = 1000000;  // 1 ms
  uint64_t started_ns;  // when profiling began (CLOCK_MONOTONIC): the wall time's start
  std::atomic<uint64_t> takes, contended_takes, held_ns, waited_ns;
  DurationHistogram hold_histogram;  // completed holds
  DurationHistogram wait_histogram;  // contended takes
  std::atomic<uint64_t> threads_not_profiled;  // beyond kMaxThreads
  std::atomic<uint64_t> sites_not_profiled;    // beyond kMaxSites
  std::atomic<uint64_t> holders_not_profiled;
  GilThreadProfile threads[kMaxThreads];
  GilSiteProfile sites[kMaxSites];
  GilHolderProfile holders[kMaxHolders];

  // A long hold that ended, charged to `pc` (the last extension C API caller seen in it,
  // or 0).
  void on_long_hold(uintptr_t pc, uint64_t held_ns);

  // The site's record, claimed on first use; null when all are taken.
  GilSiteProfile* site(uintptr_t pc, GilApi api);
  static void on_site_take(GilSiteProfile& s, uint64_t wait_ns);
  static void on_site_drop(GilSiteProfile& s, uint64_t held_ns, bool held_known);
  // A released section begun at `s` ended after `released_ns`, with `takes` GIL takes
  // and `capi_calls` C API calls inside it.
  static void on_section_end(GilSiteProfile& s, uint64_t released_ns, uint64_t takes, uint64_t capi_calls);
  static void note_capi_inside(GilSiteProfile& s, int capi_index);

  // The thread's slot, claimed on first use; null when all are taken.
  GilThreadProfile* thread_slot(uint32_t tid);
  // A take of the GIL at `now` that waited `wait_ns` (contended: it had to wait for
  // another holder), and a drop at `now` (ends the hold its take began).
  void on_take(GilThreadProfile& t, uint64_t now, uint64_t wait_ns, bool contended);
  void on_drop(GilThreadProfile& t, uint64_t now);
};

class LockProfiler {
 public:
  explicit LockProfiler(uint32_t capacity_log2 = 13);
  ~LockProfiler();
  LockProfiler(const LockProfiler&) = delete;
  LockProfiler& operator=(const LockProfiler&) = delete;

  bool ok() const { return slots_ != nullptr; }

  // The record of the lock at `address`, created on first use (with `kind` and `pc` as
  // its first site); null when the table is full.
  LockProfile* find_or_insert(uintptr_t address, LockKind kind, uintptr_t pc);
  // The record of the lock at `address`, or null when it has none.
  LockProfile* find(uintptr_t address) const;
  // A record's slot, never 0, for a holder to keep (HeldLock::profile_slot) so that the
  // release finds the record without a lookup; and the record of a slot (0: null). The
  // slot is the record's byte offset in the table, plus one (no division either way).
  uint32_t slot_of(const LockProfile& p) const {
    return uint32_t(reinterpret_cast<const char*>(&p) - reinterpret_cast<const char*>(slots_)) + 1;
  }
  LockProfile* record_at(uint32_t slot) const {
    return slot ? reinterpret_cast<LockProfile*>(reinterpret_cast<char*>(slots_) + (slot - 1)) : nullptr;
  }

  // `exclusive`: the caller holds the lock exclusively (see the contract above).
  static void on_acquired(LockProfile& p, bool contended, uint64_t wait_ns, bool exclusive = false);
  static void on_released(LockProfile& p, uint64_t hold_ns, bool exclusive = false);
  // Whether a wait this long belongs in the record's longest waits (cheap: one load);
  // capture the stack only then, and add it with add_waiter().
  static bool wants_waiter(const LockProfile& p, uint64_t wait_ns) {
    return wait_ns > p.shortest_kept_wait_ns.load(std::memory_order_relaxed);
  }
  static void add_waiter(LockProfile& p, const ProfileWaiter& waiter);

  // Calls fn(const LockProfile&) for every record in use.
  template <class Fn>
  void for_each(Fn&& fn) const {
    if (!slots_) return;
    for (uint32_t i = 0; i <= mask_; ++i)
      if (slots_[i].address.load(std::memory_order_acquire) != 0) fn(slots_[i]);
  }

  std::size_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  GilProfile& gil() { return *gil_; }
  const GilProfile& gil() const { return *gil_; }

 private:
  GilProfile* gil_ = nullptr;  // mmap'd with the table
  LockProfile* slots_ = nullptr;
  uint32_t mask_ = 0;
  std::atomic<std::size_t> size_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace gilwatch
