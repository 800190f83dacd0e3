"""gilwatch run on the native fixtures (scenarios/programs, docs/fixtures.md): each
seeded inversion is reported once, with the right locks, threads and stacks; each
correct program gets no finding at all."""

import pytest

import gilwatch_testlib as lib


def run_program(out_dir, name):
    path = lib.program_path(name)
    assert path.is_file(), "%s is not built" % path
    return lib.run_gilwatch(out_dir, [path])


def test_abba_is_one_inversion_between_two_mutexes(out_dir):
    run = run_program(out_dir, "abba")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    lib.assert_takers_match_threads(finding, ["take_a_then_b", "take_b_then_a"])


def test_three_lock_cycle_is_one_inversion_over_three_mutexes(out_dir):
    run = run_program(out_dir, "three_lock_cycle")
    finding = lib.assert_single_inversion(run, lock_count=3, lock_kinds=["mutex"] * 3)
    lib.assert_takers_match_threads(finding, ["take_a_then_b", "take_b_then_c", "take_c_then_a"])


def test_rwlock_cycle_is_one_inversion_between_two_rwlocks(out_dir):
    run = run_program(out_dir, "rwlock_cycle")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["rwlock", "rwlock"])
    lib.assert_takers_match_threads(finding, ["read_a_then_write_b", "read_b_then_write_a"])


@pytest.mark.parametrize("program", ["consistent_order", "trylock_reversal",
                                     "reuse_one_thread", "read_read", "many_threads"])
def test_correct_program_gets_no_findings(out_dir, program):
    run = run_program(out_dir, program)
    assert run.findings == [], run.describe()
    assert run.returncode == 0, run.describe()


def test_reused_lock_memory_was_really_reused_under_gilwatch(out_dir):
    # Otherwise reuse_one_thread's silence would prove nothing about stale edges.
    run = run_program(out_dir, "reuse_one_thread")
    assert "heap std::mutex addresses reused: yes" in run.completed.stdout, run.describe()


def test_many_threads_finishes_quickly(out_dir):
    # About a tenth of a second without gilwatch. Generous, but a per-thread leak or a
    # graph search that grows with every lock would blow far past it.
    run = run_program(out_dir, "many_threads")
    assert run.completed.seconds < 60, run.describe()
