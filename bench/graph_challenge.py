#!/usr/bin/env python3
"""Benchmark (not a test): inference of the GraphChallenge Sparse DNN shape.

    bench/graph_challenge.py [--layers 120] [--neurons 1024] [--degree 32]
                             [--samples 60000] [--batch 1000] [--threads 1,2]
                             [--check]

Compiles bench/graph_challenge.rsl, sets the challenge's weights (1/16) and
bias (-0.3), and runs inference on Fashion-MNIST training images, padded
from 28x28 to 32x32 and binarised (the challenge uses MNIST the same way),
timing only the library's rslc_forward calls. Prints the rate in edges x
inputs per second, the challenge's metric: (layers x neurons x degree) x
samples / seconds. Connectivity is rslc's random lift of in-degree k, not
the challenge's RadiX-Net files (same shape and edge count).

--check compares every output with an independent numpy evaluation of the
same network, its structure read from `rslc --emit=lifted --print-edges`
(small networks only: the listing is capped at 100,000 lifted edges).
"""
import argparse
import ctypes
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("RSLC_BUILD", os.path.join(HERE, "..", "build"))
RSLC = os.path.join(BUILD, "bin", "rslc")
BLUEPRINT = os.path.join(HERE, "graph_challenge.rsl")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
BIAS = {1024: -0.3, 4096: -0.35, 16384: -0.4, 65536: -0.45}


def images(samples, neurons):
    """Fashion-MNIST images padded to a square of `neurons` pixels, binarised."""
    side = int(round(neurons ** 0.5))
    assert side * side == neurons and side >= 28, "neurons must be a square >= 28^2"
    with gzip.open(FASHION) as f:
        data = f.read()
    count = int.from_bytes(data[4:8], "big")
    raw = np.frombuffer(data, np.uint8, offset=16).reshape(count, 28, 28)
    raw = raw[np.arange(samples) % count]
    padded = np.zeros((samples, side, side), np.float32)
    lo = (side - 28) // 2
    padded[:, lo:lo + 28, lo:lo + 28] = raw > 127
    return padded.reshape(samples, neurons)


