"""Suppressions and the baseline, end to end: `gilwatch run`/`report` with
--suppressions FILE (and GILWATCH_OPTIONS=suppressions=FILE), --show-suppressed,
--write-baseline and --baseline, and fingerprints that stay the same across address-space
randomization and line drift of a rebuilt program (docs/cli.md)."""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

import gilwatch_testlib as lib

FINDINGS = lib.FINDINGS_EXIT_STATUS


def run(out_dir, command, *flags, env=None, prefix=()):
    completed = lib.run_bounded([*prefix, lib.gilwatch_path(), "run", "--out", out_dir, *flags, "--", *command],
                                env=env)
    return completed


def document(out_dir):
    with open(pathlib.Path(out_dir) / "findings.json") as f:
        return json.load(f)


def write(path, text):
    path.write_text(text)
    return path


def fingerprints(doc, key="findings"):
    return sorted(f["fingerprint"] for f in doc[key])


def test_a_matching_suppression_makes_the_run_pass_and_is_counted_and_listed(tmp_path):
    rules = write(tmp_path / "gilwatch.supp",
                  "# the inversion in abba is known\n\nlock-order-inversion:take_b_then_a\n")
    out = tmp_path / "out"
    completed = run(out, [lib.program_path("abba")], "--suppressions", rules)
    assert completed.returncode == 0, completed.describe()
    assert "no findings, 1 suppressed" in completed.stderr, completed.stderr
    assert "take_b_then_a" not in completed.stderr  # listed only on request
    doc = document(out)
    assert doc["findings"] == []
    assert len(doc["suppressed"]) == 1, doc["suppressed"]
    suppressed = doc["suppressed"][0]
    assert suppressed["kind"] == lib.LOCK_ORDER_INVERSION
    assert suppressed["suppression"] == {"rule": "lock-order-inversion:take_b_then_a", "file": str(rules),
                                         "line": 3, "frame": "take_b_then_a"}
    html = (out / "report.html").read_text()
    assert '<details class="suppressed">' in html and "lock-order-inversion:take_b_then_a" in html


def test_with_suppressions_the_processes_keep_their_own_exit_status(tmp_path):
    # The verdict is the command's, after suppression: the library does not force 66 on
    # a process whose finding is then suppressed (a parent would see it).
    rules = write(tmp_path / "s.supp", "lock-order-inversion:take_b_then_a\n")
    script = ['/bin/sh', '-c', '"$0"; echo "abba exited $?"', lib.program_path("abba")]
    completed = run(tmp_path / "out", script, "--suppressions", rules)
    assert completed.returncode == 0 and "abba exited 0" in completed.stdout, completed.describe()
    # Even when every process is asked to exit with 66 on a finding (--process-exitcode):
    # a suppressed finding is no finding for the process either.
    completed = run(tmp_path / "forced", script, "--suppressions", rules, "--process-exitcode", "66")
    assert completed.returncode == 0 and "abba exited 0" in completed.stdout, completed.describe()
    # Negative twin: without suppressions, --process-exitcode applies inside.
    completed = run(tmp_path / "plain", script, "--process-exitcode", "66")
    assert completed.returncode == FINDINGS and "abba exited 66" in completed.stdout, completed.describe()


def test_a_suppression_that_matches_nothing_leaves_the_finding_reported(tmp_path):
    rules = write(tmp_path / "gilwatch.supp", "lock-order-inversion:take_c_then_d\ndeadlock:take_b_then_a\n")
    out = tmp_path / "out"
    completed = run(out, [lib.program_path("abba")], "--suppressions", rules)
    assert completed.returncode == FINDINGS, completed.describe()
    assert "suppressed" not in completed.stderr.splitlines()[-1], completed.stderr
    doc = document(out)
    assert [f["kind"] for f in doc["findings"]] == [lib.LOCK_ORDER_INVERSION]
    assert doc["suppressed"] == []


def test_show_suppressed_prints_the_finding_under_its_rule(tmp_path):
    rules = write(tmp_path / "s.supp", "*:libnothing.so*\nlock-order-inversion:abba.c\n")
    completed = run(tmp_path / "out", [lib.program_path("abba")], "--suppressions", rules, "--show-suppressed")
    assert completed.returncode == 0, completed.describe()
    assert "suppressed by lock-order-inversion:abba.c (%s:2, matched abba.c)" % rules in completed.stderr
    assert "take_b_then_a" in completed.stderr


