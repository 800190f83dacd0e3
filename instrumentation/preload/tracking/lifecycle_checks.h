// lifecycle_checks: abandoned-lock, fork-with-lock-held and finalization-attach
// findings (see lifecycle_checks.cpp). Every function is called from a hook with the
// thread's busy flag set.
#pragma once

#include <cstdint>

#include "runtime.h"
#include "rwlock_rules.h"

namespace gilwatch::preload {

// The thread is ending (`how`: "returned", "called pthread_exit"...): an abandoned-lock
// finding if it still holds locks. `capture_stack`: its stack still shows where.
void check_thread_end(PreloadThread* t, const char* how, bool capture_stack);
// A lock is being destroyed; `held_now`: it is locked at this moment.
void check_lock_destroy(PreloadThread* t, const void* lock, LockKind kind, bool held_now, uintptr_t pc);
// The calling thread unlocks a lock it does not hold; `owner`: the holder the lock
// names (0: it is not locked).
void check_unlock_by_non_owner(PreloadThread* t, const void* lock, LockKind kind, uint32_t owner, uintptr_t pc);

// The calling thread asks for a rwlock it already holds (rwlock_rules.h says what
// `relock` is): a deadlock finding, with the thread waiting for itself.
void check_rwlock_relock(PreloadThread* t, const void* lock, Relock relock, uintptr_t pc);

// fork(): the parent notes which locks other threads hold (prepare handler); the child
// reports when it waits for one of them.
void fork_prepare(PreloadThread* self);
void fork_child();
void check_inherited_lock(PreloadThread* t, const void* lock, uintptr_t pc);

// Extension code asks for the GIL through `api`: finalization-attach when finalization
// has begun, unless the thread is the one that finalizes (`tstate`: the thread state
// being attached, when the call names one).
void check_gil_request(PreloadThread* t, const char* api, uintptr_t pc, const void* tstate);
// The thread ends inside a GIL request (CPython ends threads that ask for the GIL
// during finalization with pthread_exit).
void check_exit_in_gil_request(PreloadThread* t);
// At process exit, once the interpreter has finalized: threads still inside a GIL
// request (they asked for the GIL during finalization and never got it), and the
// finalization risk of every thread still running (below).
void check_threads_at_exit(PreloadThread* self);

// The calling thread's native stack, interned (0 if it cannot be captured here).
uint32_t intern_native_stack(PreloadThread* t);

// The finalization risk (finalization-attach, detail "risk"): a thread started outside
// the interpreter that has attached and is still running when finalization begins.
// pthread_create called from `create_pc`: the new thread's start stack, interned (0 for
// a thread the interpreter starts, or without room to capture).
uint32_t thread_start_stack(PreloadThread* creator, uintptr_t create_pc);
// The thread attaches through `api` from `pc` (before the call).
void note_attach(PreloadThread* t, const char* api, uintptr_t pc);
// The thread ends: a risk if finalization has begun.
void check_finalization_risk_at_end(PreloadThread* t);

}  // namespace gilwatch::preload
