#!/usr/bin/env bash
# Instructions per uncontended lock+unlock, plain and with libgilwatch.so preloaded,
# counted by callgrind (repeatable, unlike wall time on a shared machine). Each figure
# is the difference between a run of 200000 and one of 100000 iterations, divided by
# 100000, so start-up costs cancel out. The last column has the contention profile on
# (GILWATCH_OPTIONS profile=1: two clock reads and the per-lock counters). Rows marked
# "2 threads" run the loop in each of two threads (a multi-threaded process; callgrind
# runs them one at a time, so the count per operation is the total over both threads'
# operations); the others in the main thread alone.
#
#   bench/instructions_per_lock.sh [BUILD_DIR]   ($ROWS: only the first ROWS rows)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$(cd "${1:-$root/build}" && pwd)"
loop="$build_dir/bin/lock_loop"
preload="$build_dir/lib/libgilwatch.so"
command -v valgrind >/dev/null || { echo "instructions_per_lock.sh: valgrind is not installed" >&2; exit 1; }

count() {  # count PRELOAD ARGS... -> total instructions (GILWATCH_OPTIONS from $options)
  local preload_value="$1"
  shift
  local out
  out="$(mktemp)"
  LD_PRELOAD="$preload_value" GILWATCH_OPTIONS="$options" \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$loop" "$@" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$out"
}

per_op() {  # per_op PRELOAD HELD KIND THREADS
  local preload_value="$1" held="$2" kind="$3" threads="$4"
  local small large
  small="$(count "$preload_value" "$held" 100000 "$kind" "$threads")"
  large="$(count "$preload_value" "$held" 200000 "$kind" "$threads")"
  echo $(( (large - small) / (100000 * threads) ))
}

printf '%-32s %10s %10s %8s %10s %8s\n' operation plain preload ratio profile ratio
for spec in "mutex, nothing held:0:mutex:1" "mutex, 2 held:2:mutex:1" "mutex, 4 held:4:mutex:1" \
            "rwlock read, nothing held:0:rwlock:1" "mutex, nothing held, 2 threads:0:mutex:2" \
            "mutex, 2 held, 2 threads:2:mutex:2"; do
  IFS=: read -r name held kind threads <<<"$spec"
  [[ -n "${ROWS:-}" ]] && { (( ROWS-- > 0 )) || break; }
  options=report_stderr=0
  plain="$(per_op "" "$held" "$kind" "$threads")"
  with="$(per_op "$preload" "$held" "$kind" "$threads")"
  options=report_stderr=0:profile=1
  profiled="$(per_op "$preload" "$held" "$kind" "$threads")"
  awk -v n="$name" -v p="$plain" -v w="$with" -v f="$profiled" \
    'BEGIN { printf "%-32s %10d %10d %7.2fx %10d %7.2fx\n", n, p, w, w / p, f, f / p }'
done
