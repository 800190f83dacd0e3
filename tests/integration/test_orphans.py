"""Nothing gilwatch starts outlives it (issue 18, item 5).

The command under test starts a child in its own process group and a daemon that
double-forks and calls setsid (so it is in no group gilwatch knows), each of which
writes its pid to a file and sleeps forever. Whichever way `gilwatch run` or
`gilwatch stress` is ended — SIGINT, SIGTERM, SIGKILL — every listed process must be gone
within a few seconds. The twins: a command that ends normally keeps its exit status and
leaves nothing, and one that leaves processes behind has them ended, named on stderr."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import gilwatch_testlib as lib

PYTHON = "/usr/bin/python3"
DEADLINE_SECONDS = 20

# argv: PIDS_FILE MODE; MODE "sleep" waits forever, "exit N" returns N after the spawns.
SPAWNER = textwrap.dedent("""\
    import os, subprocess, sys, time

    pids_file = sys.argv[1]

    def note(who):
        with open(pids_file, "a") as f:
            f.write("%s %d\\n" % (who, os.getpid()))

    note("command")
    subprocess.Popen([sys.executable, "-c",
                      "import os, sys, time\\n"
                      "open(sys.argv[1], 'a').write('child %d\\\\n' % os.getpid())\\n"
                      "while True: time.sleep(60)\\n", pids_file])
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            note("daemon")
            while True:
                time.sleep(60)
        os._exit(0)
    os.wait()
    while len(open(pids_file).read().splitlines()) < 3:
        time.sleep(0.02)
    if sys.argv[2] == "sleep":
        while True:
            time.sleep(60)
    sys.exit(int(sys.argv[3]))
    """)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def listed_pids(pids_file):
    if not pids_file.exists():
        return {}
    return {who: int(pid) for who, pid in (line.split() for line in pids_file.read_text().splitlines())}


def wait_for_pids(pids_file, count, process):
    deadline = time.monotonic() + 60
    while len(listed_pids(pids_file)) < count and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    pids = listed_pids(pids_file)
    assert len(pids) == count, "the command did not start its processes: %r" % pids
    return pids


def assert_all_gone(pids):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = {who: pid for who, pid in pids.items() if alive(pid)}
    for pid in survivors.values():
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "still running after gilwatch ended: %r" % survivors


@pytest.fixture
def spawner(tmp_path):
    path = tmp_path / "spawner.py"
    path.write_text(SPAWNER)
    return path


def start_run(tmp_path, spawner, *mode):
    pids_file = tmp_path / "pids"
    process = subprocess.Popen([str(lib.gilwatch_path()), "run", "--out", str(tmp_path / "out"), "--",
                                PYTHON, str(spawner), str(pids_file), *mode],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                               start_new_session=True)
    return process, pids_file


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_run_ends_the_command_and_everything_it_started(tmp_path, spawner, sig):
    process, pids_file = start_run(tmp_path, spawner, "sleep")
    pids = wait_for_pids(pids_file, 3, process)
    process.send_signal(sig)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        assert_all_gone(pids)
    # The daemon left the command's group: it is ended when the command has ended.
    assert "gilwatch run: ended" in stderr and "left running" in stderr, stderr
    assert (tmp_path / "out" / "findings.json").is_file()


def test_sigkill_of_run_kills_the_command_and_everything_it_started(tmp_path, spawner):
    process, pids_file = start_run(tmp_path, spawner, "sleep")
    pids = wait_for_pids(pids_file, 3, process)
    process.kill()
    process.communicate(timeout=60)
    assert_all_gone(pids)


def test_a_command_that_exits_keeps_its_status_and_what_it_left_is_ended(tmp_path, spawner):
    process, pids_file = start_run(tmp_path, spawner, "exit", "3")
    _, stderr = process.communicate(timeout=120)
    pids = listed_pids(pids_file)
    assert len(pids) == 3, pids
    assert process.returncode == 3, stderr
    assert "gilwatch run: ended 2 processes that '%s' left running" % PYTHON in stderr, stderr
    assert_all_gone(pids)


def test_a_command_that_leaves_nothing_gets_no_note_and_keeps_its_status(tmp_path):
    run = lib.run_gilwatch(tmp_path / "out", [PYTHON, "-c", "import subprocess, sys; "
                                              "subprocess.run([sys.executable, '-c', 'pass'], check=True)"])
    assert run.returncode == 0, run.describe()
    assert "left running" not in run.completed.stderr, run.describe()
    assert run.findings == []


def test_sigkill_of_stress_kills_its_runs_and_everything_they_started(tmp_path, spawner):
    pids_file = tmp_path / "pids"
    suite = tmp_path / "suite.toml"
    suite.write_text(textwrap.dedent("""\
        [[scenario]]
        name = "spawner"
        kind = "script"
        script = "%s"
        args = ["%s", "sleep"]
        runs = 1
        timeout = 600
        """ % (spawner, pids_file)))
    process = subprocess.Popen([str(lib.gilwatch_path()), "stress", str(suite), "--out", str(tmp_path / "out"),
                                "--python", PYTHON, "-j", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                               start_new_session=True)
    pids = wait_for_pids(pids_file, 3, process)
    process.kill()
    process.communicate(timeout=60)
    assert_all_gone(pids)
