#!/usr/bin/env bash
# Benchmark (not a test): rslc compile time (blueprint -> shared library)
# against the size of the lift and of the base graph. Kernels are emitted
# once per signature and the lift is only estimated at compile time, so the
# time should stay flat in both. Prints base edges, lifted edges and
# seconds per compile. Usage: bench/compile_time.sh [build dir]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
rslc="$build/bin/rslc"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
now() { date +%s.%N; }
# compile NAME FILE ARGS...: one line of figures.
compile() {
  local name=$1 file=$2; shift 2
  local base lifted t0 t1
  base=$("$rslc" "$file" --emit=checked "$@" | grep -- ' -> ' | grep -vc '^  edges ' || true)
  lifted=$("$rslc" "$file" --emit=lifted "$@" 2>/dev/null | sed -n 's/.*lifted edges \([0-9]*\),.*/\1/p' | head -1)
  t0=$(now); "$rslc" "$file" "$@" -o "$dir/lib" >/dev/null; t1=$(now)
  awk -v n="$name" -v b="$base" -v l="${lifted:-?}" -v a="$t0" -v c="$t1" \
    'BEGIN { printf "%-34s %11s %14s %9.3f\n", n, b, l, c - a }'
}
header() { printf "\n%s\n%-34s %11s %14s %9s\n" "$1" case base_edges lifted_edges seconds; }

cat > "$dir/m.rsl" <<'RSL'
param n = 64;
module m { input x: 16; hidden a, b: relu; output y: 10; x -> a -> b -> y; }
lift l of m { size a, b: n; edges a -> b: sparse(degree = 32); }
RSL
header "1. Lift size (4 base edges)"
for n in 32 3200 320000 3200000; do compile "n = $n" "$dir/m.rsl" -D n=$n; done

header "2. Deep sparse chain (examples/deep_mlp.rsl: 1024 copies per layer, in-degree 32)"
for L in 4 16 120 1000; do compile "L = $L" "$top/examples/deep_mlp.rsl" --lift=sparse -D L=$L -D n=1024 -D k=32; done
header "   Same signature, 10 to 100,000 base edges (64 copies, in-degree 8)"
for L in 10 100 1000 10000 100000; do compile "L = $L" "$top/examples/deep_mlp.rsl" --lift=sparse -D L=$L -D n=64 -D k=8; done

header "3. Tied-weight grid (examples/conv2d.rsl: 3x3 windows, 9 tied weight groups)"
for H in 4 8 16 28 64; do compile "H = W = $H" "$top/examples/conv2d.rsl" -D H=$H -D W=$H; done

header "4. Every example (default parameters, last lift)"
for f in "$top"/examples/*.rsl; do compile "$(basename "$f")" "$f"; done
