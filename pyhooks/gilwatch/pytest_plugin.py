"""gilwatch's pytest plugin: `pytest --gilwatch` (installed with pip, the plugin is
registered by entry point), or `pytest -p gilwatch.pytest_plugin`.

Active when asked: with --gilwatch, with `-p gilwatch.pytest_plugin`, or under
`gilwatch run` (libgilwatch.so preloaded); merely installed, it does nothing. With
--gilwatch and the library not preloaded, pytest runs itself again under `gilwatch run
--exitcode-ignores-tests -- <python> -m pytest ...` (with pytest's output capture stopped
first, so the second pytest prints to the terminal), so one flag is all a CI job adds.

- Installs the hooks (exit-boundary marker, thread names) when pytest starts.
- Tells the library which test is running (gilwatch_set_context, and GILWATCH_CONTEXT
  for the processes a test starts), so each finding names the test it happened in.
- After each phase of a test (setup, call, teardown) asks the library how many findings
  it has (one ctypes call) and stats the results directory (processes the test started
  write there when they end). When either changed, it writes the results now
  (gilwatch_flush_results), has `gilwatch report` symbolize them, and fails that phase of
  the test with each finding's text as the text report prints it (findings.json's `text`:
  summary, fix, folded stacks) (--gilwatch-fail; a test marked
  `@pytest.mark.gilwatch(allow=[KIND...])` accepts those kinds).
- At the end of the session, lists every finding with the test it happened in, findings
  outside any test (import, collection, between tests, processes started by tests), the
  process-lifetime threads and fds, and where the HTML report goes.
- Checks every test for native thread and fd leaks. A thread or fd that a test leaves
  behind is a candidate; it is a leak once a later test leaves another of the same kind
  (thread name, or kind of fd) while the first is still there: growth per test. A
  candidate that is never joined by another, and outlives the session, is a
  process-lifetime object (a library's global context, its background thread): listed,
  not a finding. The ini key `gilwatch_singletons` declares such objects
  ("thread:NAME_GLOB fd:TARGET_GLOB"); they are never candidates.

Works with or without libgilwatch.so preloaded (without it there are no library
findings to attribute, and the leak checks still run).
"""

import fnmatch
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

import gilwatch
from gilwatch import _native, results
from gilwatch.snapshot import Snapshot, fd_kind, settle

_CONTEXT_VARIABLE = "GILWATCH_CONTEXT"
_FINDING_PROPERTY = "gilwatch-finding"
_ALLOWED_PROPERTY = "gilwatch-allowed"


def pytest_addoption(parser):
    group = parser.getgroup("gilwatch", "gilwatch: findings per test, thread and fd leaks")
    group.addoption("--gilwatch", action="store_true", default=False,
                    help="run the session under gilwatch (re-running pytest under 'gilwatch run' when "
                         "libgilwatch.so is not preloaded yet): findings fail the test they happen in")
    group.addoption("--gilwatch-fail", choices=("new", "always", "never"), default="new",
                    help="which findings fail the test they happen in (and the session, outside any test): "
                         "new (default) every finding not in --gilwatch-baseline; always: every finding, "
                         "baseline or not; never: only report them")
    group.addoption("--gilwatch-suppressions", metavar="FILE", default=None,
                    help="suppressions file (KIND:PATTERN lines), passed to 'gilwatch run' and 'gilwatch "
                         "report' as --suppressions")
    group.addoption("--gilwatch-baseline", metavar="FILE", default=None,
                    help="baseline file of known findings, passed as --baseline: with --gilwatch-fail=new "
                         "only findings not in it fail")
    group.addoption("--gilwatch-leaks", choices=("report", "fail", "off"), default="report",
                    help="native thread and fd leak checks per test: report them (default), also fail "
                         "the test, or skip the checks")
    group.addoption("--gilwatch-settle-ms", type=int, default=200, metavar="MS",
                    help="how long a test's leftover threads and fds may take to go away after its "
                         "teardown (default 200)")
    group.addoption("--gilwatch-timeout", type=float, default=0, metavar="SEC",
                    help="seconds each test (setup, call and teardown) may take; then every thread's stack "
                         "is reported as a `hang` finding naming the test, and pytest is ended (default 0: none)")
    group.addoption("--gilwatch-full-stacks", action="store_true", default=False,
                    help="every frame of every stack in the failure text, on stderr and in the HTML report "
                         "('gilwatch run --full-stacks'); by default interpreter, test-runner, thread start "
                         "and runtime frames fold into one line, and the text lists 24 rows a thread")
    group.addoption("--gilwatch-out", metavar="DIR", default=None,
                    help="output directory: 'gilwatch run --out DIR' with --gilwatch; without the "
                         "library, where the leak findings go (default: gilwatch-out under --gilwatch)")
    parser.addini("gilwatch_singletons", type="args", default=[],
                  help="process-lifetime threads and fds that are never leaks: thread:NAME_GLOB (the OS "
                       "thread name) and fd:TARGET_GLOB (what /proc/self/fd shows, e.g. pipe, "
                       "anon_inode:[eventfd], /dev/shm/*)")


