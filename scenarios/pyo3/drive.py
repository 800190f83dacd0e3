"""Drives the PyO3 fixtures (scenarios/pyo3, one abi3 build for every interpreter).

    python3 drive.py --module-dir DIR registry std|parking_lot|mutex buggy|fixed deadlock|wait|churn|inversion [--ms N]
    python3 drive.py --module-dir DIR contend std|parking_lot [--threads N] [--iterations N]
    python3 drive.py --module-dir DIR print-and-drop [--threads N] [--iterations N]
    python3 drive.py --module-dir DIR blockon buggy|fixed block_on|channel|join [--callback-ms N]
    python3 drive.py --module-dir DIR poison buggy|fixed
    python3 drive.py --module-dir DIR poison-detached [--native-lock]
    python3 drive.py --module-dir DIR native-worker buggy|error|catch [--readers N] [--hold-ms N]
    python3 drive.py --module-dir DIR teardown buggy|fixed [--pools N]

registry deadlock: the dispatcher holds the read lock and then attaches, while this
thread registers — buggy hangs (a probable deadlock under gilwatch), fixed completes.
registry wait: a native auditor holds the read lock for N ms (default 300) while this
thread registers: buggy waits with the GIL held (gil-held-blocking), fixed detached.
registry churn: four Python threads register while dispatchers run (fixed only: the
buggy one deadlocks at random). registry inversion: the two halves of the deadlock one
after the other, so it completes: a registration waiting for the lock with the GIL held,
then a dispatcher whose acquisition was contended attaching while it holds the lock;
with `mutex` gilwatch can tell the dispatcher held the lock (it wakes the word on
release) and reports the lock-order inversion. contend: native threads contend for std or parking_lot
locks with the GIL released. print-and-drop: native threads println! and drop Py objects
detached while this thread prints attached (std's stdout lock, PyO3's reference pool:
locks whose holders never need the GIL). blockon: buggy hangs, fixed returns the callback's value.
poison: buggy panics under the write guard (PanicException), then on the PoisonError;
fixed raises ValueError. poison-detached: a panic inside py.detach (--native-lock: while
holding a pthread mutex). native-worker: a native thread Python never saw updates a
std RwLock-guarded table while N readers (default 2) wait for its write guard (held
N ms, default 300): buggy panics under the guard (the readers recover the poisoned data
with into_inner), error returns Err before writing, catch panics inside catch_unwind
and handles it. teardown: N pools
(default 1) of two workers torn down by `del`; buggy hangs in Drop.
Prints one line and exits 0 unless the scenario itself fails.
"""

import argparse
import importlib
import sys
import threading


def load(module_dir, name):
    sys.path.insert(0, module_dir)
    return importlib.import_module(name)


def noop_callback():
    return None


def run_registry(rs, args):
    if args.scenario == "deadlock":
        rs.register(args.lock, args.variant, "first", noop_callback)
        rs.dispatch_in_background(args.lock, args.variant, 100)
        register_while_dispatching(rs, args)
        rs.join_background()
    elif args.scenario == "inversion":
        # Both halves of the inversion, each on its own, so the run completes: a
        # registration waits for the auditor's lock with the GIL held (GIL -> lock), and
        # a dispatcher that had to wait for the lock attaches while holding it (lock ->
        # GIL).
        rs.register(args.lock, args.variant, "first", noop_callback)
        rs.hold_read_lock_in_background(args.lock, args.ms)
        register_while_dispatching(rs, args)
        rs.join_background()
        rs.dispatch_after_contention(args.lock, args.variant, args.ms)
    elif args.scenario == "wait":
        rs.hold_read_lock_in_background(args.lock, args.ms)
        register_while_dispatching(rs, args)
        rs.join_background()
    else:
        if args.variant != "fixed":
            sys.exit("drive.py: registry churn runs the fixed variant only (the buggy one deadlocks at random)")
        churn_registry(rs, args.lock)
    print("rs_registry %s/%s %s: %d registered" % (args.lock, args.variant, args.scenario, rs.registered(args.lock)))


def register_while_dispatching(rs, args):
    rs.register(args.lock, args.variant, "second", noop_callback)


