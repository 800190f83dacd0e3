"""Drives the futex-lock fixture (futexlock.c).

    python3 drive.py buggy|fixed deadlock|wait [--ms N] --module-dir DIR

deadlock: buggy hangs (under gilwatch: a probable deadlock, exit status 67); fixed
completes. wait: a wait of N ms (default 300) for the lock, buggy with the GIL held
(gil-held-blocking), fixed without. Prints one line, exits 0.
"""

import argparse
import importlib
import sys


def register_task(futexlock, scenario, ms):
    if scenario == "deadlock":
        futexlock.deadlock()
    else:
        futexlock.hold_gil_and_wait(ms)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("scenario", choices=["deadlock", "wait"])
    parser.add_argument("--ms", type=int, default=300)
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    futexlock = importlib.import_module("futexlock_" + args.variant)
    register_task(futexlock, args.scenario, args.ms)
    print("futexlock_%s: %s done" % (args.variant, args.scenario))


if __name__ == "__main__":
    main()
