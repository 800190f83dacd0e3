#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds, runs every
# test registered with CTest (unit tests, GOT patcher tests, CLI tests, integration tests
# of `gilwatch run` on the fixtures under every interpreter present).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@"
