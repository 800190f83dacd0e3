"""CPython's own threading tests under `gilwatch run`, on every interpreter: correct
code, so zero findings, and the tests pass as they do without gilwatch. Debian's
python3.11 gets its tests from libpython3.11-testsuite (scripts/install-deps.sh); pyenv's
interpreters carry theirs.
"""

import subprocess

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
MODULES = ["test_threading", "test_thread", "test_threadsignals", "test_queue"]
# Fails without gilwatch too on interpreters whose start-up imports threading already
# (pyenv's 3.11.7 here): "threading is already imported".
IGNORED = ["test_import_from_another_thread"]


def has_test_suite(python):
    return subprocess.run([python["interpreter"], "-c", "import test.test_threading"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_threading_tests_run_clean(out_dir, python):
    if not has_test_suite(python):
        if python["interpreter"] == str(lib.DEBIAN_PYTHON):
            pytest.fail("Debian's test suite is missing: apt-get install libpython3.11-testsuite")
        pytest.skip("%s has no test package" % python["interpreter"])
    command = [python["interpreter"], "-m", "test"]
    for name in IGNORED:
        command += ["-i", name]
    run = lib.run_gilwatch(out_dir, command + MODULES, timeout=900)
    lib.assert_clean(run)
    assert "SUCCESS" in run.completed.stdout, run.describe()
