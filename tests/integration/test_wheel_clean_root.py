"""The wheel on a machine that never saw the build: a Debian forky root
(scripts/make-debian-root.sh) whose python3.14 differs from the build's 3.11 and into
which nothing from the build machine's /usr/lib was copied. The wheel of
scripts/build-wheel.sh (or $GILWATCH_WHEEL, an already built one) goes with pip into a
python3.14 venv there, pytest from PyPI wheels downloaded on the host (pip inside the
root has no working TLS here); the registry fixture is compiled there with the root's
gcc against python3.14's headers; then `gilwatch run` and `pytest --gilwatch` find its
lock-order inversion, and find nothing in its fixed variant.

Skipped, with the reason, when the root cannot be made (not root, no debootstrap, no
network to Debian's archive). The script itself is tested too: its reason and exit
status when the archive does not answer, a rebuild when the package list changed, reuse
when it did not."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest

import debian_root
import gilwatch_testlib as lib

ROOT_PYTHON = "python3.14"
# The build machine's libraries a wheel that is not self-contained needs at run time.
BUILD_LIBRARY_PATTERNS = ("libfmt*.so*", "libtbb*.so*", "libtomlplusplus*.so*")
LIBRARY_DIRS = ("usr/lib", "usr/local/lib", "lib")
WHEEL_TIMEOUT = 1800
SETUP_TIMEOUT = 600


def build_library_files(top):
    """The build's runtime libraries present under TOP's library directories."""
    found = []
    for directory in LIBRARY_DIRS:
        base = pathlib.Path(top) / directory
        if base.is_dir():
            for pattern in BUILD_LIBRARY_PATTERNS:
                found += [str(p) for p in base.rglob(pattern)]
    return sorted(found)


@pytest.fixture(scope="module")
def root():
    return debian_root.debian_root()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """$GILWATCH_WHEEL, else the one wheel scripts/build-wheel.sh OUTDIR writes (it
    prints its path as its last line)."""
    given = os.environ.get("GILWATCH_WHEEL")
    if given:
        assert pathlib.Path(given).is_file(), "GILWATCH_WHEEL=%s is not a file" % given
        return pathlib.Path(given)
    script = lib.source_dir() / "scripts" / "build-wheel.sh"
    assert script.is_file(), "%s is missing" % script
    out = tmp_path_factory.mktemp("wheel")
    completed = lib.run_bounded([script, out], timeout=WHEEL_TIMEOUT)
    assert completed.returncode == 0, completed.describe()
    printed = pathlib.Path(completed.stdout.strip().splitlines()[-1])
    wheels = sorted(out.glob("gilwatch-*.whl"))
    assert wheels == [printed], "%s\n%s" % (wheels, completed.describe())
    return printed


class Setup:
    """The work directory (bind-mounted at the same path in the root) and what is in it."""

    def __init__(self, root, work):
        self.root = root
        self.work = work
        self.wheels = work / "wheels"
        self.src = work / "src"
        self.ext = work / "ext"
        self.venv = work / "venv"

    def run(self, command, cwd=None, timeout=lib.RUN_TIMEOUT_SECONDS):
        return self.root.run(command, binds=[self.work], cwd=cwd or self.work, timeout=timeout,
                             env={"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"})

    def must(self, command, **kwargs):
        completed = self.run(command, **kwargs)
        assert completed.returncode == 0, completed.describe()
        return completed

    def gilwatch_run(self, out, variant):
        completed = self.run([self.venv / "bin" / "gilwatch", "run", "--out", out, "--",
                              self.venv / "bin" / "python", self.src / "drive.py", variant,
                              "--module-dir", self.ext])
        return completed, read_findings(out, completed)


def read_findings(out, completed):
    findings_file = pathlib.Path(out) / "findings.json"
    assert findings_file.is_file(), "no %s\n%s" % (findings_file, completed.describe())
    return json.loads(findings_file.read_text())


@pytest.fixture(scope="module")
def setup(root, wheel, tmp_path_factory):
    work = tmp_path_factory.mktemp("clean-root")
    s = Setup(root, work)
    s.wheels.mkdir()
    shutil.copy(wheel, s.wheels)
    # pytest for the root's python3.14, as wheels fetched on the host.
    download = lib.run_bounded(["/usr/bin/python3", "-m", "pip", "download", "-q", "--disable-pip-version-check",
                                "--only-binary=:all:", "--python-version", "3.14", "--dest", s.wheels, "pytest"],
                               timeout=SETUP_TIMEOUT)
    assert download.returncode == 0, download.describe()
    # The fixture's source only: it is compiled in the root.
    s.src.mkdir()
    registry = lib.source_dir() / "scenarios" / "extensions" / "registry"
    shutil.copy(registry / "registry.c", s.src)
    shutil.copy(registry / "drive.py", s.src)
    s.ext.mkdir()

    s.must([ROOT_PYTHON, "-m", "venv", s.venv], timeout=SETUP_TIMEOUT)
    s.must([s.venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", "--find-links", s.wheels,
            s.wheels / wheel.name, "pytest"], timeout=SETUP_TIMEOUT)
    for variant, fixed in (("buggy", 0), ("fixed", 1)):
        s.must(["sh", "-c", 'exec gcc -shared -fPIC -g -O1 -fno-omit-frame-pointer -pthread '
                '$(%s-config --includes) -DREGISTRY_FIXED=%d -o "%s/registry_%s$(%s-config --extension-suffix)" '
                '"%s/registry.c"' % (ROOT_PYTHON, fixed, s.ext, variant, ROOT_PYTHON, s.src)],
               timeout=SETUP_TIMEOUT)
    return s


def test_the_root_is_another_debian_without_the_builds_libraries(setup):
    root = setup.root
    # The build machine has them (so the check below means something); the root has none.
    assert build_library_files("/"), "the build machine has none of %s" % (BUILD_LIBRARY_PATTERNS,)
    assert build_library_files(root.path) == []
    release = root.host_path("/etc/os-release").read_text()
    assert 'VERSION_CODENAME=forky' in release, release
    version = setup.must([setup.venv / "bin" / "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    assert version.stdout.strip() == "3.14", version.describe()
    # Everything the installed command and library load resolves inside the root.
    where = setup.must([setup.venv / "bin" / "python", "-c",
                        "import gilwatch, os; print(os.path.dirname(gilwatch.__file__))"])
    package = where.stdout.strip()
    for binary in ("bin/gilwatch", "lib/libgilwatch.so"):
        ldd = setup.must(["ldd", "%s/%s" % (package, binary)])
        assert "not found" not in ldd.stdout, ldd.describe()
    assert setup.must([setup.venv / "bin" / "gilwatch", "--version"]).stdout.strip() == "gilwatch 0.1.0"
    # Runs left nothing mounted on the host.
    assert debian_root.mounts_below(root.path) == []


def test_gilwatch_run_finds_the_registry_inversion_in_the_root(setup):
    completed, document = setup.gilwatch_run(setup.work / "out-buggy", "buggy")
    assert completed.returncode == lib.FINDINGS_EXIT_STATUS, completed.describe()
    findings = document["findings"]
    assert [f["kind"] for f in findings] == [lib.LOCK_ORDER_INVERSION], findings
    # The root's interpreter ran it, with the extension compiled there.
    assert [p["python"].split()[0][:5] for p in document["processes"]] == ["3.14."], document["processes"]
    modules = {frame["module"] for lock in findings[0]["locks"] for frame in lock["first_site"]}
    assert any(m.startswith(str(setup.ext) + "/registry_buggy.cpython-314") for m in modules), modules
    assert "registry_buggy: 4 threads registered 32 tasks" in completed.stdout, completed.describe()
    # The wheel's own symbolizer (libdw from gilwatch.libs) names the extension's frames,
    # with file and line, in a root without elfutils.
    frames = [frame for thread in findings[0]["threads"] for frame in thread["native_frames"]]
    named = {(frame["function"], pathlib.Path(frame["file"]).name) for frame in frames
             if "/registry_buggy." in frame["module"] and frame["line"] > 0}
    assert ("registry_store", "registry.c") in named and ("call_task_with_gil", "registry.c") in named, frames
    # The root's stripped interpreter is in the stacks too, and every named frame is the
    # symbol that holds its address (test_symbol_names has the same check on the host).
    interpreter = [frame for frame in frames if frame["module"].endswith("/python3.14")]
    assert interpreter, frames

    def host_path(path):
        return path if path.startswith(str(setup.work)) else str(setup.root.host_path(path))

    assert lib.frames_named_wrongly(document, host_path) == [], frames
    assert "in registry_store %s/registry.c:" % setup.src in completed.stderr, completed.describe()


def test_gilwatch_run_is_clean_on_the_fixed_registry_in_the_root(setup):
    completed, document = setup.gilwatch_run(setup.work / "out-fixed", "fixed")
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], document["findings"]
    assert "registry_fixed: 4 threads registered 32 tasks" in completed.stdout, completed.describe()


PYTEST_FILE = '''
import sys

sys.path.insert(0, {src!r})
import drive


def test_registry_{variant}():
    assert drive.main(["{variant}", "--module-dir", {ext!r}]) == 0
'''


def pytest_gilwatch(setup, variant):
    directory = setup.work / ("pytest-" + variant)
    directory.mkdir()
    (directory / "test_registry.py").write_text(PYTEST_FILE.format(src=str(setup.src), ext=str(setup.ext),
                                                                   variant=variant))
    completed = setup.run([setup.venv / "bin" / "python", "-m", "pytest", "--gilwatch", "-p", "no:cacheprovider",
                           "test_registry.py"], cwd=directory)
    return completed, read_findings(directory / "gilwatch-out", completed)


def test_pytest_gilwatch_finds_the_registry_inversion_in_the_root(setup):
    """The finding fails the test it happened in: pytest's own output says so (status 1,
    pytest's), with the finding in the failure text and in findings.json."""
    completed, document = pytest_gilwatch(setup, "buggy")
    assert completed.returncode == 1, completed.describe()
    findings = document["findings"]
    assert [f["kind"] for f in findings] == [lib.LOCK_ORDER_INVERSION], findings
    assert findings[0].get("tests") == ["test_registry.py::test_registry_buggy"], findings[0]
    assert "1 failed" in completed.stdout, completed.describe()
    assert "FAILED test_registry.py::test_registry_buggy" in completed.stdout, completed.describe()
    assert "lock-order-inversion" in completed.stdout, completed.describe()


