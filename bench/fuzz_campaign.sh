#!/usr/bin/env bash
# A fuzzing campaign (a benchmark, not a test): each libFuzzer target runs
# RUNS executions (default 10^7) on one core, or until SECONDS if given,
# from the seed corpora fuzz/run.sh uses; prints libFuzzer's final stats.
# Needs the sanitizer build (scripts/sanitize.sh). Figures: docs/errors.md.
#   bench/fuzz_campaign.sh [RUNS] [SECONDS] [TARGET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${RSLC_FUZZ_BIN:-$top/build-asan/bin}
runs=${1:-10000000}
seconds=${2:-0}
shift 2 || shift $# || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(DataFuzzer LiftFuzzer FrontEndFuzzer)
work=$(dirname "$bin")/fuzz-campaign
mkdir -p "$work/seeds"
find "$top/examples" "$top/tests" -name '*.rsl' -exec cp {} "$work/seeds/" \;
python3 "$top/fuzz/data_seeds.py" "$work/data-seeds"
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  seeds=()
  [ "$t" = FrontEndFuzzer ] && seeds=("$work/seeds")
  [ "$t" = DataFuzzer ] && seeds=("$work/data-seeds")
  echo "== $t: $runs runs$([ "$seconds" != 0 ] && echo " or ${seconds}s")"
  start=$(date +%s)
  OMP_NUM_THREADS=1 "$bin/$t" -runs="$runs" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=4096 -max_len=4096 -print_final_stats=1 -artifact_prefix="$work/" \
    "$work/$t" "${seeds[@]}" 2>&1 |
    grep -E "^(stat::number_of_executed_units|stat::average_exec|stat::new_units_added|stat::peak_rss|Done)|ERROR|SUMMARY|Test unit written" || true
  echo "   wall: $(( $(date +%s) - start )) s, corpus: $(ls "$work/$t" | wc -l) inputs"
done
