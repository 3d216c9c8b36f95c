#!/usr/bin/env bash
# Runs the libFuzzer targets, each for SECONDS (default 60), on a corpus
# seeded from examples/ and every blueprint in tests/, then replays the saved
# regressions (fuzz/regressions/TARGET/*: inputs that once crashed).
#   fuzz/run.sh [SECONDS] [TARGET...]      e.g. fuzz/run.sh 3600 LiftFuzzer
# Needs the sanitizer build: scripts/sanitize.sh (or the cmake line there).
# A crash stops with the input saved as build-asan/fuzz/crash-*; add it to
# fuzz/regressions/TARGET/ once fixed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${RSLC_FUZZ_BIN:-$top/build-asan/bin}
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FrontEndFuzzer LiftFuzzer DataFuzzer)
work=$(dirname "$bin")/fuzz
mkdir -p "$work/seeds"
rm -f "$work"/{crash,timeout,oom,leak}-*
find "$top/examples" "$top/tests" -name '*.rsl' -exec cp {} "$work/seeds/" \;
python3 "$top/fuzz/data_seeds.py" "$work/data-seeds"
for t in "${targets[@]}"; do
  [ -x "$bin/$t" ] || { echo "fuzz/run.sh: $bin/$t not built (run scripts/sanitize.sh)" >&2; exit 2; }
  regressions=$top/fuzz/regressions/$t
  if compgen -G "$regressions/*" >/dev/null; then
    echo "== $t: replaying $(ls "$regressions" | wc -l) regression inputs"
    OMP_NUM_THREADS=1 "$bin/$t" "$regressions"/* 2>&1 | tail -1
  fi
  mkdir -p "$work/$t"
  seeds=()
  [ "$t" = FrontEndFuzzer ] && seeds=("$work/seeds")
  [ "$t" = DataFuzzer ] && seeds=("$work/data-seeds")
  echo "== $t: fuzzing for ${seconds}s"
  OMP_NUM_THREADS=1 "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/$t" "${seeds[@]}" 2>&1 |
    grep -E "^(stat::number_of_executed_units|stat::average_exec|stat::peak_rss|Done)|ERROR|SUMMARY|Test unit written" || true
  # libFuzzer's status is lost in the pipe: a crash leaves an artifact.
  if compgen -G "$work/crash-*" >/dev/null || compgen -G "$work/timeout-*" >/dev/null ||
     compgen -G "$work/oom-*" >/dev/null || compgen -G "$work/leak-*" >/dev/null; then
    echo "fuzz/run.sh: $t found a failing input: $(ls "$work"/{crash,timeout,oom,leak}-* 2>/dev/null)" >&2
    exit 1
  fi
done
