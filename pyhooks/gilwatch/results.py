"""Findings made on the Python side (thread-leak, fd-leak, low-speedup, slow teardown),
written as a results file of the library's format (result_format.h, version 1) with
"reporter": "pyhooks", so `gilwatch report` merges them with everything else."""

import json
import os
import sys
import time

from gilwatch.snapshot import fd_kind

# The format's name, version and keys are defined in
# instrumentation/include/gilwatch/result_format.h; tests/unit/test_results_round_trip.cpp
# reads what this module writes back through the command's reader and refuses a key,
# a kind or a format the header does not list.
FORMAT = "gilwatch-process-results"
VERSION = 1

# The finding kinds the Python side writes (the header lists them with kPyhooks).
KINDS = ("thread-leak", "fd-leak", "hang", "low-speedup")


def finding(kind, summary, detail, threads=()):
    """One finding. `detail` identifies it across runs (merged findings share it), so it
    must not contain counts, addresses or times; `summary` may."""
    return {
        "kind": kind,
        "summary": summary,
        "detail": detail,
        "locks": [],
        "threads": [dict(t) for t in threads],
    }


def leak_thread(tid, name, role):
    return {"tid": tid, "name": name, "role": role}


def _remain(count, noun):
    return "%d %s%s" % (count, noun, " remains" if count == 1 else "s remain")


def counted(names):
    counts = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return ["%s x%d" % (name, n) if n > 1 else name for name, n in sorted(counts.items())]


def thread_leak(leaked, when, identity, role):
    """The thread-leak finding for threads {tid: name} that remain `when` ("after
    tests/t.py::test_x"); `identity` (the scenario or test) starts its detail, the
    threads' names end it."""
    return finding(
        "thread-leak",
        "%s %s: %s" % (_remain(len(leaked), "native thread"), when, ", ".join(counted(leaked.values()))),
        "%s: %s" % (identity, ", ".join(sorted(set(leaked.values())))),
        [leak_thread(tid, name, role) for tid, name in sorted(leaked.items())[:32]])


def fd_leak(leaked, when, identity):
    """The fd-leak finding for fds {fd: target} that remain open `when`; its detail ends
    with the kinds of fd (no inode numbers, which differ between runs)."""
    listed = ", ".join("%d -> %s" % (fd, target) for fd, target in sorted(leaked.items())[:16])
    return finding(
        "fd-leak",
        "%s open %s: %s%s" % (_remain(len(leaked), "fd"), when, listed, ", ..." if len(leaked) > 16 else ""),
        "%s: %s" % (identity, ", ".join(sorted(set(fd_kind(t) for t in leaked.values())))))


def out_dir_from_options(options=None):
    """The out_dir key of GILWATCH_OPTIONS (the last one wins, as in the library)."""
    text = os.environ.get("GILWATCH_OPTIONS", "") if options is None else options
    found = None
    for entry in text.split(":"):
        key, sep, value = entry.partition("=")
        if sep and key == "out_dir" and value:
            found = value
    return found


def write(directory, findings, tag="pyhooks"):
    """Writes gilwatch.<pid>.<tag>.json into `directory` (atomically); returns its path."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "reporter": "pyhooks",
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "argv": list(sys.argv),
        "exe": sys.executable,
        "state": "running",
        "python": {"loaded": True, "version": sys.version.replace("\n", " ")},
        "findings": list(findings),
    }
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "gilwatch.%d.%s.json" % (os.getpid(), tag))
    temporary = "%s.%d.tmp" % (path, int(time.monotonic() * 1e6))
    with open(temporary, "w") as out:
        json.dump(document, out, indent=1)
        out.write("\n")
    os.replace(temporary, path)
    return path
