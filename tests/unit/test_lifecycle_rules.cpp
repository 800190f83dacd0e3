#include <catch2/catch.hpp>

#include "lifecycle_rules.h"

using gilwatch::capi_check_on;
using gilwatch::CodeRanges;
using gilwatch::collect_inherited_locks;
using gilwatch::HeldLock;
using gilwatch::InheritedLock;
using gilwatch::interpreter_finalized;
using gilwatch::is_capi_without_gil;
using gilwatch::is_ended_in_gil_request;
using gilwatch::is_finalization_attach;
using gilwatch::is_finalization_risk;
using gilwatch::is_interpreter_lock;
using gilwatch::LockKind;
using gilwatch::PythonThreading;
using gilwatch::started_outside_interpreter;
using gilwatch::thread_end_abandons_lock;
using gilwatch::ThreadState;
using gilwatch::waited_through_finalization;
using gilwatch::waits_for_inherited_lock;

namespace {

// The interpreter's code: [0x1000, 0x2000).
const uintptr_t kInterpreterText[1][2] = {{0x1000, 0x2000}};
const CodeRanges kInterpreter{kInterpreterText, 1};
constexpr uintptr_t kProgramPc = 0x9000;
constexpr uintptr_t kInterpreterPc = 0x1800;

ThreadState& fresh() {
  static ThreadState s;
  s.depth = 0;  // push() sets every field the rules read
  return s;
}

void push(ThreadState& s, uintptr_t address, LockKind kind, uintptr_t pc) {
  HeldLock& h = s.held[s.depth++];
  h.address = address;
  h.kind = kind;
  h.acquire_pc = pc;
}

}  // namespace

TEST_CASE("lifecycle: the GIL and locks taken in the interpreter's code are the interpreter's") {
  HeldLock gil{};
  gil.kind = LockKind::kGil;
  gil.acquire_pc = kProgramPc;
  HeldLock inside{};
  inside.kind = LockKind::kMutex;
  inside.acquire_pc = kInterpreterPc;
  HeldLock program{};
  program.kind = LockKind::kMutex;
  program.acquire_pc = kProgramPc;
  CHECK(is_interpreter_lock(gil, kInterpreter));
  CHECK(is_interpreter_lock(inside, kInterpreter));
  CHECK_FALSE(is_interpreter_lock(program, kInterpreter));
  CHECK_FALSE(is_interpreter_lock(inside, CodeRanges{}));  // interpreter not known yet
}

TEST_CASE("abandoned-lock: a thread ending with a program's mutex held abandons it") {
  auto& s = fresh();
  push(s, 0xa0, LockKind::kGil, kProgramPc);
  push(s, 0xb0, LockKind::kMutex, kProgramPc);
  CHECK(thread_end_abandons_lock(s, kInterpreter));
}

TEST_CASE("abandoned-lock: a thread ending with only the GIL and the interpreter's locks abandons nothing") {
  auto& s = fresh();
  CHECK_FALSE(thread_end_abandons_lock(s, kInterpreter));
  push(s, 0xa0, LockKind::kGil, kProgramPc);
  push(s, 0xb0, LockKind::kMutex, kInterpreterPc);
  CHECK_FALSE(thread_end_abandons_lock(s, kInterpreter));
}

TEST_CASE("fork-with-lock-held: the other threads' program locks are inherited locked, the child waiting for one is a finding") {
  auto& s = fresh();
  push(s, 0xb0, LockKind::kMutex, kProgramPc);
  push(s, 0xa0, LockKind::kGil, kProgramPc);
  push(s, 0xc0, LockKind::kMutex, kInterpreterPc);
  push(s, 0, LockKind::kMutex, kProgramPc);  // no address: nothing to wait for
  push(s, 0xd0, LockKind::kRwlock, kProgramPc + 8);
  InheritedLock inherited[8];
  int count = 0;
  collect_inherited_locks(s, 42, kInterpreter, inherited, &count, 8);
  REQUIRE(count == 2);
  CHECK(inherited[0].address == 0xb0);
  CHECK(inherited[0].holder_tid == 42);
  CHECK(inherited[1].address == 0xd0);
  CHECK(inherited[1].kind == LockKind::kRwlock);
  CHECK(inherited[1].acquire_pc == kProgramPc + 8);

  const InheritedLock* hit = waits_for_inherited_lock(inherited, count, 0xd0);
  REQUIRE(hit != nullptr);
  CHECK(hit->address == 0xd0);
}

TEST_CASE("fork-with-lock-held: a lock nobody held at the fork, the GIL and the interpreter's are no finding") {
  auto& s = fresh();
  push(s, 0xa0, LockKind::kGil, kProgramPc);
  push(s, 0xc0, LockKind::kMutex, kInterpreterPc);
  InheritedLock inherited[8];
  int count = 0;
  collect_inherited_locks(s, 42, kInterpreter, inherited, &count, 8);
  CHECK(count == 0);
  CHECK(waits_for_inherited_lock(inherited, count, 0xa0) == nullptr);
  CHECK(waits_for_inherited_lock(inherited, count, 0xc0) == nullptr);
}

