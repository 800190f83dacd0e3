"""Drives the PyMutex fixture (pymutex.c, CPython 3.13 and later).

    python3 drive.py [--ms N] --module-dir DIR

A worker thread holds the extension's PyMutex for N ms (default 300) with the GIL
released; meanwhile this thread takes it (take_registry_mutex) and so waits in the
mutex's slow path, parked with the GIL released. Correct code: no findings; with
--profile, one contended pymutex acquisition of about N ms. Prints one line, exits 0;
exits 3 with a message before 3.13.
"""

import argparse
import importlib
import sys
import threading
import time


def contend_for_registry(fixture, ms):
    holder = threading.Thread(target=fixture.hold_detached, args=(ms,), name="holder")
    holder.start()
    time.sleep(ms / 6000.0)  # the holder takes the mutex first
    fixture.take_registry_mutex()
    holder.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ms", type=int, default=300)
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    fixture = importlib.import_module("pymutex_fixture")
    if not fixture.available:
        sys.stderr.write("pymutex_fixture: no PyMutex before CPython 3.13 (this is %s)\n" % sys.version.split()[0])
        sys.exit(3)
    contend_for_registry(fixture, args.ms)
    print("pymutex_fixture: contended for %d ms" % args.ms)


if __name__ == "__main__":
    main()
