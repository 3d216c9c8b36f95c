"""rslc from Python: compile blueprints, load the generated libraries, and
run, train and inspect their lifted networks with numpy arrays.

    import rslc
    lib = rslc.compile("examples/rgb_mlp.rsl", lift="sparse", defines={"n": 256})
    model = rslc.load(lib)
    y = model.forward(x)                     # x: (batch, input_size)
    final = model.train(x, t, integrator="adam", step_size=1e-2, batch_size=32, steps=500)

The package is a typed ctypes layer over the C ABI of the generated
libraries (include/rslc.h; its mirror python/rslc/_abi.py is generated from
the header and checked against the C compiler): no compiled extension, so
one package serves every library, float or double, from any build of rslc
with the same ABI version. Errors raise RslcError with the library's
message. `rslc.torch` wraps a model as a torch.nn.Module.
"""
import ctypes
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

from . import _abi

__all__ = ["RslcError", "Model", "compile", "load", "set_threads", "LOSSES", "INTEGRATORS"]

LOSSES = {"mse": _abi.RSLC_LOSS_MSE, "ce": _abi.RSLC_LOSS_CROSS_ENTROPY}
INTEGRATORS = {"euler": _abi.RSLC_EULER, "rk4": _abi.RSLC_RK4, "adaptive": _abi.RSLC_ADAPTIVE,
               "sgd": _abi.RSLC_SGD, "adam": _abi.RSLC_ADAM}
_STATUS = {v: k for k, v in vars(_abi).items() if k.startswith("RSLC_ERROR_")}


class RslcError(Exception):
    """A failed call: `status` is the library's status name (e.g.
    'RSLC_ERROR_SIZE'), the message its rslc_last_error, or rslc's output."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


#===--- Finding and running the compiler ----------------------------------===#

def _rslc_binary():
    """rslc: $RSLC_BIN/rslc, beside this package in an installation
    (PREFIX/lib/python3/dist-packages/rslc -> PREFIX/bin), the source tree's
    build/bin, or the PATH."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    if os.environ.get("RSLC_BIN"):
        candidates.append(os.path.join(os.environ["RSLC_BIN"], "rslc"))
    candidates += [os.path.join(here, "..", "..", "..", "..", "bin", "rslc"),
                   os.path.join(here, "..", "..", "build", "bin", "rslc")]
    for c in candidates:
        if os.access(c, os.X_OK):
            return os.path.abspath(c)
    found = shutil.which("rslc")
    if not found:
        raise RslcError("cannot find the rslc compiler: set RSLC_BIN to its directory")
    return found


def compile(blueprint, out=None, lift=None, module=None, defines=None, precision="f32",
            target_cpu=None, extra_args=()):
    """Compiles `blueprint` (a path) into OUT.so and OUT.h; returns the path
    of the .so. `out` defaults to a file in a fresh temporary directory.
    Raises RslcError with rslc's diagnostics."""
    if out is None:
        out = os.path.join(tempfile.mkdtemp(prefix="rslc-"),
                           os.path.splitext(os.path.basename(blueprint))[0])
    cmd = [_rslc_binary(), os.fspath(blueprint), "-o", os.fspath(out), "--precision=" + precision]
    if lift:
        cmd.append("--lift=" + lift)
    if module:
        cmd.append("--module=" + module)
    if target_cpu:
        cmd.append("--target-cpu=" + target_cpu)
    for name, value in (defines or {}).items():
        cmd += ["-D", f"{name}={value}"]
    cmd += list(extra_args)
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        raise RslcError(run.stderr.strip() or f"rslc exited with status {run.returncode}")
    out = os.fspath(out)
    return out if out.endswith(".so") else out + ".so"


#===--- Threads ------------------------------------------------------------===#

def set_threads(n):
    """OpenMP threads for the models' kernels (OMP_NUM_THREADS before the
    first library is loaded, omp_set_num_threads after)."""
    if n < 1:
        raise ValueError("threads must be at least 1")
    os.environ["OMP_NUM_THREADS"] = str(n)
    if _Library.loaded:
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(int(n))


