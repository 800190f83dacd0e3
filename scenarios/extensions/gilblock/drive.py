"""Drives the blocking-with-the-GIL fixture (gilblock.c): one wait of each kind given,
twice (a call site is reported once, with a count).

    python3 drive.py buggy|fixed KIND... [--ms N] [--through-callback] --module-dir DIR

KIND: sleep, join, condvar, mutex. Prints one line, exits 0. --through-callback reaches
each wait through a function the interpreter calls from C (`map`), so that the waiting
thread's stack holds two calls of the eval loop, each running its own Python frames.
"""

import argparse
import importlib
import sys


def wait_for_native_work(gilblock, kinds, ms):
    for kind in kinds:
        for _ in range(2):
            gilblock.wait_holding_gil(kind, ms)


def wait_through_callback(gilblock, kinds, ms):
    def wait_in_callback(kind):
        wait_for_native_work(gilblock, [kind], ms)

    list(map(wait_in_callback, kinds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("kinds", nargs="+", choices=["sleep", "join", "condvar", "mutex"])
    parser.add_argument("--ms", type=int, default=150)
    parser.add_argument("--through-callback", action="store_true")
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    gilblock = importlib.import_module("gilblock_" + args.variant)
    if args.through_callback:
        wait_through_callback(gilblock, args.kinds, args.ms)
    else:
        wait_for_native_work(gilblock, args.kinds, args.ms)
    print("gilblock_%s: waited (%s)" % (args.variant, ", ".join(args.kinds)))


if __name__ == "__main__":
    main()
