"""The runtime detectors end to end on the native programs (scenarios/programs) under
`gilwatch run`. Each buggy fixture is found with the right kind; each
fixed twin gets zero findings. Deadlocking fixtures really hang without gilwatch; under
it they end with the deadlock exit status, well inside the test's timeout.
"""

import pytest

import gilwatch_testlib as lib


# ---- native programs ----

def test_abba_hang_is_diagnosed_as_a_deadlock(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("abba_hang")])
    finding = lib.assert_deadlock(run, probable=False)
    assert sorted(lock["kind"] for lock in finding["locks"]) == ["mutex", "mutex"], finding
    functions = set()
    for thread in finding["threads"]:
        functions |= lib.native_functions(thread)
    assert {"transfer_a_to_b", "transfer_b_to_a"} <= functions, functions
    assert all("waits for mutex" in role and "held by thread" in role for role in lib.roles(finding)), lib.roles(finding)


@pytest.mark.parametrize("variant", ["mutex", "mutex-clock", "rwlock", "rwlock-clock"])
def test_timed_waits_that_back_out_of_a_cycle_are_no_deadlock(out_dir, variant):
    # Both threads wait for each other's lock, but with deadlines: teller-2's passes after
    # 2 s and it backs off, so the program finishes on its own (abba_hang, its twin with
    # untimed locks, is ended as a deadlock). The order the waits took is still the
    # inversion the timeout papers over.
    run = lib.run_gilwatch(out_dir, [lib.program_path("timed_backoff"), variant])
    assert "timed_backoff (%s): 1 transfer backed off after its deadline; done" % variant \
        in run.completed.stdout, run.describe()
    finding = lib.assert_single_inversion(run, 2, ["mutex", "mutex"] if variant.startswith("mutex")
                                          else ["rwlock", "rwlock"])
    functions = set()
    for thread in finding["threads"]:
        functions |= lib.native_functions(thread)
    assert "transfer" in functions, functions


def test_abba_hang_keep_deadlocked_leaves_the_process_waiting(out_dir):
    # With --keep-deadlocked the deadlock is reported but the process hangs as it
    # would without gilwatch: the test's timeout ends it.
    completed = lib.run_bounded_expect_timeout(
        [lib.gilwatch_path(), "run", "--keep-deadlocked", "--out", out_dir, "--", lib.program_path("abba_hang")],
        timeout=5)
    assert completed.timed_out, completed.describe()
    raw = list((out_dir / "raw").glob("gilwatch.*.json"))
    assert raw and any('"deadlock"' in path.read_text() for path in raw), raw


def test_fork_child_waiting_on_inherited_lock(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("fork_with_lock_held")])
    kinds = run.kinds()
    assert "fork-with-lock-held" in kinds, run.describe()
    finding = lib.findings_of(run, "fork-with-lock-held")[0]
    assert [lock["kind"] for lock in finding["locks"]] == ["mutex"], finding
    # The child then waits forever for a lock whose owner does not exist in it.
    assert "deadlock" in kinds, run.describe()
    assert run.returncode == lib.DEADLOCK_EXIT_STATUS, run.describe()


def test_fork_with_atfork_handlers_is_clean(out_dir):
    lib.assert_clean(lib.run_gilwatch(out_dir, [lib.program_path("fork_with_atfork")]))


def test_thread_ending_with_locks_held(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("thread_exit_holding_lock")])
    abandoned = lib.findings_of(run, "abandoned-lock")
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    details = sorted(f.get("detail") for f in abandoned)
    assert details == ["thread-ended", "thread-ended"], run.describe()
    lock_kinds = sorted(lock["kind"] for f in abandoned for lock in f["locks"])
    assert lock_kinds == ["mutex", "rwlock"], run.describe()


def test_thread_ending_clean_is_silent(out_dir):
    lib.assert_clean(lib.run_gilwatch(out_dir, [lib.program_path("thread_exit_clean")]))


def test_lock_misuse(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("lock_misuse")])
    details = sorted(f.get("detail") for f in lib.findings_of(run, "abandoned-lock"))
    assert details == ["destroyed-while-held", "unlock-by-non-owner"], run.describe()


def test_lock_misuse_fixed_is_silent(out_dir):
    lib.assert_clean(lib.run_gilwatch(out_dir, [lib.program_path("lock_misuse_fixed")]))




# ---- rwlock preference and a thread's own rwlock ----

def test_read_read_cycle_through_a_writer_preferring_rwlock_is_an_inversion(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("rwlock_preference"), "writer-preferring"])
    assert "rwlock_preference (writer-preferring): done" in run.completed.stdout, run.describe()
    finding = lib.assert_single_inversion(run, 2, ["mutex", "rwlock"])
    modes = sorted((edge["held_mode"], edge["acquired_mode"]) for edge in finding["edges"])
    assert modes == [("read", "write"), ("write", "read")], finding["edges"]
    lib.assert_takers_match_threads(finding, ["read_registry_then_lock_jobs", "lock_jobs_then_take_registry"])


def test_read_read_cycle_through_a_reader_preferring_rwlock_is_silent(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("rwlock_preference"), "reader-preferring"])
    assert "rwlock_preference (reader-preferring): done" in run.completed.stdout, run.describe()
    lib.assert_clean(run)


def test_cycle_closing_through_a_write_on_a_reader_preferring_rwlock_is_an_inversion(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("rwlock_preference"), "write-closing"])
    finding = lib.assert_single_inversion(run, 2, ["mutex", "rwlock"])
    modes = sorted((edge["held_mode"], edge["acquired_mode"]) for edge in finding["edges"])
    assert modes == [("read", "write"), ("write", "write")], finding["edges"]


@pytest.mark.parametrize("variant,detail,probable,second_call", [
    ("write-while-writing", "rwlock-write-while-writing", False, "EDEADLK"),
    ("read-while-writing", "rwlock-read-while-writing", False, "EDEADLK"),
    ("recursive-read", "rwlock-recursive-read", True, "0"),
])
def test_a_thread_asking_for_a_rwlock_it_holds(out_dir, variant, detail, probable, second_call):
    run = lib.run_gilwatch(out_dir, [lib.program_path("rwlock_relock"), variant])
    # The program's behaviour is its own: glibc's answer reaches it unchanged.
    assert "rwlock_relock (%s): second call %s" % (variant, second_call) in run.completed.stdout, run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert run.kinds() == ["deadlock"], run.describe()
    finding = run.findings[0]
    assert finding.get("detail") == detail, finding
    assert finding["probable"] is probable, finding
    assert [lock["kind"] for lock in finding["locks"]] == ["rwlock"], finding
    assert len(finding["threads"]) == 1, finding
    assert "relock" in lib.native_functions(finding["threads"][0]), finding["threads"][0]


@pytest.mark.parametrize("variant", ["recursive-read-reader-preferring", "write-then-read"])
def test_a_thread_rereading_a_reader_preferring_rwlock_or_reading_after_unlock_is_silent(out_dir, variant):
    run = lib.run_gilwatch(out_dir, [lib.program_path("rwlock_relock"), variant])
    assert "rwlock_relock (%s): second call 0" % variant in run.completed.stdout, run.describe()
    lib.assert_clean(run)
