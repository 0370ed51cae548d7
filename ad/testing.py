"""Oracles for checking derivatives: finite differences, the complex step, batched against
one-at-a-time, and per-op sampling from each op's declared domain. Public, so users can
test their own ops the way the suite tests the library's."""

from __future__ import annotations

import numpy as np

from ad import registry
from ad.forward.dual import Dual
from ad.reverse.api import vjp as reverse_vjp
from ad.rules import vjp as rules_vjp
from ad.rules import zeros
from ad.trace import apply, new_level, raw
from ad.tree import flatten

# Tolerances at float64, stated once for the whole suite.
FD_STEP = 1e-6
FD_RTOL, FD_ATOL = 1e-6, 1e-7  # central differences: O(h^2) truncation + O(eps/h) rounding
CS_RTOL, CS_ATOL = 1e-11, 1e-12  # the complex step has no subtraction: near machine precision
EXACT_RTOL, EXACT_ATOL = 1e-12, 1e-12  # two exact computations of the same number

_DEFAULT_SHAPES = {
    1: [((3, 4),), ((),)],
    2: [((3, 4), (3, 4)), ((3, 1), (4,)), ((), (2, 3))],
    3: [((3, 4), (3, 4), (3, 4)), ((2, 3), (3,), ())],
}


def examples(op: registry.Op, seed: int = 0) -> list[tuple[tuple, dict]]:
    """The (operands, params) an op is tested on: its own, or drawn from its domain."""
    rng = np.random.default_rng(seed)
    if op.examples is not None:
        return list(op.examples(rng))
    arity = len(op.derivs) if op.derivs else len(op.domain)
    out = []
    for shapes in _DEFAULT_SHAPES[arity]:
        doms = op.domain if len(op.domain) == arity else op.domain * arity
        out.append((tuple(registry.DOMAINS[d](rng, s) for d, s in zip(doms, shapes)), {}))
    return out


def differentiable_ops() -> list[registry.Op]:
    """Every registered op with a derivative (the suite iterates these)."""
    return [op for op in registry.all_ops() if op.kind != "nondiff"]


def cases(op: registry.Op, seed: int = 0):
    """(operands, params, indices of the operands to differentiate) for each of op's examples."""
    for operands, params in examples(op, seed):
        idx = differentiable(op, operands)
        if idx:
            yield operands, params, idx


def differentiable(op: registry.Op, operands) -> list[int]:
    """Indices of the operands to differentiate: float arrays not drawn from a constant domain."""
    doms = op.domain if len(op.domain) == len(operands) else op.domain[:1] * len(operands)
    return [
        i
        for i, (x, d) in enumerate(zip(operands, doms))
        if d not in registry.CONSTANT_DOMAINS
        and not callable(x)  # a composite's function argument (apply_along_axis)
        and x is not None  # an option left at its default (np.result_type(None) is float64)
        and np.issubdtype(np.result_type(x), np.floating)
        and not isinstance(x, bool)
    ]


def _flat(y) -> np.ndarray:
    if isinstance(y, tuple | list):
        return np.concatenate([_flat(v) for v in y]) if y else np.zeros(0)
    return np.ravel(np.asarray(raw(y), dtype=complex if np.iscomplexobj(raw(y)) else float))


def op_function(op, operands, params, idx):
    """x_idx -> op(operands with x_idx substituted), the function the oracles differentiate."""

    def f(*xs):
        full = list(operands)
        for i, x in zip(idx, xs):
            full[i] = x
        return apply(op, full, params)

    return f


def central_difference(f, xs, vs, h: float = FD_STEP) -> np.ndarray:
    """(f(x + h v) - f(x - h v)) / 2h, flattened."""
    plus = f(*(x + h * v for x, v in zip(xs, vs)))
    minus = f(*(x - h * v for x, v in zip(xs, vs)))
    return (_flat(plus) - _flat(minus)) / (2 * h)


def complex_step(f, xs, vs, h: float = 1e-20) -> np.ndarray:
    """Im f(x + i h v) / h: exact to rounding for real-analytic f (Squire & Trapp 1998)."""
    return np.imag(_flat(f(*(x + 1j * h * v for x, v in zip(xs, vs))))) / h


def jvp_flat(f, xs, vs) -> np.ndarray:
    """Our forward-mode J v, flattened (zeros where an output has no tangent)."""
    level = new_level()
    out = f(*(Dual(np.asarray(x, float), np.asarray(v, float), level) for x, v in zip(xs, vs)))
    return _flat(_tangent(out, level))


