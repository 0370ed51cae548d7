"""Gradient-to-function cost ratio of an MLP, sum(tanh(W2 @ tanh(W1 @ x))) with n = h.

Reverse mode's promise (the "cheap gradient principle"): a gradient costs a small constant
times the function, whatever n. track_grad_over_function reports that constant, measured
inside one process (median of interleaved timings), for the gradient in x and in (W1, W2).
track_page_faults_per_grad counts what fresh memory costs: at n = 1000 the gradient in the
weights returns two 8 MB arrays, and whether their pages are faulted in anew on every call
depends on the allocator (see docs/benchmarks.md, "Two heaps"; run asv with
MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set to measure the retained heap).
"""

from . import workloads as w


class MLPGradient:
    """ad and its peers, each against its own function (NumPy, torch no_grad, jax.jit)."""

    params = (["ad", *w.PEERS], ["x", "weights"], w.MLP_SIZES)
    param_names = ["lib", "wrt", "n"]
    timeout = 300

    def setup(self, lib, wrt, n):
        self.function, self.grad = w.cached(w.mlp, lib, n, wrt)

    def time_function(self, lib, wrt, n):
        self.function()

    def time_grad(self, lib, wrt, n):
        self.grad()

    def track_grad_over_function(self, lib, wrt, n):
        t_grad, t_function = w.median_times([self.grad, self.function], repeat=11, budget=1.0)
        return t_grad / t_function

    track_grad_over_function.unit = "ratio"

    def track_page_faults_per_grad(self, lib, wrt, n):
        return w.faults_per_call(self.grad)

    track_page_faults_per_grad.unit = "faults"
