"""Drives the subinterpreter fixture (subinterp.c, CPython 3.12 and later).

    python3 drive.py own|shared|own-inversion|own-public --module-dir DIR

The main interpreter orders shared_lock -> GIL (a native thread); a subinterpreter then
orders GIL -> shared_lock. `shared`: a legacy subinterpreter sharing the main GIL — a
real lock-order inversion. `own`: an isolated subinterpreter with its own GIL — two
different GILs, no cycle, no finding. `own-inversion`: both orders inside the isolated
subinterpreter (a native thread attaches to it holding shared_lock): an inversion on
that interpreter's own GIL. The subinterpreter is made by CPython's own module
(_xxsubinterpreters in 3.12, _interpreters from 3.13). `own-public`: as `own`, through
the public concurrent.interpreters (3.14+; exits 3 with a message before). Prints one
line, exits 0; exits 3 with a message before 3.12.
"""

import argparse
import importlib
import sys


def new_subinterpreter(own_gil):
    try:
        import _interpreters as interpreters  # 3.13
        return interpreters, interpreters.create("isolated" if own_gil else "legacy")
    except ImportError:
        import _xxsubinterpreters as interpreters  # 3.12
        return interpreters, interpreters.create(isolated=own_gil)


def take_lock_in_public_subinterpreter(module_dir):
    from concurrent import interpreters  # 3.14: isolated, with its own GIL, by default
    interp = interpreters.create()
    try:
        interp.exec("import sys\nsys.path.insert(0, %r)\nimport subinterp_fixture\n"
                    "subinterp_fixture.take_lock_holding_gil()\n" % module_dir)
    finally:
        interp.close()


def take_lock_in_subinterpreter(module_dir, own_gil, both_orders=False):
    interpreters, interp = new_subinterpreter(own_gil)
    first = "subinterp_fixture.lock_then_attach_here_in_native_thread()\n" if both_orders else ""
    try:
        interpreters.run_string(interp, "import sys\nsys.path.insert(0, %r)\nimport subinterp_fixture\n%s"
                                "subinterp_fixture.take_lock_holding_gil()\n" % (module_dir, first))
    finally:
        interpreters.destroy(interp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gil", choices=["own", "shared", "own-inversion", "own-public"])
    parser.add_argument("--module-dir", required=True)
    args = parser.parse_args()
    if sys.version_info < (3, 12):
        sys.stderr.write("subinterp_fixture: no per-interpreter GIL before CPython 3.12 (this is %s)\n"
                         % sys.version.split()[0])
        sys.exit(3)
    if args.gil == "own-public" and sys.version_info < (3, 14):
        sys.stderr.write("subinterp_fixture: no concurrent.interpreters before CPython 3.14 (this is %s)\n"
                         % sys.version.split()[0])
        sys.exit(3)
    sys.path.insert(0, args.module_dir)
    fixture = importlib.import_module("subinterp_fixture")
    if args.gil == "own-public":
        fixture.lock_then_ensure_in_native_thread()
        take_lock_in_public_subinterpreter(args.module_dir)
    elif args.gil == "own-inversion":
        take_lock_in_subinterpreter(args.module_dir, True, both_orders=True)
    else:
        fixture.lock_then_ensure_in_native_thread()
        take_lock_in_subinterpreter(args.module_dir, args.gil == "own")
    print("subinterp_fixture: %s GIL done" % args.gil)


if __name__ == "__main__":
    main()
