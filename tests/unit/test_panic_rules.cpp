#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "gilwatch/result_format.h"
#include "model.h"
#include "panic_rules.h"
#include "panic_verdict.h"

using gilwatch::classify_panic;
using gilwatch::is_thread_function_frame;
using gilwatch::is_catch_frame;
using gilwatch::is_thread_main_frame;
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
  CHECK(is_thread_main_frame("core::ops::function::FnOnce::call_once{{vtable.shim}}"));
  CHECK(is_thread_main_frame("call_once<std::thread::lifecycle::spawn_unchecked::{closure_env#1}<F, T>>"));
  CHECK(is_thread_main_frame("std::thread::Builder::spawn_unchecked_::{{closure}}"));
  CHECK_FALSE(is_thread_main_frame("rs_poison::native_thread::update_registry_natively"));
  CHECK_FALSE(is_thread_main_frame(nullptr));
}

TEST_CASE("a native thread's panic stands when it was caught outside the thread's function", "[panic_rules]") {
  SECTION("std's thread wrapper caught it: the panic ended the thread") {
    CHECK(native_panic_is_finding(true, false, true));
  }
  SECTION("a catch_unwind inside the worker handled it as a value") {
    CHECK_FALSE(native_panic_is_finding(true, true, false));
    CHECK_FALSE(native_panic_is_finding(true, true, true));
  }
  SECTION("a start routine of the program's own caught it") {
    CHECK_FALSE(native_panic_is_finding(true, false, false));
  }
  SECTION("a stack that could not be named is left out") {
    CHECK_FALSE(native_panic_is_finding(false, false, true));
    CHECK_FALSE(native_panic_is_finding(false, true, false));
  }
}

namespace {

gilwatch::report::Finding native_panic_with_catch(std::vector<std::pair<uint64_t, std::string>> catch_frames) {
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
  for (const auto& [pc, name] : catch_frames) {
    caught.native_frames.push_back({});
    caught.native_frames.back().pc = pc;
    caught.native_frames.back().function = name;
  }
  f.threads.push_back(caught);
  return f;
}

}  // namespace

TEST_CASE("gilwatch keeps a native thread's panic by where it was caught", "[panic_rules]") {
  using gilwatch::harness::native_thread_panic_stands;
  SECTION("std's thread wrapper (rustc 1.95, with debug information)") {
    CHECK(native_thread_panic_stands(native_panic_with_catch(
        {{1, "alloc::alloc::dealloc"}, {1, "panic_unwind::imp::cleanup"}, {1, "__rustc::__rust_panic_cleanup"},
         {2, "std::panicking::catch_unwind::cleanup"}, {3, "core::ops::function::FnOnce::call_once{{vtable.shim}}"},
         {3, "catch_unwind<T, AssertUnwindSafe<std::thread::lifecycle::spawn_unchecked::{closure#1}::{closure_env#0}>>"},
         {4, "<alloc::boxed::Box<dyn FnOnce()> as FnOnce<()>>::call_once"},
         {4, "<std::sys::thread::unix::Thread>::new::thread_start"}, {5, "start_thread"}})));
  }
  SECTION("a finding kept says std's thread wrapper caught it") {
    gilwatch::report::Finding f = native_panic_with_catch({{1, "std::panicking::catch_unwind::cleanup"}});
    gilwatch::harness::word_native_thread_panic(f);
    CHECK(f.threads[1].role == gilwatch::harness::kRoleNativePanicCaughtByWrapper);
    CHECK(f.threads[0].role.rfind("panicked on a thread", 0) == 0);
  }
  SECTION("std's thread wrapper, symbols only") {
    CHECK(native_thread_panic_stands(native_panic_with_catch(
        {{1, "__rustc::__rust_panic_cleanup"}, {2, "std::panicking::catch_unwind::cleanup"},
         {3, "core::ops::function::FnOnce::call_once{{vtable.shim}}"},
         {4, "<alloc::boxed::Box<dyn FnOnce()> as FnOnce<()>>::call_once"}, {5, "start_thread"}})));
  }
  SECTION("a catch_unwind in the worker") {
    CHECK_FALSE(native_thread_panic_stands(native_panic_with_catch(
        {{1, "__rustc::__rust_panic_cleanup"}, {2, "std::panicking::catch_unwind::cleanup"},
         {3, "rs_poison::native_thread::update_registry_natively"}, {3, "catch_unwind<(), F>"},
         {4, "std::sys::backtrace::__rust_begin_short_backtrace"},
         {5, "core::ops::function::FnOnce::call_once{{vtable.shim}}"}, {6, "start_thread"}})));
  }
  SECTION("a catch_unwind in a start routine of the program's own") {
    CHECK_FALSE(native_thread_panic_stands(native_panic_with_catch(
        {{1, "__rustc::__rust_panic_cleanup"}, {2, "std::panicking::catch_unwind::cleanup"},
         {3, "mylib::worker_main"}, {4, "start_thread"}})));
  }
  SECTION("frames that could not be named") {
    CHECK_FALSE(native_thread_panic_stands(native_panic_with_catch({{1, "??"}, {2, "??"}, {3, "start_thread"}})));
  }
  SECTION("no catch entry") {
    gilwatch::report::Finding f = native_panic_with_catch({});
    f.threads.pop_back();
    CHECK_FALSE(native_thread_panic_stands(f));
  }
}
