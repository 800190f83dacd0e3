#!/usr/bin/env bash
# Runs lock_bench twice, plain and with libgilwatch.so preloaded, and prints ns/op for
# each benchmark and the ratio preloaded/plain. It measures; nothing asserts a time.
#
#   bench/run_lock_bench.sh [BUILD_DIR] [extra benchmark flags...]
#
# BUILD_DIR defaults to build/ next to this script's parent. The numbers are medians
# over --benchmark_repetitions runs (default 5, override with LOCK_BENCH_REPETITIONS).
# The preloaded run writes its results file (normally no findings) to a temporary
# directory that is removed afterwards.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${1:-$root/build}"
[ $# -gt 0 ] && shift
build_dir="$(cd "$build_dir" && pwd)"
bench="$build_dir/bin/lock_bench"
preload="$build_dir/lib/libgilwatch.so"
repetitions="${LOCK_BENCH_REPETITIONS:-5}"

for file in "$bench" "$preload"; do
  if [ ! -e "$file" ]; then
    echo "run_lock_bench.sh: $file not found (build first: cmake --build $build_dir)" >&2
    exit 1
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

common_flags=(
  --benchmark_format=json
  --benchmark_repetitions="$repetitions"
  --benchmark_report_aggregates_only=true
  --benchmark_min_time=0.2
  "$@"
)

echo "lock_bench: plain run ($repetitions repetitions)..." >&2
"$bench" "${common_flags[@]}" >"$work/plain.json"
echo "lock_bench: run with LD_PRELOAD=$preload..." >&2
mkdir -p "$work/gilwatch-out"
LD_PRELOAD="$preload" GILWATCH_OPTIONS="out_dir=$work/gilwatch-out" \
  "$bench" "${common_flags[@]}" >"$work/preload.json"

python3 - "$work/plain.json" "$work/preload.json" <<'PY'
import json
import sys

NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def medians(path):
    """Benchmark name -> median CPU time per iteration in ns."""
    with open(path) as f:
        report = json.load(f)
    result = {}
    for entry in report["benchmarks"]:
        # With repetitions, only aggregates are reported; without, plain iterations.
        if entry.get("run_type") == "aggregate" and entry.get("aggregate_name") != "median":
            continue
        name = entry.get("run_name", entry["name"])
        result[name] = entry["cpu_time"] * NS_PER_UNIT[entry.get("time_unit", "ns")]
    return result


plain = medians(sys.argv[1])
preload = medians(sys.argv[2])
width = max(len(name) for name in plain) if plain else 10
print("%-*s  %12s  %12s  %8s" % (width, "benchmark", "plain ns/op", "preload ns/op", "ratio"))
for name, plain_ns in plain.items():
    preload_ns = preload.get(name)
    if preload_ns is None:
        print("%-*s  %12.2f  %12s  %8s" % (width, name, plain_ns, "missing", "-"))
        continue
    ratio = preload_ns / plain_ns if plain_ns > 0 else float("inf")
    print("%-*s  %12.2f  %12.2f  %7.2fx" % (width, name, plain_ns, preload_ns, ratio))
PY
