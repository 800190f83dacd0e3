"""The reports as people and machines read them: report.html opened in a real headless
Chromium (Debian's chromium and chromium-driver, through Selenium), SARIF validated
against the OASIS schema (tests/schemas), JUnit XML parsed back.

Reports come from real runs (the registry extension's GIL/rwlock inversion, a native
ABBA deadlock, the churn teardown scenarios under `gilwatch stress`), from a results
file full of hostile names, from a directory with a corrupt results file, and from a
large synthetic stress directory. A screenshot of each page is written to
build/test-artifacts/.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import pytest

import gilwatch_testlib as lib

jsonschema = pytest.importorskip("jsonschema", reason="needs python3-jsonschema (scripts/install-deps.sh)")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs python3-selenium (scripts/install-deps.sh)")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PYTHON = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else sys.executable
HOSTILE = "<script>window.__pwned=1;alert(1)</script>"
HOSTILE_IMG = "<img src=x onerror=\"window.__pwned=2\">"
# What a person cannot read: a raw detail value such as "mutex,mutex" or "join,gil" on a
# line of its own, or a line that is only a function's name ("PyErr_Format").
INTERNAL_LIST = re.compile(r"^\s*[a-z-]+(,[a-z-]+)+\s*$")
BARE_FUNCTION = re.compile(r"^\s*(_?Py[A-Z]\w*|[A-Za-z]\w*_\w*)\s*$")
REGISTRY_FIX = ("Release the GIL around taking rwlock 0x{address} (write) in registry_store, or do not call back "
                "into Python (take the GIL) while holding rwlock 0x{address} (read) in call_task_with_gil.")


def internal_lines(text):
    return [line for line in text.splitlines()
            if INTERNAL_LIST.match(line) or BARE_FUNCTION.match(line) or line.strip() in ("hang report",)
            or line.strip().startswith("crash report:")]


def artifacts_dir():
    path = lib.build_dir() / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def gilwatch(*arguments, cwd=None, env=None, timeout=600):
    return subprocess.run([str(lib.gilwatch_path()), *map(str, arguments)], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout)


def module_dir_for(interpreter):
    for python in lib.load_pythons():
        if python["interpreter"] == interpreter:
            return python["module_dir"]
    pytest.fail("no fixture extensions were built for %s" % interpreter)


def validate_sarif(path):
    schema = json.loads((lib.source_dir() / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())
    document = json.loads(pathlib.Path(path).read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)
    return document


# ---- the browser ----

def start_browser(javascript=True):
    if not os.path.exists(CHROMIUM) or not os.path.exists(CHROMEDRIVER):
        pytest.fail("chromium and chromium-driver are not installed (scripts/install-deps.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="gilwatch-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--user-data-dir=" + profile, "--window-size=1280,1600"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    from selenium.webdriver.chrome.service import Service
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver, profile


@pytest.fixture(scope="module")
def browser():
    driver, profile = start_browser()
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_without_javascript():
    driver, profile = start_browser(javascript=False)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, path, screenshot=None):
    driver.get(pathlib.Path(path).resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    if screenshot:
        # The whole page, as tall as it is (capped), for a person to look at.
        height = min(driver.execute_script("return document.body.scrollHeight"), 12000)
        driver.set_window_size(1280, max(height, 600))
        target = artifacts_dir() / screenshot
        assert driver.save_screenshot(str(target)), "no screenshot written"
        assert target.stat().st_size > 10000, "screenshot %s is suspiciously small" % target
        driver.set_window_size(1280, 1600)
    return driver


def no_alert(driver):
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return True
    driver.switch_to.alert.dismiss()
    raise AssertionError("the page raised an alert: %r" % text)


def rendered_size(driver, element):
    """Width and height the browser laid the element out with."""
    box = driver.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", element)
    return box[0], box[1]


def sections(driver):
    return driver.find_elements(By.CSS_SELECTOR, "section.finding")


def section_of_kind(driver, kind):
    found = [s for s in sections(driver) if s.get_attribute("data-kind") == kind]
    assert found, "no %s finding on the page" % kind
    return found[0]


# ---- reports from real runs ----

@pytest.fixture(scope="module")
def run_report(tmp_path_factory):
    """The registry extension's GIL/rwlock inversion and a native ABBA deadlock, each a
    `gilwatch run`, then merged by `gilwatch report` into one page with SARIF and JUnit."""
    base = tmp_path_factory.mktemp("run-report")
    registry = base / "registry"
    module_dir = module_dir_for(PYTHON)
    first = gilwatch("run", "--out", registry, "--sarif", registry / "run.sarif", "--junit", registry / "run.xml",
                     "--", PYTHON, lib.registry_driver(), "buggy", "--module-dir", module_dir,
                     cwd=str(lib.source_dir()))
    assert first.returncode == 66, first.stderr
    abba = base / "abba"
    second = gilwatch("run", "--out", abba, "--", lib.program_path("abba_hang"), cwd=str(lib.source_dir()))
    assert second.returncode == 67, second.stderr
    html = base / "merged" / "report.html"
    merged = gilwatch("report", registry, abba, "-o", html, "--sarif", base / "merged" / "report.sarif",
                      "--junit", base / "merged" / "report.xml", cwd=str(lib.source_dir()))
    assert merged.returncode == 0, merged.stderr
    (base / "run-stderr.txt").write_text(first.stderr + second.stderr)
    (base / "report-stderr.txt").write_text(merged.stderr)
    return base


def registry_lock_address(findings):
    inversion = [f for f in findings if f["kind"] == "lock-order-inversion"
                 and any(lock["kind"] == "gil" for lock in f["locks"])]
    assert len(inversion) == 1, findings
    return [lock["address"] for lock in inversion[0]["locks"] if lock["kind"] == "rwlock"][0][2:]


def test_run_report_renders_findings_graphs_and_stacks(browser, run_report):
    page = open_page(browser, run_report / "merged" / "report.html", screenshot="report-run.png")
    no_alert(page)
    findings = json.loads((run_report / "merged" / "findings.json").read_text())["findings"]
    kinds = sorted(f["kind"] for f in findings)
    assert kinds == ["deadlock", "lock-order-inversion", "lock-order-inversion"], kinds
    assert len(sections(page)) == len(findings)
    assert page.find_element(By.ID, "verdict").text.startswith("3 findings")
    # The summary table, on top, most severe first.
    counts = [(row.find_elements(By.TAG_NAME, "td")[0].text, row.find_elements(By.TAG_NAME, "td")[3].text)
              for row in page.find_elements(By.CSS_SELECTOR, "table.counts tbody tr")]
    assert counts == [("deadlock", "1"), ("lock-order-inversion", "2")], counts
    assert page.find_element(By.ID, "verdict").find_element(By.XPATH, "following-sibling::*[2]").get_attribute(
        "class") == "sortable counts"
    # Findings in the same order, one collapsible group per kind.
    assert [s.get_attribute("data-kind") for s in sections(page)] == [
        "deadlock", "lock-order-inversion", "lock-order-inversion"]
    groups = page.find_elements(By.CSS_SELECTOR, "details.kind-group")
    assert [g.get_attribute("data-kind") for g in groups] == ["deadlock", "lock-order-inversion"]
    assert all(g.get_attribute("open") is not None for g in groups)
    groups[0].find_element(By.TAG_NAME, "summary").click()
    assert not section_of_kind(page, "deadlock").is_displayed()
    assert section_of_kind(page, "lock-order-inversion").is_displayed()
    groups[0].find_element(By.TAG_NAME, "summary").click()
    assert section_of_kind(page, "deadlock").is_displayed()
    # The fix on the page: for every finding, and naming the registry's functions.
    for section in sections(page):
        assert section.find_element(By.CSS_SELECTOR, "div.fix").text.startswith("Fix: "), section.text
    # No raw detail values, no bare function names, only https documentation links.
    body = page.find_element(By.TAG_NAME, "body").text
    assert not internal_lines(body), internal_lines(body)
    links = [a.get_attribute("href") for a in page.find_elements(By.CSS_SELECTOR, "a.docs")]
    assert len(links) == 3 and all(link.startswith("https://") for link in links), links
    assert "file://" not in page.page_source

    # The registry inversion: a picture with the GIL drawn as such and the rwlock, two
    # labelled arrows, the thread and site on each.
    gil_sections = [s for s in sections(page) if s.find_elements(By.CSS_SELECTOR, "svg.gw-graph g.gw-gil")]
    assert len(gil_sections) == 1
    graph = gil_sections[0].find_element(By.CSS_SELECTOR, "svg.gw-graph")
    width, height = rendered_size(page, graph)
    assert width > 200 and height > 50, (width, height)
    assert len(graph.find_elements(By.CSS_SELECTOR, "g.gw-node")) == 2
    assert graph.find_element(By.CSS_SELECTOR, "g.gw-gil").text.strip() == "the GIL"
    assert len(graph.find_elements(By.CSS_SELECTOR, "path.gw-edge")) == 2
    labels = [label.text for label in graph.find_elements(By.CSS_SELECTOR, "g.gw-edge-label")]
    assert len(labels) == 2 and all(label.startswith("thread ") for label in labels), labels
    assert any("registry_store" in label for label in labels), labels
    fix = gil_sections[0].find_element(By.CSS_SELECTOR, "div.fix").text
    assert REGISTRY_FIX.format(address=registry_lock_address(findings)) in fix, fix
    # Stacks symbolized to function and file:line, the locks table, the re-run command.
    text = gil_sections[0].text
    assert "registry.c:" in text, text
    assert "first taken at" in text
    command = gil_sections[0].find_element(By.CSS_SELECTOR, "pre.command").text
    assert command.startswith("gilwatch run -- ") and "drive.py buggy" in command, command

    # The deadlock: a wait-for graph of two threads and two mutexes.
    deadlock = section_of_kind(page, "deadlock")
    graph = deadlock.find_element(By.CSS_SELECTOR, "svg.gw-graph")
    assert len(graph.find_elements(By.CSS_SELECTOR, "g.gw-thread")) == 2
    assert len(graph.find_elements(By.CSS_SELECTOR, "g.gw-lock")) == 2
    labels = sorted(label.text for label in graph.find_elements(By.CSS_SELECTOR, "g.gw-edge-label"))
    assert labels == ["held by", "held by", "waits for", "waits for"], labels
    assert "abba_hang.c:" in deadlock.text
    # Self-contained: nothing was fetched.
    assert page.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_run_and_report_text_is_ordered_with_the_fix_and_no_internal_lines(run_report):
    findings = json.loads((run_report / "merged" / "findings.json").read_text())["findings"]
    text = (run_report / "report-stderr.txt").read_text()
    top = text.index("==gilwatch== findings by kind, most severe first:\n")
    lines = text[top:].splitlines()[1:3]
    assert [line.split()[:2] for line in lines] == [["deadlock", "1"], ["lock-order-inversion", "2"]], lines
    assert top < text.index("WARNING: gilwatch: deadlock") < text.index("WARNING: gilwatch: lock-order-inversion")
    assert text.count("\n  fix: ") == 3, text
    assert "  fix: " + REGISTRY_FIX.format(address=registry_lock_address(findings)) + "\n" in text, text
    assert "(deadlock, 2 lock-order-inversion)" in text.splitlines()[-1], text.splitlines()[-1]
    both = text + (run_report / "run-stderr.txt").read_text()
    assert not internal_lines(both), internal_lines(both)
    assert "mutex,mutex" not in both
    # findings.json keeps its fields: the deadlock's detail is still there for scripts.
    assert [f["detail"] for f in findings if f["kind"] == "deadlock"] == ["mutex,mutex"]


def test_docs_url_option_and_variable(run_report, tmp_path):
    out = tmp_path / "docs"
    completed = gilwatch("report", run_report / "abba", "-o", out / "r.html", "--sarif", out / "r.sarif",
                         "--docs-url", "https://docs.example.org/gilwatch/findings.md")
    assert completed.returncode == 0, completed.stderr
    assert 'href="https://docs.example.org/gilwatch/findings.md#deadlock"' in (out / "r.html").read_text()
    rules = json.loads((out / "r.sarif").read_text())["runs"][0]["tool"]["driver"]["rules"]
    assert all(rule["helpUri"] == "https://docs.example.org/gilwatch/findings.md#" + rule["id"] for rule in rules)
    env = dict(os.environ, GILWATCH_DOCS_URL="http://mirror.local/findings.md")
    completed = gilwatch("report", run_report / "abba", "-o", out / "e.html", env=env)
    assert completed.returncode == 0, completed.stderr
    assert 'href="http://mirror.local/findings.md#deadlock"' in (out / "e.html").read_text()
    # The default: the project's public documentation of this version, never a file.
    completed = gilwatch("report", run_report / "abba", "-o", out / "d.html")
    page = (out / "d.html").read_text()
    assert re.search(r'href="https://github\.com/gilwatch/gilwatch/blob/v[0-9.]+/docs/findings\.md#deadlock"', page)
    # The twins: a file path or another scheme, from either source, is a usage error.
    completed = gilwatch("report", run_report / "abba", "-o", out / "x.html", "--docs-url", "file:///venv/findings.md")
    assert completed.returncode == 2
    assert "--docs-url: 'file:///venv/findings.md' is not an http:// or https:// URL" in completed.stderr
    assert not (out / "x.html").exists()
    env = dict(os.environ, GILWATCH_DOCS_URL="docs/findings.md")
    completed = gilwatch("run", "--out", out / "run", "--", "true", env=env)
    assert completed.returncode == 2 and "GILWATCH_DOCS_URL: 'docs/findings.md'" in completed.stderr
    assert not (out / "run").exists()
def fold_rows(fold):
    return fold.find_elements(By.CSS_SELECTOR, ":scope > table.frames > tbody > tr")


def shown(driver, element):
    """Whether the browser shows the element: a closed <details> skips its content
    (content-visibility, which Selenium's is_displayed and a layout box do not reveal)."""
    return driver.execute_script("return arguments[0].checkVisibility()", element)


def test_a_folded_run_of_frames_expands_on_click(browser, run_report):
    page = open_page(browser, run_report / "merged" / "report.html")
    registry = [s for s in sections(page) if s.find_elements(By.CSS_SELECTOR, "svg.gw-graph g.gw-gil")][0]
    folds = registry.find_elements(By.CSS_SELECTOR, "details.fold")
    assert folds, registry.get_attribute("innerHTML")
    fold = folds[0]
    summary = fold.find_element(By.TAG_NAME, "summary")
    label = summary.text
    assert re.fullmatch(r"\u2026 (\d+) [a-z -]+(, [a-z -]+)*( and [a-z -]+)? frames", label), label
    rows = fold_rows(fold)
    assert len(rows) == int(label.split()[1]), (label, len(rows))
    assert not shown(page, rows[0])
    # The extension's own frame is in view above it, unfolded.
    frames = registry.find_element(By.CSS_SELECTOR, "table.frames")
    store = [row for row in frames.find_elements(By.CSS_SELECTOR, ":scope > tbody > tr") if "registry_" in row.text]
    assert store and shown(page, store[0])
    closed_height = rendered_size(page, fold)[1]
    summary.click()
    assert fold.get_attribute("open") is not None
    assert all(shown(page, row) for row in rows)
    assert rendered_size(page, fold)[1] > closed_height + len(rows) * 10
    summary.click()
    assert not shown(page, rows[0])


def test_full_stacks_leave_nothing_folded(browser, run_report, tmp_path):
    html = tmp_path / "full.html"
    full = gilwatch("report", run_report / "registry", "-o", html, "--full-stacks", cwd=str(lib.source_dir()))
    assert full.returncode == 0, full.stderr
    findings = json.loads((tmp_path / "findings.json").read_text())["findings"]
    frames = sum(len(t["native_frames"]) for f in findings for t in f["threads"])
    assert "\u2026" not in full.stderr, full.stderr
    assert full.stderr.count("\n    #") == frames, full.stderr
    page = open_page(browser, html)
    assert not page.find_elements(By.CSS_SELECTOR, "details.fold")
    rows = page.find_elements(By.CSS_SELECTOR, "section.finding table.frames tr:not(.py)")
    assert len(rows) == frames, (len(rows), frames)


def test_sortable_tables_sort_on_click(browser, run_report):
    page = open_page(browser, run_report / "merged" / "report.html")
    header = page.find_elements(By.CSS_SELECTOR, "table.counts thead th")[3]  # findings
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    column = [row.find_elements(By.TAG_NAME, "td")[3].text for row in
              page.find_elements(By.CSS_SELECTOR, "table.counts tbody tr")]
    assert column == ["1", "2"], column
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    column = [row.find_elements(By.TAG_NAME, "td")[3].text for row in
              page.find_elements(By.CSS_SELECTOR, "table.counts tbody tr")]
    assert column == ["2", "1"], column


def test_report_reads_without_javascript(browser_without_javascript, run_report):
    page = open_page(browser_without_javascript, run_report / "merged" / "report.html",
                     screenshot="report-run-no-javascript.png")
    assert len(sections(page)) == 3
    assert page.find_elements(By.CSS_SELECTOR, "svg.gw-graph")
    # The sorter did not run: its marks are absent, the tables are there all the same.
    assert not page.find_elements(By.CSS_SELECTOR, "th.sort")
    assert len(page.find_elements(By.CSS_SELECTOR, "table.counts tbody tr")) == 2
    # A folded run of frames is a <details>: it expands on a click without a script too.
    fold = page.find_elements(By.CSS_SELECTOR, "details.fold")[0]
    assert not shown(page, fold_rows(fold)[0])
    fold.find_element(By.TAG_NAME, "summary").click()
    assert shown(page, fold_rows(fold)[0])


def test_run_sarif_is_valid_and_points_at_the_lock_sites(run_report):
    for path in (run_report / "registry" / "run.sarif", run_report / "merged" / "report.sarif"):
        document = validate_sarif(path)
        run = document["runs"][0]
        assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == lib.source_dir().as_uri() + "/"
        results = run["results"]
        assert results, path
        for result in results:
            assert result["locations"], result
        inversion = [r for r in results if r["ruleId"] == "lock-order-inversion" and
                     "registry" in json.dumps(r["locations"])]
        assert len(inversion) == 1, results
        uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for loc in inversion[0]["locations"]}
        assert "scenarios/extensions/registry/registry.c" in uris, uris
        assert all(loc["physicalLocation"]["artifactLocation"].get("uriBaseId") == "SRCROOT"
                   for loc in inversion[0]["locations"])
        lines = [loc["physicalLocation"]["region"]["startLine"] for loc in inversion[0]["locations"]]
        assert all(line > 0 for line in lines), lines


