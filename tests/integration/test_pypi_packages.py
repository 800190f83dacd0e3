"""Real packages from PyPI, as users install them (wheels), under `gilwatch run` with a
threaded workload: correct code, so zero findings. PyO3 packages (orjson, pydantic-core,
cryptography: Rust locks are futex words) and other native packages (numpy; pyzmq;
grpcio, whose absl locks are futex words too), on Debian's python3.11 and the newest
shared-libpython interpreter.
"""

import json

import pytest

import gilwatch_testlib as lib

PACKAGES = ["orjson", "pydantic-core", "cryptography", "numpy", "pyzmq", "grpcio", "grpcio-health-checking"]


def chosen_pythons():
    pythons = lib.load_pythons()
    chosen = [p for p in pythons if p["interpreter"] == str(lib.DEBIAN_PYTHON)]
    shared = sorted((p for p in pythons if p["shared_libpython"]),
                    key=lambda p: tuple(int(n) for n in p["version"].split(".")))
    return chosen + shared[-1:]


PYTHONS = chosen_pythons()
IDS = lib.python_ids(PYTHONS)


@pytest.fixture(scope="module")
def package_venvs(tmp_path_factory):
    venvs = {}
    for python in PYTHONS:
        venv = lib.make_package_venv(python, tmp_path_factory.mktemp("pypi-" + python["tag"]), PACKAGES)
        assert not isinstance(venv, str), venv
        venvs[python["tag"]] = venv
    return venvs


def loaded_modules(out_dir):
    paths = []
    for raw in (out_dir / "raw").glob("*.json"):
        with open(raw) as f:
            paths += [m.get("path", "") for m in json.load(f).get("modules", [])]
    return " ".join(paths)


def run_workload_clean(out_dir, python, package_venvs, script, arguments, done_line, modules):
    """Runs scenarios/python/SCRIPT in the interpreter's venv under gilwatch: no findings,
    the workload's own success line, and each of `modules` among the loaded objects."""
    workload = [package_venvs[python["tag"]], lib.source_dir() / "scenarios" / "python" / script, *arguments]
    run = lib.run_gilwatch(out_dir, workload)
    lib.assert_clean(run)
    assert done_line in run.completed.stdout, run.describe()
    loaded = loaded_modules(out_dir)
    for module in modules:
        assert module in loaded, (module, loaded[:2000])


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_pyo3_packages_are_clean(out_dir, python, package_venvs):
    run_workload_clean(out_dir, python, package_venvs, "pyo3_packages.py", ["--threads", "4", "--rounds", "300"],
                       "4 threads x 300 rounds ok", ["orjson", "pydantic_core", "_rust"])


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_numpy_pyzmq_grpcio_are_clean(out_dir, python, package_venvs):
    # grpcio waits on absl's futex-based mutexes with the GIL held for a few
    # microseconds, for holders that never need the GIL: below gil_blocking_ms and not a
    # Rust lock, so no finding (docs/futex-locks.md).
    run_workload_clean(out_dir, python, package_venvs, "native_packages.py", ["--threads", "4", "--rounds", "50"],
                       "numpy, pyzmq, grpcio: 4 threads x 50 rounds ok", ["cygrpc", "zmq", "numpy"])