# ---- leak candidates: singletons versus growth ----

class _Candidate(object):
    __slots__ = ("nodeid", "what", "key", "target", "signature")

    def __init__(self, nodeid, what, key, target):
        self.nodeid = nodeid
        self.what = what      # "thread" or "fd"
        self.key = key        # tid or fd number
        self.target = target  # thread name or fd target
        self.signature = (what, target if what == "thread" else fd_kind(target))

    def alive(self, snapshot):
        if self.what == "thread":
            return snapshot.threads.get(self.key) == self.target
        return snapshot.fds.get(self.key) == self.target


class LeakTracker(object):
    """Decides, across tests, which leftover threads and fds are leaks.

    A test's leftovers are candidates. A candidate is confirmed (a leak) when a later test
    leaves another one of the same signature (thread name; fd kind) while it is still
    there: the count grew from test to test. Candidates that go away are forgotten;
    candidates still pending at the end of the session are process-lifetime objects."""

    def __init__(self, singletons=()):
        self.singletons = [entry.split(":", 1) for entry in singletons if ":" in entry]
        self.pending = []
        self.confirmed = []  # in the order they were confirmed
        self.grown = set()   # signatures that grew: later leftovers of them are leaks at once

    def declared(self, what, target):
        for kind, pattern in self.singletons:
            if kind == what and (fnmatch.fnmatchcase(target, pattern) or
                                 (what == "fd" and fnmatch.fnmatchcase(fd_kind(target), pattern))):
                return True
        return False

    def after_test(self, nodeid, new_threads, new_fds, now):
        """Records a test's leftovers; returns the candidates confirmed by it (its own
        leftovers that grew a signature, and the earlier ones they join)."""
        self.pending = [c for c in self.pending if c.alive(now)]
        fresh = [_Candidate(nodeid, "thread", tid, name) for tid, name in sorted(new_threads.items())
                 if not self.declared("thread", name)]
        fresh += [_Candidate(nodeid, "fd", fd, target) for fd, target in sorted(new_fds.items())
                  if not self.declared("fd", target)]
        earlier = set(c.signature for c in self.pending) | self.grown
        self.grown |= set(c.signature for c in fresh if c.signature in earlier)
        confirmed, still = [], []
        for candidate in self.pending + fresh:
            (confirmed if candidate.signature in self.grown else still).append(candidate)
        self.pending = still
        self.confirmed.extend(confirmed)
        return confirmed

    def process_lifetime(self):
        return list(self.pending)


# ---- the plugin ----

