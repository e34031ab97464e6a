#!/usr/bin/env bash
# Sets up, builds with warnings as errors and runs the whole test suite
# (ctest on Mesa's lavapipe CPU Vulkan device, validation layer on).
# REVERIE_SANITIZE=1 builds with ASan/UBSan in build-asan/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --tests
dir=build
flags=(-DREVERIE_WERROR=ON)
if [ "${REVERIE_SANITIZE:-0}" = 1 ]; then
  dir=build-asan
  flags+=(-DREVERIE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$dir" "${flags[@]}"
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure -j1 ${CTEST_ARGS:-}
