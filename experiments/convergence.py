#!/usr/bin/python3
"""The convergence experiment of the paper: does a random sparse lift of a
witness network reach loss < epsilon by gradient flow, with probability
tending to 1 as the lift grows?

For a blueprint, a witness module (the base network, whose random weights
label random inputs: it reaches loss 0 on them by construction) and two lifts
of it (dense = fully connected, sparse = random sparse), for each lift size n
and each seed: compile the lift with -D n=N, train it from the seed's random
structure and initialisation by gradient flow (RK4) until the training loss is
below epsilon or the step budget is spent. Reports, per lift and n: the
fraction of seeds that reached epsilon, the median final loss, the number of
parameters and lifted edges, the median time. Writes a CSV and a PNG plot.

    experiments/convergence.py --out results/convergence            # paper's rgb MLP
    experiments/convergence.py --n 4,16,64 --seeds 3 --steps 300 --out /tmp/c  # quick
"""
import argparse
import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslcexp  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blueprint", default=os.path.join(rslcexp.ROOT, "examples", "rgb_mlp.rsl"))
    ap.add_argument("--witness", default="rgb_mlp", help="module whose identity lift labels the data")
    ap.add_argument("--dense", default="wide", help="fully-connected lift ('' to skip)")
    ap.add_argument("--sparse", default="sparse", help="random sparse lift ('' to skip)")
    ap.add_argument("-D", dest="defines", action="append", default=[], help="other blueprint parameters, k=v")
    ap.add_argument("--n", default="4,8,16,32,64,128,256,512,1024,2048,4096", help="lift sizes")
    ap.add_argument("--dense-n", help="lift sizes of the dense lift (default: --n)")
    ap.add_argument("--size-param", default="n", help="the blueprint parameter the sizes set")
    ap.add_argument("--degree", type=int, default=16, help="sparse in-degree (capped at n)")
    ap.add_argument("--degree-param", default="k", help="the blueprint parameter the degree sets")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--epsilon", type=float, default=1e-3)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--integrator", default="rk4")
    ap.add_argument("--step-size", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=4000, help="step budget of each run")
    ap.add_argument("--time-budget", type=float, default=0, help="seconds per run (0: none)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True, help="folder for convergence.csv, convergence.png, logs")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    defines = dict(d.split("=", 1) for d in a.defines)
    witness = rslcexp.compile_model(a.blueprint, os.path.join(a.out, "witness"), module=a.witness,
                                    defines=defines)
    lifts = [(kind, name) for kind, name in (("dense", a.dense), ("sparse", a.sparse)) if name]
    sizes = {"sparse": [int(s) for s in a.n.split(",")]}
    sizes["dense"] = [int(s) for s in a.dense_n.split(",")] if a.dense_n else sizes["sparse"]

    runs = []
    for kind, lift in lifts:
        for n in sizes[kind]:
            values = dict(defines, **{a.size_param: n})
            # Every lift of the file is checked: cap the degree at n (where
            # the sparse lift is then fully connected).
            values[a.degree_param] = min(a.degree, n)
            lib = rslcexp.compile_model(a.blueprint, os.path.join(a.out, f"{kind}_{n}"), lift=lift,
                                        defines=values)
            params, edges = rslcexp.sizes(lib)
            for seed in range(1, a.seeds + 1):
                runs.append((kind, n, lib, params, edges, seed))

    def one(run):
        kind, n, lib, params, edges, seed = run
        log = os.path.join(a.out, f"{kind}_{n}_seed{seed}.jsonl")
        last = rslcexp.finished(log, a.steps, a.epsilon)  # from an earlier, interrupted sweep
        if last is None:
            last, _ = rslcexp.train(lib, log, [
            "--teacher", witness, "--samples", a.samples, "--model-seed", seed,
            "--integrator", a.integrator, "--step-size", a.step_size, "--steps", a.steps,
                "--target-loss", a.epsilon, "--time-budget", a.time_budget, "--log-every", 1000])
        seconds = last["wall_seconds"]
        loss = last["loss"] if last["loss"] is not None else float("inf")
        print(f"{kind:6s} n={n:5d} seed={seed:2d} loss={loss:.3g} steps={last['step']} "
              f"{seconds:.1f}s", flush=True)
        return dict(kind=kind, n=n, seed=seed, params=params, edges=edges, loss=loss,
                    steps=last["step"], seconds=seconds, reached=loss < a.epsilon)

    results = rslcexp.parallel(a.jobs, one, runs)
    with open(os.path.join(a.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(results[0]))
        w.writeheader()
        w.writerows(results)

    summary = []
    for kind, _ in lifts:
        for n in sizes[kind]:
            rs = [r for r in results if r["kind"] == kind and r["n"] == n]
            summary.append(dict(kind=kind, n=n, params=rs[0]["params"], edges=rs[0]["edges"],
                                seeds=len(rs), success_rate=sum(r["reached"] for r in rs) / len(rs),
                                median_loss=statistics.median(r["loss"] for r in rs),
                                median_steps=statistics.median(r["steps"] for r in rs),
                                median_seconds=round(statistics.median(r["seconds"] for r in rs), 3)))
    path = os.path.join(a.out, "convergence.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(summary[0]))
        w.writeheader()
        w.writerows(summary)
    print(f"wrote {path}")
    for s in summary:
        print("{kind:6s} n={n:5d} params={params:8d} success={success_rate:.2f} "
              "median_loss={median_loss:.3g} median_time={median_seconds}s".format(**s))
    plot(summary, lifts, a, os.path.join(a.out, "convergence.png"))


def plot(summary, lifts, a, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right, third) = plt.subplots(1, 3, figsize=(15, 4))
    for kind, name in lifts:
        rows = [s for s in summary if s["kind"] == kind]
        ns = [s["n"] for s in rows]
        left.plot(ns, [s["median_loss"] for s in rows], "o-", label=f"{kind} ({name})")
        right.plot(ns, [s["success_rate"] for s in rows], "o-", label=f"{kind} ({name})")
        third.plot(ns, [s["median_steps"] * a.step_size for s in rows], "o-", label=f"{kind} ({name})")
    left.axhline(a.epsilon, color="gray", ls="--", lw=1, label="epsilon")
    left.set(xscale="log", yscale="log", xlabel="copies per hidden vertex n",
             ylabel=f"median final loss ({a.steps} steps)")
    right.set(xscale="log", ylim=(-0.05, 1.05), xlabel="copies per hidden vertex n",
              ylabel=f"fraction of {a.seeds} seeds with loss < {a.epsilon:g}")
    third.set(xscale="log", yscale="log", xlabel="copies per hidden vertex n",
              ylabel="median flow time t = steps x h at the end")
    rslcexp.save_figure(fig, (left, right, third),
                        f"{os.path.basename(a.blueprint)}: gradient flow ({a.integrator}, h={a.step_size}) "
                        f"on {a.samples} samples labelled by the witness", path)


if __name__ == "__main__":
    main()
