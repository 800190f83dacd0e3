#!/usr/bin/env bash
# Configures and builds gilwatch into build/ (Release with debug info).
# Outputs: build/bin/gilwatch, build/lib/libgilwatch.so, fixtures under build/scenarios/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build_type="${GILWATCH_BUILD_TYPE:-RelWithDebInfo}"
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type"
fi
cmake --build build -j "$(nproc)"
