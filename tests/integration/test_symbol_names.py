"""Native frame names are true: on Debian's /usr/bin/python3.11 (a stripped, non-PIE
executable with libpython inside; .dynsym is all it has) the findings of a few seed
fixtures are run under `gilwatch run`, and every named native frame is compared with
the symbol table of its module (`nm -S` of the module, its dynamic symbols and a
separate debug file found by build id): the symbol that holds the frame's address must
carry the frame's name. A frame in no symbol's range must stay unnamed and show
module+offset. Inlined frames (every frame of a pc but its last) come from DWARF and
have no symbol of their own; their pc's outermost frame is checked.

The twin: the fixtures' own frames (modules built with symbols) are named, with the
fixture's functions."""

import pathlib
import re
import subprocess

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
DEBIAN = [p for p in PYTHONS if p["interpreter"] == str(lib.DEBIAN_PYTHON)]

# (fixture folder, module, arguments, a function of the fixture one of its findings names)
FIXTURES = [
    ("registry", "registry_buggy", ["buggy"], "registry_store"),
    ("teardown", "teardown_buggy", ["buggy"], None),
    ("gilblock", "gilblock_buggy", ["buggy", "sleep", "join"], "gilblock_wait_holding_gil"),
]

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


_symbols = {}


def sized_symbols(module):
    """(start, end, demangled name) of every defined symbol with a size in MODULE's
    .symtab and .dynsym, and in its separate debug file."""
    if module in _symbols:
        return _symbols[module]
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
    _symbols[module] = found
    return found


def holding_names(module, address):
    return {lib.normalize_function(name) for start, end, name in sized_symbols(module) if start <= address < end}


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


def wrong_names(document):
    """Every named frame whose module has no symbol holding its address under that name."""
    wrong = []
    for frames in every_stack(document):
        for frame in outermost_frames(frames):
            name = frame.get("function")
            if not name or name == "??" or not frame.get("module"):
                continue
            address = int(frame["offset"], 16) - 1  # a return address: the call is before it
            names = holding_names(frame["module"], address)
            if lib.normalize_function(name) not in names:
                wrong.append("%s in %s+%s: symbols holding the address: %s"
                             % (name, frame["module"], frame["offset"], sorted(names) or "none"))
    return wrong


@pytest.fixture(scope="module")
def debian():
    lib.check_debian_python_is_built(PYTHONS)
    return DEBIAN[0]


@pytest.mark.parametrize("fixture,module,arguments,function", FIXTURES, ids=[f[1] for f in FIXTURES])
def test_every_named_frame_is_the_symbol_that_holds_its_address(out_dir, debian, fixture, module, arguments,
                                                                 function):
    lib.require_extension(debian, module)
    driver = lib.source_dir() / "scenarios" / "extensions" / fixture / "drive.py"
    run = lib.run_gilwatch(out_dir, [debian["interpreter"], driver, *arguments, "--module-dir", debian["module_dir"]])
    assert run.findings, run.describe()
    assert wrong_names(run.document) == [], run.describe()

    frames = [frame for stack in every_stack(run.document) for frame in stack]
    interpreter = [f for f in frames if f.get("module") == str(lib.DEBIAN_PYTHON)]
    # The stripped interpreter is in the stacks, and its internal functions (the eval
    # loop, the thread bootstrap) have no symbol: unnamed there, shown as module+offset.
    assert interpreter, run.describe()
    unnamed = [f for f in interpreter if f["function"] == "??"]
    assert unnamed, [f["function"] for f in interpreter]
    assert "python3.11+" + unnamed[0]["offset"] in run.completed.stderr, run.describe()
    # The twin: the fixture's own module, built with symbols, is named.
    own = {f["function"] for f in frames if pathlib.Path(f.get("module", "")).name.startswith(module + ".")}
    assert own and "??" not in own, own
    if function:
        assert function in {lib.normalize_function(name) for name in own}, own
