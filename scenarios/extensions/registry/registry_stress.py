"""Callables for `gilwatch stress` hammer scenarios on the registry fixture
(scenarios/suites/seeds.toml): many threads register tasks, look them up and run the
native worker's callbacks at the same time — the gil-rwlock-inversion seed's workload.

Each function takes no argument; the module of the variant is imported on first use
(the fixtures' module directory must be on PYTHONPATH).
"""

import importlib
import threading

_modules = {}
_worker_lock = threading.Lock()  # the fixture runs one native worker at a time


def _registry(variant):
    module = _modules.get(variant)
    if module is None:
        module = _modules[variant] = importlib.import_module("registry_" + variant)
    return module


def _task(name, round_number):
    return (name, round_number)


def _register(variant):
    name = "task-%d" % (threading.get_ident() % 8)
    _registry(variant).register(name, _task)


def _lookup(variant):
    return _registry(variant).task_count()


def _callbacks(variant):
    # Without blocking: another thread's worker round is as good as ours.
    if _worker_lock.acquire(blocking=False):
        try:
            registry = _registry(variant)
            registry.start_worker(1)
            registry.join_worker()
        finally:
            _worker_lock.release()


def register_buggy():
    _register("buggy")


def lookup_buggy():
    return _lookup("buggy")


def callbacks_buggy():
    _callbacks("buggy")


def register_fixed():
    _register("fixed")


def lookup_fixed():
    return _lookup("fixed")


def callbacks_fixed():
    _callbacks("fixed")
