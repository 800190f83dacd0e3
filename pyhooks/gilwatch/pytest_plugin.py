"""gilwatch's pytest plugin: `pytest --gilwatch` (installed with pip, the plugin is
registered by entry point), or `pytest -p gilwatch.pytest_plugin`.

Active when asked: with --gilwatch, with `-p gilwatch.pytest_plugin`, or under
`gilwatch run` (libgilwatch.so preloaded); merely installed, it does nothing. With
--gilwatch and the library not preloaded, pytest runs itself again under `gilwatch run
-- <python> -m pytest ...`, so one flag is all a CI job adds.

- Installs the hooks (exit-boundary marker, thread names) when pytest starts.
- Tells the library which test is running (gilwatch_set_context), so each finding it
  reports names the test it happened in ("tests" in findings.json).
- Checks every test for native thread and fd leaks: the threads and fds that exist
  after its teardown but did not before its setup (after gc.collect(), and a short wait
  for joined threads to disappear). Threads and fds created while setting up fixtures
  of a wider scope (module, session...) belong to those fixtures, not to the test.
  Leaks are thread-leak / fd-leak findings in the results directory (--gilwatch-out, or
  the out_dir of GILWATCH_OPTIONS, which `gilwatch run` sets), so `gilwatch run -- python
  -m pytest -p gilwatch.pytest_plugin` reports them with everything else; they are also
  listed at the end of the session, and with --gilwatch-leaks=fail they fail the test.

Works with or without libgilwatch.so preloaded (without it there are no library
findings to attribute, and the leak checks still run).
"""

import gc
import os
import shutil
import sys

import pytest

import gilwatch
from gilwatch import _native, results
from gilwatch.snapshot import Snapshot, settle

_LEAKS_KEY = "gilwatch_leaks"


def pytest_addoption(parser):
    group = parser.getgroup("gilwatch", "gilwatch: thread and fd leaks, findings per test")
    group.addoption("--gilwatch", action="store_true", default=False,
                    help="run the session under gilwatch (re-running pytest under 'gilwatch run' when "
                         "libgilwatch.so is not preloaded yet) and check every test for leaks")
    group.addoption("--gilwatch-leaks", choices=("report", "fail", "off"), default="report",
                    help="native thread and fd leak checks per test: report them (default), also fail "
                         "the test, or skip the checks")
    group.addoption("--gilwatch-settle-ms", type=int, default=200, metavar="MS",
                    help="how long a test's leftover threads and fds may take to go away after its "
                         "teardown (default 200)")
    group.addoption("--gilwatch-out", metavar="DIR", default=None,
                    help="directory for the leak findings (default: out_dir of GILWATCH_OPTIONS, "
                         "set by 'gilwatch run'; none: only listed at the end)")


class _Plugin(object):
    def __init__(self, config):
        self.mode = config.getoption("gilwatch_leaks")
        self.settle_ms = config.getoption("gilwatch_settle_ms")
        self.out_dir = config.getoption("gilwatch_out") or results.out_dir_from_options()
        self.findings = []
        self.leaks_by_test = []

    # -- per test --

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        _native.set_context(item.nodeid)
        if self.mode != "off":
            gc.collect()
            item._gilwatch_before_setup = Snapshot()
        yield
        if self.mode != "off":
            item._gilwatch_after_setup = Snapshot()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield
        before = getattr(item, "_gilwatch_before_setup", None)
        if self.mode != "off" and before is not None:
            gc.collect()
            after = settle(before, self.settle_ms)
            new_threads = after.new_threads(before)
            new_fds = after.new_fds(before)
            after_setup = getattr(item, "_gilwatch_after_setup", None)
            if after_setup is not None and _uses_wider_fixtures(item):
                # Made while setting up module/session fixtures: theirs, not the test's.
                made_in_setup = Snapshot(after_setup.new_threads(before), after_setup.new_fds(before))
                new_threads = {t: n for t, n in new_threads.items() if t not in made_in_setup.threads}
                new_fds = {f: t for f, t in new_fds.items() if made_in_setup.fds.get(f) != t}
            leaks = self._record(item.nodeid, new_threads, new_fds)
            if leaks:
                setattr(item, "_gilwatch_leak_text", "; ".join(leaks))
        _native.set_context(None)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        text = getattr(item, "_gilwatch_leak_text", None)
        if call.when == "teardown" and text and self.mode == "fail":
            report = outcome.get_result()
            if report.outcome == "passed":
                report.outcome = "failed"
                report.longrepr = "gilwatch: " + text

    def _record(self, nodeid, new_threads, new_fds):
        leaks = []
        if new_threads:
            leaks.append(results.thread_leak(new_threads, "after " + nodeid, nodeid, "still running after the test"))
        if new_fds:
            leaks.append(results.fd_leak(new_fds, "after " + nodeid, nodeid))
        for leak in leaks:
            leak["context"] = nodeid
        self.findings.extend(leaks)
        summaries = [leak["summary"] for leak in leaks]
        if summaries:
            self.leaks_by_test.append((nodeid, summaries))
        return summaries

    # -- end of the session --

    def pytest_sessionfinish(self, session):
        if self.findings and self.out_dir:
            results.write(self.out_dir, self.findings, tag="pytest")

    def pytest_terminal_summary(self, terminalreporter):
        if not self.leaks_by_test:
            return
        terminalreporter.section("gilwatch: native thread and fd leaks")
        for nodeid, leaks in self.leaks_by_test:
            for leak in leaks:
                terminalreporter.line(leak)
        if self.out_dir:
            terminalreporter.line("(findings written to %s)" % self.out_dir)


def _uses_wider_fixtures(item):
    info = getattr(item, "_fixtureinfo", None)
    for definitions in getattr(info, "name2fixturedefs", {}).values():
        for definition in definitions:
            if str(getattr(definition, "scope", "function")).split(".")[-1].lower() != "function":
                return True
    return False


def _preloaded():
    return "libgilwatch" in os.environ.get("LD_PRELOAD", "")


def _requested_by_name(config):
    """`-p gilwatch.pytest_plugin` on the command line (or in PYTEST_ADDOPTS)."""
    args = list(config.invocation_params.args) + os.environ.get("PYTEST_ADDOPTS", "").split()
    for i, arg in enumerate(args):
        if arg == "-p" and i + 1 < len(args) and args[i + 1] == __name__:
            return True
        if arg == "-p" + __name__:
            return True
    return False


def _gilwatch_executable():
    """The installed package's own executable (pip), else `gilwatch` on PATH."""
    inside = os.path.join(os.path.dirname(os.path.abspath(gilwatch.__file__)), "bin", "gilwatch")
    if os.access(inside, os.X_OK):
        return inside
    return shutil.which("gilwatch")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """--gilwatch without the library preloaded: run this same pytest again under
    `gilwatch run`, which preloads it, collects every process's results and exits with
    its own status (66 when there were findings)."""
    if not early_config.known_args_namespace.gilwatch or _preloaded():
        return
    executable = _gilwatch_executable()
    if executable is None:
        raise pytest.UsageError("--gilwatch: the gilwatch command was not found (install gilwatch, or put it on PATH)")
    command = [executable, "run", "--", sys.executable, "-m", "pytest"] + list(early_config.invocation_params.args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(executable, command)


def pytest_configure(config):
    if not (config.getoption("gilwatch") or _preloaded() or _requested_by_name(config)):
        return  # installed, not asked for
    gilwatch.install()
    config.pluginmanager.register(_Plugin(config), "gilwatch-plugin")
