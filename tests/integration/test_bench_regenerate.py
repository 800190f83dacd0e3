"""bench/regenerate_benchmarks.py --quick: it runs every benchmark (small), and rewrites
the marked block of the document it is given with the table, the command and the commit,
leaving the rest of the document as it was; a document without the markers is refused
and left alone. Asserts what is written, never a figure."""

import shutil
import subprocess
import sys

import pytest

import gilwatch_testlib as lib

BEGIN = "<!-- regenerate_benchmarks: begin -->"
END = "<!-- regenerate_benchmarks: end -->"


def regenerate(doc):
    return subprocess.run([sys.executable, str(lib.source_dir() / "bench" / "regenerate_benchmarks.py"), "--quick",
                           "--build", str(lib.build_dir()), "--doc", str(doc)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=1200)


def test_quick_run_rewrites_the_marked_block_only(tmp_path):
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    for program in ("lock_loop", "nested_pairs", "clock_read_cost"):
        if not (lib.build_dir() / "bin" / program).exists():
            pytest.skip("bench program %s is not built" % program)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Before\n\ntext above\n\n%s\nold figures\n%s\n\ntext below\n" % (BEGIN, END))
    completed = regenerate(doc)
    assert completed.returncode == 0, completed.stderr
    text = doc.read_text()
    assert text.startswith("# Before\n\ntext above\n\n" + BEGIN + "\n")
    assert text.endswith(END + "\n\ntext below\n")
    assert "old figures" not in text
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    commit = subprocess.run(["git", "-C", str(lib.source_dir()), "rev-parse", "--short", "HEAD"],
                            stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    assert "`python3 bench/regenerate_benchmarks.py --quick` at commit %s" % commit in block
    assert "| measure | plain | gilwatch | ratio | ThreadSanitizer | goal |" in block
    for row in ("| mutex lock+unlock, nothing held, 2 threads (CPU ns) |",
                "| mutex lock+unlock, 2 held, 2 threads (CPU ns) |",
                "| `--profile`, mutex lock+unlock, nothing held, 2 threads (CPU ns) |",
                "| instructions per lock+unlock, nothing held (callgrind) |",
                "| two time-stamp counter reads between a lock's two atomic instructions, no gilwatch "
                "(wall ns; the floor under `--profile`) |",
                "| nested pairs, K = 1000 distinct mutexes, per acquisition (CPU ns) |",
                "| `gilwatch stress -j 1` against a loop (xargs -P, no shell) of the same command, 4 runs (s) |",
                "| `gilwatch stress -j 2` against a loop (xargs -P, no shell) of the same command, 4 runs (s) |"):
        assert row in block
    # Each script's own output, under the command that printed it.
    for command in ("$ bench/instructions_per_lock.sh build", "$ bench/uncontended_ratio.sh build 1",
                    "$ bench/nested_pairs.sh build 1", "$ python3 bench/stress_overhead.py --runs 4 --repeats 1",
                    "$ build/bin/clock_read_cost 2000000"):
        assert command in block
    assert "median of 1 interleaved pairs" in block
    # The anchors: a figure or the reason there is none.
    assert "ThreadSanitizer" in block and ("memray" in block or "n/a" in block)
    # Run again: the block is replaced, not added.
    assert regenerate(doc).returncode == 0
    again = doc.read_text()
    assert again.count(BEGIN) == 1 and again.count(END) == 1 and again.endswith(END + "\n\ntext below\n")


def test_a_document_without_the_markers_is_left_alone(tmp_path):
    doc = tmp_path / "benchmarks.md"
    original = "# Benchmarks\n\nno block here\n"
    doc.write_text(original)
    completed = regenerate(doc)
    assert completed.returncode != 0
    assert "has no block between %s and %s" % (BEGIN, END) in completed.stderr
    assert doc.read_text() == original
