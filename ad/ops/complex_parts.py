"""The parts of a complex number: real, imag, conj, angle. None is holomorphic, so each has its own rule.

JAX's convention: an R-linear JVP t -> a t + b conj(t) has the VJP ct -> a ct + conj(b) conj(ct)
(no conjugation for a holomorphic op, where b = 0). On real input each is the obvious real op.
"""

import numpy as np

from ad.registry import elementwise, linear
from ad.trace import is_complex


def _re(g):
    """Re(g), without an op where g is real already."""
    return np.real(g) if is_complex(g) else g


def _real_transpose(ct, xs, out, p, batched):
    """VJP of real (a = b = 1/2): Re(ct), complex when x is."""
    g = _re(ct)
    return (g + 0j if is_complex(xs[0]) else g,)


def _imag_transpose(ct, xs, out, p, batched):
    """VJP of imag (a = -i/2, b = i/2): -i Re(ct); zero for real x, whose imag is the constant 0."""
    return (-1j * _re(ct) if is_complex(xs[0]) else np.zeros_like(ct),)


def _conj_transpose(ct, xs, out, p, batched):
    """VJP of conj (a = 0, b = 1): conj(ct)."""
    return (np.conjugate(ct),)


def _angle_parse(z, deg=False):
    if deg:
        raise NotImplementedError(
            "ad: numpy.angle(z, deg=True) is not supported; write np.angle(z) * (180 / np.pi)"
        )
    return (z,), {}


def _angle_partial(x, y):
    """2 ∂ angle/∂z = -i / z (angle = Im log z); 0 on real input, where angle is 0 or pi."""
    return -1j / x if is_complex(x) else 0.0


# fmt: off
linear("real", np.real, _real_transpose, batched_impl=np.real, analytic=False, complex=True, view=True,
       doc="JVP Re(t); VJP Re(ct)")
linear("imag", np.imag, _imag_transpose, batched_impl=np.imag, analytic=False, complex=True, view=True,
       doc="JVP Im(t); VJP -i Re(ct)")
linear("conj", np.conjugate, _conj_transpose, batched_impl=np.conjugate, analytic=False, complex=True,
       doc="also np.conj; JVP conj(t); VJP conj(ct)")
elementwise("angle", np.angle, _angle_partial, parse=_angle_parse, domain=("nonzero",), analytic=False,
            complex=True, doc="arg z, in (-pi, pi]; JVP Re(-i t / z) = Im(t / z); VJP -i ct / z")
# fmt: on
