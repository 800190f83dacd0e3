"""The pictures of report.html as Chromium draws them, for the demo's findings: the
teardown deadlock (a join with the GIL held: thread -> joins -> thread -> waits for -> the
GIL -> held by -> thread), the ABBA inversion and a lock-order cycle over 20 locks
(scenarios/programs/lock_ring). Every edge of the cycle is an arrow on the page with its
label, visible and not clipped: inside the picture's box (getBoundingClientRect), its
text inside its plate, no label over another, and the label is what the browser finds at
its own center. Also: scripts/report-screenshots.py runs and writes its images.
"""

import json
import pathlib
import subprocess

import pytest

import gilwatch_testlib as lib
# `browser`: the module-scoped headless Chromium fixture, shared with the report tests.
from test_report_browser import PYTHON, browser, gilwatch, module_dir_for, open_page  # noqa: F401

from selenium.webdriver.common.by import By  # noqa: E402


def run(tmp_path_factory, name, argv, status):
    out = tmp_path_factory.mktemp(name) / "out"
    completed = gilwatch("run", "--out", out, "--", *argv, cwd=str(lib.source_dir()))
    assert completed.returncode == status, completed.stderr
    return out


@pytest.fixture(scope="module")
def teardown(tmp_path_factory):
    return run(tmp_path_factory, "teardown",
               [PYTHON, lib.source_dir() / "scenarios" / "extensions" / "teardown" / "drive.py", "buggy",
                "--module-dir", module_dir_for(PYTHON)], lib.DEADLOCK_EXIT_STATUS)


@pytest.fixture(scope="module")
def abba(tmp_path_factory):
    return run(tmp_path_factory, "abba", [lib.program_path("abba")], lib.FINDINGS_EXIT_STATUS)


@pytest.fixture(scope="module")
def ring20(tmp_path_factory):
    return run(tmp_path_factory, "ring20", [lib.program_path("lock_ring"), "ring", "20"], lib.FINDINGS_EXIT_STATUS)


# Everything the browser laid out for one picture, measured in one script.
MEASURE = """
const svg = arguments[0];
// Boxes in page coordinates, so that scrolling between measurements changes nothing.
const box = r => { const b = r.getBoundingClientRect();
                   return [b.left + scrollX, b.top + scrollY, b.right + scrollX, b.bottom + scrollY]; };
const shown = e => { const s = getComputedStyle(e); return s.display !== 'none' && s.visibility !== 'hidden' && parseFloat(s.opacity) > 0; };
// Is the label what the browser finds at its center (nothing drawn over it)?
const on_top = label => {
  label.scrollIntoView({block: 'center', inline: 'center'});
  const b = label.querySelector('rect').getBoundingClientRect();
  const hit = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
  return !!hit && label.contains(hit);
};
// An arrow's label carries its data-edge; without one (older pages), the i-th label is
// the i-th arrow's.
const all_labels = [...svg.querySelectorAll('g.gw-edge-label')];
const edges = [...svg.querySelectorAll('path.gw-edge')].map((path, i) => {
  const k = path.getAttribute('data-edge');
  const label = k === null ? all_labels[i] : svg.querySelector('g.gw-edge-label[data-edge="' + k + '"]');
  const out = {edge: k, path_shown: shown(path), length: path.getTotalLength(),
               dashed: path.classList.contains('gw-dashed')};
  if (label) Object.assign(out, {label: label.querySelector('text').textContent, on_top: on_top(label),
                                 label_shown: shown(label) && shown(label.querySelector('text'))});
  return [out, path, label];
});
for (const [out, path, label] of edges) {
  out.path = box(path);
  if (label) Object.assign(out, {plate: box(label.querySelector('rect')), text: box(label.querySelector('text'))});
}
return {svg: box(svg), edges: edges.map(e => e[0]), nodes: [...svg.querySelectorAll('g.gw-node')].map(n => n.textContent)};
"""


def inside(inner, outer, slack=0.5):
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and
            inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_picture(page, section):
    """Measures the section's picture; asserts every edge and label is visible, unclipped
    and apart. Returns the measurements."""
    graphs = section.find_elements(By.CSS_SELECTOR, "svg.gw-graph")
    assert len(graphs) == 1, "one picture per finding"
    m = page.execute_script(MEASURE, graphs[0])
    assert m["svg"][2] - m["svg"][0] > 100 and m["svg"][3] - m["svg"][1] > 50, m["svg"]
    for e in m["edges"]:
        assert e["path_shown"] and e["length"] > 10, e
        assert inside(e["path"], m["svg"]), ("arrow outside the picture", e, m["svg"])
        assert "label" in e, ("an arrow without a label", e)
        assert e["label_shown"], e
        assert inside(e["plate"], m["svg"]), ("label clipped by the picture", e, m["svg"])
        assert inside(e["text"], e["plate"], slack=1.0), ("text wider than its plate", e)
        assert e["on_top"], ("label covered by something else", e)
    plates = [e["plate"] for e in m["edges"]]
    for i in range(len(plates)):
        for j in range(i + 1, len(plates)):
            assert not overlap(plates[i], plates[j]), ("labels overlap", m["edges"][i], m["edges"][j])
    return m


