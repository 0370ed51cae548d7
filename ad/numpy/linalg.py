"""numpy.linalg, whose functions also take array_likes holding traced values (see ad.numpy)."""

import numpy.linalg as _linalg
from numpy.linalg import *  # noqa: F403  (NumPy's linalg; those that take arrays are lifted below)

from ad.numpy._lifting import lift_namespace as _lift_namespace

__all__ = list(_linalg.__all__)

_lift_namespace(_linalg, globals(), __name__)


def __getattr__(name):
    return getattr(_linalg, name)
