"""What composes the two engines: jacobian(mode=...) chosen by the cost model, hessian, hvp."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from ad import rules
from ad.forward.api import jacfwd, jvp
from ad.reverse.api import grad, jacrev, record, value_and_grad, vjp
from ad.trace import is_complex, raw
from ad.transform import (
    DEFAULT_CHUNK,
    Argnums,
    as_tangent,
    cast_like,
    check_chunk,
    default_chunk,
    describe,
    float_input,
    fresh,
    hooks_refused,
    require_real,
    seed_one,
    select,
)
from ad.tree import LEAF, flatten


@dataclasses.dataclass(frozen=True)
class Plan:
    """Which mode jacobian(mode="auto") runs, and the cost model's reasons (docs/cost-model.md)."""

    mode: str
    n: int  # input size
    m: int  # output size
    chunk: int  # chunk= as given, or DEFAULT_CHUNK: the fewest directions a default pass carries
    forward_passes: int  # ceil(n / k) batched JVP passes
    reverse_passes: int  # ceil(m / k) batched VJP sweeps
    reason: str
    forward_chunk: int  # k of the forward passes: chunk=, or default_chunk(n)
    reverse_chunk: int  # k of the reverse sweeps: chunk=, or default_chunk(m)


def plan(n: int, m: int, chunk: int | None = None) -> Plan:
    """The cost model: a Jacobian costs n JVPs forward or m VJPs reverse.

    Batched, that is ceil(n/k) passes or ceil(m/k) sweeps, but a pass of k directions still
    does k directions' arithmetic: what decides is n against m, the passes only add per-pass
    overhead. A VJP costs about as much as a JVP (both a small constant times f), and
    reverse mode also stores every intermediate value of f where forward stores none; so
    on a tie (n == m) forward wins. Without chunk=, k is default_chunk of n (forward) or of
    m (reverse): one pass up to a few hundred directions.
    """
    check_chunk(chunk, "plan")
    kf = max(1, chunk or default_chunk(n))
    kr = max(1, chunk or default_chunk(m))
    fp, rp = math.ceil(n / kf), math.ceil(m / kr)
    if n <= m:
        mode = "forward"
        why = (
            f"n = {n} <= m = {m}: n JVPs ({fp} pass(es) of up to {kf} tangents) against m VJPs "
            f"({rp} sweep(s)); forward also keeps no tape"
        )
    else:
        mode = "reverse"
        why = (
            f"m = {m} < n = {n}: m VJPs ({rp} sweep(s) of up to {kr} cotangents) against n JVPs "
            f"({fp} pass(es)), worth the tape's memory"
        )
    return Plan(mode, n, m, max(1, chunk or DEFAULT_CHUNK), fp, rp, why, kf, kr)


_SIGNATURES = 64  # output sizes a jacobian(mode="auto") keeps, one per input signature


def _size(tree) -> int:
    return sum(int(np.prod(rules.shape(x), dtype=int)) for x in flatten(tree)[0])


def _output_signature(g: Callable, primals: tuple, has_aux: bool) -> tuple[int, bool]:
    """(m, complex): the size of g's output (its aux left out) and whether it holds complex
    values, from a run recorded as jacrev records it: on Tensors, so that a g that calls
    their methods (register_hook, retain_grad) runs here as it runs there."""
    leaves = record(g, primals, who="jacobian", has_aux=has_aux).out_leaves
    return _size(leaves), any(rules.tangent_dtype(y).kind == "c" for y in leaves)