def test_pytest_gilwatch_is_clean_on_the_fixed_registry_in_the_root(setup):
    completed, document = pytest_gilwatch(setup, "fixed")
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], document["findings"]
    assert "1 passed" in completed.stdout, completed.describe()


# scripts/make-debian-root.sh where it cannot succeed: an archive that does not answer.
UNREACHABLE_MIRROR = "http://127.0.0.1:9/debian"


def make_root_unreachable(where):
    env = dict(os.environ, GILWATCH_DEBIAN_ROOT=str(where), GILWATCH_DEBIAN_MIRROR=UNREACHABLE_MIRROR)
    return lib.run_bounded([debian_root.make_root_script()], env=env)


def require_root_tools():
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip("making a Debian root needs root and debootstrap (scripts/install-deps.sh)")


def test_make_debian_root_says_why_it_cannot_make_a_root(tmp_path):
    require_root_tools()
    where = tmp_path / "root"
    completed = make_root_unreachable(where)
    assert completed.returncode == debian_root.ROOT_UNAVAILABLE_STATUS, completed.describe()
    assert completed.stdout == "", completed.describe()
    last = completed.stderr.strip().splitlines()[-1]
    assert last == ("make-debian-root: debootstrap --variant=minbase forky %s.tmp %s failed (full output: %s.log); "
                    "no root made" % (where, UNREACHABLE_MIRROR, where)), completed.describe()
    # Nothing half-made is left to be taken for a root.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root.lock", "root.log"]