class _Plugin(object):
    def __init__(self, config):
        self.config = config
        self.mode = config.getoption("gilwatch_leaks")
        self.fail = config.getoption("gilwatch_fail")
        self.settle_ms = config.getoption("gilwatch_settle_ms")
        self.suppressions = config.getoption("gilwatch_suppressions")
        self.baseline = config.getoption("gilwatch_baseline")
        # Under the library, where it writes (gilwatch run's DIR/raw); else --gilwatch-out.
        self.raw_dir = results.out_dir_from_options()
        self.out_dir = self.raw_dir or config.getoption("gilwatch_out")
        self.worker = hasattr(config, "workerinput")
        self.tracker = LeakTracker(config.getini("gilwatch_singletons"))
        self.library = _native.library() is not None
        self.seen = _native.reported_finding_count() if self.library else 0
        self.raw_stamp = self._raw_stamp()
        self.failed_by_test = []  # (nodeid, when, finding) that failed or were reported on a test
        self.allowed = []         # (nodeid, finding) accepted by a marker
        self.handled = set()      # (kind, detail) of findings already attributed to a test
        self.session_findings = []  # (where, finding) not attributed to any test's report
        self.process_lifetime = []
        self.timeout = config.getoption("gilwatch_timeout") or 0
        self.full_stacks = config.getoption("gilwatch_full_stacks")
        self.watchdog = None
        if self.timeout > 0:
            _dump_python_stacks_on_hang_signal()

    # -- per test --

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if self.timeout > 0:
            self.watchdog = TestWatchdog(item.nodeid, self.timeout,
                                         self.config.pluginmanager.getplugin("capturemanager"))
        try:
            yield
        finally:
            if self.watchdog is not None:
                self.watchdog.cancel()
                self.watchdog = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        _native.set_context(item.nodeid)
        os.environ[_CONTEXT_VARIABLE] = item.nodeid
        if self.mode != "off":
            item._gilwatch_before_setup = Snapshot()
        yield
        if self.mode != "off":
            item._gilwatch_after_setup = Snapshot()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield
        before = getattr(item, "_gilwatch_before_setup", None)
        if self.mode != "off" and before is not None:
            after = Snapshot()
            if not after.matches(before):
                # Only then: a full collection per test costs more than most tests.
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
            confirmed = self.tracker.after_test(item.nodeid, new_threads, new_fds, after)
            mine = [c for c in confirmed if c.nodeid == item.nodeid]
            if mine:
                item._gilwatch_leak_text = "; ".join(_leak_summaries(item.nodeid, mine, confirmed))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        text = getattr(item, "_gilwatch_leak_text", None)
        if call.when == "teardown" and text and self.mode == "fail" and report.outcome == "passed":
            report.outcome = "failed"
            report.longrepr = "gilwatch: " + text
        if self.library or self.raw_dir:
            self._check_findings(item, call.when, report)
        if call.when == "teardown":
            _native.set_context(None)
            os.environ.pop(_CONTEXT_VARIABLE, None)

    def _raw_stamp(self):
        """When a results file last appeared where the library writes: a process this
        test started (it names the test, by GILWATCH_CONTEXT) writes one when it ends."""
        if not self.raw_dir:
            return None
        try:
            return os.stat(self.raw_dir).st_mtime_ns
        except OSError:
            return None

    def _check_findings(self, item, when, report):
        count = _native.reported_finding_count()
        stamp = self._raw_stamp()
        if count <= self.seen and stamp == self.raw_stamp:
            return  # the usual case: nothing new, one ctypes call and one stat
        if count > self.seen:
            self.seen = _native.flush_results()
        self.raw_stamp = self._raw_stamp()
        handled = getattr(item, "_gilwatch_handled", set())
        item._gilwatch_handled = handled
        findings = [f for f in self._report(with_baseline=self.fail == "new")
                    if item.nodeid in f.get("tests", ()) and _identity(f) not in handled]
        if not findings:
            return
        handled.update(_identity(f) for f in findings)
        marker = item.get_closest_marker("gilwatch")
        allow = set(marker.kwargs.get("allow", ())) if marker is not None else set()
        failing = [f for f in findings if f["kind"] not in allow]
        for finding in findings:
            name = _ALLOWED_PROPERTY if finding["kind"] in allow else _FINDING_PROPERTY
            report.user_properties.append((name, _property_text(finding)))
        if not failing:
            return
        text = "gilwatch: %d finding%s %s %s\n\n%s" % (
            len(failing), "" if len(failing) == 1 else "s", "during" if when == "call" else "in the %s of" % when,
            item.nodeid, "\n\n".join(format_finding(f, os.getpid()) for f in failing))
        if self.fail == "never":
            report.sections.append(("gilwatch findings", text))
        elif report.outcome == "passed":
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append(("gilwatch findings", text))

    def pytest_runtest_logreport(self, report):
        """Runs where the reports arrive (the xdist controller too): collects what the
        tests' checks attributed, for the end of the session."""
        for name, value in getattr(report, "user_properties", ()):
            if name in (_FINDING_PROPERTY, _ALLOWED_PROPERTY):
                try:
                    finding = json.loads(value)
                except ValueError:
                    continue
                key = (finding.get("kind"), finding.get("detail"))
                if key in self.handled:
                    continue
                self.handled.add(key)
                if name == _ALLOWED_PROPERTY:
                    self.allowed.append((report.nodeid, finding))
                else:
                    self.failed_by_test.append((report.nodeid, report.when, finding))

    def _report(self, with_baseline):
        """The findings of every process so far, symbolized, from `gilwatch report` over
        the directory the library writes to (findings.json's `findings`)."""
        executable = _gilwatch_executable()
        if executable is None or not self.raw_dir or not os.path.isdir(self.raw_dir):
            return []
        scratch = tempfile.mkdtemp(prefix="gilwatch-pytest-")
        try:
            command = [executable, "report", self.raw_dir, "-q", "-o", os.path.join(scratch, "report.html"),
                       "--json", os.path.join(scratch, "findings.json")]
            if self.suppressions:
                command += ["--suppressions", self.suppressions]
            if self.baseline and with_baseline:
                command += ["--baseline", self.baseline]
            if self.full_stacks:
                command.append("--full-stacks")  # each finding's `text` unfolded
            # Not under the library itself: it would write its own results there.
            environment = dict(os.environ)
            for name in ("LD_PRELOAD", "GILWATCH_OPTIONS", _CONTEXT_VARIABLE):
                environment.pop(name, None)
            subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True)
            try:
                with open(os.path.join(scratch, "findings.json")) as f:
                    findings = json.load(f).get("findings", [])
            except (OSError, ValueError):
                return []
            # Suppressed and known findings are in findings.json's own lists, not in these.
            return findings
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # -- end of the session --

    def pytest_sessionfinish(self, session):
        if self.mode != "off":
            self.process_lifetime = self.tracker.process_lifetime()
            leaks = _leak_findings(self.tracker.confirmed)
            if leaks and self.out_dir:
                results.write(self.out_dir, leaks, tag="pytest")
        if self.worker or not self.raw_dir:
            return
        if self.library:
            _native.flush_results()
        for finding in self._report(with_baseline=self.fail == "new"):
            if _identity(finding) in self.handled:
                continue
            tests = finding.get("tests") or []
            if finding["kind"] in ("thread-leak", "fd-leak") and tests:
                continue  # the leak checks' own findings, listed with the leaks
            where = ("in a process started by " + ", ".join(tests)) if tests else "outside any test"
            self.session_findings.append((where, finding))
        if self.session_findings and self.fail != "never" and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.line
        if self.failed_by_test or self.session_findings or self.allowed:
            terminalreporter.section("gilwatch: findings")
            for nodeid, when, finding in self.failed_by_test:
                write("%s in %s%s: %s" % (finding["kind"], nodeid, "" if when == "call" else " (%s)" % when,
                                           finding["summary"]))
            for where, finding in self.session_findings:
                write("%s %s: %s" % (finding["kind"], where, finding["summary"]))
            for nodeid, finding in self.allowed:
                write("%s in %s (allowed by its marker): %s" % (finding["kind"], nodeid, finding["summary"]))
        leaks = _leak_findings(self.tracker.confirmed)
        if leaks:
            terminalreporter.section("gilwatch: native thread and fd leaks")
            for leak in leaks:
                write(leak["summary"])
        if self.process_lifetime:
            terminalreporter.section("gilwatch: process-lifetime threads and fds (not leaks)")
            by_test = {}
            for candidate in self.process_lifetime:
                by_test.setdefault(candidate.nodeid, ([], []))[candidate.what == "fd"].append(candidate)
            for nodeid, (threads, fds) in by_test.items():
                parts = []
                if threads:
                    parts.append("threads " + ", ".join(results.counted(c.target for c in threads)))
                if fds:
                    parts.append("fds " + ", ".join(results.counted(fd_kind(c.target) for c in fds)))
                write("first left by %s, outlived every later test without growing: %s" % (nodeid, "; ".join(parts)))
        if self.raw_dir and not self.worker:
            write("gilwatch: the full report (every process, symbolized) is written when the run ends: %s"
                  % os.path.join(os.path.dirname(self.raw_dir.rstrip("/")), "report.html"))
        elif leaks and self.out_dir:
            write("(findings written to %s)" % self.out_dir)


