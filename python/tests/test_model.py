"""The numpy API against the library's own ABI and against hand-computed
references: shapes, forward/backward against finite differences, training,
checkpoints, errors as exceptions, the lifted structure."""
import numpy as np
import pytest

import rslc


def test_compile_errors_are_exceptions(tmp_path):
    bad = tmp_path / "bad.rsl"
    bad.write_text("module m { input x; hidden h: rellu; output y; x -> h -> y; }\n")
    with pytest.raises(rslc.RslcError, match=r"bad.rsl:1:\d+: error: unknown activation"):
        rslc.compile(str(bad))


def test_shapes_and_forward(build):
    m = rslc.load(build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 32, "k": 4}))
    assert (m.input_size, m.output_size) == (3, 4)
    # a Model can be made from the library's path too
    assert rslc.Model(m._library.path).num_params == m.num_params
    assert m.dtype == np.float32 and m.num_params == m.params.size
    x = np.random.default_rng(0).uniform(-1, 1, (5, 3))
    y = m.forward(x)
    assert y.shape == (5, 4) and y.dtype == np.float32
    # the same samples one at a time give the same outputs, bit for bit
    assert np.array_equal(np.concatenate([m.forward(x[i:i + 1]) for i in range(5)]), y)
    with pytest.raises(rslc.RslcError, match="the model takes 3") as e:
        m.forward(np.zeros((2, 5)))
    assert e.value.status == "RSLC_ERROR_SIZE"


def loss_slope(m, x, t, theta, k, h=1e-6):
    """The mean loss's derivative in parameter k by central differences
    (leaves the parameters at theta)."""
    up, down = theta.copy(), theta.copy()
    up[k] += h
    down[k] -= h
    m.params = up
    lu = m.evaluate(x, t)[0]
    m.params = down
    ld = m.evaluate(x, t)[0]
    m.params = theta
    return (lu - ld) / (2 * h)


def test_gradients_match_finite_differences(build):
    m = rslc.load(build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 8, "k": 3},
                        precision="f64"))
    assert m.dtype == np.float64
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 4))
    m.zero_grads()
    m.loss_and_grad(x, t)
    g = m.grads
    theta = m.params
    for k in rng.choice(theta.size, 12, replace=False):
        assert abs(loss_slope(m, x, t, theta, k) - g[k]) < 1e-6 * max(1, abs(g[k]))
    m.params = theta
    # backward gives dL/dx too: mse's dL/dy = (y - t) / batch
    y = m.forward(x)
    dx = m.backward((y - t) / 4)
    eps = 1e-6
    x2 = x.copy()
    x2[1, 2] += eps
    numeric = (m.evaluate(x2, t)[0] - m.evaluate(x, t)[0]) / eps
    assert abs(numeric - dx[1, 2]) < 1e-4


def test_train_with_callback_and_checkpoint(build, tmp_path):
    lib = build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 32, "k": 4})
    teacher = rslc.load(build("examples/rgb_mlp.rsl", module="rgb_mlp"))
    rng = np.random.default_rng(2)
    x = rng.normal(size=(256, 3))
    t = teacher.forward(x)
    m = rslc.load(lib)
    seen = []
    final = m.train(x, t, integrator="adam", step_size=0.01, batch_size=32, steps=200,
                    log_every=50, callback=lambda metrics: seen.append(metrics))
    assert [s["step"] for s in seen][-4:] == [50, 100, 150, 200] and final["step"] == 200
    assert final["loss"] < seen[0]["loss"]
    m.note = '{"run": "test"}'
    m.save(tmp_path / "c.ckpt")
    other = rslc.load(lib)
    assert other.note == ""
    other.load(tmp_path / "c.ckpt")
    assert np.array_equal(other.params, m.params) and other.note == '{"run": "test"}'
    # a callback returning True stops; its exception surfaces
    stopped = m.train(x, t, integrator="adam", step_size=0.01, batch_size=32, steps=500,
                      log_every=10, callback=lambda metrics: True)
    assert stopped["step"] < 200 + 500
    with pytest.raises(ZeroDivisionError):
        m.train(x, t, integrator="adam", steps=20, log_every=5, callback=lambda metrics: 1 / 0)
    with pytest.raises(rslc.RslcError, match="belongs to"):
        rslc.load(build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 16, "k": 4})).load(
            tmp_path / "c.ckpt")


