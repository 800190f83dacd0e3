"""Shared helpers for the integration tests: where things are, how to run the fixtures
with and without gilwatch, and how to read findings.json.

The findings.json contract (DESIGN.md, docs/findings-format.md): an object with a
`findings` array; each finding has `kind`, `summary`, `threads` (each with
`native_frames` [{function, file, line, ...}] and `python_frames` [{function, file,
line}]) and `locks` [{name, kind, ...}].
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field

import pytest

# A fixture that outlives this is reported as a failure, never left to block CI.
RUN_TIMEOUT_SECONDS = 120

# Exit status of `gilwatch run` (--exitcode) and `gilwatch stress` when there were findings.
FINDINGS_EXIT_STATUS = 66

DEBIAN_PYTHON = pathlib.Path("/usr/bin/python3.11")

LOCK_ORDER_INVERSION = "lock-order-inversion"


def source_dir():
    value = os.environ.get("GILWATCH_SOURCE_DIR")
    if value:
        return pathlib.Path(value)
    return pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    value = os.environ.get("GILWATCH_BUILD_DIR")
    if value:
        return pathlib.Path(value)
    return source_dir() / "build"


def program_path(name):
    return build_dir() / "scenarios" / "programs" / name


def registry_driver():
    return source_dir() / "scenarios" / "extensions" / "registry" / "drive.py"


def pythons_json_path():
    return build_dir() / "scenarios" / "pythons.json"


def load_pythons():
    """Entries of build/scenarios/pythons.json, or [] if it is missing (a dedicated test
    fails in that case, so an empty parameter list never passes silently)."""
    try:
        with open(pythons_json_path()) as f:
            return json.load(f)
    except FileNotFoundError:
        return []


def python_ids(pythons):
    return [entry["tag"] for entry in pythons]


def extension_path(python, module):
    return pathlib.Path(python["module_dir"]) / (module + python["ext_suffix"])


def require_extension(python, module):
    path = extension_path(python, module)
    if not path.is_file():
        pytest.fail("%s for %s (%s) is not built: %s"
                    % (module, python["tag"], python["interpreter"], path))
    return path


def check_debian_python_is_built(pythons):
    """Debian's interpreter (static libpython, the hard case for interception) must be
    covered whenever it is installed: a missing build is a failure, never a skip."""
    if not DEBIAN_PYTHON.exists():
        pytest.skip("%s is not installed" % DEBIAN_PYTHON)
    if not pythons_json_path().is_file():
        pytest.fail("%s is missing: configure the build first" % pythons_json_path())
    debian = [p for p in pythons if p["interpreter"] == str(DEBIAN_PYTHON)]
    assert len(debian) == 1, "pythons.json has no entry for %s: %s" % (DEBIAN_PYTHON, pythons)
    assert debian[0]["tag"].startswith("debian-")
    assert debian[0]["shared_libpython"] is False, \
        "Debian's python3.11 links libpython into the executable"
    for module in ("registry_buggy", "registry_fixed"):
        require_extension(debian[0], module)


@dataclass
class Completed:
    command: list
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self):
        return ("command: %s\nexit status: %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
                % (" ".join(map(str, self.command)), self.returncode,
                   self.stdout[-4000:], self.stderr[-4000:]))


def run_bounded(command, timeout=RUN_TIMEOUT_SECONDS, env=None):
    """Runs `command` in its own process group; on timeout kills the whole group (the
    fixture under gilwatch is a grandchild) and fails the test."""
    started = time.monotonic()
    process = subprocess.Popen([str(part) for part in command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace",
                               start_new_session=True, env=env)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail("timed out after %d s: %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
                    % (timeout, " ".join(map(str, command)), stdout[-4000:], stderr[-4000:]))
    return Completed(list(command), process.returncode, stdout, stderr,
                     time.monotonic() - started)


def make_package_venv(python, where, packages):
    """A venv of `python` at `where` with `packages` installed from PyPI as wheels only.
    Returns the venv's interpreter, or the reason it could not be made (the caller decides
    whether that skips or fails)."""
    made = run_bounded([python["interpreter"], "-m", "venv", str(where)], timeout=300)
    if made.returncode != 0:
        return "no venv for %s:\n%s" % (python["tag"], made.describe())
    pip = run_bounded([where / "bin" / "python", "-m", "pip", "install", "--quiet", "--only-binary", ":all:",
                       *packages], timeout=900)
    if pip.returncode != 0:
        return "pip install %s from PyPI failed for %s:\n%s" % (" ".join(packages), python["tag"], pip.describe())
    return where / "bin" / "python"


@dataclass
class MaybeTimedOut:
    completed: Completed
    timed_out: bool

    def describe(self):
        return "timed out: %s\n%s" % (self.timed_out, self.completed.describe())


def run_bounded_expect_timeout(command, timeout):
    """Runs `command` in its own process group for at most `timeout` seconds, then kills
    the group. For commands that are expected to hang."""
    started = time.monotonic()
    process = subprocess.Popen([str(part) for part in command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace",
                               start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    return MaybeTimedOut(Completed(list(command), process.returncode, stdout, stderr,
                                   time.monotonic() - started), timed_out)


@dataclass
class GilwatchRun:
    completed: Completed
    out_dir: pathlib.Path
    document: dict = field(default_factory=dict)

    @property
    def returncode(self):
        return self.completed.returncode

    @property
    def findings(self):
        return self.document["findings"]

    def kinds(self):
        return sorted(finding["kind"] for finding in self.findings)

    def describe(self):
        summaries = "\n".join("  %s: %s" % (f.get("kind"), f.get("summary"))
                              for f in self.findings)
        return "%s\n--- findings ---\n%s" % (self.completed.describe(), summaries or "  (none)")


def gilwatch_path():
    path = build_dir() / "bin" / "gilwatch"
    if not path.is_file():
        pytest.fail("%s is not built" % path)
    return path


def run_gilwatch(out_dir, command, timeout=RUN_TIMEOUT_SECONDS):
    """`gilwatch run --out OUT_DIR -- COMMAND...`, then reads OUT_DIR/findings.json."""
    completed = run_bounded([gilwatch_path(), "run", "--out", out_dir, "--", *command],
                            timeout=timeout)
    findings_file = pathlib.Path(out_dir) / "findings.json"
    if not findings_file.is_file():
        pytest.fail("gilwatch wrote no %s\n%s" % (findings_file, completed.describe()))
    with open(findings_file) as f:
        document = json.load(f)
    assert isinstance(document, dict) and isinstance(document.get("findings"), list), \
        "findings.json is not an object with a findings array: %r" % (document,)
    return GilwatchRun(completed, pathlib.Path(out_dir), document)


def normalize_function(name):
    """Bare function name: drops a C++ parameter list and compiler clone suffixes such
    as `.isra.0` or `.constprop.0`."""
    name = (name or "").strip()
    if "(" in name:
        name = name[:name.index("(")]
    return name.split(".")[0]


def native_functions(thread):
    return {normalize_function(frame.get("function")) for frame in thread.get("native_frames", [])}


def python_functions(thread):
    return {frame.get("function") for frame in thread.get("python_frames", [])}


def assert_single_inversion(run, lock_count, lock_kinds):
    """The run exited with the findings status and reported exactly one finding, a
    lock-order inversion over `lock_count` distinct locks whose kinds are `lock_kinds`
    (a sorted list). Returns the finding."""
    assert run.returncode == FINDINGS_EXIT_STATUS, run.describe()
    assert run.kinds() == [LOCK_ORDER_INVERSION], run.describe()
    finding = run.findings[0]
    assert isinstance(finding.get("summary"), str) and finding["summary"].strip(), finding
    locks = finding["locks"]
    assert len(locks) == lock_count, locks
    assert sorted(lock["kind"] for lock in locks) == sorted(lock_kinds), locks
    identities = {(lock.get("name"), lock.get("address"), lock.get("id")) for lock in locks}
    assert len(identities) == lock_count, "locks are not distinct: %s" % (locks,)
    for thread in finding["threads"]:
        assert thread.get("native_frames"), "thread without native frames: %s" % (thread,)
    return finding


def assert_takers_match_threads(finding, takers):
    """Each function in `takers` (the one that took a thread's second lock) appears in
    the native frames of exactly one thread, and every thread has one of them."""
    threads = finding["threads"]
    assert len(threads) == len(takers), threads
    tids = [thread["tid"] for thread in threads if "tid" in thread]
    assert len(set(tids)) == len(tids), "threads repeat: %s" % tids
    for taker in takers:
        holders = [t for t in threads if taker in native_functions(t)]
        assert len(holders) == 1, "%s in %d threads' native frames: %s" % (
            taker, len(holders), [sorted(native_functions(t)) for t in threads])
    for thread in threads:
        assert native_functions(thread) & set(takers), \
            "thread with none of %s: %s" % (takers, sorted(native_functions(thread)))


# Exit status of a process that gilwatch ended on a deadlock (deadlock_exitcode, options.h).
DEADLOCK_EXIT_STATUS = 67


def findings_of(run, kind):
    return [f for f in run.findings if f["kind"] == kind]


def assert_clean(run):
    """No findings, and the command's own success status."""
    assert run.findings == [], run.describe()
    assert run.returncode == 0, run.describe()


def roles(finding):
    return [t.get("role", "") for t in finding["threads"]]


def assert_deadlock(run, probable):
    """The process ended on a deadlock (exit status 67), reported once, with a native
    stack for each of its threads. Returns the finding."""
    assert run.returncode == DEADLOCK_EXIT_STATUS, run.describe()
    deadlocks = findings_of(run, "deadlock")
    assert len(deadlocks) == 1, run.describe()
    finding = deadlocks[0]
    assert finding["probable"] is probable, finding
    assert len(finding["threads"]) >= 2, finding
    for thread in finding["threads"]:
        assert thread["native_frames"], thread
    return finding


# ---- native frame names against the symbol table (test_symbol_names, the wheel root) ----

NM_LINE = re.compile(r"^([0-9a-fA-F]+) ([0-9a-fA-F]+) ([A-Za-z]) (.+)$")


def build_id_debug_file(module):
    """/usr/lib/debug/.build-id/xx/rest.debug of MODULE, when installed."""
    notes = subprocess.run(["readelf", "-n", module], capture_output=True, text=True).stdout
    match = re.search(r"Build ID: ([0-9a-f]+)", notes)
    if not match:
        return None
    build_id = match.group(1)
    path = pathlib.Path("/usr/lib/debug/.build-id") / build_id[:2] / (build_id[2:] + ".debug")
    return path if path.is_file() else None


_sized_symbols = {}


def sized_symbols(module):
    """(start, end, demangled name) of every defined symbol with a size in MODULE's
    .symtab and .dynsym, and in its separate debug file."""
    if module in _sized_symbols:
        return _sized_symbols[module]
    files = [module]
    debug = build_id_debug_file(module)
    if debug:
        files.append(str(debug))
    found = []
    for path in files:
        for flags in (["-S", "-C", "--defined-only"], ["-D", "-S", "-C", "--defined-only"]):
            listing = subprocess.run(["nm", *flags, path], capture_output=True, text=True).stdout
            for line in listing.splitlines():
                match = NM_LINE.match(line)
                if match and match.group(3) in "tTwWiI":
                    start, size = int(match.group(1), 16), int(match.group(2), 16)
                    if size:
                        found.append((start, start + size, match.group(4)))
    _sized_symbols[module] = found
    return found


def holding_names(module, address):
    return {normalize_function(name) for start, end, name in sized_symbols(module) if start <= address < end}


def outermost_frames(frames):
    """The last frame of each run of frames at one pc: the function that made the call
    (the ones before it are inlined into it)."""
    out = []
    for i, frame in enumerate(frames):
        if i + 1 == len(frames) or frames[i + 1].get("pc") != frame.get("pc"):
            out.append(frame)
    return out


def every_stack(document):
    for finding in document["findings"]:
        for thread in finding.get("threads", []):
            yield thread.get("native_frames", [])
        for lock in finding.get("locks", []):
            yield lock.get("first_site", [])


def frames_named_wrongly(document, host_path=str):
    """Every named native frame of DOCUMENT's findings whose module has no symbol holding
    its address under that name (compared with `nm -S` of the module, its dynamic
    symbols and its separate debug file; inlined frames are skipped: they have no symbol
    of their own). HOST_PATH maps a module's path to where it can be read here."""
    wrong = []
    for frames in every_stack(document):
        for frame in outermost_frames(frames):
            name = frame.get("function")
            if not name or name == "??" or not frame.get("module"):
                continue
            address = int(frame["offset"], 16) - 1  # a return address: the call is before it
            names = holding_names(host_path(frame["module"]), address)
            if normalize_function(name) not in names:
                wrong.append("%s in %s+%s: symbols holding the address: %s"
                             % (name, frame["module"], frame["offset"], sorted(names) or "none"))
    return wrong


# The Python frames of a wait reached through a callback (gilblock's drive.py
# --through-callback), innermost first: the first two run in the eval-loop call that
# `map` made, the last three in the one that runs the script (the callback is named
# wait_through_callback.<locals>.wait_in_callback from 3.11 on).
CALLBACK_PYTHON_FRAMES = [" in wait_for_native_work\n", "wait_in_callback\n",
                          " in wait_through_callback\n", " in main\n", " in <module>\n"]


def assert_python_frames_in_place(text, version):
    """TEXT (the text report of one gil-held-blocking finding reached through a callback,
    on Python VERSION "3.N") shows each Python frame inside the native stack, where its
    eval-loop call ran it: the extension's frame, then the callback's two Python frames,
    then the C frames of `map` (folded, as interpreter frames), then the script's three.
    From 3.11 the frames of one loop call are adjacent (before, each call is a C call)."""
    assert "not placed among the native frames" not in text, text
    block = text[text.index("gil-held-blocking"):]
    positions = [block.find("py ", block.find("gilblock_wait_holding_gil"))]
    for name in CALLBACK_PYTHON_FRAMES:
        positions.append(block.find(name))
        assert positions[-1] != -1, "%r not in\n%s" % (name, block)
    assert positions == sorted(positions), (positions, block)
    between = block[positions[2]:positions[3]]
    assert "interpreter frames" in between or "interpreter and" in between, block
    if tuple(int(n) for n in version.split(".")[:2]) >= (3, 11):
        for start, end in ((positions[1], positions[2]), (positions[3], positions[5])):
            assert "interpreter" not in block[start:end], block
