// A stand-in for a CPython 3.13 interpreter, free-threaded or not: no free-threaded
// interpreter can be obtained on the machines gilwatch is tested on, so this program
// exports what the preload reads to recognize one (docs/design.md, "Free-threaded
// builds"): Py_GetVersion, the thread-state calls it asks who is attached, and a
// _PyRuntime that begins with _Py_DebugOffsets { "xdebugpy", version, free_threaded,
// runtime_state.size, runtime_state.finalizing } (layout: 3.13's
// internal/pycore_runtime.h, 3.14's and 3.15's internal/pycore_debug_offsets.h).
// Built twice: python_runtime_stub (free_threaded = 1) and gil_runtime_stub (0).
//
// What it does, in two phases: a thread that is "attached" (its thread state is the
// current one: what a GIL build calls holding the GIL) takes mutex A then B and sleeps
// 200 ms; then a detached thread takes B then A. Under gilwatch:
// - both builds: one lock-order-inversion between the two mutexes;
// - the GIL build: also gil-held-blocking (the sleep with the GIL held);
// - the free-threaded build: no GIL finding at all, and findings.json says free-threaded.
#include <stdint.h>
#include <unistd.h>

#include "scenario_threads.h"

#ifndef STUB_FREE_THREADED
#error "build with -DSTUB_FREE_THREADED=0 or 1"
#endif

#define EXPORTED __attribute__((visibility("default"), used))

struct stub_runtime {
  char cookie[8];
  uint64_t version;
  uint64_t free_threaded;
  struct {
    uint64_t size;
    uint64_t finalizing;
  } runtime_state;
  char rest[24];
  void* finalizing;  // at runtime_state.finalizing: no thread is finalizing
};

EXPORTED struct stub_runtime _PyRuntime = {
    {'x', 'd', 'e', 'b', 'u', 'g', 'p', 'y'},
    0x030d00f0,  // PY_VERSION_HEX of 3.13.0
    STUB_FREE_THREADED,
    {sizeof(struct stub_runtime), __builtin_offsetof(struct stub_runtime, finalizing)},
    {0},
    NULL,
};

static int thread_states[2];
static __thread void* attached;  // this thread's current thread state, or NULL

EXPORTED const char* Py_GetVersion(void) {
  return STUB_FREE_THREADED ? "3.13.0 experimental free-threading build (stub)" : "3.13.0 (stub)";
}
EXPORTED void* PyGILState_GetThisThreadState(void) { return attached; }
EXPORTED void* PyThreadState_GetUnchecked(void) { return attached; }

pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;

SCENARIO_FRAME void attached_take_a_then_b_and_sleep(void) {
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A");
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B holding A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
  usleep(200 * 1000);  // attached: with the GIL held, on a GIL build
}

SCENARIO_FRAME void take_b_then_a(void) {
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B");
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A holding B");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
}

static void* attached_thread(void* unused) {
  attached = &thread_states[0];
  attached_take_a_then_b_and_sleep();
  attached = NULL;
  return NULL;
}

static void* detached_thread(void* unused) {
  take_b_then_a();
  return NULL;
}

int main(void) {
  scenario_run_thread(attached_thread, NULL, "stub-attached");
  scenario_run_thread(detached_thread, NULL, "stub-detached");
  printf("%s build: done\n", STUB_FREE_THREADED ? "free-threaded" : "GIL");
  return 0;
}