def test_make_debian_root_rebuilds_a_root_of_another_package_list(tmp_path):
    """A root whose stamp differs (made from another package list) is rebuilt: here the
    rebuild cannot reach the archive, and the old root stays as it was."""
    require_root_tools()
    where = tmp_path / "root"
    where.mkdir()
    stamp = "format=1\nsuite=forky\npackages=python3.13\n"
    (where / ".gilwatch-root").write_text(stamp)
    completed = make_root_unreachable(where)
    assert completed.returncode == debian_root.ROOT_UNAVAILABLE_STATUS, completed.describe()
    assert "make-debian-root: creating %s (debootstrap forky" % where in completed.stderr, completed.describe()
    assert (where / ".gilwatch-root").read_text() == stamp
    assert not (tmp_path / "root.tmp").exists()


def test_make_debian_root_reuses_a_root_of_this_package_list(root, tmp_path):
    """The twin: a root stamped with the script's own package list is used as it is,
    without reaching the archive."""
    where = tmp_path / "root"
    where.mkdir()
    (where / ".gilwatch-root").write_text((root.path / ".gilwatch-root").read_text())
    completed = make_root_unreachable(where)
    assert completed.returncode == 0, completed.describe()
    assert completed.stdout == "%s\n" % where and completed.stderr == "", completed.describe()
