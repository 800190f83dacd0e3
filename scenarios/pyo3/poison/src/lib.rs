//! The panic of rwlock-poisoning-initiative.md, as a PyO3 extension: a plugin registry
//! behind a `std::sync::RwLock`, whose registration validates the plugin while holding
//! the write guard.
//!
//! Buggy (`variant = "buggy"`): validation `expect`s, so a plugin without `run` panics
//! while the write guard is held (and the GIL: the call came from Python). The panic
//! crosses into Python as `pyo3_runtime.PanicException`; the lock is poisoned, and every
//! later call panics again on the `PoisonError` it `unwrap`s.
//! Fixed (`variant = "fixed"`): validation happens before the lock is taken and fails
//! with a `ValueError`; nothing panics, nothing is poisoned.
//!
//! Python API: register(variant, name, plugin); registered(variant) -> count;
//! panic_detached() -> panics inside `py.detach`, with no lock and no GIL held;
//! panic_holding_native_lock() -> panics inside `py.detach` while holding a pthread
//! mutex (as Rust code wrapping a C library does), which its guard releases on unwind;
//! native_worker(variant, readers, hold_ms) -> (outcome, lengths, poisoned): the same
//! poisoning on a native thread Python never saw (native_thread.rs).
mod native_thread;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

struct Plugin {
    run: Py<PyAny>,
}

static PLUGINS: LazyLock<RwLock<HashMap<String, Plugin>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

#[inline(never)]
fn validate_under_write_guard(py: Python<'_>, name: String, plugin: Py<PyAny>) {
    let mut plugins = PLUGINS.write().unwrap();
    // The bug: a plugin without `run` panics here, guard held.
    let run = plugin.getattr(py, "run").expect("plugin has no run()");
    plugins.insert(name, Plugin { run });
}

#[inline(never)]
fn validate_then_insert(py: Python<'_>, name: String, plugin: Py<PyAny>) -> PyResult<()> {
    let run = plugin
        .getattr(py, "run")
        .map_err(|_| PyValueError::new_err(format!("plugin {name:?} has no run()")))?;
    let mut plugins = PLUGINS.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    plugins.insert(name, Plugin { run });
    Ok(())
}

#[pyfunction]
fn register(py: Python<'_>, variant: &str, name: String, plugin: Py<PyAny>) -> PyResult<()> {
    match variant {
        "buggy" => {
            validate_under_write_guard(py, name, plugin);
            Ok(())
        }
        "fixed" => validate_then_insert(py, name, plugin),
        other => Err(PyValueError::new_err(format!("variant must be 'buggy' or 'fixed', not {other:?}"))),
    }
}

#[pyfunction]
fn registered(variant: &str) -> PyResult<usize> {
    match variant {
        // Panics on a poisoned lock, as the seed's callers did.
        "buggy" => Ok(PLUGINS.read().unwrap().len()),
        "fixed" => Ok(PLUGINS.read().unwrap_or_else(|poisoned| poisoned.into_inner()).len()),
        other => Err(PyValueError::new_err(format!("variant must be 'buggy' or 'fixed', not {other:?}"))),
    }
}

#[pyfunction]
fn run_all(py: Python<'_>) -> PyResult<usize> {
    let runs: Vec<Py<PyAny>> = PLUGINS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .values()
        .map(|plugin| plugin.run.clone_ref(py))
        .collect();
    for run in &runs {
        run.call0(py)?;
    }
    Ok(runs.len())
}

// A C library's lock, taken from Rust through a guard (glibc's PTHREAD_MUTEX_INITIALIZER is
// all zero bytes; 40 is sizeof(pthread_mutex_t) on x86_64).
#[repr(C, align(8))]
struct PthreadMutex([u8; 40]);
static mut NATIVE_LOCK: PthreadMutex = PthreadMutex([0; 40]);

extern "C" {
    fn pthread_mutex_lock(mutex: *mut PthreadMutex) -> i32;
    fn pthread_mutex_unlock(mutex: *mut PthreadMutex) -> i32;
}

struct NativeLockGuard;

impl NativeLockGuard {
    fn lock() -> Self {
        unsafe { pthread_mutex_lock(std::ptr::addr_of_mut!(NATIVE_LOCK)) };
        NativeLockGuard
    }
}

impl Drop for NativeLockGuard {
    fn drop(&mut self) {
        unsafe { pthread_mutex_unlock(std::ptr::addr_of_mut!(NATIVE_LOCK)) };
    }
}

#[inline(never)]
fn update_native_state_and_fail() -> u32 {
    let _guard = NativeLockGuard::lock();
    fail_detached(1)
}

#[pyfunction]
fn panic_holding_native_lock(py: Python<'_>) -> u32 {
    py.detach(update_native_state_and_fail)
}

#[inline(never)]
fn fail_detached(items: u32) -> u32 {
    if std::hint::black_box(items) > 0 {
        panic!("detached work failed after {items} items");
    }
    items
}

#[pyfunction]
fn panic_detached(py: Python<'_>) -> u32 {
    py.detach(|| fail_detached(3))
}

#[pyfunction]
fn native_worker(py: Python<'_>, variant: &str, readers: usize, hold_ms: u64) -> PyResult<(String, Vec<usize>, bool)> {
    if !matches!(variant, "buggy" | "error" | "catch") {
        return Err(PyValueError::new_err(format!("variant must be 'buggy', 'error' or 'catch', not {variant:?}")));
    }
    Ok(py.detach(|| native_thread::run(variant, readers, hold_ms)))
}

#[pymodule]
fn rs_poison(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(register, m)?)?;
    m.add_function(wrap_pyfunction!(registered, m)?)?;
    m.add_function(wrap_pyfunction!(run_all, m)?)?;
    m.add_function(wrap_pyfunction!(panic_detached, m)?)?;
    m.add_function(wrap_pyfunction!(panic_holding_native_lock, m)?)?;
    m.add_function(wrap_pyfunction!(native_worker, m)?)?;
    Ok(())
}
