// profile_json: the results file's "profiles" section (format: gilwatch/result_format.h),
// from the lock profiler's counters (lock_profiling.h): the per-site lock entries and
// the GIL's totals, threads, call sites and long holds. It decides what is listed (the
// 64 entries waited for longest) and how locks are grouped; what is counted is decided
// by the profiler, and the text summary on stderr is profile_summary.cpp's.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "capi_hooks.h"
#include "results_json.h"
#include "gilwatch/result_format.h"
#include "lock_profiling.h"
#include "number_format.h"
#include "results_parts.h"
#include "runtime.h"

namespace gilwatch::preload {

namespace {

namespace rk = gilwatch::result_format::key;

// The contention profile, one entry per kind of lock and the call that first took it
// (the locks one constructor makes are one entry: what a reader wants ranked, and it
// keeps the 64-entry limit about code, not objects). The 64 waited for longest (then
// the most taken) are written with their counters, histograms and longest waiters.
// Caller holds the engine lock (the waiters' stacks live in its store), which also
// serializes the uses of the static grouping table.
struct ProfileGroup {
  uintptr_t first_pc;
  LockKind kind;
  uint32_t locks;
  uint64_t acquisitions, contended, wait_total_ns, wait_max_ns, holds, hold_total_ns, hold_max_ns;
  uint64_t wait_counts[DurationHistogram::kBuckets], hold_counts[DurationHistogram::kBuckets];
  uint32_t waiter_count;
  ProfileWaiter waiters[LockProfile::kMaxWaiters];
};
constexpr int kMaxProfileGroups = 1024;
constexpr int kMaxProfileGroupsListed = 64;
ProfileGroup g_profile_groups[kMaxProfileGroups];

void add_to_group(ProfileGroup& g, const LockProfile& p) {
  ++g.locks;
  g.acquisitions += p.acquisitions.load(std::memory_order_relaxed);
  g.contended += p.contended.load(std::memory_order_relaxed);
  g.wait_total_ns += p.wait_total_ns.load(std::memory_order_relaxed);
  uint64_t wait_max = p.wait_max_ns.load(std::memory_order_relaxed);
  if (wait_max > g.wait_max_ns) g.wait_max_ns = wait_max;
  g.holds += p.holds.load(std::memory_order_relaxed);
  g.hold_total_ns += p.hold_total_ns.load(std::memory_order_relaxed);
  uint64_t hold_max = p.hold_max_ns.load(std::memory_order_relaxed);
  if (hold_max > g.hold_max_ns) g.hold_max_ns = hold_max;
  for (int b = 0; b < DurationHistogram::kBuckets; ++b) {
    g.wait_counts[b] += p.wait_histogram.counts[b].load(std::memory_order_relaxed);
    g.hold_counts[b] += p.hold_histogram.counts[b].load(std::memory_order_relaxed);
  }
  for (uint32_t k = 0; k < p.waiter_count && k < uint32_t(LockProfile::kMaxWaiters); ++k)
    keep_longest_waiter(g.waiters, &g.waiter_count, p.waiters[k]);
}

void write_counts(JsonWriter& w, const uint64_t* counts) {
  // Only the buckets in use, as [bucket, count] pairs (bucket bounds: duration_buckets.h).
  w.begin_array();
  for (int i = 0; i < DurationHistogram::kBuckets; ++i) {
    if (!counts[i]) continue;
    w.begin_array();
    w.value(i);
    w.value(counts[i]);
    w.end_array();
  }
  w.end_array();
}

// /proc/self/task/TID/comm into `name` (16 bytes) when the thread still exists.
void read_thread_name(uint32_t tid, char* name) {
  char path[64];
  char digits[20];
  std::size_t n_digits = format_decimal(tid, digits);
  std::memcpy(path, "/proc/self/task/", 16);
  std::memcpy(path + 16, digits, n_digits);
  std::memcpy(path + 16 + n_digits, "/comm", 6);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[16] = {};
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return;
  if (buf[n - 1] == '\n') --n;
  std::memset(name, 0, 16);
  std::memcpy(name, buf, std::size_t(n));
}

// The GIL profile: totals, histograms and every thread that took the GIL (a hold still
// going on is counted up to now).
void write_gil_profile(JsonWriter& w) {
  const GilProfile& gil = g_profiler->gil();
  uint64_t now = monotonic_ns();
  w.key(rk::kGil);
  w.begin_object();
  w.key(rk::kObserved);  // the GIL's hand-offs were seen (its mutex is learned at the first wait for it)
  w.value(is_gil_mutex_known());
  w.key(rk::kWallNs);
  w.value(now - gil.started_ns);
  const std::pair<const char*, const std::atomic<uint64_t>*> totals[] = {
      {rk::kTakes, &gil.takes}, {rk::kContendedTakes, &gil.contended_takes}, {rk::kHeldNs, &gil.held_ns},
      {rk::kWaitedNs, &gil.waited_ns}};
  for (const auto& [key, value] : totals) {
    w.key(key);
    w.value(value->load(std::memory_order_relaxed));
  }
  uint64_t counts[DurationHistogram::kBuckets];
  for (int b = 0; b < DurationHistogram::kBuckets; ++b) counts[b] = gil.hold_histogram.counts[b].load(std::memory_order_relaxed);
  w.key(rk::kHoldHistogram);
  write_counts(w, counts);
  for (int b = 0; b < DurationHistogram::kBuckets; ++b) counts[b] = gil.wait_histogram.counts[b].load(std::memory_order_relaxed);
  w.key(rk::kWaitHistogram);
  write_counts(w, counts);
  w.key(rk::kThreads);
  w.begin_array();
  for (const GilThreadProfile& t : gil.threads) {
    uint32_t tid = t.tid.load(std::memory_order_acquire);
    if (!tid || t.takes.load(std::memory_order_relaxed) == 0) continue;
    uint64_t ongoing_since = t.hold_start_ns.load(std::memory_order_relaxed);
    uint64_t ongoing = ongoing_since && now > ongoing_since ? now - ongoing_since : 0;
    w.begin_object();
    w.key(rk::kTid);
    w.value(unsigned(tid));
    // The name it has now, if it is still running (threads are often named after they
    // first took the GIL), else the one it had then.
    char name[16];
    std::memcpy(name, t.name, sizeof(name));
    read_thread_name(tid, name);
    w.key(rk::kName);
    w.value(name, strnlen(name, sizeof(name)));
    const std::pair<const char*, uint64_t> fields[] = {
        {rk::kTakes, t.takes.load(std::memory_order_relaxed)},
        {rk::kContendedTakes, t.contended_takes.load(std::memory_order_relaxed)},
        {rk::kHeldNs, t.held_ns.load(std::memory_order_relaxed) + ongoing},
        {rk::kWaitedNs, t.waited_ns.load(std::memory_order_relaxed)},
        {rk::kLongestHoldNs, std::max(t.longest_hold_ns.load(std::memory_order_relaxed), ongoing)},
        {rk::kLongestWaitNs, t.longest_wait_ns.load(std::memory_order_relaxed)}};
    for (const auto& [key, value] : fields) {
      w.key(key);
      w.value(value);
    }
    w.end_object();
  }
  w.end_array();
  w.key(rk::kThreadsNotProfiled);
  w.value(gil.threads_not_profiled.load(std::memory_order_relaxed));
  w.key(rk::kSites);
  w.begin_array();
  for (const GilSiteProfile& site : gil.sites) {
    uintptr_t pc = site.pc.load(std::memory_order_acquire);
    if (!pc || site.calls.load(std::memory_order_relaxed) == 0) continue;
    w.begin_object();
    w.key(rk::kApi);
    w.value(gil_api_name(site.api));
    w.key(rk::kSite);
    w.begin_array();
    w.hex(pc);
    w.end_array();
    const std::pair<const char*, const std::atomic<uint64_t>*> fields[] = {
        {rk::kCalls, &site.calls},
        {rk::kWaitTotalNs, &site.wait_total_ns},
        {rk::kWaitMaxNs, &site.wait_max_ns},
        {rk::kHoldsTimed, &site.holds_timed},
        {rk::kHeldTotalNs, &site.held_total_ns},
        {rk::kHeldMaxNs, &site.held_max_ns},
        {rk::kSections, &site.sections},
        {rk::kReleasedTotalNs, &site.released_total_ns},
        {rk::kReleasedMaxNs, &site.released_max_ns},
        {rk::kTakesInside, &site.takes_inside},
        {rk::kCapiCallsInside, &site.capi_calls_inside}};
    for (const auto& [key, value] : fields) {
      w.key(key);
      w.value(value->load(std::memory_order_relaxed));
    }
    w.key(rk::kCapiInside);
    w.begin_array();
    for (const auto& tag : site.capi_inside) {
      int16_t v = tag.load(std::memory_order_relaxed);
      if (v > 0 && v <= capi_function_count()) w.value(capi_function_name(v - 1));
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key(rk::kSitesNotProfiled);
  w.value(gil.sites_not_profiled.load(std::memory_order_relaxed));
  w.key(rk::kLongHolds);  // holds of 1 ms or more, by the extension code seen in them
  w.begin_array();
  for (const GilHolderProfile& h : gil.holders) {
    uintptr_t pc = h.pc.load(std::memory_order_acquire);
    if (!pc || h.holds.load(std::memory_order_relaxed) == 0) continue;
    w.begin_object();
    w.key(rk::kSite);
    w.begin_array();
    if (pc != 1) w.hex(pc);
    w.end_array();
    const std::pair<const char*, const std::atomic<uint64_t>*> fields[] = {
        {rk::kHolds, &h.holds}, {rk::kHeldTotalNs, &h.held_total_ns}, {rk::kHeldMaxNs, &h.held_max_ns}};
    for (const auto& [key, value] : fields) {
      w.key(key);
      w.value(value->load(std::memory_order_relaxed));
    }
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

}  // namespace

void write_profiles_json(JsonWriter& w) {
  int groups = 0;
  uint64_t ungrouped = 0;
  g_profiler->for_each([&](const LockProfile& p) {
    // The GIL's own mutex (counted before it was known as such) belongs to the GIL profile.
    if (p.acquisitions.load(std::memory_order_relaxed) == 0 || is_gil_mutex(p.address.load(std::memory_order_relaxed)))
      return;
    uintptr_t pc = p.first_pc.load(std::memory_order_relaxed);
    int i = 0;
    // A futex word's first site is inside the lock implementation (std's futex_wait, the
    // same for every Rust lock): futex words are never grouped; the command names and
    // places each from its waiters' stacks.
    while (i < groups && !(g_profile_groups[i].first_pc == pc && g_profile_groups[i].kind == p.kind &&
                           p.kind != LockKind::kFutex))
      ++i;
    if (i == groups) {
      if (groups == kMaxProfileGroups) {
        ++ungrouped;
        return;
      }
      std::memset(&g_profile_groups[i], 0, sizeof(ProfileGroup));
      g_profile_groups[i].first_pc = pc;
      g_profile_groups[i].kind = p.kind;
      ++groups;
    }
    add_to_group(g_profile_groups[i], p);
  });
  // The entries to list: longest total wait, then most acquisitions, first.
  auto ranks_before = [](const ProfileGroup& a, const ProfileGroup& b) {
    if (a.wait_total_ns != b.wait_total_ns) return a.wait_total_ns > b.wait_total_ns;
    return a.acquisitions > b.acquisitions;
  };
  int order[kMaxProfileGroupsListed];
  int listed = 0;
  for (int i = 0; i < groups; ++i) {
    if (listed == kMaxProfileGroupsListed && !ranks_before(g_profile_groups[i], g_profile_groups[order[listed - 1]]))
      continue;
    int at = listed < kMaxProfileGroupsListed ? listed++ : listed - 1;
    while (at > 0 && ranks_before(g_profile_groups[i], g_profile_groups[order[at - 1]])) {
      order[at] = order[at - 1];
      --at;
    }
    order[at] = i;
  }
  uint64_t not_listed = ungrouped;
  for (int i = 0; i < groups; ++i) {
    bool in = false;
    for (int k = 0; k < listed; ++k) in = in || order[k] == i;
    if (!in) not_listed += g_profile_groups[i].locks;
  }
  w.key(rk::kProfiles);
  w.begin_object();
  w.key(rk::kLocks);
  w.begin_array();
  for (int k = 0; k < listed; ++k) {
    const ProfileGroup& g = g_profile_groups[order[k]];
    w.begin_object();
    w.key(rk::kKind);
    w.value(lock_kind_name(g.kind));
    w.key(rk::kFirstSite);
    w.begin_array();
    if (g.first_pc) w.hex(g.first_pc);
    w.end_array();
    w.key(rk::kLocks);
    w.value(unsigned(g.locks));
    const std::pair<const char*, uint64_t> counters[] = {
        {rk::kAcquisitions, g.acquisitions}, {rk::kContended, g.contended},   {rk::kWaitTotalNs, g.wait_total_ns},
        {rk::kWaitMaxNs, g.wait_max_ns},   {rk::kHolds, g.holds},           {rk::kHoldTotalNs, g.hold_total_ns},
        {rk::kHoldMaxNs, g.hold_max_ns}};
    for (const auto& [key, value] : counters) {
      w.key(key);
      w.value(value);
    }
    w.key(rk::kWaitHistogram);
    write_counts(w, g.wait_counts);
    w.key(rk::kHoldHistogram);
    write_counts(w, g.hold_counts);
    w.key(rk::kWaiters);
    w.begin_array();
    for (uint32_t i = 0; i < g.waiter_count; ++i) {
      const ProfileWaiter& waiter = g.waiters[i];
      w.begin_object();
      w.key(rk::kTid);
      w.value(unsigned(waiter.tid));
      w.key(rk::kName);
      w.value(waiter.name, strnlen(waiter.name, sizeof(waiter.name)));
      w.key(rk::kWaitNs);
      w.value(waiter.wait_ns);
      w.key(rk::kStack);
      write_stack_json(w, *g_detector, waiter.native_stack);
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key(rk::kLocksNotListed);
  w.value(not_listed);
  w.key(rk::kLocksNotProfiled);
  w.value(g_profiler->dropped());
  write_gil_profile(w);
  w.end_object();
}


}  // namespace gilwatch::preload