def _tangent(y, level, prefix=()):
    if isinstance(y, tuple | list):
        return [_tangent(v, level, prefix) for v in y]
    if isinstance(y, Dual) and y.level == level:
        return y.tangent
    return zeros(y, prefix)


def batched_jvp(f, xs, Vs) -> list:
    """Our forward-mode J V for k directions at once: one tangent block per output."""
    level = new_level()
    k = Vs[0].shape[0]
    out = f(*(Dual(np.asarray(x, float), np.asarray(V, float), level, k) for x, V in zip(xs, Vs)))
    return _tangent(out, level, (k,))


def assert_close(actual, expected, rtol, atol, what: str):
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != {expected.shape}")
    if not np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
        err = np.max(np.abs(actual - expected) / (atol + rtol * np.abs(expected)))
        raise AssertionError(
            f"{what}: mismatch (worst error {err:.3g} of tolerance)\nactual   {actual}\nexpected {expected}"
        )


def assert_trees_close(
    actual, expected, rtol=1e-12, atol=1e-12, what: str = "result", *, scaled=0.0, dtypes=False
):
    """assert_close leaf by leaf over two pytrees of one structure (a peer's results, JAX's
    included, are trees of arrays too). Each leaf is within rtol, and within the larger of
    atol and `scaled` times the expected leaf's largest finite entry (an entry that cancels to
    near zero carries the rounding of the terms that cancelled); with dtypes, of its dtype."""
    got, tree = flatten(actual)
    want, want_tree = flatten(expected)
    if tree != want_tree:
        raise AssertionError(f"{what}: structure {tree} != {want_tree}")
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(raw(g)), np.asarray(raw(w))
        if dtypes and g.dtype != w.dtype:
            raise AssertionError(f"{what}, leaf {i}: dtype {g.dtype} != {w.dtype}")
        finite = np.abs(w[np.isfinite(w)]) if scaled else ()
        tol = max(atol, scaled * finite.max()) if len(finite) else atol
        assert_close(g, w, rtol, tol, f"{what}, leaf {i}")


def _ravel_all(parts) -> np.ndarray:
    return _flat([np.zeros(0) if p is None else p for p in parts])


def rule_vjp(op, operands, params, idx, ct, batched=False):
    """J^T ct from op's VJP rule, called directly on plain arrays (no engine involved); a
    composite op has no rule of its own, so its parts' run through the reverse engine."""
    if op.kind == "composite":
        out, real_pullback = reverse_vjp(op_function(op, operands, params, idx), *(operands[i] for i in idx))

        def pullback(c):
            """A rule is C-linear in its cotangent, even a complex one for a real output; the
            engine takes real cotangents for real outputs, so pull back both parts."""
            re, im = _parts(c, out)
            if im is None:
                return real_pullback(c)
            return [a + 1j * b for a, b in zip(real_pullback(re), real_pullback(im))]

        if not batched:
            return list(pullback(ct))
        per = [pullback(direction(ct, j)) for j in range(np.shape(flatten(ct)[0][0])[0])]
        return [np.stack([p[j] for p in per]) for j in range(len(idx))]
    out = apply(op, list(operands), params)
    needs = [i in idx for i in range(len(operands))]
    cts = rules_vjp(op, ct, list(operands), out, params, batched, needs)
    return [cts[i] for i in idx]


def _parts(ct, out):
    """(Re ct, Im ct) where ct is complex for a real output somewhere, else (ct, None)."""
    cts, treedef = flatten(ct)
    real = [not np.iscomplexobj(raw(y)) for y in flatten(out)[0]]
    if not any(r and np.iscomplexobj(c) for c, r in zip(cts, real)):
        return ct, None
    return (
        treedef([np.real(c) if r else c for c, r in zip(cts, real)]),
        treedef([np.imag(c) if r else np.zeros_like(c) for c, r in zip(cts, real)]),
    )


def tree_map(f, tree):
    """f of each leaf, in tree's structure: an op's output may nest (histogramdd's (counts,
    [edges])) or be a namedtuple (unique_counts')."""
    leaves, treedef = flatten(tree)
    return treedef([f(leaf) for leaf in leaves])


