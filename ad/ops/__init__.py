"""The rules, one module per family; importing this package registers every op."""

from ad.ops import (  # noqa: F401
    arithmetic,
    assembly,
    complex_parts,
    contractions,
    differences,
    elementwise,
    factorizations,
    indexing,
    linalg,
    linalg_composite,
    nanreductions,
    piecewise,
    quantiles,
    ranges,
    reductions,
    shape,
    signal,
    special,
    statistics,
    update,
)
