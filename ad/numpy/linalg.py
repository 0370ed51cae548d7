"""numpy.linalg, with norm also of a sequence holding traced values."""

import numpy.linalg as _linalg
from numpy.linalg import *  # noqa: F403  (NumPy's linalg, unchanged)

from ad.numpy._sequences import lifted as _lifted

__all__ = list(_linalg.__all__)


def __getattr__(name):
    return getattr(_linalg, name)


def norm(x, *args, **kwargs):
    """numpy.linalg.norm, also of a sequence holding traced values."""
    return _linalg.norm(_lifted(x), *args, **kwargs)
