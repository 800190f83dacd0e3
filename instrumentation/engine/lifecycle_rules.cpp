#include "lifecycle_rules.h"

namespace gilwatch {

namespace {

int held_depth(const ThreadState& s) { return s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld; }

}  // namespace

bool is_interpreter_lock(const HeldLock& h, const CodeRanges& interpreter) {
  return h.kind == LockKind::kGil || interpreter.contains(h.acquire_pc);
}

bool thread_end_abandons_lock(const ThreadState& s, const CodeRanges& interpreter) {
  int depth = held_depth(s);
  for (int i = 0; i < depth; ++i)
    if (!is_interpreter_lock(s.held[i], interpreter)) return true;
  return false;
}

void collect_inherited_locks(const ThreadState& s, uint32_t holder_tid, const CodeRanges& interpreter,
                             InheritedLock* out, int* count, int capacity) {
  int depth = held_depth(s);
  for (int i = 0; i < depth && *count < capacity; ++i) {
    const HeldLock& h = s.held[i];
    if (!h.address || is_interpreter_lock(h, interpreter)) continue;
    out[(*count)++] = InheritedLock{h.address, h.kind, holder_tid, h.acquire_pc};
  }
}

const InheritedLock* waits_for_inherited_lock(const InheritedLock* inherited, int count, uintptr_t lock) {
  const InheritedLock* found = nullptr;
  for (int i = 0; i < count; ++i)
    if (inherited[i].address == lock) found = &inherited[i];
  return found;
}

bool is_finalization_attach(bool finalizing, bool requester_finalizes, bool already_reported) {
  return finalizing && !requester_finalizes && !already_reported;
}

bool is_ended_in_gil_request(bool in_gil_request, bool finalizing, bool already_reported) {
  return in_gil_request && finalizing && !already_reported;
}

bool interpreter_finalized(bool python_loaded, bool finalizing, bool can_ask_initialized, bool initialized) {
  return python_loaded && (finalizing || (can_ask_initialized && !initialized));
}

bool waited_through_finalization(bool in_gil_request, bool already_reported) {
  return in_gil_request && !already_reported;
}

bool started_outside_interpreter(uintptr_t create_pc, const CodeRanges& interpreter) {
  return create_pc != 0 && !interpreter.contains(create_pc);
}

bool is_finalization_risk(bool started_outside, uint32_t attaches, bool running_when_finalizing, bool parked,
                          bool already_reported) {
  return started_outside && attaches >= kRecurringAttaches && running_when_finalizing && !parked && !already_reported;
}

bool is_finalization_risk_proved(bool started_outside, bool already_reported) {
  return started_outside && !already_reported;
}

bool parked_waiting_for_work(WaitKind wait) { return wait == WaitKind::kCondition || wait == WaitKind::kFutex; }

bool capi_check_on(bool capi_checks_option, PythonThreading threading) {
  return capi_checks_option && check_applies(Check::kCapiWithoutGil, threading);
}

bool is_capi_without_gil(bool holds_gil, bool interpreter_initialized) { return !holds_gil && interpreter_initialized; }

}  // namespace gilwatch
