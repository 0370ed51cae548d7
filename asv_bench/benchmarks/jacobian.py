"""Full Jacobian of f(x) = tanh(A x), A in R^{m x n}: cost against n (m fixed) and m (n fixed).

The cost model: forward mode needs n JVPs (ceil(n/k) batched passes), reverse mode m VJPs
(ceil(m/k) sweeps), so on the dashboard "fwd" grows with n and is flat in m, "rev" the
opposite, and the batched modes flatten both until n or m passes the chunk (128).
"""

from . import workloads as w


class JacobianInputDim:
    """ad, by mode, against the input dimension n at m = 100 outputs."""

    params = (w.AD_JAC_MODES, w.DIMS)
    param_names = ["mode", "n"]
    timeout = 300

    def setup(self, mode, n):
        self.jac = w.cached(w.jacobian, "ad", mode, n, w.FIXED)

    def time_jacobian(self, mode, n):
        self.jac()


class JacobianOutputDim:
    """ad, by mode, against the output dimension m at n = 100 inputs."""

    params = (w.AD_JAC_MODES, w.DIMS)
    param_names = ["mode", "m"]
    timeout = 300

    def setup(self, mode, m):
        self.jac = w.cached(w.jacobian, "ad", mode, w.FIXED, m)

    def time_jacobian(self, mode, m):
        self.jac()


class PeerJacobianInputDim:
    """jax.jit(jacfwd / jacrev), torch.func.jacfwd / jacrev, autograd: against n at m = 100."""

    params = (list(w.PEERS), w.PEER_JAC_MODES, w.DIMS)
    param_names = ["lib", "mode", "n"]
    timeout = 300

    def setup(self, lib, mode, n):
        self.jac = w.cached(w.jacobian, lib, mode, n, w.FIXED)

    def time_jacobian(self, lib, mode, n):
        self.jac()


class PeerJacobianOutputDim:
    """The peers against m at n = 100."""

    params = (list(w.PEERS), w.PEER_JAC_MODES, w.DIMS)
    param_names = ["lib", "mode", "m"]
    timeout = 300

    def setup(self, lib, mode, m):
        self.jac = w.cached(w.jacobian, lib, mode, w.FIXED, m)

    def time_jacobian(self, lib, mode, m):
        self.jac()


class JacobianShapes:
    """The full-Jacobian targets' three shapes, every library side by side: wide (n=10, m=1000), tall
    (n=1000, m=10) and square (300 x 300). ad's modes here are its batched defaults."""

    params = (["ad", *w.PEERS], w.PEER_JAC_MODES, w.JAC_SHAPES)
    param_names = ["lib", "mode", "n x m"]
    timeout = 300

    def setup(self, lib, mode, shape):
        n, m = (int(s) for s in shape.split("x"))
        self.jac = w.cached(w.jacobian, lib, mode + "_batched" if lib == "ad" else mode, n, m)

    def time_jacobian(self, lib, mode, shape):
        self.jac()
