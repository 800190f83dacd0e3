"""Native frame names are true: on Debian's /usr/bin/python3.11 (a stripped, non-PIE
executable with libpython inside; .dynsym is all it has) the demo's fixtures
(scripts/demo.sh: registry, teardown, capi) and gilblock run under `gilwatch run`, and
every named native frame is compared with the symbol table of its module (`nm -S` of the
module, its dynamic symbols and a separate debug file found by build id): the symbol
that holds the frame's address must carry the frame's name. A frame in no symbol's
range must stay unnamed and show module+offset. Inlined frames (every frame of a pc but
its last) come from DWARF and have no symbol of their own; their pc's outermost frame
is checked.

The twin: the fixtures' own frames (modules built with symbols) are named, with the
fixture's functions."""

import pathlib

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
DEBIAN = [p for p in PYTHONS if p["interpreter"] == str(lib.DEBIAN_PYTHON)]

# (fixture folder, module, arguments, a function of the fixture one of its findings names)
FIXTURES = [
    ("registry", "registry_buggy", ["buggy"], "registry_store"),
    ("teardown", "teardown_buggy", ["buggy"], None),
    ("gilblock", "gilblock_buggy", ["buggy", "sleep", "join"], "gilblock_wait_holding_gil"),
    ("capi", "capi_buggy", ["buggy", "--bad"], "parse_all"),
]

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
    assert lib.frames_named_wrongly(run.document) == [], run.describe()

    frames = [frame for stack in lib.every_stack(run.document) for frame in stack]
    interpreter = [f for f in frames if f.get("module") == str(lib.DEBIAN_PYTHON)]
    # The stripped interpreter is in the stacks, and its internal functions (the eval
    # loop, the thread bootstrap) have no symbol: unnamed there, shown as module+offset.
    assert interpreter, run.describe()
    unnamed = [f for f in interpreter if f["function"] == "??"]
    assert unnamed, [f["function"] for f in interpreter]
    # Folded by default (interpreter frames); every frame, with its module+offset, in full.
    full = lib.run_bounded([lib.gilwatch_path(), "report", out_dir, "-o", out_dir / "full.html", "--full-stacks"])
    assert full.returncode == 0, full.describe()
    assert "python3.11+" + unnamed[0]["offset"] in full.stderr, full.describe()
    # The twin: the fixture's own module, built with symbols, is named.
    own = {f["function"] for f in frames if pathlib.Path(f.get("module", "")).name.startswith(module + ".")}
    assert own and "??" not in own, own
    if function:
        assert function in {lib.normalize_function(name) for name in own}, own
