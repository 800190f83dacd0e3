#!/usr/bin/env bash
# Configures and builds gilwatch into build/ (Release with debug info).
# --configure-only: configure build/ and stop (scripts/demo.sh then builds its targets).
# Outputs: build/bin/gilwatch, build/lib/libgilwatch.so, fixtures under build/scenarios/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build_type="${GILWATCH_BUILD_TYPE:-RelWithDebInfo}"
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type"
fi
if [ "${1:-}" = "--configure-only" ]; then
  exit 0
fi
cmake --build build -j "$(nproc)"
