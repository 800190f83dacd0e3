//! A std::sync::Mutex loop for bench/futex_hook.sh: THREADS threads each lock, bump and
//! unlock one shared Mutex ITERATIONS times. With one thread no futex call is ever made
//! (the uncontended path is an inlined atomic); with two or more, contended lock and
//! unlock calls go through libc's syscall(SYS_futex, ...), the call gilwatch hooks.
//!
//!     futexbench THREADS ITERATIONS
//!     futexbench eagain ITERATIONS
//! Prints the total count and the time per lock+unlock in ns. `eagain` instead makes
//! ITERATIONS futex waits that return at once (the word does not hold the expected
//! value), through libc's syscall() as Rust's std does: the hook's cost per call,
//! without any waiting.
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

extern "C" {
    fn syscall(number: i64, ...) -> i64;
}
const SYS_FUTEX: i64 = 202; // x86_64
const FUTEX_WAIT_PRIVATE: i64 = 128;

fn futex_waits_returning_at_once(iterations: u64) {
    let word = std::sync::atomic::AtomicU32::new(1);
    let start = Instant::now();
    for _ in 0..iterations {
        // Expects 0, finds 1: EAGAIN without sleeping.
        unsafe { syscall(SYS_FUTEX, word.as_ptr() as i64, FUTEX_WAIT_PRIVATE, 0i64, 0i64, 0i64, 0i64) };
    }
    let elapsed = start.elapsed();
    println!("futex waits={iterations} ns_per_call={:.1}", elapsed.as_nanos() as f64 / iterations.max(1) as f64);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "eagain" {
        match args[2].parse() {
            Ok(iterations) => return futex_waits_returning_at_once(iterations),
            Err(_) => {
                eprintln!("futexbench: ITERATIONS must be a positive integer, not {:?}", args[2]);
                std::process::exit(2);
            }
        }
    }
    if args.len() != 3 {
        eprintln!("usage: futexbench THREADS ITERATIONS | futexbench eagain ITERATIONS");
        std::process::exit(2);
    }
    let parse = |i: usize, what: &str| -> u64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("futexbench: {what} must be a positive integer, not {:?}", args[i]);
            std::process::exit(2)
        })
    };
    let threads = parse(1, "THREADS").max(1);
    let iterations = parse(2, "ITERATIONS");
    let counter = Arc::new(Mutex::new(0u64));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || {
                for _ in 0..iterations {
                    *counter.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let elapsed = start.elapsed();
    let total = *counter.lock().unwrap();
    println!("threads={threads} total={total} ns_per_lock={:.1}", elapsed.as_nanos() as f64 / total as f64);
}
