#include "lock_profiling.h"

#include <sys/prctl.h>

#include <new>

#include "hold_clock.h"

namespace gilwatch::preload {

LockProfiler* g_profiler = nullptr;

namespace {

alignas(LockProfiler) unsigned char g_profiler_storage[sizeof(LockProfiler)];

// The thread's held-stack entry for `lock` that a release would end (the outermost
// hold: a recursive re-acquisition only counts up), or null.
HeldLock* held_entry(PreloadThread* t, uintptr_t lock) {
  ThreadState& s = t->state;
  for (int i = s.held_count() - 1; i >= 0; --i)
    if (s.held_at(i).address == lock) return &s.held_at(i);
  return nullptr;
}

// Whether the thread holds the lock of held-stack entry `h` alone, so that the lock
// serializes the updates of its record (lock_profile.h). Futex words and PyMutexes are
// not: their waits are seen before the lock is won.
bool holds_exclusively(const HeldLock* h) {
  return h && h->mode == LockMode::kWrite && (h->kind == LockKind::kMutex || h->kind == LockKind::kRwlock);
}

}  // namespace

void init_lock_profiling() {
  if (!g_options.profile || g_profiler) return;
  auto* profiler = new (g_profiler_storage) LockProfiler();
  if (!profiler->ok()) return;
  profiler->gil().started_ns = monotonic_ns();
  init_hold_clock();
  g_profiler = profiler;
}

GilThreadProfile* gil_thread(PreloadThread* t) {
  if (!t->gil_profile) {
    GilThreadProfile* slot = g_profiler->gil().thread_slot(current_tid(t));
    if (slot && !slot->name[0]) prctl(PR_GET_NAME, slot->name, 0, 0, 0);
    t->gil_profile = slot;
  }
  return static_cast<GilThreadProfile*>(t->gil_profile);
}

void profile_acquired_slow(PreloadThread* t, uintptr_t lock, LockKind kind, uintptr_t pc, bool contended,
                           uint64_t wait_ns, bool in_condition_wait, HeldLock* entry) {
  if (is_gil_mutex(lock)) {
    // The GIL's own mutex is the GIL profile's, not a lock of the program's.
    if (!in_condition_wait) {
      t->gil_section_start_ns = monotonic_ns();
      t->gil_section_waited = contended;
      t->gil_section_signalled = false;
    }
    return;
  }
  if (t->busy) return;
  LockProfile* p = g_profiler->find_or_insert(lock, kind, pc);
  if (!p) return;
  HeldLock* h = entry ? entry : held_entry(t, lock);
  LockProfiler::on_acquired(*p, contended, wait_ns, kind != LockKind::kFutex && holds_exclusively(h));
  if (h && held_recursion(*h) == 0) {
    h->profile_slot = g_profiler->slot_of(*p);
    h->acquired_ns = hold_clock_ns();
  }
  if (contended && LockProfiler::wants_waiter(*p, wait_ns) && g_detector &&
      stack_has_room(t, Detector::kNewEdgeStackBudget)) {
    // One of the longest waits for this lock so far: keep who waited, and where (into a
    // scratch record: never kilobytes on the caller's stack).
    ScratchCapture scratch(*g_detector);
    if (!scratch.get()) return;
    t->busy = 1;
    EvidenceCapture& capture = *scratch.get();
    capture_current(capture, false);
    ProfileWaiter waiter{};
    waiter.wait_ns = wait_ns;
    waiter.tid = capture.tid;
    static_assert(sizeof(waiter.name) == sizeof(capture.thread_name));
    for (std::size_t i = 0; i < sizeof(waiter.name); ++i) waiter.name[i] = capture.thread_name[i];
    uint32_t python_stack = 0;
    capture.python_count = 0;
    g_detector->intern_capture(capture, &waiter.native_stack, &python_stack);
    LockProfiler::add_waiter(*p, waiter);
    t->busy = 0;
  }
}

void profile_gil_call_slow(PreloadThread* t, GilApi api, uintptr_t pc, uint64_t started_ns) {
  GilProfile& gil = g_profiler->gil();
  uint64_t now = monotonic_ns();
  GilSiteProfile* site = gil.site(pc, api);
  if (gil_api_takes(api)) {
    if (site) GilProfile::on_site_take(*site, started_ns ? now - started_ns : 0);
    bool ends_section = api == GilApi::kRestoreThread || api == GilApi::kAcquireThread;
    if (t->released_since_ns && ends_section) {
      if (t->released_site)
        GilProfile::on_section_end(*static_cast<GilSiteProfile*>(t->released_site), now - t->released_since_ns,
                                   t->section_takes, t->section_capi_calls);
      t->released_since_ns = 0;
      t->released_site = nullptr;
    } else if (t->released_since_ns) {
      ++t->section_takes;  // the GIL taken back inside a released section
    }
    return;
  }
  // A drop: the hold it ends began at the thread's last take the GIL profile saw.
  if (site) {
    uint64_t began = 0;
    if (GilThreadProfile* slot = static_cast<GilThreadProfile*>(t->gil_profile))
      began = slot->hold_start_ns.load(std::memory_order_relaxed);
    GilProfile::on_site_drop(*site, began && now > began ? now - began : 0, began != 0);
  }
  if (gil_api_begins_section(api) && !t->released_since_ns) {
    t->released_since_ns = now;
    t->released_site = site;
    t->section_takes = 0;
    t->section_capi_calls = 0;
  }
}

void profile_capi_call_slow(PreloadThread* t, int capi_index) {
  ++t->section_capi_calls;
  if (t->released_site) GilProfile::note_capi_inside(*static_cast<GilSiteProfile*>(t->released_site), capi_index);
}

void profile_thread_ending_slow(PreloadThread* t) {
  char name[16] = {};
  if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && name[0]) {
    auto* slot = static_cast<GilThreadProfile*>(t->gil_profile);
    for (std::size_t i = 0; i < sizeof(name); ++i) slot->name[i] = name[i];
  }
}