def test_run_junit_parses_back(run_report):
    root = ET.parse(run_report / "merged" / "report.xml").getroot()
    assert root.tag == "testsuites"
    cases = list(root.iter("testcase"))
    failures = [case for case in cases if case.find("failure") is not None]
    assert int(root.get("failures")) == len(failures) >= 1
    kinds = ",".join(case.find("failure").get("type") for case in failures)
    assert "lock-order-inversion" in kinds and "deadlock" in kinds, kinds


@pytest.fixture(scope="module")
def stress_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("stress") / "out"
    env = dict(os.environ, GILWATCH_MODULE_DIR=module_dir_for(PYTHON))
    completed = gilwatch("stress", lib.source_dir() / "scenarios" / "suites" / "seeds.toml", "--scenario",
                         "churn-buggy", "--scenario", "churn-fixed", "-n", "2", "-j", "2", "--python", PYTHON,
                         "--out", out, "--sarif", out / "stress.sarif", "--junit", out / "stress.xml",
                         cwd=str(lib.source_dir()), env=env)
    assert completed.returncode == 66, completed.stderr
    return out


def test_stress_report_charts_leaks_per_cycle(browser, stress_report):
    page = open_page(browser, stress_report / "report.html", screenshot="report-stress.png")
    no_alert(page)
    leak = section_of_kind(page, "thread-leak")
    charts = leak.find_elements(By.CSS_SELECTOR, "figure.leak-chart svg.gw-chart")
    assert len(charts) == 2  # native threads, open fds
    result = json.loads((stress_report / "runs" / "churn-buggy" / "0" / "result.json").read_text())
    for chart in charts:
        width, height = rendered_size(page, chart)
        assert width > 200 and height > 100, (width, height)
        # The baseline and every cycle.
        assert len(chart.find_elements(By.CSS_SELECTOR, "circle")) == len(result["cycles"]) + 1
    # Thread counts grow by one per cycle in the buggy scenario: the chart's points say so.
    titles = [c.get_attribute("textContent") for c in charts[0].find_elements(By.CSS_SELECTOR, "circle title")]
    counts = [int(t.split(": ")[1].split(" ")[0]) for t in titles]
    assert counts == [result["baseline"]["threads"]] + [c["threads"] for c in result["cycles"]], titles
    # Who leaked, and how to get that run again.
    assert "churn-worker" in leak.text
    command = leak.find_element(By.CSS_SELECTOR, "pre.command").text
    assert "gilwatch stress" in command and "--rerun 'churn-buggy #" in command and "--seed 0" in command, command
    assert "seen in 2 of 2 runs of churn-buggy" in leak.text
    # Measurements: both scenarios, the fixed twin flat.
    figures = page.find_elements(By.CSS_SELECTOR, "#measurements figure.leak-chart")
    assert len(figures) == 4, len(figures)


