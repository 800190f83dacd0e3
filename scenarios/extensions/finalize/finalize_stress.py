"""Callables for `gilwatch stress` finalization scenarios on the finalization fixture
(scenarios/suites/seeds.toml): start the native worker that keeps attaching to the
interpreter, then let the driver end the interpreter in each of its ways.

start_buggy leaves the worker running into finalization (finalization-attach);
start_fixed registers finalize.stop_worker with atexit, the seed's fix, so the worker is
stopped and joined before the interpreter finalizes.

The module is imported once, on the first call: the daemon-threads way calls start()
from daemon threads until the process ends, and a daemon thread inside the import
machinery while the interpreter finalizes crashes CPython 3.10 (and older) by itself:
_imp.acquire_lock (from a module lock's weakref callback) releases the GIL, then waits
on the import lock that _PyImport_Fini has freed and set to NULL in the meantime
(SIGSEGV in sem_wait). The scenario is about the native worker, not that.
"""

import atexit
import importlib

_finalize = None


def _start():
    global _finalize
    if _finalize is None:
        _finalize = importlib.import_module("finalize")
    _finalize.start_worker()
    return _finalize


def start_buggy():
    return _start()


def start_fixed():
    finalize = _start()
    atexit.register(finalize.stop_worker)
    return finalize
