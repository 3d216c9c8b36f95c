#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled example, the
# paper's MLP R^{r,g,b} -> R^4 (examples/rgb_mlp.rsl), in the paper's witness
# setting: the base network with random weights labels random inputs, and a
# random sparse lift of it (1024 copies per hidden vertex, in-degree 16) is
# trained by gradient flow (RK4) until its training loss is below 1e-3.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
bin="$top/build/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "== rslc examples/rgb_mlp.rsl --emit=lifted --lift=sparse -D n=1024 -D k=16"
"$bin/rslc" "$top/examples/rgb_mlp.rsl" --emit=lifted --lift=sparse -D n=1024 -D k=16 | head -4
echo "== compile: the base network (teacher) and its random sparse lift (student)"
"$bin/rslc" "$top/examples/rgb_mlp.rsl" --module=rgb_mlp -o teacher
"$bin/rslc" "$top/examples/rgb_mlp.rsl" --lift=sparse -D n=1024 -D k=16 -o student
ls -l teacher.so student.so student.h
echo "== train the student by gradient flow (RK4) to loss < 1e-3"
"$bin/rslc-train" student.so --teacher teacher.so --samples 512 --test-fraction 0.2 \
  --integrator rk4 --step-size 0.05 --steps 2000 --target-loss 1e-3 --log-every 100 \
  --log "$work/log.jsonl" --checkpoint "$work/student.ckpt"
tail -1 "$work/log.jsonl"
