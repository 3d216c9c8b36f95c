#!/usr/bin/env bash
# Installs every Debian package rslc needs (idempotent: skips what is present),
# then configures and builds the project with CMake + Ninja into build/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  llvm-19-dev llvm-19-tools clang-19 libomp-19-dev   # LLVM codegen, lit/FileCheck, OpenMP
  libantlr4-runtime-dev antlr4                      # grammar tool + C++ runtime
  libzstd-dev zlib1g-dev libedit-dev libxml2-dev libcurl4-openssl-dev # LLVM link deps
  cmake ninja-build libgtest-dev                  # build, unit tests
  python3 python3-numpy python3-pytest              # lit, numerical references, the Python package's tests
  nlohmann-json3-dev                                # rslc_describe's JSON (runtime)
  python3-torch                                     # the Python package's PyTorch modules and their tests
  libclang-rt-19-dev                                # libFuzzer, ASan/UBSan runtimes
  libopenmpi-dev openmpi-bin                        # optional data-parallel training
  python3-matplotlib python3-sklearn                # experiment plots, digits data
  dataset-fashion-mnist                             # Fashion-MNIST for the real-data run
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi

cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build" -j2
