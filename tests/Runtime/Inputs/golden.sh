#!/usr/bin/env bash
# Prints, for short training runs of every example: name, lifted structure
# hash, and the first 16 hex digits of the SHA-256 of the trained parameters
# (rslc-train --export). Kernels target x86-64-v3 so the figures do not
# depend on the machine beyond that level. Usage: golden.sh BIN EXAMPLES
set -euo pipefail
bin=$1; ex=$2
run() { # name file lift module -D... ; rslc-train options in $TRAIN
  local name=$1 file=$2 lift=$3 module=$4; shift 4
  "$bin/rslc" "$ex/$file" --lift=$lift "$@" --target-cpu=x86-64-v3 -o $name >/dev/null
  "$bin/rslc" "$ex/$file" --module=$module "$@" --target-cpu=x86-64-v3 -o $name.teacher >/dev/null
  h=$("$bin/rslc" "$ex/$file" --lift=$lift "$@" --emit=lifted | grep -o 'structure hash 0x[0-9a-f]*')
  "$bin/rslc-train" $name.so --teacher $name.teacher.so --samples 64 $TRAIN --export $name.npy --quiet
  echo "$name ${h#structure hash } $(sha256sum $name.npy | cut -c1-16)"
}
TRAIN="--integrator adam --step-size 0.01 --batch-size 16 --steps 20" run rgb_adam rgb_mlp.rsl sparse rgb_mlp -D n=64
TRAIN="--integrator rk4 --step-size 0.05 --steps 10" run rgb_rk4 rgb_mlp.rsl sparse rgb_mlp -D n=64
TRAIN="--integrator sgd --step-size 0.01 --batch-size 16 --steps 20" run deep_sparse deep_mlp.rsl sparse deep_mlp -D n=64 -D k=8
TRAIN="--integrator euler --step-size 0.05 --steps 10" run deep_dense deep_mlp.rsl dense deep_mlp -D n=32
TRAIN="--integrator adam --step-size 0.01 --batch-size 16 --steps 20" run resmlp resmlp.rsl sparse resmlp -D L=3 -D n=32 -D k=4
TRAIN="--integrator adam --step-size 0.01 --batch-size 16 --steps 20" run conv2d conv2d.rsl channels conv2d -D H=4 -D W=4 -D C=4
TRAIN="--integrator adaptive --step-size 0.01 --steps 10" run attention gated_attention.rsl heads gated_attention -D T=2 -D D=4 -D heads=2
