"""The problem suite: each problem is a function R^n -> R^m at a point, with its cost model.

A problem builds its function from a `Backend` (the few array functions it uses), so the
same mathematics runs on NumPy (differentiated by ad) and on each peer library.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

import ad
from ad.compare import count, model
from ad.transform import spans
from ad.tree import LEAF, flatten


@dataclass(frozen=True)
class Backend:
    """The array functions the problems call, from one library."""

    name: str
    asarray: Callable
    tanh: Callable
    exp: Callable
    sqrt: Callable
    sum: Callable
    relu: Callable
    logaddexp: Callable
    solve: Callable
    eye: Callable


NUMPY = Backend(
    "numpy", np.asarray, np.tanh, np.exp, np.sqrt, np.sum, ad.relu, np.logaddexp, np.linalg.solve, np.eye
)


@dataclass(frozen=True)
class Problem:
    """f: R^n -> R^m (flat vectors, or a scalar when m = 1) at the point x."""

    name: str
    about: str  # the mathematics, one line
    make: Callable[[Backend], Callable]  # backend -> f
    x: np.ndarray
    m: int
    cost: model.Cost
    yours: bool = False  # the user's own function (the report then says which mode to use)

    @property
    def n(self) -> int:
        return int(self.x.size)

    def f(self) -> Callable:
        """The function ad differentiates (NumPy backend)."""
        return self.make(NUMPY)

    @functools.cached_property
    def ops(self) -> int:
        """NumPy calls in one evaluation of f (count.py): the ops a pass pays overhead for."""
        return count.count(self.f(), self.x).ops


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def mlp(d: int = 20, h: int = 20, o: int = 5, seed: int = 0) -> Problem:
    """The notes' chain [dot, relu, dot, relu, dot, squared_loss], differentiated in its weights."""
    rng = _rng(seed)
    shapes = [(h, d), (h, h), (o, h)]
    sizes = [a * b for a, b in shapes]
    theta = np.concatenate([rng.standard_normal(s) / math.sqrt(shape[1]) for s, shape in zip(sizes, shapes)])
    x0, y = rng.standard_normal(d), rng.standard_normal(o)
    cuts = np.cumsum([0] + sizes)

    def make(xp):
        x, target = xp.asarray(x0), xp.asarray(y)

        def f(theta):
            W1, W2, W3 = (theta[cuts[i] : cuts[i + 1]].reshape(shapes[i]) for i in range(3))
            out = W3 @ xp.relu(W2 @ xp.relu(W1 @ x))
            return 0.5 * xp.sum((out - target) ** 2)

        return f

    n = theta.size
    f_cost = n + 2 * h + 2 * o
    return Problem(
        "mlp",
        f"MLP {d}-{h}-{h}-{o}, squared loss, in its {n} weights",
        make,
        theta,
        1,
        model.generic(n, 1, f_cost),
    )


def dag() -> Problem:
    """The notes' DAG example f(x1, x2) = x2 e^{x1} sqrt(x1 + x2 e^{x1}) at (0.5, 1.3)."""

    def make(xp):
        def f(x):
            a = x[1] * xp.exp(x[0])  # used twice: fan-out
            return a * xp.sqrt(x[0] + a)

        return f

    return Problem(
        "dag",
        "x2 e^x1 sqrt(x1 + x2 e^x1) at (0.5, 1.3)",
        make,
        np.array([0.5, 1.3]),
        1,
        model.generic(2, 1, 6),
    )


def chain(K: int = 10, D: int = 100, M: int = 10, seed: int = 1, name: str = "chain") -> Problem:
    """K maps h -> tanh(W_k h) of R^D, then h -> W h into R^M."""
    rng = _rng(seed)
    Ws = [rng.standard_normal((D, D)) / math.sqrt(D) for _ in range(K)]
    W_out = rng.standard_normal((M, D)) / math.sqrt(D)
    x = rng.uniform(-1, 1, D)

    def make(xp):
        ws, w_out = [xp.asarray(W) for W in Ws], xp.asarray(W_out)

        def f(h):
            for W in ws:
                h = xp.tanh(W @ h)
            return w_out @ h

        return f

    return Problem(
        name, f"{K} maps tanh(W h) of R^{D}, then W h into R^{M}", make, x, M, model.chain(K, D, M)
    )


def tanh_affine(n: int, m: int, seed: int = 2, name: str | None = None) -> Problem:
    """tanh(A x), A in R^{m x n}: a chain with K = 0, D = n, M = m."""
    rng = _rng(seed)
    A = rng.standard_normal((m, n)) / math.sqrt(n)
    x = rng.standard_normal(n)

    def make(xp):
        a = xp.asarray(A)
        return lambda x: xp.tanh(a @ x)

    return Problem(
        name or f"tanh-affine-{n}x{m}", f"tanh(A x), A {m}x{n}", make, x, m, model.generic(n, m, m * n)
    )


def rosenbrock(n: int = 200, seed: int = 3) -> Problem:
    """sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2."""

    def make(xp):
        return lambda x: xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    x = _rng(seed).uniform(-1, 1, n)
    return Problem("rosenbrock", f"Rosenbrock in R^{n}", make, x, 1, model.generic(n, 1, 8 * n))


def logistic(samples: int = 200, n: int = 50, seed: int = 4) -> Problem:
    """Logistic regression loss sum_i log(1 + e^{z_i}) - y_i z_i, z = X w."""
    rng = _rng(seed)
    X = rng.standard_normal((samples, n)) / math.sqrt(n)
    y = (rng.uniform(size=samples) < 0.5).astype(float)
    w = rng.standard_normal(n)

    def make(xp):
        Xa, ya = xp.asarray(X), xp.asarray(y)

        def f(w):
            z = Xa @ w
            return xp.sum(xp.logaddexp(0.0 * z, z) - ya * z)

        return f

    about = f"logistic regression, {samples} samples, {n} weights"
    return Problem("logistic", about, make, w, 1, model.generic(n, 1, samples * n + 4 * samples))


