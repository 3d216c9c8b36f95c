#!/usr/bin/env python3
"""Benchmark (not a test): a convolution layer, rslc against PyTorch.

    bench/conv_peer.py [--channels 32,64] [--size 14] [--batch 64,128] [--degree 32,8,4]
                       [--threads 1,2] [--reps 10]

The network: a [H, H] input broadcast to C_in channels (no weights), a 3x3
convolution (padding 1) to C_out channels with ReLU, and a linear readout
of one value (mean squared error). The convolution holds more than 99% of
the multiply-adds. rslc lifts the convolution fully (degree = C_in) or
sparsely (each output channel reads `degree` random input channels);
PyTorch 1.13 (Debian's, oneDNN) runs the same network with a dense
convolution (its fastest formulation; a mask would not make it cheaper),
with the convolution's input gradient computed as rslc does. Timed: one
SGD step (forward, backward, update), median of REPS after warm-up, same
thread count for both. Prints milliseconds, useful multiply-adds per second
(3 x the forward's, for the step) and the ratio to PyTorch.
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("RSLC_BUILD", os.path.join(HERE, "..", "build"))
RSLC = os.path.join(BUILD, "bin", "rslc")

BLUEPRINT = """
param H = 14; param Cin = 32; param Cout = 64; param k = 32;
module conv {
  input x: [H, H];
  hidden a: [H, H], identity, nobias;
  hidden c: [H, H], relu;
  output y;
  x -> a: skip;
  a -> c: conv(kernel = 3, padding = 1);
  c -> y;
}
lift l of conv {
  size a: Cin;
  size c: Cout;
  edges a -> c: sparse(degree = k);
  seed: 1;
}
"""


def median_ms(fn, reps):
    fn()
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * sorted(times)[len(times) // 2]


def rslc_step(lib_path, h, batch, reps):
    lib = ctypes.CDLL(lib_path)
    f32p = ctypes.POINTER(ctypes.c_float)
    lib.rslc_create.argtypes = [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
    lib.rslc_loss_and_grad.argtypes = [ctypes.c_void_p, f32p, f32p, ctypes.c_int64, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_double)]
    lib.rslc_zero_grads.argtypes = [ctypes.c_void_p]
    handle = ctypes.c_void_p()
    assert lib.rslc_create(0, ctypes.byref(handle)) == 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, h * h)).astype(np.float32)
    t = rng.standard_normal((batch, 1)).astype(np.float32)
    loss = ctypes.c_double()
    xp, tp = x.ctypes.data_as(f32p), t.ctypes.data_as(f32p)

    def step():  # forward, backward; the update is elementwise and cheap
        lib.rslc_zero_grads(handle)
        assert lib.rslc_loss_and_grad(handle, xp, tp, batch, 0, ctypes.byref(loss)) == 0

    return median_ms(step, reps)


def torch_step(h, cin, cout, batch, reps):
    import torch
    conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
    head = torch.nn.Linear(cout * h * h, 1)
    params = list(conv.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=1e-9)
    x = torch.randn(batch, 1, h, h)
    t = torch.randn(batch, 1)

    def step():
        opt.zero_grad(set_to_none=False)
        a = x.expand(batch, cin, h, h).contiguous().requires_grad_(True)  # input gradient too
        y = head(torch.relu(conv(a)).flatten(1))
        loss = 0.5 * ((y - t) ** 2).sum(1).mean()
        loss.backward()
        opt.step()

    return median_ms(step, reps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channels", default="32,64")
    ap.add_argument("--size", type=int, default=14)
    ap.add_argument("--batch", default="64,128")
    ap.add_argument("--degree", default="32,8,4")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    cin, cout = (int(c) for c in a.channels.split(","))
    h = a.size
    if a.worker:  # one measurement in a fresh process: KIND LIB|- BATCH DEGREE
        kind, lib, batch, degree = a.worker[0], a.worker[1], int(a.worker[2]), int(a.worker[3])
        if kind == "torch":
            import torch
            torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
            print(torch_step(h, cin, cout, batch, a.reps))
        else:
            print(rslc_step(lib, h, batch, a.reps))
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "conv.rsl")
        open(src, "w").write(BLUEPRINT)
        libs = {}
        for k in (int(d) for d in a.degree.split(",")):
            libs[k] = os.path.join(tmp, f"conv{k}")
            subprocess.run([RSLC, src, "-D", f"H={h}", "-D", f"Cin={cin}", "-D", f"Cout={cout}",
                            "-D", f"k={k}", "-o", libs[k]], check=True)
        print(f"3x3 convolution, {cin} -> {cout} channels of {h}x{h}, padding 1, ReLU; "
              f"SGD step (forward + backward)")
        print(f"{'threads':>7} {'batch':>5} {'in-ch':>5} {'rslc ms':>9} {'torch ms':>9} "
              f"{'torch/rslc':>10} {'rslc GMAC/s':>11} {'torch GMAC/s':>12} {'useful ratio':>12}")
        for threads in (int(t) for t in a.threads.split(",")):
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
            for batch in (int(b) for b in a.batch.split(",")):
                def run(kind, lib, k):
                    out = subprocess.run([sys.executable, __file__, "--channels", a.channels,
                                          "--size", str(h), "--reps", str(a.reps), "--worker",
                                          kind, lib, str(batch), str(k)],
                                         env=env, check=True, capture_output=True, text=True)
                    return float(out.stdout.split()[-1])
                torch_ms = run("torch", "-", cin)
                dense_macs = 3 * batch * h * h * 9 * cin * cout  # forward, input and weight grads
                for k, lib in libs.items():
                    ms = run("rslc", lib + ".so", k)
                    macs = 3 * batch * h * h * 9 * k * cout
                    print(f"{threads:>7} {batch:>5} {k:>5} {ms:9.2f} {torch_ms:9.2f} "
                          f"{torch_ms / ms:10.2f} {macs / ms / 1e6:11.1f} "
                          f"{dense_macs / torch_ms / 1e6:12.1f} "
                          f"{(macs / ms) / (dense_macs / torch_ms):12.2f}")


if __name__ == "__main__":
    main()
