// native_panics: a Rust panic on a thread Python never saw (rust-panic, detail
// "native-thread"; engine/panic_rules.h says which panics these are). The panic hook
// begins the record at the raise; free() of the exception object is where it was
// caught (Rust's panic runtime frees it in catch_unwind's cleanup, std's thread wrapper
// included); a futex wake while it unwinds is a guard's drop releasing a Rust lock; the
// thread's end writes the finding, whose catch stack `gilwatch` judges
// (panic_rules::native_panic_is_finding) once it can name the frames.
#pragma once

#include <cstdint>

#include "runtime.h"

namespace gilwatch::preload {

// The raise: the thread's stack now; `exception` is the object being raised.
void native_panic_raised(PreloadThread* t, void* exception);

// From free(p): true when `p` is the calling thread's unwinding panic (then caught).
inline bool is_unwinding_native_panic(const PreloadThread* t, const void* p) {
  return __builtin_expect(t->native_panic.exception != nullptr, 0) && t->native_panic.exception == p;
}
void native_panic_caught(PreloadThread* t);

// A futex wake of `word` by the thread while its native panic unwinds.
inline bool native_panic_unwinding(const PreloadThread* t) { return t->native_panic.exception != nullptr; }
void native_panic_released_word(PreloadThread* t, uintptr_t word);

// The thread ends (inside enter_hook): the finding, if its panic was caught.
void check_native_panic_at_end(PreloadThread* t);

}  // namespace gilwatch::preload
