#!/usr/bin/python3
"""Benchmark (not a test): one SGD training step and one inference pass of an
rslc-generated library against PyTorch CPU peers of the very same lifted
network (bench/reference.rsl: x -> h1 -> h2 -> y, relu, h1 -> h2 sparse).

Peers of the middle layer h1 -> h2 (the input and output layers are dense
torch.nn.functional.linear layers in all of them):
  masked_dense  dense n x n weights times a fixed 0/1 mask, torch.mm;
  coo           torch.sparse.mm on a coalesced sparse COO weight (a leaf with
                requires_grad; its gradient has the weight's own indices);
  csr           torch.sparse_csr_tensor @ dense: inference only, because in
                PyTorch 1.13 CSR weights get no sparse gradient (values taken
                from a tensor get none, a CSR leaf gets a dense n x n one).
All start from the library's initial parameters (docs/abi.md, "Parameter
layout"). Before timing, each peer's loss and gradient are checked against
rslc_loss_and_grad, and the parameters after one SGD step against rslc_train.

Usage (Debian's python3 with python3-torch):
  bench/torch_peer.py --n 4096 --k 32 --batch 256 --threads 2 --loss ce --reps 5
--batch, --threads and --loss take comma-separated lists; every combination
runs in a fresh process (OMP_NUM_THREADS must be set before the library and
torch load). One JSON line per combination goes to stdout, a table to stderr.
"""
import os

# Fairness: OpenBLAS (PyTorch's BLAS here) must choose its kernels and cache
# blocking by its own CPU detection, as for any PyTorch user; a core type or
# L2 size forced through the environment would change the peers' GEMMs.
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse
import ctypes
import hashlib
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LISTED_EDGES = 100000  # rslc --print-edges refuses larger lifts
TOL_LOSS, TOL_GRAD = 1e-4, 1e-4  # relative; gradients in the 2-norm


# --- The library, through its C ABI (runtime/rslc.h) ------------------------

# The ABI's constants and structures, as the Python package generates them
# from include/rslc.h (python/gen_abi.py).
sys.path.insert(0, os.path.join(ROOT, "python"))
from rslc import _abi  # noqa: E402

ABI_VERSION = _abi.ABI_VERSION
TrainOptions = _abi.TrainOptions
LOSSES = {"mse": _abi.RSLC_LOSS_MSE, "ce": _abi.RSLC_LOSS_CROSS_ENTROPY}


