"""Independent numpy references for generated libraries (float32 builds).

  reference.py lifted LIB.so LISTING CHECKED.rsl MODULE [SCALE]
      The library computes its lifted network: a numpy evaluation of it,
      from the base graph in the checked blueprint, the lifted edges in
      LISTING (`rslc --emit=lifted --print-edges`) and the library's own
      parameters, must give its outputs (inputs uniform in [-SCALE, SCALE]).
      With the identity lift (--module), this is the base network itself.
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
        lib.rslc_backward.argtypes = [ctypes.c_void_p, f32p, f32p]
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


def split_top(text):
    """Splits at commas outside brackets and parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([" and 1 or ch in ")]" and -1 or 0
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return parts + [cur.strip()] if cur.strip() else parts


def parse_module(text, name):
    """Vertices and edges of MODULE in the checked blueprint (--emit=checked)."""
    body = re.search(r"^module " + re.escape(name) + r" \{\n(.*?)^\}", text, re.M | re.S).group(1)
    vertices, edges = [], []
    for line in body.splitlines():
        line = line.strip().rstrip(";")
        m = re.match(r"(input|hidden|output) (\S+): (.*)$", line)
        if m:
            role, vname, rest = m.groups()
            fields = split_top(rest)
            shape = [int(e) for e in re.findall(r"\d+", fields[0])]
            v = dict(role=role, name=vname, shape=shape, dim=int(np.prod(shape)), act="identity",
                     axis=-1, bias=False, agg="sum", causal=False)
            for f in fields[1:]:
                if f in ("bias", "nobias"):
                    v["bias"] = f == "bias"
                elif f in ("prod", "attention", "sum"):
                    v["agg"] = f
                elif f == "causal":
                    v["causal"] = True
                else:
                    am = re.match(r"(\w+)(?:\((\d+)\))?$", f)
                    v["act"], v["axis"] = am.group(1), int(am.group(2)) if am.group(2) else -1
            vertices.append(v)
            continue
        m = re.match(r"(\S+) -> (\S+): (\w+)(?:\(([^)]*)\))?(?:, share (\S+))?$", line)
        src, dst, kind, args, share = m.groups()
        params = dict(kernel=1, stride=1, padding=0, dilation=1)
        for k, val in re.findall(r"(\w+) = (\d+)", args or ""):
            params[k] = int(val)
        edges.append(dict(src=src, dst=dst, map=kind, share=share, **params))
    return vertices, edges


def along_last_axis(u, v):
    return len(u) >= 2 and len(u) == len(v) and u[:-1] == v[:-1]


def weight_shape(e, u, v):
    """The shape of one edge's weights (docs/abi.md), or None."""
    if e["map"] == "linear":
        return (v[-1], u[-1]) if along_last_axis(u, v) else (int(np.prod(v)), int(np.prod(u)))
    if e["map"] == "diag":
        return tuple(v)
    if e["map"] == "conv":
        return (e["kernel"], e["kernel"])
    return None


def window(y, e, out_shape, pad_value):
    """For each kernel position (ky, kx), the (N, H', W') slice of y it reads."""
    k, s, p, d = e["kernel"], e["stride"], e["padding"], e["dilation"]
    n, h, w = y.shape
    yp = np.full((n, h + 2 * p, w + 2 * p), pad_value)
    yp[:, p:p + h, p:p + w] = y
    ho, wo = out_shape
    for ky in range(k):
        for kx in range(k):
            yield ky, kx, yp[:, ky * d:ky * d + s * (ho - 1) + 1:s, kx * d:kx * d + s * (wo - 1) + 1:s]


def apply_map(e, y, u, v):
    n = y.shape[0]
    m = e["map"]
    if m == "linear":
        if along_last_axis(u, v):
            return y @ e["w"].T
        return (y.reshape(n, -1) @ e["w"].T).reshape((n,) + tuple(v))
    if m == "diag":
        return y * e["w"]
    if m in ("skip", "query", "key", "value"):
        return y.reshape((n,) + tuple(v if m == "skip" else u))
    if m == "conv":
        return sum(e["w"][ky, kx] * win for ky, kx, win in window(y, e, v, 0.0))
    if m == "avgpool":
        return sum(win for _, _, win in window(y, e, v, 0.0)) / e["kernel"] ** 2
    if m == "maxpool":
        return np.max(np.stack([win for _, _, win in window(y, e, v, -np.inf)]), axis=0)
    raise ValueError(m)


