"""Sparse Jacobians against n at fixed bandwidth: the 1-D reaction-diffusion residual (3 colors).

Dense forward needs n JVPs, so with f itself O(n) it grows like n^2; the sparse Jacobian needs
3 compressed JVPs at every n, so it grows like n. "sparse prepared" reuses the pattern and
coloring (`ad.prepare_sparse_jacobian`), "sparse" detects them at every call.
"""

import ad
from ad.compare import sparse

SIZES = [500, 1000, 2000, 4000]
METHODS = ["dense forward", "sparse prepared", "sparse"]


class SparseJacobianSweep:
    """Seconds per Jacobian of the reaction-diffusion residual against n."""

    params = (METHODS, SIZES)
    param_names = ["method", "n"]
    timeout = 300

    def setup(self, method, n):
        p = sparse.reaction_diffusion(n)
        self.f, self.x = p.f, p.x0
        self.prep = ad.prepare_sparse_jacobian(p.f, p.x0)

    def time_jacobian(self, method, n):
        if method == "dense forward":
            ad.jacfwd(self.f)(self.x)
        elif method == "sparse prepared":
            self.prep(self.x)
        else:
            ad.sparse_jacobian(self.f, self.x)

    def track_colors(self, method, n):
        return self.prep.ncolors


class SparseDetection:
    """Seconds to detect the pattern (global sparsity) against n."""

    params = [SIZES]
    param_names = ["n"]

    def setup(self, n):
        p = sparse.reaction_diffusion(n)
        self.f, self.x = p.f, p.x0

    def time_jacobian_sparsity(self, n):
        ad.jacobian_sparsity(self.f, self.x)
