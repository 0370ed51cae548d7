"""Stores that bypass the cache, and the outer product written with them (see kernels.outer).

numba has no Python spelling for a non-temporal store, so it is an LLVM store marked
`!nontemporal`, with a fence after the loop so that another thread sees every product. This
module imports numba and llvmlite: kernels.outer loads it on the first product large enough.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ad.kernels import jit


@intrinsic
def stream(typingctx, flat, i, value):
    """flat[i] = value, by a store marked non-temporal: the cache is left as it was."""

    def codegen(context, builder, signature, args):
        array, index, x = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        store = builder.store(x, builder.gep(data, [index]))
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return types.void(flat, i, flat.dtype), codegen


@intrinsic
def fence(typingctx):
    """Orders the streamed stores before any later store."""

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@jit
def outer_streamed(u, v, flat):
    """flat = (u v^T).ravel(), each product stored past the cache."""
    n = v.shape[0]
    for i in range(u.shape[0]):
        ui, row = u[i], i * n
        for j in range(n):
            stream(flat, row + j, ui * v[j])
    fence()
