//! The task registry of gil-rwlock-inversion-task.md, as a PyO3 extension: a global
//! `RwLock<HashMap<String, callback>>`, once with `std::sync::RwLock` and once with
//! `parking_lot::RwLock` (both futex words, invisible to a pthread-only tool).
//!
//! Buggy (`variant = "buggy"`): `register` takes the write lock while attached to the
//! interpreter, and the native dispatcher attaches to call the callbacks while it holds
//! the read lock — the GIL -> registry / registry -> GIL inversion of the seed.
//! Fixed (`variant = "fixed"`): `register` detaches around the write lock; the dispatcher
//! clones the callbacks out under the read lock and calls them after releasing it.
//!
//! Python API (drive.py uses it):
//!   register(lock, variant, name, callback)
//!   dispatch_in_background(lock, variant, hold_ms) -> returns once the dispatcher holds
//!       the read lock; it holds it hold_ms before it attaches (buggy) or after it has
//!       copied the callbacks (fixed)
//!   hold_read_lock_in_background(lock, hold_ms) -> returns once a native auditor holds
//!       the read lock; it holds it hold_ms and never attaches
//!   contend(lock, threads, iterations) -> detached: threads hammer a lock of the kind
//!   join_background() -> detached: joins every background thread started so far
//!   registered(lock) -> number of registered callbacks
//!   dispatch_after_contention(lock, variant, hold_ms) -> detached: holds the write lock
//!       hold_ms while a dispatcher started first waits for it, then joins the dispatcher
//!   print_and_drop(threads, iterations) -> native threads print and drop Py objects
//!       detached while this thread prints attached: short waits with the GIL held for
//!       locks whose holders never need it (std's stdout lock, PyO3's reference pool)
//! `lock` is "std", "parking_lot" or "mutex" (the registry behind a std::sync::Mutex).
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

// Arc: a callback can be cloned without the GIL (the fixed dispatcher copies them out
// under the read lock, detached).
type Callback = Arc<Py<PyAny>>;
type Map = HashMap<String, Callback>;

trait Registry: Sync + Send + 'static {
    fn write(&self) -> impl DerefMut<Target = Map> + '_;
    fn read(&self) -> impl Deref<Target = Map> + '_;
}

struct StdRegistry(std::sync::RwLock<Map>);
struct ParkingLotRegistry(parking_lot::RwLock<Map>);
// The registry behind a std::sync::Mutex: readers and writers alike lock it.
struct MutexRegistry(std::sync::Mutex<Map>);

impl Registry for StdRegistry {
    fn write(&self) -> impl DerefMut<Target = Map> + '_ {
        self.0.write().unwrap()
    }
    fn read(&self) -> impl Deref<Target = Map> + '_ {
        self.0.read().unwrap()
    }
}

impl Registry for MutexRegistry {
    fn write(&self) -> impl DerefMut<Target = Map> + '_ {
        self.0.lock().unwrap()
    }
    fn read(&self) -> impl Deref<Target = Map> + '_ {
        self.0.lock().unwrap()
    }
}

impl Registry for ParkingLotRegistry {
    fn write(&self) -> impl DerefMut<Target = Map> + '_ {
        self.0.write()
    }
    fn read(&self) -> impl Deref<Target = Map> + '_ {
        self.0.read()
    }
}

static STD_REGISTRY: LazyLock<StdRegistry> = LazyLock::new(|| StdRegistry(std::sync::RwLock::new(Map::new())));
static PARKING_LOT_REGISTRY: LazyLock<ParkingLotRegistry> =
    LazyLock::new(|| ParkingLotRegistry(parking_lot::RwLock::new(Map::new())));
static MUTEX_REGISTRY: LazyLock<MutexRegistry> = LazyLock::new(|| MutexRegistry(std::sync::Mutex::new(Map::new())));

static BACKGROUND: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Buggy,
    Fixed,
}

fn parse_variant(variant: &str) -> PyResult<Variant> {
    match variant {
        "buggy" => Ok(Variant::Buggy),
        "fixed" => Ok(Variant::Fixed),
        _ => Err(PyValueError::new_err(format!("variant must be 'buggy' or 'fixed', not {variant:?}"))),
    }
}

// Runs `$body` with `$registry` bound to the registry that `$lock` names.
macro_rules! with_registry {
    ($lock:expr, |$registry:ident| $body:expr) => {
        match $lock {
            "std" => {
                let $registry: &'static StdRegistry = &STD_REGISTRY;
                $body
            }
            "parking_lot" => {
                let $registry: &'static ParkingLotRegistry = &PARKING_LOT_REGISTRY;
                $body
            }
            "mutex" => {
                let $registry: &'static MutexRegistry = &MUTEX_REGISTRY;
                $body
            }
            other => Err(PyValueError::new_err(format!(
                "lock must be 'std', 'parking_lot' or 'mutex', not {other:?}"
            ))),
        }
    };
}

