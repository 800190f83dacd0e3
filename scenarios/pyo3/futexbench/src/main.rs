//! A std::sync::Mutex loop for bench/futex_hook.sh: THREADS threads each lock, bump and
//! unlock one shared Mutex ITERATIONS times. With one thread no futex call is ever made
//! (the uncontended path is an inlined atomic); with two or more, contended lock and
//! unlock calls go through libc's syscall(SYS_futex, ...), the call gilwatch hooks.
//!
//!     futexbench THREADS ITERATIONS
//! Prints the total count and the time per lock+unlock in ns.
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: futexbench THREADS ITERATIONS");
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
