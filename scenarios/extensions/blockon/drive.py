"""Drives the block_on fixture (blockon.c): run a Python callable on the runtime's native
worker and wait for its result, the way duroxide-python ran activities.

    python3 drive.py buggy|fixed --module-dir DIR

buggy: block_on waits with the GIL held while the worker needs the GIL: the process
hangs (under gilwatch: a probable deadlock, exit status 67). fixed: prints one line,
exits 0.
"""

import argparse
import importlib
import sys


def run_activity(runtime):
    return runtime.block_on(lambda: 6 * 7)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    blockon = importlib.import_module("blockon_" + args.variant)
    runtime = blockon.Runtime()
    result = run_activity(runtime)
    runtime.close()
    if result != 42:
        print("blockon_%s: wrong result %r" % (args.variant, result))
        sys.exit(1)
    print("blockon_%s: activity returned %d" % (args.variant, result))


if __name__ == "__main__":
    main()
