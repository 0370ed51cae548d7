"""Questions NumPy answers about arrays: their dtype, shape, memory, and equality to others;
the indices of their diagonal and triangles (diag_indices_from, tril_indices_from ...); the
order einsum would contract them in (einsum_path, from their shapes); their printed form
(array_str, array_repr, array2string: the primal's).

Each answer is a constant (zero derivative): NumPy's answer about the primal values. Those that
read only dtypes and shapes are constants of a compiled tape too (lowering "shapes"); those
that read values or memory (array_equal, shares_memory ...) a compiled tape refuses, since a
replay at other inputs could answer otherwise.
"""

import numpy as np

from ad.registry import nondiff


def _arrays(*shapes, **params):
    """Examples of float64 and float32 arrays of the shapes given, with params."""

    def examples(rng):
        return [
            (tuple(rng.uniform(-2, 2, s).astype(dt) for s in shapes), params)
            for dt in (np.float64, np.float32)
        ]

    return examples


def _einsum_path_examples(rng):
    """A chain of three products, where the order einsum picks depends on the shapes."""
    shapes = [(2, 5), (5, 4), (4, 3)]
    return [
        (("ij,jk,kl->il", *(rng.uniform(-2, 2, s).astype(dt) for s in shapes)), {"optimize": "greedy"})
        for dt in (np.float64, np.float32)
    ]


# fmt: off
for _name, _f, _examples in [
    ("shape", np.shape, None), ("ndim", np.ndim, None), ("size", np.size, None),
    ("iscomplexobj", np.iscomplexobj, None), ("isrealobj", np.isrealobj, None),
    ("result_type", np.result_type, _arrays((3,), (2, 3))),
    ("can_cast", np.can_cast, _arrays((3,), to=np.float32)),
    ("common_type", np.common_type, _arrays((3,), (2,))),
    ("diag_indices_from", np.diag_indices_from, _arrays((3, 3))),
    ("tril_indices_from", np.tril_indices_from, _arrays((3, 4), k=-1)),
    ("triu_indices_from", np.triu_indices_from, _arrays((4, 3), k=1)),
    ("einsum_path", np.einsum_path, _einsum_path_examples),
]:
    nondiff(_name, _f, complex=True, lowering="shapes", examples=_examples)
for _name, _f in [
    ("allclose", np.allclose), ("isclose", np.isclose), ("array_equal", np.array_equal),
    ("array_equiv", np.array_equiv), ("shares_memory", np.shares_memory),
    ("may_share_memory", np.may_share_memory), ("min_scalar_type", np.min_scalar_type),
    ("array2string", np.array2string), ("array_repr", np.array_repr), ("array_str", np.array_str),
]:
    nondiff(_name, _f, complex=True)
# fmt: on
