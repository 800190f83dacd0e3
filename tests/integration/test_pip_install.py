"""The wheel and the sdist: scripts/build-wheel.sh (`pip wheel .` with scikit-build-core,
then `auditwheel repair`) makes a manylinux wheel that needs nothing outside itself but
glibc's libraries, libgcc_s and libstdc++ (oneTBB is copied into it); installing it into
another interpreter's venv builds nothing and the command finds the registry inversion.
`pip install <source tree>` still works. The sdist holds what the CMake build needs, and
a missing library or compiler stops its build with one message naming it. The wheel
tools come from PyPI into the script's cached venv (build-wheel/venv)."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import gilwatch_testlib as lib

DEBIAN_PYTHON = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else sys.executable
BUILD_TIMEOUT = 1500
# The oldest glibc the wheel is for (docs/install.md): manylinux_2_34 or older.
MAX_GLIBC_MINOR = 34
# What a binary in the wheel may load from the system: glibc's libraries, the dynamic
# loader, and the GCC runtime every manylinux policy lists. Anything else must be inside
# the wheel (gilwatch.libs/). zlib (which libdw and libelf load) is on every manylinux
# policy's list too.
SYSTEM_LIBRARIES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                    "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libstdc++.so.6", "libz.so.1"}
# What auditwheel copies into gilwatch.libs/ (names before the hash).
BUNDLED_LIBRARIES = ["libbz2", "libdw", "libelf", "liblzma", "libtbb"]
WHEEL_NAME = re.compile(r"^gilwatch-0\.1\.0-py3-none-manylinux_2_(\d+)_x86_64\.whl$")


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


def wheel_build_lock():
    """The lock build-wheel.sh holds while it uses build-wheel/."""
    path = lib.source_dir() / "build-wheel" / ".lock"
    path.parent.mkdir(exist_ok=True)
    return path


def tool_venv():
    """build-wheel.sh's venv, with pip, build and auditwheel from PyPI."""
    return lib.source_dir() / "build-wheel" / "venv" / "bin"


def needed(binary):
    """The DT_NEEDED entries and the RPATH/RUNPATH of an ELF file, from readelf -d."""
    completed = run(["readelf", "-d", binary])
    assert completed.returncode == 0, describe(completed)
    libraries = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", completed.stdout)
    paths = re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[([^\]]+)\]", completed.stdout)
    return libraries, paths


def foreign_libraries(binary, bundled):
    """The libraries `binary` needs that are neither the system's allowed ones nor in
    `bundled` (the names in the wheel's gilwatch.libs/)."""
    libraries, _ = needed(binary)
    return [name for name in libraries if name not in SYSTEM_LIBRARIES and name not in bundled]


def highest_glibc(binary):
    """The highest GLIBC_2.N symbol version `binary` imports, as N."""
    completed = run(["objdump", "-T", binary])
    assert completed.returncode == 0, describe(completed)
    return max(int(minor) for minor in re.findall(r"\bGLIBC_2\.(\d+)", completed.stdout))


