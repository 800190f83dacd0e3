// rwlock_rules: what a rwlock's preference and a thread's own holds make of a request.
//
// glibc (2.25 and later, checked on 2.36) keeps a rwlock's kind in the public field
// pthread_rwlock_t::__data.__flags: pthread_rwlock_init copies the attribute's kind
// (pthread_rwlockattr_setkind_np) there and PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
// puts it there statically (bits/struct_rwlock.h: "FLAGS must stay at this position").
// Only PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP (2) queues a new reader behind a
// waiting writer; PTHREAD_RWLOCK_PREFER_WRITER_NP (1) behaves like the default
// PTHREAD_RWLOCK_PREFER_READER_NP (0) — glibc's documentation says so, and a reader that
// re-reads while a writer waits gets the lock at once with 0 and 1 and blocks with 2.
//
// A thread asking again for a rwlock it holds:
// - for writing, holding it for writing: glibc answers EDEADLK (the thread would wait
//   for itself);
// - for reading, holding it for writing: EDEADLK as well;
// - for writing, holding it for reading (an "upgrade"): glibc cannot tell, the thread
//   waits for itself forever;
// - for reading, holding it for reading: fine on a reader-preferring lock; on a
//   writer-preferring one the second read waits behind any writer that came between,
//   and that writer waits for the first read: a self-deadlock once a writer waits.
#pragma once

#include <cstdint>

#include "detector.h"

namespace gilwatch {

// glibc's kind value (pthread.h's enum) for the one writer-preferring rwlock kind.
inline constexpr unsigned kGlibcRwlockPreferWriterNonrecursive = 2;

inline bool rwlock_readers_wait_for_writers(unsigned glibc_flags) {
  return glibc_flags == kGlibcRwlockPreferWriterNonrecursive;
}

enum class Relock : uint8_t {
  kNone,               // not held by this thread, or a recursive read that cannot block
  kWriteWhileWriting,  // wrlock on a lock held for writing: EDEADLK
  kReadWhileWriting,   // rdlock on a lock held for writing: EDEADLK
  kWriteWhileReading,  // wrlock on a lock held for reading: waits for itself forever
  kRecursiveRead,      // rdlock again on a writer-preferring lock: blocks once a writer waits
};

// What a blocking request for rwlock `address` in mode `want` is, given the thread's
// held stack. `readers_wait_for_writers`: the lock's preference (above).
Relock classify_relock(const ThreadState& t, uintptr_t address, LockMode want, bool readers_wait_for_writers);

// The finding's `detail` for each (docs/findings.md), and whether it is certain (the
// call fails or hangs whatever other threads do) or needs a writer to come between.
const char* relock_detail(Relock r);
bool relock_is_certain(Relock r);

}  // namespace gilwatch
