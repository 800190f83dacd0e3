#!/usr/bin/env bash
# CPU time per uncontended mutex lock+unlock, with libgilwatch.so preloaded against
# plain, as ratios measured in one run: for each round and each loop, the plain and the
# preloaded run follow each other (interleaved), each as the difference between a run of
# LARGE and one of SMALL iterations (start-up cancels out). Prints the median ratio per
# loop; single-threaded loops and the same loops in each of two threads
# (bench/lock_loop.c). CPU time (user + sys of the process), not wall time.
#
#   bench/uncontended_ratio.sh [BUILD_DIR] [ROUNDS]   (iterations from $SMALL and $LARGE)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$(cd "${1:-$root/build}" && pwd)"
rounds="${2:-7}"
loop="$build_dir/bin/lock_loop"
preload="$build_dir/lib/libgilwatch.so"
small="${SMALL:-2000000}"
large="${LARGE:-20000000}"

cpu() {  # cpu PRELOAD OPTIONS ARGS... -> CPU seconds
  local preload_value="$1" options="$2"
  shift 2
  local TIMEFORMAT='%U %S'
  { time LD_PRELOAD="$preload_value" GILWATCH_OPTIONS="$options" "$loop" "$@" >/dev/null 2>&1; } 2>&1 |
    awk '{print $1 + $2}'
}
per_op_ns() {  # per_op_ns PRELOAD OPTIONS HELD THREADS
  local a b
  a="$(cpu "$1" "$2" "$3" "$small" mutex "$4")"
  b="$(cpu "$1" "$2" "$3" "$large" mutex "$4")"
  awk -v a="$a" -v b="$b" -v n="$((large - small))" -v t="$4" 'BEGIN {print (b - a) * 1e9 / (n * t)}'
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "commit $(git -C "$root" rev-parse --short HEAD), $(nproc) cores, rounds $rounds, $large - $small iterations"
printf '%-32s %9s %9s %8s %10s %8s\n' loop plain_ns gw_ns ratio profile_ns ratio
for spec in "mutex, nothing held:0:1" "mutex, 2 held:2:1" "mutex, nothing held, 2 threads:0:2" \
            "mutex, 2 held, 2 threads:2:2"; do
  IFS=: read -r name held threads <<<"$spec"
  plain=() with=() prof=() r1=() r2=()
  for ((r = 0; r < rounds; ++r)); do
    p="$(per_op_ns "" "" "$held" "$threads")"
    w="$(per_op_ns "$preload" report_stderr=0 "$held" "$threads")"
    f="$(per_op_ns "$preload" report_stderr=0:profile=1 "$held" "$threads")"
    plain+=("$p"); with+=("$w"); prof+=("$f")
    r1+=("$(awk -v p="$p" -v w="$w" 'BEGIN {print w / p}')"); r2+=("$(awk -v p="$p" -v f="$f" 'BEGIN {print f / p}')")
  done
  printf '%-32s %9.2f %9.2f %7.2fx %10.2f %7.2fx\n' "$name" "$(printf '%s\n' "${plain[@]}" | median)" \
    "$(printf '%s\n' "${with[@]}" | median)" "$(printf '%s\n' "${r1[@]}" | median)" \
    "$(printf '%s\n' "${prof[@]}" | median)" "$(printf '%s\n' "${r2[@]}" | median)"
done
