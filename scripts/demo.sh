#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled example: the
# paper's MLP R^{r,g,b} -> R^4: checked and flattened, then lifted.
# (Compiling to a shared library and training arrive with the code
# generator and the runtime; this script grows with them.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
rslc="$top/build/bin/rslc"
echo "== rslc examples/rgb_mlp.rsl --emit=checked -D n=128"
"$rslc" "$top/examples/rgb_mlp.rsl" --emit=checked -D n=128
echo
echo "== rslc examples/rgb_mlp.rsl --emit=lifted --lift=sparse -D n=4096 -D k=32"
"$rslc" "$top/examples/rgb_mlp.rsl" --emit=lifted --lift=sparse -D n=4096 -D k=32
