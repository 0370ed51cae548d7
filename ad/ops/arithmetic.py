"""Arithmetic ufuncs (+ - * / ** and friends) and the non-differentiable comparisons."""

import numpy as np

from ad.registry import elementwise, nondiff


def _clip_parse(a, a_min=None, a_max=None, **kw):
    if kw:
        raise NotImplementedError(f"numpy.clip: options {sorted(kw)} are not supported by ad")
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    return (a, lo, hi), {}


def _clip_examples(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [
        ((x, -0.5, 0.7), {}),
        ((x, rng.uniform(-1.5, -0.5, 4), rng.uniform(0.5, 1.5, (3, 1))), {}),
        ((x, -np.inf, 0.3), {}),
    ]


# Ties in maximum/minimum split the derivative evenly between the operands (as JAX and
# PyTorch do), so that maximum(x, x) has derivative 1.
def _first_wins(x, y):
    return (x > y) + 0.5 * (x == y)


elementwise("add", np.add, 1, 1)
elementwise("subtract", np.subtract, 1, -1)
elementwise("multiply", np.multiply, lambda x, y, o: y, lambda x, y, o: x)
elementwise(
    "divide", np.true_divide, lambda x, y, o: 1 / y, lambda x, y, o: -o / y, domain=("real", "nonzero")
)
elementwise(
    "power",
    np.power,
    lambda x, y, o: y * x ** (y - 1),
    lambda x, y, o: np.log(x) * o,
    domain=("positive", "real"),
)
elementwise(
    "float_power",
    np.float_power,
    lambda x, y, o: y * x ** (y - 1),
    lambda x, y, o: np.log(x) * o,
    domain=("positive", "real"),
)
elementwise("negative", np.negative, -1)
elementwise("positive", np.positive, 1)
elementwise(
    "abs",
    (np.abs, np.absolute, np.fabs),
    lambda x, o: np.sign(x),
    domain=("nonzero",),
    analytic=False,
    smooth=False,
    doc="abs'(0) = 0 (the sign convention; DESIGN.md)",
)
elementwise(
    "maximum",
    (np.maximum, np.fmax),
    lambda x, y, o: _first_wins(x, y),
    lambda x, y, o: _first_wins(y, x),
    analytic=False,
    smooth=False,
)
elementwise(
    "minimum",
    (np.minimum, np.fmin),
    lambda x, y, o: _first_wins(y, x),
    lambda x, y, o: _first_wins(x, y),
    analytic=False,
    smooth=False,
)
elementwise(
    "clip",
    np.clip,
    lambda x, lo, hi, o: (x >= lo) & (x <= hi),
    lambda x, lo, hi, o: x < lo,
    lambda x, lo, hi, o: x > hi,
    parse=_clip_parse,
    impl=np.clip,
    examples=_clip_examples,
    analytic=False,
    smooth=False,
)
elementwise(
    "where",
    np.where,
    0,
    lambda c, x, y, o: np.where(c, 1.0, 0.0),
    lambda c, x, y, o: np.where(c, 0.0, 1.0),
    domain=("bool", "real", "real"),
)
elementwise(
    "copysign",
    np.copysign,
    lambda x, y, o: np.sign(x) * np.sign(o),
    0,
    domain=("nonzero", "nonzero"),
    analytic=False,
    smooth=False,
)

for _name, _f in [
    ("sign", np.sign),
    ("floor", np.floor),
    ("ceil", np.ceil),
    ("trunc", np.trunc),
    ("rint", np.rint),
    ("round", (np.round, np.around)),
    ("heaviside", np.heaviside),
    ("less", np.less),
    ("less_equal", np.less_equal),
    ("greater", np.greater),
    ("greater_equal", np.greater_equal),
    ("equal", np.equal),
    ("not_equal", np.not_equal),
    ("logical_and", np.logical_and),
    ("logical_or", np.logical_or),
    ("logical_not", np.logical_not),
    ("logical_xor", np.logical_xor),
    ("isnan", np.isnan),
    ("isinf", np.isinf),
    ("isfinite", np.isfinite),
    ("floor_divide", np.floor_divide),
    ("signbit", np.signbit),
]:
    nondiff(_name, _f)
