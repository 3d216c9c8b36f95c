#!/usr/bin/python3
"""Real data: a random sparse lift next to the dense network of the same
width, on scikit-learn's digits (8x8 images, 1797 samples, python3-sklearn)
and Fashion-MNIST (28x28, 60000 + 10000, dataset-fashion-mnist).

For each data set and each lift of examples/image_mlp.rsl: compile it with
rslc, train it with rslc-train (Adam, cross-entropy, mini-batches), and
report test accuracy, parameters, lifted edges, the sparsity of the middle
layer and the training time. Writes real_data.csv and a Markdown table.

    experiments/real_data.py --out results/real          # both data sets
    experiments/real_data.py --sets digits --out /tmp/r  # the quick one
"""
import argparse
import csv
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslcexp  # noqa: E402

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
FASHION = "/usr/share/datasets/fashion-mnist"


def idx(path):
    """An IDX file (gzip) as a numpy array."""
    with gzip.open(path) as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def data_sets(out, names):
    """name -> (train npz, test npz, pixels): inputs scaled to [0, 1]."""
    sets = {}
    if "digits" in names:
        a = np.loadtxt(DIGITS, delimiter=",")
        rng = np.random.default_rng(0)
        order = rng.permutation(len(a))  # the usual 75/25 split, fixed
        x, y = a[order, :-1] / 16.0, a[order, -1:]
        cut = int(0.75 * len(a))
        sets["digits"] = (x[:cut], y[:cut], x[cut:], y[cut:])
    if "fashion" in names:
        sets["fashion-mnist"] = (
            idx(f"{FASHION}/train-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0,
            idx(f"{FASHION}/train-labels-idx1-ubyte.gz").reshape(-1, 1).astype(float),
            idx(f"{FASHION}/t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0,
            idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz").reshape(-1, 1).astype(float))
    paths = {}
    for name, (xtr, ytr, xte, yte) in sets.items():
        train, test = os.path.join(out, f"{name}-train.npz"), os.path.join(out, f"{name}-test.npz")
        np.savez(train, x=xtr.astype(np.float32), y=ytr.astype(np.float32))
        np.savez(test, x=xte.astype(np.float32), y=yte.astype(np.float32))
        paths[name] = (train, test, xtr.shape[1], len(xtr), len(xte))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="digits,fashion")
    ap.add_argument("--n", type=int, default=512, help="width (copies per hidden vertex)")
    ap.add_argument("--k", type=int, default=32, help="sparse in-degree")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--step-size", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    blueprint = os.path.join(rslcexp.ROOT, "examples", "image_mlp.rsl")

    rows = []
    for name, (train, test, pixels, ntrain, ntest) in data_sets(a.out, a.sets.split(",")).items():
        steps = a.epochs * -(-ntrain // a.batch_size)
        for lift in ("dense", "sparse"):
            lib = rslcexp.compile_model(blueprint, os.path.join(a.out, f"{name}-{lift}"), lift=lift,
                                        defines={"d": pixels, "n": a.n, "k": a.k})
            params, edges = rslcexp.sizes(lib)
            last, seconds = rslcexp.train(lib, os.path.join(a.out, f"{name}-{lift}.jsonl"), [
                "--data", train, "--test-data", test, "--loss", "ce", "--integrator", "adam",
                "--step-size", a.step_size, "--batch-size", a.batch_size, "--steps", steps,
                "--log-every", steps], threads=a.threads)
            middle = a.k / a.n if lift == "sparse" else 1.0
            rows.append(dict(data=name, lift=lift, width=a.n, params=params, lifted_edges=edges,
                             middle_density=round(middle, 4), train_samples=ntrain, test_samples=ntest,
                             epochs=a.epochs, train_accuracy=round(last["accuracy"], 4),
                             test_accuracy=round(last["test_accuracy"], 4),
                             train_seconds=round(last["wall_seconds"], 1)))
            print(rows[-1], flush=True)
    with open(os.path.join(a.out, "real_data.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(a.out, "real_data.md"), "w") as f:
        f.write("| data | lift | width | parameters | h1->h2 density | test accuracy | train accuracy | "
                "training time |\n|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['data']} | {r['lift']} | {r['width']} | {r['params']:,} | {r['middle_density']:.3f} | "
                    f"{r['test_accuracy']:.4f} | {r['train_accuracy']:.4f} | {r['train_seconds']} s |\n")
    print(open(os.path.join(a.out, "real_data.md")).read())


if __name__ == "__main__":
    main()
