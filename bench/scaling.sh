#!/usr/bin/env bash
# Time and memory of one training step against the number of lifted edges
# (docs/performance.md, "Scaling"): bench/reference.rsl with d = 16 inputs,
# k = 32, batch 32, for n = 2^12 .. 2^MAX (default 22, about 15 GiB).
#   bench/scaling.sh [MAX_LOG2_N] > scaling.txt
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf "%8s %12s %12s %12s %12s %12s\n" n lifted_edges params step_ms infer_ms peak_MiB
for ((e = 12; e <= ${1:-22}; e += 2)); do
  n=$((1 << e))
  "$bin/rslc" "$top/bench/reference.rsl" --lift=sparse -D n=$n -D k=32 -D d=16 -o "$work/m"
  out=$("$bin/bench_train_step" "$work/m.so" 32 3)
  edges=$(sed -n 's/.*: \([0-9]*\) lifted edges, \([0-9]*\) parameters.*/\1 \2/p' <<<"$out")
  step=$(awk '/SGD step/ {print $3}' <<<"$out")
  infer=$(awk '/inference/ {print $2}' <<<"$out")
  peak=$(awk '/peak resident/ {print $3}' <<<"$out")
  printf "%8d %12d %12d %12s %12s %12s\n" $n ${edges% *} ${edges#* } "$step" "$infer" "$peak"
  rm -f "$work"/m.*
done
