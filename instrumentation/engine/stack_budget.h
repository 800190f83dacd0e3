// stack_budget: how much of the stack in use is left below a point, for the hooks'
// heavy paths (a new lock-order edge, writing results). A hook runs on whatever stack
// its caller is on: a thread's own, a signal handler's sigaltstack, a coroutine's. The
// hot path fits a small fixed budget everywhere; the heavy paths run only where the
// stack is known and has room (docs/design.md, "Stack budget").
#pragma once

#include <cstddef>
#include <cstdint>

namespace gilwatch {

// [low, high): a stack's usable bytes (its guard page excluded). Empty: not known.
struct StackRange {
  uintptr_t low = 0;
  uintptr_t high = 0;
  bool known() const { return low < high; }
  bool contains(uintptr_t sp) const { return known() && sp >= low && sp < high; }
};

// Whether `need` bytes are left below `sp` on the first of `candidates` that holds sp.
// A stack holding none of them (a coroutine's, or a thread whose stack was never
// recorded) is not known: no room, since nothing says how much is left.
inline bool stack_room_at_least(uintptr_t sp, std::size_t need, const StackRange* candidates, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (candidates[i].contains(sp)) return sp - candidates[i].low >= need;
  return false;
}

}  // namespace gilwatch
