"""What composes the two engines: jacobian(mode=...) chosen by the cost model, hessian, hvp."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ad import rules
from ad.forward.api import DEFAULT_CHUNK, jacfwd, jvp
from ad.reverse.api import grad, jacrev, value_and_grad
from ad.trace import raw


@dataclass(frozen=True)
class Plan:
    """Which mode jacobian(mode="auto") runs, and the cost model's reasons (docs/cost-model.md)."""

    mode: str
    n: int  # input size
    m: int  # output size
    chunk: int
    forward_passes: int  # ceil(n / k) batched JVP passes
    reverse_passes: int  # ceil(m / k) batched VJP sweeps
    reason: str


def plan(n: int, m: int, chunk: int | None = None) -> Plan:
    """The cost model: a Jacobian costs n JVPs forward or m VJPs reverse.

    Batched, that is ceil(n/k) passes or ceil(m/k) sweeps, but a pass of k directions still
    does k directions' arithmetic: what decides is n against m, the passes only add per-pass
    overhead. A VJP costs about as much as a JVP (both a small constant times f), and
    reverse mode also stores every intermediate value of f where forward stores none; so
    on a tie (n == m) forward wins.
    """
    k = max(1, chunk or DEFAULT_CHUNK)
    fp, rp = math.ceil(n / k), math.ceil(m / k)
    if n <= m:
        mode = "forward"
        why = (
            f"n = {n} <= m = {m}: n JVPs ({fp} pass(es) of up to {k} tangents) against m VJPs "
            f"({rp} sweep(s)); forward also keeps no tape"
        )
    else:
        mode = "reverse"
        why = (
            f"m = {m} < n = {n}: m VJPs ({rp} sweep(s) of up to {k} cotangents) against n JVPs "
            f"({fp} pass(es)), worth the tape's memory"
        )
    return Plan(mode, n, m, k, fp, rp, why)


def jacobian(
    f: Callable,
    argnums: int | Sequence[int] = 0,
    mode: str = "auto",
    chunk: int | None = None,
    explain: bool = False,
) -> Callable:
    """Jacobian, shape out.shape + in.shape, by "forward", "reverse" or "auto" (the cost model).

    With ``explain=True`` the returned function gives ``(J, plan)``.
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f'jacobian: mode must be "auto", "forward" or "reverse"; got {mode!r}')

    def jac(*args):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        n = sum(int(np.size(raw(args[i]))) for i in nums)
        m = int(np.size(raw(f(*args)))) if mode == "auto" or explain else 0
        p = plan(n, m, chunk)
        chosen = p.mode if mode == "auto" else mode
        run = jacfwd if chosen == "forward" else jacrev
        J = run(f, argnums, chunk=chunk)(*args)
        if explain:
            return J, Plan(
                chosen,
                p.n,
                p.m,
                p.chunk,
                p.forward_passes,
                p.reverse_passes,
                p.reason if mode == "auto" else f"mode={mode!r} was asked for",
            )
        return J

    return jac


def hessian(f: Callable, argnums: int = 0, chunk: int | None = None) -> Callable:
    """Hessian of a scalar f, shape in.shape + in.shape: forward-over-reverse (jacfwd of grad)."""
    return jacfwd(grad(f, argnums), argnums, chunk=chunk)


HVP_MODES = ("fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd")


def hvp(f: Callable, primals: Sequence, tangents: Sequence, mode: str = "fwd-rev"):
    """(f(primals), H v) for a scalar f of one array argument; H v is shaped like the tangent.

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
        raise ValueError("hvp differentiates f in one array argument: pass (x,) and (v,)")
    (x,), (v,) = primals, tangents
    v = np.asarray(v, float) if not hasattr(v, "shape") else v
    if tuple(rules.shape(v)) != tuple(rules.shape(raw(x))):
        raise ValueError(
            f"hvp: tangent shape {tuple(rules.shape(v))} does not match primal shape "
            f"{tuple(rules.shape(raw(x)))}"
        )
    if mode == "fwd-rev":
        (value, _), (_, Hv) = jvp(value_and_grad(f), (x,), (v,))
        return value, Hv
    value = f(x)
    if mode == "rev-fwd":
        return value, grad(lambda y: jvp(f, (y,), (v,))[1])(x)
    if mode == "rev-rev":
        return value, grad(lambda y: np.sum(grad(f)(y) * v))(x)
    return value, jacfwd(lambda y: jvp(f, (y,), (v,))[1])(x)
