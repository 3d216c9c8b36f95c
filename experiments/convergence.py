#!/usr/bin/python3
"""The convergence experiment of the paper, redone: does gradient flow on a
random sparse lift of the base network reach the witness's labels, with a
probability tending to 1 as the lift grows, and in what flow time?

Setting. The base network is the paper's MLP R^{r,g,b} -> R^4 (two hidden
relu vertices). The witness is a small lift of it: 2 copies per hidden
vertex, fully connected, with random weights and random biases (variance
0.25), drawn from the first seed whose labels vary and are not affine in
the inputs; it labels Gaussian inputs (256 to train on, 256 held out). Students
are lifts of the base network with n copies per hidden vertex and, unless
the readout is `none`, n copies of the output read through the readout
(mean: 1/n, sqrt: 1/sqrt(n), sum: 1). Their lift kinds: `dense` (full),
`deg2`, `deg8`, `deg32` (sparse(degree = K), capped at n), `prob8`
(sparse(prob = 8/n)). Each student starts from its seed's structure and
standard initialisation (biases zero) and follows gradient flow by
explicit Euler with the step 1/lambda from its sharpness at the start
(rslc-train's default), until the training loss is below epsilon or the
flow time reaches the horizon. On the first seeds the step is checked by
rerunning with half the step (--check-step). Per (kind, readout, n) it
reports the success rate at the horizon, the median flow time to epsilon,
the median final and held-out losses, the median sharpness, the step
check, and, at the sizes of --tangent-n, the tangent-approximation
diagnostic at initialisation (experiments/tangent.py). Writes runs.csv,
convergence.csv, convergence.md and convergence.png.

    experiments/convergence.py --out results/convergence
    experiments/convergence.py --n 1,4,16 --seeds 2 --horizon 50 --out /tmp/c   # quick
"""
import argparse
import os
import re
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslcexp  # noqa: E402
import tangent  # noqa: E402

BASE = """module rgb_mlp {
  input r, g, b;
  hidden h1, h2: relu;
  output y: 4;
  r, g, b -> h1 -> h2 -> y;
}
lift witness of rgb_mlp {
  size h1, h2: 2;
  init bias h1, h2, y: normal(scale = 0.5);
}
"""

KINDS = {"dense": lambda n: "full",
         "deg2": lambda n: f"sparse(degree = {min(2, n)})",
         "deg8": lambda n: f"sparse(degree = {min(8, n)})",
         "deg32": lambda n: f"sparse(degree = {min(32, n)})",
         "prob8": lambda n: f"sparse(prob = {min(1.0, 8 / n):.6g})"}


