"""Drives the GIL-release fixture (capi.c): parse a batch of key=value records with the
GIL released.

    python3 drive.py buggy|fixed [--bad] --module-dir DIR

Without --bad every record is well formed. With --bad one is not: the fixed module
raises ValueError, which the driver catches and prints; the buggy module builds that
error without the GIL (on CPython this usually crashes the process). Prints one line,
exits 0.
"""

import argparse
import importlib
import sys


def parse_batch(capi, bad):
    records = [b"key%d=value%d" % (i, i) for i in range(64)]
    if bad:
        records[17] = b"no separator here"
    return capi.parse_records(records)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["buggy", "fixed"])
    parser.add_argument("--bad", action="store_true")
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    capi = importlib.import_module("capi_" + args.variant)
    try:
        parsed = parse_batch(capi, args.bad)
    except ValueError as error:
        print("capi_%s: %s" % (args.variant, error))
        return
    print("capi_%s: %d records" % (args.variant, len(parsed)))


if __name__ == "__main__":
    main()
