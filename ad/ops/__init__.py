"""The rules, one module per family; importing this package registers every op."""

from ad.ops import (  # noqa: F401
    arithmetic,
    complex_parts,
    contractions,
    elementwise,
    factorizations,
    indexing,
    linalg,
    linalg_composite,
    reductions,
    shape,
    special,
    update,
)
