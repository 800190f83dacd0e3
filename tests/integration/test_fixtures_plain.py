"""The fixtures on their own, without gilwatch: every program and both registry
variants, on every interpreter, run to completion and exit 0. If these fail, a failure
in the gilwatch tests says nothing about gilwatch."""

import pytest

import gilwatch_testlib as lib

PROGRAMS = ["abba", "three_lock_cycle", "rwlock_cycle", "fork_child_inversion",
            "consistent_order", "trylock_reversal", "reuse_one_thread", "read_read",
            "many_threads", "signal_handler_locks"]
PYTHONS = lib.load_pythons()


def test_pythons_json_lists_interpreters(build_dir):
    assert lib.pythons_json_path().is_file(), "configure the build first"
    assert PYTHONS, "no interpreter was found at configure time"
    for entry in PYTHONS:
        assert set(entry) >= {"tag", "interpreter", "version", "shared_libpython", "module_dir"}


def test_debian_python_is_built(build_dir):
    lib.check_debian_python_is_built(PYTHONS)


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_runs_alone(build_dir, program):
    path = lib.program_path(program)
    assert path.is_file(), "%s is not built" % path
    completed = lib.run_bounded([path], timeout=60)
    assert completed.returncode == 0, completed.describe()
    assert len(completed.stdout.splitlines()) <= 1, completed.describe()
    assert completed.stderr == "", completed.describe()


def test_reuse_fixture_really_reuses_addresses(build_dir):
    completed = lib.run_bounded([lib.program_path("reuse_one_thread")], timeout=60)
    assert "heap std::mutex addresses reused: yes" in completed.stdout, completed.describe()


@pytest.mark.parametrize("variant", ["buggy", "fixed"])
@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_registry_driver_runs_alone(build_dir, python, variant):
    lib.require_extension(python, "registry_" + variant)
    completed = lib.run_bounded([python["interpreter"], lib.registry_driver(), variant,
                                 "--module-dir", python["module_dir"]], timeout=60)
    assert completed.returncode == 0, completed.describe()
    lines = completed.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("registry_%s: " % variant), completed.describe()
    # 4 threads x 8 names, 3 rounds: every registered task was called every round.
    assert "registered 32 tasks" in lines[0] and "96 callbacks" in lines[0], lines[0]


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_fixed_registry_never_deadlocks_when_overlapping(build_dir, python):
    lib.require_extension(python, "registry_fixed")
    for _ in range(3):
        completed = lib.run_bounded([python["interpreter"], lib.registry_driver(), "fixed",
                                     "--overlap", "--threads", "8", "--tasks", "200",
                                     "--rounds", "200", "--module-dir", python["module_dir"]],
                                    timeout=60)
        assert completed.returncode == 0, completed.describe()


@pytest.mark.parametrize("variant", ["mutex", "mutex-clock", "rwlock", "rwlock-clock"])
def test_timed_backoff_finishes_alone(build_dir, variant):
    completed = lib.run_bounded([lib.program_path("timed_backoff"), variant], timeout=60)
    assert completed.returncode == 0, completed.describe()
    assert completed.stdout == "timed_backoff (%s): 1 transfer backed off after its deadline; done\n" % variant, \
        completed.describe()


@pytest.mark.parametrize("mode", ["reopen", "keep"])
def test_stderr_reopened_writes_only_its_data_alone(build_dir, tmp_path, mode):
    data = tmp_path / "data.txt"
    completed = lib.run_bounded([lib.program_path("stderr_reopened"), mode, data], timeout=60)
    assert completed.returncode == 0 and completed.stderr == "", completed.describe()
    assert data.read_text() == "data 1\ndata 2\n"


@pytest.mark.parametrize("kind", ["sqlite3", "mmap", "socket"])
@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_exit_finalizers_script_runs_alone(build_dir, python, kind):
    script = lib.source_dir() / "scenarios" / "python" / "exit_finalizers.py"
    completed = lib.run_bounded([python["interpreter"], "-W", "always::ResourceWarning", script, kind], timeout=60)
    assert completed.returncode == 0, completed.describe()
    assert completed.stdout == "exit_finalizers (%s): left open until exit\n" % kind, completed.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_timed_wait_holding_gil_script_runs_alone(build_dir, python):
    script = lib.source_dir() / "scenarios" / "python" / "timed_wait_holding_gil.py"
    completed = lib.run_bounded([python["interpreter"], script], timeout=60)
    assert completed.returncode == 0, completed.describe()
    assert completed.stdout == "timed_wait_holding_gil: the wait timed out (ETIMEDOUT); done\n", completed.describe()
