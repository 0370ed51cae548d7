"""Implicit differentiation: derivatives of a root x*(theta) of F(x, theta) = 0 without
differentiating the solver's iterations (the implicit function theorem)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ad import rules
from ad.forward.api import jacfwd, jvp
from ad.registry import Op
from ad.reverse.api import vjp
from ad.trace import apply


def implicit_root(F: Callable, solve: Callable) -> Callable:
    """theta -> x*(theta) = solve(theta), a root of F(x, theta) = 0, with rules from the IFT.

    dx*/dtheta = -(dF/dx)^{-1} dF/dtheta at (x*, theta):
    JVP  t -> -solve(dF/dx, (dF/dtheta) t)        (one linear solve per tangent)
    VJP  g -> -(dF/dtheta)^T solve((dF/dx)^T, g)   (one transposed solve per cotangent)
    dF/dx is formed densely by jacfwd (size(x)^2 entries): meant for small x.
    `solve` runs on plain arrays and may be any iterative method; it is never traced.
    """

    def dFdx(x, theta):
        n = int(np.prod(rules.shape(x), dtype=int))
        return np.reshape(jacfwd(lambda y: F(y, theta))(x), (n, n))

    def jvp_rule(tangents, primals, x, params, batched):
        (t,), (theta,) = tangents, primals
        b = jvp(lambda th: F(x, th), (theta,), (t,))[1]
        return np.reshape(-np.linalg.solve(dFdx(x, theta), np.ravel(b)), rules.shape(x))

    def vjp_rule(g, primals, x, params, batched):
        (theta,) = primals
        lam = np.linalg.solve(np.transpose(dFdx(x, theta)), np.ravel(g))
        _, pull = vjp(lambda th: F(x, th), theta)
        return (-pull(np.reshape(lam, rules.shape(x)))[0],)

    op = Op(
        f"implicit_root({getattr(solve, '__name__', 'solve')})",
        "general",
        solve,
        jvp_rule=jvp_rule,
        vjp_rule=vjp_rule,
        loop_batch=True,
    )
    return lambda theta: apply(op, (theta,), {})
