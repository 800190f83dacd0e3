#!/usr/bin/env bash
# Installs the Debian packages gilwatch needs to build and test, only those missing.
# Needs root (CI and the development machines run as root); prints what it installs.
#   --build-only   only what building the command and the library needs (the wheel:
#                  scripts/build-wheel.sh), not the test suite's packages
set -euo pipefail

build_packages=(
  cmake ninja-build g++ binutils
  libtbb-dev libdw-dev libiberty-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libtomlplusplus-dev
  python3-dev python3-venv python3-pip
)
test_packages=(
  catch2 libbenchmark-dev python3-pytest
  # CPython's own threading tests, run under gilwatch (test_cpython_suite)
  libpython3.11-testsuite
  # the report tests: a real browser, SARIF's schema, nothing from the network
  chromium chromium-driver python3-selenium python3-jsonschema
  # the Debian forky root where the wheel is tried (scripts/make-debian-root.sh)
  debootstrap
)

case "${1:-}" in
  "") packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  --build-only) packages=("${build_packages[@]}") ;;
  *) echo "install-deps: unknown option: $1 (known: --build-only)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them yourself) and retry" >&2
  exit 2
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
