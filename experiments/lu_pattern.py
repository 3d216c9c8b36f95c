#!/usr/bin/python3
"""Seed 003's LU pattern beside its dense control, and the divergence
detector on both and on converging lifts.

examples/lu_pattern.rsl: `lu` computes y = L U x with U upper and L lower
triangular 2 x 2 factors (identity activations, no biases); `dense` has
both factors full. Both are fitted to the swap matrix, y = (x2, x1), on
64 Gaussian points, by gradient flow (explicit Euler, double precision,
step h, rslc-train). The swap matrix has no LU factorisation but is a limit
of products L U, so the `lu` fit has no optimum: its loss falls towards 0
while |theta| grows; the dense control reaches the exact solution. Reports
the loss and |theta| at flow times 10, 100, 1000, ... and --time, the
slope of log |theta| against log t over the last quarter-to-end of the
run, and when rslc-train's divergence detector (runtime/Integrators.cpp)
first fired, if it did. As converging controls, random sparse and dense
lifts of examples/rgb_mlp.rsl fitted to their witness by the same flow
must leave the detector quiet. Writes lu_pattern.csv and lu_pattern.md.

    experiments/lu_pattern.py --out results/lu                 # t up to 4000
    experiments/lu_pattern.py --time 100 --out /tmp/lu         # quick
"""
import argparse
import csv
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslcexp  # noqa: E402


def logs(path):
    return [d for d in (json.loads(line) for line in open(path)) if "step" in d]


def slope(rows):
    """Least-squares slope of log |theta| against log t over t in [T/4, T]."""
    T = rows[-1]["flow_time"]
    pts = [(math.log(r["flow_time"]), math.log(r["param_norm"])) for r in rows
           if r["flow_time"] >= T / 4 and r["flow_time"] > 0]
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx > 0 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=4000, help="flow time of each run")
    ap.add_argument("--h", type=float, default=0.01, help="Euler step")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    steps = int(round(a.time / a.h))
    log_every = max(1, steps // 400)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.samples, 2))
    data = os.path.join(a.out, "swap.npz")
    np.savez(data, x=x, y=x[:, ::-1].copy())

    runs = []  # (name, library, rslc-train arguments)
    blueprint = os.path.join(rslcexp.ROOT, "examples", "lu_pattern.rsl")
    for module in ("lu", "dense"):
        lib = rslcexp.compile_model(blueprint, os.path.join(a.out, module), module=module,
                                    precision="f64")
        runs.append((f"{module} (swap matrix)", lib, ["--data", data]))
    # Converging controls: lifts of the paper's MLP fitted to their witness.
    rgb = os.path.join(rslcexp.ROOT, "examples", "rgb_mlp.rsl")
    teacher = rslcexp.compile_model(rgb, os.path.join(a.out, "witness"), module="rgb_mlp",
                                    precision="f64")
    for lift in ("wide", "sparse"):
        lib = rslcexp.compile_model(rgb, os.path.join(a.out, f"rgb-{lift}"), lift=lift,
                                    defines={"n": 64}, precision="f64")
        runs.append((f"rgb_mlp {lift}, n = 64 (witness)", lib,
                     ["--teacher", teacher, "--samples", a.samples]))

    times = [10.0 ** e for e in range(1, 10) if 10.0 ** e < a.time] + [a.time]
    rows = []
    for name, lib, data_args in runs:
        log = os.path.join(a.out, os.path.basename(lib)[:-3] + ".jsonl")
        rslcexp.train(lib, log, data_args + [
            "--integrator", "euler", "--step-size", a.h, "--steps", steps,
            "--log-every", log_every])
        L = logs(log)
        fired = next((r["flow_time"] for r in L if r["diverging"]), None)
        row = {"run": name, "final_loss": L[-1]["loss"], "final_norm": L[-1]["param_norm"],
               "slope": slope(L), "detector_first_fired_at": fired,
               "detector_at_end": bool(L[-1]["diverging"])}
        for t in times:
            r = min(L, key=lambda r: abs(r["flow_time"] - t))
            row[f"loss@{t:g}"], row[f"norm@{t:g}"] = r["loss"], r["param_norm"]
        rows.append(row)
        print(row, flush=True)

    with open(os.path.join(a.out, "lu_pattern.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    times = [k[5:] for k in rows[0] if k.startswith("loss@")]  # as formatted
    with open(os.path.join(a.out, "lu_pattern.md"), "w") as f:
        f.write("| run | " + " | ".join(f"loss, \\|theta\\| at t = {t}" for t in times) +
                " | slope of log \\|theta\\| vs log t (last 3/4) | detector |\n")
        f.write("|---|" + "---|" * len(times) + "---|---|\n")
        for r in rows:
            cells = [f"{r['loss@' + t]:.3g}, {r['norm@' + t]:.2f}" for t in times]
            fired = (f"fires at t = {r['detector_first_fired_at']:g}"
                     if r["detector_first_fired_at"] is not None else "quiet")
            f.write(f"| {r['run']} | " + " | ".join(cells) + f" | {r['slope']:.3f} | {fired} |\n")
    print(open(os.path.join(a.out, "lu_pattern.md")).read())


if __name__ == "__main__":
    main()
