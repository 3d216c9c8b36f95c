"""PyTorch both ways, tested against each other: a library inside a torch
model (RslcModule) and the same lifted network rebuilt from torch operations
(export) agree on outputs and on gradients for inputs and parameters, over
every map, activation and lift kind of the test blueprints; and a
RslcModule trains with a torch optimiser."""
import os

import numpy as np
import pytest

if os.environ.get("RSLC_SANITIZED"):
    pytest.skip("torch is not instrumented for the sanitizers", allow_module_level=True)
torch = pytest.importorskip("torch")

import rslc  # noqa: E402
import rslc.torch  # noqa: E402

CASES = [
    ("examples/rgb_mlp.rsl", dict(lift="sparse", defines={"n": 16, "k": 4})),
    ("examples/resmlp.rsl", {}),
    ("tests/CodeGen/Inputs/kinds.rsl", dict(lift="acts")),
    ("tests/CodeGen/Inputs/kinds.rsl", dict(lift="maps")),
    ("tests/CodeGen/Inputs/kinds.rsl", dict(lift="prob")),
    ("tests/CodeGen/Inputs/kinds.rsl", dict(lift="components")),
    ("tests/CodeGen/Inputs/shapes.rsl", dict(lift="channels")),
    ("tests/CodeGen/Inputs/shapes.rsl", dict(lift="wide")),
    ("tests/CodeGen/Inputs/shapes.rsl", dict(lift="heads")),
    ("examples/transformer.rsl", dict(defines={"T": 4, "In": 6, "D": 8, "dh": 4, "H": 2, "F": 8})),
    ("examples/cnn.rsl", dict(lift="sparse", defines={"C1": 4, "C2": 6, "k": 2})),
]


@pytest.mark.parametrize("blueprint,options", CASES, ids=[f"{b.split('/')[-1]}:{o.get('lift', '')}"
                                                          for b, o in CASES])
def test_library_and_export_agree(build, blueprint, options):
    lib = build(blueprint, precision="f64", **options)
    module = rslc.torch.RslcModule(lib)
    exported = rslc.torch.export(module.model)
    torch.manual_seed(0)
    x = torch.rand(5, module.input_size, dtype=torch.float64) * 2 - 1
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1, y2 = module(x1), exported(x2)
    assert torch.allclose(y1, y2, rtol=1e-9, atol=1e-10), (y1 - y2).abs().max()
    w = torch.randn_like(y1)
    (y1 * w).sum().backward()
    (y2 * w).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, rtol=1e-8, atol=1e-10)
    flat = torch.cat([getattr(exported, n).grad.reshape(-1) if getattr(exported, n).grad is not None
                      else torch.zeros(getattr(exported, n).numel(), dtype=torch.float64)
                      for n in exported.tensor_names]) if exported.tensor_names else torch.zeros(0)
    assert torch.allclose(module.weight.grad, flat, rtol=1e-8, atol=1e-10)


def test_module_trains_inside_a_torch_model(build):
    lib = build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 32, "k": 4})
    block = rslc.torch.RslcModule(lib)
    net = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), block)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    torch.manual_seed(1)
    x = torch.randn(128, 5)
    t = torch.tanh(x @ torch.randn(5, 4))
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = ((net(x) - t) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    # the next forward runs with what the optimiser made of the parameters
    net(x[:1])
    assert np.array_equal(block.model.params, block.weight.detach().numpy())


def test_two_calls_before_backward(build):
    lib = build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 16, "k": 4}, precision="f64")
    block = rslc.torch.RslcModule(lib)
    a = torch.rand(3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.rand(3, 3, dtype=torch.float64, requires_grad=True)
    (block(a).sum() + 2 * block(b).sum()).backward()  # a's backward after b's forward
    exported = rslc.torch.export(block.model)
    a2, b2 = a.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
    (exported(a2).sum() + 2 * exported(b2).sum()).backward()
    assert torch.allclose(a.grad, a2.grad) and torch.allclose(b.grad, b2.grad)


def test_explicit_lift_from_a_pruning_mask(tmp_path):
    """A mask from elsewhere (here numpy) compiles as an explicit lift; the
    library's lifted edges are the mask's, and it agrees with its export."""
    rng = np.random.default_rng(4)
    mask = rng.random((6, 5)) < 0.4  # target copies x source copies
    mask[:, 0] = True  # every target copy reads something
    rows, cols = np.nonzero(mask)
    np.save(tmp_path / "mask.npy", np.stack([cols, rows], 1))
    (tmp_path / "m.rsl").write_text(
        "module m { input x: 3; hidden a, b: tanh; output y: 2; x -> a -> b -> y; }\n"
        "lift l of m { size a: 5; size b: 6; edges a -> b: explicit(file = \"mask.npy\"); }\n")
    lib = rslc.compile(str(tmp_path / "m.rsl"), out=str(tmp_path / "m"), precision="f64")
    module = rslc.torch.RslcModule(lib)
    edge = [(e["src"], e["dst"]) for e in module.model.describe()["edges"]].index(("a", "b"))
    src, dst = module.model.lifted_edges(edge)
    assert sorted(zip(dst, src)) == sorted(zip(rows, cols))
    x = torch.rand(4, 3, dtype=torch.float64)
    assert torch.allclose(module(x), rslc.torch.export(module.model)(x), rtol=1e-9)