TEST_CASE("fork-with-lock-held: the list stops at its capacity") {
  auto& s = fresh();
  for (int i = 0; i < 5; ++i) push(s, 0x100 + uintptr_t(i), LockKind::kMutex, kProgramPc);
  InheritedLock inherited[3];
  int count = 1;  // one already there, from another thread
  collect_inherited_locks(s, 7, kInterpreter, inherited, &count, 3);
  CHECK(count == 3);
  CHECK(inherited[2].address == 0x101);
}

TEST_CASE("finalization-attach: asking for the GIL once finalization has begun is a finding") {
  CHECK(is_finalization_attach(true, false, false));
}

TEST_CASE("finalization-attach: not before finalization, not by the finalizing thread, not twice") {
  CHECK_FALSE(is_finalization_attach(false, false, false));
  CHECK_FALSE(is_finalization_attach(true, true, false));  // the thread that finalizes
  CHECK_FALSE(is_finalization_attach(true, false, true));
}

TEST_CASE("finalization-attach: a thread ended inside its GIL request during finalization is a finding") {
  CHECK(is_ended_in_gil_request(true, true, false));
  CHECK_FALSE(is_ended_in_gil_request(false, true, false));  // not in a request
  CHECK_FALSE(is_ended_in_gil_request(true, false, false));  // before finalization
  CHECK_FALSE(is_ended_in_gil_request(true, true, true));    // already reported
}

TEST_CASE("finalization-attach: at exit, threads still asking for the GIL after finalization are findings") {
  CHECK(interpreter_finalized(true, true, false, false));
  CHECK(interpreter_finalized(true, false, true, false));  // Py_IsInitialized() says no
  CHECK(waited_through_finalization(true, false));
}

TEST_CASE("finalization-attach: at exit, nothing before finalization, without Python, or already reported") {
  CHECK_FALSE(interpreter_finalized(false, true, true, false));
  CHECK_FALSE(interpreter_finalized(true, false, true, true));
  CHECK_FALSE(interpreter_finalized(true, false, false, false));  // cannot tell: not finalized
  CHECK_FALSE(waited_through_finalization(false, false));
  CHECK_FALSE(waited_through_finalization(true, true));
}

TEST_CASE("finalization-attach risk: a thread started outside the interpreter counts, Python's own threads do not") {
  CHECK(started_outside_interpreter(kProgramPc, kInterpreter));
  CHECK_FALSE(started_outside_interpreter(kInterpreterPc, kInterpreter));  // threading/_thread
  CHECK_FALSE(started_outside_interpreter(0, kInterpreter));               // not seen starting
}

TEST_CASE("finalization-attach risk: a native thread attaching again and again, running when finalization begins, is a finding") {
  CHECK(is_finalization_risk(true, 2, true, false, false));
  CHECK(gilwatch::is_finalization_risk_proved(true, false));  // it attached during finalization
  CHECK_FALSE(gilwatch::is_finalization_risk_proved(false, false));
  CHECK_FALSE(gilwatch::is_finalization_risk_proved(true, true));
}

TEST_CASE("finalization-attach risk: not for a one-shot thread that attached once and is on its way out") {
  CHECK_FALSE(is_finalization_risk(true, 1, true, false, false));
}

TEST_CASE("finalization-attach risk: not for a thread that never attached, ended before, is Python's, or twice") {
  CHECK_FALSE(is_finalization_risk(true, 0, true, false, false));  // never attached: cannot attach through the C API
  CHECK_FALSE(is_finalization_risk(true, 2, false, false, false));  // ended before finalization
  CHECK_FALSE(is_finalization_risk(false, 2, true, false, false));  // started by threading/_thread
  CHECK_FALSE(is_finalization_risk(true, 2, true, false, true));
}

TEST_CASE("finalization-attach risk: not for a worker parked waiting for work at exit; a sleeping one is") {
  using gilwatch::parked_waiting_for_work;
  using gilwatch::WaitKind;
  CHECK_FALSE(is_finalization_risk(true, 2, true, true, false));  // an idle pool thread
  CHECK(parked_waiting_for_work(WaitKind::kCondition));
  CHECK(parked_waiting_for_work(WaitKind::kFutex));
  CHECK_FALSE(parked_waiting_for_work(WaitKind::kNone));  // running, or in a sleep
  CHECK_FALSE(parked_waiting_for_work(WaitKind::kGil));   // about to attach
  CHECK_FALSE(parked_waiting_for_work(WaitKind::kMutex));
  CHECK_FALSE(parked_waiting_for_work(WaitKind::kJoin));
}

TEST_CASE("capi-without-gil: a C API call without the GIL into an initialized interpreter is a finding") {
  CHECK(capi_check_on(true, PythonThreading::kGil));
  CHECK(is_capi_without_gil(false, true));
}

TEST_CASE("capi-without-gil: none with the GIL held, before initialization, with the option off or on a free-threaded build") {
  CHECK_FALSE(is_capi_without_gil(true, true));
  CHECK_FALSE(is_capi_without_gil(false, false));
  CHECK_FALSE(capi_check_on(false, PythonThreading::kGil));
  CHECK_FALSE(capi_check_on(true, PythonThreading::kFreeThreaded));
}
