"""numpy.vectorize that takes traced values: pyfunc called on each entry, its results stacked."""

from __future__ import annotations

import itertools

import numpy as np

from ad.numpy._sequences import holds_traced, lifted, stacked


class vectorize(np.vectorize):
    """numpy.vectorize; where an argument holds traced values, pyfunc runs on each entry of the
    broadcast arguments (a traced 0-d value, or a NumPy scalar) and its results are stacked into
    arrays of the broadcast shape, each entry keeping its derivative. A plain call is NumPy's.

    NumPy cannot take this path itself: it converts its arguments to arrays of objects first,
    which a traced value refuses rather than drop its derivative.
    """

    def __call__(self, *args, **kwargs):
        if not any(map(holds_traced, args)) and not any(map(holds_traced, kwargs.values())):
            return super().__call__(*args, **kwargs)
        if self.signature is not None:
            raise NotImplementedError(
                "ad.numpy.vectorize(..., signature=...) of traced values: the core dimensions are "
                "not looped over; write the function on whole arrays (np.einsum, np.matmul, ...) instead"
            )
        kept = {k: v for k, v in kwargs.items() if k in self.excluded}
        names = [k for k in kwargs if k not in self.excluded]
        places = [i for i in range(len(args)) if i not in self.excluded]
        looped = np.broadcast_arrays(*(lifted(args[i]) for i in places), *(lifted(kwargs[k]) for k in names))
        shape = looped[0].shape if looped else ()
        results = []
        for index in itertools.product(*map(range, shape)):
            entries = [x[index] for x in looped]
            call_args = list(args)
            for i, x in zip(places, entries):
                call_args[i] = x
            results.append(self.pyfunc(*call_args, **kept, **dict(zip(names, entries[len(places) :]))))
        if not results:  # no entry to call pyfunc on: NumPy's rule, otypes or an error
            if not self.otypes:
                raise ValueError("cannot call `vectorize` on size 0 inputs unless `otypes` is set")
            return np.zeros(shape, dtype=self.otypes[0])
        return _joined(results, shape)


def _joined(results: list, shape: tuple):
    """The results of the calls as arrays of the broadcast shape: one, or a tuple of them where
    pyfunc returned tuples (as numpy.vectorize does)."""
    if isinstance(results[0], tuple):
        return tuple(_joined([r[i] for r in results], shape) for i in range(len(results[0])))
    return np.reshape(stacked(results), shape)
