#!/usr/bin/env bash
# The demo: installs what is missing, builds, then runs the bundled fixtures — each known
# bug next to its fixed twin — under `gilwatch run`, then the seed suite under
# `gilwatch stress`, and prints what gilwatch found.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" || exit $?
# Configures build/ as scripts/build.sh does (so ./scripts/test.sh later reuses it), but
# builds only what the demo runs: the command, the library, four programs and six
# extensions for one interpreter, not the ~400 targets of the test suite.
"$root/scripts/build.sh" --configure-only || exit $?
gilwatch="$root/build/bin/gilwatch"
programs="$root/build/scenarios/programs"
out="$root/gilwatch-out/demo"
python="/usr/bin/python3.11"
[ -x "$python" ] || python="$(command -v python3)"
registry="$root/scenarios/extensions/registry/drive.py"
# The fixture extensions are built once per interpreter; pythons.json names each
# interpreter's tag (the suffix of its targets) and where its modules go.
read -r tag module_dir < <(python3 -c 'import json, sys
for p in json.load(open(sys.argv[1])):
    if p["interpreter"] == sys.argv[2]:
        print(p["tag"], p["module_dir"])' "$root/build/scenarios/pythons.json" "$python")
if [ -z "${module_dir:-}" ]; then
  echo "demo: build/scenarios/pythons.json has no entry for $python: its headers are missing?" >&2
  exit 1
fi
targets=(gilwatch_cli gilwatch gilwatch_pyhooks scenario_abba scenario_consistent_order scenario_abba_hang
         scenario_lock_ring)
for extension in registry_buggy registry_fixed teardown_buggy teardown_fixed capi_buggy capi_fixed \
                 churn_buggy churn_fixed finalize parallel_buggy parallel_fixed parallel_held; do
  targets+=("pyext_${extension}_${tag}")
done
build_started=$SECONDS
cmake --build "$root/build" -j "$(nproc)" --target "${targets[@]}" || exit $?
echo "demo: built ${#targets[@]} targets in $((SECONDS - build_started)) s"

run() {  # run NAME EXPECTATION CMD...
  local name="$1" expect="$2"
  shift 2
  echo
  echo "=== $name ($expect)"
  "$gilwatch" run --out "$out/$name" -- "$@"
  echo "--- exit status $?, report: $out/$name/report.html"
}

run abba "bug: two mutexes taken in opposite orders" "$programs/abba"
run consistent_order "fixed twin: always the same order" "$programs/consistent_order"
run lock_ring "bug: a lock-order cycle over 20 locks, each order taken by its own thread" "$programs/lock_ring" ring 20
run registry_buggy "bug: GIL held while taking the registry rwlock, worker asks for the GIL under it" \
  "$python" "$registry" buggy --module-dir "$module_dir"
run registry_fixed "fixed twin: GIL released around the lock, no GIL under the lock" \
  "$python" "$registry" fixed --module-dir "$module_dir"
extensions="$root/scenarios/extensions"
run abba_hang "bug: a real deadlock; diagnosed, then ended with status 67" "$programs/abba_hang"
run teardown_buggy "bug: tp_dealloc joins its worker with the GIL held while the worker asks for the GIL" \
  "$python" "$extensions/teardown/drive.py" buggy --module-dir "$module_dir"
run teardown_fixed "fixed twin: the join releases the GIL" \
  "$python" "$extensions/teardown/drive.py" fixed --module-dir "$module_dir"
run capi_buggy "bug: a Python error built inside a GIL-released section" \
  "$python" "$extensions/capi/drive.py" buggy --bad --module-dir "$module_dir"
run capi_fixed "fixed twin: the error is raised once the GIL is back" \
  "$python" "$extensions/capi/drive.py" fixed --bad --module-dir "$module_dir"
echo
echo "=== stress: scenarios/suites/seeds.toml (each seed bug next to its fix, run several times)"
(cd "$root" && GILWATCH_MODULE_DIR="$module_dir" "$gilwatch" stress scenarios/suites/seeds.toml \
  --python "$python" --out "$out/stress" -q)
echo "--- exit status $?, report: $out/stress/report.html, per-run records: $out/stress/runs/"
echo
echo "Reports are under $out/*/report.html"