def test_training_reduces_the_loss(build):
    m = rslc.load(build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 32, "k": 4}))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(128, 3))
    t = np.tanh(x @ rng.normal(size=(3, 4)))
    before = m.evaluate(x, t)[0]
    m.train(x, t, integrator="adam", step_size=0.01, batch_size=32, steps=300)
    assert m.evaluate(x, t)[0] < 0.5 * before


def test_dense_gradients_against_differences(build, tmp_path):
    # x -> h fully connected with 700 copies of h: the dense kernels' blocks,
    # tails and chunks (weight gradients by outer products in blocks of 128
    # samples; data gradients down W's columns in chunks of 128 rows).
    bp = tmp_path / "wide.rsl"
    bp.write_text("module m { input x: 40; hidden h: tanh; output y: 3; x -> h -> y; }\n"
                  "lift wide of m { size h: 700; }\n")
    m = rslc.load(build(str(bp), precision="f64"))
    rng = np.random.default_rng(5)
    x, t = rng.normal(size=(150, 40)), rng.normal(size=(150, 3))
    m.zero_grads()
    y = m.forward(x)
    dx = m.backward((y - t) / 150)
    g = m.grads
    theta = m.params
    h = 1e-6
    w = next(t for t in m.describe()["tensors"] if t["name"] == "W:x->h")
    # central differences of a loss near 1 at h = 1e-6 carry about 5e-10 of
    # rounding: 1e-5 relative keeps a margin (a wrong kernel is off by O(1))
    for k in w["offset"] + rng.choice(w["size"], 8, replace=False):
        assert abs(loss_slope(m, x, t, theta, k) - g[k]) < 1e-5 * max(1e-3, abs(g[k]))
    for b, c in [(0, 0), (149, 39), (77, 16), (128, 31)]:
        up, down = x.copy(), x.copy()
        up[b, c] += h
        down[b, c] -= h
        numeric = (m.evaluate(up, t)[0] - m.evaluate(down, t)[0]) / (2 * h)
        assert abs(numeric - dx[b, c]) < 1e-5 * max(1e-3, abs(dx[b, c]))


def test_wide_losses_run_in_passes(build):
    # 4096 copies: the loss runs in passes of 64 samples (1 MiB of the widest
    # vertex's activations, docs/runtime.md); its gradient must equal one
    # forward and backward of the whole batch, up to float rounding.
    m = rslc.load(build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 4096, "k": 4}))
    rng = np.random.default_rng(4)
    x, t = rng.normal(size=(200, 3)), rng.normal(size=(200, 4))
    m.zero_grads()
    y = m.forward(x)
    m.backward((y - t) / 200)  # mse: dL/dy of the mean loss
    whole = m.grads
    m.zero_grads()
    loss = m.loss_and_grad(x, t)
    passes = m.grads
    assert loss == pytest.approx(np.mean(np.sum((y - t) ** 2, axis=1)) / 2, rel=1e-5)
    scale = np.abs(whole).max()
    assert np.max(np.abs(passes - whole)) < 1e-5 * scale
    assert not np.array_equal(passes, np.zeros_like(passes))
    with pytest.raises(rslc.RslcError, match="backward needs a forward"):
        m.backward(y - t)
    # the passes' data gradients read a transposed copy of the weights: it
    # must follow new parameters
    m.params = m.params * rng.uniform(0.5, 1.5, size=m.params.shape)
    m.zero_grads()
    y = m.forward(x)
    m.backward((y - t) / 200)
    whole = m.grads
    m.zero_grads()
    m.loss_and_grad(x, t)
    assert np.max(np.abs(m.grads - whole)) < 1e-5 * np.abs(whole).max()


def test_structure(build):
    m = rslc.load(build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 16, "k": 4}))
    d = m.describe()
    assert [v["name"] for v in d["vertices"]] == ["r", "g", "b", "h1", "h2", "y"]
    edges = {(e["src"], e["dst"]): i for i, e in enumerate(d["edges"])}
    src, dst = m.lifted_edges(edges[("h1", "h2")])
    assert src.size == 16 * 4 and np.all(np.bincount(dst) == 4)  # exact in-degree 4
    for j in range(16):
        assert len(set(src[dst == j])) == 4  # distinct sources per copy
    tensors = m.tensors()
    assert sum(t.size for t in tensors.values()) == m.num_params
    assert tensors["W:h1->h2"].size == 64 and tensors["b:h1"].size == 16


