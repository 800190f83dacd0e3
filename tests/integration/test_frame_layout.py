"""The private frame layout the library reads to place Python frames among native ones
(instrumentation/engine/python_layout.h, printed by gilwatch_python_layout_table),
compared with offsetof() compiled against each CPython version's own internal headers:
pyenv's 3.11-3.13, Debian's 3.11 (python3.11-dev) and forky's 3.14 and 3.15 (the Debian
root of scripts/make-debian-root.sh, with python3.14-dev and python3.15-dev). A version
whose headers are not installed here is skipped with the reason.
"""

import pathlib
import subprocess

import pytest

import debian_root
import gilwatch_testlib as lib

# Prints one line in python_layout_table.cpp's form from the headers it is compiled with.
PROBE = r"""
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#if PY_MINOR_VERSION >= 14
#include "internal/pycore_interpframe_structs.h"
#endif
#include "internal/pycore_frame.h"
int main(void) {
  printf("%d.%d f_frame=%zu frame_obj=%zu", PY_MAJOR_VERSION, PY_MINOR_VERSION,
         offsetof(struct _frame, f_frame), offsetof(struct _PyInterpreterFrame, frame_obj));
#if PY_MINOR_VERSION == 11
  printf(" is_entry=%zu\n", offsetof(struct _PyInterpreterFrame, is_entry));
#else
  /* The owner of the entry frame _PyEval_EvalFrameDefault pushes on the C stack. */
#if PY_MINOR_VERSION >= 14
  int entry_owner = FRAME_OWNED_BY_INTERPRETER;
#else
  int entry_owner = FRAME_OWNED_BY_CSTACK;
#endif
  printf(" previous=%zu owner=%zu entry_owner=%d\n", offsetof(struct _PyInterpreterFrame, previous),
         offsetof(struct _PyInterpreterFrame, owner), entry_owner);
#endif
  return 0;
}
"""

PYENV = pathlib.Path.home() / ".pyenv" / "versions"


def table():
    program = lib.build_dir() / "bin" / "gilwatch_python_layout_table"
    if not program.is_file():
        pytest.fail("%s is not built" % program)
    out = subprocess.run([str(program)], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {line.split()[0]: line for line in out.splitlines()}


def probe(tmp_path, includes):
    source = tmp_path / "probe.c"
    source.write_text(PROBE)
    binary = tmp_path / "probe"
    completed = subprocess.run(["gcc", "-w", *("-I%s" % i for i in includes), str(source), "-o", str(binary)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert completed.returncode == 0, completed.stdout
    return subprocess.run([str(binary)], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


def header_dirs(include):
    if not (include / "internal" / "pycore_frame.h").is_file():
        pytest.skip("no internal headers in %s" % include)
    return [include]


@pytest.mark.parametrize("minor", [11, 12, 13])
def test_pyenv_headers_agree(tmp_path, minor):
    found = sorted(PYENV.glob("3.%d.*/include/python3.%d" % (minor, minor)))
    if not found:
        pytest.skip("no pyenv 3.%d under %s" % (minor, PYENV))
    assert probe(tmp_path, header_dirs(found[-1])) == table()["3.%d" % minor]


def test_debian_python311_headers_agree(tmp_path):
    include = pathlib.Path("/usr/include/python3.11")
    dirs = header_dirs(include) + ["/usr/include/x86_64-linux-gnu/python3.11"]
    assert probe(tmp_path, dirs) == table()["3.11"]


@pytest.fixture(scope="module")
def root():
    return debian_root.debian_root()


@pytest.mark.parametrize("minor", [14, 15])
def test_debian_forky_headers_agree(tmp_path, root, minor):
    include = root.path / "usr" / "include" / ("python3.%d" % minor)
    dirs = header_dirs(include)
    # The root's pyconfig.h includes <x86_64-linux-gnu/python3.N/pyconfig.h>: offer only
    # that directory of the root, not its C library's headers.
    shim = tmp_path / "multiarch" / "x86_64-linux-gnu"
    shim.mkdir(parents=True)
    (shim / ("python3.%d" % minor)).symlink_to(root.path / "usr" / "include" / "x86_64-linux-gnu" / ("python3.%d" % minor))
    assert probe(tmp_path, dirs + [tmp_path / "multiarch"]) == table()["3.%d" % minor]
