// Small helpers shared by the native fixtures: run a thread to completion under a name,
// and fail loudly on any pthread error (a fixture that silently misbehaves proves
// nothing). Header-only; C and C++.
#pragma once

// _GNU_SOURCE (for pthread_setname_np) comes from the build: it must precede every
// system header, not just this one.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

// Functions that take locks are kept out of line so reports show them by name.
#define SCENARIO_FRAME __attribute__((noinline))

static inline void scenario_check(int rc, const char* what) {
  if (rc != 0) {
    fprintf(stderr, "fixture error: %s: %s\n", what, strerror(rc));
    exit(2);
  }
}

struct scenario_thread_start {
  void* (*body)(void*);
  void* arg;
  char name[16];  // thread names are at most 15 characters
};

// Names the thread from inside (naming it from outside races with a short-lived
// thread's exit), then runs its body. Names appear in reports.
static void* scenario_thread_trampoline(void* start_arg) {
  struct scenario_thread_start start = *(struct scenario_thread_start*)start_arg;
  free(start_arg);
  scenario_check(pthread_setname_np(pthread_self(), start.name), "pthread_setname_np");
  return start.body(start.arg);
}

static inline pthread_t scenario_start_thread(void* (*body)(void*), void* arg, const char* name) {
  struct scenario_thread_start* start =
      (struct scenario_thread_start*)calloc(1, sizeof(struct scenario_thread_start));
  if (start == NULL) scenario_check(ENOMEM, "calloc");
  start->body = body;
  start->arg = arg;
  strncpy(start->name, name, sizeof start->name - 1);
  pthread_t thread;
  scenario_check(pthread_create(&thread, NULL, scenario_thread_trampoline, start), "pthread_create");
  return thread;
}

static inline void scenario_join_thread(pthread_t thread) {
  scenario_check(pthread_join(thread, NULL), "pthread_join");
}

// Runs one phase: starts `body` on a new thread and waits for it to end.
static inline void scenario_run_thread(void* (*body)(void*), void* arg, const char* name) {
  scenario_join_thread(scenario_start_thread(body, arg, name));
}

#ifdef __cplusplus
}
#endif
