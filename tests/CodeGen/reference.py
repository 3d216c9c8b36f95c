"""Independent numpy references for generated libraries (float32 builds).

  reference.py identity LIB.so CHECKED.rsl MODULE
      The identity lift of MODULE (one copy per vertex) computes the base
      network: a numpy evaluation of the base graph read from the checked
      blueprint, with the library's own parameters, must give its outputs.
  reference.py mlp LIB.so N
      A fully-connected lift (width N) of x:4 -> relu -> tanh -> y:3 is the
      dense MLP: numpy's forward pass and hand-written backprop of the mean
      squared error must give the library's outputs and gradients.
Prints "N passed, M failed"."""
import ctypes
import math
import re
import sys

import numpy as np

passed = failed = 0


def check(what, ours, ref, rtol=1e-4, atol=1e-5):
    global passed, failed
    ok = np.allclose(ours, ref, rtol=rtol, atol=atol)
    err = float(np.max(np.abs(np.asarray(ours) - np.asarray(ref))))
    print(f"{'ok' if ok else 'FAIL'} {what}: max abs difference {err:.3g}")
    passed, failed = passed + ok, failed + (not ok)


class Model:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        f32p, i64 = ctypes.POINTER(ctypes.c_float), ctypes.c_int64
        lib.rslc_create.argtypes = [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
        for name in ("input_size", "output_size", "num_params"):
            getattr(lib, "rslc_" + name).argtypes = [ctypes.c_void_p]
            getattr(lib, "rslc_" + name).restype = i64
        lib.rslc_forward.argtypes = [ctypes.c_void_p, f32p, i64, f32p]
        lib.rslc_loss_and_grad.argtypes = [ctypes.c_void_p, f32p, f32p, i64, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_double)]
        for name in ("get_params", "get_grads"):
            getattr(lib, "rslc_" + name).argtypes = [ctypes.c_void_p, f32p, i64]
        self.lib, self.h = lib, ctypes.c_void_p()
        assert lib.rslc_create(0, ctypes.byref(self.h)) == 0
        self.nin = lib.rslc_input_size(self.h)
        self.nout = lib.rslc_output_size(self.h)
        self.nparams = lib.rslc_num_params(self.h)

    @staticmethod
    def ptr(a):
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def forward(self, x):
        y = np.zeros((x.shape[0], self.nout), np.float32)
        assert self.lib.rslc_forward(self.h, self.ptr(x), x.shape[0], self.ptr(y)) == 0
        return y

    def array(self, name):
        a = np.zeros(self.nparams, np.float32)
        assert getattr(self.lib, "rslc_" + name)(self.h, self.ptr(a), self.nparams) == 0
        return a

    def loss_and_grad(self, x, t):
        loss = ctypes.c_double()
        assert self.lib.rslc_loss_and_grad(self.h, self.ptr(x), self.ptr(t), x.shape[0], 0,
                                           ctypes.byref(loss)) == 0
        return loss.value


erf = np.vectorize(math.erf)
ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "relu32": lambda z: np.clip(z, 0, 32),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "gelu": lambda z: 0.5 * z * (1 + erf(z / math.sqrt(2))),
    "softplus": lambda z: np.logaddexp(0, z),
    "silu": lambda z: z / (1 + np.exp(-z)),
}


def parse_module(text, name):
    body = re.search(r"^module " + re.escape(name) + r" \{\n(.*?)^\}", text, re.M | re.S).group(1)
    vertices, edges = [], []
    for line in body.splitlines():
        line = line.strip().rstrip(";")
        m = re.match(r"(input|hidden|output) (\S+): (\d+)(?:, (\w+), (bias|nobias)(?:, (prod))?)?$", line)
        if m:
            role, vname, dim, act, bias, prod = m.groups()
            vertices.append(dict(role=role, name=vname, dim=int(dim), act=act or "identity",
                                 bias=bias == "bias", prod=prod == "prod"))
            continue
        m = re.match(r"(\S+) -> (\S+): (\w+)(?:, share (\S+))?$", line)
        src, dst, kind, share = m.groups()
        edges.append(dict(src=src, dst=dst, map=kind, share=share))
    return vertices, edges