def test_threads_and_misuse(build):
    rslc.set_threads(1)
    m = rslc.load(build("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 16, "k": 4}))
    with pytest.raises(rslc.RslcError, match="backward needs a forward"):
        m.backward(np.zeros((1, 4)))
    with pytest.raises(rslc.RslcError, match="not a finite number"):
        m.params = np.full(m.num_params, np.nan)
    with pytest.raises(ValueError):
        m.loss_and_grad(np.zeros((1, 3)), np.zeros((1, 4)), loss="hinge")
    m.close()
    with pytest.raises(rslc.RslcError, match="closed"):
        m.forward(np.zeros((1, 3)))


def test_sharpness_against_the_dense_hessian(build, tmp_path):
    """rslc_sharpness (Lanczos on difference Hessian-vector products)
    against the largest eigenvalue of the whole Hessian, built column by
    column from the library's exact gradients, on a smooth network in double
    precision: at the initial parameters, and where large targets make the
    most negative eigenvalue nearly as large in magnitude (power iteration
    returned 5.3 there, between -8.0 and 8.3)."""
    bp = tmp_path / "smooth.rsl"
    bp.write_text("param n = 6;\nmodule m { input x: 3; hidden h1, h2: tanh; output y: 2; "
                  "x -> h1 -> h2 -> y; }\nlift wide of m { size h1, h2: n; }\n")
    m = rslc.load(rslc.compile(str(bp), precision="f64"))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (32, 3))
    theta = m.params.copy()

    def gradient(p, t):
        m.params = p
        m.zero_grads()
        m.loss_and_grad(x, t)
        return m.grads.copy()

    negative_seen = False
    for scale in (1, 5, 20):
        t = scale * rng.uniform(-1, 1, (32, 2))
        m.params = theta
        grads = gradient(theta, t)
        lam = m.sharpness(x, t)
        assert np.array_equal(m.params, theta) and np.array_equal(m.grads, grads)
        e, P = 1e-5, theta.size
        H = np.stack([(gradient(theta + e * np.eye(P)[i], t) - gradient(theta - e * np.eye(P)[i], t))
                      / (2 * e) for i in range(P)])
        ev = np.linalg.eigvalsh((H + H.T) / 2)
        negative_seen |= -ev[0] > 0.9 * ev[-1]
        assert abs(lam - ev[-1]) <= 1e-3 * abs(ev[-1]), (scale, lam, ev[0], ev[-1])
        m.params = theta
    assert negative_seen  # the hard case was exercised
    with pytest.raises(rslc.RslcError, match="iterations must be positive"):
        m.sharpness(x, t, iterations=0)


JVP_BLUEPRINTS = {
    # sparse MLP, lifted outputs read through sqrt, tanh and relu
    "mlp": "module m { input x: 3; hidden h1: tanh; hidden h2: relu; output y: 2; "
           "x -> h1 -> h2 -> y; }\n"
           "lift l of m { size h1, h2, y: 6; edges h1 -> h2, h2 -> y: sparse(degree = 3); "
           "readout: sqrt; init bias h1, h2: normal(scale = 0.3); }\n",
    # diag and skip edges, a softmax vertex, the input read by components
    "mixed": "module m { input x: 4; hidden a: 4, sigmoid; hidden s: 4, softmax; output y: 4; "
             "x -> a; a -> s: diag; x -> s: skip; s -> y; }\n"
             "lift l of m { size a: 3; edges x -> a: sparse(degree = 2); }\n",
    # convolution and average pooling on a 6 x 6 map
    "conv": "module m { input x: [6, 6]; hidden c: [6, 6], relu; hidden p: [3, 3], identity; "
            "output y: 2; x -> c: conv(kernel = 3, padding = 1); c -> p: avgpool(kernel = 2); "
            "p -> y; }\nlift l of m { size c, p: 2; edges c -> p: diagonal; }\n",
    # maxpool: each window follows its first maximum
    "maxpool": "module m { input x: [6, 6]; hidden c: [6, 6], tanh; hidden p: [3, 3], identity; "
               "output y: 2; x -> c: conv(kernel = 3, padding = 1); c -> p: maxpool(kernel = 2); "
               "p -> y; }\nlift l of m { size c, p: 2; edges c -> p: diagonal; }\n",
    # a product of two in-edges, with a bias after it
    "product": "module m { input x: 4; hidden a: 4, tanh; hidden n: 4, tanh, prod; output y: 2; "
               "x -> a; x -> n; a -> n; n -> y; }\n"
               "lift l of m { size a, n: 3; edges a -> n: sparse(degree = 2); "
               "init bias n: normal(scale = 0.3); }\n",
    # attention, two heads as copies; causal, then over every token
    "attention": "module m { input x: [4, 6]; hidden q, k, v: [4, 3], nobias; "
                 "hidden o: [4, 3], tanh, nobias, causal, attention; output y: 2; x -> q, k, v; "
                 "q -> o: query; k -> o: key; v -> o: value; o -> y; }\n"
                 "lift l of m { size q, k, v, o: 2; edges q -> o, k -> o, v -> o: diagonal; }\n",
    "attention_all": "module m { input x: [4, 6]; hidden q: [2, 3], nobias; "
                     "hidden k: [4, 3], nobias; hidden v: [4, 2], nobias; "
                     "hidden o: [2, 2], nobias, attention; output y: 2; x -> q, k, v; "
                     "q -> o: query; k -> o: key; v -> o: value; o -> y; }\n",
    # layernorm over the last axis of two tokens, its gains and shifts in dtheta
    "layernorm": "module m { input x: [2, 4]; hidden h: [2, 4], tanh; hidden n: [2, 3], layernorm; "
                 "output y: 2; x -> h -> n -> y; }\n"
                 "lift l of m { size h, n: 3; edges h -> n: sparse(degree = 2); }\n",
}


@pytest.mark.parametrize("name", sorted(JVP_BLUEPRINTS))
def test_jvp_against_differences_and_the_adjoint(tmp_path, name):
    """rslc_jvp (forward mode on the kernels) in double precision against
    central differences of the forward pass, and against the backward pass
    through the adjoint identity <J u, s> = <u, J^T s>."""
    bp = tmp_path / f"{name}.rsl"
    bp.write_text(JVP_BLUEPRINTS[name])
    m = rslc.load(rslc.compile(str(bp), out=str(tmp_path / name), precision="f64"))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, m.input_size))
    theta = m.params.copy()
    u = rng.normal(size=theta.size)
    ju = m.jvp(x, u)
    e = 1e-6
    m.params = theta + e * u
    plus = m.forward(x)
    m.params = theta - e * u
    minus = m.forward(x)
    m.params = theta
    assert np.allclose(ju, (plus - minus) / (2 * e), rtol=1e-6, atol=1e-8), name
    s = rng.normal(size=ju.shape)
    m.zero_grads()
    m.forward(x)
    m.backward(s)
    assert abs(np.sum(ju * s) - m.grads @ u) <= 1e-10 * (1 + abs(m.grads @ u)), name


