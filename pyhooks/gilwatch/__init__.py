"""gilwatch's Python side: what runs inside the process under test.

Standard library only, Python 3.8 and later. It works with or without libgilwatch.so
preloaded; with it, it also talks to the library through its exported functions.

- install(): marks the exit boundary (an atexit handler registered first, so it runs
  last, tells the library that finalization begins) and gives threads started with
  `threading` their Python names as OS thread names, which is what findings show.
- snapshot: the native threads of the process (/proc/self/task) and its open fds
  (/proc/self/fd, with what each points to).
- driver: the scenario driver `gilwatch stress` runs in each subprocess
  (python -m gilwatch.driver SPEC.json); spec_json: its JSON without the json package.
- pytest_plugin: per-test thread and fd leak checks and finding attribution
  (pytest -p gilwatch.pytest_plugin).
"""

from gilwatch import _native
from gilwatch.snapshot import Snapshot, native_threads, open_fds

__all__ = ["install", "library_loaded", "Snapshot", "native_threads", "open_fds", "exit_begun"]

_installed = False


def library_loaded():
    """Whether libgilwatch.so is loaded in this process."""
    return _native.library() is not None


def exit_begun():
    """Whether the interpreter has reached its exit boundary (see install())."""
    return _native.exit_marked()


def install(exit_marker=True, thread_names=True):
    """Installs the hooks once per process; later calls do nothing.

    exit_marker: register, before anything else can, an atexit handler that tells the
    library the interpreter is exiting. atexit runs handlers last-registered first, so
    this one runs after every handler the program registers: from then on the
    interpreter tears down, and a native thread that asks for the GIL is a
    finalization-attach finding (deterministic-teardown-pr.md's boundary).

    thread_names: threads started with `threading` set their OS thread name (15 bytes)
    to their Python name when they start, so findings and /proc show it.
    """
    global _installed
    if _installed:
        return
    _installed = True
    if exit_marker:
        _native.register_exit_marker()
    if thread_names:
        _native.name_python_threads()
