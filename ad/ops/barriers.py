"""Derivative barriers: stop_gradient, the identity on values whose derivative is zero."""

import numpy as np

from ad.registry import nondiff
from ad.trace import apply
from ad.tree import flatten


def _value(x):
    """x's value; an array as a copy, so that the result is the caller's to change and never
    a value a tape saved."""
    return x.copy() if isinstance(x, np.ndarray) else x


STOP_GRADIENT = nondiff(
    "stop_gradient",
    (),
    impl=_value,
    complex=True,
    doc="the identity on values with a zero derivative, in both modes and at every level",
)


def stop_gradient(x):
    """x's value, held constant: its derivative is zero in forward and reverse mode and at
    every level of nesting, as JAX's lax.stop_gradient. x may be a pytree (tuples, lists,
    dicts; None stays None); each leaf comes back a plain value (an array as a copy), never
    a traced one."""
    leaves, tree = flatten(x)
    return tree([apply(STOP_GRADIENT, (v,), {}) for v in leaves])
