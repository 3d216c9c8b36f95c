#!/usr/bin/env bash
# Installs what the PyTorch peers of the benchmarks and experiments need
# beyond scripts/setup.sh (which installs python3-torch): OpenBLAS rather
# than the reference BLAS.
set -euo pipefail
for p in libopenblas0-pthread; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done
