"""Rewrites a valid checkpoint with a damaged optimiser state and a correct
checksum (FNV-1a, as runtime/Checkpoint.cpp writes it): the checksum cannot
catch these, rslc_load must (tests/Runtime/fail_checkpoint.test).
Usage: forge_checkpoint.py GOOD.ckpt OUTDIR"""
import os
import struct
import sys


def fnv1a(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


good = open(sys.argv[1], "rb").read()
pos = 12  # magic, format version
(n,) = struct.unpack_from("<Q", good, pos)
pos += 8 + n  # identity
(n,) = struct.unpack_from("<Q", good, pos)
pos += 8 + n  # note (format version 2)
state_at = pos
integrator, step, flow, size = struct.unpack_from("<iqdd", good, pos)
pos += 28
vectors = []
for _ in range(3):  # momentum, second moment, parameters
    (n,) = struct.unpack_from("<Q", good, pos)
    vectors.append(list(struct.unpack_from("<%dd" % n, good, pos + 8)))
    pos += 8 + 8 * n


def write(name, integrator=integrator, step=step, flow=flow, vectors=vectors, lengths=(None, None, None)):
    body = good[:state_at] + struct.pack("<iqdd", integrator, step, flow, size)
    for v, n in zip(vectors, lengths):
        body += struct.pack("<Q", len(v) if n is None else n) + struct.pack("<%dd" % len(v), *v)
    with open(os.path.join(sys.argv[2], name), "wb") as f:
        f.write(body + struct.pack("<Q", fnv1a(body)))


params = vectors[2]
write("integrator.ckpt", integrator=-5)  # Adam would read a missing moment
write("moments.ckpt", vectors=[params[:3], [], params])
write("nan.ckpt", vectors=[[], [], [float("nan")] + params[1:]])
write("length.ckpt", lengths=(None, None, 2**61))
write("step.ckpt", step=-1)
write("bigstep.ckpt", step=2**63 - 1)  # the step counter would overflow
write("flow.ckpt", flow=float("inf"))
