// futex_rules: what `gilwatch` concludes about a futex word from the library's fields
// (a thread's "owner_known": false and the lock it waits for, a gil-held-blocking
// finding's "futex_wait") and the waiter's symbolized frames (report::futex_lock_name),
// and the sentences it then writes, composed once from those facts
// (docs/futex-locks.md). Pure: no I/O, unit-tested (tests/unit/test_futex_rules.cpp).
// It does not symbolize, merge or deduplicate findings (merge.cpp does).
#pragma once

#include <cstdint>
#include <string>

#include "model.h"

namespace gilwatch::harness::futex_rules {

// The futex word a thread waits on, by its fields: the lock it waits for when that is a
// futex word, else (a gil-held-blocking wait) the finding's futex lock. Null when the
// thread waits on no futex word.
const report::Lock* futex_word_of(const report::Finding& f, const report::Thread& t);

// Names every futex word a thread of `f` waits on from that thread's frames, and writes
// the sentences that speak of those words (roles, the summary) from the facts. Leaves
// sentences about words it cannot name as the library wrote them.
void name_futex_waits(report::Finding& f);

// A lock-order cycle through futex words stands only when each word is a Rust Mutex or
// RwLock by the stack of a thread that waited for it (the edge into it): a condition, a
// channel or a parked thread is released by others than its "holder". Names the words
// and where they were taken. False when the cycle is to be dropped.
bool futex_cycle_stands(report::Finding& f);

// The verdict on a gil-held-blocking wait on a futex word shorter than gil_blocking_ms
// (the engine's short_futex_wait_is_finding). `lock_name`: what the waiter's frames call
// the word (report::futex_lock_name); `holders_need_gil`: the library's field.
enum class ShortWait { kReport, kLeaveOut };
ShortWait judge_short_futex_wait(const std::string& lock_name, bool holders_need_gil);

// The sentences, from the facts. `name` empty: the word could not be named.
std::string gil_held_futex_role(uint64_t word, const std::string& name, uint64_t blocked_ms);
std::string gil_held_futex_summary(const std::string& name);
std::string probable_futex_deadlock_summary(uint64_t tid, const std::string& name, std::size_t gil_waiters);
// A deadlock member waiting on a futex word: `holds` are the other locks it holds (not
// the GIL), in the finding's order; `gil` the GIL it holds, if any.
std::string deadlock_futex_role(uint64_t word, const std::string& name, const report::Lock* gil, uint64_t blocked_ms,
                                const std::vector<const report::Lock*>& holds);

}  // namespace gilwatch::harness::futex_rules
