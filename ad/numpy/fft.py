"""numpy.fft, whose transforms also take array_likes holding traced values (see ad.numpy)."""

import numpy.fft as _fft
from numpy.fft import *  # noqa: F403  (NumPy's fft; those that take arrays are lifted below)

from ad.numpy._lifting import lift_namespace as _lift_namespace

__all__ = list(_fft.__all__)

_lift_namespace(_fft, globals(), __name__)


def __getattr__(name):
    return getattr(_fft, name)