class Model:
    def __init__(self, path):
        self.lib = lib = ctypes.CDLL(path)
        lib.rslc_create.argtypes = [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
        lib.rslc_last_error.restype = ctypes.c_char_p
        lib.rslc_last_error.argtypes = [ctypes.c_void_p]
        for name in ("num_params", "input_size", "output_size"):
            getattr(lib, "rslc_" + name).restype = ctypes.c_int64
            getattr(lib, "rslc_" + name).argtypes = [ctypes.c_void_p]
        f32p = ctypes.POINTER(ctypes.c_float)
        lib.rslc_set_params.argtypes = [ctypes.c_void_p, f32p, ctypes.c_int64]
        lib.rslc_forward.argtypes = [ctypes.c_void_p, f32p, ctypes.c_int64, f32p]
        self.h = ctypes.c_void_p()
        self.check(lib.rslc_create(0, ctypes.byref(self.h)), None)

    def check(self, status, handle):
        if status:
            sys.exit("rslc: " + self.lib.rslc_last_error(handle).decode())

    @staticmethod
    def ptr(a):
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def set_params(self, p):
        self.check(self.lib.rslc_set_params(self.h, self.ptr(p), len(p)), self.h)

    def forward(self, x, y):
        self.check(self.lib.rslc_forward(self.h, self.ptr(x), x.shape[0], self.ptr(y)), self.h)


def challenge_params(layers, neurons, degree):
    """Parameter layout (docs/abi.md): weight groups in edge order (x->h[1],
    h[1]->h[2], ..., h[L]->y), then biases (h[1..L], y)."""
    sparse = np.full(layers * neurons * degree, 1 / 16, np.float32)
    readout = np.ones(neurons, np.float32)
    biases = np.full(layers * neurons, BIAS.get(neurons, -0.3), np.float32)
    return np.concatenate([sparse, readout, biases, np.zeros(1, np.float32)])


def reference(lib_args, x, layers, neurons):
    """The same network in numpy, structure from --print-edges."""
    listing = subprocess.run([RSLC, BLUEPRINT, "--emit=lifted", "--print-edges"] + lib_args,
                             check=True, capture_output=True, text=True).stdout
    rows = {}  # layer l (1-based) -> list of (source, target)
    for src, i, dst, j in re.findall(r"^  (\S+)#(\d+) -> h\[(\d+)\]#(\d+)$", listing, re.M):
        rows.setdefault(int(dst), []).append((int(i), int(j)))
    y = x.astype(np.float64)
    for layer in range(1, layers + 1):
        W = np.zeros((neurons, neurons))
        for i, j in rows[layer]:
            W[i, j] = 1 / 16
        y = np.clip(y @ W + BIAS.get(neurons, -0.3), 0, 32)
    return y.sum(axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=120)
    ap.add_argument("--neurons", type=int, default=1024)
    ap.add_argument("--degree", type=int, default=32)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)  # LIB THREADS (internal)
    a = ap.parse_args()
    lib_args = ["-D", f"L={a.layers}", "-D", f"n={a.neurons}", "-D", f"k={a.degree}"]
    x = images(a.samples, a.neurons)
    if a.worker:  # one timed run in a fresh process (its OpenMP team set by the env)
        model = Model(a.worker[0])
        model.set_params(challenge_params(a.layers, a.neurons, a.degree))
        y = np.empty((a.samples, 1), np.float32)
        seconds = 0.0
        for b0 in range(0, a.samples, a.batch):
            xb = np.ascontiguousarray(x[b0:b0 + a.batch])
            yb = np.empty((xb.shape[0], 1), np.float32)
            t0 = time.perf_counter()
            model.forward(xb, yb)
            seconds += time.perf_counter() - t0
            y[b0:b0 + a.batch] = yb
        np.save(a.worker[1], y)
        print(f"{seconds:.6f}")
        return
    edges = a.layers * a.neurons * a.degree
    with tempfile.TemporaryDirectory() as tmp:
        lib = os.path.join(tmp, "dnn")
        t0 = time.perf_counter()
        subprocess.run([RSLC, BLUEPRINT, "-o", lib] + lib_args, check=True)
        print(f"GraphChallenge sparse DNN shape: {a.layers} layers x {a.neurons} neurons, "
              f"{a.degree} in-edges each ({edges} edges), {a.samples} inputs, batch {a.batch}; "
              f"compiled in {time.perf_counter() - t0:.2f} s")
        outputs = None
        for threads in [int(t) for t in a.threads.split(",")]:
            out = os.path.join(tmp, f"y{threads}.npy")
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            res = subprocess.run([sys.executable, __file__, "--layers", str(a.layers),
                                  "--neurons", str(a.neurons), "--degree", str(a.degree),
                                  "--samples", str(a.samples), "--batch", str(a.batch),
                                  "--worker", lib + ".so", out],
                                 env=env, check=True, capture_output=True, text=True)
            seconds = float(res.stdout.split()[-1])
            y = np.load(out)
            categories = int(np.count_nonzero(y > 0))
            print(f"  {threads} thread(s): {seconds:8.3f} s, {edges * a.samples / seconds:.3e} "
                  f"edges x inputs / s; {categories} inputs with an active last layer")
            if outputs is not None and not np.array_equal(outputs, y):
                sys.exit("outputs differ between thread counts")
            outputs = y
        if a.check:
            ref = reference(lib_args, x, a.layers, a.neurons)
            ok = np.allclose(outputs, ref, rtol=1e-4, atol=1e-3)
            err = float(np.max(np.abs(outputs - ref)))
            print(f"{'ok' if ok else 'FAIL'} outputs = numpy reference (max abs difference {err:.3g})")
            sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
