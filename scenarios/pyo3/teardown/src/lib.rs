//! Teardown of deterministic-teardown-pr.md, as a PyO3 extension: a `#[pyclass]` that
//! owns native worker threads, each calling back into Python now and then.
//!
//! Buggy (`variant = "buggy"`): `Drop` — run by the interpreter with the GIL held —
//! signals the workers and joins them while attached. A worker about to call back waits
//! for the GIL the dropping thread holds: the join never returns.
//! Fixed (`variant = "fixed"`): `Drop` signals, detaches, and joins with a deadline
//! (join_without_gil in the seed's words); a worker that does not stop in time is left
//! running, with a message, rather than hanging the interpreter.
//!
//! Python API: WorkerPool(variant, workers, callback); pool.calls() -> callbacks made;
//! the pool is torn down when its last reference goes (`del pool`).
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const JOIN_DEADLINE: Duration = Duration::from_secs(5);

#[pyclass]
struct WorkerPool {
    fixed: bool,
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    workers: Vec<JoinHandle<()>>,
    // Each worker holds a sender; all gone means all workers have returned.
    exited: Mutex<Option<mpsc::Receiver<()>>>,
}

fn work(callback: Py<PyAny>, stop: Arc<AtomicBool>, calls: Arc<AtomicU64>, _exit_guard: mpsc::Sender<()>) {
    loop {
        thread::sleep(Duration::from_millis(1));
        Python::attach(|py| {
            if callback.call0(py).is_ok() {
                calls.fetch_add(1, Ordering::Relaxed);
            }
        });
        if stop.load(Ordering::Acquire) {
            break;
        }
    }
}

#[pymethods]
impl WorkerPool {
    #[new]
    fn new(variant: &str, workers: usize, callback: Py<PyAny>, py: Python<'_>) -> PyResult<Self> {
        let fixed = match variant {
            "buggy" => false,
            "fixed" => true,
            other => return Err(PyValueError::new_err(format!("variant must be 'buggy' or 'fixed', not {other:?}"))),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let (exit_tx, exit_rx) = mpsc::channel();
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (callback, stop, calls, exit_tx) = (callback.clone_ref(py), stop.clone(), calls.clone(), exit_tx.clone());
            let handle = thread::Builder::new()
                .name(format!("pool-worker-{i}"))
                .spawn(move || work(callback, stop, calls, exit_tx))
                .map_err(|e| PyValueError::new_err(format!("cannot start worker: {e}")))?;
            handles.push(handle);
        }
        Ok(WorkerPool { fixed, stop, calls, workers: handles, exited: Mutex::new(Some(exit_rx)) })
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

// The bug: joins with the GIL held.
#[inline(never)]
fn join_holding_gil(workers: Vec<JoinHandle<()>>) {
    for worker in workers {
        let _ = worker.join();
    }
}

// The fix: detach, wait for every worker up to a deadline, join those that returned.
#[inline(never)]
fn join_without_gil(workers: Vec<JoinHandle<()>>, exited: mpsc::Receiver<()>) {
    Python::attach(|py| {
        py.detach(move || {
            let deadline = Instant::now() + JOIN_DEADLINE;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match exited.recv_timeout(left) {
                    Ok(()) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        eprintln!("rs_teardown: workers did not stop within {JOIN_DEADLINE:?}; leaving them");
                        std::mem::forget(workers);
                        return;
                    }
                }
            }
            for worker in workers {
                let _ = worker.join();
            }
        })
    })
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let workers = std::mem::take(&mut self.workers);
        let exited = self.exited.lock().unwrap().take().expect("drop runs once");
        if self.fixed {
            join_without_gil(workers, exited);
        } else {
            join_holding_gil(workers);
        }
    }
}

#[pymodule]
fn rs_teardown(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WorkerPool>()?;
    Ok(())
}
