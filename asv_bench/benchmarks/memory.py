"""Reverse mode's memory against depth: the gradient of sum(tanh^L(x)), x of 2^17 float64
(1 MiB per stored value), with each checkpoint strategy of ad.checkpoint_sequential.

peakmem_ is asv's: the process's peak RSS, NumPy and ad included (a constant offset).
track_tape_peak_mib is the peak of what the gradient itself allocates (tracemalloc), the
number the strategies trade: "all" grows like L, "sqrt" like sqrt(L), "recursive" like
log L; time_ shows what the recomputation costs.
"""

from . import workloads as w


class CheckpointDepth:
    params = (w.STRATEGIES, w.DEPTHS)
    param_names = ["strategy", "L"]
    timeout = 300

    def setup(self, strategy, L):
        # Warm up on one layer, not on the chain measured: numba loads its kernels (a
        # constant RSS offset for every strategy) without the chain's own peak being
        # reached before peakmem_ runs.
        w.cached(w.tanh_chain_grad, "ad", strategy, 1)
        self.grad = w.cached(w.tanh_chain_grad, "ad", strategy, L, warmup=False)

    def peakmem_grad(self, strategy, L):
        self.grad()

    def time_grad(self, strategy, L):
        self.grad()

    def track_tape_peak_mib(self, strategy, L):
        return w.peak_bytes(self.grad) / 2**20

    track_tape_peak_mib.unit = "MiB"


class PeerCheckpointDepth:
    """PyTorch on the same chain: "all" is plain autograd, "sqrt" torch.utils.checkpoint's
    checkpoint_sequential (no "recursive"). Its peakmem_ includes torch itself (~+300 MB
    offset): compare the growth with L, not the level."""

    params = (["torch"], ["all", "sqrt"], w.DEPTHS)
    param_names = ["lib", "strategy", "L"]
    timeout = 300

    def setup(self, lib, strategy, L):
        # Warm up torch.utils.checkpoint's machinery (its first call takes ~0.6 s) on a small
        # chain: checkpoint_sequential leaves the last segment unchecked, so L = 4, not 1.
        w.cached(w.tanh_chain_grad, lib, strategy, 4, width=1024)
        self.grad = w.cached(w.tanh_chain_grad, lib, strategy, L, warmup=False)

    def peakmem_grad(self, lib, strategy, L):
        self.grad()

    def time_grad(self, lib, strategy, L):
        self.grad()
