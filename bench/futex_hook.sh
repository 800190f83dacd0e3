#!/usr/bin/env bash
# What the syscall() hook costs Rust's std::sync::Mutex (a futex word), measured with the
# PyO3 workspace's futexbench (scenarios/pyo3/futexbench): THREADS threads lock, bump
# and unlock one Mutex.
#
# - Uncontended (1 thread): the lock is an inlined atomic and never calls syscall(), so
#   the hook is not on the path at all. Counted in instructions per lock+unlock by
#   callgrind (repeatable on a shared machine): the difference between 2,000,000 and
#   1,000,000 iterations, divided by 1,000,000, so start-up costs cancel out.
# - A futex wait that returns at once (EAGAIN: the word changed), made through
#   syscall() as std makes it: the hook's own cost per call, in instructions (callgrind,
#   as above, 200,000 vs 100,000 calls; the kernel's part is not counted by callgrind).
# - Contended (2 and 4 threads on 2 cores): the waits and wakes go through the hook.
#   Timed with hyperfine, plain / preloaded / preloaded with profile=1, in one run; the
#   ratio of the means is what to read. std's Mutex spins before it waits, so few of
#   its acquisitions reach the kernel: strace counts them.
#
#   bench/futex_hook.sh [BUILD_DIR] [ITERATIONS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$(cd "${1:-$root/build}" && pwd)"
iterations="${2:-2000000}"
bench="$build_dir/scenarios/pyo3/futexbench"
preload="$build_dir/lib/libgilwatch.so"
[ -x "$bench" ] || { echo "futex_hook.sh: $bench is not built (needs cargo: scenarios/pyo3)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "futex_hook.sh: valgrind is not installed" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "futex_hook.sh: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }

count() {  # count PRELOAD OPTIONS THREADS ITERATIONS -> total instructions
  local out
  out="$(mktemp)"
  LD_PRELOAD="$1" GILWATCH_OPTIONS="$2" valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" "$3" "$4" \
    >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$out"
}

per_op() {  # per_op PRELOAD OPTIONS -> instructions per uncontended lock+unlock
  local small large
  small="$(count "$1" "$2" 1 1000000)"
  large="$(count "$1" "$2" 1 2000000)"
  echo "scale=1; ($large - $small) / 1000000" | bc
}

per_futex_call() {  # per_futex_call PRELOAD OPTIONS -> instructions per futex wait call
  local small large
  small="$(count "$1" "$2" eagain 100000)"
  large="$(count "$1" "$2" eagain 200000)"
  echo "scale=1; ($large - $small) / 100000" | bc
}

echo "uncontended std::sync::Mutex (1 thread), instructions per lock+unlock:"
printf '  plain %s, preloaded %s, preloaded with profile=1 %s\n' \
  "$(per_op "" report_stderr=0)" "$(per_op "$preload" report_stderr=0)" "$(per_op "$preload" report_stderr=0:profile=1)"

echo "a futex wait returning at once (EAGAIN), instructions per call outside the kernel:"
printf '  plain %s, preloaded %s, preloaded with profile=1 %s\n' \
  "$(per_futex_call "" report_stderr=0)" "$(per_futex_call "$preload" report_stderr=0)" \
  "$(per_futex_call "$preload" report_stderr=0:profile=1)"

for threads in 2 4; do
  json="$(mktemp)"
  echo "contended std::sync::Mutex ($threads threads x $iterations), wall time:"
  hyperfine --warmup 2 --runs 15 --style basic --export-json "$json" \
    -n plain "$bench $threads $iterations" \
    -n preloaded "env LD_PRELOAD=$preload GILWATCH_OPTIONS=report_stderr=0 $bench $threads $iterations" \
    -n profile "env LD_PRELOAD=$preload GILWATCH_OPTIONS=report_stderr=0:profile=1 $bench $threads $iterations" >/dev/null
  python3 - "$json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
plain = results["plain"]["mean"]
for name in ("plain", "preloaded", "profile"):
    r = results[name]
    print("  %-10s mean %.3f s (stddev %.3f), %.2fx plain" % (name, r["mean"], r["stddev"], r["mean"] / plain))
PY
  rm -f "$json"
  echo "  futex calls in one run (strace -f -c): $(strace -f -c -e trace=futex "$bench" "$threads" "$iterations" 2>&1 >/dev/null | awk '/futex/ {print $4}')"
done
