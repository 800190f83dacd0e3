//! The seed's poisoning on a thread Python never saw: a native worker
//! (`std::thread::spawn` from extension code, never attached, no GIL, no C API call)
//! updates a table behind a `std::sync::RwLock` while readers wait for it.
//!
//! `buggy`: the worker writes half of an update under the write guard and panics; the
//! guard's drop during the unwinding poisons the lock and wakes the waiting readers,
//! which recover with `PoisonError::into_inner` and read the half-written table. The
//! panic ends the worker: `join` gets `Err`.
//! `error`: the worker validates before writing and returns `Err` (no panic).
//! `catch`: the worker panics inside `catch_unwind` (the guard outside it, so nothing is
//! poisoned), puts the table back as it was and goes on with the next update.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{LazyLock, PoisonError, RwLock};
use std::thread;
use std::time::Duration;

static TABLE: LazyLock<RwLock<Vec<u64>>> = LazyLock::new(|| RwLock::new(vec![1, 1]));

// An update writes a pair; a table of odd length is half-written.
#[inline(never)]
fn write_half_then_fail(table: &mut Vec<u64>, fail: bool) {
    table.push(2);
    if std::hint::black_box(fail) {
        panic!("update failed halfway: the second entry is missing");
    }
    table.push(2);
}

#[inline(never)]
fn update_registry_natively(variant: &str, hold_ms: u64, held: mpsc::Sender<()>, go: mpsc::Receiver<()>) -> Result<usize, String> {
    // The guard is held until the readers have started and `hold_ms` more, long enough
    // for them to be waiting for it.
    let hold = || {
        let _ = go.recv();
        thread::sleep(Duration::from_millis(hold_ms));
    };
    match variant {
        "buggy" => {
            let mut table = TABLE.write().unwrap();
            held.send(()).unwrap();
            hold();
            write_half_then_fail(&mut table, true); // panics with the guard held
            Ok(table.len())
        }
        "error" => {
            let mut table = TABLE.write().unwrap();
            held.send(()).unwrap();
            hold();
            if std::hint::black_box(true) {
                return Err("update rejected before writing".into());
            }
            write_half_then_fail(&mut table, false);
            Ok(table.len())
        }
        _ => {
            let mut table = TABLE.write().unwrap();
            held.send(()).unwrap();
            hold();
            let before = table.len();
            let outcome = catch_unwind(AssertUnwindSafe(|| write_half_then_fail(&mut table, true)));
            if outcome.is_err() {
                table.truncate(before); // handled: the table is whole again
            }
            write_half_then_fail(&mut table, false); // and the worker goes on
            Ok(table.len())
        }
    }
}

#[inline(never)]
fn read_recovering() -> usize {
    // The seed's recovery: the data of a poisoned lock, taken as it is.
    TABLE.read().unwrap_or_else(PoisonError::into_inner).len()
}

/// Runs the worker and `readers` reader threads that wait for the worker's write guard;
/// returns (the worker's outcome, the lengths the readers saw, whether the lock is poisoned).
pub fn run(variant: &str, readers: usize, hold_ms: u64) -> (String, Vec<usize>, bool) {
    let (held_tx, held_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let variant_owned = variant.to_string();
    let worker = thread::spawn(move || update_registry_natively(&variant_owned, hold_ms, held_tx, go_rx));
    held_rx.recv().unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let reader_threads: Vec<_> = (0..readers)
        .map(|_| {
            let started = started_tx.clone();
            thread::spawn(move || {
                let _ = started.send(());
                read_recovering()
            })
        })
        .collect();
    for _ in 0..readers {
        started_rx.recv().unwrap();
    }
    let _ = go_tx.send(());
    let outcome = match worker.join() {
        Ok(Ok(len)) => format!("ok {len}"),
        Ok(Err(error)) => format!("error: {error}"),
        Err(_) => "panicked".to_string(),
    };
    let seen = reader_threads.into_iter().map(|r| r.join().unwrap()).collect();
    (outcome, seen, TABLE.is_poisoned())
}
