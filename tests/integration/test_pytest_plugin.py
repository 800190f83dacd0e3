"""The pytest plugin (pytest -p gilwatch.pytest_plugin) on a small test file written
here: per-test thread and fd leaks found with names and targets, fixtures of a wider
scope not blamed, --gilwatch-leaks=fail failing the leaking test, and, under
`gilwatch run`, library findings attributed to the test that was running."""

import json
import os
import subprocess
import textwrap

import pytest

import gilwatch_testlib as lib
from test_stress import PYTHON, module_dir_for

SAMPLE = textwrap.dedent("""\
    import os, threading, pytest

    _kept = []

    @pytest.fixture(scope="module")
    def pool():
        threading.Thread(target=threading.Event().wait, name="module-pool", daemon=True).start()
        return os.pipe()

    def test_leaks_a_thread_and_a_pipe():
        _kept.append(os.pipe())
        threading.Thread(target=threading.Event().wait, name="leaky-test", daemon=True).start()

    def test_cleans_up():
        read_end, write_end = os.pipe()
        os.close(read_end)
        os.close(write_end)
        worker = threading.Thread(target=lambda: None)
        worker.start()
        worker.join()

    def test_uses_a_module_fixture(pool):
        assert pool

    def test_registry_inversion():
        import registry_stress
        registry_stress.register_buggy()
        registry_stress.callbacks_buggy()
    """)


def environment():
    paths = [str(lib.build_dir() / "lib" / "python"), module_dir_for(PYTHON),
             str(lib.source_dir() / "scenarios" / "extensions" / "registry")]
    env = dict(os.environ, PYTHONPATH=":".join(paths), PYTHONDONTWRITEBYTECODE="1")
    env.pop("GILWATCH_OPTIONS", None)
    return env


def pytest_command(tmp_path, *options):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    return [PYTHON, "-m", "pytest", "-p", "gilwatch.pytest_plugin", "-p", "no:cacheprovider", "-q",
            "--rootdir", str(tmp_path), *options, str(tmp_path / "test_sample.py")]


def test_leaks_are_reported_per_test_and_written(tmp_path):
    out = tmp_path / "leaks"
    completed = subprocess.run(pytest_command(tmp_path, "--gilwatch-out", str(out)), env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert completed.returncode == 0, completed.stdout
    assert "1 native thread remains after test_sample.py::test_leaks_a_thread_and_a_pipe: leaky-test" \
        in completed.stdout, completed.stdout
    assert "2 fds remain open after test_sample.py::test_leaks_a_thread_and_a_pipe" in completed.stdout
    assert "module-pool" not in completed.stdout and "test_cleans_up" not in completed.stdout
    [written] = list(out.glob("gilwatch.*.pytest.json"))
    document = json.loads(written.read_text())
    assert document["reporter"] == "pyhooks"
    kinds = sorted((f["kind"], f["context"]) for f in document["findings"])
    assert kinds == [("fd-leak", "test_sample.py::test_leaks_a_thread_and_a_pipe"),
                     ("thread-leak", "test_sample.py::test_leaks_a_thread_and_a_pipe")]


def test_fail_mode_fails_the_leaking_test_only(tmp_path):
    completed = subprocess.run(pytest_command(tmp_path, "--gilwatch-leaks=fail"), env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert completed.returncode == 1, completed.stdout
    assert "ERROR at teardown of test_leaks_a_thread_and_a_pipe" in completed.stdout, completed.stdout
    assert "4 passed, 1 error" in completed.stdout, completed.stdout


def test_findings_name_the_test_that_was_running(tmp_path, out_dir, monkeypatch):
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    run = lib.run_gilwatch(out_dir, pytest_command(tmp_path))
    by_kind = {f["kind"]: f for f in run.findings}
    assert set(by_kind) == {"lock-order-inversion", "thread-leak", "fd-leak"}, by_kind.keys()
    assert by_kind["lock-order-inversion"]["tests"] == ["test_sample.py::test_registry_inversion"]
    assert by_kind["thread-leak"]["tests"] == ["test_sample.py::test_leaks_a_thread_and_a_pipe"]


# ---- every interpreter ----

PYTHONS = lib.load_pythons()


@pytest.fixture(scope="module")
def pytest_interpreters(tmp_path_factory):
    """For each interpreter, one that can run pytest: itself when pytest imports there
    (Debian's, with python3-pytest), else a venv of it with pytest from PyPI."""
    chosen = {}
    for python in PYTHONS:
        has_pytest = subprocess.run([python["interpreter"], "-c", "import pytest"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL).returncode == 0
        if has_pytest:
            chosen[python["tag"]] = python["interpreter"]
            continue
        where = tmp_path_factory.mktemp("pytest-" + python["tag"])
        made = lib.run_bounded([python["interpreter"], "-m", "venv", str(where)], timeout=300)
        assert made.returncode == 0, made.describe()
        pip = lib.run_bounded([where / "bin" / "python", "-m", "pip", "install", "--quiet", "pytest"], timeout=600)
        assert pip.returncode == 0, "pip install pytest from PyPI failed:\n%s" % pip.describe()
        chosen[python["tag"]] = str(where / "bin" / "python")
    return chosen


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_findings_name_the_test_on_every_interpreter(tmp_path, out_dir, monkeypatch, python, pytest_interpreters):
    env = environment()
    env["PYTHONPATH"] = ":".join([str(lib.build_dir() / "lib" / "python"), python["module_dir"],
                                  str(lib.source_dir() / "scenarios" / "extensions" / "registry")])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    command = pytest_command(tmp_path)
    command[0] = pytest_interpreters[python["tag"]]
    run = lib.run_gilwatch(out_dir, command)
    by_kind = {f["kind"]: f for f in run.findings}
    assert set(by_kind) == {"lock-order-inversion", "thread-leak", "fd-leak"}, run.describe()
    assert by_kind["lock-order-inversion"]["tests"] == ["test_sample.py::test_registry_inversion"]
    assert by_kind["thread-leak"]["tests"] == ["test_sample.py::test_leaks_a_thread_and_a_pipe"]
