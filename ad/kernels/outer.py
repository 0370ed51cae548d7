"""The outer product u v^T of two float vectors, written past the cache when it is larger than it.

The matrix's cotangent in A @ x is the outer product of the cotangent and x: at n = 1000 an
8 MB array, written once and read by nobody before the gradient reaches the user. An ordinary
store first reads into the cache the line it writes to, and those 8 MB evict what the rest of
the gradient reads (the weights the forward pass just streamed); a non-temporal store sends
each product to memory directly. Measured side by side at n = 1000 on a retained heap, the
weight gradient of a two-layer MLP costs about 3x its function this way, against 5.5x with
NumPy's broadcast multiply and 7x with BLAS, whose tile-by-tile writes are fastest while the
result stays in cache and slowest when it does not (asv_bench/benchmarks/kernels.py,
OuterProduct). On glibc's default heap, where each such array arrives as fresh pages that the
operating system zeroes on first touch, the page faults dominate and the kernel costs about
what the multiply does (within 10%), BLAS a third more. Below STREAM_BYTES, or in float32,
the twin runs: NumPy's BLAS product of (m, 1) by (1, n), two to four times faster than the
multiply on a result that fits in cache. Both give the m n products u_i v_j, each rounded
once; the kernel also keeps the sign of a zero product, which BLAS may turn into +0.0.
"""

from __future__ import annotations

import numpy as np

from ad.kernels import F64

STREAM_BYTES = 2 << 20  # a result larger than a core's L2 cache (2 MiB on the machine measured)


def outer(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """u v^T of two plain 1-D arrays of one float dtype (float32 or float64)."""
    if u.dtype == F64 and u.size * v.size * 8 >= STREAM_BYTES:
        from ad.kernels.nontemporal import outer_streamed  # loads numba, on the first large product

        out = np.empty((u.size, v.size))
        outer_streamed(u, v, out.reshape(-1))
        return out
    return u[:, None].dot(v[None, :])  # ndarray.dot: the same BLAS call without np.dot's dispatch
