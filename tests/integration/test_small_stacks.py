"""Lock calls on small stacks under gilwatch (scenarios/programs/small_stack.c): a thread
with a 16 KiB stack, an 8 KiB coroutine stack and an 8 KiB sigaltstack, each taking every
hooked family of lock calls nested under another lock (new lock orders: the detector's
heavy path). Under gilwatch the program must finish exactly as without it; where too
little stack was left to record a new lock order, the skipped acquisitions are counted
and reported. The twin: an inversion on ordinary threads is still reported."""

import glob
import json
import re

import pytest

import gilwatch_testlib as lib

KINDS = ["thread", "ucontext", "sigaltstack"]  # "normal" is their twin
# Stacks the library knows nothing of, or too small for a new edge: something is
# always skipped there. (The 16 KiB thread usually has room left for the heavy path.)
ALWAYS_SKIPPING = ["ucontext", "sigaltstack"]

# docs/design.md, "Stack budget": the most a hook may use on a new lock order, and on a
# lock order already known, over what the plain call uses.
NEW_EDGE_BUDGET = 4096
KNOWN_EDGE_BUDGET = 1024


def small_stack():
    path = lib.program_path("small_stack")
    assert path.is_file(), "%s is not built" % path
    return path


def plain(*args):
    completed = lib.run_bounded([small_stack(), *args])
    assert completed.returncode == 0, completed.describe()
    return completed


def process_results(run):
    files = glob.glob(str(run.out_dir / "raw" / "*.json"))
    documents = [json.load(open(f)) for f in files]
    return [d for d in documents if d.get("reporter", "library") == "library"]


@pytest.mark.parametrize("kind", KINDS)
def test_small_stack_program_runs_as_without_gilwatch(out_dir, kind):
    expected = plain(kind)
    assert expected.stdout == "%s: 8 families done on the small stack\n" % kind
    run = lib.run_gilwatch(out_dir, [small_stack(), kind])
    assert run.returncode == 0, run.describe()
    assert run.completed.stdout == expected.stdout, run.describe()
    assert "ended by signal" not in run.completed.stderr, run.describe()
    assert run.findings == [], run.describe()
    untracked = run.document["untracked_low_stack"]
    assert isinstance(untracked, int) and untracked >= 0, run.document
    # The merged count is the sum of the processes' own.
    assert sum(d["untracked_low_stack"] for d in process_results(run)) == untracked


@pytest.mark.parametrize("kind", ALWAYS_SKIPPING)
def test_acquisitions_skipped_for_low_stack_are_counted_and_reported(out_dir, kind):
    run = lib.run_gilwatch(out_dir, [small_stack(), kind])
    assert run.returncode == 0, run.describe()
    untracked = run.document["untracked_low_stack"]
    assert untracked > 0, run.describe()
    # At most one per nested acquisition the program makes (20 under lock_a).
    assert untracked <= 20, run.document
    summary = [line for line in run.completed.stderr.splitlines() if line.startswith("gilwatch: ")]
    # How many depends on the hooks' frame sizes (the compiler's inlining): one is
    # singular in both texts.
    plural = "" if untracked == 1 else "s"
    assert summary == ["gilwatch: no findings; %d acquisition%s not tracked: low stack -> %s"
                       % (untracked, plural, run.out_dir / "report.html")], run.describe()
    html = (run.out_dir / "report.html").read_text()
    assert "<th>not tracked</th>" in html
    assert "%d lock acquisition%s: low stack" % (untracked, plural) in html


def test_a_thread_with_a_default_stack_skips_nothing(out_dir):
    # The twin: the same calls on a thread with the default stack: nothing counted,
    # nothing said, no finding.
    run = lib.run_gilwatch(out_dir, [small_stack(), "normal"])
    assert run.returncode == 0, run.describe()
    assert run.completed.stdout == "normal: 8 families done on the small stack\n", run.describe()
    assert run.findings == [], run.describe()
    assert run.document["untracked_low_stack"] == 0, run.describe()
    assert "not tracked" not in run.completed.stderr, run.describe()
    assert "not tracked" not in (run.out_dir / "report.html").read_text()


@pytest.mark.parametrize("kind", KINDS + ["normal"])
def test_inversion_on_ordinary_threads_is_still_reported(out_dir, kind):
    expected = plain(kind, "inversion")
    run = lib.run_gilwatch(out_dir, [small_stack(), kind, "inversion"])
    assert run.returncode == 66, run.describe()
    assert run.completed.stdout == expected.stdout, run.describe()
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    threads = [thread.get("name") for thread in finding["threads"]]
    assert "take_b_then_a" in threads, finding


def measured(completed):
    sizes = {}
    for line in completed.stdout.splitlines():
        m = re.fullmatch(r"(\S+)\s+new order:\s+(\d+) bytes, repeated:\s+(\d+) bytes", line)
        assert m, completed.describe()
        sizes[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return sizes


def test_every_hook_family_stays_within_the_stack_budget(out_dir):
    without = measured(plain("measure"))
    run = lib.run_gilwatch(out_dir, [small_stack(), "measure"])
    assert run.returncode == 0, run.describe()
    under = measured(run.completed)
    assert sorted(under) == sorted(without) == sorted(
        ["mutex", "mutex-try", "mutex-timed", "rwlock", "rwlock-timed", "cond", "futex-sleep", "thread"])
    for family, (new_order, repeated) in under.items():
        plain_new, plain_repeated = without[family]
        assert new_order - plain_new <= NEW_EDGE_BUDGET, (family, under, without)
        assert repeated - plain_repeated <= KNOWN_EDGE_BUDGET, (family, under, without)
    # The measure is real: the heavy path (a new order) uses more than a known one.
    assert under["mutex"][0] > under["mutex"][1] + 512, under
