#!/usr/bin/python3
"""The tangent-approximation diagnostic: how well the linearisation of a
lifted network fits the witness's labels, against the lift's size n, at
its initialisation and along its gradient flow.

At parameters theta, with F(theta) the network's outputs on the N training
inputs and f* the witness's labels, it solves

    min over u of ||F(theta) + J(theta) u - f*||^2

by conjugate gradients on the normal equations (CGLS), with Jacobian-vector
products J u exact from the library's forward mode (rslc_jvp) and
vector-Jacobian products J^T s exact from its backward pass (rslc Python
package, double precision). It reports, per lift, n and flow time: the loss
at theta, the loss of the best tangent step (as a fraction of it), |u| and
|u| / |theta|. The paper's assumption holds where the tangent residual is
small for a step |u| that stays small against |theta| as n grows.

`--times 0,10,100` measures at those flow times of gradient flow on the
training set (explicit Euler, full batch, at the step 1/lambda from the
sharpness at initialisation). Any blueprint whose lifts take their size
from parameters works: `--defines` gives them as expressions in n (the
witness is the module itself, `--witness`).

    experiments/tangent.py --out results/tangent
    experiments/tangent.py --n 4,16,64 --times 0,100 --out /tmp/t          # quick
    experiments/tangent.py --blueprint examples/cnn.rsl --witness cnn \
        --lifts dense,sparse --defines "C1=n,C2=2*n,k=min(4,n)" --n 1,2,4,8 --out /tmp/cnn
"""
import argparse
import csv
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslcexp  # noqa: E402

sys.path.insert(0, os.path.join(rslcexp.ROOT, "python"))
os.environ.setdefault("RSLC_BIN", rslcexp.BIN)
import rslc  # noqa: E402


class Linearised:
    """J and J^T of a model's outputs on x at its current parameters."""

    def __init__(self, model, x):
        self.m, self.x = model, x
        self.theta = model.params.copy()
        self.F = model.forward(x)

    def jvp(self, u):
        return self.m.jvp(self.x, u)

    def vjp(self, s):
        self.m.zero_grads()
        self.m.forward(self.x)
        self.m.backward(s)
        return self.m.grads.copy()


def tangent_fit(lin, target, iterations, tol=1e-10):
    """CGLS on min ||J u - r||, r = target - F: returns (u, ||J u - r||^2)."""
    r = target - lin.F
    u = np.zeros_like(lin.theta)
    s = r.copy()
    g = lin.vjp(s)
    p, gamma = g.copy(), g @ g
    for _ in range(iterations):
        q = lin.jvp(p)
        qq = np.sum(q * q)
        if qq == 0 or gamma <= tol * tol:
            break
        alpha = gamma / qq
        u += alpha * p
        s -= alpha * q
        g = lin.vjp(s)
        new = g @ g
        p, gamma = g + (new / gamma) * p, new
    return u, float(np.sum((lin.jvp(u) - r) ** 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blueprint", default=os.path.join(rslcexp.ROOT, "examples", "rgb_mlp.rsl"))
    ap.add_argument("--witness", default="rgb_mlp", help="the module whose outputs are the labels")
    ap.add_argument("--lifts", default="wide,sparse")
    ap.add_argument("--n", default="2,4,8,16,32,64,128,256,512")
    ap.add_argument("--defines", default="n=n,k=min(8,n)",
                    help="the blueprint's parameters as expressions in n (NAME=EXPR,...)")
    ap.add_argument("--times", default="0", help="flow times at which to measure")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=200, help="CGLS iterations")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    times = sorted(float(v) for v in a.times.split(","))
    # NAME=EXPR pairs; a comma inside an expression (min(8,n)) is not a split
    defines = [d.split("=", 1) for d in re.split(r",(?=\s*[A-Za-z_]\w*=)", a.defines)]

    witness = rslc.load(rslcexp.compile_model(a.blueprint, os.path.join(a.out, "witness"),
                                              module=a.witness, precision="f64"))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (a.samples, witness.input_size))
    target = witness.forward(x)
    rows = []
    for lift in a.lifts.split(","):
        for n in (int(v) for v in a.n.split(",")):
            values = {name: int(eval(expr, {"min": min, "max": max}, {"n": n}))
                      for name, expr in defines}
            lib = rslcexp.compile_model(a.blueprint, os.path.join(a.out, f"{lift}-{n}"), lift=lift,
                                        defines=values, precision="f64")
            for seed in range(1, a.seeds + 1):
                model = rslc.load(lib, seed=seed)
                step = 1 / model.sharpness(x, target)
                now = 0.0
                for t in times:
                    if t > now:  # gradient flow from `now` to t
                        model.train(x, target, integrator="euler", step_size=step,
                                    steps=int(round((t - now) / step)), log_every=10**9)
                        now = t
                    lin = Linearised(model, x)
                    loss = 0.5 * float(np.sum((lin.F - target) ** 2)) / a.samples
                    u, residual = tangent_fit(lin, target, a.iterations)
                    rows.append(dict(lift=lift, n=n, seed=seed, time=t, params=model.num_params,
                                     loss=loss, tangent_loss=0.5 * residual / a.samples,
                                     tangent_fraction=0.5 * residual / a.samples / loss,
                                     step=float(np.linalg.norm(u)),
                                     step_relative=float(np.linalg.norm(u) /
                                                         np.linalg.norm(lin.theta))))
                    print(rows[-1], flush=True)
                model.close()
    with open(os.path.join(a.out, "tangent.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(a.out, "tangent.md"), "w") as f:
        f.write("| lift | n | flow time | parameters | loss | best tangent loss / loss | |u| | "
                "|u| / |theta| |\n|---|---|---|---|---|---|---|---|\n")
        for lift in a.lifts.split(","):
            for n in (int(v) for v in a.n.split(",")):
                for t in times:
                    r = [x for x in rows if x["lift"] == lift and x["n"] == n and x["time"] == t]
                    med = {k: float(np.median([x[k] for x in r]))
                           for k in ("loss", "tangent_fraction", "step", "step_relative")}
                    f.write(f"| {lift} | {n} | {t:g} | {r[0]['params']} | {med['loss']:.3g} | "
                            f"{med['tangent_fraction']:.2e} | {med['step']:.3g} | "
                            f"{med['step_relative']:.3g} |\n")
    print(open(os.path.join(a.out, "tangent.md")).read())


if __name__ == "__main__":
    main()
