"""dtype casts (astype): linear between float and complex dtypes; to integer or bool dtypes, a constant.

Complex to real keeps the real part, with NumPy's ComplexWarning (as NumPy and JAX do); the
derivative is then the derivative of the real part.
"""

import warnings

import numpy as np

from ad import rules
from ad.registry import composite, linear, nondiff
from ad.trace import apply, is_complex, raw

# np.astype is NumPy >= 2.1's function spelling of ndarray.astype.
_ASTYPE = (np.ndarray.astype, *(getattr(np, name) for name in ("astype",) if hasattr(np, name)))


def _drops_imaginary(x, dtype: np.dtype) -> bool:
    return is_complex(x) and dtype.kind not in "cb"  # to bool: the test z != 0, nothing dropped


def _to(x, dtype: np.dtype):
    """x as a new array of dtype (a copy, as astype: it never aliases x); the real part of
    complex x for a real dtype (warned about once, by astype, not for every tangent)."""
    return np.array(np.real(x) if _drops_imaginary(x, dtype) else x, dtype=dtype, copy=True)


def _cast_transpose(ct, xs, out, p, batched):
    """VJP of a cast: ct cast back to x's dtype (its real part for real x cast to complex;
    ct + 0j for complex x cast to real, the transpose of taking the real part)."""
    x = xs[0]
    if is_complex(ct) and not is_complex(x):
        ct = np.real(ct)
    return (apply(CAST, (ct,), {"dtype": rules.tangent_dtype(x)}),)


def _astype(x, dtype, order="K", casting="unsafe", subok=True, copy=True, *, device=None):
    """ndarray.astype and np.astype: the differentiable cast to a float or complex dtype, the
    constant cast_discrete to an integer or bool one."""
    if order not in ("K", "A", "C", "F"):
        raise ValueError(f"astype: order must be one of 'K', 'A', 'C', 'F', not {order!r}")
    if device not in (None, "cpu"):
        raise ValueError(f"astype: device must be None or 'cpu', not {device!r}")
    source, target = np.result_type(raw(x)), np.dtype(dtype)
    if not np.can_cast(source, target, casting):
        raise TypeError(
            f"Cannot cast array data from {source!r} to {target!r} according to the rule {casting!r}"
        )
    if not copy and target == source:  # NumPy's copy=False: x itself when no cast is needed
        return x
    if target.kind not in "biufc":
        raise TypeError(f"ad: astype({target}) of a traced value is not supported; cast to a number dtype")
    if _drops_imaginary(x, target):
        warnings.warn(
            "Casting complex values to real discards the imaginary part (its derivative is the "
            "real part's); write np.real(x).astype(...) to say so",
            np.exceptions.ComplexWarning,
            stacklevel=2,
        )
    return apply(CAST if rules.differentiable(target) else CAST_DISCRETE, (x,), {"dtype": target})


def _cast_examples(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [((x,), {"dtype": np.dtype(np.float64)}), ((x[0, 0],), {"dtype": np.dtype(np.float64)})]


def _astype_examples(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [
        ((x,), {"dtype": np.float64}),
        ((x,), {"dtype": "float64", "copy": False}),
        ((x[:, 0],), {"dtype": float, "order": "C"}),
    ]


# analytic=False: the complex step would look for the derivative in the imaginary part, which a
# cast to a real dtype drops.
# fmt: off
CAST = linear("cast", (), _cast_transpose, impl=_to,
              batched_impl=lambda t, dtype: apply(CAST, (t,), {"dtype": dtype}),  # elementwise
              examples=_cast_examples, complex=True, analytic=False,
              doc="x.astype(dtype) for a float or complex dtype; JVP casts t; VJP casts ct back to x's dtype")
CAST_DISCRETE = nondiff("cast_discrete", (), impl=_to, complex=True,
                        doc="x.astype(dtype) for an integer or bool dtype: piecewise constant")
composite("astype", _ASTYPE, _astype, examples=_astype_examples, complex=True, analytic=False,
          doc="cast, or cast_discrete to an integer or bool dtype; complex to real keeps the real part")
# fmt: on
