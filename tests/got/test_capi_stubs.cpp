// The C API trampolines (instrumentation/preload/hooks/capi_stubs.S) on their own: each stub
// must hand every argument — integer registers, stack arguments, varargs with their
// vector-register count, doubles — to the real function untouched, return its result
// untouched, call the check with its index and the caller's return address, and be
// unwindable from inside the check.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <unwind.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

// As many stubs as the hook list has C API functions (hooks.def, GW_CAPI).
constexpr int kStubCount = 0
#define GW_CAPI(name) +1
#include "hooks.def"
    ;
static_assert(kStubCount > 100, "the stubs tested below");

extern "C" {
void* gilwatch_capi_originals[kStubCount];
extern void* gilwatch_capi_stub_table[kStubCount];

uint32_t g_checked_index = ~0u;
uintptr_t g_checked_caller = 0;
int g_checks = 0;
bool g_unwound_to_test = false;
uintptr_t g_test_begin = 0, g_test_end = 0;

_Unwind_Reason_Code visit_frame(struct _Unwind_Context* context, void*) {
  uintptr_t pc = _Unwind_GetIP(context);
  if (pc >= g_test_begin && pc < g_test_end) g_unwound_to_test = true;
  return _URC_NO_REASON;
}

// The check the stubs call. It clobbers what a C function may: the argument
// registers it receives are the stub's own saved copies.
__attribute__((noinline)) void gilwatch_capi_check(uint32_t index, uintptr_t caller) {
  g_checked_index = index;
  g_checked_caller = caller;
  ++g_checks;
  _Unwind_Backtrace(visit_frame, nullptr);
  volatile double scratch = 3.5 * index;  // uses vector registers
  (void)scratch;
}

__attribute__((noinline)) long eight_integers(long a, long b, long c, long d, long e, long f, long g, long h) {
  return a + 10 * b + 100 * c + 1000 * d + 10000 * e + 100000 * f + 1000000 * g + 10000000 * h;
}

__attribute__((noinline)) double mixed(double x, long n, double y, float z) { return x * n + y - z; }

__attribute__((noinline)) int formatted(char* out, std::size_t size, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(out, size, format, args);
  va_end(args);
  return n;
}
}

namespace {

template <class Fn>
Fn stub(int index, Fn original) {
  gilwatch_capi_originals[index] = reinterpret_cast<void*>(original);
  return reinterpret_cast<Fn>(gilwatch_capi_stub_table[index]);
}

__attribute__((noinline)) void call_all_and_check() {
  auto s_eight = stub(3, &eight_integers);
  CHECK(s_eight(1, 2, 3, 4, 5, 6, 7, 8) == 87654321);
  CHECK(g_checked_index == 3);

  auto s_mixed = stub(100, &mixed);
  CHECK(s_mixed(1.5, 4, 0.25, 0.125f) == 1.5 * 4 + 0.25 - 0.125);
  CHECK(g_checked_index == 100);

  auto s_formatted = stub(kStubCount - 1, &formatted);
  char buffer[128];
  int n = s_formatted(buffer, sizeof(buffer), "%d %s %.3f %ld %.1f", 42, "x", 2.5, 7L, -1.0);
  CHECK(std::string(buffer) == "42 x 2.500 7 -1.0");
  CHECK(n == int(std::strlen(buffer)));
  CHECK(g_checked_index == uint32_t(kStubCount - 1));
}

}  // namespace

TEST_CASE("capi stubs pass every argument and result through and call the check") {
  g_test_begin = reinterpret_cast<uintptr_t>(&call_all_and_check);
  g_test_end = g_test_begin + 4096;  // generous: the function's code follows its entry
  g_checks = 0;
  g_unwound_to_test = false;
  call_all_and_check();
  CHECK(g_checks == 3);
  // The caller seen by the check is a return address inside the calling function.
  CHECK(g_checked_caller >= g_test_begin);
  CHECK(g_checked_caller < g_test_end);
  CHECK(g_unwound_to_test);
}
