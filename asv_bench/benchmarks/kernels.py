"""Each numba kernel of ad/kernels against its NumPy twin, from 10 to 1e6 elements.

A kernel runs only at the sizes where it wins: these suites are the measurements behind the
thresholds in ad/kernels, and behind the kernels left out (plain numba loops for exp, tanh,
sin and cos, softplus), which are timed here too. time_kernel and time_twin run each path
alone; track_kernel_over_twin is their ratio inside one process, samples interleaved (below 1:
the kernel wins). setup compiles each kernel, or loads it from numba's cache, before timing.
"""

from __future__ import annotations

import math

import numpy as np

import ad
from ad.kernels import elementwise as E
from ad.kernels import jit
from ad.kernels import outer as O
from ad.kernels import scatter as C
from ad.kernels import softmax as S

from . import workloads as w

SIZES = [10, 1000, 100_000, 1_000_000]


# Candidates measured and not wired: numba's scalar libm calls against NumPy's SIMD loops.
def _exp(x, y):
    for i in range(x.size):
        y[i] = math.exp(x[i])


def _tanh(x, y):
    for i in range(x.size):
        y[i] = math.tanh(x[i])


def _sin_cos(x, y, d):  # primal and derivative in one pass (LLVM makes it one sincos call)
    for i in range(x.size):
        y[i] = math.sin(x[i])
        d[i] = math.cos(x[i])


def _softplus(x, y):
    for i in range(x.size):
        y[i] = max(x[i], 0.0) + math.log1p(math.exp(-abs(x[i])))


_CANDIDATES = {"exp": jit(_exp), "tanh": jit(_tanh), "sin, cos": jit(_sin_cos), "softplus": jit(_softplus)}


def _one_pass(kernel, outputs: int):
    def run(x):
        out = [np.empty_like(x) for _ in range(outputs)]
        kernel(x, *out)
        return out

    return run


class _KernelOverTwin:
    """time_kernel, time_twin and their ratio; setup sets self.kernel and self.twin."""

    timeout = 300
    limits: dict = {}  # module -> {threshold: value that sends every size to the kernel}

    def setup(self, *params):
        self.saved = {(m, k): getattr(m, k) for m, kv in self.limits.items() for k in kv}
        for m, kv in self.limits.items():
            for k, v in kv.items():
                setattr(m, k, v)
        self.kernel, self.twin = self.make(*params)
        self.kernel()  # compile, or load from the cache
        self.twin()

    def teardown(self, *params):
        for (m, k), v in self.saved.items():
            setattr(m, k, v)

    def time_kernel(self, *params):
        self.kernel()

    def time_twin(self, *params):
        self.twin()

    def track_kernel_over_twin(self, *params):
        t_kernel, t_twin = w.median_times([self.kernel, self.twin], repeat=15, budget=1.0)
        return t_kernel / t_twin

    track_kernel_over_twin.unit = "ratio"


class Elementwise(_KernelOverTwin):
    """Wired: sigmoid, and the derivatives of sigmoid and tanh; the rest are the candidates."""

    params = (["sigmoid", "sigmoid'", "tanh'", "exp", "tanh", "sin, cos", "softplus"], SIZES)
    param_names = ["op", "size"]
    limits = {E: {"SIGMOID_FROM": 0}}

    def make(self, op, size):
        x = np.random.default_rng(0).uniform(-4, 4, size)
        kernel, twin = {
            "sigmoid": (E.sigmoid, E.sigmoid_twin),
            "sigmoid'": (
                lambda y: E.sigmoid_derivative(None, y),
                lambda y: E.sigmoid_derivative_twin(None, y),
            ),
            "tanh'": (lambda y: E.tanh_derivative(None, y), lambda y: E.tanh_derivative_twin(None, y)),
            "exp": (_one_pass(_CANDIDATES["exp"], 1), np.exp),
            "tanh": (_one_pass(_CANDIDATES["tanh"], 1), np.tanh),
            "sin, cos": (_one_pass(_CANDIDATES["sin, cos"], 2), lambda x: (np.sin(x), np.cos(x))),
            "softplus": (_one_pass(_CANDIDATES["softplus"], 1), lambda x: np.logaddexp(0.0, x)),
        }[op]
        return (lambda: kernel(x)), (lambda: twin(x))