def vertex_output(v, ins, params):
    """The vertex's activation from its in-edges' pre-activations."""
    if v["agg"] == "attention":
        q, k, val = ins["query"], ins["key"], ins["value"]
        scores = q @ np.swapaxes(k, 1, 2) / math.sqrt(q.shape[-1])
        if v["causal"]:
            t = scores.shape[1]
            scores = np.where(np.tril(np.ones((t, t), bool)), scores, -np.inf)
        p = np.exp(scores - scores.max(axis=-1, keepdims=True))
        z = (p / p.sum(axis=-1, keepdims=True)) @ val
    elif v["agg"] == "prod":
        z = np.prod(np.stack(list(ins["terms"])), axis=0)
    else:
        z = np.sum(np.stack(list(ins["terms"])), axis=0)
    if v["bias"]:
        z = z + params.reshape(v["shape"])
    act = v["act"]
    if act == "softmax":
        axis = 1 + (v["axis"] if v["axis"] >= 0 else len(v["shape"]) - 1)
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    if act == "layernorm":
        d = v["shape"][-1]
        gain, shift = params[:d], params[d:]
        mean = z.mean(axis=-1, keepdims=True)
        var = ((z - mean) ** 2).mean(axis=-1, keepdims=True)
        return (z - mean) / np.sqrt(var + 1e-5) * gain + shift
    return ACTIVATIONS[act](z)


def parse_listing(text):
    """Copies per vertex, the readout, and each base edge's lifted edges
    (source copy, target copy) in forward order, from `rslc --emit=lifted
    --print-edges`."""
    copies = {m.group(1): int(m.group(2))
              for m in re.finditer(r"^vertex (\S+): \w+, (\d+) cop", text, re.M)}
    readout = re.search(r"readout (\w+)", text).group(1)
    lifted = {}
    for u, i, v, j in re.findall(r"^  (\S+)#(\d+) -> (\S+)#(\d+)$", text, re.M):
        lifted.setdefault((u, v), []).append((int(i), int(j)))
    return copies, readout, lifted