def hang_signal_number():
    """The library's hang_signal (GILWATCH_OPTIONS; `gilwatch run` sets it), or None."""
    number = None
    for entry in os.environ.get("GILWATCH_OPTIONS", "").split(":"):
        key, _, value = entry.partition("=")
        if key == "hang_signal" and value.isdigit():
            number = int(value) or None
    return number


def _dump_python_stacks_on_hang_signal():
    """Let faulthandler write every thread's Python stack on stderr at the hang signal,
    then chain to the library's report."""
    import faulthandler
    number = hang_signal_number()
    if number:
        try:
            faulthandler.register(number, file=sys.stderr, all_threads=True, chain=True)
        except (ValueError, RuntimeError, OSError):
            pass


class TestWatchdog(object):
    """--gilwatch-timeout: a daemon thread that, when a test outlives its time, asks the
    library for a hang report (the hang signal, sent to this process: the library records
    a `hang` finding with every thread's stack, in the running test's context), writes
    the results and ends pytest with status 1 (the test never returns)."""

    exit_status = 1

    def __init__(self, nodeid, seconds, capture=None):
        self.nodeid = nodeid
        self.seconds = seconds
        self.capture = capture
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="gilwatch-watchdog", daemon=True)
        self.thread.start()

    def cancel(self):
        self.done.set()
        self.thread.join()

    def _watch(self):
        if self.done.wait(self.seconds):
            return
        # The test never returns: stop pytest's output capture, so that this message and
        # faulthandler's stacks (written to fd 2) reach the terminal.
        if self.capture is not None:
            try:
                self.capture.suspend_global_capture(in_=True)
            except Exception:
                pass
        sys.stderr.write("\ngilwatch: %s is still running after --gilwatch-timeout %g s: reporting a hang "
                         "and ending pytest\n" % (self.nodeid, self.seconds))
        sys.stderr.flush()
        number = hang_signal_number()
        if number and _native.library() is not None:
            before = _native.reported_finding_count()
            os.kill(os.getpid(), number)
            # The report asks every thread for its stack (up to 300 ms) and records it.
            for _ in range(200):
                if _native.reported_finding_count() > before:
                    break
                self.done.wait(0.01)
            _native.flush_results()
        os._exit(self.exit_status)