class Softmax(_KernelOverTwin):
    """Along the last axis of a (size / row, row) array: primals, and rules with one direction."""

    params = (
        ["logsumexp", "softmax", "log_softmax", "softmax_product", "log_softmax_jvp", "log_softmax_vjp"],
        SIZES,
        [10, 1000],
    )
    param_names = ["op", "size", "row"]
    limits = {S: {"PRIMAL_SIZE_UPTO": math.inf, "LOG_SOFTMAX_RULE_SIZE_UPTO": math.inf}}

    def make(self, op, size, row):
        if row > size:
            raise NotImplementedError("a row longer than the array")
        rng = np.random.default_rng(0)
        x = rng.standard_normal((size // row, row))
        v = rng.standard_normal(x.shape)
        s, y = S.softmax_twin(x), S.log_softmax_twin(x)
        return {
            "logsumexp": (lambda: S.logsumexp(x, -1), lambda: S.logsumexp_twin(x, -1)),
            "softmax": (lambda: S.softmax(x), lambda: S.softmax_twin(x)),
            "log_softmax": (lambda: S.log_softmax(x), lambda: S.log_softmax_twin(x)),
            "softmax_product": (
                lambda: S.softmax_product(s, v, (-1,)),
                lambda: S.softmax_product_twin(s, v, (-1,)),
            ),
            "log_softmax_jvp": (
                lambda: S.log_softmax_jvp(y, v, (-1,)),
                lambda: S.log_softmax_jvp_twin(y, v, (-1,)),
            ),
            "log_softmax_vjp": (
                lambda: S.log_softmax_vjp(y, v, (-1,)),
                lambda: S.log_softmax_vjp_twin(y, v, (-1,)),
            ),
        }[op]


class ScatterAdd(_KernelOverTwin):
    """The VJP of a gather: rows of 64 (x[i], an embedding), take along axis 1 of 64 rows, and
    a 1-d target, which np.add.at's fast path keeps (the kernel declines it)."""

    params = (["rows", "take axis=1", "1-d"], SIZES)
    param_names = ["case", "size"]
    limits = {C: {"SCATTER_ADD_FROM": 0}}

    def make(self, case, size):
        rng = np.random.default_rng(0)
        if case == "1-d":
            shape, m = (max(1, size // 4),), size
            index = (rng.integers(0, shape[0], m),)
        elif case == "rows":
            width = min(size, 64)
            m = size // width
            shape = (max(1, m // 4), width)
            index = (rng.integers(0, shape[0], m),)
        else:
            rows = min(size, 64)
            m = size // rows
            shape = (rows, max(1, m // 4))
            index = (slice(None), rng.integers(0, shape[1], m))
        ct = rng.standard_normal(np.zeros(shape)[index].shape)
        return (lambda: C.scatter_add(ct, shape, index)), (lambda: C.scatter_add_twin(ct, shape, index))


class OuterProduct(_KernelOverTwin):
    """u v^T for n x n float64: the streaming kernel against BLAS (np.dot of (n, 1) by (1, n)),
    alone (the result written over and over into memory that stays in cache) and as the two
    weight cotangents of ad.grad of sum(tanh(W2 @ tanh(W1 @ x))) in (W1, W2), where the weights
    stream through the cache and the result is not read back: STREAM_BYTES is set from these."""

    params = (["alone", "weight gradient"], [300, 500, 700, 1000, 1500])
    param_names = ["case", "n"]

    def make(self, case, n):
        if case == "alone":
            u, v = np.random.default_rng(0).standard_normal((2, n))
            run = lambda: O.outer(u, v)  # noqa: E731
        else:
            x, W1, W2 = w.mlp_data(n)
            g = ad.grad(lambda W1, W2: np.sum(np.tanh(W2 @ np.tanh(W1 @ x))), (0, 1))
            run = lambda: g(W1, W2)  # noqa: E731
        return _at_threshold(0, run), _at_threshold(math.inf, run)


def _at_threshold(stream_bytes, run):
    """run with outer.STREAM_BYTES set: 0 sends every float64 product to the kernel, inf to BLAS."""

    def timed():
        saved, O.STREAM_BYTES = O.STREAM_BYTES, stream_bytes
        try:
            return run()
        finally:
            O.STREAM_BYTES = saved

    return timed