def test_stress_sarif_and_junit(stress_report):
    document = validate_sarif(stress_report / "stress.sarif")
    kinds = sorted(r["ruleId"] for r in document["runs"][0]["results"])
    assert kinds == ["fd-leak", "thread-leak"], kinds
    root = ET.parse(stress_report / "stress.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert sorted(cases) == ["churn-buggy", "churn-fixed"], sorted(cases)
    failure = cases["churn-buggy"].find("failure")
    assert failure is not None and set(failure.get("type").split(",")) == {"thread-leak", "fd-leak"}
    assert "--rerun" in failure.text
    assert cases["churn-fixed"].find("failure") is None and cases["churn-fixed"].find("error") is None


# ---- hostile names, corrupt files, size ----

def hostile_results(pid):
    """A deadlock whose every process-supplied string is markup."""
    return {
        "format": "gilwatch-process-results", "version": 1, "pid": pid, "ppid": 1,
        "argv": ["python3", HOSTILE_IMG], "exe": "/usr/bin/" + HOSTILE, "state": "exited", "exit_status": 0,
        "python": {"loaded": True, "version": "3.11 " + HOSTILE},
        "modules": [],
        "findings": [{
            "kind": "deadlock", "summary": "deadlock " + HOSTILE, "probable": False, "count": 1,
            "detail": HOSTILE_IMG, "context": "tests/test_x.py::test_" + HOSTILE,
            "locks": [{"id": 0, "name": HOSTILE, "kind": "mutex", "address": "0x5000", "first_site": []},
                      {"id": 1, "name": "", "kind": "mutex", "address": "0x5040", "first_site": []}],
            "threads": [
                {"tid": pid + 1, "name": HOSTILE, "role": "waits " + HOSTILE_IMG, "waits_for": 0, "holds": [1],
                 "stack": [], "python_frames": [{"function": HOSTILE, "file": "/x/" + HOSTILE_IMG, "line": 3}]},
                {"tid": pid + 2, "name": HOSTILE_IMG, "role": "waits", "waits_for": 1, "holds": [0],
                 "stack": [], "python_frames": []},
            ],
        }],
        "stats": {"locks_tracked": 2, "edges": 0, "overflow": []},
    }


def test_hostile_names_show_as_text(browser, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "gilwatch.4000.json").write_text(json.dumps(hostile_results(4000)))
    html = tmp_path / "hostile.html"
    completed = gilwatch("report", tmp_path, "-o", html, "--sarif", tmp_path / "h.sarif", "--junit", tmp_path / "h.xml")
    assert completed.returncode == 0, completed.stderr
    page = open_page(browser, html, screenshot="report-hostile.png")
    no_alert(page)
    assert page.execute_script("return window.__pwned === undefined")
    assert len(page.find_elements(By.TAG_NAME, "script")) == 1  # the page's own sorter
    assert not page.find_elements(By.CSS_SELECTOR, "img")
    body = page.find_element(By.TAG_NAME, "body").text
    assert HOSTILE in body and HOSTILE_IMG in body
    # Also inside the picture: the thread names are text of the SVG, not markup.
    graph = page.find_element(By.CSS_SELECTOR, "svg.gw-graph")
    assert not graph.find_elements(By.TAG_NAME, "script")
    assert "<script>" in graph.get_attribute("textContent")
    validate_sarif(tmp_path / "h.sarif")
    root = ET.parse(tmp_path / "h.xml").getroot()  # well-formed despite the markup
    assert any(HOSTILE in (case.get("name") or "") for case in root.iter("testcase"))


def test_corrupt_results_are_named_and_the_rest_still_reported(browser, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    good = hostile_results(5000)
    good["findings"][0]["summary"] = "deadlock in the readable file"
    (raw / "gilwatch.5000.json").write_text(json.dumps(good))
    text = json.dumps(hostile_results(6000))
    (raw / "gilwatch.6000.json").write_text(text[: len(text) // 2])  # truncated mid-write
    completed = gilwatch("report", tmp_path, "-o", tmp_path / "r.html", "--sarif", tmp_path / "r.sarif",
                         "--junit", tmp_path / "r.xml")
    assert completed.returncode == 2, completed.stderr
    assert "gilwatch.6000.json" in completed.stderr
    page = open_page(browser, tmp_path / "r.html")
    assert len(sections(page)) == 1
    assert "deadlock in the readable file" in page.find_element(By.TAG_NAME, "body").text
    unreadable = page.find_element(By.CSS_SELECTOR, "ul.unreadable").text
    assert "gilwatch.6000.json" in unreadable
    sarif = validate_sarif(tmp_path / "r.sarif")
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    root = ET.parse(tmp_path / "r.xml").getroot()
    assert [e.get("type") for e in root.iter("error")] == ["unreadable-results"]


def synthetic_stress_directory(out, runs, findings):
    """A stress output directory with `runs` runs of one scenario, every tenth not ok,
    and `findings` distinct findings spread over them."""
    (out / "runs").mkdir(parents=True)
    (out / "stress.json").write_text(json.dumps({
        "format": "gilwatch-stress", "version": 1, "suite": "/suites/big.toml", "seed": "7",
        "working_directory": "/", "python": "", "perturb": False, "interrupted": False,
        "runs_planned": runs, "runs_made": runs,
        "scenarios": [{"name": "big", "kind": "hammer", "variants": [""], "runs": runs}],
        "shard": {"index": 1, "count": 1}}))
    for index in range(runs):
        run_dir = out / "runs" / "big" / str(index)
        (run_dir / "raw").mkdir(parents=True)
        failing = index % 10 == 0
        (run_dir / "run.json").write_text(json.dumps({
            "format": "gilwatch-run", "version": 1, "scenario": "big", "variant": "", "index": index,
            "seed": str(1000 + index), "kind": "hammer", "argv": ["python3", "-m", "gilwatch.driver"],
            "outcome": "findings" if failing else "ok", "reason": "1 finding" if failing else "",
            "exit_status": 0, "signal": None, "timed_out": False, "duration_ms": 100, "pid": 10000 + index}))
        if failing:
            document = hostile_results(10000 + index)
            number = (index // 10) % findings
            finding = document["findings"][0]
            finding["summary"] = "deadlock number %d" % number
            finding["detail"] = "case-%d" % number
            finding["threads"][0]["name"] = "worker-%d" % number
            finding["threads"][1]["name"] = "other-%d" % number
            (run_dir / "raw" / ("gilwatch.%d.json" % (10000 + index))).write_text(json.dumps(document))


def test_large_report_stays_small_and_renders(browser, tmp_path):
    out = tmp_path / "big"
    synthetic_stress_directory(out, runs=3000, findings=150)
    html = tmp_path / "big.html"
    completed = gilwatch("report", out, "-o", html, "-q")
    assert completed.returncode == 0, completed.stderr
    size = html.stat().st_size
    assert size < 4 * 1024 * 1024, "report.html is %d bytes" % size
    page = open_page(browser, html)
    assert len(sections(page)) == 150
    rows = page.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")
    assert len(rows) == 300  # every tenth run is not ok: all listed (the limit is 500)
    assert "3000 runs: 2700 ok, 300 findings" in page.find_element(By.CSS_SELECTOR, "table.what-ran").text