// The bug: the write lock is taken while this thread holds the GIL. Whoever holds the
// read lock and needs the GIL now waits for us, and we for them.
#[inline(never)]
fn register_holding_gil<R: Registry>(registry: &R, _py: Python<'_>, name: String, callback: Callback) {
    registry.write().insert(name, callback);
}

// The fix: detach first, so a reader waiting for the GIL can get it and finish.
#[inline(never)]
fn register_detached<R: Registry>(registry: &R, py: Python<'_>, name: String, callback: Callback) {
    py.detach(|| {
        registry.write().insert(name, callback);
    });
}

#[pyfunction]
fn register(py: Python<'_>, lock: &str, variant: &str, name: String, callback: Py<PyAny>) -> PyResult<()> {
    let variant = parse_variant(variant)?;
    let callback = Arc::new(callback);
    with_registry!(lock, |registry| {
        match variant {
            Variant::Buggy => register_holding_gil(registry, py, name, callback),
            Variant::Fixed => register_detached(registry, py, name, callback),
        }
        Ok(())
    })
}

fn call_all(py: Python<'_>, callbacks: &[Callback]) {
    for callback in callbacks {
        if let Err(error) = callback.call0(py) {
            error.print(py);
        }
    }
}

// The bug's other half: the read lock is held while the dispatcher waits for the GIL.
#[inline(never)]
fn dispatch_holding_read_lock<R: Registry>(registry: &R, held: mpsc::Sender<()>, hold: Duration) {
    let map = registry.read();
    let _ = held.send(());
    thread::sleep(hold);
    Python::attach(|py| {
        let callbacks: Vec<Callback> = map.values().cloned().collect();
        call_all(py, &callbacks);
    });
}

#[inline(never)]
fn dispatch_after_read_lock<R: Registry>(registry: &R, held: mpsc::Sender<()>, hold: Duration) {
    let callbacks: Vec<Callback> = {
        let map = registry.read();
        let _ = held.send(());
        thread::sleep(hold);
        map.values().cloned().collect()
    };
    Python::attach(|py| call_all(py, &callbacks));
}

#[inline(never)]
fn audit_holding_read_lock<R: Registry>(registry: &R, held: mpsc::Sender<()>, hold: Duration) {
    let map = registry.read();
    let _ = held.send(());
    thread::sleep(hold);
    drop(map);
}

// Starts `work` on a named native thread and returns, detached, once it says it holds
// the read lock.
fn start_background(py: Python<'_>, name: &str, work: impl FnOnce(mpsc::Sender<()>) + Send + 'static) -> PyResult<()> {
    let (held_tx, held_rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || work(held_tx))
        .map_err(|e| PyValueError::new_err(format!("cannot start thread: {e}")))?;
    BACKGROUND.lock().unwrap().push(handle);
    py.detach(move || held_rx.recv())
        .map_err(|_| PyValueError::new_err("background thread ended before taking the read lock"))
}

#[pyfunction]
fn dispatch_in_background(py: Python<'_>, lock: &str, variant: &str, hold_ms: u64) -> PyResult<()> {
    let variant = parse_variant(variant)?;
    let hold = Duration::from_millis(hold_ms);
    with_registry!(lock, |registry| start_background(py, "dispatcher", move |held| match variant {
        Variant::Buggy => dispatch_holding_read_lock(registry, held, hold),
        Variant::Fixed => dispatch_after_read_lock(registry, held, hold),
    }))
}

// Holds the registry's write lock `hold_ms` with the GIL released while a dispatcher,
// started first, waits for it — so the dispatcher's acquisition is a contended one, seen
// through its futex wait — then joins the dispatcher, still detached.
#[pyfunction]
fn dispatch_after_contention(py: Python<'_>, lock: &str, variant: &str, hold_ms: u64) -> PyResult<()> {
    let variant = parse_variant(variant)?;
    let hold = Duration::from_millis(hold_ms);
    with_registry!(lock, |registry| {
        py.detach(move || {
            let guard = registry.write();
            let dispatcher = thread::Builder::new()
                .name("dispatcher".to_string())
                .spawn(move || {
                    let (held, _) = mpsc::channel();
                    match variant {
                        Variant::Buggy => dispatch_holding_read_lock(registry, held, Duration::ZERO),
                        Variant::Fixed => dispatch_after_read_lock(registry, held, Duration::ZERO),
                    }
                })
                .expect("dispatcher thread");
            thread::sleep(hold);
            drop(guard);
            let _ = dispatcher.join();
        });
        Ok(())
    })
}

#[pyfunction]
fn hold_read_lock_in_background(py: Python<'_>, lock: &str, hold_ms: u64) -> PyResult<()> {
    let hold = Duration::from_millis(hold_ms);
    with_registry!(lock, |registry| start_background(py, "auditor", move |held| audit_holding_read_lock(
        registry, held, hold
    )))
}

