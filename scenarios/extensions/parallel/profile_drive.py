"""Drives the parallel fixture for the GIL profile: THREADS threads each call
work(ITEMS) ROUNDS times on the chosen variant (buggy: the GIL taken back per item;
fixed: released for the work; held: never released).

    python profile_drive.py {buggy,fixed,held} THREADS ROUNDS --module-dir DIR

First, two threads run Python for a moment side by side, so the GIL changes hands under
contention at least once before the work: gilwatch learns which mutex and condition are
the GIL's from the first wait for it, and a single worker might never make one.
"""

import argparse
import ctypes
import importlib
import sys
import threading
import time

ITEMS = 200


def name_os_thread(name):
    """The OS thread's name (what gilwatch reports), as Python before 3.14 does not set it."""
    libc = ctypes.CDLL(None)
    libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def contend_for_the_gil(seconds=0.03):
    def spin():
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass

    other = threading.Thread(target=spin, name="gil-warmup")
    other.start()
    spin()
    other.join()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("variant", choices=["buggy", "fixed", "held"])
    parser.add_argument("threads", type=int)
    parser.add_argument("rounds", type=int)
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    module = importlib.import_module("parallel_" + args.variant)

    start_together = threading.Barrier(args.threads)

    def run():
        name_os_thread(threading.current_thread().name)
        start_together.wait()  # the workers overlap, however late each was scheduled
        for _ in range(args.rounds):
            module.work(ITEMS)

    contend_for_the_gil()
    workers = [threading.Thread(target=run, name="worker-%d" % i) for i in range(args.threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print("profile_drive: %s x%d: %.3f s" % (args.variant, args.threads, time.monotonic() - started))


if __name__ == "__main__":
    main()
