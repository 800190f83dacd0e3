"""Drives the finalization fixture (finalize.c).

    python3 drive.py buggy|fixed --module-dir DIR

buggy: starts the native worker and lets the script end while it keeps attaching to
the interpreter (finalization-attach). fixed: registers finalize.stop_worker with
atexit right after starting it, so the worker is stopped and joined before the
interpreter finalizes. Prints one line, exits 0 (unless the runtime aborts).
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
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    finalize = importlib.import_module("finalize")
    start_background_progress(finalize, args.variant)
    time.sleep(0.05)
    print("finalize (%s): worker made %s rounds; exiting" % (args.variant, "some" if finalize.rounds() else "no"))


if __name__ == "__main__":
    main()
