#!/usr/bin/env bash
# Builds flinkguard with AddressSanitizer + UndefinedBehaviorSanitizer and runs every test
# (labels unit, integration, conformance, zk, e2e). This is the README's test command and
# what CI runs. Build tree: build-test/ (override with FLINKGUARD_TEST_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/install-deps.sh --test

build_dir=${FLINKGUARD_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFLINKGUARD_SANITIZE=ON -DFLINKGUARD_WERROR=ON -DFLINKGUARD_BUILD_TESTS=ON
cmake --build "$build_dir" -j "$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
