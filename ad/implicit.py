"""Implicit differentiation: derivatives of a root x*(theta) of F(x, theta) = 0 without
differentiating the solver's iterations (the implicit function theorem)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ad import rules
from ad.custom import LeafCall
from ad.forward.api import jacfwd
from ad.registry import Op
from ad.reverse.api import record
from ad.trace import Box, apply, raw
from ad.transform import push_tangents
from ad.tree import flatten


def implicit_root(F: Callable, solve: Callable) -> Callable:
    """theta -> x*(theta) = solve(theta), a root of F(x, theta) = 0, with rules from the IFT.

    dx*/dtheta = -(dF/dx)^{-1} dF/dtheta at (x*, theta):
    JVP  t -> -solve(dF/dx, (dF/dtheta) t)        (linear solves, all k directions at once)
    VJP  g -> -(dF/dtheta)^T solve((dF/dx)^T, g)   (transposed solves, all k at once)
    dF/dx is formed densely by jacfwd (size(x)^2 entries): meant for small x.
    theta may be a pytree (a dict of parameters ...); x is one array, and F(x, theta) has its
    shape. `solve` runs on plain arrays and may be any iterative method; it is never traced.
    F must reach every value x* depends on through theta: a traced value F closes over
    would have no derivative, and is refused.
    """
    name = getattr(solve, "__name__", "solve")

    def jvp_rule(tangents, primals, x, params, batched):
        call = params["call"]
        k = next(rules.shape(t)[0] for t in tangents if t is not None) if batched else None
        _, (b,), _ = push_tangents(lambda *th: F(x, call.arguments(th)[0]), primals, tangents, batch=k)
        if b is None:
            return None
        J = _dFdx(F, x, call.arguments(primals)[0])
        n = J.shape[0]
        if not batched:
            return np.reshape(-np.linalg.solve(J, np.reshape(b, (n,))), rules.shape(x))
        return np.reshape(
            -np.transpose(np.linalg.solve(J, np.transpose(np.reshape(b, (k, n))))), (k, *rules.shape(x))
        )

    def vjp_rule(g, primals, x, params, batched):
        call = params["call"]
        J = _dFdx(F, x, call.arguments(primals)[0])
        n = J.shape[0]
        if batched:
            k = rules.shape(g)[0]
            lam = np.transpose(np.linalg.solve(np.transpose(J), np.transpose(np.reshape(g, (k, n)))))
            lam = np.reshape(lam, (k, *rules.shape(x)))
        else:
            lam = np.reshape(np.linalg.solve(np.transpose(J), np.reshape(g, (n,))), rules.shape(x))
        rec = record(lambda *th: F(x, call.arguments(th)[0]), primals, who=f"implicit_root({name})")
        return tuple(None if c is None else -c for c in rec.pullback([lam], batch=k if batched else None))

    op = Op(
        f"implicit_root({name})",
        "general",
        lambda *xs, call: call.flat(*xs),
        jvp_rule=jvp_rule,
        vjp_rule=vjp_rule,
    )

    def root(theta):
        call = LeafCall(_plain(solve, name), (theta,))
        operands = [call.leaves[i] for i in call.operands]
        x = apply(op, operands, {"call": call})
        if call.out_tree is None or call.out_tree.size != 1 or not isinstance(call.out_tree.kind, str):
            raise TypeError(
                f"implicit_root: {name}(theta) must return one array x, the root; got the structure "
                f"{call.out_tree}: ravel a pytree of unknowns into one vector (and F's value with it)"
            )
        _check_F(F, raw(x), call.arguments([raw(v) for v in operands])[0], name)
        return x

    return root


def _plain(solve, name):
    """solve, refusing a traced result (solve would have differentiated through a value it
    closes over, which the rules cannot see)."""

    def run(theta):
        x = solve(theta)
        if isinstance(x, Box) or any(isinstance(v, Box) for v in flatten(x)[0]):
            raise TypeError(
                f"implicit_root: {name}(theta) returned a traced value: it closes over a value "
                "being differentiated. Pass every such value inside theta (a dict or tuple of them)"
            )
        return x

    return run


def _check_F(F, x, theta, name):
    """F at plain (x*, theta) has x's shape, and no traced value enters it but through theta."""
    r = F(x, theta)
    if any(isinstance(v, Box) for v in flatten(r)[0]):
        raise TypeError(
            "implicit_root: F closes over a value being differentiated, so the root's derivative "
            "in it would be missing. Pass every such value inside theta (a dict or tuple of them), "
            f"to F and to {name} alike"
        )
    if tuple(np.shape(r)) != tuple(np.shape(x)):
        raise ValueError(
            f"implicit_root: F(x, theta) has shape {np.shape(r)}, but {name}(theta) returned x of "
            f"shape {np.shape(x)}: F must give one equation per unknown"
        )


def _dFdx(F, x, theta):
    """dF/dx at (x, theta) as an n x n matrix (n = size of x)."""
    n = int(np.prod(rules.shape(x), dtype=int))
    return np.reshape(jacfwd(lambda y: F(y, theta))(x), (n, n))
