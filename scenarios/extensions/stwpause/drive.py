"""Drives the stop-the-world fixture (stwpause.c): one variant, once.

    python3 drive.py buggy|fixed gc|traverse|atfork --module-dir DIR

The buggy module deadlocks (for ever, without gilwatch); the fixed one prints one line
and exits 0.
"""

import argparse
import importlib
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=["buggy", "fixed"])
    parser.add_argument("variant", choices=["gc", "traverse", "atfork"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    stwpause = importlib.import_module("stwpause_" + args.module)
    stwpause.run(args.variant)
    print("stwpause_%s: %s done" % (args.module, args.variant))


if __name__ == "__main__":
    main()
