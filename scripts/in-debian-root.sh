#!/usr/bin/env bash
# Runs a command inside a Debian root (scripts/make-debian-root.sh), as root:
#
#   scripts/in-debian-root.sh ROOT [--bind DIR]... [--cwd DIR] [--env NAME=VALUE]... -- CMD [ARG]...
#
# The mounts it needs live in a private mount namespace (unshare --mount), so they end
# with the command and nothing stays mounted on the host:
#   /dev     the host's /dev (recursive bind: /dev/pts, /dev/shm for multiprocessing)
#   /proc    the host's /proc
#   /tmp     an empty tmpfs, gone afterwards
#   DIR      each --bind DIR at the same path inside the root (read-write), e.g. a test's
#            work directory or the checkout, so paths mean the same inside and out
# The command gets a clean environment (PATH, HOME=/root, LANG=C.UTF-8, and each --env)
# and starts in --cwd (default /). Exits with the command's status; 2 on a usage error or
# when the root is not usable.
set -euo pipefail

usage() {
  echo "usage: $0 ROOT [--bind DIR]... [--cwd DIR] [--env NAME=VALUE]... -- CMD [ARG]..." >&2
  exit 2
}

fail() {
  echo "in-debian-root: $*" >&2
  exit 2
}

[ $# -ge 1 ] || usage
root="$1"
shift
binds=()
cwd=/
envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bind) [ $# -ge 2 ] || usage; binds+=("$2"); shift 2 ;;
    --cwd) [ $# -ge 2 ] || usage; cwd="$2"; shift 2 ;;
    --env) [ $# -ge 2 ] || usage; envs+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ $# -ge 1 ] || usage

[ "$(id -u)" -eq 0 ] || fail "needs root (unshare --mount, chroot)"
case "$root" in /*) ;; *) fail "ROOT must be an absolute path: $root" ;; esac
[ "$root" != / ] || fail "ROOT must not be /"
[ -x "$root/bin/sh" ] && [ -d "$root/proc" ] && [ -d "$root/dev" ] \
  || fail "$root is not a Debian root (scripts/make-debian-root.sh makes one)"
for dir in "${binds[@]}"; do
  case "$dir" in /*) ;; *) fail "--bind needs an absolute path: $dir" ;; esac
  [ -d "$dir" ] || fail "--bind $dir: not a directory"
done

# The inner shell gets everything as arguments: ROOT, CWD, the count of binds, the
# binds, the count of env entries, the entries, then the command.
exec unshare --mount --propagation private --fork -- bash -euc '
  root="$1"; cwd="$2"; shift 2
  nbinds="$1"; shift
  binds=("${@:1:$nbinds}"); shift "$nbinds"
  nenvs="$1"; shift
  envs=("${@:1:$nenvs}"); shift "$nenvs"
  mount --rbind /dev "$root/dev"
  mount --bind /proc "$root/proc"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  for dir in "${binds[@]}"; do
    mkdir -p "$root$dir"
    mount --bind "$dir" "$root$dir"
  done
  exec chroot "$root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 "${envs[@]}" \
    /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
' in-debian-root "$root" "$cwd" "${#binds[@]}" "${binds[@]}" "${#envs[@]}" "${envs[@]}" "$@"
