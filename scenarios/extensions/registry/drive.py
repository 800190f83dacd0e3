"""Drives the task-registry fixture (registry.c) the way its users did.

    python3 drive.py buggy|fixed [--threads N] [--tasks N] [--rounds N] [--overlap]
                                 [--module-dir DIR]

Default (sequential) mode never hangs. It runs three phases, each finished (joined)
before the next starts:
  1. N Python threads register tasks       (buggy: GIL -> registry lock)
  2. the native worker runs its rounds     (buggy: registry lock -> GIL)
  3. the Python threads register again
Both lock orders happen, one after the other, so the buggy module has a lock-order
inversion that a run-time checker must report although nothing deadlocks.

--overlap fills the registry, then runs the registering threads and the worker at the
same time. The buggy module can then really deadlock (and with the --overlap defaults
usually does); the fixed one must not. The gilwatch tests do not use it on the buggy
module; it shows that the inversion is a real bug.

Function names here are chosen to read well in reports: `register_tasks` is the Python
frame of a thread that takes the registry lock while holding the GIL.
Prints one summary line and exits 0; a failed self-check exits 1.
"""

import argparse
import importlib
import sys
import threading

DISTINCT_NAMES_PER_THREAD = 8  # later registrations of a thread replace earlier ones


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("--threads", type=int, default=4, help="registering Python threads")
    parser.add_argument("--tasks", type=int,
                        help="registrations per thread and phase (default 32; 500 with --overlap)")
    parser.add_argument("--rounds", type=int,
                        help="worker rounds (default 3; 200 with --overlap)")
    parser.add_argument("--overlap", action="store_true",
                        help="register while the worker runs (buggy: may deadlock)")
    parser.add_argument("--module-dir", help="directory holding the built extension")
    args = parser.parse_args(argv)
    # With --overlap, enough work that the two sides really meet: the buggy module then
    # deadlocks in most runs (see docs/fixtures.md for measured rates).
    if args.tasks is None:
        args.tasks = 500 if args.overlap else 32
    if args.rounds is None:
        args.rounds = 200 if args.overlap else 3
    if args.threads < 1 or args.tasks < 1 or args.rounds < 0:
        parser.error("--threads and --tasks must be >= 1, --rounds >= 0")
    return args


def load_registry(variant, module_dir):
    if module_dir:
        sys.path.insert(0, module_dir)
    return importlib.import_module("registry_" + variant)


class TaskLedger:
    """Counts the callbacks the worker made. Only the worker calls tasks, with the GIL."""

    def __init__(self):
        self.calls_by_task = {}

    def make_task(self, name):
        def run_task(task_name, round_number):
            self.calls_by_task[task_name] = self.calls_by_task.get(task_name, 0) + 1
        return run_task


def register_tasks(registry, ledger, thread_index, registrations):
    for i in range(registrations):
        name = "t%d.task%d" % (thread_index, i % DISTINCT_NAMES_PER_THREAD)
        registry.register(name, ledger.make_task(name))


def register_from_threads(registry, ledger, thread_count, registrations):
    threads = [
        threading.Thread(target=register_tasks, name="register-%d" % index,
                         args=(registry, ledger, index, registrations))
        for index in range(thread_count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_worker_rounds(registry, rounds):
    registry.start_worker(rounds)
    return registry.join_worker()


def run_sequential(registry, ledger, args):
    register_from_threads(registry, ledger, args.threads, args.tasks)
    callbacks = run_worker_rounds(registry, args.rounds)
    register_from_threads(registry, ledger, args.threads, args.tasks)
    return callbacks


def run_overlapping(registry, ledger, args):
    # Fill the registry first: a worker with nothing to call would finish its rounds
    # before the registering threads got going.
    register_from_threads(registry, ledger, args.threads, DISTINCT_NAMES_PER_THREAD)
    registry.start_worker(args.rounds)
    register_from_threads(registry, ledger, args.threads, args.tasks)
    return registry.join_worker()


def main(argv):
    args = parse_arguments(argv)
    registry = load_registry(args.variant, args.module_dir)
    distinct_names = args.threads * min(args.tasks, DISTINCT_NAMES_PER_THREAD)
    if distinct_names > registry.CAPACITY:
        sys.exit("drive.py: %d task names exceed the registry's capacity of %d"
                 % (distinct_names, registry.CAPACITY))

    ledger = TaskLedger()
    if args.overlap:
        callbacks = run_overlapping(registry, ledger, args)
    else:
        callbacks = run_sequential(registry, ledger, args)

    registered = registry.task_count()
    problems = []
    if registered != distinct_names:
        problems.append("registry holds %d tasks, expected %d" % (registered, distinct_names))
    if sum(ledger.calls_by_task.values()) != callbacks:
        problems.append("worker reported %d callbacks, tasks saw %d"
                        % (callbacks, sum(ledger.calls_by_task.values())))
    if not args.overlap and callbacks != args.rounds * distinct_names:
        problems.append("worker made %d callbacks, expected %d"
                        % (callbacks, args.rounds * distinct_names))
    if problems:
        sys.exit("drive.py: " + "; ".join(problems))

    phases = [DISTINCT_NAMES_PER_THREAD, args.tasks] if args.overlap else [args.tasks] * 2
    print("%s: %d threads registered %d tasks (%d registrations), worker ran %d rounds, "
          "%d callbacks%s" % (registry.__name__, args.threads, registered,
                              args.threads * sum(phases), args.rounds, callbacks,
                              " (overlapping)" if args.overlap else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