def direction(tree, j: int):
    """The j-th of the k directions a batched tangent or cotangent tree carries on its leaves."""
    return tree_map(lambda leaf: leaf[j], tree)


def random_cotangent(out, rng, k=None):
    """A random cotangent for out (with k directions): complex where an output is complex."""
    pre = () if k is None else (k,)
    if isinstance(out, tuple | list):
        return tree_map(lambda o: random_cotangent(o, rng, k), out)
    w = rng.standard_normal(pre + np.shape(out))
    return w + 1j * rng.standard_normal(pre + np.shape(out)) if np.iscomplexobj(raw(out)) else w


def pairing(a, b) -> float:
    """<a, b> = Re sum(a b) over flattened values: the real pairing the dot-product tests use."""
    return float(np.real(_flat(a) @ _flat(b)))


def dot_product_test(op, operands, params, idx, rng) -> tuple[float, float]:
    """<J u, w> and <u, J^T w> from our own JVP and VJP; equal to rounding if both are right."""
    f = op_function(op, operands, params, idx)
    xs = [np.asarray(operands[i], float) for i in idx]
    us = [rng.standard_normal(np.shape(x)) for x in xs]
    w = random_cotangent(apply(op, list(operands), params), rng)
    Ju = jvp_flat(f, xs, us)
    JTw = rule_vjp(op, operands, params, idx, w)
    for i, (g, x) in zip(idx, zip(JTw, xs)):
        if g is None or np.shape(g) != np.shape(x):
            raise AssertionError(
                f"{op.name}: VJP for operand {i} has shape {np.shape(g)}, expected {np.shape(x)}"
            )
    return pairing(Ju, w), float(np.real(_ravel_all(us) @ _ravel_all(JTw)))


def gradcheck(
    f,
    *args,
    eps: float = FD_STEP,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    fast_mode: bool = False,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check f's derivatives in every float argument: forward, reverse and finite differences.

    Full mode compares jacfwd, jacrev and the central-difference Jacobian of each argument
    (n + m passes and 2n evaluations). ``fast_mode`` (PyTorch's) checks one random
    projection instead: w^T J u from a JVP, a VJP and two evaluations of f.
    Returns True, or raises AssertionError naming the argument and the worst entry.
    """
    from ad.forward.api import jacfwd, jvp
    from ad.reverse.api import jacrev
    from ad.reverse.api import vjp as vjp_

    rng = np.random.default_rng(seed)
    idx = [i for i, a in enumerate(args) if np.issubdtype(np.result_type(a), np.floating)]
    if not idx:
        raise TypeError(
            "gradcheck needs at least one floating-point argument; pass floats, e.g. x.astype(float)"
        )
    try:
        for i in idx:

            def fi(x, i=i):
                full = list(args)
                full[i] = x
                return f(*full)

            x = np.asarray(args[i], float)
            if fast_mode:
                u = rng.standard_normal(x.shape)
                out, vjp_fn = vjp_(fi, x)
                w = rng.standard_normal(np.shape(out))
                fwd = float(np.sum(np.asarray(jvp(fi, (x,), (u,))[1]) * w))
                rev = float(np.sum(vjp_fn(w)[0] * u))
                fd = float(central_difference(fi, [x], [u], eps) @ np.ravel(w))
                assert_close(
                    fwd, fd, rtol, atol, f"gradcheck(fast): argument {i}, forward vs finite differences"
                )
                assert_close(
                    rev,
                    fwd,
                    EXACT_RTOL * 100,
                    EXACT_ATOL * 100,
                    f"gradcheck(fast): argument {i}, reverse vs forward",
                )
                continue
            Jf, Jr = jacfwd(fi)(x), jacrev(fi)(x)
            out_shape = Jf.shape[: Jf.ndim - x.ndim]
            cols = [central_difference(fi, [x], [e.reshape(x.shape)], eps) for e in np.eye(x.size)]
            Jd = np.stack(cols, axis=-1) if cols else np.zeros((int(np.prod(out_shape)), 0))
            Jd = Jd.reshape(out_shape + x.shape)
            assert_close(Jf, Jd, rtol, atol, f"gradcheck: argument {i}, jacfwd vs finite differences")
            assert_close(
                Jr, Jf, EXACT_RTOL * 100, EXACT_ATOL * 100, f"gradcheck: argument {i}, jacrev vs jacfwd"
            )
    except AssertionError:
        if raise_exception:
            raise
        return False
    return True
