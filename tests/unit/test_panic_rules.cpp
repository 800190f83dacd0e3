#include <catch2/catch.hpp>

#include "gilwatch/result_format.h"
#include "model.h"
#include "panic_rules.h"
#include "panic_verdict.h"

using gilwatch::classify_panic;
using gilwatch::is_thread_function_frame;
using gilwatch::is_catch_frame;
using gilwatch::native_panic_is_finding;
using gilwatch::PanicFacts;
using gilwatch::PanicReport;

TEST_CASE("a panic holding a tracked lock is an abandoned lock, with or without the GIL", "[panic_rules]") {
  CHECK(classify_panic({false, true, false, false}) == PanicReport::kAbandonedLock);
  CHECK(classify_panic({true, true, false, true}) == PanicReport::kAbandonedLock);
  CHECK(classify_panic({false, true, true, false}) == PanicReport::kAbandonedLock);
}

TEST_CASE("a panic holding only the GIL is gil-held", "[panic_rules]") {
  CHECK(classify_panic({true, false, false, true}) == PanicReport::kGilHeld);
  CHECK(classify_panic({true, false, true, true}) == PanicReport::kGilHeld);
}

TEST_CASE("a panic on a thread started outside the interpreter that never attached is native-thread",
          "[panic_rules]") {
  CHECK(classify_panic({false, false, true, false}) == PanicReport::kNativeThread);
}

TEST_CASE("a panic with the GIL released on a thread Python knows may reach Python", "[panic_rules]") {
  // A Python thread inside py.detach, and a native thread that has attached before.
  CHECK(classify_panic({false, false, false, false}) == PanicReport::kPendingException);
  CHECK(classify_panic({false, false, false, true}) == PanicReport::kPendingException);
  CHECK(classify_panic({false, false, true, true}) == PanicReport::kPendingException);
}

TEST_CASE("the frames that say where a native thread's panic was caught", "[panic_rules]") {
  CHECK(is_thread_function_frame("std::sys::backtrace::__rust_begin_short_backtrace"));
  CHECK(is_thread_function_frame("std::sys::backtrace::__rust_begin_short_backtrace::<F, T>"));
  CHECK_FALSE(is_thread_function_frame("std::thread::Builder::spawn_unchecked_::{{closure}}"));
  CHECK_FALSE(is_thread_function_frame(nullptr));
  CHECK(is_catch_frame("std::panicking::catch_unwind::cleanup"));
  CHECK(is_catch_frame("std::panicking::try::cleanup"));
  CHECK(is_catch_frame("__rustc::__rust_panic_cleanup"));
  CHECK_FALSE(is_catch_frame("std::sys::thread::unix::Thread::new::thread_start"));
  CHECK_FALSE(is_catch_frame("start_thread"));
  CHECK_FALSE(is_catch_frame("??"));
  CHECK_FALSE(is_catch_frame(nullptr));
}

TEST_CASE("a native thread's panic stands when it was caught outside the thread's function", "[panic_rules]") {
  SECTION("std's thread wrapper caught it: the panic ended the thread") {
    CHECK(native_panic_is_finding(true, false));
  }
  SECTION("a catch_unwind inside the worker handled it as a value") {
    CHECK_FALSE(native_panic_is_finding(true, true));
  }
  SECTION("a stack that could not be named is left out") {
    CHECK_FALSE(native_panic_is_finding(false, false));
    CHECK_FALSE(native_panic_is_finding(false, true));
  }
}

namespace {

gilwatch::report::Finding native_panic_with_catch(std::vector<std::string> catch_frames) {
  gilwatch::report::Finding f;
  f.kind = gilwatch::result_format::kRustPanic;
  f.detail = gilwatch::result_format::kDetailNativeThreadPanic;
  gilwatch::report::Thread raised;
  raised.role = "panicked on a thread started outside the interpreter that never attached to it";
  raised.native_frames.push_back({});
  raised.native_frames.back().function = "rs_poison::native_thread::write_half_then_fail";
  f.threads.push_back(raised);
  gilwatch::report::Thread caught;
  caught.role = gilwatch::result_format::kRoleNativePanicCaught;
  for (const std::string& name : catch_frames) {
    caught.native_frames.push_back({});
    caught.native_frames.back().function = name;
  }
  f.threads.push_back(caught);
  return f;
}

}  // namespace

TEST_CASE("gilwatch keeps a native thread's panic by where it was caught", "[panic_rules]") {
  using gilwatch::harness::native_thread_panic_stands;
  SECTION("std's thread wrapper") {
    CHECK(native_thread_panic_stands(native_panic_with_catch(
        {"alloc::alloc::dealloc", "panic_unwind::imp::cleanup", "__rustc::__rust_panic_cleanup",
         "std::panicking::catch_unwind::cleanup", "core::ops::function::FnOnce::call_once{{vtable.shim}}",
         "std::sys::thread::unix::Thread::new::thread_start", "start_thread"})));
  }
  SECTION("a catch_unwind in the worker") {
    CHECK_FALSE(native_thread_panic_stands(native_panic_with_catch(
        {"alloc::alloc::dealloc", "__rustc::__rust_panic_cleanup", "std::panicking::catch_unwind::cleanup",
         "rs_poison::native_thread::update_registry_natively", "std::sys::backtrace::__rust_begin_short_backtrace", "std::thread::lifecycle::spawn_unchecked::{{closure}}",
         "std::sys::thread::unix::Thread::new::thread_start", "start_thread"})));
  }
  SECTION("frames that could not be named") {
    CHECK_FALSE(native_thread_panic_stands(native_panic_with_catch({"??", "??", "start_thread"})));
  }
  SECTION("no catch entry") {
    gilwatch::report::Finding f = native_panic_with_catch({});
    f.threads.pop_back();
    CHECK_FALSE(native_thread_panic_stands(f));
  }
}