def jacobian(
    f: Callable,
    argnums: int | Sequence[int] = 0,
    mode: str = "auto",
    chunk: int | None = None,
    explain: bool = False,
    holomorphic: bool = False,
    executor=None,
    *,
    has_aux: bool = False,
) -> Callable:
    """Jacobian, out.shape + in.shape per pair of leaves (as jacfwd and jacrev), by "forward",
    "reverse" or "auto" (the cost model). With has_aux, f returns (output, aux) and the
    result is (J, aux), as jacfwd's and jacrev's. With ``explain=True`` the returned function
    gives ``(J, plan)`` (``((J, aux), plan)`` with has_aux). Without holomorphic=True, inputs
    must be real; a complex output of real inputs has the complex Jacobian jacfwd gives (as
    in JAX), which "auto" then computes in forward mode, and "reverse" refuses, as jacrev.
    ``executor``: the passes run as its tasks."""
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f'jacobian: mode must be "auto", "forward" or "reverse"; got {mode!r}')
    nums = Argnums(argnums, "jacobian")
    check_chunk(chunk, "jacobian")
    # The cost model needs the output size m, which only a call of f tells. "auto" records f once
    # per signature of the differentiated inputs (structure, shapes, dtypes) and keeps m: an
    # output whose size depends on values, or on the arguments held fixed, can then pick the
    # slower mode on a later call, never a wrong Jacobian. explain=True always calls f, so
    # that the plan it reports is this call's. Recorded, as jacrev runs f, rather than run on
    # plain arrays: an f that calls Tensor methods (register_hook) runs there.
    sizes: dict = {}
    options = {"chunk": chunk, "holomorphic": holomorphic, "executor": executor, "has_aux": has_aux}

    def jac(*args):
        primals, g = select(f, args, nums)
        leaves, tree = flatten(primals)
        leaves = [float_input(p, "jacobian") for p in leaves]
        if not holomorphic:
            require_real(leaves, "jacobian", "input")
        n = _size(primals)
        m, complex_out = 0, False
        if explain:
            m, complex_out = _output_signature(g, primals, has_aux)
        elif mode == "auto":
            # leaves are arrays or traced values here (float_input): both have shape and dtype
            key = (tree, tuple((x.shape, x.dtype) for x in leaves))
            signature = sizes.get(key)
            if signature is None:
                if len(sizes) >= _SIGNATURES:
                    sizes.clear()
                signature = sizes[key] = _output_signature(g, primals, has_aux)
            m, complex_out = signature
        p = plan(n, m, chunk)
        if complex_out and not holomorphic and p.mode == "reverse":
            p = dataclasses.replace(
                p,
                mode="forward",
                reason="the output is complex and the inputs real: forward mode "
                "differentiates it (as jacfwd), reverse mode would need holomorphic=True",
            )
        chosen = p.mode if mode == "auto" else mode
        if chosen == "forward":
            why = f" (as n = {n} <= m = {m})" if n <= m else " (as its output is complex)"
            how = f"jacobian(mode={mode!r})" + (why if mode == "auto" else "")
            with hooks_refused(how, "pass mode='reverse', which runs it"):
                J = jacfwd(f, argnums, **options)(*args)
        else:
            J = jacrev(f, argnums, **options)(*args)
        if explain:
            return J, dataclasses.replace(
                p, mode=chosen, reason=p.reason if mode == "auto" else f"mode={mode!r} was asked for"
            )
        return J

    return jac


def hessian(
    f: Callable,
    argnums: int | Sequence[int] = 0,
    chunk: int | None = None,
    executor=None,
    holomorphic: bool = False,
    *,
    has_aux: bool = False,
) -> Callable:
    """Hessian of a scalar f, in.shape + in.shape per pair of input leaves: jacfwd of grad
    (its passes the tasks of ``executor`` when one is given). Inputs are real, as JAX's,
    unless ``holomorphic=True``: then f is a holomorphic function of complex inputs with a
    complex output, and the Hessian is its complex second derivative (JAX's flag). With
    has_aux, f returns (number, aux) and the result is (Hessian, aux), as JAX's."""
    nums = Argnums(argnums, "hessian")
    inner = grad(f, argnums, holomorphic=holomorphic, has_aux=has_aux)
    jac = jacfwd(inner, argnums, chunk=chunk, holomorphic=holomorphic, executor=executor, has_aux=has_aux)

    def hess(*args):
        if holomorphic:
            return jac(*args)
        for x in flatten(select(f, args, nums)[0])[0]:
            if rules.tangent_dtype(float_input(x, "hessian")).kind == "c":
                raise TypeError(
                    f"hessian needs real inputs; got dtype {rules.tangent_dtype(x)}: for a real f of "
                    "complex z take ad.hvp(f, (z,), (v,)) (in grad's convention), pass the real "
                    "and imaginary parts as separate real inputs, or pass holomorphic=True for a "
                    "holomorphic f"
                )
        return jac(*args)

    return hess


HVP_MODES = ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd")


def _vdot(a, b):
    """<a, b> summed over the leaves of two pytrees of one structure, its real part: with a a
    gradient of complex z (d/dRe - i d/dIm) and b a direction, Re(a b) is the directional
    derivative, as rev-rev needs (a real function, so grad takes it)."""
    s = sum(np.sum(u * w) for u, w in zip(flatten(a)[0], flatten(b)[0]))
    return np.real(s) if is_complex(s) else s


