#!/usr/bin/python3
"""The performance sweep of docs/performance.md (a benchmark, not a test).

Runs bench/torch_peer.py (rslc against PyTorch masked-dense, COO and CSR on
the same lifted network, verified before timing) over hidden fiber sizes n,
in-degrees k, batch sizes and thread counts; adds each configuration's
lifted edges x samples per second and its share of the machine's limits
(bench_machine_limits: FMA peak and STREAM bandwidth); writes sweep.jsonl,
sweep.csv, sweep.md and sweep.png.

    bench/sweep.py --out results/bench                       # the full sweep
    bench/sweep.py --n 1024 --k 32 --batch 256 --threads 1 --out /tmp/b   # quick
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")


def machine_limits():
    """{threads: (GB/s, GFLOP/s)} and the text of bench_machine_limits."""
    out = subprocess.run([os.path.join(BIN, "bench_machine_limits")], capture_output=True, text=True,
                         check=True).stdout
    return parse_limits(out), out.strip()


def parse_limits(text):
    limits = {}
    for m in re.finditer(r"(\d+) threads?: STREAM triad ([\d.]+) GB/s, peak ([\d.]+) GFLOP/s", text):
        limits[int(m[1])] = (float(m[2]), float(m[3]))
    return limits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    # n = 65536 would need 32 GiB for PyTorch's masked dense weight and gradient
    ap.add_argument("--n", default="256,4096,16384")
    ap.add_argument("--k", default="4,32,256")
    ap.add_argument("--batch", default="1,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("--summarize", action="store_true",
                    help="only rebuild the CSV, table and plot from OUT/sweep.jsonl and OUT/limits.txt")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.summarize:
        text = open(os.path.join(a.out, "limits.txt")).read().strip()
        limits = parse_limits(text)
        rows = [summarise(json.loads(line), limits) for line in open(os.path.join(a.out, "sweep.jsonl"))]
        return write(rows, text, a.out)
    limits, text = machine_limits()
    print(text, flush=True)
    with open(os.path.join(a.out, "limits.txt"), "w") as f:
        f.write(text + "\n")

    rows = []
    with open(os.path.join(a.out, "sweep.jsonl"), "w") as log:
        for n in map(int, a.n.split(",")):
            for k in map(int, a.k.split(",")):
                if k > n:
                    continue
                run = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_peer.py"),
                                      "--n", str(n), "--k", str(k), "--batch", a.batch,
                                      "--threads", a.threads, "--loss", "ce", "--reps", str(a.reps)],
                                     capture_output=True, text=True)
                if run.returncode:
                    sys.exit(f"torch_peer.py failed for n={n} k={k}:\n{run.stderr}")
                for line in run.stdout.splitlines():
                    r = json.loads(line)
                    log.write(line + "\n")
                    log.flush()
                    rows.append(summarise(r, limits))
                    print(format_row(rows[-1]), flush=True)
    write(rows, text, a.out)


def write(rows, text, out):
    """sweep.csv, sweep.md and sweep.png in `out`."""
    with open(os.path.join(out, "sweep.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(out, "sweep.md"), "w") as f:
        f.write(f"Machine: {text}\n\n")
        f.write("| n | k | batch | threads | rslc step ms | masked dense x | COO x | rslc infer ms | CSR infer x | "
                "Gedges*samples/s | % peak FLOP/s | x bandwidth bound |\n|" + "---|" * 12 + "\n")
        for r in rows:
            f.write("| {n} | {k} | {batch} | {threads} | {rslc_step_ms:.3f} | {masked_dense_step_x} | {coo_step_x} | "
                    "{rslc_infer_ms:.3f} | {csr_infer_x} | {gedge_samples_per_s:.2f} | {percent_peak:.1f} | "
                    "{x_bandwidth_bound:.1f} |\n".format(**r))
    plot(rows, os.path.join(out, "sweep.png"))
    print(f"wrote {out}/sweep.{{csv,md,png}}")


def summarise(r, limits):
    """One row: times, ratios (peer / rslc), throughput and shares of limits."""
    step, infer = r["step_ms"], r["infer_ms"]
    params, batch, threads = r["params"], r["batch"], r["threads"]
    gbs, gflops = limits.get(threads, limits[max(limits)])
    flops = 6.0 * params * batch  # forward 2, backward 4 per weight and sample
    # Bytes a step must move at least: weights read twice (forward, data
    # gradient), gradient written, weights read and written by the update,
    # and the sparse layer's indices (forward column, transposed row and
    # position: 12 bytes per lifted edge of h1 -> h2).
    sparse_edges = r["n"] * r["k"]
    bytes_moved = 4.0 * params * 5 + 12.0 * sparse_edges
    ratio = lambda d, name: f"{d[name] / d['rslc']:.1f}" if name in d else "-"
    return dict(n=r["n"], k=r["k"], batch=batch, threads=threads, lifted_edges=r["lifted_edges"],
                params=params, rslc_step_ms=step["rslc"], masked_dense_step_x=ratio(step, "masked_dense"),
                coo_step_x=ratio(step, "coo"), rslc_infer_ms=infer["rslc"], csr_infer_x=ratio(infer, "csr"),
                gedge_samples_per_s=r["lifted_edges"] * batch / (step["rslc"] * 1e-3) / 1e9,
                percent_peak=100 * flops / (step["rslc"] * 1e-3) / (gflops * 1e9),
                x_bandwidth_bound=(step["rslc"] * 1e-3) / (bytes_moved / (gbs * 1e9)))


def format_row(r):
    return ("n={n} k={k} batch={batch} threads={threads}: rslc step {rslc_step_ms:.3f} ms "
            "(masked dense x{masked_dense_step_x}, COO x{coo_step_x}), {percent_peak:.1f}% of peak, "
            "{x_bandwidth_bound:.1f}x the bandwidth bound").format(**r)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, peer in zip(axes, ("coo_step_x", "masked_dense_step_x")):
        for (k, batch, threads) in sorted({(r["k"], r["batch"], r["threads"]) for r in rows}):
            pts = [(r["n"], float(r[peer])) for r in rows
                   if (r["k"], r["batch"], r["threads"]) == (k, batch, threads) and r[peer] != "-"]
            if pts and threads == max(r["threads"] for r in rows):
                ax.plot(*zip(*pts), "o-", label=f"k={k}, batch {batch}")
        ax.set(xscale="log", yscale="log", xlabel="copies per hidden vertex n",
               ylabel=f"PyTorch {'COO' if peer.startswith('coo') else 'masked dense'} step / rslc step")
        ax.axhline(1, color="gray", lw=1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Training step, 64 -> n -> n -> 10, sparse middle layer of in-degree k "
                 f"({max(r['threads'] for r in rows)} threads)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
