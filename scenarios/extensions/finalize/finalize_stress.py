"""Callables for `gilwatch stress` finalization scenarios on the finalization fixture
(scenarios/suites/seeds.toml): start the native worker that keeps attaching to the
interpreter, then let the driver end the interpreter in each of its ways.

start_buggy leaves the worker running into finalization (finalization-attach);
start_fixed registers finalize.stop_worker with atexit, the seed's fix, so the worker is
stopped and joined before the interpreter finalizes.
"""

import atexit
import importlib


def _start():
    finalize = importlib.import_module("finalize")
    finalize.start_worker()
    return finalize


def start_buggy():
    return _start()


def start_fixed():
    finalize = _start()
    atexit.register(finalize.stop_worker)
    return finalize
