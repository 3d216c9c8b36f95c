#!/usr/bin/env bash
# Sets everything up (packages, build) and runs the whole test suite: first
# on the normal build, then on a clang build with AddressSanitizer and
# UndefinedBehaviorSanitizer, which also fuzzes the front end and the lift
# expansion briefly (scripts/sanitize.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
ctest --test-dir "$top/build" --output-on-failure -j2
"$top/scripts/sanitize.sh"
