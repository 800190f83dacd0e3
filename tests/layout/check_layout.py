"""Keeps docs/design.md's map true to the tree: every source folder of instrumentation/,
harness/, reports/ and pyhooks/ is a row of the map, every path the map names exists, and
no source file in instrumentation/, harness/ or reports/ is over 600 lines.

    check_layout.py ROOT            check the repository at ROOT
    check_layout.py --self-test     check that a stale map, a missing path and a long
                                    file are each caught (in a scratch tree)
"""
import os
import re
import sys
import tempfile

SOURCE_SUFFIXES = (".cpp", ".h", ".c", ".S", ".def", ".in", ".py")
LINE_LIMIT = 600
LIMITED_TOPS = ("instrumentation", "harness", "reports")
MAPPED_TOPS = LIMITED_TOPS + ("pyhooks",)


def map_section(design_text):
    """The text of design.md from '## The map' to the next '## ' heading."""
    start = design_text.find("\n## The map\n")
    if start < 0:
        return None
    end = design_text.find("\n## ", start + 1)
    return design_text[start:end if end >= 0 else len(design_text)]


def source_folders(root):
    folders = set()
    for top in MAPPED_TOPS:
        for directory, subdirs, files in os.walk(os.path.join(root, top)):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            if any(name.endswith(SOURCE_SUFFIXES) for name in files):
                folders.add(os.path.relpath(directory, root).replace(os.sep, "/") + "/")
    return folders


def mapped_folders(section):
    """The folders of the map's rows: the first cell of each row of the first table."""
    return {m.group(1) for m in re.finditer(r"(?m)^\| `([^`]+/)` \|", section)}


def problems(root):
    found = []
    with open(os.path.join(root, "docs", "design.md")) as f:
        section = map_section(f.read())
    if section is None:
        return ["docs/design.md has no '## The map' section"]
    rows = mapped_folders(section)
    for folder in sorted(source_folders(root)):
        # A folder is mapped by its own row or by the row of the folder it is in, when
        # that row is a leaf of the map (no other row below it).
        covered = folder in rows or any(
            folder.startswith(row) and not any(other != row and other.startswith(row) for other in rows)
            for row in rows)
        if not covered:
            found.append(f"source folder {folder} is not in design.md's map")
    for path in sorted(set(re.findall(r"`([A-Za-z0-9_./-]+/[A-Za-z0-9_./-]*)`", section))):
        if not os.path.exists(os.path.join(root, path)):
            found.append(f"design.md's map names {path}, which does not exist")
    for top in LIMITED_TOPS:
        for directory, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if name.endswith(SOURCE_SUFFIXES):
                    path = os.path.join(directory, name)
                    with open(path, errors="replace") as f:
                        lines = sum(1 for _ in f)
                    if lines > LINE_LIMIT:
                        found.append(f"{os.path.relpath(path, root)} has {lines} lines (over {LINE_LIMIT})")
    return found


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def self_test():
    design = ("# Design\n\n## The map\n\n| folder | stage | decides |\n|---|---|---|\n"
              "| `harness/run/` | run | x |\n| `reports/` | draw | y, in `reports/a.cpp` |\n\n## Next\n"
              "`reports/elsewhere.cpp` is outside the map\n")
    failures = []
    with tempfile.TemporaryDirectory() as root:
        write(os.path.join(root, "docs", "design.md"), design)
        write(os.path.join(root, "harness", "run", "r.cpp"), "int r;\n")
        write(os.path.join(root, "reports", "a.cpp"), "int a;\n")
        if problems(root):
            failures.append(f"a true map is reported: {problems(root)}")
        write(os.path.join(root, "harness", "cli", "c.cpp"), "int c;\n")
        if problems(root) != ["source folder harness/cli/ is not in design.md's map"]:
            failures.append(f"an unmapped folder is not caught: {problems(root)}")
        os.remove(os.path.join(root, "harness", "cli", "c.cpp"))
        os.remove(os.path.join(root, "reports", "a.cpp"))
        write(os.path.join(root, "reports", "b.cpp"), "int b;\n")
        if problems(root) != ["design.md's map names reports/a.cpp, which does not exist"]:
            failures.append(f"a stale path is not caught: {problems(root)}")
        write(os.path.join(root, "reports", "a.cpp"), "int a;\n" * (LINE_LIMIT + 1))
        if problems(root) != [f"reports/a.cpp has {LINE_LIMIT + 1} lines (over {LINE_LIMIT})"]:
            failures.append(f"a long file is not caught: {problems(root)}")
        write(os.path.join(root, "reports", "a.cpp"), "int a;\n" * LINE_LIMIT)
        if problems(root):
            failures.append(f"a file of exactly {LINE_LIMIT} lines is reported: {problems(root)}")
    return failures


def main(argv):
    if argv[1:] == ["--self-test"]:
        failures = self_test()
    elif len(argv) == 2:
        failures = problems(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
