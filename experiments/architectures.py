#!/usr/bin/python3
"""The paper's architectures at real size, beside PyTorch in the same run.

Two tasks, each trained with rslc-train and with PyTorch (Debian's
python3-torch) on the same data, the same optimiser (Adam), batch size and
number of epochs, at each thread count:

  cnn          examples/cnn.rsl on Fashion-MNIST (60000 + 10000 images,
               standardised per pixel): rslc's sparse lift (each channel of
               the second convolution reads k of the first's 32 channels)
               and dense lift; PyTorch's dense CNN of the same shape, and the
               same CNN with a fixed random mask of k input channels per
               output channel (masked dense: what sparsity costs there).
  transformer  examples/transformer.rsl (attention heads, residuals, layer
               normalisation, an MLP) on the pointer-lookup task of
               examples/sequence_task.py; PyTorch's block of the same shape
               (batched matrix products for the heads).

An epoch is ceil(samples / batch) steps, then a pass over the test set; the
time per epoch covers both, for both systems. Writes architectures.csv (one
row per epoch) and architectures.md (a row per model and thread count).

    experiments/architectures.py --out results/arch                 # both, full size
    experiments/architectures.py --tasks transformer --epochs 2 --torch off --out /tmp/a
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslcexp  # noqa: E402
from real_data import FASHION, idx  # noqa: E402

EXAMPLES = os.path.join(rslcexp.ROOT, "examples")


#===--- Data ---------------------------------------------------------------===#

def fashion(out, samples):
    """Fashion-MNIST, the first `samples` training images: (train, test) as
    rslc-train arguments and as arrays (standardised with the training set's
    per-pixel statistics, as rslc-train --standardize does)."""
    xtr = idx(f"{FASHION}/train-images-idx3-ubyte.gz").reshape(-1, 784)[:samples].astype(np.float32)
    ytr = idx(f"{FASHION}/train-labels-idx1-ubyte.gz")[:samples].astype(np.int64)
    xte = idx(f"{FASHION}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32)
    yte = idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    train = os.path.join(out, "fashion-train.npz")
    test = os.path.join(out, "fashion-test.npz")
    np.savez(train, x=xtr, y=ytr.astype(np.float32).reshape(-1, 1))
    np.savez(test, x=xte, y=yte.astype(np.float32).reshape(-1, 1))
    mean, sd = xtr.astype(np.float64).mean(0), xtr.astype(np.float64).std(0)
    sd[sd == 0] = 1
    norm = lambda x: ((x - mean) / sd).astype(np.float32)  # noqa: E731
    args = ["--data", train, "--test-data", test, "--standardize"]
    return args, (norm(xtr), ytr, norm(xte), yte)


def sequences(out, samples, tokens, classes):
    """The pointer-lookup task (examples/sequence_task.py)."""
    d = os.path.join(out, "sequence")
    subprocess.run([sys.executable, os.path.join(EXAMPLES, "sequence_task.py"), d, "--samples",
                    str(samples), "--tokens", str(tokens), "--classes", str(classes)], check=True)
    a = {n: np.load(os.path.join(d, n + ".npy")) for n in ("train-x", "train-y", "test-x", "test-y")}
    args = ["--data", os.path.join(d, "train-x.npy"), "--targets", os.path.join(d, "train-y.npy"),
            "--test-data", os.path.join(d, "test-x.npy"), "--test-targets", os.path.join(d, "test-y.npy")]
    return args, (a["train-x"], a["train-y"].astype(np.int64), a["test-x"], a["test-y"].astype(np.int64))


#===--- rslc ---------------------------------------------------------------===#

def rslc_run(blueprint, lift, defines, data_args, train_samples, a, threads, out, tag):
    """Compiles and trains one lift; returns (parameters, [(test accuracy,
    seconds) per epoch])."""
    lib = rslcexp.compile_model(blueprint, os.path.join(out, tag), lift=lift, defines=defines)
    params, _ = rslcexp.sizes(lib)
    per_epoch = math.ceil(train_samples / a.batch_size)
    log = os.path.join(out, f"{tag}-{threads}.jsonl")
    if os.path.exists(log):
        os.remove(log)
    rslcexp.train(lib, log, data_args + [
        "--loss", "ce", "--integrator", "adam", "--step-size", a.step_size, "--batch-size",
        a.batch_size, "--steps", a.epochs * per_epoch, "--log-every", per_epoch], threads=threads)
    import json
    lines = [m for m in (json.loads(line) for line in open(log) if line.strip()) if "step" in m]
    # line 0: before training (after loading); line e: after epoch e
    epochs = [(lines[e]["test_accuracy"], lines[e]["wall_seconds"] - lines[e - 1]["wall_seconds"])
              for e in range(1, len(lines))]
    return params, epochs


#===--- PyTorch ------------------------------------------------------------===#

def torch_cnn(c1, c2, k, masked, seed):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(seed)

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, c1, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(c1, c2, 3, padding=1)
            self.head = torch.nn.Linear(c2 * 49, 10)
            mask = torch.zeros(c2, c1, 1, 1)
            if masked:  # k random input channels per output channel, fixed
                g = torch.Generator().manual_seed(seed)
                for j in range(c2):
                    mask[j, torch.randperm(c1, generator=g)[:k]] = 1
            self.register_buffer("mask", mask if masked else None)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x.view(-1, 1, 28, 28))), 2)
            w = self.conv2.weight * self.mask if self.mask is not None else self.conv2.weight
            x = F.max_pool2d(F.relu(F.conv2d(x, w, self.conv2.bias, padding=1)), 2)
            return self.head(x.flatten(1))

    return CNN()


def torch_transformer(T, In, D, dh, H, Fh, V, seed):
    import torch
    torch.manual_seed(seed)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Linear(In, D)
            self.qkv = torch.nn.Linear(D, 3 * H * dh, bias=False)
            self.proj = torch.nn.Linear(H * dh, D, bias=False)
            self.ln1, self.ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
            self.mlp1, self.mlp2 = torch.nn.Linear(D, Fh), torch.nn.Linear(Fh, D)
            self.head = torch.nn.Linear(T * D, V)

        def forward(self, x):
            B = x.shape[0]
            e = self.embed(x.view(B, T, In))
            q, k, v = self.qkv(e).view(B, T, 3, H, dh).permute(2, 0, 3, 1, 4)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), -1) @ v
            n = self.ln1(e + self.proj(att.transpose(1, 2).reshape(B, T, H * dh)))
            n2 = self.ln2(n + self.mlp2(torch.relu(self.mlp1(n))))
            return self.head(n2.flatten(1))

    return Block()


def rslc_init(model):
    """rslc's initial law (docs/language.md, `init`): weights normal with
    variance 1 / fan_in, biases 0 (layer norms: gains 1, shifts 0)."""
    import torch
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0, 1 / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.zero_()
    return model


def torch_run(model, arrays, a, threads):
    """Adam, cross-entropy, shuffled mini-batches; returns (parameters,
    [(test accuracy, seconds) per epoch])."""
    import torch
    torch.set_num_threads(threads)
    if a.torch_init == "rslc":
        rslc_init(model)
    xtr, ytr, xte, yte = (torch.from_numpy(np.ascontiguousarray(v)) for v in arrays)
    opt = torch.optim.Adam(model.parameters(), lr=a.step_size)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    epochs = []
    for _ in range(a.epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(xtr), generator=g)
        for b in range(0, len(xtr), a.batch_size):
            rows = order[b:b + a.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xtr[rows]), ytr[rows]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(xte[b:b + 1000]).argmax(1) == yte[b:b + 1000]).sum())
                          for b in range(0, len(xte), 1000))
        epochs.append((correct / len(xte), time.perf_counter() - start))
    params = sum(p.numel() for p in model.parameters())
    return params, epochs


def torch_available():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


#===--- Driver -------------------------------------------------------------===#

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="cnn,transformer")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--torch", choices=["auto", "on", "off"], default="auto",
                    help="PyTorch peers: auto runs them when python3-torch is installed")
    ap.add_argument("--torch-init", choices=["rslc", "torch"], default="rslc",
                    help="PyTorch's initial weights: rslc's law (default) or PyTorch's own")
    ap.add_argument("--train-samples", type=int, default=60000, help="cnn: training images used")
    ap.add_argument("--k", type=int, default=8, help="cnn: input channels per sparse channel")
    ap.add_argument("--sequences", type=int, default=20000, help="transformer: samples (80%% train)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: 128 (cnn), 64 (transformer)")
    ap.add_argument("--step-size", type=float, default=1e-3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    use_torch = a.torch == "on" or (a.torch == "auto" and torch_available())
    if a.torch == "on" and not torch_available():
        sys.exit("architectures.py: --torch on, but python3-torch is not installed")
    threads = [int(t) for t in a.threads.split(",")]
    rows = []

    def record(task, system, model, nthreads, params, epochs):
        for e, (acc, sec) in enumerate(epochs, 1):
            rows.append(dict(task=task, system=system, model=model, threads=nthreads, params=params,
                             epoch=e, test_accuracy=round(acc, 4), seconds=round(sec, 3)))
        print(f"{task:<11} {system:<7} {model:<14} {nthreads} thr  params {params:>9,}  "
              f"test accuracy {epochs[-1][0]:.4f}  s/epoch {np.mean([s for _, s in epochs]):.2f}",
              flush=True)

    for task in a.tasks.split(","):
        if task == "cnn":
            batch = a.batch_size or 128
            run_args = argparse.Namespace(**dict(vars(a), batch_size=batch))
            data_args, arrays = fashion(a.out, a.train_samples)
            blueprint = os.path.join(EXAMPLES, "cnn.rsl")
            for t in threads:
                for lift in ("sparse", "dense"):
                    params, epochs = rslc_run(blueprint, lift, {"k": a.k}, data_args, len(arrays[0]),
                                              run_args, t, a.out, f"cnn-{lift}")
                    record("cnn", "rslc", lift if lift == "dense" else f"sparse k={a.k}", t, params, epochs)
                if use_torch:
                    for masked in (False, True):
                        params, epochs = torch_run(torch_cnn(32, 64, a.k, masked, 1), arrays, run_args, t)
                        if masked:  # the parameters the mask keeps
                            params -= 64 * (32 - a.k) * 9
                        record("cnn", "pytorch", f"masked k={a.k}" if masked else "dense", t, params, epochs)
        elif task == "transformer":
            batch = a.batch_size or 64
            run_args = argparse.Namespace(**dict(vars(a), batch_size=batch))
            T, V = 8, 8
            data_args, arrays = sequences(a.out, a.sequences, T, V)
            blueprint = os.path.join(EXAMPLES, "transformer.rsl")
            for t in threads:
                params, epochs = rslc_run(blueprint, "heads", {}, data_args, len(arrays[0]), run_args, t,
                                          a.out, "transformer")
                record("transformer", "rslc", "4 heads", t, params, epochs)
                if use_torch:
                    params, epochs = torch_run(torch_transformer(T, T + V, 32, 8, 4, 64, V, 1), arrays,
                                               run_args, t)
                    record("transformer", "pytorch", "4 heads", t, params, epochs)
        else:
            sys.exit(f"architectures.py: unknown task '{task}' (cnn, transformer)")

    with open(os.path.join(a.out, "architectures.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(a.out, "architectures.md"), "w") as f:
        f.write("| task | system | model | threads | parameters | test accuracy | seconds per epoch |\n"
                "|---|---|---|---|---|---|---|\n")
        seen = []
        for r in rows:
            key = (r["task"], r["system"], r["model"], r["threads"])
            if key in seen:
                continue
            seen.append(key)
            mine = [x for x in rows if (x["task"], x["system"], x["model"], x["threads"]) == key]
            f.write(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {r['params']:,} | "
                    f"{mine[-1]['test_accuracy']:.4f} | {np.mean([x['seconds'] for x in mine]):.2f} |\n")
    if not use_torch:
        print("(PyTorch peers skipped: python3-torch is not installed or --torch off)")
    print(open(os.path.join(a.out, "architectures.md")).read())


if __name__ == "__main__":
    main()