def unpack(wheel, where):
    with zipfile.ZipFile(str(wheel)) as archive:
        archive.extractall(str(where))
    for binary in where.glob("gilwatch/bin/*"):
        binary.chmod(0o755)
    return where


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """scripts/build-wheel.sh OUTDIR: (its completed process, OUTDIR)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    completed = run([lib.source_dir() / "scripts" / "build-wheel.sh", out], timeout=BUILD_TIMEOUT)
    assert completed.returncode == 0, describe(completed)
    return completed, out


@pytest.fixture(scope="module")
def wheel(built):
    completed, out = built
    return pathlib.Path(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def plain_wheel(built, tmp_path_factory):
    """The wheel `pip wheel .` makes before the repair step (the build directory is
    build-wheel.sh's, so this only packs what is built)."""
    out = tmp_path_factory.mktemp("plain")
    completed = run(["flock", wheel_build_lock(), tool_venv() / "pip", "wheel", "--no-deps", "-w", out,
                     lib.source_dir()], timeout=BUILD_TIMEOUT)
    assert completed.returncode == 0, describe(completed)
    wheels = list(out.glob("gilwatch-*.whl"))
    assert len(wheels) == 1, wheels
    # No libpython inside: one wheel for every CPython; not yet tagged manylinux.
    assert wheels[0].name == "gilwatch-0.1.0-py3-none-linux_x86_64.whl", wheels[0].name
    return wheels[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv of Debian's interpreter with `pip install <source tree>` done."""
    bin_dir = make_venv(DEBIAN_PYTHON, tmp_path_factory.mktemp("venv") / "debian")
    # The same build directory as build-wheel.sh's (pyproject.toml), so under its lock.
    completed = run(["flock", wheel_build_lock(), bin_dir / "pip", "install", "--no-cache-dir", lib.source_dir()],
                    timeout=BUILD_TIMEOUT)
    assert completed.returncode == 0, describe(completed)
    # From source, pip builds the wheel (the twin of the wheel install, which does not).
    assert "Building wheel for gilwatch" in completed.stdout, describe(completed)
    return bin_dir


def wheel_interpreter():
    """Another interpreter than the build venv's and Debian's: pyenv's newest with the
    fixtures built for it, as a pythons.json entry."""
    candidates = [p for p in lib.load_pythons() if p["interpreter"] != DEBIAN_PYTHON and p["tag"].startswith("pyenv-")
                  and not p["version"].startswith("3.11.")]
    return candidates[-1] if candidates else None


def test_build_wheel_prints_the_path_of_its_one_manylinux_wheel(built, wheel):
    completed, out = built
    assert wheel.parent == out and wheel.is_file(), describe(completed)
    assert [p.name for p in out.iterdir()] == [wheel.name]
    match = WHEEL_NAME.match(wheel.name)
    assert match and int(match.group(1)) <= MAX_GLIBC_MINOR, wheel.name
    # Everything else the script says goes to stderr: the path is stdout's only line.
    assert completed.stdout.strip().splitlines() == [str(wheel)], describe(completed)


def test_build_wheel_refuses_a_missing_outdir_argument():
    completed = run([lib.source_dir() / "scripts" / "build-wheel.sh"])
    assert completed.returncode != 0
    assert completed.stdout == "" and "usage: scripts/build-wheel.sh OUTDIR" in completed.stderr, describe(completed)


def show(wheel):
    completed = run([tool_venv() / "auditwheel", "show", wheel])
    assert completed.returncode == 0, describe(completed)
    return " ".join((completed.stdout + completed.stderr).split())


def test_auditwheel_show_names_the_wheels_manylinux_policy(wheel):
    policy = WHEEL_NAME.match(wheel.name).group(1)
    text = show(wheel)
    assert 'is consistent with the following platform tag: "manylinux_2_%s_x86_64"' % policy in text, text


def test_auditwheel_show_of_the_unrepaired_wheel_names_no_manylinux_policy(plain_wheel):
    """Before the repair step the command needs the system's libtbb.so.12: the wheel is
    only linux_x86_64 (its symbols alone would allow manylinux_2_34)."""
    text = show(plain_wheel)
    assert 'is consistent with the following platform tag: "linux_x86_64"' in text, text


def test_the_wheels_binaries_need_only_glibc_the_gcc_runtime_and_what_it_carries(wheel, tmp_path):
    root = unpack(wheel, tmp_path / "wheel")
    bundled = sorted(p.name for p in (root / "gilwatch.libs").iterdir())
    # oneTBB, and elfutils' libdw (the symbolizer) with what it loads.
    assert sorted(name.split("-")[0] for name in bundled) == BUNDLED_LIBRARIES, bundled
    command = root / "gilwatch" / "bin" / "gilwatch"
    library = root / "gilwatch" / "lib" / "libgilwatch.so"
    for binary in [command, library] + [root / "gilwatch.libs" / name for name in bundled]:
        assert foreign_libraries(binary, bundled) == [], (binary, needed(binary))
        assert highest_glibc(binary) <= MAX_GLIBC_MINOR, binary
    libraries, paths = needed(command)
    assert sorted(name.split("-")[0] for name in libraries if name in bundled) == ["libdw", "libtbb"], libraries
    assert paths == ["$ORIGIN/../../gilwatch.libs"], (libraries, paths)
    assert not [name for name in libraries if "fmt" in name or "toml" in name], libraries
    # The preload library carries its own libstdc++ (the process under test may have
    # another one, or none) and nothing of the wheel's.
    libraries, paths = needed(library)
    assert sorted(libraries) == ["ld-linux-x86-64.so.2", "libc.so.6", "libgcc_s.so.1"], libraries
    assert paths == []


def test_the_unrepaired_wheels_command_needs_the_systems_onetbb(plain_wheel, tmp_path):
    root = unpack(plain_wheel, tmp_path / "wheel")
    assert not (root / "gilwatch.libs").exists()
    assert sorted(foreign_libraries(root / "gilwatch" / "bin" / "gilwatch", [])) == ["libdw.so.1", "libtbb.so.12"]


def test_the_wheel_installs_into_another_interpreter_without_building(wheel, tmp_path):
    """No compiler runs: pip unpacks the wheel. The installed command, run by that
    interpreter's venv, finds the registry inversion in the fixture built for it."""
    python = wheel_interpreter()
    if python is None:
        pytest.fail("no pyenv interpreter other than 3.11 in %s to install the wheel into" % lib.pythons_json_path())
    bin_dir = make_venv(python["interpreter"], tmp_path / "venv")
    completed = run([bin_dir / "pip", "install", "--no-cache-dir", wheel])
    assert completed.returncode == 0, describe(completed)
    assert "Successfully installed gilwatch-0.1.0" in completed.stdout, describe(completed)
    assert "Building wheel" not in completed.stdout + completed.stderr, describe(completed)
    out = tmp_path / "out"
    found = run([bin_dir / "gilwatch", "run", "--out", out, "--", bin_dir / "python", lib.registry_driver(),
                 "buggy", "--module-dir", python["module_dir"]])
    assert found.returncode == 66, describe(found)
    findings = json.loads((out / "findings.json").read_text())["findings"]
    assert [f["kind"] for f in findings] == ["lock-order-inversion"], findings
    clean = run([bin_dir / "gilwatch", "run", "--out", tmp_path / "clean", "--", bin_dir / "python",
                 lib.registry_driver(), "fixed", "--module-dir", python["module_dir"]])
    assert clean.returncode == 0, describe(clean)
    assert json.loads((tmp_path / "clean" / "findings.json").read_text())["findings"] == []


@pytest.fixture(scope="module")
def sdist(tmp_path_factory, built):
    out = tmp_path_factory.mktemp("sdist")
    completed = run([tool_venv() / "python", "-m", "build", "--sdist", "-o", out, lib.source_dir()])
    assert completed.returncode == 0, describe(completed)
    archives = list(out.glob("gilwatch-*.tar.gz"))
    assert [a.name for a in archives] == ["gilwatch-0.1.0.tar.gz"], archives
    return archives[0]


def test_the_sdist_holds_what_the_cmake_build_needs(sdist):
    with tarfile.open(str(sdist)) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed_file in ["pyproject.toml", "CMakeLists.txt", "cmake/GilwatchDependencies.cmake",
                        "harness/CMakeLists.txt", "harness/cli/main.cpp", "reports/svg.cpp",
                        "instrumentation/preload/hooks/exports.map.in", "instrumentation/preload/hooks/hooks.def",
                        "instrumentation/preload/hooks/capi_stubs.S",
                        "pyhooks/gilwatch/_launcher.py", "docs/findings.md"]:
        assert needed_file in names, needed_file
    # Nothing built or cached goes in.
    assert not [name for name in names if name.startswith(("build/", "build-wheel/"))]


def unpack_sdist(sdist, where):
    with tarfile.open(str(sdist)) as archive:
        archive.extractall(str(where))
    return where / "gilwatch-0.1.0"


WHEEL_CONFIGURATION = ["-DGILWATCH_BUILD_TESTS=OFF", "-DGILWATCH_BUILD_BENCH=OFF", "-DGILWATCH_BUILD_SCENARIOS=OFF"]


def test_the_sdist_configures_where_everything_is_installed(sdist, tmp_path):
    source = unpack_sdist(sdist, tmp_path)
    completed = run(["cmake", "-S", source, "-B", tmp_path / "b", "-G", "Ninja"] + WHEEL_CONFIGURATION)
    assert completed.returncode == 0, describe(completed)
    assert "gilwatch: cannot build" not in completed.stdout + completed.stderr


def test_building_the_sdist_without_onetbb_names_the_package_to_install(sdist, tmp_path):
    """The user's path: pip builds the sdist; CMake cannot find oneTBB (hidden from it);
    pip's output names it and where it comes from, once."""
    env = dict(os.environ, CMAKE_ARGS="-DCMAKE_DISABLE_FIND_PACKAGE_TBB=ON")
    completed = run([tool_venv() / "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", tmp_path / "w", sdist],
                    timeout=BUILD_TIMEOUT, env=env)
    assert completed.returncode != 0, describe(completed)
    output = completed.stdout + completed.stderr
    assert output.count("gilwatch: cannot build, not found:") == 1, describe(completed)
    assert "oneTBB (CMake package TBB): install libtbb-dev (Debian/Ubuntu)" in output, describe(completed)
    # Only what is missing is named.
    assert "libfmt-dev" not in output and "libtomlplusplus-dev" not in output, describe(completed)
    assert not list(tmp_path.glob("w/*.whl"))


def test_configuring_the_sdist_without_a_cxx_compiler_says_so(sdist, tmp_path):
    source = unpack_sdist(sdist, tmp_path)
    env = dict(os.environ, CXX=str(tmp_path / "no-such-g++"))
    completed = run(["cmake", "-S", source, "-B", tmp_path / "b", "-G", "Ninja"] + WHEEL_CONFIGURATION, env=env)
    assert completed.returncode != 0, describe(completed)
    text = " ".join((completed.stdout + completed.stderr).split())
    assert "gilwatch: no C++ compiler found" in text and "apt-get install g++" in text, describe(completed)


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
    # The report links the public documentation of the kind, never a file in the venv.
    page = (out / "report.html").read_text()
    assert re.search(r'href="https://[^"]+/findings\.md#lock-order-inversion"', page), page[:2000]
    assert "file://" not in page


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
