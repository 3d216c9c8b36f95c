# Variances of the exported initial parameters of init_laws.test, against
# the laws declared (layout: W:x->h 8 x 4000, W:h->y 4000, b:h 4000, b:y 1).
import sys
import numpy as np

p, q = np.load(sys.argv[1]).astype(float), np.load(sys.argv[2]).astype(float)
d, n = 8, 4000
parts = {"first layer": (p[: d * n].var() * d, 4.0),
         "second layer": (p[d * n: d * n + n].var() * n, 0.25),
         "hidden biases": (p[d * n + n: d * n + 2 * n].var(), 0.09)}
for name, (got, want) in parts.items():
    ok = abs(got / want - 1) < 0.06  # 4000+ samples: a few percent
    print(f"{name} {got:.4f} {'ok' if ok else 'WRONG, expected %g' % want}")
print("seeds differ", "ok" if np.all(p[-n - 1:] != q[-n - 1:]) else "WRONG")
