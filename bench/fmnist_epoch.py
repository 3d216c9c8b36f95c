#!/usr/bin/python3
"""Benchmark (not a test): one Fashion-MNIST epoch through rslc-train against
PyTorch, in one run.

    bench/fmnist_epoch.py [--threads 1,2] [--epochs 1] [--n 512] [--k 32] [--kin 128]
                          [--out DIR]

The model: 784 -> n -> n -> 10, relu, softmax cross-entropy, Adam (learning
rate 1e-3), mini-batches of 128, inputs scaled to [0, 1], shuffled every
epoch. rslc (examples/image_mlp.rsl, trained by `rslc-train`, what users
run):
- dense: every layer fully connected;
- sparse: h1 -> h2 with in-degree k, the input layer dense;
- allsparse: also the input layer sparse, each h1 copy reading kin pixels.
PyTorch 1.13 (Debian's, OpenBLAS), written as an expert would: tensors
preloaded, the training set permuted once per epoch and cut into contiguous
batches, `nn.Linear` layers, gradient buffers reused (zero_grad without
set_to_none); masked variants keep the same in-degrees with a fixed random
mask per sparse layer, the weights zero outside it and their gradients
multiplied by it after backward.
Timed: the training loop of every epoch plus one pass over the test set
at the end (rslc: the log's wall_seconds, which covers rslc-train's steps
and its final evaluation; PyTorch: the same loop and pass, wall time), per
epoch; and the test accuracy after the last epoch. Each system at each thread count runs alone
in its own process; ratios are against PyTorch dense at its best thread
count.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("RSLC_BIN", os.path.join(ROOT, "build", "bin"))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
from real_data import FASHION, idx  # noqa: E402  (the IDX reader of the real-data experiment)


def prepare(out):
    """train.npz and test.npz (float32 inputs in [0, 1], class indices)."""
    paths = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        path = os.path.join(out, f"fmnist-{part}.npz")
        if not os.path.exists(path):
            x = idx(f"{FASHION}/{prefix}-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
            y = idx(f"{FASHION}/{prefix}-labels-idx1-ubyte.gz").reshape(-1, 1)
            np.savez(path, x=x.astype(np.float32), y=y.astype(np.float32))
        paths[part] = path
    return paths


def run_rslc(args, lift, threads, paths):
    lib = os.path.join(args.out, f"image_mlp-{lift}")
    subprocess.run([os.path.join(BIN, "rslc"), os.path.join(ROOT, "examples", "image_mlp.rsl"),
                    f"--lift={lift}", "-D", f"n={args.n}", "-D", f"k={args.k}", "-D",
                    f"kin={args.kin}", "-o", lib], check=True)
    steps = args.epochs * -(-60000 // 128)
    log = os.path.join(args.out, f"rslc-{lift}-{threads}.jsonl")
    subprocess.run([os.path.join(BIN, "rslc-train"), lib + ".so", "--data", paths["train"],
                    "--test-data", paths["test"], "--loss", "ce", "--integrator", "adam",
                    "--step-size", "1e-3", "--batch-size", "128", "--steps", str(steps),
                    "--log-every", "0", "--log", log, "--quiet", "--threads",
                    str(threads)], check=True)
    last = [json.loads(line) for line in open(log) if '"step"' in line][-1]
    return last["wall_seconds"] / args.epochs, last["test_accuracy"]


def torch_inner(args):
    """One PyTorch variant at one thread count; prints JSON."""
    import torch
    torch.set_num_threads(args.threads_one)
    torch.manual_seed(0)
    train, test = np.load(args.paths_train), np.load(args.paths_test)
    X, Y = torch.from_numpy(train["x"]), torch.from_numpy(train["y"].ravel().astype(np.int64))
    Xt, Yt = torch.from_numpy(test["x"]), torch.from_numpy(test["y"].ravel().astype(np.int64))
    n = args.n
    model = torch.nn.Sequential(torch.nn.Linear(784, n), torch.nn.ReLU(), torch.nn.Linear(n, n),
                                torch.nn.ReLU(), torch.nn.Linear(n, 10))
    masks = []
    gen = torch.Generator().manual_seed(1)

    def mask(rows, cols, degree):  # `degree` random inputs per row
        m = torch.zeros(rows, cols)
        for r in range(rows):
            m[r, torch.randperm(cols, generator=gen)[:degree]] = 1
        return m

    if args.variant in ("masked", "allmasked"):
        masks.append((model[2].weight, mask(n, n, args.k)))
    if args.variant == "allmasked":
        masks.append((model[0].weight, mask(n, 784, args.kin)))
    with torch.no_grad():
        for w, m in masks:
            w.mul_(m)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    seconds = 0.0
    for _ in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(X))
        Xs, Ys = X[perm], Y[perm]
        for b in range(0, len(X), 128):
            opt.zero_grad()
            loss = loss_fn(model(Xs[b:b + 128]), Ys[b:b + 128])
            loss.backward()
            for w, m in masks:
                w.grad.mul_(m)
            opt.step()
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        accuracy = (model(Xt).argmax(1) == Yt).float().mean().item()
    seconds += time.perf_counter() - start
    print(json.dumps({"seconds": seconds / args.epochs, "accuracy": accuracy}))


def run_torch(args, variant, threads, paths):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--torch-inner", variant,
           "--threads-one", str(threads), "--paths-train", paths["train"], "--paths-test",
           paths["test"], "--epochs", str(args.epochs), "--n", str(args.n), "--k", str(args.k),
           "--kin", str(args.kin)]
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["seconds"], r["accuracy"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--kin", type=int, default=128)
    ap.add_argument("--out", default="/tmp/rslc-fmnist")
    ap.add_argument("--torch-inner", dest="variant", help=argparse.SUPPRESS)
    ap.add_argument("--threads-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--paths-train", help=argparse.SUPPRESS)
    ap.add_argument("--paths-test", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        torch_inner(args)
        return
    os.makedirs(args.out, exist_ok=True)
    paths = prepare(args.out)
    threads = [int(t) for t in args.threads.split(",")]
    results = []  # (system, variant, threads, seconds, accuracy)
    for t in threads:
        for variant in ("dense", "masked", "allmasked"):
            results.append(("PyTorch", variant, t) + run_torch(args, variant, t, paths))
            print(results[-1], file=sys.stderr, flush=True)
        for lift in ("dense", "sparse", "allsparse"):
            results.append(("rslc", lift, t) + run_rslc(args, lift, t, paths))
            print(results[-1], file=sys.stderr, flush=True)
    best = min(r[3] for r in results if r[:2] == ("PyTorch", "dense"))
    print(f"784 -> {args.n} -> {args.n} -> 10, Adam, batch 128, {args.epochs} epoch(s); "
          f"k = {args.k} (h1 -> h2), kin = {args.kin} (x -> h1)\n")
    print("| system | variant | threads | seconds per epoch | test accuracy | "
          "PyTorch dense (best) / this |")
    print("|---|---|---|---|---|---|")
    for system, variant, t, s, acc in results:
        print(f"| {system} | {variant} | {t} | {s:.2f} | {acc:.4f} | {best / s:.2f} |")


if __name__ == "__main__":
    main()
