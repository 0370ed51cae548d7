"""The outer product u v^T of two float vectors, written past the cache when it is larger than it.

The matrix's cotangent in A @ x is the outer product of the cotangent and x: at n = 1000 an
8 MB array, written once and read by nobody before the gradient reaches the user. An ordinary
store first reads into the cache the line it writes to, and those 8 MB evict what the rest of
the gradient reads (the weights the forward pass just streamed); a non-temporal store sends
each product to memory directly. Measured side by side at n = 1000 on a retained heap, the
weight gradient of a two-layer MLP costs about 3x its function this way, against 5.5x with
NumPy's broadcast multiply and 7x with BLAS, whose tile-by-tile writes are fastest while the
result stays in cache and slowest when it does not (asv_bench/benchmarks/kernels.py,
OuterProduct). Below STREAM_BYTES, or in float32, the twin runs: NumPy's BLAS product of
(m, 1) by (1, n), two to four times faster than the multiply on a result that fits in cache.
Both give the m n products u_i v_j, each rounded once; the kernel also keeps the sign of a
zero product, which BLAS may turn into +0.0.
"""

from __future__ import annotations

import numpy as np

from ad.kernels import F64, jit

STREAM_BYTES = 2 << 20  # a result larger than a core's L2 cache (2 MiB on the machine measured)

_kernel = None  # built on the first large product: numba is loaded only then


def outer(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """u v^T of two plain 1-D arrays of one float dtype (float32 or float64)."""
    if u.dtype == F64 and u.size * v.size * 8 >= STREAM_BYTES:
        global _kernel
        if _kernel is None:
            _kernel = _build()
        out = np.empty((u.size, v.size))
        _kernel(u, v, out.reshape(-1))
        return out
    return np.dot(u[:, None], v[None, :])


def _build():
    """The streaming kernel, with the two LLVM instructions numba has no Python spelling for."""
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def stream(typingctx, flat, i, value):
        """flat[i] = value, by a store marked non-temporal (the cache is left as it was)."""

        def codegen(context, builder, signature, args):
            array, index, x = args
            data = context.make_array(signature.args[0])(context, builder, array).data
            store = builder.store(x, builder.gep(data, [index]))
            store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
            return context.get_dummy_value()

        return types.void(flat, i, flat.dtype), codegen

    @intrinsic
    def fence(typingctx):
        """Orders the streamed stores before any later one: another thread sees them all."""

        def codegen(context, builder, signature, args):
            builder.fence("seq_cst")
            return context.get_dummy_value()

        return types.void(), codegen

    def outer_streamed(u, v, flat):
        n = v.shape[0]
        for i in range(u.shape[0]):
            ui, row = u[i], i * n
            for j in range(n):
                stream(flat, row + j, ui * v[j])
        fence()

    return jit(outer_streamed)
