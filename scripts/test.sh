#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds, runs every
# test registered with CTest (unit tests, GOT patcher tests, CLI tests, integration tests
# of `gilwatch run` on the fixtures under every interpreter present), then the unit and
# GOT patcher tests again under ASan+UBSan (scripts/test-sanitizers.sh, in build-asan/).
# Arguments go to the first ctest. GILWATCH_SANITIZERS=0 skips the sanitized run.
# Fails if either run does; the sanitized run happens even when the first one failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
status=0
(cd "$root/build" && ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@") || status=$?
if [ "${GILWATCH_SANITIZERS:-1}" != 0 ]; then
  "$root/scripts/test-sanitizers.sh" || status=$?
fi
exit "$status"
