"""One gilwatch at a time per output directory (issue 18, item 6).

Two `gilwatch run --out D` at once used to delete each other's results; now the second is
refused (exit 2, naming D and the holder's pid) without touching D, and the first one's
results are intact. Twins: once the first has ended, D is free again; a lock file left by a
killed gilwatch does not block."""

import json
import os
import signal
import subprocess
import textwrap
import time

import gilwatch_testlib as lib

PYTHON = "/usr/bin/python3"

# Touches `started`, then waits until `release` exists.
HOLDER = textwrap.dedent("""\
    import os, sys, time
    open(sys.argv[1], "w").close()
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.02)
    """)


def start_holder(tmp_path, out):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    started, release = tmp_path / "started", tmp_path / "release"
    process = subprocess.Popen([str(lib.gilwatch_path()), "run", "--out", str(out), "--",
                                PYTHON, str(script), str(started), str(release)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists(), "the first run did not start"
    return process, release


def finish_holder(process, release):
    release.touch()
    stdout, stderr = process.communicate(timeout=120)
    return stderr


def gilwatch(*args):
    return lib.run_bounded([lib.gilwatch_path(), *args])


def test_a_second_run_on_a_held_directory_is_refused_and_the_first_keeps_its_results(tmp_path):
    out = tmp_path / "out"
    first, release = start_holder(tmp_path, out)
    raw_before = sorted(os.listdir(out / "raw"))
    try:
        second = gilwatch("run", "--out", str(out), "--", "/bin/true")
        assert second.returncode == 2, second.describe()
        assert "%s is in use by another gilwatch (pid %d)" % (out, first.pid) in second.stderr, second.describe()
        assert sorted(os.listdir(out / "raw")) == raw_before
        assert not (out / "findings.json").exists()
        stress_suite = tmp_path / "suite.toml"
        stress_suite.write_text('[[scenario]]\nname = "a"\nkind = "script"\nscript = "%s"\n' % (tmp_path / "holder.py"))
        stress = gilwatch("stress", str(stress_suite), "--out", str(out), "--python", PYTHON)
        assert stress.returncode == 2, stress.describe()
        assert "in use by another gilwatch (pid %d)" % first.pid in stress.stderr, stress.describe()
        report = gilwatch("report", str(out))
        assert report.returncode == 2, report.describe()
        assert "in use by a running gilwatch (pid %d)" % first.pid in report.stderr, report.describe()
        assert not (out / "report.html").exists() and not (out / "findings.json").exists()
        # What it holds so far may be reported elsewhere (the pytest plugin does, after
        # each test): read only, the held directory untouched.
        elsewhere = tmp_path / "so-far"
        elsewhere.mkdir()
        partial = gilwatch("report", str(out / "raw"), "-q", "-o", str(elsewhere / "report.html"))
        assert partial.returncode == 0, partial.describe()
        assert (elsewhere / "findings.json").is_file() and (elsewhere / "report.html").is_file()
        assert sorted(os.listdir(out / "raw")) == raw_before and not (out / "findings.json").exists()
    finally:
        stderr = finish_holder(first, release)
    assert first.returncode == 0, stderr
    document = json.loads((out / "findings.json").read_text())
    commands = [p["argv"] for p in document["processes"]]
    assert any(str(tmp_path / "holder.py") in argv for argv in commands), commands

    # Twin: once the first has ended, the directory is free.
    again = lib.run_gilwatch(out, [PYTHON, "-c", "pass"])
    assert again.returncode == 0, again.describe()
    assert [p["argv"] for p in again.document["processes"]] == [[PYTHON, "-c", "pass"]]
    report = gilwatch("report", str(out))
    assert report.returncode == 0, report.describe()


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path):
    out = tmp_path / "out"
    first, release = start_holder(tmp_path, out)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    assert (out / ".gilwatch.lock").read_text().strip() == str(first.pid)
    run = lib.run_gilwatch(out, [PYTHON, "-c", "pass"])
    assert run.returncode == 0, run.describe()
    assert (out / ".gilwatch.lock").read_text().strip() != str(first.pid)


def test_two_directories_run_at_once(tmp_path):
    first, release = start_holder(tmp_path, tmp_path / "a")
    try:
        other = lib.run_gilwatch(tmp_path / "b", [PYTHON, "-c", "pass"])
        assert other.returncode == 0, other.describe()
    finally:
        finish_holder(first, release)
    assert first.returncode == 0
