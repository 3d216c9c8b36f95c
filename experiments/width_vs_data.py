#!/usr/bin/python3
"""Width versus data size: the smallest width that fits N random samples.

For each number of training samples N, inputs x ~ N(0, I_d) and targets
y ~ N(0, 1) drawn independently (no structure to learn: pure memorisation),
the widths of a geometric grid are tried in increasing order, each trained
full-batch until the training loss is below epsilon or the step budget is
spent; the smallest width that gets there (for every seed tried) is N's
critical width n*(N). Two networks (examples/shallow.rsl): `dense`, the
two-layer network of width n, and `sparse`, two hidden layers of n copies
with a random sparse middle edge of in-degree k. Fits log n* = a log N + b
and reports the exponent a (a < 2: sub-quadratic over-parameterisation; a ~ 1:
parameters proportional to samples). Writes a CSV and a PNG.

    experiments/width_vs_data.py --out results/width
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslcexp  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blueprint", default=os.path.join(rslcexp.ROOT, "examples", "shallow.rsl"))
    ap.add_argument("--samples", default="16,32,64,128,256,512,1024", help="values of N")
    ap.add_argument("--d", type=int, default=8, help="input dimension")
    ap.add_argument("--k", type=int, default=8, help="sparse in-degree (capped at n)")
    ap.add_argument("--max-width", type=int, default=2048)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epsilon", type=float, default=1e-3)
    ap.add_argument("--integrator", default="adam")
    ap.add_argument("--step-size", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    widths = sorted({round(2 ** (e / 2)) for e in range(2, 2 * int(math.log2(a.max_width)) + 1)})
    libs = {}

    def library(kind, n):
        if (kind, n) not in libs:
            libs[kind, n] = rslcexp.compile_model(
                a.blueprint, os.path.join(a.out, f"{kind}_{n}"), lift=kind,
                defines={"d": a.d, "n": n, "k": min(a.k, n)})
        return libs[kind, n]

    rows = []
    for kind in ("dense", "sparse"):
        start = 0  # n*(N) grows with N: resume the scan where the last N stopped
        for N in (int(s) for s in a.samples.split(",")):
            rng = np.random.default_rng(N)
            data = os.path.join(a.out, f"data_{N}.npz")
            np.savez(data, x=rng.normal(size=(N, a.d)), y=rng.normal(size=(N, 1)))
            found = None
            for i in range(start, len(widths)):
                n = widths[i]
                lib = library(kind, n)

                def one(seed):
                    return rslcexp.train(lib, os.path.join(a.out, f"{kind}_N{N}_n{n}_s{seed}.jsonl"), [
                        "--data", data, "--model-seed", seed, "--integrator", a.integrator,
                        "--step-size", a.step_size, "--steps", a.steps, "--target-loss", a.epsilon,
                        "--log-every", 1000])
                runs = rslcexp.parallel(a.jobs, one, range(1, a.seeds + 1))
                losses = [r[0]["loss"] if r[0]["loss"] is not None else math.inf for r in runs]
                ok = all(l < a.epsilon for l in losses)
                print(f"{kind:6s} N={N:5d} n={n:5d} losses={['%.2g' % l for l in losses]} "
                      f"{'fits' if ok else ''}", flush=True)
                if ok:
                    params, _ = rslcexp.sizes(lib)
                    found = dict(kind=kind, samples=N, width=n, params=params,
                                 seconds=round(max(r[1] for r in runs), 3))
                    start = i
                    break
            if found is None:
                print(f"{kind}: no width up to {a.max_width} fits {N} samples; stopping", flush=True)
                break
            rows.append(found)

    path = os.path.join(a.out, "width_vs_data.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")
    fits = {}
    for kind in ("dense", "sparse"):
        r = [x for x in rows if x["kind"] == kind]
        if len(r) >= 2:
            fits[kind] = {
                "width": np.polyfit(np.log([x["samples"] for x in r]), np.log([x["width"] for x in r]), 1)[0],
                "params": np.polyfit(np.log([x["samples"] for x in r]), np.log([x["params"] for x in r]), 1)[0]}
            print(f"{kind}: n* ~ N^{fits[kind]['width']:.2f}, parameters ~ N^{fits[kind]['params']:.2f}")
    plot(rows, fits, a, os.path.join(a.out, "width_vs_data.png"))


def plot(rows, fits, a, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in ("dense", "sparse"):
        r = [x for x in rows if x["kind"] == kind]
        if not r:
            continue
        label = kind + (f" (slope {fits[kind]['width']:.2f})" if kind in fits else "")
        left.plot([x["samples"] for x in r], [x["width"] for x in r], "o-", label=label)
        label = kind + (f" (slope {fits[kind]['params']:.2f})" if kind in fits else "")
        right.plot([x["samples"] for x in r], [x["params"] for x in r], "o-", label=label)
    ns = np.array(sorted({x["samples"] for x in rows}), float)
    right.plot(ns, ns, "k--", lw=1, label="parameters = N")
    left.set(xscale="log", yscale="log", xlabel="training samples N", ylabel="smallest width n* that fits")
    right.set(xscale="log", yscale="log", xlabel="training samples N", ylabel="parameters at n*")
    rslcexp.save_figure(fig, (left, right),
                        f"Random data in R^{a.d}: smallest width reaching loss < {a.epsilon:g} "
                        f"({a.integrator}, {a.steps} steps, {a.seeds} seeds)", path)


if __name__ == "__main__":
    main()
