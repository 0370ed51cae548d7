"""User-defined ops: register rules and get back a function that dispatches through both engines."""

from __future__ import annotations

from collections.abc import Callable

from ad.registry import elementwise, general
from ad.trace import apply


def defop(
    name: str,
    impl: Callable,
    *,
    jvp: Callable | None = None,
    vjp: Callable | None = None,
    derivs: tuple | None = None,
    handles=(),
    **kw,
) -> Callable:
    """Register a user op and return a callable that dispatches through both engines.

    Give either ``derivs`` (elementwise partials ``d_i(*xs, y)``) or both ``jvp`` and
    ``vjp`` (``jvp(tangents, primals, out, params, batched)``,
    ``vjp(ct, primals, out, params, batched) -> tuple``), like JAX's custom_jvp/custom_vjp
    and autograd's defvjp. Rules receive ``batched=True`` when tangents or cotangents carry
    a leading axis of k directions; pass ``loop_batch=True`` to have them run once per
    direction instead.
    """
    if derivs is not None:
        op = elementwise(name, handles, *derivs, impl=impl, **kw)
    elif jvp is not None and vjp is not None:
        op = general(name, handles, jvp, vjp, impl=impl, **kw)
    else:
        raise TypeError(f"defop({name!r}): give derivs=(...) or both jvp= and vjp=")

    def call(*args, **kwargs):
        operands, params = op.call(args, kwargs)
        return apply(op, operands, params)

    call.__name__ = name
    call.__doc__ = op.doc or impl.__doc__
    call.op = op
    return call
