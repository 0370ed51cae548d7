"""The rules, one module per family; importing this package registers every op."""

from ad.ops import arithmetic, elementwise, special  # noqa: F401
