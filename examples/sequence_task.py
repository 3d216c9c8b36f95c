#!/usr/bin/env python3
"""A small sequence task that needs attention: pointer lookup.

    examples/sequence_task.py OUT_DIR [--samples 20000] [--tokens 8] [--classes 8] [--seed 1]

Each sample is T tokens; token 0 holds a position p in 1..T-1, tokens 1..T-1
hold random values in 0..V-1, and the target is the value at position p.
A token's features are one-hot(value) (V) then one-hot(its position) (T),
so the input is [T, V + T] per sample. Finding the answer means reading the
token that token 0 points at: attention by content and position. Writes
OUT_DIR/{train,test}-{x,y}.npy (80% / 20%) as float32."""
import argparse
import os

import numpy as np


def make(samples, tokens, classes, rng):
    values = rng.integers(0, classes, (samples, tokens))
    pointer = rng.integers(1, tokens, samples)
    values[:, 0] = pointer
    x = np.zeros((samples, tokens, classes + tokens), np.float32)
    rows = np.arange(samples)[:, None]
    x[rows, np.arange(tokens)[None, :], values] = 1
    x[:, np.arange(tokens), classes + np.arange(tokens)] = 1
    y = values[np.arange(samples), pointer].astype(np.float32)
    return x.reshape(samples, -1), y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.classes < a.tokens:
        raise SystemExit("--classes must be at least --tokens (token 0 holds a position)")
    rng = np.random.default_rng(a.seed)
    x, y = make(a.samples, a.tokens, a.classes, rng)
    cut = a.samples * 4 // 5
    os.makedirs(a.out, exist_ok=True)
    for name, arr in (("train-x", x[:cut]), ("train-y", y[:cut]), ("test-x", x[cut:]),
                      ("test-y", y[cut:])):
        np.save(os.path.join(a.out, name + ".npy"), arr)


if __name__ == "__main__":
    main()
