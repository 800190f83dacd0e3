#!/usr/bin/env bash
# Creates, if absent, a Debian forky root (a release other than the build machine's,
# with its own Pythons and compiler) and prints its path as the last line on stdout.
#
#   scripts/make-debian-root.sh
#
# Where: $GILWATCH_DEBIAN_ROOT, default /var/cache/gilwatch/debian-forky, outside the
# clone so it survives between runs. Made with `debootstrap --variant=minbase` from
# $GILWATCH_DEBIAN_MIRROR (default http://deb.debian.org/debian), then the packages below
# installed with the root's own apt-get. Nothing is copied from the host's /usr/lib.
# Built in ROOT.tmp and renamed into place, so a root that exists is complete; the stamp
# ROOT/.gilwatch-root lists what it was made with, and a root whose stamp differs from
# this script's (the package list changed) is rebuilt. ROOT.lock (flock) makes
# concurrent callers wait for one build. ROOT.log holds the last build's output.
#
# Exit status: 0 with the path printed; 2 when the root cannot be made (not root, no
# debootstrap, no network...), with the reason on stderr. Commands run inside the root
# with scripts/in-debian-root.sh.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="${GILWATCH_DEBIAN_ROOT:-/var/cache/gilwatch/debian-forky}"
mirror="${GILWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=forky

# What goes into the root. Changing this list (or the suite) rebuilds cached roots.
packages=(
  # the interpreters, their headers and python3.X-config, venv with ensurepip
  python3.14 python3.14-dev python3.14-venv
  python3.15 python3.15-dev python3.15-venv
  # the compiler that builds the fixtures there
  gcc libc6-dev
  # CPython's own tests (test_threading...), run under gilwatch
  libpython3.14-testsuite libpython3.15-testsuite
)
stamp_format=1
expected_stamp="format=$stamp_format
suite=$suite
packages=${packages[*]}"

fail() {
  echo "make-debian-root: $*" >&2
  exit 2
}

stamp_matches() {
  [ -f "$root/.gilwatch-root" ] && [ "$(cat "$root/.gilwatch-root")" = "$expected_stamp" ]
}

case "$root" in /*) ;; *) fail "GILWATCH_DEBIAN_ROOT must be an absolute path: $root" ;; esac
[ "$root" != / ] || fail "GILWATCH_DEBIAN_ROOT must not be /"

if stamp_matches; then
  echo "$root"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || fail "no Debian root at $root, and making one needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || fail "no Debian root at $root, and debootstrap is not installed (apt-get install debootstrap)"
command -v flock >/dev/null || fail "flock is not installed (util-linux)"
mkdir -p "$(dirname "$root")" || fail "cannot create $(dirname "$root")"

exec 9>"$root.lock" || fail "cannot open the lock $root.lock"
if ! flock -w 1800 9; then
  fail "another build of $root has held $root.lock for 30 minutes"
fi
# Another caller may have built it while this one waited.
if stamp_matches; then
  echo "$root"
  exit 0
fi

# A directory about to be deleted must have nothing mounted below it: rm -rf would then
# reach into the host's /dev or /proc. in-debian-root.sh mounts only in a private
# namespace, so this holds unless something else mounted there.
remove_tree() {
  local dir="$1"
  [ -e "$dir" ] || return 0
  if grep -q " $dir[/ ]" /proc/self/mountinfo; then
    fail "something is mounted below $dir; unmount it, then retry"
  fi
  rm -rf --one-file-system "$dir"
}

log="$root.log"
tmp="$root.tmp"
remove_tree "$tmp"
: >"$log"
start=$(date +%s)
echo "make-debian-root: creating $root (debootstrap $suite, then ${#packages[@]} packages; about 2 minutes; log $log)" >&2

# Bookworm's debootstrap has no script named forky: forky is testing, made like sid.
script=/usr/share/debootstrap/scripts/$suite
[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid

step() {
  local what="$1"
  shift
  if ! "$@" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    remove_tree "$tmp"
    fail "$what failed (full output: $log); no root made"
  fi
}

step "debootstrap --variant=minbase $suite $tmp $mirror" \
  debootstrap --variant=minbase "$suite" "$tmp" "$mirror" "$script"
# The forky Release file may be past its Valid-Until date: apt must not refuse it.
echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/99gilwatch-valid-until"
step "apt-get update in the root" \
  "$here/in-debian-root.sh" "$tmp" -- apt-get -o Acquire::Check-Valid-Until=false -q update
step "apt-get install ${packages[*]} in the root" \
  "$here/in-debian-root.sh" "$tmp" --env DEBIAN_FRONTEND=noninteractive -- \
  apt-get -o Acquire::Check-Valid-Until=false -q -y --no-install-recommends install "${packages[@]}"
step "apt-get clean in the root" "$here/in-debian-root.sh" "$tmp" -- apt-get clean
step "checking the root's interpreters" \
  "$here/in-debian-root.sh" "$tmp" -- sh -c 'python3.14 -c "import venv, ensurepip" && python3.15 -c "import venv, ensurepip" && gcc --version'

printf '%s\n' "$expected_stamp" >"$tmp/.gilwatch-root"
seconds=$(($(date +%s) - start))
echo "created $(date -u +%Y-%m-%dT%H:%M:%SZ) in ${seconds} s" >"$tmp/.gilwatch-root-created"
remove_tree "$root.old"
if [ -e "$root" ]; then
  mv "$root" "$root.old"
fi
mv "$tmp" "$root"
remove_tree "$root.old"
echo "make-debian-root: created $root in ${seconds} s" >&2
echo "$root"