class Library:
    def __init__(self, path):
        lib = self.lib = ctypes.CDLL(path)
        assert lib.rslc_abi_version() == ABI_VERSION and lib.rslc_real_size() == 4, \
            f"need a float32 library of ABI version {ABI_VERSION}"
        f32 = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
        h = ctypes.c_void_p
        lib.rslc_create.argtypes = [ctypes.c_uint64, ctypes.POINTER(h)]
        lib.rslc_destroy.argtypes = [h]
        lib.rslc_last_error.argtypes = [h]
        lib.rslc_last_error.restype = ctypes.c_char_p
        for name in ("input_size", "output_size", "num_params", "num_lifted_edges"):
            getattr(lib, "rslc_" + name).argtypes = [h]
            getattr(lib, "rslc_" + name).restype = ctypes.c_int64
        lib.rslc_forward.argtypes = [h, f32, ctypes.c_int64, f32]
        lib.rslc_loss_and_grad.argtypes = [h, f32, f32, ctypes.c_int64, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_double)]
        for name in ("get_params", "set_params", "get_grads"):
            getattr(lib, "rslc_" + name).argtypes = [h, f32, ctypes.c_int64]
        lib.rslc_zero_grads.argtypes = [h]
        lib.rslc_default_train_options.argtypes = [ctypes.POINTER(TrainOptions)]
        lib.rslc_default_train_options.restype = None
        lib.rslc_train.argtypes = [h, ctypes.POINTER(TrainOptions), f32, f32, ctypes.c_int64,
                                   ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
        self.model = h()
        self.check(lib.rslc_create(0, ctypes.byref(self.model)))
        self.num_params = lib.rslc_num_params(self.model)
        self.lifted_edges = lib.rslc_num_lifted_edges(self.model)
        self.nin, self.nout = lib.rslc_input_size(self.model), lib.rslc_output_size(self.model)

    def check(self, status):
        if status != 0:
            raise RuntimeError("rslc: " + self.lib.rslc_last_error(self.model).decode())

    def params(self):
        out = np.empty(self.num_params, np.float32)
        self.check(self.lib.rslc_get_params(self.model, out, self.num_params))
        return out

    def set_params(self, theta):
        self.check(self.lib.rslc_set_params(self.model, np.ascontiguousarray(theta, np.float32),
                                            self.num_params))

    def loss_and_grad(self, x, t, loss):
        """Mean loss over the batch and its gradient (zeroed first: backward adds)."""
        value, grad = ctypes.c_double(), np.empty(self.num_params, np.float32)
        self.check(self.lib.rslc_zero_grads(self.model))
        self.check(self.lib.rslc_loss_and_grad(self.model, x, t, len(x), loss, ctypes.byref(value)))
        self.check(self.lib.rslc_get_grads(self.model, grad, self.num_params))
        return value.value, grad

    def forward(self, x, y):
        self.check(self.lib.rslc_forward(self.model, x, len(x), y))

    def train(self, x, t, loss, lr, steps):
        """Full-batch SGD without momentum, `steps` steps, nothing logged."""
        o = TrainOptions()
        self.lib.rslc_default_train_options(ctypes.byref(o))
        o.integrator, o.loss, o.step_size, o.momentum = _abi.RSLC_SGD, loss, lr, 0.0
        o.batch_size, o.max_steps, o.log_every = 0, steps, 0
        self.check(self.lib.rslc_train(self.model, ctypes.byref(o), x, t, len(x),
                                       None, None, 0, None))


# --- The lifted structure ---------------------------------------------------

def rslc(args, *options):
    """Runs rslc on the blueprint, lift, n and k; returns its standard output."""
    proc = subprocess.run([args.rslc, args.blueprint, "--lift=" + args.lift, "-D", f"n={args.n}",
                           "-D", f"k={args.k}", *options], stdout=subprocess.PIPE)
    if proc.returncode:
        sys.exit(f"torch_peer: rslc failed (exit code {proc.returncode})")
    return proc.stdout


EDGE = re.compile(rb"^edge (\S+) -> (\S+): linear, .*, (\d+) lifted edges, in-degree (\d+),"
                  rb".*, weights (\d+) \((\S+)\)", re.M)
VERTEX = re.compile(rb"^vertex (\S+): \w+, (\d+) cop(?:y|ies), dim (\d+)", re.M)


class Layout:
    """Where each tensor of the reference network lies in the flat parameter
    array: the weights of x -> h1, h1 -> h2, h2 -> y in forward order (by
    target copy, then source copy), then the biases of h1, h2, y."""

    def __init__(self, summary, num_params):
        vertices = {v.decode(): (int(c), int(d)) for v, c, d in VERTEX.findall(summary)}
        edges = [(u.decode(), v.decode(), int(m), int(deg), int(w), name.decode())
                 for u, v, m, deg, w, name in EDGE.findall(summary)]
        assert [e[:2] for e in edges] == [("x", "h1"), ("h1", "h2"), ("h2", "y")], \
            "expected the reference network x -> h1 -> h2 -> y: linear edges, constant in-degrees"
        self.d, self.n, self.out = vertices["x"][1], vertices["h1"][0], vertices["y"][1]
        assert vertices["h2"][0] == self.n and vertices["h1"][1] == vertices["h2"][1] == 1
        self.k = edges[1][3]  # in-degree of h1 -> h2 (n when full)
        sizes = [("W1", self.n * self.d), ("W2", self.n * self.k), ("W3", self.n * self.out),
                 ("b1", self.n), ("b2", self.n), ("b3", self.out)]
        assert [e[4] for e in edges] == [s for _, s in sizes[:3]], "weight tensor sizes"
        assert sum(s for _, s in sizes) == num_params, "parameter count"
        self.slices, offset = {}, 0
        for name, size in sizes:
            self.slices[name] = slice(offset, offset + size)
            offset += size

    def unpack(self, flat):
        """Flat array -> torch tensors: W1 (n, d), W2 values (n*k), W3 (out, n)."""
        p = {name: torch.from_numpy(flat[s].copy()) for name, s in self.slices.items()}
        p["W1"] = p["W1"].reshape(self.n, self.d)
        p["W3"] = p["W3"].reshape(self.n, self.out).t().contiguous()  # lifted edges h2#i -> y#0
        return p

    def pack(self, p):
        flat = np.empty(self.slices["b3"].stop, np.float32)
        for name, s in self.slices.items():
            t = p[name].t() if name == "W3" else p[name]
            flat[s] = t.detach().reshape(-1).numpy()
        return flat


def probe_sources(lib, layout):
    """The source copy of each h1 -> h2 weight, from one gradient: with
    h1#i = relu(i + 1) (bias only), h2 active (bias 1) and a nonzero dL/dz of h2,
    dL/dW[q] / dL/db2[j] = h1 value of the source of W[q]. Works at any size,
    unlike --print-edges."""
    theta0, s = lib.params(), layout.slices
    probe = np.zeros_like(theta0)
    probe[s["b1"]] = np.arange(1, layout.n + 1)
    probe[s["b2"]] = 1
    probe[s["W3"]] = np.eye(1, layout.out, dtype=np.float32).repeat(layout.n, 0).ravel()
    lib.set_params(probe)
    _, grad = lib.loss_and_grad(np.zeros((1, layout.d), np.float32),
                                np.zeros((1, layout.out), np.float32), LOSSES["mse"])
    lib.set_params(theta0)
    cols = np.rint(grad[s["W2"]] / grad[s["b2"]].repeat(layout.k)).astype(np.int64) - 1
    by_target = cols.reshape(layout.n, layout.k)
    assert (cols >= 0).all() and (cols < layout.n).all() and (np.diff(by_target, axis=1) > 0).all(), \
        "probed sources are not sorted distinct copies of h1"
    return np.repeat(np.arange(layout.n), layout.k), cols


def listed_sources(args):
    """The same from `rslc --emit=lifted --print-edges` (lines `  h1#i -> h2#j`),
    in printed (forward) order; for lifts small enough to be listed."""
    text = rslc(args, "--emit=lifted", "--print-edges")
    pairs = np.array(re.findall(rb"^  h1#(\d+) -> h2#(\d+)$", text, re.M), dtype=np.int64)
    return pairs[:, 1], pairs[:, 0]


# --- PyTorch peers ----------------------------------------------------------

class Peer:
    """relu(W1 x + b1) -> relu(middle(h1) + b2) -> W3 h2 + b3; the middle
    layer (weights and product) is the subclass's."""
    trainable = True

    def __init__(self, p):
        self.dense = [p[name].clone().requires_grad_() for name in ("W1", "b1", "b2", "W3", "b3")]

    def forward(self, x):
        W1, b1, b2, W3, b3 = self.dense
        h1 = torch.relu(F.linear(x, W1, b1))
        return F.linear(torch.relu(self.middle(h1) + b2), W3, b3)

    def step(self, x, t, loss_fn, lr):
        """One SGD step (forward, backward, update); returns the loss."""
        loss = loss_fn(self.forward(x), t)
        loss.backward()
        with torch.no_grad():
            for w in self.dense:
                w.add_(w.grad, alpha=-lr)
                w.grad = None
            self.update_middle(lr)
        return loss.item()

    def params(self, grads=False):
        """Parameters (or gradients) by layout name."""
        W1, b1, b2, W3, b3 = (w.grad if grads else w for w in self.dense)
        return {"W1": W1, "b1": b1, "b2": b2, "W3": W3, "b3": b3, "W2": self.middle_values(grads)}


class MaskedDense(Peer):
    def __init__(self, p, rows, cols, n):
        super().__init__(p)
        self.rows, self.cols = torch.from_numpy(rows), torch.from_numpy(cols)
        self.mask = torch.zeros(n, n)
        self.mask[self.rows, self.cols] = 1
        self.W2 = torch.zeros(n, n)
        self.W2[self.rows, self.cols] = p["W2"]
        self.W2.requires_grad_()

    def middle(self, h1):
        return torch.mm(h1, (self.W2 * self.mask).t())

    def update_middle(self, lr):
        self.W2.add_(self.W2.grad, alpha=-lr)  # the gradient is masked already
        self.W2.grad = None

    def middle_values(self, grads):
        return (self.W2.grad if grads else self.W2)[self.rows, self.cols]


class Coo(Peer):
    def __init__(self, p, rows, cols, n):
        super().__init__(p)
        indices = torch.from_numpy(np.stack([rows, cols]))
        # Forward order is row-major (target, then sorted source): coalescing
        # keeps it, so the values stay in layout order.
        self.W2 = torch.sparse_coo_tensor(indices, p["W2"], (n, n)).coalesce().requires_grad_()

    def middle(self, h1):
        return torch.sparse.mm(self.W2, h1.t()).t()

    def update_middle(self, lr):
        # The gradient of torch.sparse.mm has the weight's indices, in its
        # order (checked in verify()): update the values in place.
        self.W2._values().add_(self.W2.grad._values(), alpha=-lr)
        self.W2.grad = None

    def middle_values(self, grads):
        w = self.W2.grad if grads else self.W2
        assert torch.equal(w._indices(), self.W2._indices()), "COO gradient indices differ"
        return w._values()


class Csr(Peer):
    trainable = False

    def __init__(self, p, rows, cols, n):
        super().__init__(p)
        crow = torch.from_numpy(np.searchsorted(rows, np.arange(n + 1)))
        self.W2 = torch.sparse_csr_tensor(crow, torch.from_numpy(cols), p["W2"], (n, n))

    def middle(self, h1):
        return torch.mm(self.W2, h1.t()).t()


def loss_function(kind):
    if kind == "ce":
        return F.cross_entropy  # mean over the batch of softmax cross-entropy
    return lambda y, t: 0.5 * ((y - t) ** 2).sum() / y.shape[0]  # rslc: mean_b sum_o (y-t)^2/2


# --- One configuration (in its own process) ---------------------------------

def seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_ms(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    return 1e3 * float(np.median([seconds(fn) for _ in range(reps)]))


# The masked dense peer holds n x n weights, mask and gradient: beyond this
# many elements (1 GiB per float32 matrix) it is left out of a configuration.
MAX_DENSE_ELEMENTS = 1 << 28


def rslc_step_ms(lib, x, t, loss, lr, reps, warmup):
    """One step inside a training run. A call rslc_train(max_steps = s) also
    sets up its state (first touches of its buffers) and evaluates the final
    loss and metrics once, so a step is the difference of a call of reps + 1
    steps and a call of 1 step, divided by reps (median of 3 such pairs)."""
    train = lambda s: seconds(lambda: lib.train(x, t, loss, lr, s))
    for _ in range(warmup):
        train(1)
    return 1e3 * float(np.median([(train(reps + 1) - train(1)) / reps for _ in range(3)]))


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / max(np.linalg.norm(b), 1e-30))


def verify(lib, layout, peers, x, t_rslc, t_torch, loss, lr):
    """Loss and gradients of every trainable peer against rslc's, the
    parameters after one SGD step against rslc_train's, and every peer's
    output against rslc_forward. Returns the relative errors."""
    theta0 = lib.params()
    loss_rslc, grad_rslc = lib.loss_and_grad(x, t_rslc, LOSSES[loss])
    y_rslc = np.empty((len(x), layout.out), np.float32)
    lib.forward(x, y_rslc)
    lib.train(x, t_rslc, LOSSES[loss], lr, 1)
    theta1 = lib.params()
    lib.set_params(theta0)
    xt, loss_fn, report = torch.from_numpy(x), loss_function(loss), {}
    for name, peer in peers.items():
        with torch.no_grad():
            r = {"output": rel(peer.forward(xt).numpy(), y_rslc)}
        if peer.trainable:
            value = loss_fn(peer.forward(xt), t_torch)
            value.backward()
            r["loss"] = abs(value.item() - loss_rslc) / abs(loss_rslc)
            r["grad"] = rel(layout.pack(peer.params(grads=True)), grad_rslc)
            for w in peer.dense:
                w.grad = None
            peer.W2.grad = None
            peer.step(xt, t_torch, loss_fn, lr)
            r["sgd_step"] = rel(layout.pack(peer.params()), theta1)
        report[name] = r
        bad = {key: v for key, v in r.items() if not v <= (TOL_LOSS if key == "loss" else TOL_GRAD)}
        if bad:
            raise SystemExit(f"torch_peer: {name} disagrees with rslc ({loss} loss, batch {len(x)}): "
                             f"relative errors {bad}; rslc loss {loss_rslc!r}")
    return {"rslc_loss": loss_rslc, **report}


def worker(args):
    threads, batch, loss = args.threads[0], args.batch[0], args.loss[0]
    torch.set_num_threads(threads)
    lib = Library(args.library)
    layout = Layout(rslc(args, "--emit=lifted"), lib.num_params)
    rows, cols = probe_sources(lib, layout)
    if lib.lifted_edges <= MAX_LISTED_EDGES:
        r, c = listed_sources(args)
        assert np.array_equal(r, rows) and np.array_equal(c, cols), "probe differs from --print-edges"
    p = layout.unpack(lib.params())
    kinds = (("masked_dense", MaskedDense), ("coo", Coo), ("csr", Csr))
    peers = {name: cls(p, rows, cols, layout.n) for name, cls in kinds
             if name != "masked_dense" or layout.n ** 2 <= MAX_DENSE_ELEMENTS}

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((batch, layout.d), dtype=np.float32)
    if loss == "ce":
        labels = rng.integers(0, layout.out, batch)
        t_rslc, t_torch = labels.astype(np.float32), torch.from_numpy(labels)
    else:
        t_rslc = rng.standard_normal((batch, layout.out), dtype=np.float32)
        t_torch = torch.from_numpy(t_rslc)
    checks = verify(lib, layout, peers, x, t_rslc, t_torch, loss, args.lr)

    xt, loss_fn, y = torch.from_numpy(x), loss_function(loss), np.empty((batch, layout.out), np.float32)
    step = {"rslc": rslc_step_ms(lib, x, t_rslc, LOSSES[loss], args.lr, args.reps, args.warmup)}
    infer = {"rslc": median_ms(lambda: lib.forward(x, y), args.reps, args.warmup)}
    for name, peer in peers.items():
        if peer.trainable:
            step[name] = median_ms(lambda: peer.step(xt, t_torch, loss_fn, args.lr), args.reps, args.warmup)
        with torch.no_grad():
            infer[name] = median_ms(lambda: peer.forward(xt), args.reps, args.warmup)

    openblas = ctypes.CDLL("libopenblas.so.0")
    openblas.openblas_get_corename.restype = ctypes.c_char_p
    print(json.dumps({
        "blueprint": os.path.basename(args.blueprint), "lift": args.lift, "n": layout.n, "k": layout.k,
        "d": layout.d, "batch": batch, "threads": threads, "loss": loss, "reps": args.reps,
        "lifted_edges": lib.lifted_edges, "params": lib.num_params,
        "step_ms": step, "infer_ms": infer,
        "step_ratio": {name: v / step["rslc"] for name, v in step.items() if name != "rslc"},
        "infer_ratio": {name: v / infer["rslc"] for name, v in infer.items() if name != "rslc"},
        "verify": checks, "csr": "inference only: no sparse weight gradient in PyTorch 1.13",
        "torch": torch.__version__, "openblas_core": openblas.openblas_get_corename().decode(),
    }), flush=True)


# --- Driver -----------------------------------------------------------------

def compile_library(args):
    """rslc -o into the cache, keyed by the blueprint, lift, n, k and rslc."""
    with open(args.blueprint, "rb") as f:
        key = hashlib.sha256(f.read())
    st = os.stat(args.rslc)
    key.update(f"{args.lift} {args.n} {args.k} {st.st_size} {st.st_mtime_ns}".encode())
    os.makedirs(args.cache, exist_ok=True)
    base = os.path.join(args.cache, f"{args.lift}-n{args.n}-k{args.k}-{key.hexdigest()[:12]}")
    if not os.path.exists(base + ".so"):
        rslc(args, "-o", base)
    return base + ".so"


def table(rows):
    lines = [f"{'n':>6} {'k':>4} {'batch':>5} {'thr':>3} {'loss':>4}  {'peer':<13}"
             f"{'step ms':>10} {'x rslc':>7} {'infer ms':>10} {'x rslc':>7}"]
    for r in rows:
        for name, ms in r["infer_ms"].items():
            s = r["step_ms"].get(name)
            step = f"{s:10.2f} {s / r['step_ms']['rslc']:7.2f}" if s is not None else f"{'-':>10} {'-':>7}"
            lines.append(f"{r['n']:>6} {r['k']:>4} {r['batch']:>5} {r['threads']:>3} {r['loss']:>4}  "
                         f"{name:<13}{step} {ms:10.2f} {ms / r['infer_ms']['rslc']:7.2f}")
    return "\n".join(lines)


def main():
    ints = lambda s: [int(v) for v in s.split(",")]
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096, help="copies per hidden vertex")
    ap.add_argument("--k", type=int, default=32, help="in-degree of the sparse layer")
    ap.add_argument("--batch", type=ints, default=[256], help="batch sizes, comma-separated")
    ap.add_argument("--threads", type=ints, default=[2], help="thread counts, comma-separated")
    ap.add_argument("--loss", type=lambda s: s.split(","), default=["ce"], help="mse, ce or both")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions (median)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed repetitions first")
    ap.add_argument("--lr", type=float, default=0.01, help="SGD learning rate")
    ap.add_argument("--seed", type=int, default=0, help="numpy seed of the batch")
    ap.add_argument("--blueprint", default=os.path.join(ROOT, "bench", "reference.rsl"))
    ap.add_argument("--lift", default="sparse")
    ap.add_argument("--rslc", default=os.path.join(ROOT, "build", "bin", "rslc"))
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "rslc-torch-peer"),
                    help="where compiled libraries are kept")
    ap.add_argument("--library", help=argparse.SUPPRESS)  # set for the per-configuration worker
    args = ap.parse_args()
    assert set(args.loss) <= set(LOSSES), f"--loss: one of {sorted(LOSSES)}"
    if args.library:
        return worker(args)

    library = compile_library(args)
    rows = []
    for loss, batch, threads in itertools.product(args.loss, args.batch, args.threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        cmd = [sys.executable, os.path.abspath(__file__), "--library", library,
               "--n", str(args.n), "--k", str(args.k), "--batch", str(batch),
               "--threads", str(threads), "--loss", loss, "--reps", str(args.reps),
               "--warmup", str(args.warmup), "--lr", str(args.lr), "--seed", str(args.seed),
               "--blueprint", args.blueprint, "--lift", args.lift, "--rslc", args.rslc]
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        if proc.returncode:
            sys.exit(proc.returncode)
        print(proc.stdout, end="", flush=True)
        rows.append(json.loads(proc.stdout))
    print(table(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
