"""Checks an `rslc --check-optimum` LU certificate against the lifted edges
(`--print-edges`), independently of the compiler's search: the inner copy k
must be the only path of three cells of the 2x2 block and the fourth cell
must have another path, counted by brute force over every lifted edge.
Usage: verify_lu.py EDGES DIAGNOSTICS INNER_VERTEX..."""
import re
import sys
from collections import defaultdict

edges_file, diag_file, inner = sys.argv[1], sys.argv[2], set(sys.argv[3:])
reads = defaultdict(set)  # target copy -> source copies
for line in open(edges_file):
    m = re.match(r"\s+(\S+#\d+) -> (\S+#\d+)$", line)
    if m:
        reads[m.group(2)].add(m.group(1))

note = re.search(r"note: (\S+) is the only path from (\S+) and (\S+) to (\S+) and from \S+ to "
                 r"(\S+), and \S+ also reads \S+ (?:directly|through (\S+));",
                 open(diag_file).read())
assert note, "no certificate in the diagnostics"
k, j1, j2, i1, i2, other = note.groups()


def paths(i, j):
    """Inner copies on a path j -> h -> i, plus j itself if i reads it directly."""
    via = {h for h in reads[i] if h.split("#")[0] in inner and j in reads[h]}
    return via | ({j} if j in reads[i] else set())


for cell in [(i1, j1), (i1, j2), (i2, j1)]:
    assert paths(*cell) == {k}, (cell, paths(*cell))
extra = paths(i2, j2) - {k}
assert k in paths(i2, j2) and extra, (i2, j2, paths(i2, j2))
assert other is None or other in extra, (other, extra)
print("certificate verified:", k, "cells", i1, i2, "x", j1, j2, "other path", sorted(extra)[0])
