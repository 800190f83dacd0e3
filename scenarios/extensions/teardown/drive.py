"""Drives the teardown fixture (teardown.c): start a Pool, let its native worker call
back into Python for a moment, then drop the pool, which joins the worker.

    python3 drive.py buggy|fixed --module-dir DIR

buggy: the join happens with the GIL held while the worker waits for the GIL: the
process hangs (under gilwatch: a deadlock, exit status 67). fixed: prints one line,
exits 0.
"""

import argparse
import importlib
import sys
import time


def shutdown_pool(teardown):
    pool = teardown.Pool()
    time.sleep(0.05)
    ticks = pool.ticks
    del pool  # the last reference: tp_dealloc joins the worker
    return ticks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    teardown = importlib.import_module("teardown_" + args.variant)
    ticks = shutdown_pool(teardown)
    print("teardown_%s: worker stopped after %d rounds" % (args.variant, ticks))


if __name__ == "__main__":
    main()
