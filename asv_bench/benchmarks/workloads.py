"""The workloads the suites time, for `ad` and for its peers (JAX, PyTorch, HIPS autograd).

Every factory builds one problem for one library and returns a zero-argument callable that
computes the derivative asked for, after calling it once: JIT compilation (numba, jax.jit)
and tracing happen here, never inside a timing. A peer that is not installed, or a mode a
library does not offer, raises NotImplementedError, which asv reports as skipped.

No peer is imported at module level: asv imports every suite into the process it forks
each benchmark from, so a top-level `import torch` would inflate every peakmem_ result.
All arrays are float64 and every library runs on AD_BENCH_THREADS CPU threads (default 1,
see __init__.py).
"""

from __future__ import annotations

import gc
import importlib
import math
import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

import ad
from ad.kernels.outer import outer
from ad.reverse.checkpoint import STRATEGIES as _STRATEGIES

from . import THREADS as bench_threads

# AD_BENCH_SMOKE=1: every size scan is cut to its smallest value and the scalar chain to 10
# iterations, so that each benchmark runs once on every code path in seconds instead of
# minutes (CI's dry run); the numbers it gives measure nothing.
SMOKE = os.environ.get("AD_BENCH_SMOKE", "") not in ("", "0")


def sizes(values: list) -> list:
    """values, or only the first (the smallest) under AD_BENCH_SMOKE."""
    return values[:1] if SMOKE else values


PEERS = ("jax", "torch", "autograd")
DIMS = sizes([1, 10, 100, 1000])  # n or m in the Jacobian scans
FIXED = 100  # the other dimension in those scans
JAC_SHAPES = sizes(["10x1000", "1000x10", "300x300"])  # n x m of the full-Jacobian targets
MLP_SIZES = sizes([10, 100, 1000])
HVP_SIZES = sizes([10, 100, 1000])
DEPTHS = sizes([4, 16, 64])
STRATEGIES = list(_STRATEGIES)  # "all", "sqrt", "recursive"
WIDTH = 2**17  # elements per layer in the depth chain: 1 MiB per float64 array
CHAIN_OPS = 10 if SMOKE else 100  # iterations of y = sin(y) * 1.01 + y: 3 scalar ops each


def limit_threads(threads: int) -> str:
    """Pin every loaded BLAS/OpenMP pool to `threads` (threadpoolctl); say what holds."""
    threadpool_limits(threads)
    return f"threadpoolctl: {threads} thread(s)"


THREADS = limit_threads(bench_threads)


# --------------------------------------------------------------------------- peers
_loaded: dict[str, object] = {}


def peer(lib: str):
    """The peer's module, configured (float64, one thread); NotImplementedError if absent."""
    if lib in _loaded:
        return _loaded[lib]
    if lib not in PEERS:
        raise ValueError(f"unknown peer {lib!r}; expected one of {PEERS}")
    wanted = os.environ.get("AD_BENCH_PEERS")
    if wanted is not None and lib not in wanted.split(","):
        raise NotImplementedError(f"{lib} left out by AD_BENCH_PEERS={wanted!r}")
    try:
        mod = importlib.import_module(lib)
    except ImportError as e:
        raise NotImplementedError(f"{lib} is not installed ({e})") from None
    if lib == "jax":
        mod.config.update("jax_enable_x64", True)
        mod.config.update("jax_platforms", "cpu")
    elif lib == "torch":
        mod.set_num_threads(bench_threads)
        try:
            mod.set_num_interop_threads(1)
        except RuntimeError:  # only settable before the first parallel work
            pass
    _loaded[lib] = mod
    return mod


def versions() -> dict[str, str]:
    """Installed versions of numpy, numba, ad and each peer (None where absent)."""
    out = {"numpy": np.__version__}
    for lib in ("numba", "ad_modes", *PEERS):
        try:
            from importlib.metadata import version

            out[lib] = version(lib)
        except Exception:
            out[lib] = None
    return out


_built: dict[tuple, object] = {}


def cached(factory, *args, **kwargs):
    """factory(*args, **kwargs), built once per process.

    asv re-runs a benchmark's setup before every sample (and then times one call), so the
    suites' setups go through here: the second setup is a lookup, and each sample times
    the same warm callable instead of a freshly built (and re-traced) one.
    """
    key = (factory.__name__, args, tuple(sorted(kwargs.items())))
    if key not in _built:
        _built[key] = factory(*args, **kwargs)
    return _built[key]


