"""Shared plumbing of the experiments: compile blueprints with rslc, train
with rslc-train, read the JSON-lines metrics, query a library's sizes.

Every experiment drives the product's own commands (nothing is re-implemented
here), so what the figures measure is what a user runs."""
import ctypes
import json
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# RSLC_BIN / RSLC_RUNTIME_DIR: another build's tools and runtime (e.g. a copy
# that a rebuild will not replace mid-sweep).
BIN = os.environ.get("RSLC_BIN", os.path.join(ROOT, "build", "bin"))
RUNTIME_DIR = os.environ.get("RSLC_RUNTIME_DIR")


def compile_model(blueprint, out, lift=None, module=None, defines=None, precision=None):
    """rslc BLUEPRINT -o OUT; returns OUT.so."""
    cmd = [os.path.join(BIN, "rslc"), blueprint, "-o", out]
    if precision:
        cmd.append("--precision=" + precision)
    if RUNTIME_DIR:
        cmd.append("--runtime-dir=" + RUNTIME_DIR)
    if lift:
        cmd.append("--lift=" + lift)
    if module:
        cmd.append("--module=" + module)
    for k, v in (defines or {}).items():
        cmd += ["-D", f"{k}={v}"]
    run = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if run.returncode:
        raise RuntimeError(f"{' '.join(cmd)}:\n{run.stderr}")
    return out + ".so"


def train(model, log, args, threads=1, quiet=True):
    """rslc-train MODEL --log LOG ARGS...; returns (last metrics, seconds).

    The last JSON line holds the final step's metrics (the runtime reports the
    last step whatever the period)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [os.path.join(BIN, "rslc-train"), model, "--log", log] + (["--quiet"] if quiet else []) + \
        [str(a) for a in args]
    start = time.perf_counter()
    run = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    last = last_metrics(log)
    if last is None or run.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}): {run.stderr.strip()}")
    last["exit_status"] = run.returncode  # 1: stopped on a non-finite loss
    last["stderr"] = run.stderr  # what rslc-train said (the sharpness, a step check)
    return last, seconds


def last_metrics(log):
    """The last metrics line of a log (None if there is none; the first
    line is the run's provenance)."""
    last = None
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                if line.strip() and "step" in (d := json.loads(line)):
                    last = d
    return last


def finished(log, steps, epsilon):
    """The final metrics of a run that completed (all steps, or loss below
    epsilon), else None."""
    last = last_metrics(log)
    if last and (last["step"] >= steps or (last["loss"] is not None and last["loss"] < epsilon)):
        return last
    return None


def sizes(library):
    """(parameters, lifted edges) of a generated library, through its C ABI."""
    lib = ctypes.CDLL(os.path.abspath(library))
    lib.rslc_create.argtypes = [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
    lib.rslc_num_params.argtypes = lib.rslc_num_lifted_edges.argtypes = [ctypes.c_void_p]
    lib.rslc_num_params.restype = lib.rslc_num_lifted_edges.restype = ctypes.c_int64
    lib.rslc_destroy.argtypes = [ctypes.c_void_p]
    m = ctypes.c_void_p()
    if lib.rslc_create(0, ctypes.byref(m)) != 0:
        raise RuntimeError(f"{library}: rslc_create failed")
    out = (lib.rslc_num_params(m), lib.rslc_num_lifted_edges(m))
    lib.rslc_destroy(m)
    return out


def write_csv(path, rows):
    """rows (dicts with the same keys) as a CSV with a header; nothing if empty."""
    if not rows:
        return
    import csv
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")


def parallel(jobs, fn, items):
    """fn over items on `jobs` processes (each training run uses one thread)."""
    if jobs <= 1:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor  # the work is in subprocesses
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(fn, items))


def save_figure(fig, axes, title, path):
    """Grid and legend on every panel, the title, then the PNG."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