void profile_gil_signal_slow(uintptr_t cond) {
  PreloadThread* t = current_thread();
  if (t->gil_section_start_ns && is_gil_condition(cond)) t->gil_section_signalled = true;
}

// The end of a critical section on the GIL mutex: a drop if the thread signalled the
// GIL condition in it, else a take.
void end_gil_section(PreloadThread* t) {
  uint64_t now = monotonic_ns();
  uint64_t began = t->gil_section_start_ns;
  t->gil_section_start_ns = 0;
  GilThreadProfile* slot = gil_thread(t);
  if (!slot) return;
  GilProfile& gil = g_profiler->gil();
  if (t->gil_section_signalled) {
    uint64_t held_since = slot->hold_start_ns.load(std::memory_order_relaxed);
    gil.on_drop(*slot, now);
    // A long hold: charge it to the extension code that last called the C API in it.
    if (held_since && now - held_since >= GilProfile::kLongHoldNs) gil.on_long_hold(t->hold_capi_pc, now - held_since);
  } else {
    gil.on_take(*slot, now, now - began, t->gil_section_waited);
    t->hold_capi_pc = 0;
  }
}

void profile_releasing_slow(PreloadThread* t, uintptr_t lock, bool in_condition_wait, HeldLock* entry) {
  if (is_gil_mutex(lock)) {
    if (!t->gil_section_start_ns) return;
    if (in_condition_wait)
      t->gil_section_waited = true;  // take_gil waits for the holder to drop the GIL
    else
      end_gil_section(t);
    return;
  }
  HeldLock* h = entry ? entry : held_entry(t, lock);
  if (!h || held_recursion(*h) != 0 || h->acquired_ns == 0) return;
  uint64_t now = hold_clock_ns();
  uint64_t held = now > h->acquired_ns ? now - h->acquired_ns : 0;
  h->acquired_ns = 0;
  // The record found when the hold began (no second lookup).
  LockProfile* p = g_profiler->record_at(h->profile_slot);
  h->profile_slot = 0;
  if (p) LockProfiler::on_released(*p, held, holds_exclusively(h));
}

}  // namespace gilwatch::preload
