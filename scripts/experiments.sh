#!/usr/bin/env bash
# Sets everything up and runs the experiments of docs/experiments.md at
# the sizes reported there (a few hours on 2 cores; section 1's larger
# runs, listed with their commands in docs/experiments.md, are not here),
# writing CSVs and PNGs under results/ (then copy them to docs/figures/ to
# update the report).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/install_peers.sh"
out=${1:-$top/results}
"$top/experiments/convergence.py" --n 1,2,4,8,16,32,64,128,256,512 --dense-max 64 \
  --seeds 10 --horizon 2000 --max-steps 1e6 --tangent-n 4,64,512 --out "$out/convergence"
"$top/experiments/convergence.py" --kinds deg8 --n 1024,2048,4096 --seeds 10 --horizon 2000 \
  --tangent-n 1024 --out "$out/convergence-large"
"$top/experiments/convergence.py" --kinds deg8 --readouts none,mean,sqrt,sum --n 4,64,256 \
  --seeds 3 --check-seeds 0 --horizon 2000 --tangent-n 0 --out "$out/convergence-readouts"
"$top/experiments/flow_accuracy.py" --out "$out/flow_accuracy"
"$top/experiments/width_vs_data.py" --samples 16,32,64,128,256,512,1024,2048 \
  --max-width 2048 --seeds 2 --steps 3000 --out "$out/width"
"$top/experiments/width_seed002.py" --seeds 3 --max-width 1024 --out "$out/seed002"
"$top/experiments/real_data.py" --epochs 10 --out "$out/real"
"$top/experiments/architectures.py" --epochs 3 --threads 1,2 --out "$out/architectures"
"$top/experiments/lu_pattern.py" --out "$out/lu"
"$top/experiments/tangent.py" --out "$out/tangent"
"$top/experiments/tangent.py" --n 16,64,256 --times 0,10,100,1000 --out "$out/tangent-flow"
"$top/experiments/tangent.py" --blueprint "$top/examples/transformer.rsl" --witness transformer \
  --lifts heads --defines "H=n,F=4*n" --n 1,4,16 --samples 256 --seeds 1 --times 0,10 \
  --out "$out/tangent-transformer"
"$top/experiments/tangent.py" --blueprint "$top/examples/cnn.rsl" --witness cnn --lifts dense,sparse \
  --defines "C1=n,C2=2*n,k=min(4,n)" --n 2,8 --samples 1024 --seeds 1 --times 0,10 \
  --out "$out/tangent-cnn"
