"""Questions NumPy answers about arrays: their dtype, shape, memory, and equality to others.

Each answer is a constant (zero derivative): NumPy's answer about the primal values. Those that
read only dtypes and shapes are constants of a compiled tape too (lowering "shapes"); those
that read values or memory (array_equal, shares_memory ...) a compiled tape refuses, since a
replay at other inputs could answer otherwise.
"""

import numpy as np

from ad.registry import nondiff

# fmt: off
for _name, _f in [
    ("shape", np.shape), ("ndim", np.ndim), ("size", np.size),
    ("iscomplexobj", np.iscomplexobj), ("isrealobj", np.isrealobj), ("result_type", np.result_type),
    ("can_cast", np.can_cast), ("common_type", np.common_type),
]:
    nondiff(_name, _f, complex=True, lowering="shapes")
for _name, _f in [
    ("allclose", np.allclose), ("isclose", np.isclose), ("array_equal", np.array_equal),
    ("array_equiv", np.array_equiv), ("shares_memory", np.shares_memory),
    ("may_share_memory", np.may_share_memory), ("min_scalar_type", np.min_scalar_type),
]:
    nondiff(_name, _f, complex=True)
# fmt: on
