#!/usr/bin/env bash
# Cost of many distinct locks: nested pairs along a chain of K distinct mutexes
# (bench/nested_pairs.c), plain against libgilwatch.so preloaded, single-threaded.
#
# - Instructions per acquisition once every edge is known, counted by callgrind
#   (repeatable under load): the difference between 2 passes over the chain and 1,
#   divided by one pass's acquisitions. Instructions per new edge: the first pass (1
#   pass less 0) less a later one, divided by the K - 1 edges (the stack captured for
#   each edge included).
# - CPU time per acquisition once every edge is known, plain and preloaded runs
#   interleaved (ROUNDS pairs; the median of the pairs' ratios).
# - Memory per edge: the peak resident set's growth from K = 1000 to the largest K,
#   preloaded less plain, divided by the edges added.
#
#   bench/nested_pairs.sh [BUILD_DIR] [ROUNDS]     (K from $KS, default "1000 10000 100000")
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$(cd "${1:-$root/build}" && pwd)"
rounds="${2:-5}"
ks="${KS:-1000 10000 100000}"
prog="$build_dir/bin/nested_pairs"
preload="$build_dir/lib/libgilwatch.so"
command -v valgrind >/dev/null || { echo "nested_pairs.sh: valgrind is not installed" >&2; exit 1; }
export GILWATCH_OPTIONS="${GILWATCH_OPTIONS:-report_stderr=0}"

count() {  # count PRELOAD K PASSES -> total instructions
  local out
  out="$(mktemp)"
  LD_PRELOAD="$1" valgrind --tool=callgrind --callgrind-out-file="$out" "$prog" "$2" "$3" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$out"
}
field() {  # field NAME <<< "nested_pairs output"
  awk -v n="$1" '{for (i = 1; i < NF; ++i) if ($i == n) print $(i + 1)}'
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (modified)'), $(nproc) cores, rounds $rounds"
echo "instructions (callgrind), single-threaded:"
printf '%8s %14s %14s %8s %16s\n' K plain/acq preload/acq ratio preload/new-edge
for k in $ks; do
  acq=$(( 2 * (k - 1) ))
  p0="$(count "" "$k" 0)"; p1="$(count "" "$k" 1)"; p2="$(count "" "$k" 2)"
  g0="$(count "$preload" "$k" 0)"; g1="$(count "$preload" "$k" 1)"; g2="$(count "$preload" "$k" 2)"
  awk -v k="$k" -v a="$acq" -v p0="$p0" -v p1="$p1" -v p2="$p2" -v g0="$g0" -v g1="$g1" -v g2="$g2" 'BEGIN {
    plain = (p2 - p1) / a; with = (g2 - g1) / a
    new_edge = ((g1 - g0) - (g2 - g1)) / (k - 1)
    printf "%8d %14.1f %14.1f %7.2fx %16.0f\n", k, plain, with, with / plain, new_edge }'
done

echo "CPU time per acquisition, every edge known (median of $rounds interleaved pairs), single-threaded:"
printf '%8s %12s %12s %8s\n' K plain_ns preload_ns ratio
declare -A rss_plain rss_with
for k in $ks; do
  passes=$(( 4000000 / (2 * k) + 2 ))
  ratios=() plain_ns=() with_ns=()
  for ((r = 0; r < rounds; ++r)); do
    a="$("$prog" "$k" "$passes")"
    b="$(LD_PRELOAD="$preload" "$prog" "$k" "$passes")"
    pa="$(field later_ns_per_acquisition <<<"$a")"; pb="$(field later_ns_per_acquisition <<<"$b")"
    plain_ns+=("$pa"); with_ns+=("$pb"); ratios+=("$(awk -v a="$pa" -v b="$pb" 'BEGIN {print b / a}')")
  done
  printf '%8d %12.1f %12.1f %7.2fx\n' "$k" "$(printf '%s\n' "${plain_ns[@]}" | median)" \
    "$(printf '%s\n' "${with_ns[@]}" | median)" "$(printf '%s\n' "${ratios[@]}" | median)"
  rss_plain[$k]="$(field maxrss_kb <<<"$("$prog" "$k" 1)")"
  rss_with[$k]="$(field maxrss_kb <<<"$(LD_PRELOAD="$preload" "$prog" "$k" 1)")"
done

first="${ks%% *}"; last="${ks##* }"
if [[ "$first" != "$last" ]]; then
  awk -v k0="$first" -v k1="$last" -v p0="${rss_plain[$first]}" -v p1="${rss_plain[$last]}" \
      -v g0="${rss_with[$first]}" -v g1="${rss_with[$last]}" 'BEGIN {
    printf "memory per edge: %.0f bytes (peak RSS, K = %d -> %d: plain +%d KB, preloaded +%d KB)\n",
      ((g1 - g0) - (p1 - p0)) * 1024 / (k1 - k0), k0, k1, p1 - p0, g1 - g0 }'
fi
