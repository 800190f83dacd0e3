#!/usr/bin/env bash
# The unit tests under AddressSanitizer (with its leak checker) and UndefinedBehaviorSanitizer.
# Configures build-asan/ (a tree of its own: GILWATCH_SANITIZE=address,undefined, Debug),
# builds only the unit and GOT patcher test programs (the engine, the harness and the
# renderers they link), and runs their CTest tests ("unit:...", "got:..."). Any report
# from either sanitizer stops the test program, so the test fails. scripts/test.sh runs
# this after the main suite; run it alone to check a change:
#   scripts/test-sanitizers.sh [ctest arguments, e.g. -R 'unit: lock graph']
# The preload library is not built here: it runs inside uninstrumented interpreters
# (GILWATCH_SANITIZE in CMakeLists.txt says why); the integration tests cover it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build=build-asan
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGILWATCH_SANITIZE=address,undefined
fi
cmake --build "$build" -j "$(nproc)" --target \
  gilwatch_unit_tests got_patcher_tests got_patcher_canonical_plt_tests capi_stub_tests
# Suppressions for what is not gilwatch's own defect: tests/sanitizers/*.supp, each entry
# saying why.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/tests/sanitizers/ubsan.supp"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
cd "$build"
ctest --output-on-failure --timeout 300 -j "$(nproc)" -R '^(unit|got):' "$@"