def hvp(f: Callable, primals: Sequence, tangents: Sequence, mode: str = "fwd-rev"):
    """(f(x), H v) for a scalar f of one argument x (a pytree); H v is shaped like v.

    fwd-rev: JVP of the gradient (one forward pass over one reverse sweep; the cheapest).
    rev-fwd: gradient of the directional derivative x -> <grad f(x), v> taken forward.
    rev-rev: gradient of x -> <grad f(x), v> taken in reverse (two tapes).
    fwd-fwd: n JVPs of the JVP, one per basis direction (O(n) cost: only for small n).
    """
    if mode not in HVP_MODES:
        raise ValueError(f"hvp: mode must be one of {HVP_MODES}; got {mode!r}")
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise TypeError("hvp(f, primals, tangents): pass tuples, e.g. hvp(f, (x,), (v,))")
    if len(primals) != 1 or len(tangents) != 1:
        raise ValueError("hvp differentiates f in one argument (which may be a pytree): pass (x,) and (v,)")
    x_leaves, x_tree = flatten(primals[0])
    v_leaves, v_tree = flatten(tangents[0])
    if v_tree != x_tree:
        raise ValueError(
            f"hvp: the tangent has the structure {v_tree} but the primal {x_tree}; give them one structure"
        )
    x_leaves = [float_input(p, "hvp") for p in x_leaves]
    v_leaves = [as_tangent(t, p, "hvp") for t, p in zip(v_leaves, x_leaves)]
    x, v = x_tree(x_leaves), v_tree(v_leaves)
    # f runs only on traced values, as ad.grad runs it, never on plain arrays: so an f that
    # calls Tensor methods (register_hook, retain_grad) runs its hooks in every mode that has
    # a reverse sweep through f, and meets forward mode's refusal in the others
    if mode == "fwd-rev":
        (value, _), (_, Hv) = jvp(value_and_grad(f), (x,), (v,))
    elif mode == "rev-rev":
        value, Hv = _reverse_over(f, x, v, mode)
    else:
        with hooks_refused(
            f"hvp(mode={mode!r})", "take mode='fwd-rev' (the default) or 'rev-rev', which run it"
        ):
            if mode == "rev-fwd":
                value, Hv = _reverse_over(f, x, v, mode)
            else:
                value = jvp(f, (x,), (v,))[0]
                _one_number(value, mode)  # as value_and_grad checks it for fwd-rev
                Hv = _fwd_fwd(f, x_leaves, x_tree, v)
    # H v in x's dtype whatever f computes in (as the other modes' gradients), and a value
    # that is not an array of f's closure (f may return one as it is)
    Hv = x_tree([cast_like(h, p) for h, p in zip(flatten(Hv)[0], x_leaves)])
    value = value.copy() if isinstance(value, np.ndarray) else value
    return fresh((value, Hv), caller=x_leaves + v_leaves)


def _one_number(value, mode: str) -> None:
    """f's value must be one real float (any size-1 array): H v is of a scalar function."""
    leaves, tree = flatten(value)
    v = raw(leaves[0]) if len(leaves) == 1 and tree.kind is LEAF else None
    dt = None if v is None or isinstance(v, str | bytes) else np.asarray(v).dtype
    if dt is None or dt.kind != "f" or np.size(v) != 1:
        raise TypeError(
            f"hvp(mode={mode!r}) needs f to return one real float; it returned {describe(value)}: "
            "reduce first (e.g. .sum()), or take ad.jacfwd(ad.jacrev(f)) for a vector f"
        )


def _reverse_over(f: Callable, x, v, mode: str) -> tuple:
    """(f(x), H v) as the gradient of y -> <grad f(y), v>, the inner derivative taken forward
    (rev-fwd: a JVP of f) or in reverse (rev-rev: a VJP of f), f's value from the same run."""

    def directional(y):
        if mode == "rev-fwd":
            value, d = jvp(f, (y,), (v,))
            _one_number(value, mode)
            return value, d
        value, pull = vjp(f, y)
        _one_number(value, mode)  # before the sweep, which needs one number
        one = np.asarray(raw(value))
        (g,) = pull(seed_one(one.shape, one.dtype))
        return value, _vdot(g, v)

    rec = record(directional, (x,), who="hvp")
    value, d = rec.out_leaves
    cts = rec.pullback([None, seed_one(tuple(rules.shape(d)), rules.tangent_dtype(d))])
    return value, rec.in_tree([rules.zeros(p) if h is None else h for h, p in zip(cts, rec.values)])


def _fwd_fwd(f: Callable, x_leaves: list, x_tree, v):
    """H v as the Jacobian, by forward mode, of the directional derivative y -> f'(y) v. It is
    taken in the real and the imaginary part of each complex leaf and given as
    d/dRe - i d/dIm, the convention of grad (and so of the other modes)."""
    is_complex = [rules.tangent_dtype(p).kind == "c" for p in x_leaves]
    parts = [q for p, c in zip(x_leaves, is_complex) for q in ((np.real(p), np.imag(p)) if c else (p,))]
    if not parts:
        return x_tree([])

    def directional(*parts):
        it = iter(parts)
        leaves = [next(it) + 1j * next(it) if c else next(it) for c in is_complex]
        return np.sum(jvp(f, (x_tree(leaves),), (v,))[1])  # of shape (), also for an f of shape (1,)

    it = iter(jacfwd(directional, tuple(range(len(parts))))(*parts))
    return x_tree([next(it) - 1j * next(it) if c else next(it) for c in is_complex])
