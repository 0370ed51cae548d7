"""Per-op overhead, eager: the gradient of 300 scalar ops, y = sin(y) * 1.01 + y, 100 times.

Every op is on a 0-d value, so the time is the engines' bookkeeping per op (divide by 300):
ad.grad (functional) and ad.Tensor.backward (PyTorch style), PyTorch eager, autograd; and
compiled, with recording and compilation in setup: ad.compile(f, x).grad and
jax.jit(jax.grad) called on a Python float. "numpy" is the function alone, the floor.
"""

from . import workloads as w


class ScalarChain:
    params = (w.CHAIN_LIBS,)
    param_names = ["lib"]

    def setup(self, lib):
        self.run = w.cached(w.scalar_chain, lib)

    def time_grad(self, lib):
        self.run()
