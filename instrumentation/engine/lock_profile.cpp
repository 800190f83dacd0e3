#include "lock_profile.h"

#include <cstring>

#include "mapped_memory.h"

namespace gilwatch {

namespace {

// The tables here are open-addressed with a key word per slot, 0 for free. A slot is
// claimed with one CAS; racing threads that claim it for the same key all find it.
enum class Slot { kOther, kExisting, kClaimed };

template <class T>
Slot claim_slot(std::atomic<T>& slot, T key) {
  T here = slot.load(std::memory_order_acquire);
  if (here == key) return Slot::kExisting;
  if (here != 0) return Slot::kOther;
  if (slot.compare_exchange_strong(here, key, std::memory_order_acq_rel)) return Slot::kClaimed;
  return here == key ? Slot::kExisting : Slot::kOther;
}

}  // namespace

LockProfiler::LockProfiler(uint32_t capacity_log2) {
  uint32_t capacity = 1u << capacity_log2;
  gil_ = static_cast<GilProfile*>(map_zeroed(sizeof(GilProfile)));
  slots_ = gil_ ? static_cast<LockProfile*>(map_zeroed(sizeof(LockProfile) * capacity)) : nullptr;
  mask_ = slots_ ? capacity - 1 : 0;
}

LockProfiler::~LockProfiler() {
  unmap(slots_, sizeof(LockProfile) * (mask_ + 1));
  unmap(gil_, sizeof(GilProfile));
}

LockProfile* LockProfiler::find(uintptr_t address) const {
  if (!slots_ || address == 0) return nullptr;
  uint32_t i = uint32_t(mix64(address)) & mask_;
  for (uint32_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
    uintptr_t here = slots_[i].address.load(std::memory_order_acquire);
    if (here == address) return &slots_[i];
    if (here == 0) return nullptr;
  }
  return nullptr;
}

LockProfile* LockProfiler::find_or_insert(uintptr_t address, LockKind kind, uintptr_t pc) {
  if (!slots_ || address == 0) return nullptr;
  uint32_t i = uint32_t(mix64(address)) & mask_;
  for (uint32_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
    LockProfile& slot = slots_[i];
    uintptr_t here = slot.address.load(std::memory_order_acquire);
    if (here == address) return &slot;
    if (here != 0) continue;
    // Stop at 3/4 full: beyond that, probe sequences grow long on every lock operation.
    if (size_.load(std::memory_order_relaxed) >= (mask_ + 1) / 4 * 3) break;
    Slot claimed = claim_slot(slot.address, address);
    if (claimed == Slot::kOther) continue;
    if (claimed == Slot::kClaimed) {
      // Written just after the claim: a concurrent reader may briefly see them unset,
      // which only the results writer's snapshot can meet.
      slot.kind = kind;
      slot.first_pc.store(pc, std::memory_order_release);
      size_.fetch_add(1, std::memory_order_relaxed);
    }
    return &slot;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

namespace {

void store_max(std::atomic<uint64_t>& target, uint64_t value) {
  uint64_t current = target.load(std::memory_order_relaxed);
  while (value > current && !target.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
  }
}

// One duration into a total and a maximum.
void add_duration(std::atomic<uint64_t>& total, std::atomic<uint64_t>& max, uint64_t ns) {
  total.fetch_add(ns, std::memory_order_relaxed);
  store_max(max, ns);
}

}  // namespace

GilThreadProfile* GilProfile::thread_slot(uint32_t tid) {
  if (tid == 0) return nullptr;
  for (int i = 0; i < kMaxThreads; ++i)
    if (claim_slot(threads[i].tid, tid) != Slot::kOther) return &threads[i];
  threads_not_profiled.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void GilProfile::on_take(GilThreadProfile& t, uint64_t now, uint64_t wait_ns, bool contended) {
  t.takes.fetch_add(1, std::memory_order_relaxed);
  takes.fetch_add(1, std::memory_order_relaxed);
  if (contended) {
    t.contended_takes.fetch_add(1, std::memory_order_relaxed);
    contended_takes.fetch_add(1, std::memory_order_relaxed);
    t.waited_ns.fetch_add(wait_ns, std::memory_order_relaxed);
    waited_ns.fetch_add(wait_ns, std::memory_order_relaxed);
    store_max(t.longest_wait_ns, wait_ns);
    wait_histogram.add(wait_ns);
  }
  t.hold_start_ns.store(now, std::memory_order_relaxed);
}

void GilProfile::on_drop(GilThreadProfile& t, uint64_t now) {
  uint64_t start = t.hold_start_ns.exchange(0, std::memory_order_relaxed);
  if (!start || now < start) return;  // a hold that began before the GIL was known
  uint64_t held = now - start;
  t.held_ns.fetch_add(held, std::memory_order_relaxed);
  held_ns.fetch_add(held, std::memory_order_relaxed);
  store_max(t.longest_hold_ns, held);
  hold_histogram.add(held);
}

const char* gil_api_name(GilApi api) {
  switch (api) {
    case GilApi::kEnsure: return "PyGILState_Ensure";
    case GilApi::kRestoreThread: return "PyEval_RestoreThread";
    case GilApi::kAcquireThread: return "PyEval_AcquireThread";
    case GilApi::kAcquireLock: return "PyEval_AcquireLock";
    case GilApi::kSaveThread: return "PyEval_SaveThread";
    case GilApi::kRelease: return "PyGILState_Release";
    case GilApi::kReleaseThread: return "PyEval_ReleaseThread";
  }
  return "?";
}

GilSiteProfile* GilProfile::site(uintptr_t pc, GilApi api) {
  if (pc == 0) return nullptr;
  uint32_t i = uint32_t(mix64(pc)) % kMaxSites;
  for (int probes = 0; probes < kMaxSites; ++probes, i = (i + 1) % kMaxSites) {
    Slot claimed = claim_slot(sites[i].pc, pc);
    if (claimed == Slot::kOther) continue;
    if (claimed == Slot::kClaimed) sites[i].api = api;
    return &sites[i];
  }
  sites_not_profiled.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void GilProfile::on_site_take(GilSiteProfile& s, uint64_t wait_ns) {
  s.calls.fetch_add(1, std::memory_order_relaxed);
  add_duration(s.wait_total_ns, s.wait_max_ns, wait_ns);
}

void GilProfile::on_site_drop(GilSiteProfile& s, uint64_t held_ns, bool held_known) {
  s.calls.fetch_add(1, std::memory_order_relaxed);
  if (!held_known) return;
  s.holds_timed.fetch_add(1, std::memory_order_relaxed);
  add_duration(s.held_total_ns, s.held_max_ns, held_ns);
}

void GilProfile::on_section_end(GilSiteProfile& s, uint64_t released_ns, uint64_t takes, uint64_t capi_calls) {
  s.sections.fetch_add(1, std::memory_order_relaxed);
  add_duration(s.released_total_ns, s.released_max_ns, released_ns);
  s.takes_inside.fetch_add(takes, std::memory_order_relaxed);
  s.capi_calls_inside.fetch_add(capi_calls, std::memory_order_relaxed);
}

void GilProfile::on_long_hold(uintptr_t pc, uint64_t held_ns) {
  uintptr_t key = pc ? pc : 1;
  uint32_t i = uint32_t(mix64(key)) % kMaxHolders;
  for (int probes = 0; probes < kMaxHolders; ++probes, i = (i + 1) % kMaxHolders) {
    if (claim_slot(holders[i].pc, key) == Slot::kOther) continue;
    holders[i].holds.fetch_add(1, std::memory_order_relaxed);
    add_duration(holders[i].held_total_ns, holders[i].held_max_ns, held_ns);
    return;
  }
  holders_not_profiled.fetch_add(1, std::memory_order_relaxed);
}

void GilProfile::note_capi_inside(GilSiteProfile& s, int capi_index) {
  int16_t tag = int16_t(capi_index + 1);
  for (auto& slot : s.capi_inside)
    if (claim_slot(slot, tag) != Slot::kOther) return;
}

namespace {

// Counter updates of a lock's record: by its exclusive holder (serialized by the lock:
// plain loads and stores), or by any thread (atomic read-modify-writes).
void bump(std::atomic<uint64_t>& counter, uint64_t by, bool exclusive) {
  if (exclusive)
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  else
    counter.fetch_add(by, std::memory_order_relaxed);
}

void add_duration(std::atomic<uint64_t>& total, std::atomic<uint64_t>& max, uint64_t ns, bool exclusive) {
  if (!exclusive) return add_duration(total, max, ns);
  bump(total, ns, true);
  if (ns > max.load(std::memory_order_relaxed)) max.store(ns, std::memory_order_relaxed);
}

}  // namespace

void LockProfiler::on_acquired(LockProfile& p, bool contended, uint64_t wait_ns, bool exclusive) {
  bump(p.acquisitions, 1, exclusive);
  if (!contended) return;
  bump(p.contended, 1, exclusive);
  add_duration(p.wait_total_ns, p.wait_max_ns, wait_ns, exclusive);
  p.wait_histogram.add(wait_ns, exclusive);
}

void LockProfiler::on_released(LockProfile& p, uint64_t hold_ns, bool exclusive) {
  bump(p.holds, 1, exclusive);
  add_duration(p.hold_total_ns, p.hold_max_ns, hold_ns, exclusive);
  p.hold_histogram.add(hold_ns, exclusive);
}

bool keep_longest_waiter(ProfileWaiter* list, uint32_t* count, const ProfileWaiter& waiter) {
  constexpr uint32_t kMax = LockProfile::kMaxWaiters;
  uint32_t n = *count;
  if (n == kMax && waiter.wait_ns <= list[n - 1].wait_ns) return false;
  uint32_t at = n < kMax ? n : n - 1;
  while (at > 0 && list[at - 1].wait_ns < waiter.wait_ns) {
    list[at] = list[at - 1];
    --at;
  }
  list[at] = waiter;
  if (n < kMax) *count = n + 1;
  return true;
}

void LockProfiler::add_waiter(LockProfile& p, const ProfileWaiter& waiter) {
  SpinLockGuard guard(p.waiters_lock);
  if (keep_longest_waiter(p.waiters, &p.waiter_count, waiter) && p.waiter_count == LockProfile::kMaxWaiters)
    p.shortest_kept_wait_ns.store(p.waiters[LockProfile::kMaxWaiters - 1].wait_ns, std::memory_order_relaxed);
}

}  // namespace gilwatch
