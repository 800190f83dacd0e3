//! `block_on` while attached (pyo3-interop-gil-deadlock-guide.md), as a PyO3 extension:
//! a Python call waits on native work that itself needs the GIL. Three ways to wait, as
//! the guide's users wrote them: a tokio runtime's `block_on` over `spawn_blocking`, a
//! channel `recv`, a `JoinHandle::join`.
//!
//! Buggy (`variant = "buggy"`): the wait happens while attached — the worker's
//! `Python::attach` waits for the GIL forever (tokio and the channel wait on futex words:
//! a probable deadlock; `join` is a pthread join: a certain one).
//! Fixed (`variant = "fixed"`): `py.detach` around the wait, as the guide prescribes.
//!
//! Python API: run_activity(variant, mechanism, callback) -> callback's result, where
//! mechanism is "block_on", "channel" or "join".
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::{mpsc, LazyLock};
use std::thread;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("activity-runtime")
        .build()
        .expect("tokio runtime")
});

type Outcome = Result<Py<PyAny>, String>;

// The native work: it needs the GIL to call back into Python.
fn invoke(callback: Py<PyAny>) -> Outcome {
    Python::attach(|py| callback.call0(py).map_err(|e| e.to_string()))
}

#[inline(never)]
fn wait_with_block_on(callback: Py<PyAny>) -> Outcome {
    RUNTIME.block_on(async move {
        tokio::task::spawn_blocking(move || invoke(callback))
            .await
            .map_err(|e| e.to_string())?
    })
}

#[inline(never)]
fn wait_with_channel(callback: Py<PyAny>) -> Outcome {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("activity".into())
        .spawn(move || {
            let _ = tx.send(invoke(callback));
        })
        .map_err(|e| e.to_string())?;
    rx.recv().map_err(|e| e.to_string())?
}

#[inline(never)]
fn wait_with_join(callback: Py<PyAny>) -> Outcome {
    let handle = thread::Builder::new()
        .name("activity".into())
        .spawn(move || invoke(callback))
        .map_err(|e| e.to_string())?;
    handle.join().map_err(|_| "activity thread panicked".to_string())?
}

#[pyfunction]
fn run_activity(py: Python<'_>, variant: &str, mechanism: &str, callback: Py<PyAny>) -> PyResult<Py<PyAny>> {
    let wait: fn(Py<PyAny>) -> Outcome = match mechanism {
        "block_on" => wait_with_block_on,
        "channel" => wait_with_channel,
        "join" => wait_with_join,
        other => {
            return Err(PyValueError::new_err(format!(
                "mechanism must be 'block_on', 'channel' or 'join', not {other:?}"
            )))
        }
    };
    let outcome = match variant {
        // The bug: the GIL stays held for the whole wait.
        "buggy" => wait(callback),
        // The fix: detach, then wait.
        "fixed" => py.detach(move || wait(callback)),
        other => return Err(PyValueError::new_err(format!("variant must be 'buggy' or 'fixed', not {other:?}"))),
    };
    outcome.map_err(PyRuntimeError::new_err)
}

#[pymodule]
fn rs_blockon(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_activity, m)?)?;
    Ok(())
}
