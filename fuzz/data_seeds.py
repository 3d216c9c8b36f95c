#!/usr/bin/env python3
"""Writes DataFuzzer's seed corpus into DIR: one small valid file per reader,
each prefixed with the byte that picks its reader (fuzz/DataFuzzer.cpp):
0 CSV, 1 .npy, 2 .npz, 3 IDX (plain and gzip), 4 a checkpoint.
Usage: data_seeds.py DIR"""
import gzip
import io
import os
import struct
import sys
import zipfile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def seed(name, pick, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([pick]) + body)


def npy(shape, dtype="<f4", values=None):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        dtype, "".join(f"{d}, " for d in shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    n = 1
    for d in shape:
        n *= d
    fmt = {"<f4": "f", "<f8": "d", "|u1": "B", "<i4": "i"}[dtype]
    data = struct.pack("<%d%s" % (n, fmt), *(values or [k % 7 for k in range(n)]))
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def fnv1a(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


seed("csv", 0, b"x1,x2,y\n1,2,3\n4.5,-6e-3,7\n")
seed("npy-f4", 1, npy((3, 2)))
seed("npy-u1", 1, npy((2, 2, 2), "|u1"))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("x.npy", npy((2, 3)))
seed("npz-stored", 2, buf.getvalue())
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("x.npy", npy((4, 2), "<f8"))
seed("npz-deflated", 2, buf.getvalue())
idx = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 2, 2) + bytes(range(8))
seed("idx", 3, idx)
seed("idx-gz", 3, gzip.compress(idx))
body = b"RSLCCKPT" + struct.pack("<I", 2)
ident, note = b"module\nm\nlift\nreal 4", b'{"provenance": {}}'
body += struct.pack("<Q", len(ident)) + ident + struct.pack("<Q", len(note)) + note
body += struct.pack("<iqdd", 4, 12, 0.5, 0.01)
for v in ([0.1, 0.2], [0.3, 0.4], [1.0, -2.0]):
    body += struct.pack("<Q", len(v)) + struct.pack("<%dd" % len(v), *v)
seed("checkpoint", 4, body + struct.pack("<Q", fnv1a(body)))
