"""rslc models in PyTorch, both ways.

    import rslc, rslc.torch
    block = rslc.torch.RslcModule(rslc.compile("model.rsl", lift="sparse"))
    net = torch.nn.Sequential(torch.nn.Linear(64, block.input_size), torch.nn.ReLU(), block)
    torch.optim.Adam(net.parameters()).step()     # trains the sparse block too

RslcModule runs a compiled library inside a PyTorch model: its forward and
backward are the library's kernels (torch.autograd.Function), its
parameters one flat torch Parameter. export() goes the other way: it builds
a torch.nn.Module that computes the same lifted network with PyTorch
operations (per base edge: gathers, batched products or grouped
convolutions, scatter-adds), with the model's parameters; differentiable,
movable to any device, and an independent check of the library.
"""
import math

import numpy as np
import torch

from . import Model, load

__all__ = ["RslcModule", "export"]


#===--- A library as a module ---------------------------------------------===#

class _LibraryFunction(torch.autograd.Function):
    """y = the library's forward of x with parameters theta; the backward
    gives dL/dx and dL/dtheta from the library's backward."""

    @staticmethod
    def forward(ctx, x, theta, module):
        model = module.model
        model.params = theta.detach().cpu().numpy()
        y = model.forward(x.detach().cpu().numpy())
        module._last = (x, theta)  # what the library's saved state is for
        ctx.module = module
        ctx.save_for_backward(x, theta)
        return torch.from_numpy(y).to(x.device)

    @staticmethod
    def backward(ctx, dy):
        module, (x, theta) = ctx.module, ctx.saved_tensors
        model = module.model
        if module._last is None or module._last[0] is not x or module._last[1] is not theta:
            # another forward ran since: recompute this one's state
            model.params = theta.detach().cpu().numpy()
            model.forward(x.detach().cpu().numpy())
        model.zero_grads()
        dx = model.backward(dy.detach().cpu().numpy())
        module._last = None
        return (torch.from_numpy(dx).to(x.device), torch.from_numpy(model.grads).to(theta.device),
                None)


class RslcModule(torch.nn.Module):
    """A compiled model as a torch.nn.Module: input (batch, input_size) or
    any shape flattening to it, output (batch, output_size). `model`: a
    library path or an rslc.Model. The parameters start as the model's and
    are written to the library at every forward, so any PyTorch optimiser
    (or state_dict load) trains them. Computes on the CPU, in the library's
    precision; inputs on another device are copied."""

    def __init__(self, model, seed=0):
        super().__init__()
        self.model = model if isinstance(model, Model) else load(model, seed)
        self.weight = torch.nn.Parameter(torch.from_numpy(self.model.params))
        self.input_size, self.output_size = self.model.input_size, self.model.output_size
        self._last = None

    def forward(self, x):
        x = x.reshape(x.shape[0], -1).to(torch.float32 if self.model.dtype == np.float32
                                          else torch.float64)
        return _LibraryFunction.apply(x, self.weight, self)

    def extra_repr(self):
        return repr(self.model)


#===--- The lifted network in PyTorch operations --------------------------===#

_ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    "relu32": lambda z: torch.clamp(z, 0, 32),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": lambda z: torch.nn.functional.gelu(z),
    "softplus": torch.nn.functional.softplus,
    "silu": torch.nn.functional.silu,
}


def _along_last_axis(u, v):
    return len(u) >= 2 and len(u) == len(v) and u[:-1] == v[:-1]


