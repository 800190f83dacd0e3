// Unit tests of the words for findings (reports/describe): runtime frames, futex
// words, locks and cycles.
#include "report_side_fixtures.h"

TEST_CASE("runtime frames: Rust's std, core and crates, not the program's", "[describe]") {
  CHECK(report::is_runtime_frame(rust_frame("park", "/rustc/abc/library/std/src/thread/mod.rs")));
  CHECK(report::is_runtime_frame(rust_frame("lock_exclusive_slow<false>",
                                            "/root/.cargo/registry/src/x/parking_lot-0.13.0/src/raw_rwlock.rs")));
  CHECK(report::is_runtime_frame(rust_frame("std::sys::pal::unix::futex::futex_wait", "")));
  CHECK(report::is_runtime_frame(rust_frame("__rustc::rust_panic", "")));
  CHECK_FALSE(report::is_runtime_frame(rust_frame("rs_registry::register_holding_gil", "/src/registry/src/lib.rs")));
  CHECK_FALSE(report::is_runtime_frame(rust_frame("pthread_mutex_lock", "")));
  CHECK_FALSE(report::is_runtime_frame(rust_frame("registry_register", "/src/registry.c")));
}

TEST_CASE("a futex word is named by the lock implementation its waiter is in", "[describe]") {
  CHECK(report::futex_lock_name(V({"std::sys::pal::unix::futex::futex_wait",
                                  "<std::sys::sync::rwlock::futex::RwLock>::write_contended", "rs::register"})) ==
        "std::sync::RwLock, write");
  CHECK(report::futex_lock_name(V({"futex_wait", "<std::sys::sync::rwlock::futex::RwLock>::read_contended"})) ==
        "std::sync::RwLock, read");
  CHECK(report::futex_lock_name(V({"<std::sys::sync::mutex::futex::Mutex>::lock_contended"})) == "std::sync::Mutex");
  CHECK(report::futex_lock_name(V({"parking_lot::raw_rwlock::RawRwLock<_>::lock_exclusive_slow", "futex_wait"})) ==
        "parking_lot::RwLock, write");
  CHECK(report::futex_lock_name(V({"parking_lot::raw_rwlock::RawRwLock::lock_shared_slow"})) ==
        "parking_lot::RwLock, read");
  CHECK(report::futex_lock_name(V({"parking_lot::raw_mutex::RawMutex::lock_slow"})) == "parking_lot::Mutex");
  // A channel and a runtime park the thread: the more specific name wins.
  CHECK(report::futex_lock_name(V({"<std::sys::sync::thread_parking::futex::Parker>::park",
                                  "<std::thread::thread::Thread>::park", "std::sync::mpmc::list::Channel<T>::recv"})) ==
        "std::sync::mpsc channel");
  CHECK(report::futex_lock_name(V({"<std::sys::sync::condvar::futex::Condvar>::wait", "tokio::runtime::park::Inner::park",
                                  "tokio::runtime::park::CachedParkThread::block_on"})) == "tokio Runtime::block_on");
  CHECK(report::futex_lock_name(V({"<std::sys::sync::condvar::futex::Condvar>::wait", "app::wait"})) ==
        "std::sync::Condvar");
  CHECK(report::futex_lock_name(V({"futex_mutex_lock", "registry_take_from_python"})) == "");
  SECTION("inlined frames are known by their file") {
    std::vector<report::NativeFrame> frames = {
        rust_frame("futex_wait", "/root/.cargo/registry/src/x/parking_lot_core-0.10.0/src/thread_parker/linux.rs"),
        rust_frame("lock_slow", "/root/.cargo/registry/src/x/parking_lot-0.13.0/src/raw_mutex.rs"),
        rust_frame("app::count", "/src/app/src/lib.rs")};
    CHECK(report::futex_lock_name(frames) == "parking_lot::Mutex");
    frames[1] = rust_frame("lock_contended", "/rustc/abc/library/std/src/sys/sync/mutex/futex.rs");
    CHECK(report::futex_lock_name(frames) == "std::sync::Mutex");
  }
  CHECK(report::futex_name_is_lock("std::sync::Mutex"));
  CHECK(report::futex_name_is_lock("parking_lot::RwLock, read"));
  CHECK(report::futex_name_is_lock(""));
  CHECK_FALSE(report::futex_name_is_lock("std::sync::mpsc channel"));
  CHECK_FALSE(report::futex_name_is_lock("tokio Runtime::block_on"));
}

TEST_CASE("lock and cycle wording", "[describe]") {
  report::Finding f = three_lock_cycle();
  f.locks[0].first_site = {{1, "/m.so", 1, "registry_store", "", 0}};
  CHECK(report::cycle_text(f) == "mutex 0x10 (first taken in registry_store) -> the GIL -> rwlock 0x20 -> mutex 0x10");
  CHECK(report::thread_role(f.locks[2], "read", f.locks[1], "write") == "took the GIL while holding rwlock 0x20 (read)");
  CHECK(report::kind_info("gil-held-blocking").title == "Blocking while holding the GIL");
  CHECK(report::kind_info("fd-leak").severity == "warning");
  CHECK(report::kind_info("from-the-future").title == "from-the-future");
}