def ridge(seed: int = 6) -> Problem:
    """x*(theta) = (A^T A + theta I)^{-1} A^T b, A 5x3, through ad.implicit_root.

    ad differentiates the root implicitly (the solver is never traced); peers differentiate
    through the solve, which gives the same numbers (the implicit function theorem).
    """
    rng = _rng(seed)
    A, b = rng.standard_normal((5, 3)), rng.standard_normal(5)

    def make(xp):
        a, bb, eye = xp.asarray(A), xp.asarray(b), xp.eye(3)
        direct = lambda theta: xp.solve(a.T @ a + theta[0] * eye, a.T @ bb)
        if xp is not NUMPY:
            return direct
        F = lambda x, theta: A.T @ (A @ x - b) + theta * x  # the optimality condition
        return ad.implicit_root(F, direct)

    cost = model.generic(1, 3, 5 * 3 * 3 + 3**3)
    return Problem("ridge", "ridge x*(theta), A 5x3, by ad.implicit_root", make, np.array([0.7]), 3, cost)


def user(f: Callable, x, name: str | None = None, peers: Mapping[str, Callable] | None = None) -> Problem:
    """The user's own f at x, its cost counted by running it once (count.py); `peers` maps a
    peer's name to the same function written with that library's arrays.

    x may be a pytree (tuples, lists, dicts of arrays), and so may f(x): every mode then
    differentiates f on x's leaves flattened into one vector, in ad.tree's leaf order (dict
    keys sorted), and the Jacobian's rows are f(x)'s leaves flattened in the same way.
    """
    leaves, tree = flatten(x)
    arrays = [_real_array(v, "the input") for v in leaves]
    if sum(a.size for a in arrays) == 0:
        raise ValueError(
            "the input has no entries: pass a non-empty array of real numbers (or a pytree of "
            "them), or a zero-argument function returning one"
        )
    if tree.kind is LEAF:
        (x,) = arrays
        g = f
    else:
        x = np.concatenate([a.ravel() for a in arrays])
        cuts = spans([a.shape for a in arrays])

        def g(v):
            return f(tree([v[start:stop].reshape(shape) for shape, start, stop in cuts]))

    try:
        y = g(x)
    except Exception as e:
        raise ValueError(
            f"f(x) raised {type(e).__name__}: {e}; the function must take the input"
            + ("" if tree.kind is LEAF else f" (a pytree {tree})")
        ) from e
    y_leaves, y_tree = flatten(y)
    m = sum(_real_array(v, "f(x)").size for v in y_leaves)
    if m == 0:
        raise ValueError("f(x) has no entries, so there is no Jacobian to compare: return a non-empty array")
    whole = tree.kind is LEAF and y_tree.kind is LEAF
    if not whole:
        g_tree = g

        def g(v):
            return np.concatenate([np.ravel(leaf) for leaf in flatten(g_tree(v))[0]])

    others = dict(peers or {})
    if others and not whole:
        raise ValueError(
            "peers= needs f of one array returning one array; with a pytree input or output, "
            "compare ad's modes alone (no peers), or flatten x and f(x) yourself for the peers"
        )
    tally = count.count(g, x)
    name = name or getattr(f, "__name__", "f")

    def make(xp):
        return g if xp is NUMPY else others[xp.name]

    about = f"{name}: R^{x.size} -> R^{m}, {tally.ops} ops, {tally.flops:,.0f} multiply-adds (counted)"
    pytrees = [f"{what} a pytree {t}" for what, t in (("x", tree), ("f(x)", y_tree)) if t.kind is not LEAF]
    if pytrees:
        about += f"; {' and '.join(pytrees)}, flattened"
    return Problem(name, about, make, x, m, model.generic(x.size, m, tally.flops), yours=True)


def _real_array(v, what: str) -> np.ndarray:
    """v as an array of floats, or a ValueError naming what it is."""
    a = None if isinstance(v, str | bytes) else np.asarray(v)
    if a is None or a.dtype.kind not in "fiu":
        raise ValueError(
            f"{what} must be an array of real numbers, or a pytree of them; got "
            f"{type(v).__name__ if a is None else f'dtype {a.dtype}'}: pass a float array"
        )
    return a.astype(float)


def overhead_probe(length: int = 16) -> Problem:
    """2 x `length` elementwise ops on a 2-vector: a pass of it is all per-op overhead."""

    def make(xp):
        def f(x):
            for _ in range(length):
                x = xp.tanh(x) * 1.01
            return x

        return f

    about = f"{length} x (tanh, scale) on R^2: the cost model's overhead probe"
    return Problem(
        "overhead probe", about, make, np.linspace(0.1, 0.2, 2), 2, model.generic(2, 2, 4 * length)
    )


def suite(quick: bool = False) -> list[Problem]:
    """The built-in problems, at full or --quick sizes."""
    if quick:
        return [
            mlp(8, 8, 2),
            dag(),
            chain(4, 30, 3),
            tanh_affine(5, 200, name="tall"),
            tanh_affine(200, 5, name="wide"),
            rosenbrock(50),
            logistic(50, 10),
            ridge(),
        ]
    return [
        mlp(),
        dag(),
        chain(),
        tanh_affine(10, 1000, name="tall"),
        tanh_affine(1000, 10, name="wide"),
        rosenbrock(),
        logistic(),
        ridge(),
    ]


NAMES = tuple(p.name for p in suite(quick=True))
