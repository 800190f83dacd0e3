"""Native libraries that never go through the interpreter's dlopen: a plain C library
(scenarios/extensions/dlopened/dlcapi.c) loaded by ctypes, by cffi (ABI mode) or by an
extension's own dlopen (dlplugin.c). Called without the GIL (ctypes.CDLL and cffi release
it around the call; the plugin loader too when asked) its C API call is capi-without-gil,
named by function and module; called with the GIL held (ctypes.PyDLL; the function that
takes the GIL itself; the plugin loader holding it) the run is clean and prints what it
prints without gilwatch. cffi comes from PyPI into a venv per interpreter (Debian's
python3.11, libpython in the executable, and the newest shared-libpython interpreter).
"""

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
IDS = lib.python_ids(PYTHONS)


def cffi_pythons():
    chosen = [p for p in PYTHONS if p["interpreter"] == str(lib.DEBIAN_PYTHON)]
    shared = sorted((p for p in PYTHONS if p["shared_libpython"]),
                    key=lambda p: tuple(int(n) for n in p["version"].split(".")))
    return chosen + shared[-1:]


CFFI_PYTHONS = cffi_pythons()


def library():
    path = lib.build_dir() / "scenarios" / "libraries" / "libgw_dlcapi.so"
    if not path.is_file():
        pytest.fail("the fixture library is not built: %s" % path)
    return path


def drive(interpreter, loader, python):
    driver = lib.source_dir() / "scenarios" / "extensions" / "dlopened" / "drive.py"
    command = [interpreter, driver, loader, "--library", library()]
    if loader.startswith("plugin"):
        lib.require_extension(python, "dlplugin")
        command += ["--module-dir", python["module_dir"]]
    return command


@pytest.fixture(scope="module")
def cffi_venvs(tmp_path_factory):
    """The venv's interpreter per tag, or the reason cffi could not be installed."""
    venvs = {}
    for python in CFFI_PYTHONS:
        venvs[python["tag"]] = lib.make_package_venv(python, tmp_path_factory.mktemp("cffi-" + python["tag"]), ["cffi"])
    return venvs


def cffi_interpreter(cffi_venvs, python):
    venv = cffi_venvs[python["tag"]]
    if isinstance(venv, str):
        pytest.skip(venv)
    return venv


def assert_capi_without_gil_in_the_library(run):
    findings = lib.findings_of(run, "capi-without-gil")
    assert len(findings) == 1, run.describe()
    # The call reads a thread state the thread does not have: where the interpreter then
    # crashes, that is the one other finding, a crash in the same library function.
    others = [finding for finding in run.findings if finding["kind"] != "capi-without-gil"]
    assert len(others) <= 1 and all(finding["kind"] == "crash" for finding in others), run.describe()
    for crash in others:
        crashed = {frame.get("function") for frame in crash["threads"][0]["native_frames"]}
        assert "dlcapi_check_error" in crashed or "PyErr_Occurred" in crashed, crash["threads"][0]
    finding = findings[0]
    assert finding["detail"] == "PyErr_Occurred", finding
    frames = finding["threads"][0]["native_frames"]
    ours = [frame for frame in frames if frame.get("function") == "dlcapi_check_error"]
    assert ours, frames
    assert ours[0]["module"].endswith("libgw_dlcapi.so"), ours[0]
    # Every frame in the library names its module and function (the module map has it).
    for finding in run.findings:
        for thread in finding["threads"]:
            for frame in thread.get("native_frames", []):
                if "libgw_dlcapi" in frame.get("module", ""):
                    assert frame.get("function") not in (None, "", "??"), frame
    # Reported before the call ran: the run failed whatever the interpreter did next.
    assert run.returncode != 0, run.describe()


def assert_clean_and_unchanged(out_dir, command, loader):
    plain = lib.run_bounded(command)
    assert plain.returncode == 0, plain.describe()
    run = lib.run_gilwatch(out_dir, command)
    lib.assert_clean(run)
    assert "%s: exception set = 0" % loader in run.completed.stdout, run.describe()
    assert run.completed.stdout == plain.stdout, (run.completed.stdout, plain.stdout)


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_ctypes_cdll_call_without_gil_is_capi_without_gil(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python["interpreter"], "ctypes-cdll", python))
    assert_capi_without_gil_in_the_library(run)


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_ctypes_pydll_call_with_gil_is_clean(out_dir, python):
    assert_clean_and_unchanged(out_dir, drive(python["interpreter"], "ctypes-pydll", python), "ctypes-pydll")


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_plugin_dlopened_by_an_extension_without_gil_is_capi_without_gil(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python["interpreter"], "plugin", python))
    assert_capi_without_gil_in_the_library(run)
    assert "call" in lib.native_functions(run.findings[0]["threads"][0]), run.findings[0]


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_plugin_dlopened_by_an_extension_with_gil_is_clean(out_dir, python):
    assert_clean_and_unchanged(out_dir, drive(python["interpreter"], "plugin-with-gil", python), "plugin-with-gil")


@pytest.mark.parametrize("python", CFFI_PYTHONS, ids=lib.python_ids(CFFI_PYTHONS))
def test_cffi_call_without_gil_is_capi_without_gil(out_dir, python, cffi_venvs):
    run = lib.run_gilwatch(out_dir, drive(cffi_interpreter(cffi_venvs, python), "cffi", python))
    assert_capi_without_gil_in_the_library(run)


@pytest.mark.parametrize("python", CFFI_PYTHONS, ids=lib.python_ids(CFFI_PYTHONS))
def test_cffi_call_taking_the_gil_is_clean(out_dir, python, cffi_venvs):
    command = drive(cffi_interpreter(cffi_venvs, python), "cffi-with-gil", python)
    assert_clean_and_unchanged(out_dir, command, "cffi-with-gil")
