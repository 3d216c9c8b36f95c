"""Writes malformed .npy and IDX files into the directory argv[1]
(tests/Runtime/fail_data.test)."""
import os
import struct
import sys

out = sys.argv[1]


def npy(name, shape, descr="<f8", body=b""):
    header = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)).encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body)


npy("dim.npy", "(abc, 3)", body=bytes(24))
npy("negative.npy", "(-1, 3)", body=bytes(24))
npy("overflow.npy", "(4294967296, 4294967296)")  # 2^64 values: wraps to 0
npy("noshape.npy", "1, 3)", body=bytes(24))
npy("zero.npy", "(0, 3)")
npy("dtype.npy", "(1, 3)", descr="<f99999999999999999999", body=bytes(24))
with open(os.path.join(out, "big-idx3-ubyte"), "wb") as f:  # 3 x (2^32-1): overflows
    f.write(b"\x00\x00\x08\x03" + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + bytes(10))
