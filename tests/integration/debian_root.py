"""The Debian forky root for the integration tests: a machine that never saw the build.

`debian_root()` gets it from scripts/make-debian-root.sh (which creates and caches it
outside the clone when absent; about 2 minutes once), or skips the test with the
script's reason when it cannot be made. `DebianRoot.run()` runs a command inside it
through scripts/in-debian-root.sh: a private mount namespace with /dev, /proc, a fresh
/tmp and the given directories bind-mounted at the same paths, so nothing stays mounted
on the host. Commands inside see only what the root's own packages installed.
"""

import os
import pathlib
import signal
import subprocess
import time

import pytest

import gilwatch_testlib as lib

# make-debian-root.sh's status when the root cannot be made (its reason on stderr).
ROOT_UNAVAILABLE_STATUS = 2
# Waiting for another test's build (the script's lock) plus a build of our own.
MAKE_ROOT_TIMEOUT_SECONDS = 3600


def make_root_script():
    return lib.source_dir() / "scripts" / "make-debian-root.sh"


def in_root_script():
    return lib.source_dir() / "scripts" / "in-debian-root.sh"


class DebianRoot:
    def __init__(self, path):
        self.path = pathlib.Path(path)

    def host_path(self, inside):
        """Where a path of the root is on the host."""
        return self.path / str(inside).lstrip("/")

    def run(self, command, binds=(), cwd="/", env=None, timeout=lib.RUN_TIMEOUT_SECONDS):
        """Runs COMMAND inside the root with each directory of BINDS at the same path;
        returns a gilwatch_testlib.Completed. On timeout kills the whole process group
        and fails the test."""
        wrapper = [in_root_script(), self.path]
        for directory in binds:
            wrapper += ["--bind", directory]
        wrapper += ["--cwd", cwd]
        for name, value in (env or {}).items():
            wrapper += ["--env", "%s=%s" % (name, value)]
        full = [str(part) for part in wrapper + ["--"] + list(command)]
        started = time.monotonic()
        process = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   errors="replace", start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail("timed out after %d s in %s: %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
                        % (timeout, self.path, " ".join(map(str, command)), stdout[-4000:], stderr[-4000:]))
        return lib.Completed([str(part) for part in command], process.returncode, stdout, stderr,
                             time.monotonic() - started)


def mounts_below(path):
    """Mount points on the host at or below PATH (none once a run has ended)."""
    prefix = str(path).rstrip("/")
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            mount_point = line.split()[4]
            if mount_point == prefix or mount_point.startswith(prefix + "/"):
                found.append(mount_point)
    return found


def extra_packages_dir(root, packages):
    """A directory beside ROOT (ROOT-extra/NAME) holding the root's own Debian PACKAGES,
    fetched there with `apt-get download` and unpacked with `dpkg-deb -x`, for a command
    of the build that needs a library the root lacks (`gilwatch` needs libtbb.so.12):
    given to that command with LD_LIBRARY_PATH, never installed into the root, whose
    library directories keep only what its own packages put there. Made once and renamed
    into place; skips the calling test, with apt-get's reason, when the packages cannot
    be fetched. Returns the unpacked tree's library directory."""
    extra = root.path.parent / (root.path.name + "-extra")
    target = extra / "-".join(packages)
    libdir = target / "usr" / "lib" / "x86_64-linux-gnu"
    if libdir.is_dir():
        return libdir
    extra.mkdir(parents=True, exist_ok=True)
    staging = extra / ("%s.tmp.%d" % (target.name, os.getpid()))
    staging.mkdir()
    try:
        fetched = root.run(["sh", "-c", 'apt-get -q -o Acquire::Check-Valid-Until=false download "$@" '
                            '&& for deb in *.deb; do dpkg-deb -x "$deb" tree || exit 1; done', "sh", *packages],
                           binds=[staging], cwd=staging, timeout=MAKE_ROOT_TIMEOUT_SECONDS)
        if fetched.returncode != 0:
            reason = (fetched.stderr.strip() or fetched.stdout.strip()).splitlines()
            pytest.skip("cannot fetch %s for the Debian root: %s" % (" ".join(packages), " / ".join(reason[-3:])))
        try:
            os.rename(staging / "tree", target)
        except OSError:
            if not libdir.is_dir():  # another test's rename won: use it, else fail
                raise
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(staging)], check=False)
    assert libdir.is_dir(), "%s holds no %s" % (target, libdir)
    return libdir


def debian_root():
    """The root of scripts/make-debian-root.sh, made now if absent. Skips the calling
    test, with the script's reason, when the root cannot be made; fails on anything else."""
    script = make_root_script()
    try:
        completed = subprocess.run([str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, errors="replace", timeout=MAKE_ROOT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail("%s did not finish in %d s" % (script, MAKE_ROOT_TIMEOUT_SECONDS))
    if completed.returncode == ROOT_UNAVAILABLE_STATUS:
        reason = completed.stderr.strip().splitlines()
        pytest.skip("no Debian root: %s" % " / ".join(reason[-3:]) if reason else "no Debian root (no reason given)")
    assert completed.returncode == 0 and completed.stdout.strip(), \
        "%s: exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            script, completed.returncode, completed.stdout[-4000:], completed.stderr[-4000:])
    path = pathlib.Path(completed.stdout.strip().splitlines()[-1])
    assert (path / ".gilwatch-root").is_file(), "%s has no stamp: not a finished root" % path
    return DebianRoot(path)