def _thread_defaults():
    """OpenMP settings the user left unset, as rslc-train sets them
    (docs/runtime.md, "Threads"): threads waiting at a barrier spin briefly,
    then sleep; threads that use every CPU the process may run on are bound
    one to a CPU (else the kernel may wake a sleeping one onto a busy CPU)."""
    env = os.environ
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env["GOMP_SPINCOUNT"] = "3000"
    if not any(k in env for k in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY")):
        cpus = len(os.sched_getaffinity(0))
        threads = env.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        if cpus > 1 and threads in ("", str(cpus)):
            env["OMP_PROC_BIND"] = "true"


class _Library:
    """One generated library, its functions typed from _abi.FUNCTIONS."""
    loaded = False
    cache = {}

    def __init__(self, path):
        _thread_defaults()
        if not os.path.isfile(path):
            raise RslcError(f"cannot load '{path}': no such file")
        try:
            self.lib = ctypes.CDLL(os.path.abspath(path))
        except OSError as e:
            raise RslcError(f"cannot load '{path}': {e}") from None
        _Library.loaded = True
        for name, (result, args) in _abi.FUNCTIONS.items():
            try:
                f = getattr(self.lib, name)
            except AttributeError:
                raise RslcError(f"{path} is not an rslc model library (no {name})") from None
            f.restype, f.argtypes = result, args
        if self.lib.rslc_abi_version() != _abi.ABI_VERSION:
            raise RslcError(f"{path} has ABI version {self.lib.rslc_abi_version()}; this package "
                            f"speaks version {_abi.ABI_VERSION}")
        self.dtype = np.float32 if self.lib.rslc_real_size() == 4 else np.float64
        self.path = path

    @classmethod
    def get(cls, path):
        key = os.path.realpath(path)
        if key not in cls.cache:
            cls.cache[key] = cls(path)
        return cls.cache[key]


def load(library, seed=0):
    """A model of a generated library (a .so path): its lifted graph and
    initial parameters from `seed` (0: the blueprint's)."""
    return Model(_Library.get(os.fspath(library)), seed)


#===--- Models -------------------------------------------------------------===#

def _metrics(m):
    """An rslc_metrics as a dict (NaN where not applicable)."""
    d = {name: getattr(m, name) for name, _ in _abi.Metrics._fields_}
    d["diverging"] = bool(d["diverging"])
    return d


class Model:
    """A lifted network: parameters, gradients and optimiser state live in
    the library; arrays cross as numpy (float32 or float64, as the library
    was compiled)."""

    def __init__(self, library, seed=0):
        """`library`: a generated library's path (as for rslc.load)."""
        if not isinstance(library, _Library):
            library = _Library.get(os.fspath(library))
        self._library, self._lib = library, library.lib
        self.dtype = library.dtype
        handle = ctypes.c_void_p()
        self._handle = None
        self._check(self._lib.rslc_create(seed, ctypes.byref(handle)), own=False)
        self._handle = handle
        self.input_size = self._lib.rslc_input_size(handle)
        self.output_size = self._lib.rslc_output_size(handle)
        self.num_params = self._lib.rslc_num_params(handle)
        self.num_lifted_edges = self._lib.rslc_num_lifted_edges(handle)
        self.seed = self._lib.rslc_seed(handle)
        self.name = self._lib.rslc_blueprint_name().decode()
        self._forward_batch = None

    # -- lifetime
    def close(self):
        """Frees the model (also done when it is garbage-collected)."""
        if self._handle is not None:
            self._lib.rslc_destroy(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"<rslc.Model {self.name}: {self.input_size} -> {self.output_size}, "
                f"{self.num_params} parameters, {self.num_lifted_edges} lifted edges, "
                f"{np.dtype(self.dtype).name}>")

    # -- plumbing
    def _check(self, status, own=True):
        if status != _abi.RSLC_OK:
            msg = self._lib.rslc_last_error(self._handle if own else None)
            raise RslcError(msg.decode() if msg else f"status {status}", _STATUS.get(status))

    def _live(self):
        if self._handle is None:
            raise RslcError("the model is closed")
        return self._handle

    def _rows(self, a, width, what):
        """`a` as a C-contiguous (rows, width) array of the model's dtype."""
        a = np.ascontiguousarray(a, dtype=self.dtype)
        if a.ndim == 1 and width == 1:
            a = a.reshape(-1, 1)
        elif a.ndim != 2:
            a = a.reshape(a.shape[0], -1)
        if a.shape[1] != width:
            raise RslcError(f"{what} has {a.shape[1]} values per sample; the model takes {width}",
                            "RSLC_ERROR_SIZE")
        return a

    def _targets(self, t, n, loss):
        if loss == "ce":
            t = np.ascontiguousarray(t, dtype=self.dtype).reshape(-1)
        else:
            t = self._rows(t, self.output_size, "the target")
        if t.shape[0] != n:
            raise RslcError(f"{t.shape[0]} targets for {n} samples", "RSLC_ERROR_SIZE")
        return t

    @staticmethod
    def _loss(loss):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, not {loss!r}")
        return LOSSES[loss]

    @staticmethod
    def _ptr(a):
        return a.ctypes.data_as(ctypes.c_void_p)

    # -- evaluation and gradients
    def forward(self, x):
        """y = f(x) for x of shape (batch, input_size); keeps what backward
        needs."""
        x = self._rows(x, self.input_size, "x")
        y = np.empty((x.shape[0], self.output_size), self.dtype)
        self._check(self._lib.rslc_forward(self._live(), self._ptr(x), x.shape[0], self._ptr(y)))
        self._forward_batch = x.shape[0]
        return y

    def jvp(self, x, dtheta):
        """The Jacobian-vector product: the derivative of f(x), shape
        (batch, output_size), along the parameter direction dtheta (shape
        (num_params,)), exact, at the current parameters (rslc_jvp). Runs a
        forward on x."""
        x = self._rows(x, self.input_size, "x")
        d = np.ascontiguousarray(dtheta, dtype=self.dtype).reshape(-1)
        if d.size != self.num_params:
            raise RslcError(f"dtheta has {d.size} values; the model has {self.num_params} "
                            "parameters", "RSLC_ERROR_SIZE")
        dy = np.empty((x.shape[0], self.output_size), self.dtype)
        self._check(self._lib.rslc_jvp(self._live(), self._ptr(x), x.shape[0], self._ptr(d),
                                       self._ptr(dy)))
        self._forward_batch = x.shape[0]
        return dy

    def backward(self, dy):
        """Given dL/dy for the last forward, adds dL/dtheta to the gradients
        and returns dL/dx."""
        if self._forward_batch is None:
            raise RslcError("backward needs a forward first", "RSLC_ERROR_STATE")
        dy = self._rows(dy, self.output_size, "dy")
        if dy.shape[0] != self._forward_batch:
            raise RslcError(f"dy has {dy.shape[0]} rows; the last forward had "
                            f"{self._forward_batch}", "RSLC_ERROR_SIZE")
        dx = np.empty((dy.shape[0], self.input_size), self.dtype)
        self._check(self._lib.rslc_backward(self._live(), self._ptr(dy), self._ptr(dx)))
        return dx

    def loss_and_grad(self, x, target, loss="mse"):
        """Forward, mean loss over the batch, backward (the gradient is added
        to the model's gradients); returns the loss. Keeps no forward for
        backward (it runs in passes: docs/runtime.md)."""
        x = self._rows(x, self.input_size, "x")
        t = self._targets(target, x.shape[0], loss)
        out = ctypes.c_double()
        self._check(self._lib.rslc_loss_and_grad(self._live(), self._ptr(x), self._ptr(t),
                                                 x.shape[0], self._loss(loss), ctypes.byref(out)))
        self._forward_batch = None
        return out.value

    def evaluate(self, x, target, loss="mse"):
        """(mean loss, accuracy) on a data set; accuracy is None unless
        loss='ce'."""
        x = self._rows(x, self.input_size, "x")
        t = self._targets(target, x.shape[0], loss)
        value, acc = ctypes.c_double(), ctypes.c_double()
        self._check(self._lib.rslc_evaluate(self._live(), self._ptr(x), self._ptr(t), x.shape[0],
                                            self._loss(loss), ctypes.byref(value),
                                            ctypes.byref(acc)))
        self._forward_batch = None
        return value.value, (acc.value if loss == "ce" else None)

    def predict(self, x, batch_size=4096):
        """The outputs on x, in batches (the forward state is not kept)."""
        x = self._rows(x, self.input_size, "x")
        parts = [self.forward(x[b:b + batch_size]) for b in range(0, x.shape[0], batch_size)]
        self._forward_batch = None
        return np.concatenate(parts) if parts else np.empty((0, self.output_size), self.dtype)

    # -- parameters
    @property
    def params(self):
        """A copy of the flat parameter array (docs/abi.md, "Parameter layout")."""
        p = np.empty(self.num_params, self.dtype)
        self._check(self._lib.rslc_get_params(self._live(), self._ptr(p), self.num_params))
        return p

    @params.setter
    def params(self, values):
        p = np.ascontiguousarray(values, dtype=self.dtype).reshape(-1)
        if p.size != self.num_params:
            raise RslcError(f"{p.size} parameters given; the model has {self.num_params}",
                            "RSLC_ERROR_SIZE")
        self._check(self._lib.rslc_set_params(self._live(), self._ptr(p), self.num_params))
        self._forward_batch = None

    @property
    def grads(self):
        """A copy of the accumulated gradients."""
        g = np.empty(self.num_params, self.dtype)
        self._check(self._lib.rslc_get_grads(self._live(), self._ptr(g), self.num_params))
        return g

    def zero_grads(self):
        self._check(self._lib.rslc_zero_grads(self._live()))

    # -- training
    def train(self, x, target, loss="mse", integrator="euler", step_size=0.1, steps=1000,
              batch_size=0, test=None, log_every=10, callback=None, **options):
        """Trains through the library's rslc_train; returns the final metrics
        as a dict. `test`: (x_test, target_test). `callback(metrics)` is
        called every `log_every` steps and at the end; returning True stops.
        Other options: momentum, beta1, beta2, epsilon, weight_decay,
        tolerance, target_loss, time_budget, shuffle_seed, train_eval."""
        x = self._rows(x, self.input_size, "x")
        t = self._targets(target, x.shape[0], loss)
        if integrator not in INTEGRATORS:
            raise ValueError(f"integrator must be one of {sorted(INTEGRATORS)}, not {integrator!r}")
        o = _abi.TrainOptions()
        self._lib.rslc_default_train_options(ctypes.byref(o))
        o.integrator, o.loss = INTEGRATORS[integrator], self._loss(loss)
        o.step_size, o.max_steps, o.batch_size, o.log_every = step_size, steps, batch_size, log_every
        for name, value in options.items():
            if name not in dict(_abi.TrainOptions._fields_) or name in (
                    "abi_version", "callback", "user", "allreduce", "allreduce_user"):
                raise TypeError(f"unknown training option {name!r}")
            setattr(o, name, value)
        raised = []

        def trampoline(metrics, _user):
            try:
                return 1 if callback(_metrics(metrics.contents)) else 0
            except BaseException as e:  # surfaces after rslc_train returns
                raised.append(e)
                return 1

        if callback is not None:
            o.callback = _abi.Callback(trampoline)
        xt = tt = None
        nt = 0
        if test is not None:
            xt = self._rows(test[0], self.input_size, "the test x")
            tt = self._targets(test[1], xt.shape[0], loss)
            nt = xt.shape[0]
        final = _abi.Metrics()
        status = self._lib.rslc_train(self._live(), ctypes.byref(o), self._ptr(x), self._ptr(t),
                                      x.shape[0], self._ptr(xt) if nt else None,
                                      self._ptr(tt) if nt else None, nt, ctypes.byref(final))
        self._forward_batch = None
        if raised:
            raise raised[0]
        self._check(status)
        return _metrics(final)

    def sharpness(self, x, target, loss="mse", iterations=20):
        """The Hessian's largest eigenvalue of the mean loss over
        (x, target) at the current parameters (rslc_sharpness: the Lanczos
        iteration on Hessian-vector products). Gradient flow's explicit
        Euler steps must stay below 2 / sharpness."""
        x = self._rows(x, self.input_size, "x")
        t = self._targets(target, x.shape[0], loss)
        out = ctypes.c_double()
        self._check(self._lib.rslc_sharpness(self._live(), self._ptr(x), self._ptr(t), x.shape[0],
                                             self._loss(loss), iterations, ctypes.byref(out)))
        self._forward_batch = None
        return out.value

    # -- checkpoints
    def save(self, path):
        """Parameters and optimiser state, atomically (rslc_save)."""
        self._check(self._lib.rslc_save(self._live(), os.fsencode(path)))

    def load(self, path):
        """A checkpoint of this very model (rslc_load)."""
        self._check(self._lib.rslc_load(self._live(), os.fsencode(path)))
        self._forward_batch = None

    @property
    def note(self):
        """The free text saved in and loaded from checkpoints (rslc-train
        keeps its provenance and standardisation there, as JSON)."""
        return self._lib.rslc_note(self._live()).decode()

    @note.setter
    def note(self, text):
        self._check(self._lib.rslc_set_note(self._live(), text.encode()))

    # -- structure
    def describe(self):
        """The lifted network (rslc_describe): vertices, base edges (maps,
        lift kinds, counts) and parameter tensors, as a dict."""
        return json.loads(self._lib.rslc_describe(self._live()).decode())

    def lifted_edges(self, edge):
        """(src, dst) copy indices of base edge `edge` (an index into
        describe()['edges']), in forward order: the order of its weights."""
        n = self.describe()["edges"][edge]["lifted_edges"]
        src, dst = np.empty(n, np.uint32), np.empty(n, np.uint32)
        u32 = ctypes.POINTER(ctypes.c_uint32)
        self._check(self._lib.rslc_lifted_edges(self._live(), edge, src.ctypes.data_as(u32),
                                                dst.ctypes.data_as(u32), n))
        return src, dst

    def tensors(self):
        """{name: a copy of that parameter tensor} (flat; see docs/abi.md)."""
        p = self.params
        return {t["name"]: p[t["offset"]:t["offset"] + t["size"]].copy()
                for t in self.describe()["tensors"]}