def churn_registry(rs, lock):
    def registrar(index):
        for n in range(200):
            rs.register(lock, "fixed", "task-%d-%d" % (index, n), noop_callback)
    threads = [threading.Thread(target=registrar, args=(i,), name="registrar-%d" % i) for i in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(20):
        rs.dispatch_in_background(lock, "fixed", 1)
    for thread in threads:
        thread.join()
    rs.join_background()


def run_print_and_drop(rs, args):
    total = rs.print_and_drop(args.threads, args.iterations)
    print("rs_registry print-and-drop: %d" % total)


def run_contend(rs, args):
    total = rs.contend(args.lock, args.threads, args.iterations)
    print("rs_registry contend %s: %d" % (args.lock, total))


def run_activity(rs, variant, mechanism, callback_ms):
    import time

    def activity():
        time.sleep(callback_ms / 1000.0)
        return 42
    return rs.run_activity(variant, mechanism, activity)


def run_blockon(rs, args):
    print("rs_blockon %s %s: %r" % (args.variant, args.mechanism,
                                    run_activity(rs, args.variant, args.mechanism, args.callback_ms)))


class Plugin:
    def run(self):
        return "ran"


class BrokenPlugin:
    pass


def register_plugins(rs, variant):
    outcomes = []
    for name, plugin in (("good-plugin", Plugin()), ("broken-plugin", BrokenPlugin())):
        try:
            rs.register(variant, name, plugin)
            outcomes.append("ok")
        except BaseException as error:  # PanicException derives from BaseException
            outcomes.append(type(error).__name__)
    try:
        count = rs.registered(variant)
    except BaseException as error:
        count = type(error).__name__
    return outcomes, count


def run_poison(rs, args):
    outcomes, count = register_plugins(rs, args.variant)
    print("rs_poison %s: %s; registered: %s" % (args.variant, "/".join(outcomes), count))


def run_poison_detached(rs, args):
    try:
        (rs.panic_holding_native_lock if args.native_lock else rs.panic_detached)()
        outcome = "returned"
    except BaseException as error:
        outcome = type(error).__name__
    print("rs_poison detached: %s" % outcome)


def run_native_worker(rs, args):
    outcome, seen, poisoned = rs.native_worker(args.variant, args.readers, args.hold_ms)
    print("rs_poison native-worker %s: %s; readers saw %s; poisoned: %s" % (args.variant, outcome, seen, poisoned))


def tear_down_pools(rs, variant, pools):
    import time
    calls = 0
    for _ in range(pools):
        pool = rs.WorkerPool(variant, 2, noop_callback)
        time.sleep(0.05)  # releases the GIL: the workers call back
        calls += pool.calls()
        del pool
    return calls


def run_teardown(rs, args):
    calls = tear_down_pools(rs, args.variant, args.pools)
    print("rs_teardown %s: %d pools torn down (%d calls)" % (args.variant, args.pools, calls))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module-dir", required=True)
    sub = parser.add_subparsers(dest="fixture", required=True)
    p = sub.add_parser("registry")
    p.add_argument("lock", choices=["std", "parking_lot", "mutex"])
    p.add_argument("variant", choices=["buggy", "fixed"])
    p.add_argument("scenario", choices=["deadlock", "wait", "churn", "inversion"])
    p.add_argument("--ms", type=int, default=300)
    p = sub.add_parser("contend")
    p.add_argument("lock", choices=["std", "parking_lot"])
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--iterations", type=int, default=20000)
    p = sub.add_parser("print-and-drop")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--iterations", type=int, default=2000)
    p = sub.add_parser("blockon")
    p.add_argument("variant", choices=["buggy", "fixed"])
    p.add_argument("mechanism", choices=["block_on", "channel", "join"])
    p.add_argument("--callback-ms", type=int, default=0, help="how long the activity's callback sleeps")
    p = sub.add_parser("poison")
    p.add_argument("variant", choices=["buggy", "fixed"])
    p = sub.add_parser("poison-detached")
    p.add_argument("--native-lock", action="store_true", help="panic while holding a pthread mutex")
    p = sub.add_parser("native-worker")
    p.add_argument("variant", choices=["buggy", "error", "catch"])
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--hold-ms", type=int, default=300)
    p = sub.add_parser("teardown")
    p.add_argument("variant", choices=["buggy", "fixed"])
    p.add_argument("--pools", type=int, default=1)
    args = parser.parse_args()

    if args.fixture in ("registry", "contend", "print-and-drop"):
        rs = load(args.module_dir, "rs_registry")
        {"registry": run_registry, "contend": run_contend, "print-and-drop": run_print_and_drop}[args.fixture](rs, args)
    elif args.fixture == "blockon":
        run_blockon(load(args.module_dir, "rs_blockon"), args)
    elif args.fixture == "poison":
        run_poison(load(args.module_dir, "rs_poison"), args)
    elif args.fixture == "poison-detached":
        run_poison_detached(load(args.module_dir, "rs_poison"), args)
    elif args.fixture == "native-worker":
        run_native_worker(load(args.module_dir, "rs_poison"), args)
    else:
        run_teardown(load(args.module_dir, "rs_teardown"), args)


if __name__ == "__main__":
    main()
