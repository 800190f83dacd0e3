"""Drives the finalization fixture (finalize.c).

    python3 drive.py buggy|fixed|hang|hang-fixed --module-dir DIR

buggy: starts the native worker and lets the script end while it keeps attaching to
the interpreter (finalization-attach). An atexit handler returns once the worker is
blocked in its request for the GIL, and a long switch interval keeps that request
pending until the interpreter finalizes: every run attaches during finalization (left to chance, a
worker asleep or off the CPU through a short finalization on a busy machine showed
nothing in about one run in four). fixed: registers finalize.stop_worker with
atexit right after starting it, so the worker is stopped and joined before the
interpreter finalizes. Prints one line, exits 0 (unless the runtime aborts).
hang: an atexit handler (finalize.park_worker_in_finalization) starts a worker that
takes the worker's state lock and asks for the GIL this thread holds while it exits
(the switch interval raised so the GIL is not handed over before finalization), and the
lock is taken again at the end of Py_FinalizeEx: finalization ends the worker (3.9-3.13)
or parks it forever (3.14+) holding the lock, and the process hangs at exit.
hang-fixed: the lock is taken at the end of Py_FinalizeEx with no worker holding it.
"""

import argparse
import atexit
import importlib
import sys
import time


def start_background_progress(finalize, variant):
    finalize.start_worker()
    if variant == "fixed":
        atexit.register(finalize.stop_worker)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed", "hang", "hang-fixed"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    finalize = importlib.import_module("finalize")
    if args.variant == "hang":
        sys.setswitchinterval(1000)
        atexit.register(finalize.park_worker_in_finalization)
        print("finalize (hang): exiting")
        return
    if args.variant == "hang-fixed":
        finalize.lock_worker_state_at_exit()
        print("finalize (hang-fixed): exiting")
        return
    if args.variant == "buggy":
        # A thread that has waited for the GIL a switch interval asks for it to be
        # handed over. 60 s, from before the worker starts: none of its waits asks, so
        # the one it is parked in stays pending into finalization.
        sys.setswitchinterval(60)
    start_background_progress(finalize, args.variant)
    time.sleep(0.05)
    print("finalize (%s): worker made %s rounds; exiting" % (args.variant, "some" if finalize.rounds() else "no"))
    sys.stdout.flush()
    if args.variant == "buggy":
        # The first atexit handler to run (they run last-registered first): after the
        # threading module's shutdown, which may release the GIL, and just before the
        # interpreter marks itself finalizing.
        atexit.register(finalize.park_worker_in_gil_request)


if __name__ == "__main__":
    main()
