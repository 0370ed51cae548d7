"""Hessian-vector products of Rosenbrock in R^n by the four compositions of the modes.

The notes' ranking: fwd-rev (JVP of the gradient) first; rev-fwd and rev-rev cost a small
constant more; fwd-fwd takes n JVPs of a JVP, so it grows with n where the others do not.
"""

from . import workloads as w


class HVP:
    params = (["ad", *w.PEERS], w.HVP_MODES, w.HVP_SIZES)
    param_names = ["lib", "mode", "n"]
    timeout = 300

    def setup(self, lib, mode, n):
        self.hvp = w.cached(w.hvp, lib, mode, n)

    def time_hvp(self, lib, mode, n):
        self.hvp()