def warm(fn, times: int = 2):
    for _ in range(times):
        fn()
    return fn


# --------------------------------------------------------------------------- timing
def median_time(fn, repeat: int = 15, min_sample: float = 2e-3, budget: float = 3.0) -> float:
    """Median seconds per call of fn over `repeat` samples of `number` calls each.

    `number` is grown until one sample takes min_sample; fewer samples are taken if the
    total would pass `budget` seconds (at least 3). The garbage collector is off while a
    sample runs, as in timeit and asv.
    """
    return median_times([fn], repeat, min_sample, budget)[0]


def median_times(fns, repeat: int = 15, min_sample: float = 2e-3, budget: float = 3.0) -> list[float]:
    """median_time for several callables, their samples interleaved (drift hits all alike)."""
    numbers = []
    for fn in fns:
        fn()
        number = 1
        while True:
            t = _sample(fn, number)
            if t * number >= min_sample or number >= 1 << 20:
                break
            number *= max(2, min(10, int(min_sample / max(t * number, 1e-9))))
        numbers.append(number)
    per_round = sum(_sample(fn, n) * n for fn, n in zip(fns, numbers))
    repeat = max(3, min(repeat, int(budget / max(per_round, 1e-9))))
    samples = [[] for _ in fns]
    for _ in range(repeat):
        for s, fn, n in zip(samples, fns, numbers):
            s.append(_sample(fn, n))
    return [statistics.median(s) for s in samples]


def _sample(fn, number: int) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        gc.enable()


def faults_per_call(fn, calls: int = 5):
    """Minor page faults per call of fn (fresh memory the kernel maps in on first touch), or
    None off Unix. A gradient that allocates 8 MB arrays pays for them here when the allocator
    gives freed memory back to the system between calls (glibc's default for such sizes)."""
    try:
        import resource
    except ImportError:
        return None
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def peak_bytes(fn) -> int:
    """Peak bytes allocated by fn above what was live before (tracemalloc; NumPy reports its
    buffers to it), so the number is the tape's, not the interpreter's."""
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


# --------------------------------------------------------------------------- scalar chain
CHAIN_LIBS = [
    "numpy",
    "ad.grad",
    "ad.Tensor",
    "ad.compile",
    "ad.compile(specialize)",
    "torch",
    "autograd",
    "jax.jit",
]


def scalar_chain(lib: str):
    """d/dx of the chain y = sin(y) * 1.01 + y, 100 times (300 scalar ops), at x = 0.5.

    lib: "numpy" (the function alone, on a float), "ad.grad", "ad.Tensor" (backward),
    "ad.compile" (a compiled tape's grad, recorded here), "ad.compile(specialize)" (the same
    program as straight-line code), "torch" (eager, 0-d float64
    tensor), "autograd", "jax.jit" (jit(grad) on a float).
    """
    x0 = 0.5
    if lib == "numpy":
        return warm(lambda: _chain(np, x0))
    if lib == "ad.grad":
        g = ad.grad(lambda y: _chain(np, y))
        return warm(lambda: g(x0))
    if lib == "ad.Tensor":

        def run():
            x = ad.tensor(x0, requires_grad=True)
            _chain(np, x).backward()
            return x.grad

        return warm(run)
    if lib in ("ad.compile", "ad.compile(specialize)"):
        if not hasattr(ad, "compile"):
            raise NotImplementedError("this ad has no compiled tapes (ad.compile)")
        c = ad.compile(lambda y: _chain(np, y), x0, specialize=lib.endswith("(specialize)"))
        return warm(lambda: c.grad(x0))
    if lib == "torch":
        torch = peer("torch")

        def run():
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            _chain(torch, x).backward()
            return x.grad

        return warm(run)
    if lib == "autograd":
        ag = peer("autograd")
        import autograd.numpy as anp

        g = ag.grad(lambda y: _chain(anp, y))
        return warm(lambda: g(x0))
    if lib == "jax.jit":
        jax = peer("jax")
        import jax.numpy as jnp

        g = jax.jit(jax.grad(lambda y: _chain(jnp, y)))
        return warm(lambda: g(x0).block_until_ready())
    raise ValueError(f"scalar_chain: unknown lib {lib!r}")


