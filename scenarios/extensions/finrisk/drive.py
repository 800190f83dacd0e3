"""Drives the finalization-risk fixture (finrisk.c).

    python3 drive.py buggy|fixed|attached-once|one-shot|never-attaches --module-dir DIR

buggy: starts the native worker (it attaches every 20 ms) and lets the script end with
it still running: the interpreter finalizes with a native thread that may attach at
any moment (finalization-attach, detail "risk", every run; whether it actually attaches
during finalization is left to chance). fixed: registers finrisk.stop_worker with atexit
right after starting it, so the worker is stopped and joined before the interpreter
finalizes. attached-once: a native thread attaches once and ends, joined, long before
exit. one-shot: a detached native thread attaches once, hands its result back and is
still on its way out (300 ms) when the interpreter finalizes and exits: one attach past
is no risk. never-attaches: a native thread that never attaches runs until the process ends.
Prints one line, exits 0 (unless the runtime ends the process).
"""

import argparse
import atexit
import importlib
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed", "attached-once", "one-shot", "never-attaches"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    finrisk = importlib.import_module("finrisk")
    if args.variant in ("buggy", "fixed"):
        finrisk.start_worker()
        if args.variant == "fixed":
            atexit.register(finrisk.stop_worker)
        deadline = time.monotonic() + 30
        # Two rounds: a thread attaching again and again, not once.
        while finrisk.rounds() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    elif args.variant == "attached-once":
        finrisk.attach_once()
    elif args.variant == "one-shot":
        finrisk.start_one_shot()
        deadline = time.monotonic() + 30
        while not finrisk.rounds() and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        finrisk.start_idle_worker()
    time.sleep(0.05)
    print("finrisk (%s): exiting" % args.variant)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