def finding_sections(page, kind):
    return [s for s in page.find_elements(By.CSS_SELECTOR, "section.finding") if s.get_attribute("data-kind") == kind]


def test_teardown_deadlock_draws_the_join_and_closes_the_cycle(browser, teardown):
    page = open_page(browser, teardown / "report.html")
    findings = json.loads((teardown / "findings.json").read_text())["findings"]
    deadlock = [f for f in findings if f["kind"] == "deadlock"]
    assert len(deadlock) == 1 and deadlock[0]["detail"] == "join,gil", findings
    sections = finding_sections(page, "deadlock")
    assert len(sections) == 1
    m = check_picture(page, sections[0])
    labels = sorted(e["label"] for e in m["edges"])
    # The joining thread holds the GIL, the joined one waits for it: a cycle of three arrows.
    assert labels == ["held by", "joins", "waits for"], labels
    assert sum(1 for n in m["nodes"] if n.startswith("thread ")) == 2, m["nodes"]
    assert sum(1 for n in m["nodes"] if "the GIL" in n) == 1, m["nodes"]


def test_abba_inversion_draws_both_orders_with_their_threads(browser, abba):
    page = open_page(browser, abba / "report.html")
    findings = json.loads((abba / "findings.json").read_text())["findings"]
    inversion = [f for f in findings if f["kind"] == lib.LOCK_ORDER_INVERSION]
    assert len(inversion) == 1, findings
    sections = finding_sections(page, lib.LOCK_ORDER_INVERSION)
    assert len(sections) == 1
    m = check_picture(page, sections[0])
    assert len(m["edges"]) == len(inversion[0]["edges"]) == 2
    tids = sorted(str(inversion[0]["threads"][e["thread_index"]]["tid"]) for e in inversion[0]["edges"])
    assert sorted(e["label"].split(" ")[1].rstrip(":") for e in m["edges"]) == tids, m["edges"]
    assert all("abba.c:" in e["label"] for e in m["edges"]), m["edges"]


def test_twenty_lock_ring_draws_all_twenty_edges(browser, ring20):
    page = open_page(browser, ring20 / "report.html")
    findings = json.loads((ring20 / "findings.json").read_text())["findings"]
    inversion = [f for f in findings if f["kind"] == lib.LOCK_ORDER_INVERSION]
    assert len(inversion) == 1 and len(inversion[0]["edges"]) == 20, findings
    sections = finding_sections(page, lib.LOCK_ORDER_INVERSION)
    m = check_picture(page, sections[0])
    assert len(m["edges"]) == 20
    assert len(m["nodes"]) == 20
    tids = {str(t["tid"]) for t in inversion[0]["threads"]}
    assert {e["label"].split(" ")[1].rstrip(":") for e in m["edges"]} == tids
    assert all("lock_ring.c:" in e["label"] for e in m["edges"]), m["edges"]


def test_clean_run_has_no_picture(browser, tmp_path):
    """The negative twin: a fixed program's report has no finding and so no picture."""
    out = tmp_path / "out"
    completed = gilwatch("run", "--out", out, "--", lib.program_path("lock_ring"), "consistent", "20",
                         cwd=str(lib.source_dir()))
    assert completed.returncode == 0, completed.stderr
    page = open_page(browser, out / "report.html")
    assert not page.find_elements(By.CSS_SELECTOR, "svg.gw-graph")


def test_screenshot_script_writes_the_images(tmp_path):
    images = tmp_path / "images"
    doc = tmp_path / "reports.md"
    doc.write_text("# Reports\n\n<!-- screenshots: made by scripts/report-screenshots.py, do not edit by hand -->\n"
                   "old\n<!-- end of screenshots -->\n\nafter\n")
    completed = subprocess.run(["/usr/bin/python3", str(lib.source_dir() / "scripts" / "report-screenshots.py"),
                                "--build", str(lib.build_dir()), "--images", str(images), "--doc", str(doc),
                                "--work", str(tmp_path / "work")],
                               cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=900)
    assert completed.returncode == 0, completed.stderr
    written = sorted(p.name for p in images.iterdir())
    expected = ["graph-abba.png", "graph-lock-ring-20.png", "graph-teardown.png",
                "report-abba.png", "report-lock-ring-20.png", "report-teardown.png"]
    assert written == expected, written
    for name in expected:
        data = (images / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, (name, len(data))
    text = doc.read_text()
    assert "old" not in text and text.endswith("after\n")
    for name in expected:
        assert "(images/%s)" % name in text, text
    assert "Made by `scripts/report-screenshots.py` at commit " in text
    assert sorted(pathlib.Path(line).name for line in completed.stdout.split()) == expected
