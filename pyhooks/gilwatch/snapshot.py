"""Native thread and fd snapshots, from /proc/self — what the teardown checks compare.

Threads are kernel tasks (every thread, not only Python's); fds are every open file
descriptor with what it points to ("pipe:[123]", "/tmp/x", "socket:[9]").
"""

import os
import time


def native_threads():
    """{tid: name} of every thread of this process."""
    threads = {}
    for entry in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % entry) as comm:
                threads[int(entry)] = comm.read().rstrip("\n")
        except OSError:
            pass  # it ended between the listing and the read
    return threads


def open_fds():
    """{fd: target} of every open file descriptor, without the one listing them."""
    fds = {}
    listing = "/proc/self/fd"
    for entry in os.listdir(listing):
        try:
            target = os.readlink(os.path.join(listing, entry))
        except OSError:
            continue  # the directory fd of the listing itself, closed by now
        fds[int(entry)] = target
    return fds


def fd_kind(target):
    """What kind of fd, without the inode numbers that differ between runs: "pipe",
    "socket", "anon_inode" or the path."""
    if target.startswith(("pipe:", "socket:", "anon_inode:")):
        return target.split("[", 1)[0].rstrip(":")
    return target


class Snapshot(object):
    """Threads and fds at one moment."""

    def __init__(self, threads=None, fds=None):
        self.threads = native_threads() if threads is None else threads
        self.fds = open_fds() if fds is None else fds

    def new_threads(self, baseline):
        """{tid: name} of threads not in `baseline`."""
        return {tid: name for tid, name in self.threads.items() if tid not in baseline.threads}

    def new_fds(self, baseline):
        """{fd: target} of fds not in `baseline`, or pointing elsewhere now."""
        return {fd: target for fd, target in self.fds.items() if baseline.fds.get(fd) != target}

    def matches(self, baseline):
        return not self.new_threads(baseline) and not self.new_fds(baseline)


def settle(baseline, settle_ms):
    """A snapshot taken once it matches `baseline`, or after `settle_ms` milliseconds.

    A thread that was joined can still be listed for a moment: pthread_join returns when
    the thread's stack is released, a little before the kernel removes the task.
    """
    deadline = time.monotonic() + settle_ms / 1000.0
    while True:
        now = Snapshot()
        if now.matches(baseline) or time.monotonic() >= deadline:
            return now
        time.sleep(0.005)