def test_a_malformed_suppressions_file_is_an_error_naming_file_and_line_and_nothing_runs(tmp_path):
    rules = write(tmp_path / "bad.supp", "# comment\nlock-order-inversion:take_b_then_a\nrace:take_a_then_b\n")
    out = tmp_path / "out"
    marker = tmp_path / "ran"
    completed = run(out, ["/bin/sh", "-c", "touch %s" % marker], "--suppressions", rules)
    assert completed.returncode == 2, completed.describe()
    assert "%s:3:" % rules in completed.stderr, completed.stderr
    assert "unknown finding kind 'race'" in completed.stderr
    assert not marker.exists(), "the command must not run"
    assert not (out / "findings.json").exists()
    for text, reason in (("no colon here\n", "KIND:PATTERN"), ("deadlock:\n", "empty pattern")):
        bad = write(tmp_path / "bad2.supp", text)
        completed = run(out, ["/bin/true"], "--suppressions", bad)
        assert completed.returncode == 2 and "%s:1:" % bad in completed.stderr and reason in completed.stderr, \
            completed.describe()


def test_gilwatch_options_suppressions_is_read_when_no_flag_is_given(tmp_path):
    matching = write(tmp_path / "match.supp", "lock-order-inversion:take_a_then_b\n")
    other = write(tmp_path / "other.supp", "deadlock:nothing\n")
    env = dict(os.environ, GILWATCH_OPTIONS="suppressions=%s" % matching)
    completed = run(tmp_path / "env", [lib.program_path("abba")], env=env)
    assert completed.returncode == 0, completed.describe()
    assert "1 suppressed" in completed.stderr
    assert document(tmp_path / "env")["suppressed"][0]["suppression"]["file"] == str(matching)
    # The flag wins over the option; without either, the finding is reported.
    env = dict(os.environ, GILWATCH_OPTIONS="suppressions=%s" % matching)
    completed = run(tmp_path / "flag", [lib.program_path("abba")], "--suppressions", other, env=env)
    assert completed.returncode == FINDINGS, completed.describe()
    completed = run(tmp_path / "none", [lib.program_path("abba")])
    assert completed.returncode == FINDINGS, completed.describe()
    # A malformed file named there is an error too.
    bad = write(tmp_path / "bad.supp", "\n\nnonsense\n")
    env = dict(os.environ, GILWATCH_OPTIONS="suppressions=%s" % bad)
    completed = run(tmp_path / "bad", ["/bin/true"], env=env)
    assert completed.returncode == 2 and "%s:3:" % bad in completed.stderr, completed.describe()


def test_report_applies_suppressions_to_earlier_results(tmp_path):
    out = tmp_path / "out"
    assert run(out, [lib.program_path("abba")]).returncode == FINDINGS
    other = write(tmp_path / "other.supp", "deadlock:*\n")
    rules = write(tmp_path / "s.supp", "*:take_*\n")
    # Repeatable, and DIR may come after the flag: the rules of both files apply.
    completed = lib.run_bounded([lib.gilwatch_path(), "report", "--suppressions", other, "--suppressions", rules, out])
    assert completed.returncode == 0, completed.describe()
    assert "no findings, 1 suppressed" in completed.stderr
    assert len(document(out)["suppressed"]) == 1
    assert document(out)["suppressed"][0]["suppression"]["file"] == str(rules)
    before = (out / "findings.json").read_text()
    bad = write(tmp_path / "bad.supp", "*:x\n*\n")
    completed = lib.run_bounded([lib.gilwatch_path(), "report", out, "--suppressions", bad])
    assert completed.returncode == 2 and "%s:2:" % bad in completed.stderr, completed.describe()
    assert (out / "findings.json").read_text() == before, "a malformed file must not overwrite the report"


def frame_pcs(doc, key="findings"):
    return sorted(frame["pc"] for f in doc[key] for t in f["threads"] for frame in t["native_frames"])


