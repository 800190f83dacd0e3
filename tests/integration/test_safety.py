"""The preload in awkward places: locks taken by signal handlers that interrupt the
program's own lock operations."""

import gilwatch_testlib as lib


def test_locks_in_a_signal_handler_neither_crash_nor_confuse_the_held_stack(out_dir):
    # The handler interrupts the main loop hundreds of times, including in the middle of
    # the preload updating its held-lock stack; a half-updated stack would leave the
    # handler's lock behind and produce a false inversion.
    for attempt in range(3):
        run = lib.run_gilwatch(out_dir / str(attempt), [lib.program_path("signal_handler_locks")])
        assert run.returncode == 0, run.describe()
        assert run.findings == [], run.describe()
