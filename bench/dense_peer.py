#!/usr/bin/python3
"""Benchmark (not a test): a fully connected layer, rslc against OpenBLAS.

    bench/dense_peer.py [--shapes 784x512,512x512,1024x1024,2048x2048] [--batch 64,128,256]
                        [--threads 1,2] [--reps 20]

The layer: `input x: K; output y; x -> y` with y lifted to M copies (an
M x K weight matrix and M biases, identity, each copy reading all of x: the
layout of an MLP's first layer), summed by the readout, compiled by rslc. The peer is OpenBLAS `sgemm`
through numpy (Debian's python3-numpy, linked to the same OpenBLAS that
PyTorch uses) on the same shapes, written as a numpy expert would: output
buffers reused (`np.matmul(..., out=)`), layouts chosen for sgemm.
Timed, median of REPS after warm-up, same thread count for both:
- forward: rslc_forward against Y = X W^T (B x K times K x M);
- backward: rslc_backward (weight gradient and input gradient) against
  dW = dY^T X and dX = dY W.
Prints milliseconds, GFLOP/s (2MKB per product) and rslc's FLOP rate as a
share of OpenBLAS's. Each thread count runs in its own process
(OMP_NUM_THREADS and OPENBLAS_NUM_THREADS are read at start).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("RSLC_BUILD", os.path.join(HERE, "..", "build"))


def median_ms(f, reps):
    # OpenBLAS's threads spin about 0.1 s after a call (THREAD_TIMEOUT) and
    # rslc's briefly: a pause first, so that neither side's threads still
    # hold a core when the other is timed.
    time.sleep(0.5)
    f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def inner(args):
    import numpy as np
    sys.path.insert(0, os.path.join(BUILD, "python"))
    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    os.environ.setdefault("RSLC_BIN", os.path.join(BUILD, "bin"))
    import rslc

    tmp = tempfile.mkdtemp(prefix="rslc-dense-")
    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        K, M = (int(v) for v in shape.split("x"))
        path = os.path.join(tmp, f"dense_{K}x{M}.rsl")
        with open(path, "w") as f:
            f.write(f"module dense {{ input x: {K}; output y; x -> y; }}\n"
                    f"lift wide of dense {{ size y: {M}; readout: sum; }}\n")
        model = rslc.Model(rslc.compile(path))
        W = rng.standard_normal((M, K)).astype(np.float32)
        for B in (int(b) for b in args.batch.split(",")):
            X = rng.standard_normal((B, K)).astype(np.float32)
            dY = rng.standard_normal((B, M)).astype(np.float32)
            dy = rng.standard_normal((B, 1)).astype(np.float32)  # rslc: dL/d(readout)
            Y = np.empty((B, M), np.float32)
            dW = np.empty((M, K), np.float32)
            dX = np.empty((B, K), np.float32)
            flops = 2.0 * M * K * B
            # rslc through the ABI (its inputs and outputs are sample-major too)
            y = np.empty((B, 1), np.float32)
            dx = np.empty((B, K), np.float32)
            xp, yp = model._ptr(X), model._ptr(y)
            dyp, dxp = model._ptr(dy), model._ptr(dx)
            h, lib = model._live(), model._lib
            rf = median_ms(lambda: lib.rslc_forward(h, xp, B, yp), args.reps)
            rb = median_ms(lambda: lib.rslc_backward(h, dyp, dxp), args.reps)
            # OpenBLAS sgemm through numpy, buffers reused
            WT = W.T
            pf = median_ms(lambda: np.matmul(X, WT, out=Y), args.reps)
            pb = median_ms(lambda: (np.matmul(dY.T, X, out=dW), np.matmul(dY, W, out=dX)),
                           args.reps)
            for name, r, p, n in (("forward", rf, pf, 1), ("backward", rb, pb, 2)):
                print(f"| {K}x{M} | {B} | {args.threads} | {name} | {r:.3f} | {p:.3f} | "
                      f"{n * flops / r / 1e6:.1f} | {n * flops / p / 1e6:.1f} | {p / r:.2f} |",
                      flush=True)
        model.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="784x512,512x512,1024x1024,2048x2048")
    ap.add_argument("--batch", default="64,128,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(args)
        return
    print("| K x M | batch | threads | pass | rslc ms | OpenBLAS ms | rslc GFLOP/s "
          "| OpenBLAS GFLOP/s | rslc / OpenBLAS |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for t in args.threads.split(","):
        # rslc's threads wait as the Python package sets them (a short spin)
        env = dict(os.environ, OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t)
        env.pop("OMP_WAIT_POLICY", None)
        env.pop("GOMP_SPINCOUNT", None)
        cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--inner", "--shapes", args.shapes,
               "--batch", args.batch, "--threads", t, "--reps", str(args.reps)]
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