class _Exported(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        d = model.describe()
        self.description = d
        self.vertices = d["vertices"]
        self.readout = d["readout"]
        params = torch.from_numpy(model.params.astype(np.float64 if model.dtype == np.float64
                                                      else np.float32))
        self.tensor_names = []
        for k, t in enumerate(d["tensors"]):
            name = f"t{k}"
            self.tensor_names.append(name)
            self.register_parameter(name, torch.nn.Parameter(
                params[t["offset"]:t["offset"] + t["size"]].clone()))
        self.edges = []
        for e, info in enumerate(d["edges"]):
            src, dst = model.lifted_edges(e)
            self.register_buffer(f"src{e}", torch.from_numpy(src.astype(np.int64)))
            self.register_buffer(f"dst{e}", torch.from_numpy(dst.astype(np.int64)))
            self.edges.append(info)
        self.index = {v["name"]: i for i, v in enumerate(self.vertices)}
        # An evaluation order: every vertex after its sources (Kahn).
        preds = {v["name"]: {e["src"] for e in self.edges if e["dst"] == v["name"]}
                 for v in self.vertices}
        self.order, done = [], set()
        while len(self.order) < len(self.vertices):
            for v in self.vertices:
                if v["name"] not in done and preds[v["name"]] <= done:
                    self.order.append(v)
                    done.add(v["name"])

    def _tensor(self, k):
        return getattr(self, self.tensor_names[k])

    def _edge(self, e, y, ushape, u_copies, v):
        """Pre-activation contributions of base edge e: (batch, v copies, *v shape)."""
        info = self.edges[e]
        src, dst = getattr(self, f"src{e}"), getattr(self, f"dst{e}")
        vshape, m = v["shape"], info["map"]
        n, count = y.shape[0], src.shape[0]
        ys = y[:, src]  # (batch, E, *u shape): each lifted edge's source copy
        if m == "linear":
            if _along_last_axis(ushape, vshape):
                w = self._tensor(info["tensor"]).reshape(count, vshape[-1], ushape[-1])
                z = torch.einsum("be...a,eca->be...c", ys, w)
            else:
                w = self._tensor(info["tensor"]).reshape(count, math.prod(vshape), math.prod(ushape))
                z = torch.einsum("bea,eca->bec", ys.reshape(n, count, -1), w)
        elif m == "diag":
            z = ys * self._tensor(info["tensor"]).reshape((count,) + tuple(vshape))
        elif m in ("skip", "query", "key", "value"):
            z = ys.reshape((n, count) + tuple(vshape if m == "skip" else ushape))
        elif m in ("conv", "maxpool", "avgpool"):
            k, s, p = info["kernel"], info["stride"], info["padding"]
            flat = ys.reshape(n * count, 1, ushape[0], ushape[1]) if m != "conv" else \
                ys.reshape(n, count, ushape[0], ushape[1])
            if m == "conv":
                w = self._tensor(info["tensor"]).reshape(count, 1, k, k)
                z = torch.nn.functional.conv2d(flat, w, stride=s, padding=p,
                                               dilation=info["dilation"], groups=count)
            elif m == "maxpool":
                z = torch.nn.functional.max_pool2d(flat, k, stride=s, padding=p)
            else:  # divides by K^2 everywhere, padding included
                z = torch.nn.functional.avg_pool2d(flat, k, stride=s, padding=p,
                                                   count_include_pad=True)
            z = z.reshape((n, count) + tuple(vshape))
        else:
            raise ValueError(f"map {m}")
        out = torch.zeros((n, v["copies"]) + tuple(vshape if m not in ("query", "key", "value")
                                                    else ushape), dtype=z.dtype)
        return out.index_add(1, dst, z)

    def forward(self, x):
        n = x.shape[0]
        x = x.reshape(n, -1)
        values, col = {}, 0
        for v in self.vertices:
            if v["role"] == "input":
                values[v["name"]] = x[:, col:col + v["dim"]].reshape((n, 1) + tuple(v["shape"]))
                col += v["dim"]
        outputs = {}
        for v in self.order:
            if v["role"] == "input":
                continue
            terms, joint = [], {}
            for e, info in enumerate(self.edges):
                if info["dst"] != v["name"]:
                    continue
                u = self.vertices[self.index[info["src"]]]
                y, ushape = values[u["name"]], u["shape"]
                if info["source_components"]:  # an input's components as copies
                    y, ushape = y.reshape(n, -1, 1), [1]
                z = self._edge(e, y, ushape, u["copies"], v)
                if info["map"] in ("query", "key", "value"):
                    joint[info["map"]] = z
                else:
                    terms.append(z)
            if v["aggregation"] == "attention":
                q, k, val = joint["query"], joint["key"], joint["value"]
                scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
                if v["causal"]:
                    t = scores.shape[-1]
                    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
                    scores = scores.masked_fill(~mask, float("-inf"))
                z = torch.softmax(scores, -1) @ val
            elif v["aggregation"] == "prod":
                z = terms[0]
                for t in terms[1:]:
                    z = z * t
            else:
                z = sum(terms)
            params = self._tensor(v["tensor"]).reshape(v["copies"], -1) if v["tensor"] >= 0 else None
            if v["bias"]:
                z = z + params.reshape((1, v["copies"]) + tuple(v["shape"]))
            act = v["activation"]
            if act == "softmax":
                z = torch.softmax(z, 2 + v["axis"])
            elif act == "layernorm":
                a = v["shape"][-1]
                gain = params[:, :a].reshape((1, v["copies"]) + (1,) * (len(v["shape"]) - 1) + (a,))
                shift = params[:, a:].reshape(gain.shape)
                mean = z.mean(-1, keepdim=True)
                var = ((z - mean) ** 2).mean(-1, keepdim=True)
                z = (z - mean) / torch.sqrt(var + 1e-5) * gain + shift
            else:
                z = _ACTIVATIONS[act](z)
            values[v["name"]] = z
            if v["role"] == "output":
                c = v["copies"]
                scale = {"mean": 1 / c, "sqrt": 1 / math.sqrt(c), "sum": 1.0}[self.readout]
                outputs[v["name"]] = scale * z.sum(1).reshape(n, -1)
        # outputs in vertex order, as the library lays them out
        return torch.cat([outputs[v["name"]] for v in self.vertices if v["role"] == "output"], 1)

    def flat_params(self):
        """The parameters in the library's layout (for Model.params)."""
        return torch.cat([getattr(self, name).detach().reshape(-1) for name in self.tensor_names])


def export(model):
    """A torch.nn.Module computing `model`'s lifted network (an rslc.Model or
    a library path) with PyTorch operations, starting from its parameters
    (one Parameter per parameter tensor, docs/abi.md); `flat_params()` gives
    them back in the library's layout."""
    if not isinstance(model, Model):
        model = load(model)
    return _Exported(model)
