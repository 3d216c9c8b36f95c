#!/usr/bin/env bash
# Sets everything up and runs a quick version of the benchmarks of
# docs/performance.md (about 8 minutes): the machine's limits, one training
# step of the reference network against PyTorch, the lift expansion,
# compile times, dispatch, a dense layer against OpenBLAS, a Fashion-MNIST
# epoch and a convolution layer against PyTorch; `full` adds the whole
# sweep, the scaling curve and the GraphChallenge sparse DNN shape.
#   scripts/bench.sh          quick
#   scripts/bench.sh full     the whole sweep and the scaling curve (an hour)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/install_peers.sh"
bin=$top/build/bin
out=$top/results/bench
mkdir -p "$out"
"$top/bench/compile_time.sh" | tee "$out/compile_time.txt"
"$top/bench/dispatch.sh" | tee "$out/dispatch.txt"
if [ "${1:-}" = full ]; then
  /usr/bin/python3 "$top/bench/sweep.py" --out "$out"
  "$top/bench/scaling.sh" | tee "$out/scaling.txt"
  "$bin/bench_lift_expand" 1e8
  /usr/bin/python3 "$top/bench/conv_peer.py" | tee "$out/conv_peer.txt"
  /usr/bin/python3 "$top/bench/dense_peer.py" --threads 1,2 --reps 30 | tee "$out/dense_peer.txt"
  /usr/bin/python3 "$top/bench/fmnist_epoch.py" --threads 1,2 --out "$out/fmnist" | tee "$out/fmnist_epoch.txt"
  /usr/bin/python3 "$top/bench/graph_challenge.py" | tee "$out/graph_challenge.txt"
else
  /usr/bin/python3 "$top/bench/sweep.py" --n 4096 --k 32 --batch 1,256 --threads 1,2 --reps 3 --out "$out"
  "$bin/bench_lift_expand" 1e7
  /usr/bin/python3 "$top/bench/conv_peer.py" --batch 128 --reps 5 | tee "$out/conv_peer.txt"
  /usr/bin/python3 "$top/bench/dense_peer.py" --shapes 784x512 --batch 128 --reps 10 | tee "$out/dense_peer.txt"
  /usr/bin/python3 "$top/bench/fmnist_epoch.py" --threads 1 --out "$out/fmnist" | tee "$out/fmnist_epoch.txt"
fi
