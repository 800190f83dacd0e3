"""Drives the poisoned-registry fixture (poison.c): one good registration, one whose
validation fails on the native thread, then a look at the registry lock.

    python3 drive.py buggy|fixed --module-dir DIR

buggy: the failing registration abandons the write lock (abandoned-lock); the
registry reports itself poisoned. fixed: the lock is released on the error path.
Prints one line, exits 0.
"""

import argparse
import importlib
import sys


def register_plugins(poison):
    ok = poison.register_async("good-plugin", False)
    failed = poison.register_async("broken-plugin", True)
    return ok, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    poison = importlib.import_module("poison_" + args.variant)
    ok, failed = register_plugins(poison)
    print("poison_%s: registered %s/%s; registry %s" % (
        args.variant, ok, failed, "poisoned" if poison.is_poisoned() else "usable"))


if __name__ == "__main__":
    main()
