#!/usr/bin/python3
"""Seed 002's question in its own setting: how wide must a two-layer network
be for full-batch gradient descent from standard initialisation to fit N
samples, and how lazy is that training?

Setting (Song et al., "Subquadratic overparameterization for shallow neural
networks"): inputs uniform on the unit sphere S^(d-1), targets uniform in
[-1, 1] (independent of the inputs: memorisation), the two-layer gelu network
`two_layer` of examples/shallow.rsl with both layers trained, weights drawn
with variance s1^2 / d and s2^2 / n (separate layer scales), biases with
variance sb^2 (full support). Gradient descent is rslc-train's Euler
integrator on the full batch, its step 1/lambda from the sharpness at the
start (--auto-step). For each seed and each N, widths on a sqrt(2) grid are
tried in increasing order from the last N's critical width; the first that
reaches loss < epsilon within the step budget is n*(N). Fits
log n* = a log N + b over all (N, seed) points and gives a 95% interval
for the exponent a by resampling those points (bootstrap). Laziness: the
relative distance ||theta_T - theta_0|| / ||theta_0|| travelled by the run
at n*. Writes a CSV and a PNG.

    experiments/width_seed002.py --out results/seed002
"""
import argparse
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
    ap.add_argument("--samples", default="16,32,64,128,256,512", help="values of N")
    ap.add_argument("--d", type=int, default=16, help="input dimension")
    ap.add_argument("--s1", type=float, default=1.0, help="scale of the first layer")
    ap.add_argument("--s2", type=float, default=1.0, help="scale of the second layer")
    ap.add_argument("--sb", type=float, default=0.1, help="scale of the biases")
    ap.add_argument("--max-width", type=int, default=4096)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epsilon", type=float, default=1e-3)
    ap.add_argument("--steps", type=int, default=40000, help="step budget of each run")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    widths = sorted({round(2 ** (e / 2)) for e in range(2, 2 * int(math.log2(a.max_width)) + 1)})
    libs = {}

    def library(n):
        if n not in libs:
            libs[n] = rslcexp.compile_model(
                a.blueprint, os.path.join(a.out, f"standard_{n}"), lift="standard",
                defines={"d": a.d, "n": n, "k": min(8, n), "s1": a.s1, "s2": a.s2, "sb": a.sb})
        return libs[n]

    def data(N, seed):
        path = os.path.join(a.out, f"data_N{N}_s{seed}.npz")
        rng = np.random.default_rng([N, seed])
        x = rng.normal(size=(N, a.d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        np.savez(path, x=x, y=rng.uniform(-1, 1, size=(N, 1)))
        return path

    def run(N, n, seed):
        """Trains width n on (N, seed); returns (final metrics, laziness)."""
        stem = os.path.join(a.out, f"N{N}_n{n}_s{seed}")
        common = ["--data", data(N, seed), "--model-seed", seed, "--integrator", "euler"]
        last = rslcexp.finished(stem + ".jsonl", a.steps, a.epsilon)  # from an earlier sweep
        if last and os.path.exists(stem + "_init.npy") and os.path.exists(stem + "_end.npy"):
            seconds = last["wall_seconds"]
        else:
            rslcexp.train(library(n), stem + "_init.jsonl",
                          common + ["--steps", 0, "--export", stem + "_init.npy"])
            last, seconds = rslcexp.train(library(n), stem + ".jsonl", common + [
                "--auto-step", "--steps", a.steps, "--target-loss", a.epsilon,
                "--log-every", max(1, a.steps // 10), "--export", stem + "_end.npy"])
        start, end = np.load(stem + "_init.npy"), np.load(stem + "_end.npy")
        return last, float(np.linalg.norm(end - start) / np.linalg.norm(start)), seconds

    def scan(seed):
        rows, first = [], 0  # n*(N) grows with N: each scan starts at the last n*
        for N in (int(s) for s in a.samples.split(",")):
            found = None
            for i in range(first, len(widths)):
                n = widths[i]
                last, lazy, seconds = run(N, n, seed)
                loss = last["loss"] if last["loss"] is not None else math.inf
                print(f"seed {seed} N={N:5d} n={n:5d} loss={loss:.3g} steps={last['step']} "
                      f"{'fits' if loss < a.epsilon else ''}", flush=True)
                if loss < a.epsilon:
                    params, _ = rslcexp.sizes(library(n))
                    found = dict(seed=seed, samples=N, width=n, params=params, steps=last["step"],
                                 laziness=round(lazy, 5), seconds=round(seconds, 3))
                    first = i
                    break
            if found is None:
                print(f"seed {seed}: no width up to {a.max_width} fits {N} samples; stopping", flush=True)
                break
            rows.append(found)
        return rows

    rows = [r for rows in rslcexp.parallel(a.jobs, scan, range(1, a.seeds + 1)) for r in rows]
    rows.sort(key=lambda r: (r["samples"], r["seed"]))
    path = os.path.join(a.out, "width_seed002.csv")
    rslcexp.write_csv(path, rows)
    fit = exponent(rows)
    if fit:
        print(f"n* ~ N^{fit[0]:.2f} (95% interval {fit[1]:.2f} .. {fit[2]:.2f}), "
              f"laziness at n*: {min(r['laziness'] for r in rows):.3g} .. {max(r['laziness'] for r in rows):.3g}")
    plot(rows, fit, a, os.path.join(a.out, "width_seed002.png"))


def exponent(rows, resamples=2000):
    """Slope of log n* against log N, with a bootstrap 95% interval."""
    logN = np.log([r["samples"] for r in rows])
    logn = np.log([r["width"] for r in rows])
    if len(set(logN)) < 2:
        return None
    slope = np.polyfit(logN, logn, 1)[0]
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(resamples):
        pick = rng.integers(0, len(rows), len(rows))
        if len(set(logN[pick])) >= 2:
            boot.append(np.polyfit(logN[pick], logn[pick], 1)[0])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return slope, lo, hi


def plot(rows, fit, a, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    N = np.array([r["samples"] for r in rows], float)
    left.plot(N, [r["width"] for r in rows], "o", alpha=0.6,
              label="n*(N), each seed" + (f": slope {fit[0]:.2f} [{fit[1]:.2f}, {fit[2]:.2f}]" if fit else ""))
    ns = np.array(sorted(set(N)))
    left.plot(ns, ns / a.d, "k--", lw=1, label="N / d (counting bound)")
    left.plot(ns, ns ** 2 / ns[0] ** 2 * min(r["width"] for r in rows), "k:", lw=1, label="slope 2")
    left.set(xscale="log", yscale="log", xlabel="training samples N", ylabel="smallest width n* that fits")
    right.plot(N, [r["laziness"] for r in rows], "o", alpha=0.6, label="each seed at its n*")
    right.set(xscale="log", yscale="log", xlabel="training samples N",
              ylabel="||theta_T - theta_0|| / ||theta_0|| at n*")
    rslcexp.save_figure(fig, (left, right),
                        f"Seed 002 setting: sphere in R^{a.d}, gelu, full-batch GD, loss < {a.epsilon:g} "
                        f"within {a.steps} steps, {a.seeds} seeds", path)


if __name__ == "__main__":
    main()