def _identity(finding):
    return (finding.get("kind"), finding.get("detail"))


def _property_text(finding):
    return json.dumps({"kind": finding.get("kind"), "detail": finding.get("detail"),
                       "summary": finding.get("summary")}, sort_keys=True)


def format_finding(finding, own_pid=None):
    """A finding as failure text: what the text report prints for it (findings.json's
    `text`, rendered by `gilwatch report`: summary, fix, each thread's stack with the
    interpreter's and pytest's frames folded unless --gilwatch-full-stacks), after the
    processes the test started where it happened (when not this one)."""
    lines = []
    others = [pid for pid in finding.get("pids", []) if pid != own_pid]
    if own_pid is not None and others:
        lines.append("in process%s %s, started by the test:" % ("es" if len(others) > 1 else "",
                                                                ", ".join(map(str, others))))
    # Without `text` (a findings.json from an older gilwatch), its kind and summary.
    lines.append(finding.get("text") or "%s: %s" % (finding.get("kind"), finding.get("summary")))
    return "\n".join(lines)


def _leak_summaries(nodeid, mine, confirmed):
    summaries = [f["summary"] for f in _leak_findings(mine)]
    earlier = sorted(set(c.nodeid for c in confirmed if c.nodeid != nodeid))
    if earlier:
        summaries.append("the same kind left by %s is still there: it grows per test" % ", ".join(earlier))
    return summaries


