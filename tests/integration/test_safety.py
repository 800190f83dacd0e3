"""The preload in awkward places: locks taken by signal handlers that interrupt the
program's own lock operations."""

import json
import os

import pytest

import gilwatch_testlib as lib


def test_locks_in_a_signal_handler_neither_crash_nor_confuse_the_held_stack(out_dir):
    # The handler interrupts the main loop hundreds of times, including in the middle of
    # the preload updating its held-lock stack; a half-updated stack would leave the
    # handler's lock behind and produce a false inversion.
    for attempt in range(3):
        run = lib.run_gilwatch(out_dir / str(attempt), [lib.program_path("signal_handler_locks")])
        assert run.returncode == 0, run.describe()
        assert run.findings == [], run.describe()


def preload_run(out_dir, command):
    """The library preloaded without the command, writing its results under
    OUT_DIR/raw; then `gilwatch report OUT_DIR` merges them into OUT_DIR/findings.json."""
    env = dict(os.environ, LD_PRELOAD=str(lib.build_dir() / "lib" / "libgilwatch.so"),
               GILWATCH_OPTIONS="out_dir=%s" % (out_dir / "raw"))
    run = lib.run_bounded(command, env=env)
    report = lib.run_bounded([lib.gilwatch_path(), "report", out_dir, "-q"])
    with open(out_dir / "findings.json") as f:
        return run, report, json.load(f)["findings"]


@pytest.mark.parametrize("mode", ["reopen", "keep"])
def test_finding_text_never_lands_in_a_file_the_program_put_on_fd_2(out_dir, mode):
    # reopen: the program closed fd 2 and its data file got it; the library's finding
    # text must stay out of it. keep (the twin): fd 2 is still the one the program
    # started with, and the finding is printed there as ever.
    data = out_dir / "data.txt"
    run, report, findings = preload_run(out_dir, [lib.program_path("stderr_reopened"), mode, data])
    assert data.read_text() == "data 1\ndata 2\n", data.read_text()
    assert [f["kind"] for f in findings] == [lib.LOCK_ORDER_INVERSION], report.describe()
    printed = "WARNING: gilwatch: lock-order-inversion" in run.stderr
    assert printed == (mode == "keep"), run.describe()