def test_a_baseline_from_one_run_makes_the_next_report_nothing_new(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(first, [lib.program_path("abba")]).returncode == FINDINGS
    # The second run without address-space randomization (setarch -R, util-linux): its
    # addresses differ from the randomized first run's.
    no_aslr = ("setarch", "-R") if shutil.which("setarch") else ()
    assert run(second, [lib.program_path("abba")], prefix=no_aslr).returncode == FINDINGS
    assert frame_pcs(document(first)) != frame_pcs(document(second))
    assert fingerprints(document(first)) == fingerprints(document(second))

    baseline = tmp_path / "gilwatch-baseline.txt"
    completed = lib.run_bounded([lib.gilwatch_path(), "report", first, "--write-baseline", baseline])
    assert completed.returncode == 0, completed.describe()
    lines = [line for line in baseline.read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1
    fingerprint, kind, summary = lines[0].split(" ", 2)
    assert fingerprint == document(first)["findings"][0]["fingerprint"]
    assert kind == lib.LOCK_ORDER_INVERSION and "take_a_then_b" in summary

    completed = run(tmp_path / "again", [lib.program_path("abba")], "--baseline", baseline)
    assert completed.returncode == 0, completed.describe()
    assert "no new findings, 1 known (baseline %s)" % baseline in completed.stderr, completed.stderr
    doc = document(tmp_path / "again")
    assert doc["findings"] == [] and len(doc["baselined"]) == 1 and doc["baseline"] == str(baseline)
    # The page's summary table: per kind, what is new since the baseline and what it knew.
    html = (tmp_path / "again" / "report.html").read_text()
    assert "<th>new since baseline</th><th>known</th>" in html
    assert re.search(r'<tr data-kind="lock-order-inversion">.*<td class="new">0</td><td>1</td></tr>', html), html

    # Negative twin: a different bug is still reported.
    completed = run(tmp_path / "other", [lib.program_path("three_lock_cycle")], "--baseline", baseline)
    assert completed.returncode == FINDINGS, completed.describe()
    assert "1 new finding (lock-order-inversion), 0 known (baseline %s)" % baseline in completed.stderr
    assert re.search(r"^  lock-order-inversion +1 new since baseline, 0 known - ", completed.stderr, re.M), \
        completed.stderr
    assert document(tmp_path / "other")["baselined"] == []


def test_a_malformed_baseline_is_an_error_naming_file_and_line(tmp_path):
    baseline = write(tmp_path / "b.txt", "# ok\n0123456789abcdef deadlock x\nlock-order-inversion only\n")
    completed = run(tmp_path / "out", ["/bin/true"], "--baseline", baseline)
    assert completed.returncode == 2, completed.describe()
    assert "%s:3:" % baseline in completed.stderr
    missing = tmp_path / "missing.txt"
    completed = run(tmp_path / "out", ["/bin/true"], "--baseline", missing)
    assert completed.returncode == 2 and str(missing) in completed.stderr, completed.describe()


def build_abba(tmp_path, name, transform):
    """abba.c, changed by `transform`, compiled with gcc as the project builds it."""
    source_dir = lib.source_dir() / "scenarios" / "programs"
    work = tmp_path / name
    work.mkdir()
    shutil.copy(source_dir / "scenario_threads.h", work)
    (work / "abba.c").write_text(transform((source_dir / "abba.c").read_text()))
    binary = work / "abba"
    subprocess.run(["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-D_GNU_SOURCE", "-pthread", "-o", binary,
                    work / "abba.c"], check=True, cwd=work)
    return binary


def inversion_lines(doc):
    return sorted(frame["line"] for t in doc["findings"][0]["threads"] for frame in t["native_frames"])


def test_fingerprints_survive_line_drift_of_unrelated_code_but_not_a_renamed_function(tmp_path):
    unchanged = build_abba(tmp_path, "unchanged", lambda text: text)
    # Blank lines and an unrelated function above the locking code: every line moves.
    drifted = build_abba(tmp_path, "drifted", lambda text: text.replace(
        "pthread_mutex_t mutex_a", "\n" * 25 + "int unrelated(int x) { return x * 3; }\n\npthread_mutex_t mutex_a", 1))
    renamed = build_abba(tmp_path, "renamed", lambda text: text.replace("take_b_then_a", "take_b_then_a_again"))
    docs = {}
    for name, binary in (("unchanged", unchanged), ("drifted", drifted), ("renamed", renamed),
                         ("project", lib.program_path("abba"))):
        completed = run(tmp_path / ("out-" + name), [binary])
        assert completed.returncode == FINDINGS, completed.describe()
        docs[name] = document(tmp_path / ("out-" + name))
    assert inversion_lines(docs["unchanged"]) != inversion_lines(docs["drifted"])
    assert fingerprints(docs["unchanged"]) == fingerprints(docs["drifted"])
    # Rebuilt elsewhere, with other flags (the project's build of the same source).
    assert fingerprints(docs["unchanged"]) == fingerprints(docs["project"])
    assert fingerprints(docs["unchanged"]) != fingerprints(docs["renamed"])


def test_sarif_marks_suppressed_and_known_results_and_stays_valid(tmp_path):
    jsonschema = pytest.importorskip("jsonschema", reason="needs python3-jsonschema (scripts/install-deps.sh)")
    schema = json.loads((lib.source_dir() / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())
    first = tmp_path / "first"
    assert run(first, [lib.program_path("abba")]).returncode == FINDINGS
    baseline = tmp_path / "baseline.txt"
    assert lib.run_bounded([lib.gilwatch_path(), "report", first, "--write-baseline", baseline]).returncode == 0
    both = tmp_path / "both"
    completed = lib.run_bounded([lib.gilwatch_path(), "report", first, "-o", both / "report.html",
                                 "--sarif", both / "known.sarif", "--baseline", baseline])
    assert completed.returncode == 0, completed.describe()
    known = json.loads((both / "known.sarif").read_text())
    jsonschema.Draft7Validator(schema).validate(known)
    [result] = known["runs"][0]["results"]
    assert result["baselineState"] == "unchanged" and "suppressions" not in result
    assert result["partialFingerprints"]["gilwatchSignature/v2"] == document(first)["findings"][0]["fingerprint"]
    # Suppressed: a result with its suppression; the rule above matches three_lock_cycle's.
    other = tmp_path / "other"
    assert run(other, [lib.program_path("three_lock_cycle")]).returncode == FINDINGS
    functions = {frame["function"] for t in document(other)["findings"][0]["threads"] for frame in t["native_frames"]}
    pattern = sorted(f for f in functions if f.startswith("take_"))[0]
    rules = write(tmp_path / "s.supp", "lock-order-inversion:%s\n" % pattern)
    completed = lib.run_bounded([lib.gilwatch_path(), "report", other, "--sarif", tmp_path / "s.sarif",
                                 "--suppressions", rules])
    assert completed.returncode == 0, completed.describe()
    suppressed = json.loads((tmp_path / "s.sarif").read_text())
    jsonschema.Draft7Validator(schema).validate(suppressed)
    [result] = suppressed["runs"][0]["results"]
    assert result["suppressions"][0]["kind"] == "external"
    assert "lock-order-inversion:%s" % pattern in result["suppressions"][0]["justification"]
    assert "baselineState" not in result


def test_stress_sets_suppressed_findings_aside_and_passes(tmp_path):
    script = tmp_path / "inversion.py"
    script.write_text("import subprocess\nsubprocess.run([%r])\n" % str(lib.program_path("abba")))
    suite = tmp_path / "suite.toml"
    suite.write_text('[[scenario]]\nname = "abba"\nkind = "script"\nscript = "%s"\nruns = 2\n' % script)
    python = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else "python3"

    def stress(out, *flags):
        return lib.run_bounded([lib.gilwatch_path(), "stress", suite, "--out", out, "-j", "2", "--python", python,
                                *flags])

    rules = write(tmp_path / "s.supp", "lock-order-inversion:take_a_then_b\n")
    completed = stress(tmp_path / "suppressed", "--suppressions", rules)
    assert completed.returncode == 0, completed.describe()
    assert "no findings, 1 suppressed" in completed.stderr
    doc = document(tmp_path / "suppressed")
    assert doc["findings"] == [] and doc["suppressed"][0]["seen_in_runs"] == 2
    # Negative twin: a rule that matches nothing.
    rules = write(tmp_path / "none.supp", "lock-order-inversion:take_x_then_y\n")
    completed = stress(tmp_path / "reported", "--suppressions", rules)
    assert completed.returncode == FINDINGS, completed.describe()
    assert [f["kind"] for f in document(tmp_path / "reported")["findings"]] == [lib.LOCK_ORDER_INVERSION]
    # A malformed file: nothing runs.
    bad = write(tmp_path / "bad.supp", "lock-order-inversion\n")
    completed = stress(tmp_path / "bad", "--suppressions", bad)
    assert completed.returncode == 2 and "%s:1:" % bad in completed.stderr, completed.describe()
    assert not (tmp_path / "bad" / "runs").exists()