def test_jvp_checks_its_arguments(tmp_path):
    bp = tmp_path / "mlp.rsl"
    bp.write_text(JVP_BLUEPRINTS["mlp"])
    m = rslc.load(rslc.compile(str(bp), out=str(tmp_path / "mlp")))
    with pytest.raises(rslc.RslcError, match="dtheta has 3 values"):
        m.jvp(np.zeros((1, 3)), np.zeros(3))


@pytest.mark.parametrize("env, cpus, expect", [
    ({}, 2, {"GOMP_SPINCOUNT": "3000", "OMP_PROC_BIND": "true"}),
    ({"OMP_NUM_THREADS": "2"}, 2, {"GOMP_SPINCOUNT": "3000", "OMP_PROC_BIND": "true"}),
    ({"OMP_NUM_THREADS": "1"}, 2, {"GOMP_SPINCOUNT": "3000", "OMP_PROC_BIND": None}),
    ({}, 1, {"GOMP_SPINCOUNT": "3000", "OMP_PROC_BIND": None}),
    ({"OMP_WAIT_POLICY": "passive", "OMP_PLACES": "cores"}, 2,
     {"GOMP_SPINCOUNT": None, "OMP_PROC_BIND": None}),
])
def test_thread_defaults(monkeypatch, env, cpus, expect):
    """OpenMP settings the user left unset (docs/runtime.md, "Threads"): a
    short spin; binding only where the threads fill the process's CPUs."""
    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND",
                 "OMP_PLACES", "GOMP_CPU_AFFINITY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(rslc.os, "sched_getaffinity", lambda pid: set(range(cpus)))
    rslc._thread_defaults()
    for name, value in expect.items():
        assert rslc.os.environ.get(name) == value, name
