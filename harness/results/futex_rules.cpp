#include "futex_rules.h"

#include <algorithm>

#include "deadlock_check.h"
#include "describe.h"
#include "gilwatch/result_format.h"

namespace gilwatch::harness::futex_rules {

namespace rf = result_format;

namespace {

std::string word_phrase(const std::string& name) { return name.empty() ? rf::kUnnamedFutexWord : "(" + name + ")"; }

}  // namespace

const report::Lock* futex_word_of(const report::Finding& f, const report::Thread& t) {
  if (t.owner_known) return nullptr;
  if (t.waits_for) {
    const report::Lock* lock = report::find_lock(f, *t.waits_for);
    return lock && lock->kind == rf::kLockKindFutex ? lock : nullptr;
  }
  for (const report::Lock& lock : f.locks)
    if (lock.kind == rf::kLockKindFutex) return &lock;
  return nullptr;
}

std::string gil_held_futex_role(uint64_t word, const std::string& name, uint64_t blocked_ms) {
  std::string role = "held the GIL while blocked in futex wait on " + report::hex(word);
  if (!name.empty()) role += " (" + name + ")";
  return role + " for " + std::to_string(blocked_ms) + " ms";
}

std::string gil_held_futex_summary(const std::string& name) {
  return std::string("blocking call futex wait") + (name.empty() ? "" : " (" + name + ")") + " while holding the GIL";
}

std::string probable_futex_deadlock_summary(uint64_t tid, const std::string& name, std::size_t gil_waiters) {
  std::string object = name.empty() ? std::string(rf::kOwnerlessObject) : "a futex word (" + name + ") whose owner cannot be known";
  return "probable deadlock: thread " + std::to_string(tid) + " holds the GIL while blocked on " + object + ", and " +
         std::to_string(gil_waiters) + (gil_waiters == 1 ? " thread waits" : " threads wait") + " for the GIL";
}

std::string deadlock_futex_role(uint64_t word, const std::string& name, const report::Lock* gil, uint64_t blocked_ms,
                                const std::vector<const report::Lock*>& holds) {
  std::string role = "waits on futex word " + report::hex(word) + " " + word_phrase(name);
  if (gil) {
    role += " while holding the GIL";
    if (gil->address) role += " of interpreter " + report::hex(gil->address);
  }
  role += " (blocked " + std::to_string(blocked_ms) + " ms)";
  for (std::size_t i = 0; i < holds.size(); ++i)
    role += (i ? ", " : "; holds ") + holds[i]->kind + " " + report::hex(holds[i]->address);
  return role;
}

void name_futex_waits(report::Finding& f) {
  const bool gil_held_blocking = f.kind == rf::kGilHeldBlocking;
  for (std::size_t i = 0; i < f.threads.size(); ++i) {
    report::Thread& t = f.threads[i];
    const report::Lock* word = futex_word_of(f, t);
    if (!word) continue;
    std::string name = report::futex_lock_name(t.native_frames);
    if (name.empty()) continue;
    for (report::Lock& lock : f.locks)
      if (&lock == word && lock.name.empty()) lock.name = name;
    uint64_t blocked_ms = t.blocked_ms.value_or(0);
    if (gil_held_blocking) {
      t.role = gil_held_futex_role(word->address, name, blocked_ms);
      f.summary = gil_held_futex_summary(name);
      continue;
    }
    if (f.kind != rf::kDeadlock) continue;
    const report::Lock* gil = nullptr;
    std::vector<const report::Lock*> holds;
    for (int id : t.holds) {
      const report::Lock* held = report::find_lock(f, id);
      if (!held) continue;
      if (held->kind == rf::kLockKindGil) gil = held; else holds.push_back(held);
    }
    t.role = deadlock_futex_role(word->address, name, gil, blocked_ms, holds);
    // A probable deadlock's first thread holds the GIL and waits on the word.
    if (f.probable && i == 0 && gil) f.summary = probable_futex_deadlock_summary(t.tid, name, f.threads.size() - 1);
  }
}

bool futex_cycle_stands(report::Finding& f) {
  for (report::Lock& lock : f.locks) {
    if (lock.kind != rf::kLockKindFutex) continue;
    for (const report::Edge& e : f.edges) {
      if (e.to != lock.id || e.thread_index < 0 || std::size_t(e.thread_index) >= f.threads.size()) continue;
      const std::vector<report::NativeFrame>& frames = f.threads[std::size_t(e.thread_index)].native_frames;
      std::string name = report::futex_lock_name(frames);
      if (!name.empty()) {
        lock.name = name;
        // Where it was taken is the program's call, not std's futex_wait.
        std::size_t program = report::first_program_frame(frames);
        if (program < frames.size())
          lock.first_site.assign(frames.begin() + long(program), frames.begin() + long(std::min(program + 4, frames.size())));
        break;
      }
    }
    if (lock.name.empty() || !report::futex_name_is_lock(lock.name)) return false;
  }
  return true;
}

ShortWait judge_short_futex_wait(const std::string& lock_name, bool holders_need_gil) {
  // A Rust Mutex or RwLock (std's or parking_lot's) whose holders need the GIL: the
  // seed's GIL -> lock -> GIL order.
  bool rust_lock = !lock_name.empty() && report::futex_name_is_lock(lock_name);
  return short_futex_wait_is_finding(rust_lock, holders_need_gil) ? ShortWait::kReport : ShortWait::kLeaveOut;
}

}  // namespace gilwatch::harness::futex_rules
