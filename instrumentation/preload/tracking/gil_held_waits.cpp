// gil_held_waits: gil-held-blocking findings, a wait made with the GIL held that lasted
// long enough (and the short futex waits the command judges, result_format.h). Whether
// a wait is one is decided in engine/deadlock_check (judge_gil_held_wait, unit-tested);
// this file gathers its facts (how long, whose code waited) and writes the finding.
#include <cstring>

#include "deadlock_check.h"
#include "gilwatch/result_format.h"
#include "python_api.h"
#include "spin_lock.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

namespace {

// Records one gil-held-blocking event. A wait is keyed by its caller `pc`, except a
// futex wait (`futex_word`): its call into the kernel is made inside the lock
// implementation, the same pc for every Rust lock, so it is keyed by the waiter's whole
// stack, which then has to be captured before the repeat check.
void record_gil_held_wait(PreloadThread* t, const char* primitive, const char* detail, uintptr_t object,
                          bool futex_word, uintptr_t pc, uint64_t duration_ns) {
  int was_busy = t->busy;
  t->busy = 1;
  uint64_t key = mix_key(uint64_t(FindingKind::kGilHeldBlocking) << 56, pc);
  if (futex_word || !g_detector->repeat_event(key, duration_ns)) {
    static EventFinding e;  // under the lock below
    static SpinLock lock;
    SpinLockGuard guard(lock);
    std::memset(&e, 0, sizeof(e));
    char role[160];
    TextBuilder r(role, sizeof(role));
    r.add("held the GIL while blocked in ").add(primitive);
    if (object) r.add(" on ").hex(object);
    r.add(" for ").dec(duration_ns / 1000000).add(" ms");
    describe_current_thread(e.threads[0], role, true);
    bool repeated = false;
    if (futex_word) {
      // Short and long waits of one stack are separate events: the command judges the
      // short ones (result_format.h).
      uint64_t kind_of_wait = std::strcmp(detail, result_format::kDetailShortFutexWait) == 0 ? 0xf07e9 : 0xf07e8;
      key = mix_key(uint64_t(FindingKind::kGilHeldBlocking) << 56, mix_key(kind_of_wait, e.threads[0].native_stack));
      repeated = g_detector->repeat_event(key, duration_ns);
    }
    if (!repeated) {
      e.kind = FindingKind::kGilHeldBlocking;
      e.key = key;
      e.count = 1;
      e.longest_ns = duration_ns;
      TextBuilder(e.detail, sizeof(e.detail)).add(detail);
      TextBuilder(e.summary, sizeof(e.summary)).add("blocking call ").add(primitive).add(" while holding the GIL");
      e.thread_count = 1;
      e.locks[e.lock_count++] = EventLock{0, LockKind::kGil, 0};
      e.threads[0].blocked_ms = uint32_t(duration_ns / 1000000);
      if (futex_word) {
        // The facts `gilwatch` judges and words the finding from (harness/results/futex_rules.h).
        e.locks[e.lock_count++] = EventLock{object, LockKind::kFutex, 0};
        e.threads[0].owner_unknown = 1;
        e.futex_wait = std::strcmp(detail, result_format::kDetailShortFutexWait) == 0 ? FutexWaitLength::kShort
                                                                                       : FutexWaitLength::kLong;
      }
      add_held_locks(e, t->state);
      record_and_report(e);
    }
  }
  t->busy = was_busy;
}

}  // namespace

PythonThreading python_threading_now() {
  return g_python.free_threaded ? PythonThreading::kFreeThreaded : PythonThreading::kGil;
}

void note_gil_held_futex_wait(PreloadThread* t, uintptr_t word, uint64_t duration_ns) {
  if (!g_detector) return;
  // The caller has left out the interpreter's own futex waits.
  GilHeldWait verdict = judge_gil_held_wait(duration_ns, uint32_t(g_options.gil_blocking_ms), true, false, python_threading_now());
  if (verdict == GilHeldWait::kNoFinding) return;
  record_gil_held_wait(t, "futex wait",
                       verdict == GilHeldWait::kShortFutexWait ? result_format::kDetailShortFutexWait : "futex wait",
                       word, true, 0, duration_ns);
}

void note_gil_held_wait(PreloadThread* t, const char* primitive, uintptr_t object, uintptr_t pc,
                        uint64_t duration_ns) {
  if (!g_detector) return;
  if (judge_gil_held_wait(duration_ns, uint32_t(g_options.gil_blocking_ms), false, interpreter_contains(pc),
                          python_threading_now()) != GilHeldWait::kFinding)
    return;
  record_gil_held_wait(t, primitive, primitive, object, false, pc, duration_ns);
}

}  // namespace gilwatch::preload
