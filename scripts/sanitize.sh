#!/usr/bin/env bash
# Builds everything with clang-19, AddressSanitizer and UndefinedBehaviorSanitizer,
# plus the libFuzzer targets, into build-asan/, and runs the whole test suite
# there (it includes a 30-second fuzzing run of each target). scripts/test.sh
# runs this after the normal suite.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
cmake -S "$top" -B "$top/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  -DRSLC_SANITIZE=address,undefined -DRSLC_FUZZ=ON >/dev/null
cmake --build "$top/build-asan" -j2
# Leaks are errors too, except in python (which keeps its objects at exit).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir "$top/build-asan" --output-on-failure -j2
