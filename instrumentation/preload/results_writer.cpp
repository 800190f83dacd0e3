#include "results_writer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "gilwatch/result_format.h"
#include "capi_hooks.h"
#include "json_writer.h"
#include "lock_profiling.h"
#include "mapped_memory.h"
#include "number_format.h"
#include "python_api.h"
#include "runtime.h"
#include "spin_lock.h"

namespace gilwatch::preload {

namespace {

namespace rk = gilwatch::result_format::key;

// ---- small formatting helpers (no stdio) ----

struct Text {
  char buf[4096];
  std::size_t len = 0;
  void add(const char* s) { add(s, std::strlen(s)); }
  void add(const char* s, std::size_t n) {
    if (len + n > sizeof(buf)) n = sizeof(buf) - len;
    std::memcpy(buf + len, s, n);
    len += n;
  }
  void add_dec(uint64_t v) {
    char digits[20];
    add(digits, format_decimal(v, digits));
  }
  void add_hex(uintptr_t v) {
    char digits[16];
    add("0x");
    add(digits, format_hex(v, digits));
  }
  // To the program's stderr, while it is still the one it started with (runtime.h).
  void flush_to_stderr() {
    write_program_stderr(buf, len);
    len = 0;
  }
};

// ---- loaded objects ----

struct Module {
  uint32_t path_offset;
  uintptr_t load_bias;
  uint32_t segment_count;
  uintptr_t segments[8][2];  // executable PT_LOAD ranges
};

constexpr uint32_t kMaxModules = 2048;
constexpr uint32_t kPathArena = 1u << 19;
Module* g_modules = nullptr;
char* g_paths = nullptr;
uint32_t g_module_count = 0;
uint32_t g_paths_used = 0;
SpinLock g_modules_lock;

int add_module(struct dl_phdr_info* info, size_t, void*) {
  const char* name = info->dlpi_name;
  char exe[512];
  if (!name || !*name) {
    // The main program: dl_iterate_phdr names it "".
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    name = exe;
  }
  if (std::strncmp(name, "linux-vdso", 10) == 0) return 0;
  for (uint32_t i = 0; i < g_module_count; ++i)
    if (g_modules[i].load_bias == info->dlpi_addr && std::strcmp(g_paths + g_modules[i].path_offset, name) == 0)
      return 0;
  std::size_t length = std::strlen(name) + 1;
  if (g_module_count == kMaxModules || g_paths_used + length > kPathArena) return 0;
  Module& m = g_modules[g_module_count];
  m.path_offset = g_paths_used;
  std::memcpy(g_paths + g_paths_used, name, length);
  g_paths_used += static_cast<uint32_t>(length);
  m.load_bias = info->dlpi_addr;
  m.segment_count = 0;
  for (int i = 0; i < info->dlpi_phnum && m.segment_count < 8; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    m.segments[m.segment_count][0] = info->dlpi_addr + ph.p_vaddr;
    m.segments[m.segment_count][1] = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
    ++m.segment_count;
  }
  if (m.segment_count) ++g_module_count;
  return 0;
}

const Module* module_of(uintptr_t pc) {
  // Newest first: an address reused after dlclose belongs to the latest object there.
  for (uint32_t i = g_module_count; i-- > 0;) {
    const Module& m = g_modules[i];
    for (uint32_t s = 0; s < m.segment_count; ++s)
      if (pc >= m.segments[s][0] && pc < m.segments[s][1]) return &m;
  }
  return nullptr;
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// ---- results file ----

char g_results_path[1200];
char* g_json = nullptr;
std::size_t g_json_capacity = 0;
SpinLock g_write_lock;

bool make_directories(const char* path) {
  char tmp[1100];
  std::size_t n = std::strlen(path);
  if (n == 0 || n >= sizeof(tmp)) return false;
  std::memcpy(tmp, path, n + 1);
  for (std::size_t i = 1; i <= n; ++i) {
    if (tmp[i] == '/' || tmp[i] == '\0') {
      char saved = tmp[i];
      tmp[i] = '\0';
      if (::mkdir(tmp, 0777) != 0 && errno != EEXIST) return false;
      tmp[i] = saved;
    }
  }
  return true;
}

void write_argv(JsonWriter& w) {
  w.begin_array();
  int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[8192];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    for (ssize_t start = 0, i = 0; i < n; ++i) {
      if (buf[i] == '\0') {
        w.value(buf + start, std::size_t(i - start));
        start = i + 1;
      }
    }
  }
  w.end_array();
}

void write_stack(JsonWriter& w, uint32_t stack_id) {
  w.begin_array();
  const uintptr_t* pcs = nullptr;
  uint32_t n = g_detector->native_stacks().get(stack_id, &pcs);
  for (uint32_t i = 0; i < n; ++i) w.hex(pcs[i]);
  w.end_array();
}

LockMode first_mode(uint8_t mask, bool held) {
  // The modes of the first combination recorded; the writer reports one pair per edge.
  for (unsigned bit = 0; bit < 4; ++bit)
    if (mask & (1u << bit)) return held ? LockMode(bit >> 1) : LockMode(bit & 1);
  return LockMode::kWrite;
}

void describe_lock(Text& t, const FindingLock& lock) {
  if (lock.kind == LockKind::kGil) {
    t.add("the GIL");
    if (lock.address) {
      t.add(" of interpreter ");
      t.add_hex(lock.address);
    }
    return;
  }
  t.add(lock_kind_name(lock.kind));
  t.add(" ");
  t.add_hex(lock.address);
}

// One entry of a finding's "locks" array.
void write_lock(JsonWriter& w, uint32_t id, LockKind kind, uintptr_t address, uintptr_t site_pc) {
  w.begin_object();
  w.key(rk::kId);
  w.value(id);
  w.key(rk::kName);
  w.value(kind == LockKind::kGil ? "GIL" : "");
  w.key(rk::kKind);
  w.value(lock_kind_name(kind));
  w.key(rk::kAddress);
  w.hex(address);
  w.key(rk::kFirstSite);
  w.begin_array();
  if (site_pc) w.hex(site_pc);
  w.end_array();
  w.end_object();
}

void write_python_frames(JsonWriter& w, uint32_t stack_id);

// ---- contexts ----

constexpr std::size_t kContextSize = 160;
char g_context[kContextSize];
std::atomic<uint32_t> g_context_sequence{0};  // odd while g_context is being written
char g_finding_contexts[Detector::kMaxFindings][kContextSize];
char g_event_contexts[Detector::kMaxEvents][kContextSize];

void copy_context(char* out) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    uint32_t before = g_context_sequence.load(std::memory_order_acquire);
    if (before & 1) continue;
    std::memcpy(out, g_context, kContextSize);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (g_context_sequence.load(std::memory_order_relaxed) == before) {
      out[kContextSize - 1] = '\0';
      return;
    }
  }
  out[0] = '\0';  // the context kept changing: better none than a torn one
}

