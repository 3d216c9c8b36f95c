#!/usr/bin/env bash
# Benchmark (not a test): what grouped execution costs per base edge.
# Step time (SGD, batch 64) of a 120-layer sparse chain (1024 copies per
# layer, in-degree 32: 3.9M lifted edges in 121 base edges and 120 levels)
# against a chain with about the same lifted edges in 5 base edges (4
# layers of 30720 copies), on 1 and 2 threads; then, where `perf` works,
# where forward + backward of the 120-layer chain (no trainer) spend their
# time, in CPU samples of all threads: the generated kernels (with the
# exp they call), the runtime's orchestration (task loops, zero fills), the
# OpenMP runtime (waiting at the level
# barriers), the trainer (parameter updates and copies, issue 17's lean
# trainer), and the rest. Dispatch overhead = orchestration + OpenMP. Usage: bench/dispatch.sh [build dir]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/bin/rslc" "$top/examples/deep_mlp.rsl" --lift=sparse -D L=120 -D n=1024 -D k=32 -o "$dir/deep"
"$build/bin/rslc" "$top/examples/deep_mlp.rsl" --lift=sparse -D L=4 -D n=30720 -D k=32 -o "$dir/few"
for t in 1 2; do
  for m in deep few; do
    echo "== $m, $t thread(s)"
    OMP_NUM_THREADS=$t "$build/bin/bench_train_step" "$dir/$m.so" 64 20
  done
done
if command -v perf >/dev/null && perf record -o "$dir/probe" true >/dev/null 2>&1; then
  for t in 1 2; do
    OMP_NUM_THREADS=$t perf record -q -o "$dir/perf.data" "$build/bin/bench_train_step" "$dir/deep.so" 64 100 mse grad >/dev/null 2>&1
    echo "== where forward + backward of the 120-layer chain spend their time, $t thread(s) (perf samples)"
    perf report -i "$dir/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
      awk '/^ +[0-9.]+%/ { p = $1 + 0; dso = $2; sym = "";
             for (i = 4; i <= NF; ++i) sym = sym " " $i;
             if (sym ~ /rslc_(fwd|wgrad|dgrad|act|actgrad)_|expf/) k += p;
             else if (dso ~ /gomp|libomp/) o += p;
             else if (sym ~ /rt::train|Double|lossGrad|batchLoss|memmove/) tr += p;
             else if (sym ~ /Model<.*>::(forward|backward|sum|activation)|memset/) r += p;
             else x += p }
           END { printf "  kernels %.1f%%, trainer %.1f%%, orchestration %.1f%%, OpenMP %.1f%%, other %.1f%%\n", k, tr, r, o, x }'
  done
fi
