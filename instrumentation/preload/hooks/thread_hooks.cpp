// Thread lifecycle: pthread_create and thread exit.
//
// A new thread starts through a trampoline that records who created it (findings name
// the creator) and, when the thread ends — by returning or by pthread_exit — notes
// whether it still held locks. Trampoline records come from a fixed pool (no malloc);
// when the pool is exhausted the thread simply starts untracked by the trampoline (its
// locks are still tracked by the lock hooks).
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "gilwatch/result_format.h"
#include "lifecycle_checks.h"
#include "native_panics.h"
#include "runtime.h"
#include "wait_monitor.h"

using namespace gilwatch::preload;

namespace {

struct StartRecord {
  void* (*start)(void*);
  void* arg;
  uint32_t parent_tid;
  uint32_t start_stack;  // the creator's stack, for a thread started outside the interpreter
  std::atomic<uint32_t> next_free;
};

constexpr uint32_t kPoolSize = 4096;
StartRecord g_pool[kPoolSize + 1];  // index 0 = none
std::atomic<uint64_t> g_free_head{0};  // (tag << 32) | index, tagged against ABA
std::atomic<uint32_t> g_pool_used{0};
std::atomic<uint64_t> g_threads_exited_holding_locks{0};
std::atomic<uint64_t> g_threads_without_record{0};

StartRecord* take_record() {
  uint64_t head = g_free_head.load(std::memory_order_acquire);
  while (uint32_t index = static_cast<uint32_t>(head)) {
    uint64_t next = (head & 0xffffffff00000000ULL) + (uint64_t(1) << 32) +
                    g_pool[index].next_free.load(std::memory_order_relaxed);
    if (g_free_head.compare_exchange_weak(head, next, std::memory_order_acq_rel)) return &g_pool[index];
  }
  uint32_t index = g_pool_used.fetch_add(1, std::memory_order_relaxed) + 1;
  if (index > kPoolSize) return nullptr;
  return &g_pool[index];
}

void give_back(StartRecord* record) {
  uint32_t index = static_cast<uint32_t>(record - g_pool);
  uint64_t head = g_free_head.load(std::memory_order_acquire);
  for (;;) {
    record->next_free.store(static_cast<uint32_t>(head), std::memory_order_relaxed);
    uint64_t next = (head & 0xffffffff00000000ULL) + (uint64_t(1) << 32) + index;
    if (g_free_head.compare_exchange_weak(head, next, std::memory_order_acq_rel)) return;
  }
}

// `how` the thread ends; `at_call_site`: its stack shows where (pthread_exit), rather
// than only the thread-start frames (a return from the thread function).
void note_thread_end(const char* how, bool at_call_site) {
  PreloadThread* t = current_thread();
  if (t->end_noted) return;
  if (t->state.depth > 0) g_threads_exited_holding_locks.fetch_add(1, std::memory_order_relaxed);
  if (PreloadThread* h = enter_hook()) {
    check_exit_in_gil_request(h);
    check_finalization_risk_at_end(h);
    check_thread_end(h, how, at_call_site);
    check_native_panic_at_end(h);
    leave_hook(h);
  }
  if (g_detector && t->state.deep) g_detector->on_thread_exit(t->state);
  t->end_noted = true;
}

void* trampoline(void* raw) {
  auto* record = static_cast<StartRecord*>(raw);
  void* (*start)(void*) = record->start;
  void* arg = record->arg;
  PreloadThread* self = current_thread();
  self->parent_tid = record->parent_tid;
  self->start_stack = record->start_stack;
  self->started_outside = record->start_stack != 0;
  give_back(record);
  if (g_detector) {
    self->busy = 1;  // pthread_getattr_np allocates (and frees) a little
    record_thread_stack(self);
    self->busy = 0;
    register_thread(self);
  }
  void* result = start(arg);
  note_thread_end("returned from its thread function", false);
  return result;
}

}  // namespace

namespace gilwatch::preload {
uint64_t threads_exited_holding_locks() {
  return g_threads_exited_holding_locks.load(std::memory_order_relaxed);
}
uint64_t threads_without_start_record() { return g_threads_without_record.load(std::memory_order_relaxed); }

std::size_t preload_capacity_warnings(CapacityWarning* out, std::size_t max) {
  const CapacityWarning all[kPreloadCapacityCount] = {
      {result_format::kCapacityThreadStartRecords, kPoolSize, threads_without_start_record(),
       "threads whose end was not checked"},
      {result_format::kCapacityWatchedThreads, kMaxWatchedThreads, threads_not_watched(),
       "threads left out of deadlock checks"},
  };
  std::size_t n = 0;
  for (const CapacityWarning& w : all)
    if (w.lost && n < max) out[n++] = w;
  return n;
}
}  // namespace gilwatch::preload

extern "C" {

__attribute__((visibility("default"))) int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                                          void* (*start)(void*), void* arg) {
  auto real = real::pthread_create();
  StartRecord* record = g_detector ? take_record() : nullptr;
  if (!record) {
    if (g_detector) g_threads_without_record.fetch_add(1, std::memory_order_relaxed);
    return real(thread, attr, start, arg);
  }
  record->start = start;
  record->arg = arg;
  PreloadThread* self = current_thread();
  if (!self->tid) self->tid = static_cast<uint32_t>(syscall(SYS_gettid));
  record->parent_tid = self->tid;
  record->start_stack = 0;
  if (PreloadThread* creator = enter_hook()) {
    record->start_stack = thread_start_stack(creator, reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
    leave_hook(creator);
  }
  int rc = real(thread, attr, trampoline, record);
  if (rc != 0) give_back(record);
  return rc;
}

__attribute__((visibility("default"))) void pthread_exit(void* value) {
  auto real = real::pthread_exit();
  note_thread_end("called pthread_exit", true);
  real(value);
  __builtin_unreachable();  // the real pthread_exit does not return either
}

}  // extern "C"