void write_context(JsonWriter& w, const char* context) {
  if (!context[0]) return;
  w.key(rk::kContext);
  w.value(context, strnlen(context, kContextSize));
}

void write_finding(JsonWriter& w, const Finding& f, std::size_t index) {
  w.begin_object();
  w.key(rk::kKind);
  w.value(finding_kind_name(f.kind));
  if (index < Detector::kMaxFindings) write_context(w, g_finding_contexts[index]);
  Text summary;
  summary.add("lock-order inversion (potential deadlock): ");
  for (uint32_t i = 0; i < f.lock_count; ++i) {
    describe_lock(summary, f.locks[i]);
    summary.add(" -> ");
  }
  describe_lock(summary, f.locks[0]);
  w.key(rk::kSummary);
  w.value(summary.buf, summary.len);
  w.key(rk::kLocks);
  w.begin_array();
  for (uint32_t i = 0; i < f.lock_count; ++i) write_lock(w, i, f.locks[i].kind, f.locks[i].address, f.locks[i].first_pc);
  w.end_array();
  w.key(rk::kEdges);
  w.begin_array();
  for (uint32_t i = 0; i < f.lock_count; ++i) {
    const FindingEdge& e = f.edges[i];
    w.begin_object();
    w.key(rk::kFrom);
    w.value(unsigned(e.from));
    w.key(rk::kTo);
    w.value(unsigned(e.to));
    w.key(rk::kHeldMode);
    w.value(lock_mode_name(first_mode(e.mode_mask, true)));
    w.key(rk::kAcquiredMode);
    w.value(lock_mode_name(first_mode(e.mode_mask, false)));
    w.key(rk::kThread);
    w.begin_object();
    w.key(rk::kTid);
    w.value(unsigned(e.tid));
    w.key(rk::kName);
    w.value(e.thread_name, strnlen(e.thread_name, sizeof(e.thread_name)));
    w.end_object();
    w.key(rk::kStack);
    write_stack(w, e.native_stack);
    w.key(rk::kPythonFrames);
    write_python_frames(w, e.python_stack);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void write_python_frames(JsonWriter& w, uint32_t stack_id) {
  w.begin_array();
  const PyFrameRecord* frames = nullptr;
  uint32_t n = g_detector->python_stacks().get(stack_id, &frames);
  for (uint32_t k = 0; k < n; ++k) {
    w.begin_object();
    w.key(rk::kFunction);
    w.value(frames[k].function, strnlen(frames[k].function, sizeof(frames[k].function)));
    w.key(rk::kFile);
    w.value(frames[k].file, strnlen(frames[k].file, sizeof(frames[k].file)));
    w.key(rk::kLine);
    w.value(frames[k].line);
    w.end_object();
  }
  w.end_array();
}

// A finding that is not a lock-order cycle (format: result_format.h).
void write_event(JsonWriter& w, const EventFinding& e, std::size_t index) {
  w.begin_object();
  w.key(rk::kKind);
  w.value(finding_kind_name(e.kind));
  if (index < Detector::kMaxEvents) write_context(w, g_event_contexts[index]);
  w.key(rk::kSummary);
  w.value(e.summary, strnlen(e.summary, sizeof(e.summary)));
  w.key(rk::kProbable);
  w.value(e.probable);
  w.key(rk::kCount);
  w.value(uint64_t(e.count));
  if (e.longest_ns) {
    w.key(rk::kLongestWaitMs);
    w.value(e.longest_ns / 1000000);
  }
  if (e.detail[0]) {
    w.key(rk::kDetail);
    w.value(e.detail, strnlen(e.detail, sizeof(e.detail)));
  }
  w.key(rk::kLocks);
  w.begin_array();
  for (uint32_t i = 0; i < e.lock_count && i < uint32_t(kMaxEventLocks); ++i)
    write_lock(w, i, e.locks[i].kind, e.locks[i].address, e.locks[i].site_pc);
  w.end_array();
  w.key(rk::kThreads);
  w.begin_array();
  for (uint32_t i = 0; i < e.thread_count && i < uint32_t(kMaxEventThreads); ++i) {
    const EventThread& t = e.threads[i];
    w.begin_object();
    w.key(rk::kTid);
    w.value(unsigned(t.tid));
    w.key(rk::kName);
    w.value(t.name, strnlen(t.name, sizeof(t.name)));
    w.key(rk::kRole);
    w.value(t.role, strnlen(t.role, sizeof(t.role)));
    if (t.waits_for_plus1) {
      w.key(rk::kWaitsFor);
      w.value(unsigned(t.waits_for_plus1 - 1));
    }
    if (t.holds_mask) {
      w.key(rk::kHolds);
      w.begin_array();
      for (unsigned k = 0; k < 8; ++k)
        if (t.holds_mask & (1u << k)) w.value(k);
      w.end_array();
    }
    w.key(rk::kStack);
    write_stack(w, t.native_stack);
    w.key(rk::kPythonFrames);
    write_python_frames(w, t.python_stack);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

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

void write_lock_profiles(JsonWriter& w) {
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
      write_stack(w, waiter.native_stack);
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

std::size_t render(char* buf, std::size_t capacity, bool exited, int exit_status, bool* truncated) {
  namespace rf = gilwatch::result_format;
  JsonWriter w(buf, capacity);
  w.begin_object();
  w.key(rk::kFormat);
  w.value(rf::kFormatName);
  w.key(rk::kVersion);
  w.value(rf::kVersion);
  w.key(rk::kPid);
  w.value(int64_t(::getpid()));
  w.key(rk::kPpid);
  w.value(int64_t(::getppid()));
  w.key(rk::kArgv);
  write_argv(w);
  char exe[512];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  w.key(rk::kExe);
  w.value(exe, n > 0 ? std::size_t(n) : 0);
  w.key(rk::kState);
  w.value(exited ? rf::kStateExited : rf::kStateRunning);
  if (exited) {
    w.key(rk::kExitStatus);
    w.value(exit_status);
  }
  w.key(rk::kPython);
  w.begin_object();
  bool python = g_python.loaded.load(std::memory_order_acquire);
  w.key(rk::kLoaded);
  w.value(python);
  if (g_python.major != 0) {  // found, even when its thread-state API was not
    w.key(rk::kVersion);
    w.value(g_python.version);
    w.key(rk::kTested);
    w.value(python_version_tested());
    w.key(rk::kFreeThreaded);
    w.value(g_python.free_threaded);
    w.key(rk::kChecksOff);
    w.begin_array();
    for (int c = 0; c < int(Check::kCount); ++c)
      if (!python_check_applies(Check(c))) w.value(check_name(Check(c)));
    w.end_array();
  }
  w.end_object();
  w.key(rk::kUntrackedLowStack);
  w.value(g_detector->stats().untracked_low_stack);

  {
    SpinLockGuard guard(g_modules_lock);
    w.key(rk::kModules);
    w.begin_array();
    for (uint32_t i = 0; i < g_module_count; ++i) {
      const Module& m = g_modules[i];
      w.begin_object();
      w.key(rk::kPath);
      w.value(g_paths + m.path_offset);
      w.key(rk::kLoadBias);
      w.hex(m.load_bias);
      w.key(rk::kSegments);
      w.begin_array();
      for (uint32_t s = 0; s < m.segment_count; ++s) {
        w.begin_array();
        w.hex(m.segments[s][0]);
        w.hex(m.segments[s][1]);
        w.end_array();
      }
      w.end_array();
      w.end_object();
    }
    w.end_array();
  }

  SpinLockGuard guard(g_detector->lock());
  w.key(rk::kFindings);
  w.begin_array();
  for (std::size_t i = 0; i < g_detector->finding_count(); ++i) write_finding(w, g_detector->finding(i), i);
  for (std::size_t i = 0; i < g_detector->event_count(); ++i) write_event(w, g_detector->event(i), i);
  w.end_array();
  if (g_profiler) write_lock_profiles(w);
  DetectorStats s = g_detector->stats();
  w.key(rk::kStats);
  w.begin_object();
  w.key(rk::kLocksTracked);
  w.value(uint64_t(s.locks_tracked));
  w.key(rk::kEdges);
  w.value(uint64_t(s.graph_edges));
  w.key(rk::kFindingsDropped);
  w.value(s.findings_dropped);
  w.key(rk::kReadOnlyCyclesDismissed);
  w.value(s.cycles_read_only);
  w.key(rk::kThreadsExitedHoldingLocks);
  w.value(threads_exited_holding_locks());
  w.key(rk::kOverflow);
  w.begin_array();
  if (s.graph_full) w.value("lock-graph");
  if (s.table_full) w.value("lock-table");
  if (s.stacks_full) w.value("stack-store");
  if (s.held_overflows) w.value("held-locks-per-thread");
  w.end_array();
  w.end_object();
  w.end_object();
  *truncated = w.truncated();
  return w.size();
}

}  // namespace

void snapshot_modules() {
  SpinLockGuard guard(g_modules_lock);
  if (!g_modules) {
    g_modules = static_cast<Module*>(map_zeroed(sizeof(Module) * kMaxModules));
    g_paths = static_cast<char*>(map_zeroed(kPathArena));
    if (!g_modules || !g_paths) return;
  }
  dl_iterate_phdr(add_module, nullptr);
}

void init_results_file() {
  g_results_path[0] = '\0';
  if (!g_options.out_dir[0]) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  Text name;
  name.add(g_options.out_dir);
  name.add("/");
  name.add(gilwatch::result_format::kFilePrefix);
  name.add_dec(uint64_t(::getpid()));
  name.add(".");
  name.add_dec(uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec));
  name.add(gilwatch::result_format::kFileSuffix);
  if (name.len >= sizeof(g_results_path)) return;
  std::memcpy(g_results_path, name.buf, name.len);
  g_results_path[name.len] = '\0';
}

void write_results(bool exited, int exit_status) {
  if (!g_detector || !g_results_path[0]) return;
  SpinLockGuard guard(g_write_lock);
  if (!make_directories(g_options.out_dir)) return;
  bool truncated = true;
  std::size_t size = 0;
  for (std::size_t capacity = g_json_capacity ? g_json_capacity : (std::size_t(1) << 20);
       capacity <= (std::size_t(1) << 28); capacity *= 2) {
    if (capacity > g_json_capacity) {
      if (g_json) ::munmap(g_json, g_json_capacity);
      g_json = static_cast<char*>(map_zeroed(capacity));
      g_json_capacity = g_json ? capacity : 0;
      if (!g_json) return;
    }
    size = render(g_json, g_json_capacity, exited, exit_status, &truncated);
    if (!truncated) break;
  }
  if (truncated) return;
  char tmp[1210];
  std::size_t n = std::strlen(g_results_path);
  std::memcpy(tmp, g_results_path, n);
  std::memcpy(tmp + n, ".tmp", 5);
  int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::size_t off = 0;
  while (off < size) {
    ssize_t w = ::write(fd, g_json + off, size - off);
    if (w <= 0) break;
    off += std::size_t(w);
  }
  ::close(fd);
  if (off == size) ::rename(tmp, g_results_path);
}

void print_stack(Text& t, uint32_t native_stack, uint32_t python_stack) {
  const uintptr_t* pcs = nullptr;
  uint32_t n;
  {
    SpinLockGuard guard(g_detector->lock());
    n = g_detector->native_stacks().get(native_stack, &pcs);
  }
  for (uint32_t j = 0; j < n && j < 12; ++j) {
    t.add("    #");
    t.add_dec(j);
    t.add(" ");
    t.add_hex(pcs[j]);
    SpinLockGuard guard(g_modules_lock);
    if (const Module* m = module_of(pcs[j])) {
      t.add(" (");
      t.add(base_name(g_paths + m->path_offset));
      t.add("+");
      t.add_hex(pcs[j] - m->load_bias);
      t.add(")");
    }
    t.add("\n");
  }
  const PyFrameRecord* frames = nullptr;
  uint32_t np;
  {
    SpinLockGuard guard(g_detector->lock());
    np = g_detector->python_stacks().get(python_stack, &frames);
  }
  for (uint32_t j = 0; j < np && j < 8; ++j) {
    t.add("    py ");
    t.add(frames[j].file);
    t.add(":");
    t.add_dec(uint64_t(frames[j].line > 0 ? frames[j].line : 0));
    t.add(" in ");
    t.add(frames[j].function);
    t.add("\n");
  }
}

// The last line of every printed finding: where the full, symbolizable record is.
void print_results_path(Text& t) {
  if (g_results_path[0]) {
    t.add("  results: ");
    t.add(g_results_path);
    t.add(" (symbolized by `gilwatch run` / `gilwatch report`)\n");
  }
  t.flush_to_stderr();
}

// "  thread TID (NAME) "
void print_thread_header(Text& t, uint32_t tid, const char* name, std::size_t name_size) {
  t.add("  thread ");
  t.add_dec(tid);
  t.add(" (");
  t.add(name, strnlen(name, name_size));
  t.add(") ");
}

void print_findings(std::size_t first, std::size_t count) {
  if (!g_options.report_stderr || !g_detector) return;
  Text t;
  for (std::size_t i = first; i < count; ++i) {
    Finding f;
    {
      SpinLockGuard guard(g_detector->lock());
      if (i >= g_detector->finding_count()) return;
      f = g_detector->finding(i);
    }
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add("==WARNING: gilwatch: lock-order-inversion (potential deadlock)\n  cycle: ");
    for (uint32_t k = 0; k < f.lock_count; ++k) {
      describe_lock(t, f.locks[k]);
      t.add(" -> ");
    }
    describe_lock(t, f.locks[0]);
    t.add("\n");
    t.flush_to_stderr();
    for (uint32_t k = 0; k < f.lock_count; ++k) {
      const FindingEdge& e = f.edges[k];
      print_thread_header(t, e.tid, e.thread_name, sizeof(e.thread_name));
      t.add("took ");
      describe_lock(t, f.locks[e.to]);
      t.add(" while holding ");
      describe_lock(t, f.locks[e.from]);
      t.add(":\n");
      print_stack(t, e.native_stack, e.python_stack);
      t.flush_to_stderr();
    }
    print_results_path(t);
  }
}

void print_events(std::size_t first, std::size_t count) {
  if (!g_options.report_stderr || !g_detector) return;
  static EventFinding e;  // large; printing is serialized by the report lock
  Text t;
  for (std::size_t i = first; i < count; ++i) {
    {
      SpinLockGuard guard(g_detector->lock());
      if (i >= g_detector->event_count()) return;
      e = g_detector->event(i);
    }
    // The command decides about these, once it can name the lock (wait_monitor.h).
    if (std::strcmp(e.detail, result_format::kDetailShortFutexWait) == 0) continue;
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add("==WARNING: gilwatch: ");
    t.add(finding_kind_name(e.kind));
    if (e.probable) t.add(" (probable)");
    t.add("\n  ");
    t.add(e.summary, strnlen(e.summary, sizeof(e.summary)));
    t.add("\n");
    t.flush_to_stderr();
    for (uint32_t k = 0; k < e.thread_count && k < uint32_t(kMaxEventThreads); ++k) {
      const EventThread& th = e.threads[k];
      print_thread_header(t, th.tid, th.name, sizeof(th.name));
      t.add(th.role, strnlen(th.role, sizeof(th.role)));
      t.add(":\n");
      print_stack(t, th.native_stack, th.python_stack);
      t.flush_to_stderr();
    }
    print_results_path(t);
  }
}

namespace {

// "registry_update+0x15 in contended_registry", or the address, for the stderr summary
// (the library does not symbolize; dladdr names exported and dynamic symbols only).
void add_code_location(Text& t, uintptr_t pc) {
  Dl_info info;
  if (pc && dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_sname) {
    t.add(info.dli_sname);
    t.add("+");
    t.add_hex(pc - reinterpret_cast<uintptr_t>(info.dli_saddr));
  } else {
    t.add_hex(pc);
  }
  if (pc && dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_fname) {
    const char* base = std::strrchr(info.dli_fname, '/');
    t.add(" in ");
    t.add(base ? base + 1 : info.dli_fname);
  }
}

void add_ms(Text& t, uint64_t ns) {
  t.add_dec(ns / 1000000);
  t.add(".");
  uint64_t tenths = (ns / 100000) % 10;
  t.add_dec(tenths);
  t.add(" ms");
}

// The profile in a few lines, when the library reports on stderr itself (preloaded by
// hand with profile=1; `gilwatch run` prints a symbolized one instead).
void print_profile_summary() {
  if (!g_profiler) return;
  Text t;
  const GilProfile& gil = g_profiler->gil();
  // No interpreter, or a free-threaded one: no GIL to speak of.
  bool has_gil = g_python.loaded.load(std::memory_order_acquire) && !g_python.free_threaded;
  if (has_gil) {
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add("==gilwatch profile: the GIL ");
  }
  if (!has_gil) {
  } else if (is_gil_mutex_known()) {
    t.add("taken ");
    t.add_dec(gil.takes.load(std::memory_order_relaxed));
    t.add(" times (");
    t.add_dec(gil.contended_takes.load(std::memory_order_relaxed));
    t.add(" after a wait), held ");
    add_ms(t, gil.held_ns.load(std::memory_order_relaxed));
    t.add(", waited for ");
    add_ms(t, gil.waited_ns.load(std::memory_order_relaxed));
    t.add("\n");
  } else {
    t.add("was never waited for\n");
  }
  const LockProfile* top = nullptr;
  g_profiler->for_each([&](const LockProfile& p) {
    if (is_gil_mutex(p.address.load(std::memory_order_relaxed))) return;
    uint64_t wait = p.wait_total_ns.load(std::memory_order_relaxed);
    uint64_t top_wait = top ? top->wait_total_ns.load(std::memory_order_relaxed) : 0;
    if (!top || wait > top_wait ||
        (wait == top_wait && p.acquisitions.load(std::memory_order_relaxed) > top->acquisitions.load(std::memory_order_relaxed)))
      top = &p;
  });
  if (top && top->acquisitions.load(std::memory_order_relaxed)) {
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add(top->contended.load(std::memory_order_relaxed) ? "==gilwatch profile: the lock waited for longest: "
                                                          : "==gilwatch profile: no lock was waited for; the most taken: ");
    t.add(lock_kind_name(top->kind));
    t.add(" ");
    t.add_hex(top->address.load(std::memory_order_relaxed));
    t.add(" first taken at ");
    add_code_location(t, top->first_pc.load(std::memory_order_relaxed));
    t.add(": ");
    t.add_dec(top->acquisitions.load(std::memory_order_relaxed));
    t.add(" acquisitions, ");
    t.add_dec(top->contended.load(std::memory_order_relaxed));
    t.add(" contended, waited ");
    add_ms(t, top->wait_total_ns.load(std::memory_order_relaxed));
    t.add(" in all\n");
  }
  t.add("==");
  t.add_dec(uint64_t(::getpid()));
  t.add("==gilwatch profile: all of it in ");
  t.add(g_results_path[0] ? g_results_path : "the results file (set out_dir)");
  t.add("; `gilwatch report` symbolizes it\n");
  t.flush_to_stderr();
}

}  // namespace

std::size_t reported_finding_count() {
  SpinLockGuard guard(g_detector->lock());
  std::size_t count = g_detector->finding_count();
  for (std::size_t i = 0; i < g_detector->event_count(); ++i)
    if (std::strcmp(g_detector->event(i).detail, result_format::kDetailShortFutexWait) != 0) ++count;
  return count;
}

void print_exit_summary() {
  if (!g_detector || !g_options.report_stderr) return;
  print_profile_summary();
  std::size_t count = reported_finding_count();
  if (count == 0) return;
  Text t;
  t.add("==");
  t.add_dec(uint64_t(::getpid()));
  t.add("==gilwatch: ");
  t.add_dec(count);
  t.add(count == 1 ? " finding" : " findings");
  t.add(" in this process\n");
  t.flush_to_stderr();
}

void note_context_of_new_findings(std::size_t first, std::size_t count, std::size_t first_event,
                                  std::size_t event_count) {
  char context[kContextSize];
  copy_context(context);
  for (std::size_t i = first; i < count && i < Detector::kMaxFindings; ++i)
    std::memcpy(g_finding_contexts[i], context, kContextSize);
  for (std::size_t i = first_event; i < event_count && i < Detector::kMaxEvents; ++i)
    std::memcpy(g_event_contexts[i], context, kContextSize);
}

}  // namespace gilwatch::preload

// Exported: what the process is doing now (the pytest plugin passes the running test's
// node id; null or "" clears it). Findings reported from now on carry it.
extern "C" __attribute__((visibility("default"))) void gilwatch_set_context(const char* context) {
  using namespace gilwatch::preload;
  g_context_sequence.fetch_add(1, std::memory_order_acq_rel);
  std::size_t n = context ? strnlen(context, kContextSize - 1) : 0;
  if (n) std::memcpy(g_context, context, n);
  g_context[n] = '\0';
  g_context_sequence.fetch_add(1, std::memory_order_release);
}
