#include "native_panics.h"

#include <cstring>

#include "gilwatch/result_format.h"
#include "lifecycle_checks.h"
#include "spin_lock.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

namespace {

SpinLock g_native_panic_lock;
EventFinding g_native_panic_event;

struct WaitersOf {
  PreloadThread* panicking;
  uintptr_t word;
};

// Another thread blocked on `word` right now: the unwinding's wake lets it take the lock
// next. Its stack is the one its wait captured (after a slice of waiting), if any yet.
void note_waiter(PreloadThread* other, void* context) {
  auto* w = static_cast<WaitersOf*>(context);
  PreloadThread::NativePanic& p = w->panicking->native_panic;
  if (p.waiter_count >= sizeof(p.waiters) / sizeof(p.waiters[0])) return;
  uint64_t start = other->wait.start_ns.load(std::memory_order_acquire);
  if (!start || other->wait.kind != WaitKind::kFutex || other->wait.object != w->word) return;
  uint32_t stack = __atomic_load_n(&other->wait.captured_for, __ATOMIC_ACQUIRE) == start ? other->wait.native_stack : 0;
  if (other->wait.start_ns.load(std::memory_order_acquire) != start) return;  // the wait ended meanwhile
  p.waiters[p.waiter_count++] = PreloadThread::NativePanic::Waiter{other->tid, stack, w->word};
}

}  // namespace

void native_panic_raised(PreloadThread* t, void* exception) {
  PreloadThread::NativePanic& p = t->native_panic;
  std::memset(&p, 0, sizeof(p));
  p.raise_stack = intern_native_stack(t);
  p.exception = exception;
}

void native_panic_caught(PreloadThread* t) {
  PreloadThread::NativePanic& p = t->native_panic;
  p.exception = nullptr;
  p.caught = true;
  p.catch_stack = intern_native_stack(t);
}

void native_panic_released_word(PreloadThread* t, uintptr_t word) {
  PreloadThread::NativePanic& p = t->native_panic;
  for (int i = 0; i < p.word_count; ++i)
    if (p.words[i] == word) return;
  if (p.word_count >= sizeof(p.words) / sizeof(p.words[0])) return;
  p.words[p.word_count++] = word;
  WaitersOf context{t, word};
  for_each_other_thread(t, note_waiter, &context);
}

void check_native_panic_at_end(PreloadThread* t) {
  PreloadThread::NativePanic& p = t->native_panic;
  // Not caught where free() could see it (another allocator frees the exception), or
  // no panic: nothing to judge.
  if (!p.caught || !p.raise_stack) return;
  p.caught = false;
  uint32_t tid = current_tid(t);
  SpinLockGuard guard(g_native_panic_lock);
  EventFinding& e = g_native_panic_event;
  std::memset(&e, 0, sizeof(e));
  e.kind = FindingKind::kRustPanic;
  e.count = 1;
  e.key = mix_key(uint64_t(e.kind) << 56, mix_key(0x9a41e, p.raise_stack));
  TextBuilder(e.detail, sizeof(e.detail)).add(result_format::kDetailNativeThreadPanic);
  TextBuilder summary(e.summary, sizeof(e.summary));
  summary.add("Rust panic in native thread ").dec(tid).add(", which Python never saw, ended the thread");
  for (int i = 0; i < p.word_count; ++i) add_event_lock(e, p.words[i], LockKind::kFutex, 0);
  if (p.word_count) {
    summary.add("; its unwinding released ").add(p.word_count == 1 ? "a Rust lock" : "Rust locks");
    if (p.waiter_count) summary.add(" that ").dec(p.waiter_count).add(p.waiter_count == 1 ? " thread was" : " threads were").add(" waiting for");
  }
  EventThread& raised = e.threads[e.thread_count++];
  raised.tid = tid;
  thread_name_of(tid, raised.name, sizeof(raised.name));
  TextBuilder role(raised.role, sizeof(raised.role));
  role.add("panicked on a thread started outside the interpreter that never attached to it");
  if (p.word_count) role.add(", holding the released lock").add(p.word_count == 1 ? "" : "s");
  raised.native_stack = p.raise_stack;
  raised.holds_mask = uint8_t((1u << e.lock_count) - 1);
  EventThread& caught = e.threads[e.thread_count++];
  caught.tid = tid;
  std::memcpy(caught.name, raised.name, sizeof(caught.name));
  TextBuilder(caught.role, sizeof(caught.role)).add(result_format::kRoleNativePanicCaught);
  caught.native_stack = p.catch_stack;
  if (t->start_stack) {
    EventThread& started = e.threads[e.thread_count++];
    started.tid = tid;
    std::memcpy(started.name, raised.name, sizeof(started.name));
    TextBuilder(started.role, sizeof(started.role)).add("started here (pthread_create)");
    started.native_stack = t->start_stack;
  }
  for (int i = 0; i < p.waiter_count && e.thread_count < kMaxEventThreads; ++i) {
    const PreloadThread::NativePanic::Waiter& w = p.waiters[i];
    EventThread& next = e.threads[e.thread_count++];
    next.tid = w.tid;
    thread_name_of(w.tid, next.name, sizeof(next.name));
    TextBuilder(next.role, sizeof(next.role))
        .add("was waiting for futex word ").hex(w.word)
        .add(" when the unwinding released it: took the poisoned lock next and went on (a PoisonError recovered, as with into_inner, reads what the panic left half-written)");
    next.native_stack = w.stack;
    int index = add_event_lock(e, w.word, LockKind::kFutex, 0);
    if (index >= 0) {
      next.waits_for_plus1 = uint8_t(index + 1);
      next.owner_unknown = 1;
    }
  }
  record_and_report(e);
}

}  // namespace gilwatch::preload
