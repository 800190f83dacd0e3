"""`pip install .` and `pip wheel .`: the scikit-build-core build of pyproject.toml puts
the `gilwatch` command on the venv's PATH, libgilwatch.so inside the package and the
Python side in place; one wheel serves every interpreter. Builds from PyPI's
scikit-build-core (pip's build isolation) with the system's compiler and libraries."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import gilwatch_testlib as lib

DEBIAN_PYTHON = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else sys.executable
BUILD_TIMEOUT = 1500


def run(command, timeout=600, **kwargs):
    completed = subprocess.run([str(c) for c in command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=timeout, **kwargs)
    return completed


def describe(completed):
    return "exit %d\n--- stdout\n%s\n--- stderr\n%s" % (completed.returncode, completed.stdout[-4000:],
                                                        completed.stderr[-4000:])


def make_venv(python, where):
    completed = run([python, "-m", "venv", where])
    assert completed.returncode == 0, describe(completed)
    return pathlib.Path(where) / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv of Debian's interpreter with `pip install <source tree>` done."""
    bin_dir = make_venv(DEBIAN_PYTHON, tmp_path_factory.mktemp("venv") / "debian")
    completed = run([bin_dir / "pip", "install", "--no-cache-dir", lib.source_dir()], timeout=BUILD_TIMEOUT)
    assert completed.returncode == 0, describe(completed)
    return bin_dir


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, installed):
    out = tmp_path_factory.mktemp("wheel")
    completed = run([installed / "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", out, lib.source_dir()],
                    timeout=BUILD_TIMEOUT)
    assert completed.returncode == 0, describe(completed)
    wheels = list(out.glob("gilwatch-*.whl"))
    assert len(wheels) == 1, wheels
    # No libpython inside: one wheel for every CPython.
    assert wheels[0].name.endswith("-py3-none-linux_x86_64.whl"), wheels[0].name
    return wheels[0]


def test_pip_install_puts_the_command_library_and_package_in_place(installed):
    version = run([installed / "gilwatch", "--version"])
    assert version.returncode == 0 and version.stdout.strip() == "gilwatch 0.1.0", describe(version)
    where = run([installed / "python", "-c", "import gilwatch, os; print(os.path.dirname(gilwatch.__file__))"])
    assert where.returncode == 0, describe(where)
    package = pathlib.Path(where.stdout.strip())
    assert (package / "lib" / "libgilwatch.so").is_file()
    assert (package / "bin" / "gilwatch").is_file()
    assert (package / "driver.py").is_file() and (package / "pytest_plugin.py").is_file()


def test_installed_gilwatch_finds_the_registry_inversion(installed, tmp_path):
    """The installed command and library on a real bug: the registry fixture built for
    Debian's interpreter, run by the venv's python."""
    module_dir = [p["module_dir"] for p in lib.load_pythons() if p["interpreter"] == DEBIAN_PYTHON]
    if not module_dir:
        pytest.fail("no fixture extensions were built for %s" % DEBIAN_PYTHON)
    out = tmp_path / "out"
    completed = run([installed / "gilwatch", "run", "--out", out, "--", installed / "python", lib.registry_driver(),
                     "buggy", "--module-dir", module_dir[0]])
    assert completed.returncode == 66, describe(completed)
    findings = json.loads((out / "findings.json").read_text())["findings"]
    assert [f["kind"] for f in findings] == ["lock-order-inversion"], findings
    # The report links the findings documentation installed with the package.
    assert "share/doc/gilwatch/findings.md#lock-order-inversion" in (out / "report.html").read_text()


def second_interpreter():
    for python in lib.load_pythons():
        if python["interpreter"] != DEBIAN_PYTHON and python.get("shared_libpython"):
            return python["interpreter"]
    return None


def test_the_wheel_serves_a_second_interpreter(wheel, tmp_path):
    python = second_interpreter()
    if python is None:
        pytest.skip("no second interpreter (pyenv) on this machine: the wheel was built, not tried elsewhere")
    bin_dir = make_venv(python, tmp_path / "venv")
    completed = run([bin_dir / "pip", "install", "--no-cache-dir", wheel])
    assert completed.returncode == 0, describe(completed)
    # The stress runner finds the installed Python package (its driver) by itself.
    script = tmp_path / "work.py"
    script.write_text("import threading\nt = threading.Thread(target=sum, args=([1, 2],))\nt.start()\nt.join()\n")
    suite = tmp_path / "suite.toml"
    suite.write_text('[[scenario]]\nname = "threads"\nkind = "script"\nscript = "%s"\nruns = 2\n' % script)
    out = tmp_path / "out"
    stress = run([bin_dir / "gilwatch", "stress", suite, "--python", bin_dir / "python", "--out", out, "-q"])
    assert stress.returncode == 0, describe(stress)
    assert "2 runs: 2 ok" in stress.stderr, describe(stress)
    imported = run([bin_dir / "python", "-c", "import gilwatch.driver, gilwatch.snapshot, gilwatch.results"])
    assert imported.returncode == 0, describe(imported)


LEAKY_TEST = '''
import os
import threading
import time

_keep = []


import pytest


@pytest.mark.parametrize("round", [1, 2])
def test_leaks_a_native_thread(round):
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="leaky-worker", daemon=True)
    t.start()
    _keep.append((t, stop))


def test_is_clean():
    time.sleep(0.01)
'''


def test_pytest_gilwatch_runs_the_suite_under_gilwatch(installed, tmp_path):
    """The entry point registers the plugin; `pytest --gilwatch` re-runs itself under
    `gilwatch run`; without the flag the installed plugin does nothing."""
    completed = run([installed / "pip", "install", "--no-cache-dir", "-q", "pytest"], timeout=600)
    assert completed.returncode == 0, describe(completed)
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST)
    plain = run([installed / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_leaky.py"],
                cwd=str(tmp_path))
    assert plain.returncode == 0, describe(plain)
    assert "gilwatch" not in plain.stdout + plain.stderr, describe(plain)
    assert not (tmp_path / "gilwatch-out").exists()
    watched = run([installed / "python", "-m", "pytest", "--gilwatch", "-q", "-p", "no:cacheprovider",
                   "test_leaky.py"], cwd=str(tmp_path))
    # pytest's own status (leaks are reported, not failed, by default) and its output.
    assert watched.returncode == 0, describe(watched)
    assert "3 passed" in watched.stdout, describe(watched)
    assert "1 native thread remains after test_leaky.py::test_leaks_a_native_thread[2]: leaky-worker" \
        in watched.stdout, describe(watched)
    findings = json.loads((tmp_path / "gilwatch-out" / "findings.json").read_text())["findings"]
    leaks = [f for f in findings if f["kind"] == "thread-leak"]
    assert sorted(t for f in leaks for t in f["tests"]) == [
        "test_leaky.py::test_leaks_a_native_thread[1]", "test_leaky.py::test_leaks_a_native_thread[2]"], findings
    assert "leaky-worker" in json.dumps(leaks[0]), leaks[0]
