"""Writes the Matrix Market files of tests/Lift/explicit.test into DIR."""
import os
import sys

HEAD = "%%MatrixMarket matrix coordinate pattern general\n"
files = {
    "in.mtx": HEAD + "% rows: copies of a, columns: components of x\n4 3 5\n1 1\n2 2\n3 3\n4 1\n4 3\n",
    "big.mtx": HEAD + "5 3 1\n1 1\n",
    "dense.mtx": "%%MatrixMarket matrix array real general\n4 3\n",
    "short.mtx": HEAD + "4 3 2\n1 1\n",
}
for name, text in files.items():
    with open(os.path.join(sys.argv[1], name), "w") as f:
        f.write(text)
