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


# The seed's own lock, a std::sync::RwLock (stress-rwlock.toml, bench/rwlock_early_warning.py):
# registrations take it for writing with the GIL held, dispatchers (native threads) read
# it and attach while holding it. Nothing forces a wait: whether a run shows the pattern
# is up to the scheduler.

def register_buggy_rwlock():
    _count[0] += 1
    rs_registry.register("std", "buggy", "task-%d" % _count[0], _noop)


def dispatch_buggy_rwlock():
    rs_registry.dispatch_in_background("std", "buggy", 0)
    rs_registry.join_background()


def dispatch_buggy_rwlock_sometimes():
    # One call in eight dispatches: the window is rarer.
    _count[0] += 1
    if _count[0] % 8 == 0:
        dispatch_buggy_rwlock()
