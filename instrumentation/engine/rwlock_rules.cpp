#include "rwlock_rules.h"

namespace gilwatch {

Relock classify_relock(const ThreadState& t, uintptr_t address, LockMode want, bool readers_wait_for_writers) {
  int depth = t.depth < ThreadState::kMaxHeld ? t.depth : ThreadState::kMaxHeld;
  for (int i = depth - 1; i >= 0; --i) {
    const HeldLock& h = t.held[i];
    if (h.address != address || h.kind != LockKind::kRwlock) continue;
    if (h.mode == LockMode::kWrite)
      return want == LockMode::kWrite ? Relock::kWriteWhileWriting : Relock::kReadWhileWriting;
    if (want == LockMode::kWrite) return Relock::kWriteWhileReading;
    return readers_wait_for_writers ? Relock::kRecursiveRead : Relock::kNone;
  }
  return Relock::kNone;
}

const char* relock_detail(Relock r) {
  switch (r) {
    case Relock::kNone: return "";
    case Relock::kWriteWhileWriting: return "rwlock-write-while-writing";
    case Relock::kReadWhileWriting: return "rwlock-read-while-writing";
    case Relock::kWriteWhileReading: return "rwlock-write-while-reading";
    case Relock::kRecursiveRead: return "rwlock-recursive-read";
  }
  return "";
}

bool relock_is_certain(Relock r) { return r != Relock::kNone && r != Relock::kRecursiveRead; }

}  // namespace gilwatch
