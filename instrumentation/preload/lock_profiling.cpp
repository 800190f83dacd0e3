#include "lock_profiling.h"

#include <new>

namespace gilwatch::preload {

LockProfiler* g_profiler = nullptr;

namespace {

alignas(LockProfiler) unsigned char g_profiler_storage[sizeof(LockProfiler)];

// The thread's held-stack entry for `lock` that a release would end (the outermost
// hold: a recursive re-acquisition only counts up), or null.
HeldLock* held_entry(PreloadThread* t, uintptr_t lock) {
  ThreadState& s = t->state;
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  for (int i = depth - 1; i >= 0; --i)
    if (s.held[i].address == lock) return &s.held[i];
  return nullptr;
}

}  // namespace

void init_lock_profiling() {
  if (!g_options.profile || g_profiler) return;
  auto* profiler = new (g_profiler_storage) LockProfiler();
  if (profiler->ok()) g_profiler = profiler;
}

void profile_acquired_slow(PreloadThread* t, uintptr_t lock, LockKind kind, uintptr_t pc, bool contended,
                           uint64_t wait_ns) {
  if (t->busy) return;
  LockProfile* p = g_profiler->find_or_insert(lock, kind, pc);
  if (!p) return;
  LockProfiler::on_acquired(*p, contended, wait_ns);
  if (HeldLock* h = held_entry(t, lock); h && h->recursion == 0) h->acquired_ns = monotonic_ns();
  if (contended && LockProfiler::wants_waiter(*p, wait_ns) && g_detector) {
    // One of the longest waits for this lock so far: keep who waited, and where.
    t->busy = 1;
    EvidenceCapture capture;
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

void profile_releasing_slow(PreloadThread* t, uintptr_t lock) {
  HeldLock* h = held_entry(t, lock);
  if (!h || h->recursion != 0 || h->acquired_ns == 0) return;
  uint64_t held = monotonic_ns() - h->acquired_ns;
  h->acquired_ns = 0;
  if (LockProfile* p = g_profiler->find(lock)) LockProfiler::on_released(*p, held);
}

}  // namespace gilwatch::preload