def identity_reference(lib_path, checked_path, module, scale=1.0):
    vertices, edges = parse_module(open(checked_path).read(), module)
    vmap = {v["name"]: v for v in vertices}
    model = Model(lib_path)
    params = model.array("get_params")
    # Layout (docs/lifted-ir.md): one tensor per weight group in order of
    # first use, then one bias per vertex with a bias.
    offset, groups = 0, {}
    for i, e in enumerate(edges):
        if e["map"] == "skip":
            continue
        key = e["share"] or ("edge", i)
        if key not in groups:
            du, dv = vmap[e["src"]]["dim"], vmap[e["dst"]]["dim"]
            size = du * dv if e["map"] == "linear" else dv
            groups[key] = params[offset:offset + size].reshape((dv, du) if e["map"] == "linear" else (dv,))
            offset += size
        e["w"] = groups[key]
    for v in vertices:
        if v["role"] != "input" and v["bias"]:
            v["b"] = params[offset:offset + v["dim"]]
            offset += v["dim"]
    assert offset == len(params), (offset, len(params))

    rng = np.random.default_rng(0)
    x = (scale * rng.uniform(-1, 1, (7, model.nin))).astype(np.float32)
    values, col = {}, 0
    for v in vertices:
        if v["role"] == "input":
            values[v["name"]] = x[:, col:col + v["dim"]].astype(np.float64)
            col += v["dim"]
    pending = [v for v in vertices if v["role"] != "input"]
    while pending:  # topological order
        for v in pending:
            ins = [e for e in edges if e["dst"] == v["name"]]
            if all(e["src"] in values for e in ins):
                break
        terms = []
        for e in ins:
            y = values[e["src"]]
            terms.append(y @ e["w"].T if e["map"] == "linear" else y * e["w"] if e["map"] == "diag" else y)
        z = np.prod(terms, axis=0) if v["prod"] else np.sum(terms, axis=0)
        if v["bias"]:
            z = z + v["b"]
        values[v["name"]] = ACTIVATIONS[v["act"]](z)
        pending.remove(v)
    ref = np.concatenate([values[v["name"]] for v in vertices if v["role"] == "output"], axis=1)
    check(f"identity lift of {module} = base network" + (f" (inputs x {scale:g})" if scale != 1 else ""),
          model.forward(x), ref)


def mlp_reference(lib_path, n):
    model = Model(lib_path)
    p = model.array("get_params")
    sizes = [n * 4, n * n, n * 3, n, n, 3]  # W1, W2, W3, then biases of h1, h2, y
    parts = np.split(p.astype(np.float64), np.cumsum(sizes)[:-1])
    W1, W2, W3 = parts[0].reshape(n, 4), parts[1].reshape(n, n), parts[2].reshape(n, 3)
    b1, b2, b3 = parts[3], parts[4], parts[5]
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (16, 4)).astype(np.float32)
    t = rng.uniform(-1, 1, (16, 3)).astype(np.float32)
    X = x.astype(np.float64)
    z1 = X @ W1.T + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ W2.T + b2
    h2 = np.tanh(z2)
    y = h2 @ W3 + b3
    check("fully-connected lift = dense MLP (forward)", model.forward(x), y)
    B = x.shape[0]
    loss = 0.5 * np.sum((y - t) ** 2) / B
    dy = (y - t) / B
    dW3, db3 = h2.T @ dy, dy.sum(0)
    dz2 = (dy @ W3.T) * (1 - h2 ** 2)
    dW2, db2 = dz2.T @ h1, dz2.sum(0)
    dz1 = (dz2 @ W2) * (z1 > 0)
    dW1, db1 = dz1.T @ X, dz1.sum(0)
    ours = model.loss_and_grad(x, t)
    check("fully-connected lift = dense MLP (loss)", ours, loss)
    g = model.array("get_grads")
    ref = np.concatenate([dW1.ravel(), dW2.ravel(), dW3.ravel(), db1, db2, db3])
    check("fully-connected lift = dense MLP (gradients)", g, ref)


if sys.argv[1] == "identity":
    identity_reference(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 1.0)
else:
    mlp_reference(sys.argv[2], int(sys.argv[3]))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