// Locks that are merely contended, never with the GIL: readers and writers on an RwLock
// and a Mutex of the kind, from `threads` native threads. Returns the final count.
trait ContendedCounters: Default + Send + Sync + 'static {
    fn write_rwlock(&self);
    fn read_rwlock(&self) -> u64;
    fn bump_mutex(&self);
    fn mutex_total(&self) -> u64;
}

#[derive(Default)]
struct StdCounters(std::sync::RwLock<u64>, std::sync::Mutex<u64>);
#[derive(Default)]
struct ParkingLotCounters(parking_lot::RwLock<u64>, parking_lot::Mutex<u64>);

impl ContendedCounters for StdCounters {
    fn write_rwlock(&self) {
        *self.0.write().unwrap() += 1;
    }
    fn read_rwlock(&self) -> u64 {
        *self.0.read().unwrap()
    }
    fn bump_mutex(&self) {
        *self.1.lock().unwrap() += 1;
    }
    fn mutex_total(&self) -> u64 {
        *self.1.lock().unwrap()
    }
}

impl ContendedCounters for ParkingLotCounters {
    fn write_rwlock(&self) {
        *self.0.write() += 1;
    }
    fn read_rwlock(&self) -> u64 {
        *self.0.read()
    }
    fn bump_mutex(&self) {
        *self.1.lock() += 1;
    }
    fn mutex_total(&self) -> u64 {
        *self.1.lock()
    }
}

#[inline(never)]
fn contend_without_gil<C: ContendedCounters>(threads: usize, iterations: u64) -> u64 {
    let counters = Arc::new(C::default());
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let counters = counters.clone();
            thread::spawn(move || {
                for n in 0..iterations {
                    if (n + i as u64) % 4 == 0 {
                        counters.write_rwlock();
                    } else {
                        std::hint::black_box(counters.read_rwlock());
                    }
                    counters.bump_mutex();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    counters.mutex_total()
}

#[pyfunction]
fn contend(py: Python<'_>, lock: &str, threads: usize, iterations: u64) -> PyResult<u64> {
    match lock {
        "std" => Ok(py.detach(|| contend_without_gil::<StdCounters>(threads, iterations))),
        "parking_lot" => Ok(py.detach(|| contend_without_gil::<ParkingLotCounters>(threads, iterations))),
        other => Err(PyValueError::new_err(format!("lock must be 'std' or 'parking_lot', not {other:?}"))),
    }
}

#[pyfunction]
fn join_background(py: Python<'_>) -> PyResult<()> {
    let handles: Vec<_> = std::mem::take(&mut *BACKGROUND.lock().unwrap());
    py.detach(|| {
        for handle in handles {
            let _ = handle.join();
        }
    });
    Ok(())
}

#[pyfunction]
fn registered(py: Python<'_>, lock: &str) -> PyResult<usize> {
    with_registry!(lock, |registry| Ok(py.detach(|| registry.read().len())))
}

// What a real extension does all day: its native threads log with println! and drop the
// Python objects they were handed, detached; the attached thread logs too. std's stdout
// lock and PyO3's reference-pool mutex (taken on each drop without the GIL, and when a
// thread attaches to drain it) are contended, and waited for with the GIL held at times —
// but no holder of either needs the GIL while it holds it.
#[pyfunction]
fn print_and_drop(py: Python<'_>, threads: usize, iterations: usize) -> PyResult<usize> {
    let batches: Vec<Vec<Py<PyAny>>> = (0..threads)
        .map(|_| (0..iterations).map(|_| PyList::empty(py).into_any().unbind()).collect())
        .collect();
    let workers: Vec<JoinHandle<()>> = batches
        .into_iter()
        .enumerate()
        .map(|(t, batch)| {
            thread::spawn(move || {
                for (i, object) in batch.into_iter().enumerate() {
                    println!("worker {t} line {i}");
                    drop(object);
                }
            })
        })
        .collect();
    for i in 0..iterations {
        println!("attached line {i}");
        // Attaching again drains the reference pool under its mutex.
        py.detach(std::hint::spin_loop);
    }
    py.detach(|| {
        for worker in workers {
            let _ = worker.join();
        }
    });
    Ok(threads * iterations)
}

#[pymodule]
fn rs_registry(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(register, m)?)?;
    m.add_function(wrap_pyfunction!(dispatch_in_background, m)?)?;
    m.add_function(wrap_pyfunction!(hold_read_lock_in_background, m)?)?;
    m.add_function(wrap_pyfunction!(dispatch_after_contention, m)?)?;
    m.add_function(wrap_pyfunction!(contend, m)?)?;
    m.add_function(wrap_pyfunction!(join_background, m)?)?;
    m.add_function(wrap_pyfunction!(registered, m)?)?;
    m.add_function(wrap_pyfunction!(print_and_drop, m)?)?;
    Ok(())
}
