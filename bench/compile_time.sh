#!/usr/bin/env bash
# Benchmark (not a test): rslc compile time against the lift's size.
# For lifts from ~1e3 to ~1e7 lifted edges, prints the time to check and
# expand the lift (--emit=lifted) and the full compile to a shared library;
# their difference (code generation, optimisation, linking) must not grow
# with the number of lifted edges. Usage: bench/compile_time.sh [build dir]
set -euo pipefail
build=${1:-$(dirname "$0")/../build}
rslc="$build/bin/rslc"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/m.rsl" <<'RSL'
param n = 64;
module m { input x: 16; hidden a, b: relu; output y: 10; x -> a -> b -> y; }
lift l of m { size a, b: n; edges a -> b: sparse(degree = 32); }
RSL
now() { date +%s.%N; }
printf "%10s %12s %10s %10s %12s\n" copies lifted_edges expand_s compile_s codegen_s
for n in 32 320 3200 32000 320000; do
  t0=$(now); "$rslc" "$dir/m.rsl" -D n=$n --emit=lifted > "$dir/summary"; t1=$(now)
  "$rslc" "$dir/m.rsl" -D n=$n -o "$dir/m"; t2=$(now)
  edges=$(sed -n 's/.*lifted edges \([0-9]*\),.*/\1/p' "$dir/summary" | head -1)
  awk -v n=$n -v e=$edges -v a=$t0 -v b=$t1 -v c=$t2 \
    'BEGIN { printf "%10d %12d %10.3f %10.3f %12.3f\n", n, e, b-a, c-b, (c-b)-(b-a) }'
done
