"""Numerical checks for tests/Runtime (numpy on Debian's python3).

  check.py linear-data DIR           write DIR/data.csv: 64 samples, x:3 -> y:2
  check.py flow DIR W0.npy W.npy T TOL [DECAY]
                                     |W(T) - closed-form gradient flow| < TOL
                                     (with weight decay DECAY)
  check.py flow-log DIR W0.npy W.npy LOG.jsonl TOL
                                     same, at the flow time of the last log line
  check.py order DIR W0.npy Wa.npy Wb.npy T RATIO
                                     error(Wa)/error(Wb) > RATIO (order of accuracy)
  check.py decreases LOG.jsonl FACTOR   last loss < FACTOR * first loss
  check.py same-trajectory A.jsonl B.jsonl TOL
                                     the same logged steps, losses within TOL (relative)
  check.py fails-within SECONDS -- CMD...
                                     CMD exits non-zero before SECONDS (no hang)
"""
import json


def metrics(path):
    """The metrics lines of an rslc-train log (the first line is its provenance)."""
    return [d for d in (json.loads(line) for line in open(path) if line.strip()) if "step" in d]
import sys

import numpy as np


def data(d):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 3))
    w = rng.normal(size=(2, 3))
    y = x @ w.T + 0.1 * rng.normal(size=(64, 2))
    np.savetxt(f"{d}/data.csv", np.hstack([x, y]), delimiter=",", fmt="%.17g")


def exact(d, w0, t, decay=0.0):
    """Gradient flow of mean |W x - y|^2 / 2 + decay/2 |W|^2 from W0."""
    xy = np.loadtxt(f"{d}/data.csv", delimiter=",")
    x, y = xy[:, :3], xy[:, 3:]
    c = x.T @ x / len(x) + decay * np.eye(3)
    w_star = np.linalg.solve(c, x.T @ y / len(x)).T
    lam, q = np.linalg.eigh(c)
    return w_star + (w0 - w_star) @ (q @ np.diag(np.exp(-lam * t)) @ q.T)


def load(path):
    return np.load(path).reshape(2, 3)


def error(d, w0, w, t, decay=0.0):
    return float(np.max(np.abs(load(w) - exact(d, load(w0), t, decay))))


cmd = sys.argv[1]
if cmd == "linear-data":
    data(sys.argv[2])
elif cmd == "flow":
    d, w0, w, t, tol = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
    decay = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    e = error(d, w0, w, t, decay)
    print(f"{'ok' if e < tol else 'FAIL'} flow: max error {e:.3g} (tolerance {tol:g})")
    sys.exit(e >= tol)
elif cmd == "flow-log":  # the flow time is the last logged one
    d, w0, w, log, tol = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
    t = metrics(log)[-1]["flow_time"]
    e = error(d, w0, w, t)
    print(f"{'ok' if e < tol and t > 0.1 else 'FAIL'} flow: max error {e:.3g} at t = {t:.3g} (tolerance {tol:g})")
    sys.exit(not (e < tol and t > 0.1))
elif cmd == "order":
    d, w0, wa, wb, t, ratio = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]), float(sys.argv[7])
    ea, eb = error(d, w0, wa, t), error(d, w0, wb, t)
    print(f"{'ok' if ea / eb > ratio else 'FAIL'} order: halving the step divides the error by {ea / eb:.3g} (at least {ratio:g})")
    sys.exit(ea / eb <= ratio)
elif cmd == "decreases":
    losses = [m["loss"] for m in metrics(sys.argv[2])]
    ok = losses[-1] < float(sys.argv[3]) * losses[0]
    print(f"{'ok' if ok else 'FAIL'} loss {losses[0]:.4g} -> {losses[-1]:.4g}")
    sys.exit(not ok)
elif cmd == "same-trajectory":  # two runs' logged losses agree step by step
    a, b = metrics(sys.argv[2]), metrics(sys.argv[3])
    tol = float(sys.argv[4])
    worst = max(abs(x["loss"] - y["loss"]) / abs(x["loss"]) for x, y in zip(a, b))
    ok = len(a) == len(b) > 1 and all(x["step"] == y["step"] for x, y in zip(a, b)) and worst < tol
    print(f"{'ok' if ok else 'FAIL'} trajectories: {len(a)} and {len(b)} logs, "
          f"largest relative loss difference {worst:.3g} (tolerance {tol:g})")
    sys.exit(not ok)
elif cmd == "fails-within":  # SECONDS -- CMD...: CMD must fail (not hang) in time
    import subprocess
    seconds, argv = float(sys.argv[2]), sys.argv[4:]
    try:
        run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        print(f"FAIL: still running after {seconds:g} s")
        sys.exit(1)
    print(run.stdout)
    print(f"{'ok' if run.returncode else 'FAIL'} exit status {run.returncode}")
    sys.exit(run.returncode == 0)