def student(kind, readout, n):
    """The blueprint of one student lift."""
    lines = ["lift student of rgb_mlp {", f"  size h1, h2: {n};",
             f"  edges h1 -> h2: {KINDS[kind](n)};"]
    if readout != "none":
        lines += [f"  size y: {n};", f"  edges h2 -> y: {KINDS[kind](n)};", f"  readout: {readout};"]
    return BASE + "\n".join(lines + ["}"]) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="dense,deg2,deg8,deg32,prob8")
    ap.add_argument("--readouts", default="sqrt", help="none, mean, sqrt, sum (comma-separated)")
    ap.add_argument("--n", default="1,2,4,8,16,32,64,128,256,512,1024,2048,4096")
    ap.add_argument("--dense-max", type=int, default=1024, help="largest n of the dense lift")
    ap.add_argument("--max-steps", type=float, default=2e5,
                    help="the most Euler steps of a run (a seed whose sharpness makes the "
                         "horizon longer stops short of it); sizes whose seed 1 needs more are "
                         "not run")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--check-seeds", type=int, default=2, help="seeds run with --check-step")
    ap.add_argument("--epsilon", type=float, default=1e-4)
    ap.add_argument("--horizon", type=float, default=1000, help="flow time of each run")
    ap.add_argument("--plateau", type=float, default=0,
                    help="also stop a run where its loss fell by less than this fraction over "
                         "the last doubling of its flow time (rslc-train --plateau; 0: never)")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--tangent-n", default="4,64,1024", help="sizes of the tangent diagnostic")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    # The data: the witness's labels on Gaussian inputs, in double precision.
    with open(os.path.join(a.out, "witness.rsl"), "w") as f:
        f.write(BASE)
    witness_lib = rslcexp.compile_model(os.path.join(a.out, "witness.rsl"),
                                        os.path.join(a.out, "witness"), lift="witness",
                                        precision="f64")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2 * a.samples, 3))
    # A witness whose relu units are all dead labels every input alike:
    # the first seed whose every output varies (variance over 0.05) and
    # depends on the input non-linearly (an affine fit leaves over 5% of it).
    affine = np.hstack([x, np.ones((len(x), 1))])
    for witness_seed in range(1, 1000):
        y = tangent.rslc.load(witness_lib, seed=witness_seed).forward(x)
        residual = y - affine @ np.linalg.lstsq(affine, y, rcond=None)[0]
        if y.var(0).min() > 0.05 and residual.var(0).min() > 0.05 * y.var(0).max():
            break
    print(f"witness seed {witness_seed}: label variance {y.var(0).round(3)}, non-affine part "
          f"{(residual.var(0) / y.var(0)).round(3)}", flush=True)
    train, test = os.path.join(a.out, "train.npz"), os.path.join(a.out, "test.npz")
    np.savez(train, x=x[:a.samples], y=y[:a.samples])
    np.savez(test, x=x[a.samples:], y=y[a.samples:])

    configs = [(kind, readout, n) for readout in a.readouts.split(",") for kind in a.kinds.split(",")
               for n in (int(v) for v in a.n.split(",")) if kind != "dense" or n <= a.dense_max]

    def library(kind, readout, n, precision=None):
        stem = os.path.join(a.out, f"{kind}-{readout}-{n}" + (f"-{precision}" if precision else ""))
        with open(stem + ".rsl", "w") as f:
            f.write(student(kind, readout, n))
        return rslcexp.compile_model(stem + ".rsl", stem, lift="student", precision=precision)

    def run(kind, readout, n, lib, seed):
        log = os.path.join(a.out, f"{kind}-{readout}-{n}-s{seed}.jsonl")
        args = ["--data", train, "--test-data", test, "--model-seed", seed, "--integrator", "euler",
                "--flow-time", a.horizon, "--steps", int(a.max_steps), "--target-loss", a.epsilon,
                "--log-every", 1000] + (["--plateau", a.plateau] if a.plateau else [])
        if seed <= a.check_seeds:
            args.append("--check-step")
        last = rslcexp.last_metrics(log)  # an earlier sweep's finished run is reused
        err = log + ".err"  # rslc-train's messages: the step check of the first seeds
        if (last and (os.path.exists(err) or seed > a.check_seeds) and last["loss"] is not None and
                (last["loss"] < a.epsilon or last["flow_time"] >= a.horizon * (1 - 1e-9) or
                 last["step"] >= a.max_steps)):
            seconds = last["wall_seconds"]
            last["stderr"] = open(err).read() if os.path.exists(err) else ""
        else:
            last, seconds = rslcexp.train(lib, log, args)
            with open(err, "w") as f:
                f.write(last["stderr"])
        check = re.search(r"end (\S+) apart", last["stderr"])
        loss = last["loss"] if last["loss"] is not None else float("inf")
        return dict(kind=kind, readout=readout, n=n, seed=seed, loss=loss,
                    test_loss=last["test_loss"], reached=loss < a.epsilon,
                    flow_time=last["flow_time"], steps=last["step"],
                    sharpness=1 / last["step_size"],  # Euler's default step is 1/lambda
                    step_check=float(check.group(1)) if check else None,
                    seconds=round(seconds, 2))

    rows, skipped = [], []
    for kind, readout, n in configs:
        lib = library(kind, readout, n)
        params, edges = rslcexp.sizes(lib)
        # One step first: the sharpness says how many steps the horizon takes.
        probe, _ = rslcexp.train(lib, os.path.join(a.out, "probe.jsonl"),
                                 ["--data", train, "--model-seed", 1, "--steps", 1, "--log-every", 0],
                                 quiet=False)
        lam = re.search(r"sharpness (\S+) at the start", probe["stderr"])
        if not lam:
            print(f"{kind} {readout} n={n}: no positive sharpness at the start; not run", flush=True)
            skipped.append((kind, readout, n))
            continue
        if float(lam.group(1)) * a.horizon > a.max_steps:
            print(f"{kind} {readout} n={n}: sharpness {float(lam.group(1)):.3g}: the horizon "
                  f"takes {float(lam.group(1)) * a.horizon:.3g} steps; not run", flush=True)
            skipped.append((kind, readout, n))
            continue
        first = run(kind, readout, n, lib, 1)
        rest = rslcexp.parallel(a.jobs, lambda s: run(kind, readout, n, lib, s),
                                range(2, a.seeds + 1))
        for r in [first] + rest:
            r.update(params=params, edges=edges)
            rows.append(r)
        done = [r for r in rows if (r["kind"], r["readout"], r["n"]) == (kind, readout, n)]
        print(f"{kind:6s} {readout:5s} n={n:5d} params={params:8d} reached "
              f"{sum(r['reached'] for r in done)}/{len(done)} median flow time "
              f"{statistics.median(r['flow_time'] for r in done):.4g} lambda "
              f"{first['sharpness']}", flush=True)
    rslcexp.write_csv(os.path.join(a.out, "runs.csv"), rows)

    tangents = {}
    for kind, readout, n in configs:
        if str(n) in a.tangent_n.split(",") and (kind, readout, n) not in skipped:
            model = tangent.rslc.load(library(kind, readout, n, "f64"), seed=1)
            lin = tangent.Linearised(model, x[:a.samples])
            loss0 = 0.5 * float(np.sum((lin.F - y[:a.samples]) ** 2)) / a.samples
            u, residual = tangent.tangent_fit(lin, y[:a.samples], 200)
            tangents[kind, readout, n] = (0.5 * residual / a.samples / loss0,
                                          float(np.linalg.norm(u) / np.linalg.norm(lin.theta)))
            model.close()

    summary = []
    for kind, readout, n in configs:
        rs = [r for r in rows if (r["kind"], r["readout"], r["n"]) == (kind, readout, n)]
        if not rs:
            continue
        ok = [r for r in rs if r["reached"]]
        checks = [r["step_check"] for r in rs if r["step_check"] is not None]
        t = tangents.get((kind, readout, n))
        summary.append(dict(
            kind=kind, readout=readout, n=n, params=rs[0]["params"], seeds=len(rs),
            success_rate=len(ok) / len(rs),
            median_flow_time_to_eps=statistics.median(r["flow_time"] for r in ok) if len(ok) * 2 > len(rs) else None,
            median_loss=statistics.median(r["loss"] for r in rs),
            median_test_loss=statistics.median(r["test_loss"] for r in rs),
            median_sharpness=statistics.median(r["sharpness"] for r in rs if r["sharpness"]),
            max_step_check=max(checks) if checks else None,
            tangent_fraction=t[0] if t else None, tangent_step=t[1] if t else None,
            median_seconds=statistics.median(r["seconds"] for r in rs)))
    rslcexp.write_csv(os.path.join(a.out, "convergence.csv"), summary)
    with open(os.path.join(a.out, "convergence.md"), "w") as f:
        f.write("| kind | readout | n | parameters | reached eps | median flow time to eps | "
                "median loss | median held-out loss | sharpness | step check | tangent residual | "
                "tangent \\|u\\|/\\|theta\\| |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
        g = lambda v, spec=".3g": "-" if v is None else format(v, spec)  # noqa: E731
        for s in summary:
            f.write(f"| {s['kind']} | {s['readout']} | {s['n']} | {s['params']} | "
                    f"{round(s['success_rate'] * s['seeds'])}/{s['seeds']} | "
                    f"{g(s['median_flow_time_to_eps'])} | {g(s['median_loss'])} | "
                    f"{g(s['median_test_loss'])} | {g(s['median_sharpness'])} | "
                    f"{g(s['max_step_check'], '.2g')} | {g(s['tangent_fraction'], '.2g')} | "
                    f"{g(s['tangent_step'], '.2g')} |\n")
        for kind, readout, n in skipped:
            f.write(f"| {kind} | {readout} | {n} | not run: too stiff for the horizon |||||||||\n")
    print(open(os.path.join(a.out, "convergence.md")).read())
    plot(summary, a, os.path.join(a.out, "convergence.png"))


def plot(summary, a, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for kind in a.kinds.split(","):
        for readout in a.readouts.split(","):
            rs = [s for s in summary if s["kind"] == kind and s["readout"] == readout]
            if not rs:
                continue
            label = kind + ("" if len(a.readouts.split(",")) == 1 else f", {readout}")
            ns = [s["n"] for s in rs]
            axes[0].plot(ns, [s["success_rate"] for s in rs], "o-", label=label)
            t = [(s["n"], s["median_flow_time_to_eps"]) for s in rs if s["median_flow_time_to_eps"]]
            if t:
                axes[1].plot(*zip(*t), "o-", label=label)
            axes[2].plot(ns, [s["median_test_loss"] for s in rs], "o-", label=label)
    axes[0].set(xscale="log", ylim=(-0.05, 1.05), xlabel="copies per hidden vertex n",
                ylabel=f"fraction reaching loss < {a.epsilon:g} by t = {a.horizon:g}")
    axes[1].set(xscale="log", yscale="log", xlabel="copies per hidden vertex n",
                ylabel="median flow time to epsilon")
    axes[2].set(xscale="log", yscale="log", xlabel="copies per hidden vertex n",
                ylabel="median held-out loss at the end")
    rslcexp.save_figure(fig, axes, f"Gradient flow (Euler, h = 1/sharpness) to the labels of a "
                        f"2-copy witness with biases; readout {a.readouts}", path)


if __name__ == "__main__":
    main()
