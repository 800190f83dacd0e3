#!/usr/bin/python3
"""The screenshots of docs/reports.md: runs three of the demo's bugs under `gilwatch run`
(the native ABBA inversion, the teardown deadlock — a join with the GIL held — and a
lock-order cycle over 20 locks from scenarios/programs/lock_ring), renders their HTML
reports, and photographs them in headless Chromium (Debian's chromium and
chromium-driver, through Selenium): each report from its top to its first picture, and
each picture alone.

    scripts/report-screenshots.py [--build build] [--images docs/images] [--doc docs/reports.md]
                                  [--work DIR]

Needs a build with the demo's targets and scenario_lock_ring (scripts/demo.sh builds the
rest). The PNGs go to --images; --doc's block between the "screenshots" markers is
rewritten to show them, with the command and the commit that made them (`--doc ''`
leaves the docs alone). Pixels differ between machines (fonts); what the pictures hold
does not (tests/integration/test_report_pictures.py checks it).
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = "<!-- screenshots: made by scripts/report-screenshots.py, do not edit by hand -->"
END = "<!-- end of screenshots -->"
PYTHON = "/usr/bin/python3.11"

# name, what it shows, how to run it (build directory, module directory) -> argv
DEMO = [
    ("abba", "lock-order inversion: two mutexes taken in opposite orders (`scenarios/programs/abba`)",
     lambda build, modules: [build / "scenarios" / "programs" / "abba"]),
    ("teardown", "deadlock: `tp_dealloc` joins its worker with the GIL held while the worker asks for the "
                 "GIL (`scenarios/extensions/teardown`, `drive.py buggy`)",
     lambda build, modules: [PYTHON, ROOT / "scenarios" / "extensions" / "teardown" / "drive.py", "buggy",
                             "--module-dir", modules]),
    ("lock-ring-20", "lock-order inversion over 20 locks, each order taken by its own thread "
                     "(`scenarios/programs/lock_ring ring 20`)",
     lambda build, modules: [build / "scenarios" / "programs" / "lock_ring", "ring", "20"]),
]


def module_dir(build):
    for python in json.loads((build / "scenarios" / "pythons.json").read_text()):
        if python["interpreter"] == PYTHON:
            return python["module_dir"]
    raise SystemExit("report-screenshots: %s/scenarios/pythons.json has no %s" % (build, PYTHON))


def relative(path):
    path = str(path)
    if os.path.isabs(path) and pathlib.Path(path).resolve().is_relative_to(ROOT):
        return os.path.relpath(path, ROOT)
    return path


def run_demo(build, work):
    """Runs each demo bug under gilwatch; returns {name: report.html}."""
    gilwatch = build / "bin" / "gilwatch"
    modules = module_dir(build)
    reports = {}
    for name, _, argv in DEMO:
        out = work / name
        # Paths in the repository relative to it (the report shows the command).
        command = [str(gilwatch), "run", "--out", str(out), "--"] + [relative(a) for a in argv(build, modules)]
        completed = subprocess.run(command, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   universal_newlines=True, timeout=600)
        if completed.returncode not in (66, 67) or not (out / "report.html").exists():
            raise SystemExit("report-screenshots: %s exited %d without findings:\n%s"
                             % (" ".join(command), completed.returncode, completed.stderr[-4000:]))
        reports[name] = out / "report.html"
    return reports


def start_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="gilwatch-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--force-device-scale-factor=1",
                 "--user-data-dir=" + profile, "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    return driver, profile


def photograph(driver, report, name, images):
    """The page from its top to the end of its first picture (the verdict, the table of
    kinds, the first finding's cycle and picture), and every picture alone."""
    from selenium.webdriver.common.by import By
    driver.set_window_size(1280, 1600)
    driver.get(report.resolve().as_uri())
    made = []
    first = driver.find_elements(By.CSS_SELECTOR, "section.finding svg.gw-graph") or \
        driver.find_elements(By.CSS_SELECTOR, "section.finding")
    bottom = driver.execute_script("return Math.ceil(arguments[0].getBoundingClientRect().bottom + scrollY) + 24",
                                   first[0])
    height = min(bottom, 2600)
    # The viewport, not the window, is what the screenshot holds.
    chrome = driver.execute_script("return outerHeight - innerHeight")
    driver.set_window_size(1280, height + chrome)
    driver.execute_script("scrollTo(0, 0)")
    path = images / ("report-%s.png" % name)
    driver.save_screenshot(str(path))
    made.append(path)
    for index, graph in enumerate(driver.find_elements(By.CSS_SELECTOR, "section.finding svg.gw-graph")):
        path = images / ("graph-%s%s.png" % (name, "" if index == 0 else "-%d" % (index + 1)))
        graph.screenshot(str(path))
        made.append(path)
    return made


def commit():
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--",
                                "reports", "harness", "instrumentation"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    except OSError:
        return "unknown"
    return (head or "unknown") + (" with uncommitted changes" if dirty.strip() else "")


def write_doc(doc, images, made, command):
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit("report-screenshots: %s has no screenshots block" % doc)
    lines = [BEGIN, "", "Made by `%s` at commit %s (Debian's python3.11, headless Chromium)." % (command, commit()), ""]
    for name, what, _ in DEMO:
        lines.append("**%s** — %s:" % (name, what))
        lines.append("")
        for path in made[name]:
            relative = os.path.relpath(path, doc.parent)
            kind = "the picture" if path.name.startswith("graph-") else "the finding"
            lines.append("![%s, %s](%s)" % (name, kind, relative))
            lines.append("")
    lines.append(END)
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    doc.write_text(before + "\n".join(lines) + after)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(ROOT / "build"), help="the build directory (default: build)")
    parser.add_argument("--images", default=str(ROOT / "docs" / "images"), help="where the PNGs go")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "reports.md"),
                        help="the page whose screenshots block is rewritten ('' for none)")
    parser.add_argument("--work", help="where the runs' output goes (default: a temporary directory)")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    images = pathlib.Path(args.images).resolve()
    images.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="gilwatch-screenshots-")).resolve()
    reports = run_demo(build, work)
    driver, profile = start_browser()
    made = {}
    try:
        for name, report in reports.items():
            made[name] = photograph(driver, report, name, images)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    for paths in made.values():
        for path in paths:
            print(path)
    if args.doc:
        write_doc(pathlib.Path(args.doc).resolve(), images, made, "scripts/report-screenshots.py")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
