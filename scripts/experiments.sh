#!/usr/bin/env bash
# Sets everything up and runs the six experiments of docs/experiments.md at
# the sizes reported there (about 72 minutes on 2 cores), writing CSVs and
# PNGs under results/ (then copy them to docs/figures/ to update the report).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/install_peers.sh"
out=${1:-$top/results}
"$top/experiments/convergence.py" --n 1,2,4,8,16,32,64,128,256,512,1024,2048,4096 \
  --dense-n 1,2,4,8,16,32,64,128,256,512 --degree 8 --seeds 8 --epsilon 1e-4 \
  --integrator euler --step-size 0.05 --steps 10000 --out "$out/convergence"
"$top/experiments/width_vs_data.py" --samples 16,32,64,128,256,512,1024,2048 \
  --max-width 2048 --seeds 2 --steps 3000 --out "$out/width"
"$top/experiments/real_data.py" --epochs 10 --out "$out/real"
"$top/experiments/architectures.py" --epochs 3 --threads 1,2 --out "$out/architectures"
"$top/experiments/lu_pattern.py" --out "$out/lu"
"$top/experiments/tangent.py" --out "$out/tangent"