def _chain(xp, y):
    for _ in range(CHAIN_OPS):
        y = xp.sin(y) * 1.01 + y
    return y


# --------------------------------------------------------------------------- MLP
def mlp_data(n: int, seed: int = 0):
    """x in R^n, W1 and W2 in R^{n x n} (n = h), scaled so tanh stays out of saturation."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    W1 = rng.standard_normal((n, n)) / np.sqrt(n)
    W2 = rng.standard_normal((n, n)) / np.sqrt(n)
    return x, W1, W2


def mlp(lib: str, n: int, wrt: str = "x"):
    """(function, gradient) callables for sum(tanh(W2 @ tanh(W1 @ x))) with n = h.

    wrt "x": the gradient in x; "weights": in (W1, W2). The function is the library's own
    forward without recording (NumPy for ad and autograd, no_grad for torch, jit for jax).
    lib "by hand" is no library: the gradient written out in NumPy (mlp_by_hand), the floor.
    """
    if wrt not in ("x", "weights"):
        raise ValueError(f"mlp: wrt must be 'x' or 'weights'; got {wrt!r}")
    x, W1, W2 = mlp_data(n)
    argnums = 0 if wrt == "x" else (1, 2)
    if lib == "ad":
        f = lambda x, W1, W2: np.sum(np.tanh(W2 @ np.tanh(W1 @ x)))
        g = ad.grad(f, argnums)
        return warm(lambda: f(x, W1, W2)), warm(lambda: g(x, W1, W2))
    if lib == "ad.Tensor":
        f = lambda x, W1, W2: np.sum(np.tanh(W2 @ np.tanh(W1 @ x)))

        def run():
            wanted = (True, False, False) if wrt == "x" else (False, True, True)
            ts = [ad.tensor(a, requires_grad=r) for a, r in zip((x, W1, W2), wanted)]
            f(*ts).backward()
            return [t.grad for t in ts]

        return warm(lambda: f(x, W1, W2)), warm(run)
    if lib == "by hand":
        return warm(lambda: np.sum(np.tanh(W2 @ np.tanh(W1 @ x)))), warm(lambda: mlp_by_hand(x, W1, W2, wrt))
    if lib == "autograd":
        ag = peer("autograd")
        import autograd.numpy as anp

        f = lambda x, W1, W2: anp.sum(anp.tanh(W2 @ anp.tanh(W1 @ x)))
        g = ag.grad(f, argnums)
        return warm(lambda: f(x, W1, W2)), warm(lambda: g(x, W1, W2))
    if lib == "torch":
        torch = peer("torch")
        tx, t1, t2 = (torch.from_numpy(a.copy()) for a in (x, W1, W2))
        diff = [tx] if wrt == "x" else [t1, t2]
        for t in diff:
            t.requires_grad_(True)
        f = lambda: torch.tanh(t2 @ torch.tanh(t1 @ tx)).sum()

        def function():
            with torch.no_grad():
                return f()

        return warm(function), warm(lambda: torch.autograd.grad(f(), diff))
    if lib == "jax":
        jax = peer("jax")
        import jax.numpy as jnp

        jf = lambda x, W1, W2: jnp.sum(jnp.tanh(W2 @ jnp.tanh(W1 @ x)))
        args = tuple(jax.device_put(a) for a in (x, W1, W2))
        f, g = jax.jit(jf), jax.jit(jax.grad(jf, argnums))
        return (
            warm(lambda: f(*args).block_until_ready()),
            warm(lambda: jax.block_until_ready(g(*args))),
        )
    raise ValueError(f"mlp: unknown lib {lib!r}")


def mlp_by_hand(x, W1, W2, wrt: str):
    """The MLP's gradient written out in NumPy with the products ad's rules call (BLAS's
    matrix-vector products, kernels.outer for a matrix's cotangent) and nothing else: no
    engine, no recording, no checks. What it costs is the floor an eager engine works above."""
    h1 = np.tanh(W1 @ x)
    y = np.tanh(W2 @ h1)
    np.sum(y)
    g2 = 1.0 - y * y  # d sum(tanh(z)) / dz
    g1 = g2.dot(W2) * (1.0 - h1 * h1)
    if wrt == "x":
        return g1.dot(W1)
    return outer(g1, x), outer(g2, h1)


# --------------------------------------------------------------------------- Jacobians
AD_JAC_MODES = ["fwd", "rev", "fwd_batched", "rev_batched", "auto"]
PEER_JAC_MODES = ["fwd", "rev"]


def tanh_affine_data(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)) / np.sqrt(n), rng.standard_normal(n)


def jacobian(lib: str, mode: str, n: int, m: int):
    """Full Jacobian (m x n) of f(x) = tanh(A x), A in R^{m x n}.

    ad modes: "fwd" / "rev" seed one direction per pass (chunk=1: n JVPs or m VJPs, the
    textbook cost), "fwd_batched" / "rev_batched" seed ad's default chunk of directions per
    pass (every direction in one pass while the seed has at most 2^17 entries, n <= 362; then
    as many as fit, at least 128), "auto" is ad.jacobian(mode="auto").
    Peers: "fwd" / "rev" are jax.jit(jax.jacfwd / jacrev), torch.func.jacfwd / jacrev
    (vmapped), autograd.jacobian (reverse) and a loop of autograd's make_jvp (forward).
    """
    A, x = tanh_affine_data(n, m)
    if lib == "ad":
        f = lambda x: np.tanh(A @ x)
        fn = {
            "fwd": lambda: ad.jacfwd(f, chunk=1),
            "rev": lambda: ad.jacrev(f, chunk=1),
            "fwd_batched": lambda: ad.jacfwd(f),
            "rev_batched": lambda: ad.jacrev(f),
            "auto": lambda: ad.jacobian(f, mode="auto"),
        }
        if mode not in fn:
            raise NotImplementedError(f"ad has no Jacobian mode {mode!r}")
        J = fn[mode]()
        return warm(lambda: J(x))
    if mode not in PEER_JAC_MODES:
        raise NotImplementedError(f"{lib} is timed in modes {PEER_JAC_MODES}, not {mode!r}")
    if lib == "jax":
        jax = peer("jax")
        import jax.numpy as jnp

        f = lambda x, A: jnp.tanh(A @ x)
        J = jax.jit((jax.jacfwd if mode == "fwd" else jax.jacrev)(f))
        xa, Aa = jax.device_put(x), jax.device_put(A)
        return warm(lambda: J(xa, Aa).block_until_ready())
    if lib == "torch":
        torch = peer("torch")
        from torch.func import jacfwd, jacrev

        At, xt = torch.from_numpy(A), torch.from_numpy(x)
        f = lambda x: torch.tanh(At @ x)
        J = (jacfwd if mode == "fwd" else jacrev)(f)
        return warm(lambda: J(xt))
    if lib == "autograd":
        ag = peer("autograd")
        import autograd.numpy as anp

        f = lambda x: anp.tanh(A @ x)
        if mode == "rev":
            J = ag.jacobian(f)
            return warm(lambda: J(x))
        from autograd.differential_operators import make_jvp

        eye = np.eye(n)

        def J():
            push = make_jvp(f)(x)
            return np.stack([push(e)[1] for e in eye], axis=-1)

        return warm(J)
    raise ValueError(f"jacobian: unknown lib {lib!r}")


# --------------------------------------------------------------------------- HVP
HVP_MODES = list(ad.functional.HVP_MODES)  # fwd-rev, rev-fwd, rev-rev, fwd-fwd


def rosenbrock_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, n), rng.standard_normal(n)


def _rosen(xp, x):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock(x):
    return _rosen(np, x)


def hvp(lib: str, mode: str, n: int):
    """H v of the Rosenbrock function in R^n, by one of the four compositions of the modes.

    fwd-rev: JVP of the gradient; rev-fwd: gradient of the directional derivative taken
    forward; rev-rev: gradient of <grad f, v>; fwd-fwd: Jacobian (by JVPs) of the JVP.
    Peers compose the same way from their own jvp / grad / jacfwd (autograd: make_jvp,
    grad, and fwd-fwd as n make_jvp calls).
    """
    if mode not in HVP_MODES:
        raise ValueError(f"hvp: mode must be one of {HVP_MODES}; got {mode!r}")
    x, v = rosenbrock_data(n)
    if lib == "ad":
        return warm(lambda: ad.hvp(rosenbrock, (x,), (v,), mode=mode)[1])
    if lib == "jax":
        jax = peer("jax")
        import jax.numpy as jnp

        f = lambda x: _rosen(jnp, x)
        fdir = lambda x, v: jax.jvp(f, (x,), (v,))[1]
        h = {
            "fwd-rev": lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1],
            "rev-fwd": lambda x, v: jax.grad(fdir)(x, v),
            "rev-rev": lambda x, v: jax.grad(lambda x: jnp.vdot(jax.grad(f)(x), v))(x),
            "fwd-fwd": lambda x, v: jax.jacfwd(fdir)(x, v),
        }[mode]
        h = jax.jit(h)
        xa, va = jax.device_put(x), jax.device_put(v)
        return warm(lambda: h(xa, va).block_until_ready())
    if lib == "torch":
        torch = peer("torch")
        from torch.func import grad, jacfwd, jvp

        f = lambda x: _rosen(torch, x)
        xt, vt = torch.from_numpy(x), torch.from_numpy(v)
        fdir = lambda x: jvp(f, (x,), (vt,))[1]
        h = {
            "fwd-rev": lambda: jvp(grad(f), (xt,), (vt,))[1],
            "rev-fwd": lambda: grad(fdir)(xt),
            "rev-rev": lambda: grad(lambda x: torch.dot(grad(f)(x), vt))(xt),
            "fwd-fwd": lambda: jacfwd(fdir)(xt),
        }[mode]
        return warm(h)
    if lib == "autograd":
        ag = peer("autograd")
        import autograd.numpy as anp
        from autograd.differential_operators import make_jvp

        f = lambda x: _rosen(anp, x)
        fdir = lambda x: make_jvp(f)(x)(v)[1]
        if mode == "fwd-rev":
            h = lambda: make_jvp(ag.grad(f))(x)(v)[1]
        elif mode == "rev-fwd":
            g = ag.grad(fdir)
            h = lambda: g(x)
        elif mode == "rev-rev":
            hv = ag.hessian_vector_product(f)
            h = lambda: hv(x, v)
        else:
            eye = np.eye(n)

            def h():
                push = make_jvp(fdir)(x)
                return np.array([push(e)[1] for e in eye])

        return warm(h)
    raise ValueError(f"hvp: unknown lib {lib!r}")


# --------------------------------------------------------------------------- depth / memory
def depth_data(width: int = WIDTH, seed: int = 0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, width)


def tanh_chain_grad(lib: str, strategy: str, depth: int, width: int = WIDTH, warmup: bool = True):
    """Gradient of sum(tanh^L(x)), x in R^width: L tanh layers stored per `strategy`.

    ad: ad.checkpoint_sequential(layers, strategy) ("all" stores every layer, "sqrt" every
    ceil(sqrt L), "recursive" halves). torch: "all" is plain autograd, "sqrt" is
    torch.utils.checkpoint.checkpoint_sequential with ceil(sqrt L) segments; it has no
    "recursive".
    """
    x = depth_data(width)
    if lib == "ad":
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")
        net = ad.checkpoint_sequential([np.tanh] * depth, strategy)
        g = ad.grad(lambda x: np.sum(net(x)))
        fn = lambda: g(x)
    elif lib == "torch":
        torch = peer("torch")
        from torch.utils.checkpoint import checkpoint_sequential

        layers = [torch.tanh] * depth
        if strategy == "all":
            net = lambda x: _compose(layers, x)
        elif strategy == "sqrt":
            segments = math.ceil(depth / math.ceil(math.sqrt(depth)))
            net = lambda x: checkpoint_sequential(layers, segments, x, use_reentrant=False)
        else:
            raise NotImplementedError(f"torch has no {strategy!r} checkpoint strategy")
        xt = torch.from_numpy(x)

        def fn():
            xx = xt.detach().requires_grad_(True)
            return torch.autograd.grad(net(xx).sum(), [xx])[0]
    else:
        raise NotImplementedError(f"depth chain is timed for ad and torch, not {lib!r}")
    return warm(fn, 1) if warmup else fn


def _compose(layers, x):
    for layer in layers:
        x = layer(x)
    return x