def _leak_findings(candidates):
    """thread-leak / fd-leak findings for confirmed candidates, one of each per test."""
    by_test = {}
    for candidate in candidates:
        threads, fds = by_test.setdefault(candidate.nodeid, ({}, {}))
        (threads if candidate.what == "thread" else fds)[candidate.key] = candidate.target
    findings = []
    for nodeid, (threads, fds) in by_test.items():
        if threads:
            findings.append(results.thread_leak(threads, "after " + nodeid, nodeid, "still running after the test"))
        if fds:
            findings.append(results.fd_leak(fds, "after " + nodeid, nodeid))
        for finding in findings[-(bool(threads) + bool(fds)):]:
            finding["context"] = nodeid
    return findings


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


def run_arguments(namespace, executable):
    """The `gilwatch run` options that --gilwatch's re-execution passes."""
    arguments = []
    if namespace.gilwatch_out:
        arguments += ["--out", namespace.gilwatch_out]
    # pytest's own status is the verdict on findings attributed to tests (the plugin
    # fails those tests); run adds its own only for findings outside any test.
    arguments += ["--exitcode", "0"] if namespace.gilwatch_fail == "never" else ["--exitcode-ignores-tests"]
    if getattr(namespace, "gilwatch_full_stacks", False):
        arguments.append("--full-stacks")
    for option, value in (("--suppressions", namespace.gilwatch_suppressions),
                          ("--baseline", namespace.gilwatch_baseline if namespace.gilwatch_fail == "new" else None)):
        if value:
            arguments += [option, os.path.abspath(value)]
    return arguments


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """--gilwatch without the library preloaded: run this same pytest again under
    `gilwatch run`, which preloads it, collects every process's results, prints them with
    the test each happened in, and writes the HTML report."""
    namespace = early_config.known_args_namespace
    if not namespace.gilwatch or _preloaded():
        return
    executable = _gilwatch_executable()
    if executable is None:
        raise pytest.UsageError("--gilwatch: the gilwatch command was not found (install gilwatch, or put it on PATH)")
    command = [executable, "run"] + run_arguments(namespace, executable) + \
        ["--", sys.executable, "-m", "pytest"] + list(early_config.invocation_params.args)
    # pytest captures fds 1 and 2 into temporary files from its start; the pytest that
    # exec replaces this one with must write to the real ones.
    capture = early_config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(executable, command)


def pytest_configure(config):
    config.addinivalue_line("markers", "gilwatch(allow=[KIND, ...]): gilwatch findings of these kinds do not "
                                       "fail this test (they are still reported)")
    if not (config.getoption("gilwatch") or _preloaded() or _requested_by_name(config)):
        return  # installed, not asked for
    gilwatch.install()
    config.pluginmanager.register(_Plugin(config), "gilwatch-plugin")
