"""Callables for scenarios/pyo3/stress.toml: the PyO3 registry behind a std::sync::Mutex
hammered from several threads — registrations from Python while dispatchers, native
threads, take the lock and call back into Python.

Buggy: registrations take the lock with the GIL held and dispatchers attach holding it,
so some runs deadlock and others show the contended waits and the inversion. Fixed:
nothing, in any run.
"""

import rs_registry

_count = [0]


def _noop():
    return None


def _register(variant):
    _count[0] += 1
    rs_registry.register("mutex", variant, "task-%d" % _count[0], _noop)


def _dispatch(variant):
    # A dispatcher that waits for the lock (held 2 ms here, detached), then runs the
    # callbacks: attached while holding it (buggy) or after releasing it (fixed).
    rs_registry.dispatch_after_contention("mutex", variant, 2)


def register_buggy():
    _register("buggy")


def dispatch_buggy():
    _dispatch("buggy")


def register_fixed():
    _register("fixed")


def dispatch_fixed():
    _dispatch("fixed")