def lifted_reference(lib_path, listing_path, checked_path, module, scale=1.0):
    """The lifted network computed in numpy from its structure (the listing)
    and the library's parameters, against the library's outputs."""
    vertices, edges = parse_module(open(checked_path).read(), module)
    copies, readout, lifted = parse_listing(open(listing_path).read())
    vmap = {v["name"]: v for v in vertices}
    model = Model(lib_path)
    params = model.array("get_params").astype(np.float64)
    # Layout (docs/abi.md): one tensor per weight group in order of first
    # use (per lifted edge in forward order, that edge's weights), then each
    # vertex's own parameters (bias, or layernorm's gains and shifts) per copy.
    offset, groups = 0, {}
    for i, e in enumerate(edges):
        u, v = vmap[e["src"]], vmap[e["dst"]]
        e["lifted"] = lifted[(e["src"], e["dst"])]
        # random lifts from an unlifted input read its components as copies
        e["components"] = (u["role"] == "input" and copies[e["src"]] == 1 and u["dim"] > 1 and
                           e["map"] == "linear" and max(i for i, _ in e["lifted"]) > 0)
        ushape = [1] if e["components"] else u["shape"]
        shape = weight_shape(e, ushape, v["shape"])
        if shape is None:
            continue
        key = e["share"] or ("edge", i)
        if key not in groups:
            size = int(np.prod(shape))
            n = len(e["lifted"])
            groups[key] = params[offset:offset + n * size].reshape((n,) + shape)
            offset += n * size
        e["w"] = groups[key]
    for v in vertices:
        per = 2 * v["shape"][-1] if v["act"] == "layernorm" else v["dim"] if v["bias"] else 0
        if v["role"] != "input":
            v["p"] = params[offset:offset + copies[v["name"]] * per].reshape(copies[v["name"]], per)
            offset += copies[v["name"]] * per
    assert offset == len(params), (offset, len(params))

    rng = np.random.default_rng(0)
    samples = 37  # register tiles of vectors and single columns
    x = (scale * rng.uniform(-1, 1, (samples, model.nin))).astype(np.float32)
    values, col = {}, 0  # vertex -> list of per-copy arrays (samples, *shape)
    for v in vertices:
        if v["role"] == "input":
            values[v["name"]] = [x[:, col:col + v["dim"]].astype(np.float64).reshape([samples] + v["shape"])]
            col += v["dim"]
    pending = [v for v in vertices if v["role"] != "input"]
    while pending:  # topological order
        for v in pending:
            ins = [e for e in edges if e["dst"] == v["name"]]
            if all(e["src"] in values for e in ins):
                break
        outs = []
        for j in range(copies[v["name"]]):
            terms = {"terms": []}
            for e in ins:
                u = vmap[e["src"]]
                z = 0
                for q, (i, jj) in enumerate(e["lifted"]):
                    if jj != j:
                        continue
                    if e["components"]:
                        y, ushape = values[e["src"]][0].reshape(samples, -1)[:, i:i + 1], [1]
                    else:
                        y, ushape = values[e["src"]][i], u["shape"]
                    if "w" in e:
                        e["wq"] = e["w"][q]
                    z = z + apply_map(dict(e, w=e.get("wq")), y, ushape, v["shape"])
                terms.setdefault(e["map"], z) if e["map"] in ("query", "key", "value") else terms["terms"].append(z)
            outs.append(vertex_output(v, terms, v["p"][j]))
        values[v["name"]] = outs
        pending.remove(v)
    scale_of = {"mean": lambda n: 1 / n, "sqrt": lambda n: 1 / math.sqrt(n), "sum": lambda n: 1}
    ref = np.concatenate([scale_of[readout](copies[v["name"]]) * sum(values[v["name"]]).reshape(samples, -1)
                          for v in vertices if v["role"] == "output"], axis=1)
    name = f"lift of {module} = numpy" + (f" (inputs x {scale:g})" if scale != 1 else "")
    batched = model.forward(x)
    check(name, batched, ref)
    # Each column sees the same operations whatever tile holds it.
    alone = np.concatenate([model.forward(x[s:s + 1]) for s in range(samples)])
    same = np.array_equal(alone, batched)
    print(f"{'ok' if same else 'FAIL'} samples alone = in a batch of {samples}, bit for bit")
    global passed, failed
    passed, failed = passed + same, failed + (not same)


def mlp_reference(lib_path, n, d=4, c=3, B=16):
    """The fully-connected lift of mlp.rsl against the dense MLP in numpy:
    outputs, loss, every parameter's gradient, and dL/dx."""
    model = Model(lib_path)
    p = model.array("get_params")
    sizes = [n * d, n * n, n * c, n, n, c]  # W1, W2, W3, then biases of h1, h2, y
    parts = np.split(p.astype(np.float64), np.cumsum(sizes)[:-1])
    W1, W2, W3 = parts[0].reshape(n, d), parts[1].reshape(n, n), parts[2].reshape(n, c)
    b1, b2, b3 = parts[3], parts[4], parts[5]
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (B, d)).astype(np.float32)
    t = rng.uniform(-1, 1, (B, c)).astype(np.float32)
    X = x.astype(np.float64)
    z1 = X @ W1.T + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ W2.T + b2
    h2 = np.tanh(z2)
    y = h2 @ W3 + b3
    check("fully-connected lift = dense MLP (forward)", model.forward(x), y)
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
    model.forward(x)
    dx = np.zeros((B, d), np.float32)
    assert model.lib.rslc_backward(model.h, model.ptr(dy.astype(np.float32)), model.ptr(dx)) == 0
    check("fully-connected lift = dense MLP (input gradient)", dx, dz1 @ W1)


if sys.argv[1] == "lifted":
    lifted_reference(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                     float(sys.argv[6]) if len(sys.argv) > 6 else 1.0)
else:
    mlp_reference(sys.argv[2], *(int(a) for a in sys.argv[3:]))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
